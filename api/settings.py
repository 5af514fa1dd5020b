"""Runtime settings of the Cycle API: the API's view of Cycle's one settings object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from analytics_assets.settings import load_settings


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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        settings = load_settings(environ)
        return cls(serving_dir=settings.serving, duckdb_memory_limit=settings.api_duckdb_memory_limit)
