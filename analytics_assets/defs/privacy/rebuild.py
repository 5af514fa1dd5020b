"""After an erasure: rebuild the dbt models downstream of the raw tables it touched, then republish the served
files that come from them, so no mart or served total still counts the erased person.

dbt runs as the partitioned dbt assets run it (``defs/transform/dbt_invocation``): the window of days the
erased rows belonged to reaches the macros as ``CYCLE_DBT_MIN_DATE``/``CYCLE_DBT_MAX_DATE``, so incremental
models (``fct_touchpoint_attribution``) replace exactly those days and tables are rebuilt whole. The closed loop's
models (``tag:loop``) are left to their own automation.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_dbt import DbtCliResource

from analytics_assets.contracts.serving import ACCOUNT_COLUMNS, MANIFEST, SERVED_TABLES, parse_manifest
from analytics_assets.defs.resources import ServingResource, WarehouseResource
from analytics_assets.defs.transform.dbt import LOOP_SELECTION, dbt_project, dbt_translator
from analytics_assets.defs.transform.dbt_invocation import (
    _profile_key,
    _prune_invocation_targets,
    _save_partial_parse,
    _seed_partial_parse,
)
from analytics_assets.settings import environ_values, scoped_environ
from analytics_assets.storage.privacy import republish_served


def _manifest() -> dict:
    return json.loads(Path(dbt_project.manifest_path).read_text())


def dbt_sources(raw_tables: list[str]) -> list[str]:
    """Those of ``raw_tables`` that dbt reads (sources of the ``raw`` source)."""
    names = {s["name"] for s in _manifest()["sources"].values() if s["source_name"] == "raw"}
    return sorted(t for t in set(raw_tables) if t in names)


def downstream_models(raw_tables: list[str]) -> list[str]:
    """The dbt models (not tests, not the loop's) downstream of the sources ``raw_tables``, by name."""
    manifest = _manifest()
    start = [uid for uid, s in manifest["sources"].items() if s["source_name"] == "raw" and s["name"] in raw_tables]
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for child in manifest["child_map"].get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    nodes = manifest["nodes"]
    return sorted(
        nodes[uid]["name"] for uid in seen
        if uid.startswith(("model.", "snapshot.")) and "loop" not in nodes[uid].get("tags", [])
    )


def rebuild_models(
    context: dg.OpExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    raw_tables: list[str],
    start: date | None,
    end: date | None,
) -> list[str]:
    """``dbt build`` of the models downstream of ``raw_tables`` over the days ``start..end``; returns their
    names (none: no dbt source among ``raw_tables``, nothing run). A failed build raises. Without a window (the
    erased rows were archived: staging no longer reads them) the incremental models are left out, as rebuilding
    their days would drop every archived row; the erasure deleted the person's rows from them directly."""
    raw_tables = dbt_sources(raw_tables)
    models = downstream_models(raw_tables)
    if not models:
        return []
    env = {
        "CYCLE_WAREHOUSE_PATH": warehouse.path,
        "CYCLE_DUCKDB_THREADS": str(warehouse.threads),
        "CYCLE_DUCKDB_MEMORY_LIMIT": warehouse.memory_limit,
    }
    if start is not None and end is not None:
        env.update(CYCLE_DBT_MIN_DATE=start.isoformat(), CYCLE_DBT_MAX_DATE=end.isoformat())
    if not environ_values(["DBT_INDIRECT_SELECTION"]):
        env["DBT_INDIRECT_SELECTION"] = "cautious"  # tests only when every parent is built here
    selection = [f"source:raw.{t}+" for t in raw_tables]
    target = Path("target") / f"privacy-{context.run_id[:8]}-{uuid.uuid4().hex[:7]}"
    context.log.info(f"dbt build of the models downstream of {raw_tables}, days {start}..{end}: {models}")
    target_dir = Path(dbt.project_dir) / target
    key = _profile_key(env)
    _seed_partial_parse(target_dir, key)  # as the dbt assets do: a partial parse, not a full one
    with scoped_environ(env):
        invocation = dbt.cli(
            # one value per flag (a union, space-separated): dagster-dbt reads each flag once
            ["build", "--select", " ".join(selection),
             "--exclude", " ".join([LOOP_SELECTION, *(["config.materialized:incremental"] if start is None else [])])],
            manifest=dbt_project.manifest_path,
            dagster_dbt_translator=dbt_translator,
            target_path=target,
            raise_on_error=True,
        )
        try:
            invocation.wait()
        finally:
            _save_partial_parse(target_dir, key)
            _prune_invocation_targets(target_dir.parent, "privacy")  # keep the newest few, as the dbt assets do
    return models


def _account_problems(frames: dict[str, pd.DataFrame]) -> list[str]:
    problems = []
    for name, frame in frames.items():
        for column in ACCOUNT_COLUMNS:
            if column not in frame.columns:
                problems.append(f"{name} has no column {column}")
            elif frame[column].isna().any():
                problems.append(f"{name}: {int(frame[column].isna().sum())} rows have a null {column}")
    return problems


def republish(warehouse: WarehouseResource, serving: ServingResource, models: list[str]) -> list[str]:
    """Republish the served files whose source is one of ``models`` (in the published snapshot: with none
    published yet there is nothing to correct). Returns the files replaced."""
    out = serving.path
    if not (out / MANIFEST).exists():
        return []
    published = parse_manifest((out / MANIFEST).read_bytes()).files
    rebuilt = {f"main.{m}" for m in models}
    tables = [t for t in SERVED_TABLES if t.source in rebuilt and t.file in published]
    if not tables:
        return []
    with warehouse.connect() as con:
        frames = {t.file: con.execute(t.sql).df() for t in tables}
    problems = _account_problems(frames)
    if problems:  # as serving_snapshot: publish nothing rather than rows the API cannot scope
        raise dg.Failure(description="The served files were not republished: " + "; ".join(problems))
    republish_served(out, frames)
    return sorted(frames)
