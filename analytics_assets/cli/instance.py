"""The Dagster instance's settings file, ``$DAGSTER_HOME/dagster.yaml``: Cycle's pools, run monitoring and
telemetry (``analytics_assets/dagster.yaml``), plus where Dagster keeps its runs, event logs, schedules, sensor
ticks and pool claims.

The embedded default keeps them in SQLite files inside ``$DAGSTER_HOME``. With ``CYCLE_DAGSTER_PG_URL`` set they
go to PostgreSQL (``dagster-postgres``): the step a team takes when the daemon, the webserver and runs on several
machines (Dagster's k8s or celery executors) must share one instance. The URL, password included, stays in the
environment: the file names the variable and Dagster reads it when it loads the instance.

    python -m analytics_assets.cli.instance            # write $DAGSTER_HOME/dagster.yaml if missing
    python -m analytics_assets.cli.instance --refresh  # rewrite it from Cycle's settings (make does this)

An existing file is never switched silently from one storage to the other: the runs already recorded would
vanish from the UI (they stay in the old storage). A mismatch between the file and the setting is an error
that says what to do.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from analytics_assets.settings import PREFIX, CycleSettings, SettingsError, load_settings

BASE_CONFIG = Path(__file__).resolve().parents[1] / "dagster.yaml"
PG_URL_ENV = f"{PREFIX}DAGSTER_PG_URL"
CONFIG_NAME = "dagster.yaml"

# dagster-postgres's storage block: runs, event logs (with the concurrency pools' slots) and schedules in one
# database; the URL is a StringSource read from the environment when the instance loads
_POSTGRES_STORAGE = f"""
# Runs, event logs, schedules, sensor ticks and pool claims in PostgreSQL. Dagster reads the URL from
# {PG_URL_ENV} when it loads the instance: the password is never written to this file.
storage:
  postgres:
    postgres_url:
      env: {PG_URL_ENV}
"""


# The embedded default: Dagster's SQLite files in their usual places under the home, through Cycle's storage
# class that keeps the event log's connections open (analytics_assets/cli/dagster_storage.py says why)
SQLITE_MODULE = "analytics_assets.cli.dagster_storage"
_SQLITE_STORAGE = """
# Runs, event logs, schedules, sensor ticks and pool claims in SQLite files under {where}, the places
# Dagster's default uses; the event log keeps its connections open (analytics_assets/cli/dagster_storage.py).
storage:
  custom:
    module: {module}
    class: CycleSqliteStorage
    config:
      base_dir: {base_dir}
"""


def instance_yaml(settings: CycleSettings, home: Path) -> str:
    """The settings file of the Dagster home ``home`` for ``settings``: Cycle's base file with its storage,
    PostgreSQL when configured, else SQLite files in ``home``."""
    text = BASE_CONFIG.read_text().rstrip("\n") + "\n"
    if settings.dagster_pg_url is not None:
        return text + _POSTGRES_STORAGE
    return text + sqlite_storage_yaml(home)


def sqlite_storage_yaml(home: Path) -> str:
    """The ``storage`` block of the embedded default, its files in ``home`` named by its absolute path: a
    process that loads the file without ``$DAGSTER_HOME`` pointing there (``DagsterInstance.from_config``)
    still finds the same runs."""
    base_dir = Path(home).resolve()
    return _SQLITE_STORAGE.format(module=SQLITE_MODULE, where=base_dir, base_dir=json.dumps(str(base_dir)))


def _sqlite_base_dir(config: dict[str, Any]) -> str | None:
    custom = (config.get("storage") or {}).get("custom") or {}
    if custom.get("module") != SQLITE_MODULE:
        return None
    base_dir = (custom.get("config") or {}).get("base_dir")
    return base_dir if isinstance(base_dir, str) else None


def _storage_kind(config: dict[str, Any]) -> str:
    storage = config.get("storage") or {}
    if "postgres" in storage:
        return "postgres"
    # the older per-store keys (run_storage, event_log_storage, schedule_storage) name their class
    if any("Postgres" in str((config.get(k) or {}).get("class", "")) for k in ("run_storage", "event_log_storage")):
        return "postgres"
    if not storage or "sqlite" in storage or (storage.get("custom") or {}).get("module") == SQLITE_MODULE:
        return "sqlite"
    return next(iter(storage))


def _reads_cycle_url(config: dict[str, Any]) -> bool:
    url = ((config.get("storage") or {}).get("postgres") or {}).get("postgres_url")
    return isinstance(url, dict) and url.get("env") == PG_URL_ENV


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text)
    os.replace(partial, path)  # a process loading the instance meanwhile reads the old file or the new one


def ensure_instance_config(home: Path, settings: CycleSettings | None = None, *, refresh: bool = False) -> Path:
    """Write ``home/dagster.yaml`` when it is missing (or ``refresh``), and refuse a file whose storage is not
    the one the settings ask for."""
    settings = settings or load_settings()
    path = home / CONFIG_NAME
    if refresh or not path.exists():
        _write(path, instance_yaml(settings, home))
        return path
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path} is not valid YAML: {exc}") from None
    stored = _storage_kind(config)
    base_dir = _sqlite_base_dir(config)
    if base_dir is not None and Path(base_dir) != Path(home).resolve() and settings.dagster_pg_url is None:
        # a home moved or copied: its runs are the files beside this one, never the old folder's
        _write(path, instance_yaml(settings, home))
        return path
    if settings.dagster_pg_url is not None and stored != "postgres":
        raise SettingsError(
            f"{PG_URL_ENV} is set, but {path} keeps Dagster's runs in {stored}: its recorded runs would not move "
            f"with it. Use a new DAGSTER_HOME, or run `python -m analytics_assets.cli.instance --refresh` to "
            f"switch this one (its SQLite history stays in {home})"
        )
    if _reads_cycle_url(config) and settings.dagster_pg_url is None:
        raise SettingsError(f"{path} keeps Dagster's runs in PostgreSQL at {PG_URL_ENV}, which is not set")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analytics_assets.cli.instance", description=__doc__.split("\n\n")[0])
    parser.add_argument("--refresh", action="store_true", help="rewrite the file from Cycle's settings")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        path = ensure_instance_config(settings.dagster_home, settings, refresh=args.refresh)
    except SettingsError as exc:
        print(f"cycle: {exc}", file=sys.stderr)
        return 2
    storage = "PostgreSQL" if settings.dagster_pg_url is not None else "SQLite"
    print(f"{path}: Dagster's runs and event logs in {storage}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
