"""metric_anomalies end to end from the simulator: spike days planted in the simulator's campaigns and platforms,
the marts it reads (fct_campaign_performance, agg_campaign_daily_summary, agg_platform_daily) written from the
simulator's days the way dbt shapes them, then the asset over a backfill range and a rerun of one day: the
warehouse holds each planted anomaly on its day with its kind, and nothing else."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import pandas as pd
import pytest

from analytics_assets.contracts.warehouse import METRIC_ANOMALIES
from analytics_assets.defs.analysis.anomalies import metric_anomalies
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.sources.simulator import AnomalyPlan, PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator.anomaly_series import daily_series

START, END = date(2026, 5, 25), date(2026, 6, 21)  # three weeks of history, then a week judged
SPIKE_DAYS = (date(2026, 6, 16), date(2026, 6, 19))
CONFIG = SimulatorConfig(seed=6, posts_per_day=120, anomalies=AnomalyPlan(days=SPIKE_DAYS))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("anomalies") / "warehouse.duckdb")
    campaigns, platforms = daily_series(CONFIG, START, END)
    with duckdb.connect(path) as con:
        con.register("_campaigns", campaigns)
        con.register("_platforms", platforms)
        con.execute(
            """create table main.fct_campaign_performance as
               select metric_date, platform, account_id, campaign_id, spend_usd, impressions, clicks, conversions
               from _campaigns"""
        )
        con.execute(
            """create table main.agg_campaign_daily_summary as
               select metric_date, platform, campaign_id, daily_budget_usd, false as is_boost from _campaigns"""
        )
        con.execute(
            """create table main.agg_platform_daily as
               select metric_date, platform, 'organic' as channel_type, impressions, engagements from _platforms"""
        )
    return path


def _run(path: str, instance: dg.DagsterInstance, start: date, end: date) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [metric_anomalies],
        resources={"warehouse": WarehouseResource(path=path, threads=1, memory_limit="1GB")},
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        },
    )
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed, check.metadata
    return result


def _table(path: str) -> pd.DataFrame:
    with duckdb.connect(path, read_only=True) as con:
        return con.execute(f"select * from {METRIC_ANOMALIES} order by metric_date, series_id").df()


def test_the_planted_spike_days_are_in_the_warehouse_with_their_dates_and_kinds(warehouse):
    with dg.instance_for_test() as instance:
        result = _run(warehouse, instance, date(2026, 6, 15), END)
        table = _table(warehouse)
        truth = PlatformSimulator(CONFIG).anomalies(START, END)
        found = {
            (k, p, c, pd.Timestamp(d).date())
            for k, p, c, d in zip(table["kind"], table["platform"], table["campaign_id"], table["metric_date"])
        }
        planted = {
            (k, p, c, d) for k, p, c, d in zip(truth["kind"], truth["platform"], truth["campaign_id"], truth["metric_date"])
        }
        # a viral spike moves the platform's impressions and engagements: two rows of one event
        assert {(k, p, c if isinstance(c, str) else None, d) for k, p, c, d in found} == planted
        assert set(table["metric_date"].map(lambda d: pd.Timestamp(d).date())) == set(SPIKE_DAYS)
        viral = table[table["kind"] == "viral_spike"]
        assert "impressions" in set(viral["metric"]) <= {"impressions", "engagements"} and viral["account_id"].isna().all()
        assert table.loc[table["entity_type"] == "campaign", "account_id"].notna().all()
        materialization = result.asset_materializations_for_node("metric_anomalies")[-1]  # one per day of the range
        assert materialization.metadata["series_days_judged"].value > 200

        # a rerun of one day replaces exactly its rows with the same ones
        _run(warehouse, instance, SPIKE_DAYS[1], SPIKE_DAYS[1])
        again = _table(warehouse)
        pd.testing.assert_frame_equal(again, table)
