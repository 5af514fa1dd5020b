from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.model import EngagementModel
from ml.registry import load_model, log_and_register, tracking_uri_for
from ml.training import TrainingResult, predict_scores
from ml_testdata import posts, trained  # noqa: F401  (pytest fixtures)


def test_log_register_load_round_trip(trained: TrainingResult, posts: pd.DataFrame, tmp_path: Path) -> None:
    import mlflow

    uri = tracking_uri_for(tmp_path / "mlflow")
    assert uri.startswith("sqlite:///") and uri.endswith("mlflow.db")
    artifacts = tmp_path / "mlartifacts"
    info = log_and_register(trained, uri, artifacts)
    assert (info.name, info.version) == ("engagement_model", "1")

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert str(client.get_model_version_by_alias("engagement_model", "champion").version) == "1"
    experiment = client.get_experiment_by_name("cycle-engagement")
    assert experiment.artifact_location == artifacts.resolve().as_uri()
    run = client.get_run(info.run_id)
    assert run.data.metrics["rmse"] == pytest.approx(trained.metrics["rmse"])
    assert run.data.params["seed"] == str(trained.config.seed)

    expected = trained.predict(posts)
    model, spec, version, metrics = load_model(uri)
    assert version == "1"
    assert spec == trained.spec
    assert metrics == trained.metrics
    np.testing.assert_array_equal(predict_scores(model, spec, posts), expected)

    rebuilt = load_model(uri, flavor="state_dict")
    assert isinstance(rebuilt.model, EngagementModel)
    np.testing.assert_array_equal(predict_scores(rebuilt.model, rebuilt.spec, posts), expected)

    # A new registration becomes the champion.
    second = log_and_register(trained, uri, artifacts)
    assert second.version == "2" and load_model(uri).version == "2"

    with pytest.raises(LookupError):
        load_model(uri, alias="does-not-exist")


def test_importing_ml_is_lightweight() -> None:
    # Dagster definitions import ml; heavy libraries must load only on use.
    code = (
        "import sys, ml, ml.registry, ml.drift;"
        "heavy = [m for m in ('mlflow', 'evidently', 'torch') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stdout + out.stderr
