"""metric_forecasts end to end from the simulator: the planted series (trend, weekly seasonality, holidays, level
shifts), the marts the asset reads (fct_campaign_performance, agg_campaign_daily_summary, agg_platform_daily)
written from the simulator's days the way dbt shapes them, then the asset over two origins and a rerun of one:
seven ordered rows per series and origin, and the rerun replaces its origin's rows with the same ones."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import duckdb
import pandas as pd
import pytest

from analytics_assets.contracts.warehouse import METRIC_FORECASTS
from analytics_assets.defs.analysis.forecasts import metric_forecasts
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.sources.simulator import SeriesPatterns, SimulatorConfig
from analytics_assets.sources.simulator.anomaly_series import daily_series

START, END = date(2026, 3, 9), date(2026, 4, 12)  # five weeks of history
CONFIG = SimulatorConfig(seed=4, posts_per_day=40, campaigns_per_platform=1, patterns=SeriesPatterns(start=START))
PLATFORMS = ("google_ads", "meta_ads", "linkedin", "x")
RUN_CONFIG = {"ops": {"metric_forecasts": {"config": {"calibration_windows": 0, "history_days": 35}}}}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("forecasts") / "warehouse.duckdb")
    campaigns, platforms = daily_series(CONFIG, START, END)
    # two ad platforms' campaigns and two organic platforms: every kind of series, few fits (each takes a second)
    campaigns = campaigns[campaigns["platform"].isin(PLATFORMS)]
    platforms = platforms[platforms["platform"].isin(PLATFORMS)]
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


def _run(path: str, instance: dg.DagsterInstance, start: date, end: date) -> None:
    result = dg.materialize(
        [metric_forecasts],
        resources={"warehouse": WarehouseResource(path=path, threads=1, memory_limit="1GB")},
        instance=instance,
        run_config=RUN_CONFIG,
        tags={
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        },
    )
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed, check.metadata


def _last_week_spend(path: str) -> float:
    with duckdb.connect(path, read_only=True) as con:
        return con.execute(
            "select sum(spend_usd) from main.fct_campaign_performance where metric_date > ?", [END - timedelta(days=7)]
        ).fetchone()[0]


def _table(path: str) -> pd.DataFrame:
    with duckdb.connect(path, read_only=True) as con:
        return con.execute(f"select * from {METRIC_FORECASTS} order by origin_date, series_id, horizon").df()


CAMPAIGNS = [("google_ads", "6100000000"), ("meta_ads", "23850000000001000")]


def test_seven_ordered_days_per_series_and_origin_and_a_rerun_changes_nothing(warehouse):
    origins = (END, END)
    with dg.instance_for_test() as instance:
        _run(warehouse, instance, *origins)
        table = _table(warehouse)
        # one campaign on each of two ad platforms x (spend, clicks, conversions), two platforms x 2 metrics
        assert set(table["series_id"]) == {
            *(f"campaign:{p}:{c}:{m}" for p, c in CAMPAIGNS for m in ("spend", "clicks", "conversions")),
            *(f"platform:{p}:{m}" for p in ("linkedin", "x") for m in ("impressions", "engagements")),
        }
        for (series_id, origin), g in table.groupby(["series_id", "origin_date"]):
            assert list(g["horizon"]) == list(range(1, 8)), series_id
            expected = [pd.Timestamp(origin) + pd.Timedelta(days=k) for k in range(1, 8)]
            assert list(pd.to_datetime(g["forecast_date"])) == expected
        assert set(pd.to_datetime(table["origin_date"]).dt.date) == set(origins)
        ordered = (
            (table["lo_95"] <= table["lo_80"]) & (table["lo_80"] <= table["forecast"])
            & (table["forecast"] <= table["hi_80"]) & (table["hi_80"] <= table["hi_95"])
        )
        assert ordered.all() and (table["lo_95"] >= 0).all()
        assert (table["hi_95"] > table["lo_95"]).all()  # an interval, not a point
        # the forecasts are of the series' own scale: a week's spend forecast near the week before's spend
        spend = table[(table["metric"] == "spend") & (pd.to_datetime(table["origin_date"]).dt.date == END)]
        last_week = _last_week_spend(warehouse)
        assert 0.5 * last_week < spend["forecast"].sum() < 2.0 * last_week

        # a rerun of one origin replaces exactly its rows with the same ones
        _run(warehouse, instance, END, END)
        pd.testing.assert_frame_equal(_table(warehouse), table)
