"""The boost policy on simulator boosts: projected from the boosts assessed in the first half of a month, the
90% intervals of the incremental engagements of the boosts of the second half cover their planted truth (paid
engagements plus the simulator's organic spillover) at about their nominal rate; ROI rests on the tracked
conversion value per engagement, and says so when it falls back to the configured one; reruns give the same ids."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics_assets.defs.loop.boost_recommendations import boost_recommendations
from analytics_assets.defs.loop.proposals import PROPOSAL_COLUMNS, contract_violations
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from ml.boost_lift import ESTIMATED, ORGANIC_UNTRACKED, LiftConfig, estimate_boost_lift
from ml.boost_policy import (
    CONFIGURED,
    PROJECTION_COLUMNS,
    TRACKED,
    BoostPolicyConfig,
    boost_candidates,
    boost_responses,
    project_boosts,
    suggest_flights,
    value_per_engagement,
)

START = date(2026, 3, 1)
MARGIN_DAYS = 7  # comparables published up to a week either side of a scored boost
SCORED_DAYS = 12  # boosts of posts published on these days are scored: the first half teaches, the second tests
ENGAGEMENT_METRICS = ["likes", "comments", "shares", "clicks", "quotes", "saves"]
NO_TRACKING = pd.DataFrame(columns=["platform", "conversion_value_usd", "paid_engagements", "organic_engagements"])


@pytest.fixture(scope="module")
def scenario() -> dict:
    sim = PlatformSimulator(SimulatorConfig(seed=1, posts_per_day=600, boost_rate=0.2))
    end = START + timedelta(days=2 * MARGIN_DAYS + SCORED_DAYS - 1)
    snaps = sim.post_trajectories(START, end, platforms=("linkedin",))
    snaps["engagements"] = snaps[ENGAGEMENT_METRICS].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
    truth = sim.boost_truth(START, end)
    delivery = (
        sim.boosts(START, end + timedelta(days=4))
        .groupby("boost_id")
        .agg(spend_usd=("spend", "sum"), paid_engagements=("paid_engagements", "sum"))
        .reset_index()
    )
    b = truth.merge(delivery, on="boost_id", how="inner")
    boosts = pd.DataFrame(
        {
            "boost_id": b["boost_id"],
            "post_id": b["post_id"],
            "platform": b["platform"],
            "start_date": b["flight_start_at"].dt.date,
            "end_date": (b["flight_end_at"] - pd.Timedelta(days=1)).dt.date,
            "spend_usd": b["spend_usd"],
            "paid_engagements": b["paid_engagements"],
        }
    )
    scored = START + timedelta(days=MARGIN_DAYS), START + timedelta(days=MARGIN_DAYS + SCORED_DAYS - 1)
    in_scope = b["published_at"].dt.date.between(*scored).to_numpy()
    estimates, _ = estimate_boost_lift(snaps, boosts[in_scope], LiftConfig(), other_boosted_post_ids=boosts.loc[~in_scope, "post_id"])
    estimates = estimates.merge(b[["boost_id", "published_at"]].rename(columns={"published_at": "post_published_at"}), on="boost_id")
    posts = sim.posts(START, end)[["platform", "post_id", "media_type", "published_at"]]
    split = pd.Timestamp(START + timedelta(days=MARGIN_DAYS + SCORED_DAYS // 2))
    return {
        "b": b,
        "posts": posts,
        "taught": estimates[estimates["post_published_at"] < split],
        "tested": estimates[(estimates["post_published_at"] >= split) & (estimates["status"] == ESTIMATED)],
    }


def _tracked(value_usd: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"platform": ["linkedin", "linkedin"], "conversion_value_usd": [value_usd, 0.0], "paid_engagements": [60, 40], "organic_engagements": [100, 200]}
    )


def test_incremental_engagement_intervals_cover_the_planted_truth_of_later_boosts(scenario):
    responses = boost_responses(scenario["taught"], scenario["posts"])
    values = value_per_engagement(NO_TRACKING, responses["platform"])
    flights = suggest_flights(responses, values)
    tested = scenario["tested"].merge(scenario["posts"][["post_id", "media_type"]], on="post_id")
    # each later boost projected at its own budget from its engagements when the flight started
    candidates = tested.assign(account_id="acct", age_hours=0.0, current_engagements=tested["pre_boost_engagements"], budget_usd=tested["spend_usd"])
    projected = project_boosts(candidates, responses, values, flights)
    assert list(projected.columns) == PROJECTION_COLUMNS
    truth = scenario["b"].merge(tested[["boost_id", "evaluation_age_hours"]], on="boost_id")
    truth["true_incremental"] = truth["paid_engagements"] + PlatformSimulator.true_incremental_engagements_at(
        truth, truth["evaluation_age_hours"].astype(float)
    )
    m = projected.merge(truth[["post_id", "true_incremental"]], on="post_id")
    assert len(responses) >= 150 and len(m) >= 150
    covered = (m["incremental_engagements_low"] <= m["true_incremental"]) & (m["true_incremental"] <= m["incremental_engagements_high"])
    # nominal 90%; the past lifts are estimates themselves (their own noise widens the spread a little)
    assert 0.85 <= covered.mean() <= 0.99, covered.mean()
    assert abs(m["incremental_engagements"].sum() / m["true_incremental"].sum() - 1) < 0.2
    assert np.corrcoef(m["incremental_engagements"], m["true_incremental"])[0, 1] > 0.5
    # videos respond more to boosting (the planted media response): their projections use their own boosts
    assert (m["response_pool"] == "media").mean() > 0.5
    assert (projected["roi_low"] <= projected["roi"]).all() and (projected["roi"] <= projected["roi_high"]).all()


def test_roi_uses_tracked_conversion_value_and_the_fallback_says_so(scenario):
    responses = boost_responses(scenario["taught"], scenario["posts"])
    tracked = value_per_engagement(_tracked(800.0), responses["platform"]).iloc[0]
    assert tracked["value_source"] == TRACKED and tracked["value_per_engagement_usd"] == pytest.approx(800.0 / 400)
    fallback = value_per_engagement(NO_TRACKING, responses["platform"], BoostPolicyConfig(fallback_value_per_engagement_usd=3.0)).iloc[0]
    assert fallback["value_source"] == CONFIGURED and fallback["value_per_engagement_usd"] == 3.0
    # a boost whose organic side is unknown (an untracked post: organic engagements null) is no evidence of what
    # an engagement is worth, even filed under the same platform: its value over paid engagements alone overstates it
    untracked = pd.DataFrame(
        {"platform": ["linkedin"], "conversion_value_usd": [5000.0], "paid_engagements": [10], "organic_engagements": [float("nan")]}
    )
    with_untracked = value_per_engagement(pd.concat([_tracked(800.0), untracked]), responses["platform"]).iloc[0]
    assert with_untracked["value_per_engagement_usd"] == pytest.approx(800.0 / 400) and with_untracked["boosts_tracked"] == 1

    posts = scenario["posts"].assign(account_id="acct")
    as_of = posts["published_at"].max()
    latest = posts[["platform", "post_id"]].assign(engagements=50.0)
    boosted = scenario["b"]["post_id"]
    candidates = boost_candidates(posts, latest, boosted, as_of)
    assert len(candidates) and (candidates["age_hours"] <= 36).all() and not candidates["post_id"].isin(set(boosted)).any()
    for values, phrase in (
        (value_per_engagement(_tracked(800.0), responses["platform"]), "conversion value tracked"),
        (value_per_engagement(NO_TRACKING, responses["platform"]), "No conversion value is tracked"),
    ):
        flights = suggest_flights(responses, values)
        projected = project_boosts(candidates, responses, values, flights)
        value = values["value_per_engagement_usd"].iloc[0]
        expected_roi = (projected["incremental_engagements"] * value - projected["budget_usd"]) / projected["budget_usd"]
        assert np.allclose(projected["roi"], expected_roi)
        recs = boost_recommendations(projected, as_of)
        assert len(recs) and recs["evidence"].str.contains(phrase).all()
        assert not any(contract_violations(recs).values())
    # a richer value per engagement pays back more boosts
    rich = project_boosts(candidates, responses, value_per_engagement(_tracked(8000.0), responses["platform"]), flights)
    assert rich["recommended"].sum() >= projected["recommended"].sum()


def test_boost_recommendations_are_stable_contract_rows(scenario):
    responses = boost_responses(scenario["taught"], scenario["posts"])
    values = value_per_engagement(_tracked(800.0), responses["platform"])
    flights = suggest_flights(responses, values)
    assert flights.iloc[0]["duration_days"] == 3 and flights.iloc[0]["budget_usd"] % 5 == 0
    posts = scenario["posts"].assign(account_id=lambda d: "acct_" + (d.index % 3).astype(str))
    as_of = posts["published_at"].max()
    candidates = boost_candidates(posts, posts[["platform", "post_id"]].assign(engagements=80.0), [], as_of)
    first = boost_recommendations(project_boosts(candidates, responses, values, flights), as_of)
    again = boost_recommendations(project_boosts(candidates.iloc[::-1], responses, values, flights), as_of)
    assert list(first.columns) == list(PROPOSAL_COLUMNS)
    assert sorted(first["recommendation_id"]) == sorted(again["recommendation_id"])
    assert (first.groupby("account_id").size() <= 3).all()
    assert (first["kind"] == "boost").all() and (first["target_type"] == "post").all() and (first["propensity"] == 1.0).all()
    assert (first["expires_at"] == as_of + pd.Timedelta(hours=48)).all() and (first["baseline_value"] == 0).all()
    fields = json.loads(first.iloc[0]["action_fields"])
    assert {"budget_usd", "duration_days", "roi_low", "roi_high", "cost_per_incremental_engagement_usd", "value_source"} <= set(fields)
    # another budget is another recommendation
    dearer = boost_recommendations(project_boosts(candidates, responses, values, flights.assign(budget_usd=flights["budget_usd"] + 50)), as_of)
    assert not set(dearer["recommendation_id"]) & set(first["recommendation_id"])


def test_too_few_boosts_project_nothing_and_bad_input_says_what_is_missing(scenario):
    responses = boost_responses(scenario["taught"], scenario["posts"]).head(10)
    values = value_per_engagement(NO_TRACKING, responses["platform"])
    candidates = boost_candidates(scenario["posts"].assign(account_id="a"), scenario["posts"][["platform", "post_id"]].assign(engagements=5), [], scenario["posts"]["published_at"].max())
    assert project_boosts(candidates, responses, values, suggest_flights(responses, values)).empty
    with pytest.raises(ValueError, match="media_type"):
        project_boosts(candidates.drop(columns=["media_type"]), responses, values, suggest_flights(responses, values))
    with pytest.raises(ValueError):
        BoostPolicyConfig(min_boosts=5)


def test_candidates_take_their_engagements_from_the_latest_snapshot_even_when_posts_carry_a_column_of_that_name():
    posts = pd.DataFrame(
        {"platform": "linkedin", "post_id": ["p1", "p2", "p3"], "account_id": ["a", "a", None], "media_type": "video",
         "published_at": pd.to_datetime(["2026-03-10 08:00", "2026-03-08 08:00", "2026-03-10 08:00"]), "engagements": [1, 2, 3]}
    )
    latest = posts[["platform", "post_id"]].assign(engagements=[40, 50, 60])
    got = boost_candidates(posts, latest, [], pd.Timestamp("2026-03-10 20:00"))
    # p2 is 60 hours old (too late to boost), p3 has no account (no one to serve it to)
    assert got["post_id"].tolist() == ["p1"] and got["current_engagements"].tolist() == [40] and got["age_hours"].tolist() == [12.0]


def test_the_asset_proposes_boosts_from_the_warehouse_with_tracked_value(scenario, tmp_path):
    """boost_recommendation_proposals on a warehouse holding the assessed boosts, their tracked conversion value
    and the posts of the last day and a half: contract rows, checked, that say where their value comes from."""
    import dagster as dg
    import duckdb

    from analytics_assets.contracts.warehouse import BOOST_EFFECTIVENESS, BOOST_RECOMMENDATION_PROPOSALS
    from analytics_assets.defs.loop.boost_recommendations import boost_recommendation_proposals
    from analytics_assets.defs.resources import WarehouseResource

    posts = scenario["posts"].assign(account_id=lambda d: "acct_" + (d.index % 4).astype(str))
    as_of = posts["published_at"].max()
    dim_post = posts.assign(
        engagements=60, latest_snapshot_at=as_of, is_boosted=posts["post_id"].isin(set(scenario["b"]["post_id"]))
    )
    effectiveness = scenario["taught"].drop(columns=["post_published_at"])
    # a Meta boost of a Facebook post Cycle does not track (boost_effectiveness skips it: organic_untracked), with
    # a large conversion value: the policy neither learns from it nor targets its post
    untracked_row = {c: None for c in effectiveness.columns} | {
        "boost_id": "meta_b1", "post_id": "100_200", "platform": "meta_ads", "account_id": "act_42",
        "status": ORGANIC_UNTRACKED, "spend_usd": 40.0, "paid_engagements": 20.0,
        "flight_start_at": pd.Timestamp(as_of) - pd.Timedelta(days=3), "flight_end_at": pd.Timestamp(as_of),
    }
    # an assessed boost from before the response window (120 days ago), with a response no recent boost comes near:
    # the projections do not learn from it
    stale_row = effectiveness[effectiveness["status"] == ESTIMATED].iloc[0].to_dict() | {
        "boost_id": "stale_b1", "paid_engagements": 1e7,
        "flight_start_at": pd.Timestamp(as_of) - pd.Timedelta(days=120), "flight_end_at": pd.Timestamp(as_of) - pd.Timedelta(days=113),
    }
    effectiveness = pd.concat([effectiveness, pd.DataFrame([untracked_row, stale_row])], ignore_index=True)
    tracked = pd.concat([
        _tracked(800.0).assign(is_organic_tracked=True),
        pd.DataFrame({"platform": ["meta_ads"], "conversion_value_usd": [9000.0], "paid_engagements": [20],
                      "organic_engagements": [float("nan")], "is_organic_tracked": [False]}),
    ])
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema analysis")
    for table, frame in (("main.dim_post", dim_post), (BOOST_EFFECTIVENESS, effectiveness), ("main.fct_boost_organic_vs_paid", tracked)):
        con.register("_frame", frame)
        con.execute(f"create table {table} as select * from _frame")
        con.unregister("_frame")
    con.close()
    result = dg.materialize([boost_recommendation_proposals], resources={"warehouse": WarehouseResource(path=str(path))})
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed
    con = duckdb.connect(str(path), read_only=True)
    proposed = con.execute(f"select * from {BOOST_RECOMMENDATION_PROPOSALS}").df()
    con.close()
    assert len(proposed) and (proposed["kind"] == "boost").all() and proposed["evidence"].str.contains("conversion value tracked").all()
    assert not proposed["target_id"].isin(set(scenario["b"]["post_id"])).any()  # never a post boosted already
    assert "100_200" not in set(proposed["target_id"]) and not (proposed["platform"] == "meta_ads").any()
    (materialization,) = result.asset_materializations_for_node("boost_recommendation_proposals")
    assert materialization.metadata["assessed_boosts"].value == (effectiveness["status"] == ESTIMATED).sum() - 1
    assert proposed["expected_value"].max() < 1e5  # nothing of the stale boost's ten million paid engagements
    assert "meta_ads" not in materialization.metadata["value_per_engagement"].value
    assert (proposed.groupby("account_id").size() <= 3).all()
    assert (proposed["replaces_from"] == as_of).all() and (proposed["expires_at"] == as_of + pd.Timedelta(hours=48)).all()


def test_projections_computed_in_blocks_are_each_candidates_own(monkeypatch):
    """project_boosts projects a pool's candidates together, in blocks: any block size gives the figures of one
    candidate projected against its pool alone (the order statistics and the share that pays back)."""
    import ml.boost_policy as policy
    from ml.boost_lift import conformal_ranks

    rng = np.random.default_rng(8)
    n = 120
    spend, paid, lift, before = rng.uniform(20, 400, n), rng.uniform(0, 800, n), rng.normal(40, 30, n), rng.integers(0, 200, n)
    responses = pd.DataFrame({
        "boost_id": [f"b{i}" for i in range(n)], "platform": rng.choice(["linkedin", "x"], n), "media_type": rng.choice(["text", "video"], n, p=[0.8, 0.2]),
        "spend_usd": spend, "flight_days": 3, "paid_engagements": paid, "organic_lift": lift, "pre_boost_engagements": before.astype(float),
        "paid_per_dollar": paid / spend, "lift_per_engagement": lift / (before + 1.0),
        "incremental_engagements": paid + lift, "incremental_engagements_low": paid + lift - 20,
    })
    flights = pd.DataFrame({"platform": ["linkedin", "x"], "budget_usd": [100.0, 60.0], "duration_days": [5, 3],
                            "flight_basis": "boosts that paid back", "boosts_behind": [30, 30]})
    values = pd.DataFrame({"platform": ["linkedin"], "value_per_engagement_usd": [0.4], "value_source": [TRACKED]})
    candidates = pd.DataFrame({
        "platform": rng.choice(["linkedin", "x", "reddit"], 60), "account_id": rng.choice(["a", "b"], 60), "post_id": [f"p{i}" for i in range(60)],
        "media_type": rng.choice(["text", "video", "image"], 60), "published_at": pd.Timestamp("2026-05-01"), "age_hours": 12.0,
        "current_engagements": rng.integers(0, 500, 60), "budget_usd": np.where(rng.random(60) < 0.3, 250.0, np.nan),
    })
    whole = project_boosts(candidates, responses, values, flights)
    monkeypatch.setattr(policy, "_CELLS", 7)  # a block per candidate
    pd.testing.assert_frame_equal(project_boosts(candidates, responses, values, flights), whole)
    assert set(whole["platform"]) == {"linkedin", "x"}  # reddit has no past boosts
    for row in whole.itertuples():
        pool = responses[responses["platform"] == row.platform]
        if row.response_pool == "media":
            pool = pool[pool["media_type"] == row.media_type]
        projections = np.sort(row.budget_usd * pool["paid_per_dollar"] + (row.current_engagements + 1.0) * pool["lift_per_engagement"])
        lo, hi = conformal_ranks(len(pool), 0.90)
        assert (row.incremental_engagements_low, row.incremental_engagements_high) == (projections[lo - 1], projections[hi - 1])
        assert row.n_boosts == len(pool) and row.confidence == (projections * row.value_per_engagement_usd > row.budget_usd).mean()
        assert row.value_source == (TRACKED if row.platform == "linkedin" else CONFIGURED)
