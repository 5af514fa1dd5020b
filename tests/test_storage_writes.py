"""Every Python write to the warehouse goes through ``storage.warehouse``: one that fails half-way leaves
the previous rows and tables exactly as they were, whichever helper made it."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from analytics_assets.contracts.raw import AD_CAMPAIGN_METRICS, QUARANTINE_TABLE, RAW_SCHEMA
from analytics_assets.sources.parsing.loader import parse_day
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.storage.warehouse import (
    connect,
    replace_partitions,
    replace_platform_days,
    replace_rows,
    replace_table,
    replace_tables,
    transaction,
)

DAY = date(2026, 10, 14)


@pytest.fixture
def con(tmp_path):
    with connect(tmp_path / "warehouse.duckdb", threads=1, memory_limit="512MB") as connection:
        yield connection


def _table(con, name: str) -> pd.DataFrame:
    return con.execute(f"select * from {name} order by all").df()


def test_a_failed_table_replacement_keeps_the_previous_table(con):
    replace_table(con, "analysis.scores", pd.DataFrame({"post_id": ["a", "b"], "score": [1.5, 2.5]}))
    before = _table(con, "analysis.scores")
    bad = pd.DataFrame({"post_id": ["c"], "score": ["not a number"]})
    with pytest.raises(duckdb.ConversionException):
        replace_table(con, "analysis.scores", bad, casts={"score": "double"})
    pd.testing.assert_frame_equal(_table(con, "analysis.scores"), before)


def test_tables_replaced_together_stay_together(con):
    """boost_effectiveness and its trajectory: a failure on the second keeps the first's old rows too."""
    replace_tables(con, {"analysis.first": pd.DataFrame({"x": [1]}), "analysis.second": pd.DataFrame({"y": [1]})})
    with pytest.raises(duckdb.Error):
        with transaction(con):
            con.execute("create or replace table analysis.first as select 2 as x")
            con.execute("select * from a_table_that_does_not_exist")
    assert _table(con, "analysis.first")["x"].tolist() == [1]
    with pytest.raises(duckdb.ConversionException):
        replace_tables(
            con,
            {"analysis.first": pd.DataFrame({"x": [3]}), "analysis.second": pd.DataFrame({"y": ["three"]})},
            casts={"analysis.second": {"y": "integer"}},
        )
    assert _table(con, "analysis.first")["x"].tolist() == [1]
    assert _table(con, "analysis.second")["y"].tolist() == [1]


def test_a_failed_row_replacement_keeps_the_previous_rows(con):
    columns = {"partition_date": "DATE", "drift_share": "DOUBLE"}
    rows = pd.DataFrame({"partition_date": [date(2026, 10, d) for d in (12, 13, 14)], "drift_share": [0.1, 0.2, 0.3]})
    replace_rows(con, "ml.reports", columns, rows, "partition_date between ? and ?", [date(2026, 10, 12), DAY])
    before = _table(con, "ml.reports")
    bad = pd.DataFrame({"partition_date": [DAY], "drift_share": ["a lot"]})
    with pytest.raises(duckdb.ConversionException):
        replace_rows(con, "ml.reports", columns, bad, "partition_date = ?", [DAY])
    pd.testing.assert_frame_equal(_table(con, "ml.reports"), before)
    # and a good replacement replaces exactly the slice
    good = pd.DataFrame({"partition_date": [DAY], "drift_share": [0.9]})
    replace_rows(con, "ml.reports", columns, good, "partition_date = ?", [DAY])
    assert _table(con, "ml.reports")["drift_share"].tolist() == [0.1, 0.2, 0.9]


def _ad_batch():
    sim = PlatformSimulator(SimulatorConfig(seed=5, posts_per_day=20, journeys_per_day=20, ai_generations_per_day=5))
    return parse_day(sim.day(DAY))[AD_CAMPAIGN_METRICS.name]


def test_a_failed_raw_partition_write_keeps_the_partition_and_its_quarantine(con):
    batch = _ad_batch()
    replace_partitions(con, AD_CAMPAIGN_METRICS, batch.rows, batch.quarantine, DAY, DAY)
    quarantine = f"{RAW_SCHEMA}.{QUARANTINE_TABLE}"
    before, before_q = _table(con, AD_CAMPAIGN_METRICS.qualified_name), _table(con, quarantine)
    assert len(before)
    broken = batch.rows.assign(impressions=batch.rows["impressions"].astype(object))
    broken.loc[broken.index[-1], "impressions"] = "many"  # the last insert of the transaction fails
    with pytest.raises(duckdb.ConversionException):
        replace_partitions(con, AD_CAMPAIGN_METRICS, broken, batch.quarantine, DAY, DAY)
    pd.testing.assert_frame_equal(_table(con, AD_CAMPAIGN_METRICS.qualified_name), before)
    pd.testing.assert_frame_equal(_table(con, quarantine), before_q)
    # the connectors' writer and its ledger write ("also") roll back together too
    def ledger(c):
        c.execute("create table if not exists raw.ledger_probe (day date)")
        c.execute("insert into raw.ledger_probe values (?)", [DAY])
    with pytest.raises(duckdb.ConversionException):
        replace_platform_days(con, AD_CAMPAIGN_METRICS, ["meta_ads"], broken, batch.quarantine, [DAY], also=ledger)
    pd.testing.assert_frame_equal(_table(con, AD_CAMPAIGN_METRICS.qualified_name), before)
    assert con.execute(
        "select count(*) from information_schema.tables where table_name = 'ledger_probe'"
    ).fetchone()[0] == 0
