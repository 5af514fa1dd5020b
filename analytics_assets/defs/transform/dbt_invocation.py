"""How one dbt invocation is prepared: its environment, its target folder and its partial parse; and the
table metadata (row count, column types) its built models' events carry.

dbt runs in a subprocess that reads the warehouse and the partition window from env vars its profile and
macros name. They are set only while the subprocess starts (``settings.scoped_environ``), never for the
whole process, so a window never leaks into a later dbt command.

Every invocation partially parses the project instead of re-parsing all of it (seconds per run): the window
is not a --vars (any change of those re-parses everything), and each invocation's target folder starts from
the newest ``partial_parse.msgpack`` dbt wrote for the same profile (dbt re-parses everything when the
profile's connection settings differ, e.g. another warehouse file). dbt itself checks that a partial-parse
file still fits the project, profile and vars, so a stale one only costs a full parse.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliInvocation, DbtCliResource
from dagster._core.definitions.metadata import TableMetadataSet
from dagster._utils import pushd

from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.contracts.sql_text import sql_string
from analytics_assets.settings import PROJECT_ROOT, environ_values, scoped_environ

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"


def dbt_window_env(context: dg.AssetExecutionContext) -> dict[str, str]:
    """The partition window (inclusive ISO dates) as the env vars macros/date_window.sql reads; none for the
    unpartitioned loop models (their macros read no window)."""
    if context.assets_def.partitions_def is None:
        return {}
    window = context.partition_time_window
    return {
        "CYCLE_DBT_MIN_DATE": window.start.date().isoformat(),
        "CYCLE_DBT_MAX_DATE": (window.end.date() - timedelta(days=1)).isoformat(),
    }


def dbt_invocation_env(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dict[str, str]:
    """What the profile and the macros read: the warehouse with its limits, and the partition window."""
    env = {
        "CYCLE_WAREHOUSE_PATH": warehouse.path,
        # the step holds the warehouse pool alone, so it may take the cores other warehouse steps would use (two
        # threads built the snapshot chain 1.85x faster than one on 2 cores); one by default, see WarehouseResource
        "CYCLE_DUCKDB_THREADS": str(warehouse.dbt_duckdb_threads()),
        "CYCLE_DUCKDB_MEMORY_LIMIT": warehouse.memory_limit,
        **dbt_window_env(context),
        **warehouse.dbt_target_env(),
    }
    # a subset run (UI selection, partial backfill) only runs tests whose every parent is built in it: a
    # relationship test from an unselected fact to a selected dimension would read a missing table
    if not environ_values(["DBT_INDIRECT_SELECTION"]):
        env["DBT_INDIRECT_SELECTION"] = "cautious"
    return env


PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# newest partial-parse file per profile; each invocation copies it into its own target folder
PARTIAL_PARSE_CACHE = DBT_PROJECT_DIR / "target" / "partial_parse_cache"
PARTIAL_PARSE_CACHE_SIZE = 16  # profiles kept (each test warehouse is one)


def _profile_key(env: Mapping[str, str]) -> str:
    """Digest of what the profile renders from the environment (``env`` over the process's): dbt re-parses
    everything when the profile's connection settings change, so a partial-parse file only serves the same
    values."""
    names = sorted(set(re.findall(r"env_var\(\s*['\"](\w+)['\"]", (DBT_PROJECT_DIR / "profiles.yml").read_text())))
    rendered = {**environ_values(names), **env}
    values = [f"{name}={rendered.get(name, '')}" for name in names if "PASSWORD" not in name]
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


# A run's build: every model, seed, snapshot and data test of its selection, without the unit tests. A unit test
# checks a model's SQL on fixed input rows, never the warehouse's data, so its answer only changes with the
# project: dbt's guidance is to run them in development and CI, not in production builds. The test suite runs
# all of them on DuckDB (tests/test_held_back_children.py) and on PostgreSQL (tests/test_postgres_parity.py).
# Here they were 35 of a build's 670 nodes and about a quarter of its time on a small day.
BUILD_ARGS = ["build", "--exclude-resource-type", "unit_test"]

INVOCATION_TARGETS_KEPT = 20  # newest per-invocation target folders kept for inspection (~12 MB each)


def _prune_invocation_targets(root: Path, op_name: str) -> None:
    """Delete all but the newest invocation folders (dagster-dbt writes one per run, never removes them);
    a folder still being written by a concurrent run is among the newest."""
    folders = sorted(
        (f for f in root.glob(f"{op_name}-*") if f.is_dir()), key=lambda f: f.stat().st_mtime, reverse=True
    )
    for stale in folders[INVOCATION_TARGETS_KEPT:]:
        shutil.rmtree(stale, ignore_errors=True)


def run_dbt_build(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[object]:
    """``dbt build`` of the run's selection and window, streamed as Dagster events."""
    # this invocation's own target folder (as dagster-dbt names them), seeded before dbt starts
    target = Path(environ_values(["DBT_TARGET_PATH"]).get("DBT_TARGET_PATH", "target")) / (
        f"{context.op_execution_context.op.name}-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}"
    )
    target_dir = target if target.is_absolute() else Path(dbt.project_dir) / target
    env = dbt_invocation_env(context, warehouse)
    key = _profile_key(env)
    _seed_partial_parse(target_dir, key)
    # the adapter reads the profile in this process and the subprocess copies os.environ: both in the block
    with scoped_environ(env):
        invocation = dbt.cli(BUILD_ARGS, context=context, target_path=target)
    try:
        yield from with_table_metadata(invocation)
    finally:
        release_adapter(invocation)
        _save_partial_parse(target_dir, key)
        _prune_invocation_targets(target_dir.parent, context.op_execution_context.op.name)


# Each built table's row count and column types go on its materialization (dagster/row_count and
# dagster/column_schema, which the UI shows on the asset page and plots over time), read through the dbt adapter
# in this process once dbt's process has ended: on DuckDB its write lock would refuse a second connection until
# then. The adapter opens the file read-only while the step still holds its slot of the warehouse pool, so no
# writer can be in it. Views are not counted (counting one runs its query).
#
# Two queries answer for every built model: one count per table, unioned, and the columns of all of them from
# information_schema (the types exactly as the warehouse states them; both are portable to PostgreSQL).
# dagster-dbt's fetch_row_counts()/fetch_column_metadata() ask one table at a time on a connection each, through
# two thread pools whose iterator polls its futures in a loop: 8 s of a two-day demo's dbt step on 2 cores, for
# what these two queries do in 0.04 s on the same warehouse (36 tables, 898 columns). Column lineage is left out: it re-reads every parent's
# columns and parses each model with sqlglot, for a graph the asset lineage already shows.
BUILT = (dg.Output, dg.AssetMaterialization)
logger = logging.getLogger(__name__)


def with_table_metadata(invocation: DbtCliInvocation) -> Iterator[object]:
    """The invocation's events in dbt's order, each built table's with its row count and column types. When
    dbt fails, what it built is still yielded (with its metadata) before the failure is raised."""
    events: list[object] = []
    failure: Exception | None = None
    try:
        events.extend(invocation.stream())
    except Exception as error:  # noqa: BLE001 - raised again below, after the events it did produce
        failure = error
    _use_run_manifest(invocation)
    metadata = built_table_metadata(invocation, [e for e in events if isinstance(e, BUILT)])
    for event in events:
        extra = metadata.get(_unique_id(event)) if isinstance(event, BUILT) else None
        yield event.with_metadata({**event.metadata, **extra}) if extra else event
    if failure is not None:
        raise failure


def _unique_id(event: Any) -> str | None:
    value = event.metadata.get("unique_id")
    return getattr(value, "text", value)


def built_table_metadata(invocation: DbtCliInvocation, built: list[Any]) -> dict[str, dict[str, Any]]:
    """Per built node's unique id: its column schema (every model and seed) and row count (tables, not views).
    Nothing for a node the warehouse does not hold; a failed query costs its metadata and a warning, never the
    step."""
    adapter = invocation.adapter
    nodes = invocation.manifest.get("nodes", {})
    props = {uid: nodes[uid] for uid in map(_unique_id, built) if uid in nodes and nodes[uid].get("relation_name")}
    if adapter is None or not props:
        return {}
    tables = {uid: p for uid, p in props.items() if p["config"].get("materialized") != "view"}
    with pushd(str(invocation.project_dir)), adapter.connection_named("cycle_table_metadata"):
        columns = _columns(adapter, props)
        counts = _row_counts(adapter, tables)
    storage_kind = invocation.manifest.get("metadata", {}).get("adapter_type")
    out: dict[str, dict[str, Any]] = {}
    for uid, node in props.items():
        described = node.get("columns") or {}
        found = columns.get(_table_key(node))
        schema = dg.TableSchema(
            columns=[
                dg.TableColumn(name, data_type, description=(described.get(name) or {}).get("description") or None)
                for name, data_type in found or []
            ]
        )
        table = dict(
            TableMetadataSet(
                column_schema=schema if found else None,
                row_count=counts.get(uid),
                storage_kind=storage_kind if uid in counts else None,
            )
        )
        if table:
            out[uid] = table
    return out


def _table_key(node: Mapping[str, Any]) -> tuple[str, str]:
    return (str(node["schema"]).lower(), str(node.get("alias") or node["name"]).lower())


def _columns(adapter: Any, props: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(schema, table) -> [(column, type)] in the table's order, for the nodes' schemas of their database."""
    databases = sorted({str(p["database"]).lower() for p in props.values()})
    schemas = sorted({_table_key(p)[0] for p in props.values()})
    sql = (
        "select table_schema, table_name, column_name, data_type from information_schema.columns"
        f" where lower(table_catalog) in ({', '.join(map(sql_string, databases))})"
        f" and lower(table_schema) in ({', '.join(map(sql_string, schemas))})"
        " order by table_schema, table_name, ordinal_position"
    )
    try:
        _, rows = adapter.execute(sql, fetch=True)
    except Exception:  # noqa: BLE001 - metadata only: the build's own outcome stands
        logger.warning("could not read the built models' columns; their column schemas are left out", exc_info=True)
        return {}
    columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, data_type in rows:
        columns.setdefault((str(schema).lower(), str(table).lower()), []).append((str(column), str(data_type)))
    return columns


def _row_counts(adapter: Any, tables: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """unique id -> rows, all tables in one query; one query per table if that fails (a table gone meanwhile
    then costs only its own count)."""

    def count(ids: list[str]) -> dict[str, int]:
        sql = " union all ".join(
            f"select {i} as k, count(*) as n from {tables[uid]['relation_name']}" for i, uid in enumerate(ids)
        )
        _, rows = adapter.execute(sql, fetch=True)
        return {ids[int(k)]: int(n) for k, n in rows}

    if not tables:
        return {}
    try:
        return count(list(tables))
    except Exception:  # noqa: BLE001 - fall back to one table at a time
        counts: dict[str, int] = {}
        for uid in tables:
            try:
                counts.update(count([uid]))
            except Exception:  # noqa: BLE001
                logger.warning("could not count the rows of %s; its row count is left out", uid, exc_info=True)
        return counts


def _use_run_manifest(invocation: DbtCliInvocation) -> None:
    """Look the built tables up by the names this run gave them. The manifest Dagster loaded at import names
    each relation after the warehouse of the `dbt parse` that wrote it (DuckDB's database is the file's
    stem: "warehouse" for $CYCLE_HOME/warehouse.duckdb, anything for another path), while the run's own
    manifest, parsed with the run's profile, names the file it built in."""
    written = invocation.target_path / "manifest.json"
    with contextlib.suppress(FileNotFoundError):  # dbt failed before parsing: nothing was built
        invocation.manifest = json.loads(written.read_text())


def release_adapter(invocation: DbtCliInvocation) -> None:
    """Close the adapter's hold on the warehouse. dbt-duckdb keeps the database open in the process until
    its environment is closed, and DuckDB refuses a connection to a file that the process still has open
    with another configuration (the adapter's is read-only): a later step run in the same process
    (``execute_in_process``, ``materialize``, ``cycle demo``) could not open the warehouse."""
    adapter = invocation.adapter
    if adapter is None:
        return
    adapter.cleanup_connections()
    manager = type(adapter.connections)
    environment = getattr(manager, "_ENV", None)  # dbt-duckdb's one environment per process
    if environment is not None:
        environment.close()
        manager.close_all_connections()
