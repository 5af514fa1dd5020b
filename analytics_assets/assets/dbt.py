"""The dbt project as Dagster assets: staging, marts, attribution and the ML training dataset.

Each partition window reaches dbt as the env vars ``CYCLE_DBT_MIN_DATE``/``CYCLE_DBT_MAX_DATE`` (what the
vars ``min_date``/``max_date`` give a hand-run ``dbt build``); incremental models replace exactly those days
(delete+insert on the date key), and a backfill runs as one dbt invocation. dbt data tests become Dagster
asset checks.

Every invocation partially parses the project instead of re-parsing all of it (seconds per run): the window
is not a --vars (any change of those re-parses everything), and each invocation's target folder starts from
the newest ``partial_parse.msgpack`` dbt wrote for the same profile (dbt re-parses everything when the
profile's connection settings differ, e.g. another warehouse file). dbt itself checks that a partial-parse
file still fits the project, profile and vars, so a stale one only costs a full parse.
"""

import contextlib
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from analytics_assets.partitions import WAREHOUSE_POOL, daily_partitions
from analytics_assets.resources import WarehouseResource
from analytics_assets.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"

# The manifest is prepared by `make install` / `make dev` (dbt parse), never at import time.
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class CycleDbtTranslator(DagsterDbtTranslator):
    """Sources map onto the raw assets by table name; models are keyed by name, grouped by folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        return dg.AssetKey(dbt_resource_props["name"])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        if dbt_resource_props["resource_type"] == "snapshot":
            return "snapshots"  # histories (dim_campaign's source), beside the marts they feed
        fqn = dbt_resource_props.get("fqn", [])
        folder = fqn[-2] if len(fqn) >= 3 else "dbt"
        return folder if folder in ("staging", "intermediate", "attribution") else "marts"


dbt_translator = CycleDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_window_env(context: dg.AssetExecutionContext) -> dict[str, str]:
    """The partition window (inclusive ISO dates) as the env vars macros/date_window.sql reads."""
    window = context.partition_time_window
    return {
        "CYCLE_DBT_MIN_DATE": window.start.date().isoformat(),
        "CYCLE_DBT_MAX_DATE": (window.end.date() - timedelta(days=1)).isoformat(),
    }


PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# newest partial-parse file per profile; each invocation copies it into its own target folder
PARTIAL_PARSE_CACHE = DBT_PROJECT_DIR / "target" / "partial_parse_cache"
PARTIAL_PARSE_CACHE_SIZE = 16  # profiles kept (each test warehouse is one)


def _profile_key() -> str:
    """Digest of what the profile renders from the environment: dbt re-parses everything when the
    profile's connection settings change, so a partial-parse file only serves the same values."""
    names = sorted(set(re.findall(r"env_var\(\s*['\"](\w+)['\"]", (DBT_PROJECT_DIR / "profiles.yml").read_text())))
    values = [f"{name}={os.environ.get(name, '')}" for name in names if "PASSWORD" not in name]
    return hashlib.sha256("\n".join(values).encode()).hexdigest()[:16]


def _seed_partial_parse(target: Path, key: str) -> None:
    cached = PARTIAL_PARSE_CACHE / f"{key}.msgpack"
    target.mkdir(parents=True, exist_ok=True)
    # no cached file: dagster-dbt copies dbt/target's (written by `make install`) instead
    with contextlib.suppress(FileNotFoundError):  # pruned meanwhile by another run
        shutil.copyfile(cached, target / PARTIAL_PARSE_FILE)


def _save_partial_parse(target: Path, key: str) -> None:
    written = target / PARTIAL_PARSE_FILE
    if not written.exists():
        return
    PARTIAL_PARSE_CACHE.mkdir(parents=True, exist_ok=True)
    # copy then rename: a concurrent invocation reads either the old file or the new one, never half
    partial = PARTIAL_PARSE_CACHE / f".{key}.{uuid.uuid4().hex}.tmp"
    shutil.copyfile(written, partial)
    os.replace(partial, PARTIAL_PARSE_CACHE / f"{key}.msgpack")
    with contextlib.suppress(FileNotFoundError):  # another run pruning at the same time
        cached = sorted(PARTIAL_PARSE_CACHE.glob("*.msgpack"), key=lambda f: f.stat().st_mtime, reverse=True)
        for stale in cached[PARTIAL_PARSE_CACHE_SIZE:]:
            stale.unlink(missing_ok=True)


INVOCATION_TARGETS_KEPT = 20  # newest per-invocation target folders kept for inspection (~12 MB each)


def _prune_invocation_targets(root: Path, op_name: str) -> None:
    """Delete all but the newest invocation folders (dagster-dbt writes one per run, never removes them);
    a folder still being written by a concurrent run is among the newest."""
    folders = sorted(
        (f for f in root.glob(f"{op_name}-*") if f.is_dir()), key=lambda f: f.stat().st_mtime, reverse=True
    )
    for stale in folders[INVOCATION_TARGETS_KEPT:]:
        shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set env vars only while dbt's subprocess is started (it copies os.environ), so the window never
    leaks into a later dbt command of this process."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=dbt_translator,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def cycle_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    # dbt runs in a subprocess that reads the warehouse path from the profile's env var
    os.environ["CYCLE_WAREHOUSE_PATH"] = warehouse.path
    os.environ["CYCLE_DUCKDB_THREADS"] = str(warehouse.threads)
    os.environ["CYCLE_DUCKDB_MEMORY_LIMIT"] = warehouse.memory_limit
    # a subset run (UI selection, partial backfill) only runs tests whose every parent is built in it: a
    # relationship test from an unselected fact to a selected dimension would read a missing table
    os.environ.setdefault("DBT_INDIRECT_SELECTION", "cautious")
    # this invocation's own target folder (as dagster-dbt names them), seeded before dbt starts
    target = Path(os.environ.get("DBT_TARGET_PATH", "target")) / (
        f"{context.op_execution_context.op.name}-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}"
    )
    target_dir = target if target.is_absolute() else Path(dbt.project_dir) / target
    key = _profile_key()
    _seed_partial_parse(target_dir, key)
    with _environ(dbt_window_env(context)):
        invocation = dbt.cli(["build"], context=context, target_path=target)
    try:
        yield from invocation.stream()
    finally:
        _save_partial_parse(target_dir, key)
        _prune_invocation_targets(target_dir.parent, context.op_execution_context.op.name)
