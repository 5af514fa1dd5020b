"""Runtime settings for the Cycle API, read from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DUCKDB_MEMORY_LIMIT = "256MB"


def default_serving_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the serving files live.

    ``$CYCLE_SERVING_DIR`` if set, else ``$CYCLE_HOME/serving``, else ``./data/serving``
    (relative to the current working directory, resolved to an absolute path).
    """
    env = os.environ if environ is None else environ
    explicit = env.get("CYCLE_SERVING_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    home = env.get("CYCLE_HOME") or "./data"
    return (Path(home).expanduser() / "serving").resolve()


@dataclass(frozen=True)
class Settings:
    serving_dir: Path
    # Memory cap of the API's private in-memory DuckDB (it only ever holds one small snapshot table).
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            serving_dir=default_serving_dir(env),
            duckdb_memory_limit=env.get("CYCLE_API_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT,
        )
