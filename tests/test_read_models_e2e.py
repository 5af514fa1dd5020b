"""The read models of /v1 (insights, experiments, hook and content effectiveness) on the e2e fixture's simulated
days: each is served at the account grain its warehouse table gives it, the routes answer with the warehouse's
numbers, and an acknowledgement travels API -> the API's store -> sensor -> warehouse -> the served
``acknowledged_at``."""

from __future__ import annotations

import json

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from analytics_assets.contracts.serving import (
    ACCOUNT_EXPERIMENTS_TABLE,
    ACCOUNT_INSIGHTS_TABLE,
    CONTENT_PERFORMANCE,
    EXPERIMENTS,
    HOOK_SUCCESS,
    INSIGHTS,
)

pytestmark = pytest.mark.slow


def _client(home, scopes=("admin",)):
    from api.local import local_client

    return local_client(home.serving, home.root / "api", scopes=scopes)


def _walk(client, url: str) -> list[dict]:
    items, cursor = [], None
    while True:
        sep = "&" if "?" in url else "?"
        page = client.get(f"{url}{sep}limit=1000" + (f"&cursor={cursor}" if cursor else ""))
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            assert len(items) == body["total"]
            return items


def test_insights_are_served_once_per_account_of_their_scope(pipeline):
    home, _ = pipeline
    findings = home.query("select * from analysis.insights")
    served = home.query(f"select * from {ACCOUNT_INSIGHTS_TABLE}")
    accounts = home.query("select platform, account_id, channel_type from main.dim_account")
    assert len(findings) > 0 and served["insight_id"].is_unique
    assert served["insight_id"].str.fullmatch(r"ins_[0-9a-f]{24}").all()
    assert set(served["finding_id"]) == set(findings["finding_id"])  # every finding reaches some account
    listed = set(zip(accounts["platform"], accounts["account_id"]))
    assert set(zip(served["platform"], served["account_id"])) <= listed
    for finding_id, rows in served.groupby("finding_id"):
        scope = rows["scope"].iloc[0]
        owners = set(zip(rows["platform"], rows["account_id"]))
        if scope == "platform":  # every account of the finding's platform, none other
            platform = findings.loc[findings["finding_id"] == finding_id, "platform"].iloc[0]
            assert owners == {a for a in listed if a[0] == platform}, finding_id
        elif scope == "organic_accounts":
            assert owners == set(zip(*(accounts[accounts["channel_type"] == "organic"][c] for c in ("platform", "account_id"))))
        elif scope == "all_accounts":
            assert owners == listed
        elif scope == "account":
            assert len(owners) == 1
    # ranks run 1..n within each account
    for _, rows in served.groupby(["platform", "account_id"]):
        assert sorted(rows["rank"]) == list(range(1, len(rows) + 1))
    parquet = pd.read_parquet(home.serving / INSIGHTS)
    assert len(parquet) == len(served) and set(parquet["insight_id"]) == set(served["insight_id"])


def test_experiments_belong_to_the_accounts_that_boosted_during_them(pipeline):
    home, _ = pipeline
    results = home.query("select * from analysis.experiment_results")
    owned = home.query(f"select * from {ACCOUNT_EXPERIMENTS_TABLE}")
    flights = home.query(
        """select platform, account_id, cast(flight_start_at as date) s, cast(coalesce(flight_end_at, flight_start_at) as date) e
           from analysis.boost_effectiveness where flight_start_at is not null"""
    )
    assert len(results) > 0 and len(owned) > 0
    assert not owned.duplicated(["experiment_id", "platform", "account_id"]).any()
    for r in results.itertuples():
        expected = {(f.platform, f.account_id) for f in flights.itertuples() if f.s <= r.end_date and f.e >= r.start_date}
        got = set(zip(*(owned.loc[owned["experiment_id"] == r.experiment_id, c] for c in ("platform", "account_id"))))
        assert got == expected, r.experiment_id
    # every account's copy carries the experiment's call unchanged
    merged = owned.merge(results, on="experiment_id", suffixes=("", "_r"))
    for column in ("status", "p_value", "effect", "required_n_per_arm"):
        a, b = merged[column], merged[f"{column}_r"]
        assert ((a == b) | (a.isna() & b.isna())).all(), column


def test_account_grain_content_reconciles_with_the_platform_marts(pipeline):
    home, _ = pipeline
    account = home.query("select * from main.agg_account_content_performance_daily")
    platform = home.query("select * from main.agg_content_performance_daily")
    keys = ["metric_date", "platform", "dimension", "dimension_value"]
    summed = account.groupby(keys, as_index=False)[["posts_published", "posts_active", "impressions", "engagements"]].sum()
    merged = platform.merge(summed, on=keys, suffixes=("", "_acc"), validate="one_to_one")
    assert len(merged) == len(platform) == len(summed) > 0
    for column in ("posts_published", "posts_active", "impressions", "engagements"):
        assert (merged[column] == merged[f"{column}_acc"]).all(), column
    hooks = home.query("select * from main.agg_account_hook_success")
    overall = home.query("select hook_type, posts from main.agg_hook_success").set_index("hook_type")["posts"]
    assert (hooks.groupby("hook_type")["posts"].sum().sort_index() == overall.sort_index()).all()
    assert hooks.groupby(["platform", "account_id"]).ngroups > 4


def test_the_routes_answer_with_the_warehouse_numbers(pipeline):
    home, _ = pipeline
    client = _client(home)
    # hooks: every account's row, rounded like the other rates
    hooks = home.query("select * from main.agg_account_hook_success").set_index(["platform", "account_id", "hook_type"])
    items = _walk(client, "/v1/content/hooks")
    assert len(items) == len(hooks)
    for item in items:
        row = hooks.loc[(item["platform"], item["account_id"], item["hook_type"])]
        assert item["posts"] == row["posts"]
        assert item["mean_engagement_rate"] == round(row["mean_engagement_rate"], 4)
        assert (item["hook_rank"] is None) == pd.isna(row["hook_rank"])
    # content performance in a one-day window: the warehouse's rows of that day
    content = home.query("select * from main.agg_account_content_performance_daily")
    day = pd.Timestamp(content["metric_date"].max())
    items = _walk(client, f"/v1/content/performance?start={day.date()}&end={day.date()}&dimension=media_type")
    expected = content[(content["metric_date"] == day) & (content["dimension"] == "media_type")]
    assert len(items) == len(expected) > 0
    assert sum(i["impressions"] for i in items) == int(expected["impressions"].sum())
    # experiments: once each, with the accounts they ran on
    owned = home.query(f"select * from {ACCOUNT_EXPERIMENTS_TABLE}")
    items = _walk(client, "/v1/experiments")
    assert sorted(i["experiment_id"] for i in items) == sorted(owned["experiment_id"].unique())
    first = items[0]
    detail = client.get(f"/v1/experiments/{first['experiment_id']}").json()
    assert detail == first
    rows = owned[owned["experiment_id"] == first["experiment_id"]]
    assert {(a["platform"], a["account_id"]) for a in detail["accounts"]} == set(zip(rows["platform"], rows["account_id"]))
    assert [v["role"] for v in detail["variants"]] == ["control", "treatment"]
    assert detail["status"] == rows["status"].iloc[0]
    # insights: every account's, with the evidence as an object
    served = home.query(f"select * from {ACCOUNT_INSIGHTS_TABLE}").set_index("insight_id")
    items = _walk(client, "/v1/insights")
    assert {i["insight_id"] for i in items} == set(served.index)
    for item in items[:50]:
        row = served.loc[item["insight_id"]]
        assert (item["platform"], item["account_id"], item["rank"], item["title"]) == (
            row["platform"], row["account_id"], row["rank"], row["title"])
        assert item["evidence"] == json.loads(row["evidence"])
        if not pd.isna(row["effect"]):
            assert np.isclose(item["effect"], round(row["effect"], 4))


def test_an_acknowledgement_round_trips_into_the_served_insight(pipeline):
    """acknowledge through the API; the sensor loads it; account_insights and the snapshot follow; the served
    insight shows acknowledged_at from the warehouse."""
    home, _ = pipeline
    client = _client(home)
    insight = client.get("/v1/insights", params={"limit": 1}).json()["items"][0]
    assert insight["acknowledged_at"] is None
    url = f"/v1/insights/{insight['insight_id']}/acknowledge"
    assert client.post(url, json={"note": "x" * 501}).status_code == 422  # refused, nothing stored
    first = client.post(url, json={"note": "seen, scheduling accordingly"})
    assert first.status_code == 201, first.text
    again = client.post(url, json={})
    assert again.status_code == 200 and again.json() == first.json()
    # the API shows it at once, before any run
    assert client.get(f"/v1/insights/{insight['insight_id']}").json()["acknowledged_at"] == first.json()["acknowledged_at"]

    materialized = home.ingest_api_store("insight_acknowledgements_sensor")
    assert {"raw_insight_acknowledgements", "account_insights", "serving_snapshot"} <= materialized
    raw = home.query("select * from raw.raw_insight_acknowledgements")
    assert raw["insight_id"].tolist() == [insight["insight_id"]]
    assert raw["note"].tolist() == ["seen, scheduling accordingly"]
    parquet = pd.read_parquet(home.serving / INSIGHTS).set_index("insight_id")
    acknowledged = parquet["acknowledged_at"].dropna()
    assert acknowledged.index.tolist() == [insight["insight_id"]]
    assert acknowledged.iloc[0] == pd.Timestamp(first.json()["acknowledged_at"]).tz_convert(None)
    assert parquet.loc[insight["insight_id"], "acknowledgement_id"] == first.json()["acknowledgement_id"]
    # a second tick finds nothing new
    assert isinstance(home.tick_api_store_sensor("insight_acknowledgements_sensor"), dg.SkipReason)
    # an API over the new snapshot with an empty store of its own serves the warehouse's acknowledgement
    from api.local import local_client

    fresh = local_client(home.serving, home.root / "api-fresh", scopes=("read",))
    assert fresh.get(f"/v1/insights/{insight['insight_id']}").json()["acknowledged_at"] == first.json()["acknowledged_at"]


def test_the_served_read_models_carry_their_accounts(pipeline):
    home, _ = pipeline
    for name in (INSIGHTS, EXPERIMENTS, HOOK_SUCCESS, CONTENT_PERFORMANCE):
        frame = pd.read_parquet(home.serving / name)
        assert len(frame) > 0 and frame[["platform", "account_id"]].notna().all().all(), name
