"""How the dbt step attaches table metadata to its events (defs/transform/dbt_invocation.py), without dbt:
dbt's order is kept, a failed build still records what it built before the failure is raised, and the
tables are looked up under the names the run gave them. The metadata itself, on a real run, is checked in
tests/test_dbt_asset_metadata.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from analytics_assets.defs.transform import dbt_invocation


@dataclass
class FakeInvocation:
    """What dagster-dbt's metadata fetch reads of an invocation; no adapter: nothing to fetch."""

    events: list
    target_path: Path
    failure: Exception | None = None
    manifest: dict = field(default_factory=lambda: {"nodes": {}})
    adapter: None = None
    is_fusion: bool = False
    postprocessing_threadpool_num_threads: int = 4

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
    assert invocation.postprocessing_threadpool_num_threads == dbt_invocation.METADATA_THREADS


def test_a_failed_build_records_what_it_built_then_fails(tmp_path):
    failure = RuntimeError("dbt build failed: 1 error")
    invocation = FakeInvocation(_events()[:2], tmp_path, failure=failure)  # no manifest written: kept as it was
    seen = []
    with pytest.raises(RuntimeError, match="1 error"):
        for event in dbt_invocation.with_table_metadata(invocation):
            seen.append(event)
    assert len(seen) == 2 and invocation.manifest == {"nodes": {}}



def test_duckdb_strings_are_varchar_without_the_size_dbt_makes_up(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"metadata": {"adapter_type": "duckdb"}, "nodes": {}}))
    schema = dg.TableSchema(columns=[
        dg.TableColumn("account_id", "character varying(256)"), dg.TableColumn("posts", "BIGINT"),
        dg.TableColumn("rate", "DECIMAL(18,4)"),
    ])
    built = dg.Output(None, output_name="m", metadata={"dagster/column_schema": schema, "dagster/row_count": 3})
    out = list(dbt_invocation.with_table_metadata(FakeInvocation([built], tmp_path)))
    columns = out[0].metadata["dagster/column_schema"].value.columns
    assert [(c.name, c.type) for c in columns] == [
        ("account_id", "VARCHAR"), ("posts", "BIGINT"), ("rate", "DECIMAL(18,4)")
    ]
    assert out[0].metadata["dagster/row_count"].value == 3
