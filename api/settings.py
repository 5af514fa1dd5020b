"""Runtime settings of the Cycle API: the API's view of Cycle's one settings object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from analytics_assets.settings import environ_values, load_settings

# Where the per-key request counters live (the ``limits`` library's storage URI, ``api.auth``). ``memory://``: in
# the process, right for the embedded single-process API. Several uvicorn workers or hosts must share one store,
# ``redis://host:6379/0``, or each process counts alone and a key gets N times its limit.
RATE_LIMIT_STORAGE_ENV = "CYCLE_API_RATE_LIMIT_STORAGE"
DEFAULT_RATE_LIMIT_STORAGE = "memory://"


def rate_limit_storage_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``$CYCLE_API_RATE_LIMIT_STORAGE``, or ``memory://`` when unset or blank."""
    values = environ if environ is not None else environ_values([RATE_LIMIT_STORAGE_ENV])
    return (values.get(RATE_LIMIT_STORAGE_ENV) or "").strip() or DEFAULT_RATE_LIMIT_STORAGE


def default_serving_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the serving files live: ``$CYCLE_SERVING_DIR`` if set, else ``$CYCLE_HOME/serving``, where
    ``CYCLE_HOME`` defaults to the project's ``data/`` folder (the same place Dagster publishes to,
    whatever the working directory)."""
    return load_settings(environ).serving


@dataclass(frozen=True)
class Settings:
    serving_dir: Path
    # Memory cap of the API's private in-memory DuckDB (it only ever holds one small snapshot table).
    duckdb_memory_limit: str = "256MB"
    # the rate limiter's counters (RATE_LIMIT_STORAGE_ENV): per process, or shared by every worker
    rate_limit_storage: str = DEFAULT_RATE_LIMIT_STORAGE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        settings = load_settings(environ)
        return cls(
            serving_dir=settings.serving,
            duckdb_memory_limit=settings.api_duckdb_memory_limit,
            rate_limit_storage=rate_limit_storage_from_env(environ),
        )
