"""How the dbt step attaches table metadata to its events (defs/transform/dbt_invocation.py), without dbt:
dbt's order is kept, a failed build still records what it built before the failure is raised, and the
tables are looked up under the names the run gave them. The metadata itself, on a real run, is checked in
tests/test_dbt_asset_metadata.py."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from analytics_assets.defs.transform import dbt_invocation


@dataclass
class FakeInvocation:
    """What the metadata fetch reads of an invocation; no adapter: nothing to fetch."""

    events: list
    target_path: Path
    failure: Exception | None = None
    manifest: dict = field(default_factory=lambda: {"nodes": {}})
    adapter: object | None = None
    project_dir: Path | None = None

    def stream(self):
        yield from self.events
        if self.failure is not None:
            raise self.failure


def _events() -> list:
    return [
        dg.Output(None, output_name="stg_a", metadata={"unique_id": "model.cycle.stg_a"}),
        dg.AssetCheckResult(asset_key="stg_a", check_name="not_null_stg_a_id", passed=True),
        dg.Output(None, output_name="fct_b", metadata={"unique_id": "model.cycle.fct_b"}),
        dg.AssetCheckResult(asset_key="fct_b", check_name="unique_fct_b_id", passed=False),
    ]


def test_the_events_keep_dbts_order_and_the_run_manifest_names_the_tables(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"nodes": {"model.cycle.stg_a": {"database": "run"}}}))
    invocation = FakeInvocation(_events(), tmp_path)
    out = list(dbt_invocation.with_table_metadata(invocation))
    assert [type(e).__name__ for e in out] == ["Output", "AssetCheckResult", "Output", "AssetCheckResult"]
    assert [getattr(e, "output_name", None) or e.check_name for e in out] == [
        "stg_a", "not_null_stg_a_id", "fct_b", "unique_fct_b_id"
    ]
    assert invocation.manifest["nodes"]["model.cycle.stg_a"]["database"] == "run"


def test_a_failed_build_records_what_it_built_then_fails(tmp_path):
    failure = RuntimeError("dbt build failed: 1 error")
    invocation = FakeInvocation(_events()[:2], tmp_path, failure=failure)  # no manifest written: kept as it was
    seen = []
    with pytest.raises(RuntimeError, match="1 error"):
        for event in dbt_invocation.with_table_metadata(invocation):
            seen.append(event)
    assert len(seen) == 2 and invocation.manifest == {"nodes": {}}


class DuckDBAdapter:
    """What the metadata fetch asks of dbt's adapter, over a DuckDB file: a named connection, fetched queries."""

    def __init__(self, path: Path):
        self.con = duckdb.connect(str(path))
        self.queries: list[str] = []

    @contextlib.contextmanager
    def connection_named(self, name: str):
        yield

    def execute(self, sql: str, fetch: bool = False):
        self.queries.append(sql)
        return None, self.con.execute(sql).fetchall()


def _node(name: str, materialized: str, columns: dict | None = None) -> dict:
    return {
        "name": name, "alias": name, "database": "wh", "schema": "main", "relation_name": f'"wh"."main"."{name}"',
        "config": {"materialized": materialized}, "columns": columns or {},
    }


def _built(name: str) -> dg.Output:
    return dg.Output(None, output_name=name, metadata={"unique_id": f"model.cycle.{name}"})


def test_built_tables_get_their_rows_and_columns_as_the_warehouse_states_them_in_two_queries(tmp_path):
    adapter = DuckDBAdapter(tmp_path / "wh.duckdb")
    adapter.con.execute("create table fct_a (post_id varchar, impressions bigint, rate decimal(18,4))")
    adapter.con.execute("insert into fct_a values ('p1', 3, 0.5), ('p2', 4, 0.25)")
    adapter.con.execute("create table dim_b (day date)")
    adapter.con.execute("create view stg_c as select * from fct_a where impressions > 3")
    adapter.con.execute("create schema other; create table other.fct_a (x int)")  # same name, another schema
    nodes = {
        "model.cycle.fct_a": _node("fct_a", "incremental", {"post_id": {"description": "the post"}}),
        "model.cycle.dim_b": _node("dim_b", "table"),
        "model.cycle.stg_c": _node("stg_c", "view"),
        "model.cycle.gone": _node("gone", "table"),
    }
    (tmp_path / "manifest.json").write_text(json.dumps({"metadata": {"adapter_type": "duckdb"}, "nodes": nodes}))
    events = [_built("fct_a"), dg.AssetCheckResult(asset_key="fct_a", check_name="c", passed=True), _built("dim_b"),
              _built("stg_c")]
    invocation = FakeInvocation(events, tmp_path, adapter=adapter, project_dir=tmp_path)
    out = list(dbt_invocation.with_table_metadata(invocation))

    assert len(adapter.queries) == 2  # every table counted in one query, every column read in another
    fct, check, dim, view = out
    assert fct.metadata["dagster/row_count"].value == 2 and dim.metadata["dagster/row_count"].value == 0
    assert "dagster/row_count" not in view.metadata  # a view is not run to count it
    assert fct.metadata["dagster/storage_kind"].value == "duckdb"
    columns = fct.metadata["dagster/column_schema"].value.columns
    assert [(c.name, c.type, c.description) for c in columns] == [
        ("post_id", "VARCHAR", "the post"), ("impressions", "BIGINT", None), ("rate", "DECIMAL(18,4)", None)
    ]
    assert [c.type for c in view.metadata["dagster/column_schema"].value.columns] == ["VARCHAR", "BIGINT", "DECIMAL(18,4)"]
    assert "dagster/column_schema" not in check.metadata and "dagster/row_count" not in check.metadata

    # a table that vanished: the others keep their counts (one query each), the missing one gets none
    invocation = FakeInvocation([_built("fct_a"), _built("gone")], tmp_path, adapter=adapter, project_dir=tmp_path)
    fct, gone = list(dbt_invocation.with_table_metadata(invocation))
    assert fct.metadata["dagster/row_count"].value == 2
    assert "dagster/row_count" not in gone.metadata and "dagster/column_schema" not in gone.metadata
