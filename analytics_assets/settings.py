"""Where Cycle keeps its state, from environment variables with embedded defaults.

Everything generated lives under ``CYCLE_HOME`` (default ``./data``): the DuckDB warehouse, the MLflow
store, the serving copy the API reads and the Dagster instance. Nothing there is tracked by git.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cycle_home() -> Path:
    return Path(os.environ.get("CYCLE_HOME", PROJECT_ROOT / "data")).resolve()


def warehouse_path() -> Path:
    return Path(os.environ.get("CYCLE_WAREHOUSE_PATH", cycle_home() / "warehouse.duckdb")).resolve()


def serving_dir() -> Path:
    return Path(os.environ.get("CYCLE_SERVING_DIR", cycle_home() / "serving")).resolve()


def mlflow_dir() -> Path:
    return cycle_home() / "mlflow"


def mlflow_tracking_uri() -> str:
    return os.environ.get("CYCLE_MLFLOW_TRACKING_URI", f"sqlite:///{mlflow_dir() / 'mlflow.db'}")


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", cycle_home() / "dagster_home")).resolve()


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))
