"""metric_forecasts end to end from the simulator to the API: the planted series (trend, weekly seasonality,
holidays, level shifts), the marts the asset reads (fct_campaign_performance, agg_campaign_daily_summary,
agg_platform_daily, dim_account) written from the simulator's days the way dbt shapes them, then the real asset
(statsforecast fits, no mock): seven ordered rows per series, a rerun replaces its origin's rows with the same ones,
a holiday of the deployment's calendar inside the horizon moves the forecast the way the simulator planted it, and
the serving snapshot serves each key exactly its accounts' rows through ``/v1/forecasts``."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics_assets.contracts.access import Account, AccessRegistry
from analytics_assets.contracts.holidays import HolidayCalendar
from analytics_assets.contracts.serving import FORECASTS, SERVED_TABLES
from analytics_assets.contracts.warehouse import METRIC_FORECASTS
from analytics_assets.defs.analysis.forecasts import metric_forecasts
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.defs.serving.snapshot import served_sql
from analytics_assets.sources.simulator import SeriesPatterns, SimulatorConfig
from analytics_assets.sources.simulator.anomaly_series import daily_series
from analytics_assets.sources.simulator.core import ACCOUNTS_PER_PLATFORM, account_id
from analytics_assets.sources.simulator.series_patterns import KIND_EFFECTS
from analytics_assets.storage.serving_files import publish_snapshot
from ml.forecasting import campaign_series_days
from ml.forecasting import forecast as fit_forecast

START, END = date(2026, 3, 9), date(2026, 4, 12)  # five weeks of history
# the deployment's calendar (CYCLE_HOLIDAY_CALENDAR + CYCLE_HOLIDAY_DATES): the rules (no rule day falls in these
# weeks) and a Thursday promotion, twice in the history and once in END's horizon (Thursday 16 April, horizon 4).
# The simulator plants its holidays on this calendar's days and the asset reads the same two settings.
HOLIDAY_DATES = "2026-03-19=spring_sale:peak,2026-04-02=spring_sale:peak,2026-04-16=spring_sale:peak"
PROMOTION = date(2026, 4, 16)
CALENDAR = HolidayCalendar.from_settings("us_retail", HOLIDAY_DATES)
CONFIG = SimulatorConfig(seed=4, posts_per_day=40, campaigns_per_platform=1,
                         patterns=SeriesPatterns(start=START, calendar=CALENDAR))
PLATFORMS = ("google_ads", "meta_ads", "linkedin", "x")
RUN_CONFIG = {"ops": {"metric_forecasts": {"config": {
    "calibration_windows": 0, "history_days": 35, "holiday_calendar": "us_retail", "holiday_dates": HOLIDAY_DATES,
}}}}


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, pd.DataFrame]:
    campaigns, platforms = daily_series(CONFIG, START, END)
    # two ad platforms' campaigns and two organic platforms: every kind of series, few fits (each takes a second)
    return campaigns[campaigns["platform"].isin(PLATFORMS)], platforms[platforms["platform"].isin(PLATFORMS)]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, simulated) -> str:
    path = str(tmp_path_factory.mktemp("forecasts") / "warehouse.duckdb")
    campaigns, platforms = simulated
    organic = pd.DataFrame([(p, account_id(p, seq)) for p in ("linkedin", "x") for seq in range(ACCOUNTS_PER_PLATFORM)],
                           columns=["platform", "account_id"])
    accounts = pd.concat([campaigns[["platform", "account_id"]].drop_duplicates(), organic], ignore_index=True)
    with duckdb.connect(path) as con:
        con.register("_campaigns", campaigns)
        con.register("_platforms", platforms)
        con.register("_accounts", accounts)
        con.execute("create table main.dim_account as select * from _accounts")
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


def _run(path: str, instance: dg.DagsterInstance, start: date, end: date) -> dict:
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
    return result.asset_materializations_for_node("metric_forecasts")[0].metadata


def _last_week_spend(path: str) -> float:
    with duckdb.connect(path, read_only=True) as con:
        return con.execute(
            "select sum(spend_usd) from main.fct_campaign_performance where metric_date > ?", [END - timedelta(days=7)]
        ).fetchone()[0]


def _table(path: str) -> pd.DataFrame:
    with duckdb.connect(path, read_only=True) as con:
        return con.execute(f"select * from {METRIC_FORECASTS} order by origin_date, series_id, horizon").df()


CAMPAIGNS = [("google_ads", "6100000000"), ("meta_ads", "23850000000001000")]


@pytest.fixture(scope="module")
def materialized(warehouse) -> tuple[pd.DataFrame, dict]:
    """The asset's rows for the origin END (one real fit of every series) and its materialization's metadata."""
    with dg.instance_for_test() as instance:
        metadata = _run(warehouse, instance, END, END)
    return _table(warehouse), metadata


def test_seven_ordered_days_per_series_and_origin_and_a_rerun_changes_nothing(warehouse, materialized):
    table, metadata = materialized
    # one campaign on each of two ad platforms x (spend, clicks, conversions), two platforms x 2 metrics
    assert set(table["series_id"]) == {
        *(f"campaign:{p}:{c}:{m}" for p, c in CAMPAIGNS for m in ("spend", "clicks", "conversions")),
        *(f"platform:{p}:{m}" for p in ("linkedin", "x") for m in ("impressions", "engagements")),
    }
    for (series_id, origin), g in table.groupby(["series_id", "origin_date"]):
        assert list(g["horizon"]) == list(range(1, 8)), series_id
        expected = [pd.Timestamp(origin) + pd.Timedelta(days=k) for k in range(1, 8)]
        assert list(pd.to_datetime(g["forecast_date"])) == expected
    assert set(pd.to_datetime(table["origin_date"]).dt.date) == {END}
    ordered = (
        (table["lo_95"] <= table["lo_80"]) & (table["lo_80"] <= table["forecast"])
        & (table["forecast"] <= table["hi_80"]) & (table["hi_80"] <= table["hi_95"])
    )
    assert ordered.all() and (table["lo_95"] >= 0).all()
    assert (table["hi_95"] > table["lo_95"]).all()  # an interval, not a point
    # the forecasts are of the series' own scale: a week's spend forecast near the week before's spend
    spend = table[table["metric"] == "spend"]
    last_week = _last_week_spend(warehouse)
    assert 0.5 * last_week < spend["forecast"].sum() < 2.0 * last_week
    # the materialization names the calendar it read, its days in the history and the horizon
    assert metadata["holiday_calendar"].value == "us_retail"
    assert metadata["holidays"].value == "2026-03-19 spring_sale, 2026-04-02 spring_sale, 2026-04-16 spring_sale"
    # and what the promotion in the horizon does, per family: every campaign's spend by about the planted x1.4,
    # measured on the two earlier promotions (no series on the kind's prior)
    effects = metadata["holiday_effects"].value
    rows = {tuple(cells[:3]): cells[3:] for cells in
            ([c.strip() for c in line.strip("|").split("|")] for line in effects.splitlines() if line.startswith("| 2026"))}
    assert set(rows) == {("2026-04-16", "spring_sale", f"{entity}:{metric}") for entity, metric in
                         [("campaign", "spend"), ("campaign", "clicks"), ("campaign", "conversions"),
                          ("platform", "impressions"), ("platform", "engagements")]}, effects
    series, factor, lowest, highest, from_prior = rows[("2026-04-16", "spring_sale", "campaign:spend")]
    assert series == "2" and from_prior == "0" and 1.2 < float(factor.lstrip("x")) < 1.6, effects

    # a rerun of the origin replaces exactly its rows with the same ones
    with dg.instance_for_test() as instance:
        _run(warehouse, instance, END, END)
    pd.testing.assert_frame_equal(_table(warehouse), table)


def test_a_holiday_in_the_horizon_moves_the_forecast_the_planted_way(simulated, materialized):
    """The promotion in END's horizon: the spend forecast on its day stands above what the same members forecast
    without the calendar by about the planted factor (a peak day's KIND_EFFECTS), and the other days hardly move."""
    table, _ = materialized
    campaigns, _ = simulated
    spend = campaign_series_days(campaigns)
    spend = spend[spend["metric"] == "spend"]
    blind = fit_forecast(spend, END, calibration_windows=0)  # the same members, no calendar
    rows = table[table["metric"] == "spend"].merge(blind, on=["series_id", "horizon"], suffixes=("", "_blind"))
    assert len(rows) == 2 * 7
    ratio = rows["forecast"] / rows["forecast_blind"]
    on_holiday = pd.to_datetime(rows["forecast_date"]).dt.date == PROMOTION
    planted = KIND_EFFECTS["peak"][0]  # spend x1.4 on a peak day the effects table does not name
    assert ratio[on_holiday].between(1 + 0.5 * (planted - 1), 1 + 1.5 * (planted - 1)).all(), rows[on_holiday]
    assert ratio[~on_holiday].between(0.85, 1.15).all(), ratio[~on_holiday]
    # the intervals move with it: each one's centre (on the log scale the members fit) by about the planted factor,
    # each bound in the same direction. Their widths differ: the blind members fit a history with the earlier
    # promotions left in, which widens their bounds
    holiday = rows[on_holiday]
    for level in (80, 95):
        centre = np.sqrt(holiday[f"lo_{level}"] * holiday[f"hi_{level}"])
        blind_centre = np.sqrt(holiday[f"lo_{level}_blind"] * holiday[f"hi_{level}_blind"])
        moved = centre / blind_centre
        assert moved.between(1 + 0.5 * (planted - 1), 1 + 1.5 * (planted - 1)).all(), (level, moved)
        for bound in (f"lo_{level}", f"hi_{level}"):
            assert (holiday[bound] > 1.1 * holiday[f"{bound}_blind"]).all(), (bound, holiday)


def _client(serving, access, owned: list[tuple[str, str]]):
    from fastapi.testclient import TestClient

    from api.main import create_app

    registry = AccessRegistry(access)
    registry.create_workspace("north", exist_ok=True)
    registry.add_accounts("north", [Account(p, a) for p, a in owned], skip_owned=True)
    token = registry.create_key("north", "tests", ("read",)).token
    app = create_app(serving, webhook_store=access.parent / "inbound.sqlite3", access_store=access,
                     rate_limit="100000/minute", max_snapshot_age=None)
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def test_the_api_serves_a_key_exactly_its_accounts_forecasts(warehouse, materialized, tmp_path):
    table, _ = materialized
    tables = {t.file: t for t in SERVED_TABLES}
    with duckdb.connect(warehouse, read_only=True) as con:
        served = con.execute(served_sql(con, tables[FORECASTS])[0]).df()
        accounts = con.execute("select platform, account_id from main.dim_account").df()
    publish_snapshot(tmp_path / "serving", {FORECASTS: served}, published_at=datetime.now(timezone.utc))
    # the key's workspace owns google_ads' campaign account and every linkedin account, not meta_ads' nor x's
    owned = [(p, a) for p, a in zip(accounts["platform"], accounts["account_id"]) if p in ("google_ads", "linkedin")]
    client = _client(tmp_path / "serving", tmp_path / "access.sqlite3", owned)
    body = client.get("/v1/forecasts", params={"limit": 1000})
    assert body.status_code == 200, body.text
    page = body.json()
    items = page["items"]
    expected = table[table["platform"].isin(["google_ads", "linkedin"])]
    assert page["origin_date"] == END.isoformat() and page["total"] == len(expected) == len(items)
    got = pd.DataFrame(items).sort_values(["series_id", "horizon"], ignore_index=True)
    expected = expected.sort_values(["series_id", "horizon"], ignore_index=True)
    assert list(got["series_id"]) == list(expected["series_id"]) and list(got["horizon"]) == list(expected["horizon"])
    for col in ("forecast", "lo_80", "hi_80", "lo_95", "hi_95"):
        np.testing.assert_allclose(got[col].to_numpy(float), expected[col].to_numpy(float), atol=0.006, rtol=1e-9)
    assert (got["forecast_date"] == pd.to_datetime(expected["forecast_date"]).dt.strftime("%Y-%m-%d")).all()
    assert set(got["model"]) == set(expected["model"]) and set(got["history_days"]) == set(expected["history_days"])
    # nested intervals around the point forecast, as served
    assert ((got["lo_95"] <= got["lo_80"]) & (got["lo_80"] <= got["forecast"]) & (got["forecast"] <= got["hi_80"])
            & (got["hi_80"] <= got["hi_95"])).all()
    # the campaign's rows carry its account; linkedin's totals none (the workspace owns the whole platform)
    assert set(got.loc[got["entity_type"] == "campaign", "account_id"]) == set(
        a for p, a in owned if p == "google_ads")
    assert got.loc[got["entity_type"] == "platform", "account_id"].isna().all()
