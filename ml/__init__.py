"""Cycle ML library: engagement model, training, registry, posting policy, drift.

Plain Python (no Dagster). Public names are exported lazily so that
``import ml`` stays cheap: torch, mlflow and evidently are only imported when
the corresponding function is first used (Dagster definitions must load fast).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "FeatureSpec": "ml.features",
    "EncodedFeatures": "ml.features",
    "EngagementModel": "ml.model",
    "TrainingConfig": "ml.training",
    "TrainingResult": "ml.training",
    "train_engagement_model": "ml.training",
    "predict_scores": "ml.training",
    "RegisteredModelInfo": "ml.registry",
    "LoadedModel": "ml.registry",
    "log_and_register": "ml.registry",
    "load_model": "ml.registry",
    "tracking_uri_for": "ml.registry",
    "PolicyConfig": "ml.posting_policy",
    "DriftResult": "ml.drift",
    "detect_feature_drift": "ml.drift",
    "DEFAULT_DRIFT_COLUMNS": "ml.drift",
    "configure_torch_threads": "ml.runtime",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover - for type checkers / IDEs only
    from ml.drift import DEFAULT_DRIFT_COLUMNS, DriftResult, detect_feature_drift
    from ml.features import EncodedFeatures, FeatureSpec
    from ml.model import EngagementModel
    from ml.posting_policy import PolicyConfig
    from ml.registry import LoadedModel, RegisteredModelInfo, load_model, log_and_register, tracking_uri_for
    from ml.runtime import configure_torch_threads
    from ml.training import TrainingConfig, TrainingResult, predict_scores, train_engagement_model


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ml' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
