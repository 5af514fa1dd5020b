"""The closed loop through the real graph, on the e2e fixture's three simulated days: the posting policy plans
every account's next week with stable ids, the API serves the plan, a user's decisions travel API -> the API's
store -> sensor -> warehouse -> the served status, and reruns duplicate nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from analytics_assets.contracts.recommendations import RECOMMENDATION_COLUMNS
from analytics_assets.sources.simulator import ground_truth as gt
from cycle_testing import E2E_END

pytestmark = pytest.mark.slow

PLAN_START = datetime.combine(E2E_END + timedelta(days=1), datetime.min.time())
# the API's clock for these tests: the first planned day, before any of its slots has expired
CLOCK = PLAN_START


def _recommendations(home, kinds=("posting_slot", "exploration")) -> pd.DataFrame:
    listed = ", ".join(f"'{k}'" for k in kinds)
    return home.query(f"select * from ml.ml_recommendations where kind in ({listed}) order by recommendation_id")


def _client(home, scopes=("admin",)):
    from api.local import local_client

    return local_client(home.serving, home.root / "api", scopes=scopes, clock=lambda: CLOCK)


def test_the_policy_plans_every_account_with_promises_and_propensities(pipeline):
    home, _ = pipeline
    recs = _recommendations(home)
    assert list(recs.columns) == list(RECOMMENDATION_COLUMNS)
    assert recs["recommendation_id"].is_unique and recs["recommendation_id"].str.fullmatch(r"rec_[0-9a-f]{24}").all()
    # every organic account that posted gets a plan for each of the next 7 days
    accounts = home.query(
        "select distinct platform, account_id from main.dim_post where account_id is not null"
    )
    planned = recs.assign(day=recs["slot_start"].dt.date)[["platform", "account_id", "day"]].drop_duplicates()
    assert len(planned) == len(accounts) * 7
    assert set(recs["slot_start"].dt.date) == {(PLAN_START + timedelta(days=k)).date() for k in range(7)}
    assert ((recs["expected_low"] <= recs["expected_value"]) & (recs["expected_value"] <= recs["expected_high"])).all()
    assert recs["propensity"].between(0, 1, inclusive="right").all() and recs["confidence"].between(0, 1).all()
    assert (recs["expires_at"] == recs["slot_start"] + pd.Timedelta(hours=1)).all()
    assert recs["evidence"].str.contains("holdout RMSE").all() and recs["superseded_at"].isna().all()
    # about 15% of the posts explore (Thompson samples); the rest take each weekday's best hour
    explored = (recs["kind"] == "exploration").mean()
    assert abs(explored - 0.15) < 4 * np.sqrt(0.15 * 0.85 / len(recs)), explored
    assert set(recs.loc[recs["kind"] == "exploration", "policy"]) == {"thompson"}
    greedy = recs[recs["kind"] == "posting_slot"]
    assert (greedy["propensity"] >= 0.85).all()
    # the greedy hours are the planted peaks (within an hour: three days of data) and agree with the insights
    hours = greedy.assign(hour=greedy["slot_start"].dt.hour).groupby("platform")["hour"].agg(lambda h: h.mode()[0])
    for platform, hour in hours.items():
        d = abs(hour - gt.strongest_posting_hour(platform)) % 24
        assert min(d, 24 - d) <= 1, (platform, hour)
    best_hours = home.query("select platform, publish_hour from ml.posting_hour_recommendations where rank = 1")
    insights = home.query("select subject from analysis.insights where category = 'posting_time' and effect > 0")
    for row in best_hours.itertuples():
        assert f"{row.platform} posts at {row.publish_hour:02d}:00 UTC" in set(insights["subject"])
    fields = json.loads(greedy.iloc[0]["action_fields"])
    assert fields["publish_hour"] == greedy.iloc[0]["slot_start"].hour


def test_rerunning_the_policy_makes_the_same_ids_and_keeps_every_promise(pipeline):
    home, _ = pipeline
    before = _recommendations(home)
    keys = [dg.AssetKey(k) for k in ("ml_posting_slots", "posting_hour_recommendations", "ml_recommendations")]
    result = home.defs().resolve_implicit_global_asset_job_def().execute_in_process(
        instance=home.instance, asset_selection=keys
    )
    assert result.success
    after = _recommendations(home)
    meta = result.asset_materializations_for_node("posting_policy")[-1].metadata
    assert meta["created"].value == 0 and meta["superseded"].value == 0
    assert meta["confirmed"].value == len(before)
    # the content and boost proposals are merged again too: nothing new, nothing dropped
    for kind, merged in meta["other_kinds"].value.items():
        assert merged == "no proposals yet" or (merged["created"] == 0 and merged["superseded"] == 0), (kind, merged)
    promise = [c for c in RECOMMENDATION_COLUMNS if c not in ("last_generated_at",)]
    pd.testing.assert_frame_equal(before[promise], after[promise])
    assert (after["last_generated_at"] > before["last_generated_at"]).all()


def test_served_plan_and_decisions_round_trip_into_the_warehouse(pipeline):
    """apply and dismiss through the API; the sensor loads the decisions; the loop models and the snapshot
    follow; the served status (and the warehouse's) is the user's decision."""
    home, _ = pipeline
    client = _client(home)
    listed = client.get("/v1/recommendations", params={"status": "open", "limit": 1000})
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert items and {i["status"] for i in items} == {"open"}
    to_apply, to_dismiss = items[0], items[1]

    applied = client.post(
        f"/v1/recommendations/{to_apply['recommendation_id']}/apply",
        json={"applied_post_id": "post-123", "reason": "scheduled it"},
    )
    assert applied.status_code == 201, applied.text
    dismissed = client.post(f"/v1/recommendations/{to_dismiss['recommendation_id']}/dismiss", json={"reason": "holiday"})
    assert dismissed.status_code == 201, dismissed.text
    # the API shows the decisions at once, before any run
    now = client.get(f"/v1/recommendations/{to_apply['recommendation_id']}").json()
    assert now["status"] == "applied" and now["applied_post_id"] == "post-123"

    # the sensor sees the stored decisions and requests a load; its job carries them to the served snapshot
    materialized = home.ingest_api_store("recommendation_feedback_sensor")
    assert {"raw_recommendation_feedback", "stg_recommendation_feedback", "fct_recommendations", "serving_snapshot"} <= materialized

    served = home.query(
        "select recommendation_id, status, applied_post_id from main.fct_recommendations where status in ('applied', 'dismissed')"
    ).set_index("recommendation_id")
    assert served.loc[to_apply["recommendation_id"], "status"] == "applied"
    assert served.loc[to_apply["recommendation_id"], "applied_post_id"] == "post-123"
    assert served.loc[to_dismiss["recommendation_id"], "status"] == "dismissed"
    parquet = pd.read_parquet(home.serving / "recommendations.parquet").set_index("recommendation_id")
    assert parquet.loc[to_apply["recommendation_id"], "status"] == "applied"
    assert parquet.loc[to_dismiss["recommendation_id"], "status"] == "dismissed"
    outcomes = home.query("select * from main.fct_recommendation_outcomes")
    assert outcomes["recommendation_id"].tolist() == [to_apply["recommendation_id"]]
    assert outcomes["outcome_status"].tolist() == ["awaiting_data"]  # post-123 is not in the warehouse
    # a repeated apply changes nothing; the other decision is refused
    again = client.post(f"/v1/recommendations/{to_apply['recommendation_id']}/apply", json={})
    assert again.status_code == 200 and again.json()["feedback_id"] == applied.json()["feedback_id"]
    assert client.post(f"/v1/recommendations/{to_apply['recommendation_id']}/dismiss", json={}).status_code == 409


def test_content_and_boost_recommendations_share_the_table_the_api_and_the_outcomes(pipeline):
    """The content and boost kinds: computed from the warehouse into their proposal tables (checked against the
    contract), merged into ml.ml_recommendations, served with a working kind filter, and an applied content
    recommendation gets an outcome row against its promise."""
    home, result = pipeline
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
        if e.asset_key.to_user_string() in ("content_recommendation_proposals", "boost_recommendation_proposals", "ml_recommendations")
    }
    assert checks == {
        ("content_recommendation_proposals", "every_proposal_passes_the_contract"): True,
        ("boost_recommendation_proposals", "every_proposal_passes_the_contract"): True,
        ("ml_recommendations", "current_recommendations_pass_the_contract"): True,
    }
    content = _recommendations(home, ("content",))
    assert len(content) and list(content.columns) == list(RECOMMENDATION_COLUMNS)
    accounts = home.query("select distinct platform, account_id from main.dim_post where account_id is not null")
    assert set(zip(content["platform"], content["account_id"])) <= set(zip(accounts["platform"], accounts["account_id"]))
    assert ((content["expected_low"] <= content["expected_value"]) & (content["expected_value"] <= content["expected_high"])).all()
    assert (content["propensity"] == 1.0).all() and (content["policy"] == "ranked").all() and content["slot_start"].isna().all()
    assert (content["expires_at"] == PLAN_START + timedelta(days=7)).all() and content["evidence"].str.contains("OLS").all()
    fields = content["action_fields"].map(json.loads)
    assert (content["target_id"] == content["platform"] + ":" + content["account_id"] + ":" + fields.map(lambda f: f"{f['factor']}={f['level']}")).all()
    # the best recommended hook of each platform is one the simulator plants among the strongest
    hooks = content[fields.map(lambda f: f["factor"] == "hook_type" and f["rank"] == 1)]
    assert len(hooks) and hooks["target_id"].str.split("=").str[-1].map(gt.HOOK_EFFECTS).min() >= 0.2
    # boosts: three days cannot assess the 19 past boosts a projection needs; whatever is proposed keeps the contract
    boosts = _recommendations(home, ("boost",))
    assert boosts.empty or ((boosts["target_type"] == "post") & (boosts["propensity"] == 1.0)).all()

    client = _client(home)
    listed = client.get("/v1/recommendations", params={"kind": "content", "status": "open", "limit": 1000})
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    # the API's clock is the first planned day: every content recommendation is open then, but those decided on
    decided = set(home.query("select recommendation_id from main.fct_recommendations where status in ('applied', 'dismissed')")["recommendation_id"])
    assert {i["kind"] for i in items} == {"content"} and len(items) == len(set(content["recommendation_id"]) - decided)
    assert client.get("/v1/recommendations", params={"kind": "nonsense"}).status_code == 422

    # apply one with the oldest post of its account (a week old already: published before the three days, still
    # tracked): its outcome is measured at once, against the promise
    rec = content.iloc[0]
    post_row = home.query(
        """select * from main.dim_post where platform = ? and account_id = ? and engagement_score is not null
           order by post_age_hours desc, post_id limit 1""",
        [rec["platform"], rec["account_id"]],
    ).iloc[0]
    post = post_row["post_id"]
    assert post_row["post_age_hours"] >= 162
    applied = client.post(f"/v1/recommendations/{rec['recommendation_id']}/apply", json={"applied_post_id": post})
    assert applied.status_code == 201, applied.text
    home.ingest_api_store("recommendation_feedback_sensor")
    outcome = home.query("select * from main.fct_recommendation_outcomes where recommendation_id = ?", [rec["recommendation_id"]])
    assert len(outcome) == 1 and outcome["kind"].iloc[0] == "content" and outcome["outcome_post_id"].iloc[0] == post
    o = outcome.iloc[0]
    assert o["outcome_status"] == "measured" and o["realized_value"] == post_row["engagement_score"]
    assert (o["expected_low"], o["expected_value"], o["expected_high"]) == (rec["expected_low"], rec["expected_value"], rec["expected_high"])
    assert o["inside_interval"] == (rec["expected_low"] <= post_row["engagement_score"] <= rec["expected_high"])
    factor, level = rec["target_id"].split(":")[-1].split("=")
    assert o["used_recommended_content"] == (post_row[factor] == level)
    performance = home.query("select * from main.agg_recommendation_performance where kind = 'content'")
    assert performance["applied_count"].sum() == 1 and performance["recommendations"].sum() == len(content)
    assert performance["measured_count"].sum() == 1 and performance["interval_coverage"].dropna().tolist() == [float(o["inside_interval"])]
