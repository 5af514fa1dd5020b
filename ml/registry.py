"""MLflow tracking/registry helpers for the engagement model.

mlflow is imported lazily inside the functions: importing it takes seconds and
Dagster code locations must load fast. The tracking store is SQLite (the file
store is rejected by mlflow >= 3.13); artifacts live in a local folder given
explicitly per experiment so that runs never write to the process's cwd.

Aliases: ``champion`` is the version everything downstream reads; the ``engagement_model`` asset registers
each retrain as ``challenger`` and moves ``champion`` only when :mod:`ml.governance` promotes it
(:func:`record_promotion`).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Literal, NamedTuple

from analytics_assets.settings import library_defaults

if TYPE_CHECKING:
    import torch

    from ml.features import FeatureSpec
    from ml.model import EngagementModel
    from ml.training import TrainingResult

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "cycle-engagement"
DEFAULT_MODEL_NAME = "engagement_model"
CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"
MODEL_ARTIFACT_NAME = "model"
SPEC_ARTIFACT = "feature_spec.json"
METRICS_ARTIFACT = "metrics.json"
STATE_ARTIFACT_DIR = "model_state"  # pickle-free copy: state_dict + config


@dataclass(frozen=True)
class RegisteredModelInfo:
    """Identifies the registered model version created by :func:`log_and_register`."""

    name: str
    version: str
    run_id: str


@dataclass(frozen=True)
class AliasRecord:
    """The model version behind an alias, with its run's tags overlaid by the version's own."""

    version: str
    run_id: str
    tags: dict[str, str]


class LoadedModel(NamedTuple):
    """Result of :func:`load_model`; unpacks as ``model, spec, version, metrics``."""

    model: "torch.nn.Module"
    spec: "FeatureSpec"
    version: str
    metrics: dict[str, Any]


def tracking_uri_for(data_dir: str | os.PathLike[str]) -> str:
    """``sqlite:///<abs data_dir>/mlflow.db`` (creates ``data_dir``)."""
    path = Path(data_dir).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'mlflow.db'}"


def default_artifact_root(data_dir: str | os.PathLike[str]) -> Path:
    """Conventional artifact folder next to the tracking DB."""
    return Path(data_dir).expanduser().resolve() / "mlartifacts"


def _import_mlflow() -> Any:
    """Import mlflow after setting env defaults that must precede the import."""
    # No usage telemetry: machines running Cycle may have no internet, and a
    # background sender only adds latency/noise. Users can still override.
    # mlflow probes git for the source version; this repo may have no commits or no git binary, which only
    # produces warnings. tqdm bars for tiny local artifact downloads only clutter logs.
    library_defaults(
        {
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "GIT_PYTHON_REFRESH": "quiet",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }
    )
    import mlflow

    return mlflow


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Silence mlflow/alembic/torch.export chatter that is noise in Dagster logs.

    Only warnings and INFO logs are suppressed; errors still propagate.
    """
    # torch.export (pt2 logging) emits structured-trace DEBUG records too.
    noisy = [
        "mlflow", "alembic", "alembic.runtime.migration", "urllib3",
        "torch.__trace", "torch._export", "torch.export",
    ]
    previous = {name: logging.getLogger(name).level for name in noisy}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*pkg_resources.*")
        warnings.filterwarnings("ignore", message=".*distutils.*")
        for name in noisy:
            logging.getLogger(name).setLevel(logging.ERROR)
        try:
            yield
        finally:
            for name, level in previous.items():
                logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _tracking(tracking_uri: str) -> Iterator[Any]:
    """Point mlflow's global client at ``tracking_uri`` for the block, then restore."""
    mlflow = _import_mlflow()

    old_tracking = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    old_registry = mlflow.get_registry_uri() if mlflow.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        yield mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    finally:
        if old_tracking is not None:
            mlflow.set_tracking_uri(old_tracking)
            mlflow.set_registry_uri(old_registry or old_tracking)


def _ensure_experiment(client: Any, name: str, artifact_root: str | os.PathLike[str]) -> str:
    artifact_dir = Path(artifact_root).expanduser().resolve()
    artifact_dir.mkdir(parents=True, exist_ok=True)
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        return str(client.create_experiment(name, artifact_location=artifact_dir.as_uri()))
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    if experiment.artifact_location.rstrip("/") != artifact_dir.as_uri().rstrip("/"):
        # An experiment's artifact location is fixed at creation; keep using it.
        logger.warning(
            "Experiment %r already stores artifacts at %s (requested %s)",
            name, experiment.artifact_location, artifact_dir.as_uri(),
        )
    return str(experiment.experiment_id)


def _numeric_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool):
            out[key] = float(value)
        elif isinstance(value, (int, float)):
            out[key] = float(value)
    return out


def _pip_requirements() -> list[str]:
    # Explicit requirements skip mlflow's inference, which re-imports the model
    # in a subprocess (slow, and noisy offline).
    import mlflow
    import numpy
    import pandas
    import torch

    return [
        f"torch=={torch.__version__.split('+')[0]}",
        f"mlflow=={mlflow.__version__}",
        f"numpy=={numpy.__version__}",
        f"pandas=={pandas.__version__}",
    ]


def log_and_register(
    result: "TrainingResult",
    tracking_uri: str,
    artifact_root: str | os.PathLike[str],
    experiment_name: str = DEFAULT_EXPERIMENT,
    model_name: str = DEFAULT_MODEL_NAME,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    alias: str = CHAMPION_ALIAS,
) -> RegisteredModelInfo:
    """Log params/metrics/spec/model to MLflow, register it and point ``alias`` at it.

    ``alias`` is ``champion`` unless the caller gates promotion: the ``engagement_model`` asset registers
    ``challenger`` and lets :func:`record_promotion` move the champion.

    The model is logged with ``mlflow.pytorch.log_model`` in the ``pt2``
    (torch.export) format; its input is the packed tensor of
    ``FeatureSpec.encode`` and its output engagement_score. A ``state_dict`` +
    constructor config copy is logged too, so :func:`load_model` can rebuild a
    full :class:`~ml.model.EngagementModel` (``flavor="state_dict"``).
    """
    mlflow = _import_mlflow()
    import mlflow.pytorch
    import numpy as np
    import torch
    from mlflow.entities import Metric

    spec = result.spec
    model = result.model.eval()
    # Input example in the packed layout: zeros (= unknown categories, mean
    # numerics) with two different hours. Two rows, because torch.export
    # specialises a batch dimension of size 1 to a constant.
    example = np.zeros((2, len(spec.feature_names)), dtype=np.float32)
    example[:, -1] = [9.0, 18.0]

    with _quiet_mlflow(), _tracking(tracking_uri) as client:
        experiment_id = _ensure_experiment(client, experiment_name, artifact_root)
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
            run_id = run.info.run_id
            mlflow.log_params(result.config.to_params())
            mlflow.log_metrics(_numeric_metrics(result.metrics))
            string_tags = {f"cycle.{k}": str(v) for k, v in result.metrics.items() if isinstance(v, str)}
            mlflow.set_tags({"cycle.component": "engagement_model", **string_tags, **(tags or {})})
            if result.history:
                # One batch write instead of a DB round trip per epoch.
                client.log_batch(
                    run_id,
                    metrics=[
                        Metric(name, float(row[name]), 0, int(row["epoch"]))
                        for row in result.history
                        for name in ("train_mse_log", "val_mse_log")
                    ],
                )
            mlflow.log_dict(spec.to_dict(), SPEC_ARTIFACT)
            mlflow.log_dict(result.metrics, METRICS_ARTIFACT)
            with tempfile.TemporaryDirectory() as tmp:
                torch.save(model.state_dict(), Path(tmp) / "state_dict.pt")
                (Path(tmp) / "model_config.json").write_text(json.dumps(model.config))
                mlflow.log_artifacts(tmp, STATE_ARTIFACT_DIR)
            model_info = mlflow.pytorch.log_model(
                model,
                name=MODEL_ARTIFACT_NAME,
                input_example=example,
                registered_model_name=model_name,
                pip_requirements=_pip_requirements(),
                # pt2 = torch.export graph: loads without pickle and without
                # this package's code (mlflow's default outside Databricks).
                serialization_format="pt2",
            )
        version = str(model_info.registered_model_version)
        client.set_registered_model_alias(model_name, alias, version)
        client.set_model_version_tag(model_name, version, "run_id", run_id)
    logger.info("Registered %s version %s (run %s) as %s", model_name, version, run_id, alias)
    return RegisteredModelInfo(name=model_name, version=version, run_id=run_id)


def record_promotion(
    tracking_uri: str,
    info: RegisteredModelInfo,
    promoted: bool,
    tags: dict[str, str],
    metrics: dict[str, float],
) -> None:
    """Record a gate decision on the challenger's run (tags, metrics) and model version (tags, and the metrics
    as tags: a version holds no metrics); when ``promoted``, point the champion alias at it.

    The alias moves last: a failure before it leaves the previous champion serving.
    """
    _import_mlflow()
    from mlflow.entities import Metric, RunTag

    with _quiet_mlflow(), _tracking(tracking_uri) as client:
        client.log_batch(
            info.run_id,
            metrics=[Metric(key, float(value), int(time.time() * 1000), 0) for key, value in metrics.items()],
            tags=[RunTag(key, value) for key, value in tags.items()],
        )
        for key, value in {**tags, **{key: f"{value:.6g}" for key, value in metrics.items()}}.items():
            client.set_model_version_tag(info.name, info.version, key, value)
        if promoted:
            client.set_registered_model_alias(info.name, CHAMPION_ALIAS, info.version)
    logger.info("%s version %s: %s", info.name, info.version, "promoted to champion" if promoted else "kept out")


def describe_alias(
    tracking_uri: str, model_name: str = DEFAULT_MODEL_NAME, alias: str = CHALLENGER_ALIAS
) -> AliasRecord | None:
    """Version, run and tags behind ``alias`` without loading the model; None if there is none."""
    _import_mlflow()
    from mlflow.exceptions import MlflowException

    with _quiet_mlflow(), _tracking(tracking_uri) as client:
        try:
            mv = client.get_model_version_by_alias(model_name, alias)
        except MlflowException:
            return None
        run_tags = dict(client.get_run(str(mv.run_id)).data.tags)
    return AliasRecord(version=str(mv.version), run_id=str(mv.run_id), tags={**run_tags, **dict(mv.tags or {})})


def _load_state_dict_model(client: Any, run_id: str) -> "EngagementModel":
    """Rebuild the model from the pickle-free state_dict copy."""
    import torch

    from ml.model import EngagementModel

    with tempfile.TemporaryDirectory() as tmp:
        local = Path(client.download_artifacts(run_id, STATE_ARTIFACT_DIR, tmp))
        config = json.loads((local / "model_config.json").read_text())
        state = torch.load(io.BytesIO((local / "state_dict.pt").read_bytes()), map_location="cpu", weights_only=True)
    model = EngagementModel.from_config(config)
    model.load_state_dict(state)
    return model.eval()


def load_model(
    tracking_uri: str,
    model_name: str = DEFAULT_MODEL_NAME,
    alias: str = CHAMPION_ALIAS,
    flavor: Literal["pytorch", "state_dict"] = "pytorch",
) -> LoadedModel:
    """Load the model version behind ``alias`` with its FeatureSpec and metrics.

    ``flavor="pytorch"`` returns ``mlflow.pytorch.load_model`` of the registered
    model (a torch.export module: ``model(spec.encode(df).x)`` -> scores, no
    ``.eval()``/``.train()``). ``flavor="state_dict"`` rebuilds an
    :class:`~ml.model.EngagementModel` from the same run. Both predict
    identically. Raises ``LookupError`` if the model/alias does not exist.
    """
    mlflow = _import_mlflow()
    import mlflow.pytorch
    from mlflow.exceptions import MlflowException

    from ml.features import FeatureSpec
    from ml.runtime import configure_torch_threads

    if flavor not in ("pytorch", "state_dict"):
        raise ValueError(f"Unknown flavor {flavor!r}")
    configure_torch_threads()
    with _quiet_mlflow(), _tracking(tracking_uri) as client:
        try:
            mv = client.get_model_version_by_alias(model_name, alias)
        except MlflowException as exc:
            raise LookupError(f"No model version {model_name!r}@{alias!r} in {tracking_uri}") from exc
        run_id = str(mv.run_id)
        if flavor == "pytorch":
            model = mlflow.pytorch.load_model(f"models:/{model_name}@{alias}", map_location="cpu")
        else:
            model = _load_state_dict_model(client, run_id)
        spec = FeatureSpec.from_dict(mlflow.artifacts.load_dict(f"runs:/{run_id}/{SPEC_ARTIFACT}"))
        try:
            metrics = dict(mlflow.artifacts.load_dict(f"runs:/{run_id}/{METRICS_ARTIFACT}"))
        except Exception:  # runs logged without the JSON copy: numeric metrics only
            metrics = dict(client.get_run(run_id).data.metrics)
    return LoadedModel(model=model, spec=spec, version=str(mv.version), metrics=metrics)
