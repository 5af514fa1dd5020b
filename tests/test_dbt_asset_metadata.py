"""The dbt assets' materializations tell the truth about their tables: each built model's row count
(``dagster/row_count``, tables only: counting a view runs its query) and its columns with their types
(``dagster/column_schema``), as the warehouse holds them. Checked on the end-to-end run (the session
``pipeline`` fixture: three partitions of the simulator through the whole graph, run in one process, so
the adapter's read-only handle on the file must have been let go for the steps after dbt to run at all)."""

from __future__ import annotations

import csv

import dagster as dg
import pytest

from analytics_assets.defs.transform.dbt_invocation import DBT_PROJECT_DIR

pytestmark = pytest.mark.slow

# the partitioned models: rebuilt only by reruns of the same days, which leave every table identical
# (tests/test_pipeline_e2e.py), so the warehouse still holds what the run recorded
DBT_STEP = "cycle_dbt_models"


@pytest.fixture(scope="module")
def dbt_metadata(pipeline) -> dict[str, dict]:
    _, result = pipeline
    latest: dict[str, dict] = {}
    for event in result.get_asset_materialization_events():
        if event.step_key == DBT_STEP:
            latest[event.asset_key.to_user_string()] = dict(event.materialization.metadata)
    assert len(latest) > 40, sorted(latest)
    return latest


def test_each_dbt_table_carries_its_row_count_and_each_model_its_column_types(pipeline, dbt_metadata):
    home, _ = pipeline
    relations = home.query(
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_schema not in ('raw', 'ml', 'analysis')"
    )
    kind = {r.table_name: (r.table_schema, r.table_type) for r in relations.itertuples()}
    columns = home.query(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema not in ('raw', 'ml', 'analysis') order by table_name, ordinal_position"
    )
    counted = 0
    for name, metadata in dbt_metadata.items():
        assert name in kind, name
        schema, table_type = kind[name]
        described = metadata["dagster/column_schema"].value
        expected = columns[columns.table_name == name]
        assert [(c.name, c.type.upper()) for c in described.columns] == list(
            zip(expected.column_name, expected.data_type.str.upper())
        ), name
        if table_type == "VIEW":
            assert "dagster/row_count" not in metadata, name
            continue
        rows = int(home.query(f'select count(*) as n from "{schema}"."{name}"').n.iloc[0])
        assert metadata["dagster/row_count"].value == rows, name
        counted += 1
    assert counted > 25
    # the counts are real: the facts hold rows, and a seed counts its file's lines
    assert dbt_metadata["fct_post_metrics_daily"]["dagster/row_count"].value > 1000
    with (DBT_PROJECT_DIR / "seeds" / "currency_rates_usd.csv").open() as seed:
        assert dbt_metadata["currency_rates_usd"]["dagster/row_count"].value == len(list(csv.reader(seed))) - 1


def test_dbt_checks_carry_no_table_metadata(pipeline):
    _, result = pipeline
    evaluations = [e for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
                   and e.step_key == DBT_STEP]
    assert len(evaluations) > 400
    for event in evaluations:
        metadata = event.event_specific_data.metadata
        assert "dagster/column_schema" not in metadata and "dagster/row_count" not in metadata
