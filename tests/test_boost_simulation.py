"""The simulator's planted boost effects, boost-tagged journeys and A/B tests are what ground_truth says."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy import stats

from analytics_assets.sources.parsing.loader import parse_day
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import ground_truth as gt
from analytics_assets.sources.simulator.core import boosts_started_for_posts_of, posts_published_on

DAY = date(2026, 5, 4)
METRICS = ["likes", "comments", "shares", "clicks", "quotes", "saves"]
SMALL = dict(seed=5, posts_per_day=200, journeys_per_day=60, ai_generations_per_day=10, boost_rate=0.3)


def _engagements(frame: pd.DataFrame) -> pd.Series:
    return frame[METRICS].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)


def test_boosted_posts_snapshots_carry_exactly_the_planted_organic_lift():
    lifted = PlatformSimulator(SimulatorConfig(**SMALL))
    flat = PlatformSimulator(SimulatorConfig(**SMALL, boost_lift_scale=0.0))
    a = lifted.post_trajectories(DAY, DAY + timedelta(days=1), platforms=("linkedin",))
    b = flat.post_trajectories(DAY, DAY + timedelta(days=1), platforms=("linkedin",))
    both = a.assign(eng=_engagements(a), imp=a["impressions"]).merge(
        b.assign(eng=_engagements(b), imp=b["impressions"])[["post_id", "age_hours", "eng", "imp"]],
        on=["post_id", "age_hours"],
        suffixes=("", "_flat"),
    )
    truth = lifted.boost_truth(DAY, DAY + timedelta(days=1))
    assert len(truth) >= 20 and (truth["spillover_lift"] > 0).all()
    assert (flat.boost_truth(DAY, DAY + timedelta(days=1))["spillover_lift"] == 0).all()
    boosted = both[both["post_id"].isin(truth["post_id"])]
    unboosted = both[~both["post_id"].isin(truth["post_id"])]
    assert len(unboosted) > 1000 and (unboosted["eng"] == unboosted["eng_flat"]).all()
    rows = boosted[["post_id", "age_hours", "eng", "eng_flat", "imp", "imp_flat"]].merge(truth, on="post_id")
    added = PlatformSimulator.true_incremental_engagements_at(rows, rows["age_hours"])
    assert np.array_equal(rows["eng"] - rows["eng_flat"], added)
    before = rows["age_hours"] <= rows["flight_start_age_hours"]
    assert (added[before.to_numpy()] == 0).all() and (rows.loc[before, "imp"] == rows.loc[before, "imp_flat"]).all()
    after = rows["age_hours"] >= rows["flight_end_age_hours"]
    assert (added[after.to_numpy()] > 0).mean() > 0.9  # the post keeps what the boost added
    assert (rows.loc[~before, "imp"] >= rows.loc[~before, "imp_flat"]).all()  # reach grows with the lift
    # the daily snapshots the ingest polls are the same numbers
    day = lifted.day(DAY + timedelta(days=1))
    li = parse_day(day)["raw_social_post_snapshots"].rows.query("platform == 'linkedin'")
    li = li[li["post_id"].isin(set(a["post_id"]))]
    polled = li.assign(eng=_engagements(li)).merge(a.assign(eng_sim=_engagements(a)), on=["post_id", "snapshot_at"])
    assert len(polled) == len(li) > 500 and (polled["eng"] == polled["eng_sim"]).all()


def test_planted_lifts_follow_their_documented_distribution():
    cfg = SimulatorConfig(seed=9, posts_per_day=400, boost_rate=0.5)
    days = [DAY + timedelta(days=k) for k in range(10)]
    boosts = pd.concat([boosts_started_for_posts_of(cfg, d) for d in days], ignore_index=True)
    media = pd.concat([posts_published_on(cfg, d) for d in days])[["post_id", "media_type"]]
    boosts = boosts.merge(media, on="post_id", how="left")
    assert boosts["media_type"].notna().all()
    # the post's media response scales the draw (what insights must find); the draw itself is log-normal
    lifts = boosts["spillover_lift"] / boosts["media_type"].map(gt.BOOST_MEDIA_RESPONSE)
    logs = np.log(lifts)
    spill = gt.BOOST_SPILLOVER
    assert len(lifts) > 500
    assert abs(np.median(lifts) / spill.median_lift - 1) < 0.1
    assert abs(logs.std() / spill.sigma - 1) < 0.1
    # the lift draw comes after every other draw of a boost: switching it off changes nothing else
    off = SimulatorConfig(seed=9, posts_per_day=400, boost_rate=0.5, boost_lift_scale=0.0)
    a = boosts_started_for_posts_of(cfg, DAY).drop(columns="spillover_lift")
    b = boosts_started_for_posts_of(off, DAY).drop(columns="spillover_lift")
    pd.testing.assert_frame_equal(a, b)


def test_journeys_name_the_boosts_and_posts_they_came_from():
    cfg = SimulatorConfig(seed=5, posts_per_day=240, journeys_per_day=400)
    sim = PlatformSimulator(cfg)
    t = sim.day(DAY).touchpoints
    at = pd.to_datetime(t["timestamp"]).dt.tz_convert(None)
    li_paid = (t["utm_source"] == "linkedin") & (t["utm_medium"] == "paid_social")
    li_organic = (t["utm_source"] == "linkedin") & (t["utm_medium"] == "social")
    assert t.loc[~(li_paid | li_organic), "utm_content"].isna().all()
    # paid: boosted clicks name an active boost's campaign (and its post); the others stay generic
    boosts = pd.concat(
        [boosts_started_for_posts_of(cfg, DAY - timedelta(days=k)) for k in range(1, 20)], ignore_index=True
    )
    from_boost = li_paid & (t["utm_campaign"] != "linkedin_ads")
    tagged = t[from_boost].assign(day=at[from_boost].dt.date).merge(boosts, left_on="utm_campaign", right_on="campaign_id")
    assert len(tagged) == from_boost.sum() > 20
    assert ((tagged["start_date"] <= tagged["day"]) & (tagged["day"] <= tagged["end_date"])).all()
    assert (tagged["utm_content"] == tagged["post_id"]).all()
    n_paid = int(li_paid.sum())
    lo, hi = stats.binom.ppf([0.0005, 0.9995], n_paid, gt.BOOST_PAID_TOUCH_SHARE)
    assert lo <= from_boost.sum() <= hi
    # organic: a LinkedIn post of the 3 days before the touch, or the boosted post whose ad the journey met
    posts = pd.concat([posts_published_on(cfg, DAY - timedelta(days=k)) for k in range(20)])
    published = posts.set_index("post_id")["published_at"]
    org = t[li_organic].assign(at=at[li_organic])
    assert org["utm_content"].notna().all()
    age = org["at"] - published.reindex(org["utm_content"]).to_numpy()
    seen_ad = set(zip(t.loc[from_boost, "journey_id"], t.loc[from_boost, "utm_content"]))
    follow_up = [(j, c) in seen_ad for j, c in zip(org["journey_id"], org["utm_content"])]
    recent = (age >= pd.Timedelta(0)) & (age <= pd.Timedelta(hours=72))
    assert (recent | np.array(follow_up)).all()
    assert sum(follow_up) > 5  # boosts' organic/paid overlap exists


def test_each_factor_runs_back_to_back_experiments_half_of_them_null():
    sim = PlatformSimulator(SimulatorConfig(seed=2))
    experiments = sim.experiments(date(2024, 1, 1), date(2025, 12, 31))
    assert experiments.groupby("factor").size().between(52, 54).all()
    days = (pd.to_datetime(experiments["end_date"]) - pd.to_datetime(experiments["start_date"])).dt.days + 1
    assert (days == gt.EXPERIMENT_DAYS).all()
    null = experiments["true_effect"] == 0
    lo, hi = stats.binom.ppf([0.0005, 0.9995], len(experiments), gt.EXPERIMENT_NULL_SHARE) / len(experiments)
    assert lo <= null.mean() <= hi
    real = experiments[~null]
    mde = real["design"].map(lambda d: d.mde)
    assert ((real["true_effect"] / mde).between(*gt.EXPERIMENT_DESIGNS[0].effect_in_mdes)).all()


def test_experiment_records_hold_the_planted_effect_and_reject_bad_payloads():
    cfg = SimulatorConfig(seed=2, experiment_units_per_day=2000, malformed_rate=0.01)
    sim = PlatformSimulator(cfg)
    day = sim.day(DAY)
    rows = parse_day(day)["raw_experiment_observations"]
    assert rows.quarantined == (day.malformed["entity"] == "experiment_observations").sum() > 0
    assert rows.quarantine["reason"].str.contains("outcome.value|variant.role").all()
    obs = rows.rows
    assert (obs.groupby(["experiment_id", "variant_role"]).size() > 1900).all()
    assert obs.loc[obs["metric_kind"] == "binary", "value"].isin((0.0, 1.0)).all()
    truth = sim.experiments(DAY, DAY).set_index("experiment_id")["true_effect"]
    means = obs.groupby(["experiment_id", "variant_role"])["value"].mean().unstack()
    diff = means["treatment"] - means["control"]
    design = {d.factor: d for d in gt.EXPERIMENT_DESIGNS}
    for exp_id, d in diff.items():
        spec = design[obs.loc[obs["experiment_id"] == exp_id, "factor"].iloc[0]]
        se = spec.baseline_sd * np.sqrt(2 / 2000)
        assert abs(d - truth[exp_id]) < 4.5 * se, exp_id
