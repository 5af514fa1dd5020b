"""The anomalies and forecasts in the serving snapshot and the API, on the simulator's planted series.

* ``metric_anomalies`` judges a day with planted anomalies (a spend spike, a tracking outage, a CTR collapse,
  a viral spike); the publisher's query copies each platform row to every account of the platform; a key reads
  exactly the warehouse's rows of its workspace's campaigns, and a platform's rows only when its workspace owns
  every account of the platform (the other workspace's key sees none of them).
* ``serving_snapshot`` publishes an empty forecasts file, of the table's columns, when ``forecast_job`` never ran
  (and empty anomalies before ``metric_anomalies`` did), rather than fail or wait.
* ``metric_forecasts`` names each campaign series' ad account (``with_accounts``).
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import dagster as dg
import duckdb
import pandas as pd
import pytest

from analytics_assets.contracts.access import Account, AccessRegistry
from analytics_assets.contracts.serving import ANOMALIES, FORECASTS, SERIES_ACCOUNTS, SERVED_TABLES
from analytics_assets.contracts.warehouse import METRIC_ANOMALIES
from analytics_assets.defs.analysis.anomalies import metric_anomalies
from analytics_assets.defs.analysis.forecasts import METRIC_FORECAST_COLUMNS, with_accounts
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.defs.serving.snapshot import served_sql
from analytics_assets.sources.simulator import AnomalyPlan, SimulatorConfig
from analytics_assets.sources.simulator.anomaly_series import daily_series
from analytics_assets.sources.simulator.core import ACCOUNTS_PER_PLATFORM, account_id
from analytics_assets.storage.serving_files import publish_snapshot
from ml.forecasting import FORECAST_COLUMNS, campaign_series_days, platform_series_days

START, END = date(2026, 5, 25), date(2026, 6, 16)  # three weeks of history, then the planted day judged
JUDGED = (date(2026, 6, 16), date(2026, 6, 16))
CONFIG = SimulatorConfig(seed=6, posts_per_day=120, anomalies=AnomalyPlan(days=(date(2026, 6, 16),)))
ORGANIC = ("linkedin", "reddit", "tiktok", "x")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """The warehouse after metric_anomalies judged JUDGED, with main.dim_account, and the simulated days."""
    path = str(tmp_path_factory.mktemp("serving_series") / "warehouse.duckdb")
    campaigns, platforms = daily_series(CONFIG, START, END)
    organic = pd.DataFrame(
        [(p, account_id(p, seq)) for p in ORGANIC for seq in range(ACCOUNTS_PER_PLATFORM)], columns=["platform", "account_id"]
    )
    accounts = pd.concat([campaigns[["platform", "account_id"]].drop_duplicates(), organic], ignore_index=True)
    with duckdb.connect(path) as con:
        con.register("_campaigns", campaigns)
        con.register("_platforms", platforms)
        con.register("_accounts", accounts)
        con.execute("""create table main.fct_campaign_performance as select metric_date, platform, account_id,
                       campaign_id, spend_usd, impressions, clicks, conversions from _campaigns""")
        con.execute("""create table main.agg_campaign_daily_summary as select metric_date, platform, campaign_id,
                       daily_budget_usd, false as is_boost from _campaigns""")
        con.execute("""create table main.agg_platform_daily as select metric_date, platform, 'organic' as channel_type,
                       impressions, engagements from _platforms""")
        con.execute("create table main.dim_account as select * from _accounts")
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [metric_anomalies],
            resources={"warehouse": WarehouseResource(path=path, threads=1, memory_limit="1GB")},
            instance=instance,
            tags={"dagster/asset_partition_range_start": JUDGED[0].isoformat(),
                  "dagster/asset_partition_range_end": JUDGED[1].isoformat()},
        )
        assert result.success
    return path, campaigns, platforms, accounts


def _publish(path: str, out) -> dict[str, pd.DataFrame]:
    """The two series files as serving_snapshot reads and publishes them."""
    tables = {t.file: t for t in SERVED_TABLES}
    with duckdb.connect(path, read_only=True) as con:
        frames = {name: con.execute(served_sql(con, tables[name])[0]).df() for name in (ANOMALIES, FORECASTS)}
    publish_snapshot(out, frames, published_at=datetime.now(timezone.utc))
    return frames


def _client(serving, access, workspaces: dict[str, list[tuple[str, str]]], workspace: str):
    from fastapi.testclient import TestClient

    from api.main import create_app

    registry = AccessRegistry(access)
    for name, owned in workspaces.items():
        registry.create_workspace(name, exist_ok=True)
        registry.add_accounts(name, [Account(p, a) for p, a in owned], skip_owned=True)
    token = registry.create_key(workspace, "tests", ("read",)).token
    app = create_app(serving, webhook_store=access.parent / "inbound.sqlite3", access_store=access,
                     rate_limit="100000/minute", max_snapshot_age=None)
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def _rows(client) -> list[dict]:
    body = client.get("/v1/anomalies", params={"limit": 1000})
    assert body.status_code == 200, body.text
    return body.json()["items"]


def _key(row) -> tuple:
    return (row["series_id"], str(row["metric_date"])[:10], row["kind"], row["severity"])


def test_each_key_reads_exactly_its_workspaces_anomalies(simulated, tmp_path):
    path, campaigns, _, accounts = simulated
    with duckdb.connect(path, read_only=True) as con:
        table = con.execute(f"select * from {METRIC_ANOMALIES}").df()
    # the planted day is found, campaign and platform series both
    assert {"spend_spike", "tracking_outage", "ctr_collapse", "viral_spike"} <= set(table["kind"]), table
    assert {"campaign", "platform"} == set(table["entity_type"])
    frames = _publish(path, tmp_path / "serving")
    served = frames[ANOMALIES]
    per_platform = accounts.groupby("platform").size()
    platform_rows = table[table["entity_type"] == "platform"]
    assert len(served) == (table["entity_type"] == "campaign").sum() + sum(per_platform[p] for p in platform_rows["platform"])
    assert served["account_id"].notna().all()
    assert set(served.loc[served["entity_type"] == "platform", SERIES_ACCOUNTS]) == {ACCOUNTS_PER_PLATFORM}

    ad = sorted(set(zip(campaigns["platform"], campaigns["account_id"])))
    first_ad = {min(a for q, a in ad if q == p) for p, _ in ad}
    north = [(p, a) for p, a in ad if a in first_ad] + [(p, account_id(p, 0)) for p in ORGANIC]
    south = [pa for pa in map(tuple, accounts.to_numpy()) if pa not in north]
    split = {"north": north, "south": south}
    mine = {w: set(owned) for w, owned in split.items()}
    campaign_rows = table[table["entity_type"] == "campaign"]
    seen = []
    for workspace, owned in mine.items():
        rows = _rows(_client(tmp_path / "serving", tmp_path / "access-split.sqlite3", split, workspace))
        expected = campaign_rows[[(p, a) in owned for p, a in zip(campaign_rows["platform"], campaign_rows["account_id"])]]
        assert {_key(r) for r in rows} == {_key(r) for r in expected.to_dict("records")}, workspace
        # never the other workspace's campaigns, never a platform total half of which is theirs
        assert all(r["entity_type"] == "campaign" and (r["platform"], r["account_id"]) in owned for r in rows)
        seen += [_key(r) for r in rows]
    assert sorted(seen) == sorted(_key(r) for r in campaign_rows.to_dict("records"))  # each campaign row: one owner

    # a workspace that owns every account reads every row once, the platforms' totals without an account
    everyone = {"brand": [tuple(a) for a in accounts.to_numpy()]}
    rows = _rows(_client(tmp_path / "serving", tmp_path / "access-all.sqlite3", everyone, "brand"))
    assert {_key(r) for r in rows} == {_key(r) for r in table.to_dict("records")}
    assert len(rows) == len(table)
    viral = [r for r in rows if r["kind"] == "viral_spike"]
    assert viral and all(r["account_id"] is None and r["observed"] > r["expected_high"] for r in viral)
    by_id = table.set_index(["series_id", "metric_date"])
    for r in rows:
        source = by_id.loc[(r["series_id"], pd.Timestamp(r["metric_date"]))]
        assert r["observed"] == round(float(source["observed"]), 2)
        assert r["expected_low"] == round(float(source["expected_low"]), 2)
        assert r["expected_high"] == round(float(source["expected_high"]), 2)
    # no forecasts yet: an empty answer, not an error
    assert _client(tmp_path / "serving", tmp_path / "access-all.sqlite3", everyone, "brand").get(
        "/v1/forecasts").json()["total"] == 0


def test_forecasts_name_each_campaigns_account(simulated):
    _, campaigns, platforms, _ = simulated
    series = pd.concat([campaign_series_days(campaigns), platform_series_days(platforms)])
    ids = series.drop_duplicates("series_id")
    forecasts = pd.DataFrame({c: ids[c] if c in ids else None for c in FORECAST_COLUMNS}).reset_index(drop=True)
    named = with_accounts(forecasts, campaigns)
    assert list(named.columns) == list(METRIC_FORECAST_COLUMNS)
    owner = dict(zip(zip(campaigns["platform"], campaigns["campaign_id"]), campaigns["account_id"]))
    for r in named.to_dict("records"):
        expected = owner[(r["platform"], r["campaign_id"])] if r["entity_type"] == "campaign" else None
        assert r["account_id"] == expected, r
    assert named["entity_type"].eq("platform").any() and named["account_id"].notna().any()


def test_the_snapshot_publishes_empty_series_files_before_their_assets_ran(tmp_path, monkeypatch):
    import test_served_account_grain as grain  # every served source table, one row each

    every_table = grain._source_tables

    def without_series(con, null_account_in=None):
        every_table(con, null_account_in)
        con.execute("drop table analysis.metric_forecasts")  # forecast_job never ran
        con.execute("drop table analysis.metric_anomalies")

    monkeypatch.setattr(grain, "_source_tables", without_series)
    result, serving = grain._publish(tmp_path)
    assert result.success
    metadata = result.asset_materializations_for_node("serving_snapshot")[0].metadata
    assert sorted(metadata["not_materialized_yet"].value) == ["analysis.metric_anomalies", "analysis.metric_forecasts"]
    forecasts = pd.read_parquet(serving / FORECASTS)
    assert len(forecasts) == 0 and list(forecasts.columns) == [*METRIC_FORECAST_COLUMNS, SERIES_ACCOUNTS]
    assert len(pd.read_parquet(serving / ANOMALIES)) == 0
    assert metadata[f"rows/{FORECASTS}"].value == 0
