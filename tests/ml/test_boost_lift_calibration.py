"""Boost lift estimates against the simulator's planted organic spillover.

The simulator boosts LinkedIn posts at random and multiplies each boosted post's organic growth during
its flight by 1 + lift (ground_truth.BoostSpillover), so every boost's true incremental engagements are
known. Over a few hundred boosts the 90% intervals must cover the truth about 90% of the time, and with
the lift switched off (boost_lift_scale=0) fewer than 10% of the boosts may be called significant.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from ml.boost_lift import (
    ESTIMATED,
    NO_FLIGHT_DATA,
    NO_PRE_BOOST_HISTORY,
    TOO_FEW_COMPARABLES,
    LiftConfig,
    conformal_ranks,
    effectiveness_score,
    engagement_curves,
    estimate_boost_lift,
)

START = date(2026, 3, 1)
BOOST_DAYS = 8  # boosts of posts published on these days are scored...
MARGIN_DAYS = 7  # ...against comparables published up to a week either side
SIM = dict(seed=1, posts_per_day=800, boost_rate=0.2)
ENGAGEMENT_METRICS = ["likes", "comments", "shares", "clicks", "quotes", "saves"]


def _scenario(lift_scale: float) -> pd.DataFrame:
    """Every poll of a month of LinkedIn posts, every boost, the estimates joined to the truth."""
    sim = PlatformSimulator(SimulatorConfig(**SIM, boost_lift_scale=lift_scale))
    end = START + timedelta(days=2 * MARGIN_DAYS + BOOST_DAYS - 1)
    snaps = sim.post_trajectories(START, end, platforms=("linkedin",))
    snaps["engagements"] = snaps[ENGAGEMENT_METRICS].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
    truth = sim.boost_truth(START, end)
    boosts = pd.DataFrame(
        {
            "boost_id": truth["boost_id"],
            "post_id": truth["post_id"],
            "platform": truth["platform"],
            "start_date": truth["flight_start_at"].dt.date,
            "end_date": (truth["flight_end_at"] - pd.Timedelta(days=1)).dt.date,
            "spend_usd": 200.0,
            "paid_engagements": 50,
        }
    )
    scored = START + timedelta(days=MARGIN_DAYS), START + timedelta(days=MARGIN_DAYS + BOOST_DAYS - 1)
    in_scope = truth["published_at"].dt.date.between(*scored).to_numpy()
    estimates, _ = estimate_boost_lift(
        snaps, boosts[in_scope], LiftConfig(), other_boosted_post_ids=boosts.loc[~in_scope, "post_id"]
    )
    truth = truth[in_scope].drop(columns=["post_id", "platform", "published_at", "flight_start_at", "flight_end_at"])
    out = estimates.merge(truth, on="boost_id", how="inner")
    out["true_lift"] = PlatformSimulator.true_incremental_engagements_at(out, out["evaluation_age_hours"].astype(float))
    return out


@pytest.fixture(scope="module")
def with_lift() -> pd.DataFrame:
    return _scenario(1.0)


@pytest.fixture(scope="module")
def without_lift() -> pd.DataFrame:
    return _scenario(0.0)


def _coverage_bounds(n: int, level: float = 0.90) -> tuple[float, float]:
    """Central 99.9% range of the share of n intervals covering the truth if they cover it at ``level``."""
    lo, hi = stats.binom.ppf([0.0005, 0.9995], n, level)
    return lo / n, hi / n


def test_90_percent_intervals_cover_the_planted_lift_about_90_percent_of_the_time(with_lift):
    est = with_lift[with_lift["status"] == ESTIMATED]
    # only boosts of posts published after 22:00 have no pre-boost snapshot (first poll at 2 hours)
    assert len(est) >= 300 and len(est) / len(with_lift) > 0.85
    assert set(with_lift["status"]) <= {ESTIMATED, NO_PRE_BOOST_HISTORY}
    assert (est["true_lift"] > 0).all()
    covered = (est["organic_lift_low"] <= est["true_lift"]) & (est["true_lift"] <= est["organic_lift_high"])
    lo, hi = _coverage_bounds(len(est))
    assert lo <= covered.mean() <= hi, (covered.mean(), lo, hi)
    # the intervals are informative, not just wide: most planted lifts are detected...
    assert est["significant"].mean() > 0.4
    # ...and the estimates track the truth, without a bias that matters next to the total
    assert np.corrcoef(est["organic_lift"], est["true_lift"])[0, 1] > 0.8
    assert abs(est["organic_lift"].sum() / est["true_lift"].sum() - 1) < 0.1


def test_without_a_planted_lift_fewer_than_10_percent_of_boosts_are_called_significant(without_lift, with_lift):
    est = without_lift[without_lift["status"] == ESTIMATED]
    assert len(est) >= 300 and (est["true_lift"] == 0).all()
    # significant = the 90% interval lies above 0: a one-sided 5% test, so about 5% expected
    assert est["significant"].mean() < 0.10
    covered = (est["organic_lift_low"] <= 0) & (0 <= est["organic_lift_high"])
    lo, hi = _coverage_bounds(len(est))
    assert lo <= covered.mean() <= hi
    # same posts, same comparables: switching the lift on moves every estimate by about its true lift
    both = with_lift.merge(without_lift, on="boost_id", suffixes=("", "_null"))
    both = both[both["status"] == ESTIMATED]
    shift = both["organic_lift"] - both["organic_lift_null"]
    assert np.allclose(shift, both["true_lift"], atol=2.5)


def test_counterfactual_economics_and_score_follow_their_documented_formulas(with_lift):
    est = with_lift[with_lift["status"] == ESTIMATED]
    value = LiftConfig().value_per_engagement_usd
    incremental = est["paid_engagements"] + est["organic_lift"]
    assert np.allclose(est["incremental_engagements"], incremental)
    assert np.allclose(est["roi"], (incremental * value - est["spend_usd"]) / est["spend_usd"])
    positive = incremental > 0
    assert np.allclose(est.loc[positive, "cost_per_incremental_engagement_usd"], est["spend_usd"][positive] / incremental[positive])
    x = np.maximum(0, (est["paid_engagements"] + est["organic_lift_low"]) * value / est["spend_usd"])
    assert np.allclose(est["effectiveness_score"], 100 * x / (1 + x))
    assert est["effectiveness_score"].between(0, 100).all()
    assert (est["organic_lift_low"] <= est["organic_lift"]).all() and (est["organic_lift"] <= est["organic_lift_high"]).all()
    assert (est["significant"] == (est["organic_lift_low"] > 0)).all()


def test_score_and_ranks_edge_cases():
    assert effectiveness_score(0.0, 100.0) == 0
    assert effectiveness_score(100.0, 100.0) == pytest.approx(50)
    assert effectiveness_score(300.0, 100.0) == pytest.approx(75)
    assert effectiveness_score(-50.0, 100.0) == 0  # a lower bound below zero value scores 0, never negative
    assert np.isnan(effectiveness_score(10.0, 0.0))
    assert conformal_ranks(39, 0.90) == (2, 38)
    assert conformal_ranks(19, 0.90) == (1, 19)
    with pytest.raises(ValueError):
        conformal_ranks(10, 0.90)
    with pytest.raises(ValueError):
        LiftConfig(min_comparables=10)


def test_curves_interpolate_between_polls_and_leave_unseen_ages_empty():
    t0 = pd.Timestamp("2026-03-01 10:00")
    snaps = pd.DataFrame(
        {
            "platform": "linkedin",
            "post_id": ["a", "a", "b", "b"],
            "published_at": t0,
            "snapshot_at": [t0 + pd.Timedelta(hours=h) for h in (2, 6, 30, 36)],
            "engagements": [10, 30, 100, 112],
        }
    )
    curves = engagement_curves(snaps, horizon_hours=40)
    a = curves.values[curves.posts.index[curves.posts["post_id"] == "a"][0]]
    assert a[0] == 0 and a[1] == 5 and a[2] == 10 and a[4] == 20 and a[6] == 30
    assert np.isnan(a[7:]).all()  # not observed after its last poll
    b = curves.values[curves.posts.index[curves.posts["post_id"] == "b"][0]]
    assert np.isnan(b[:30]).all()  # first seen at 30 hours: its early trajectory is unknown
    assert b[30] == 100 and b[33] == 106 and b[36] == 112


def test_boosts_without_enough_data_say_why_instead_of_guessing():
    t0 = pd.Timestamp("2026-03-01 10:00")
    hours = np.array([2, 4, 6, 8, 10, 12, 14, 16])
    posts = []
    for k in range(25):
        posts.append(
            pd.DataFrame(
                {
                    "platform": "linkedin",
                    "post_id": f"p{k}",
                    "published_at": t0,
                    "snapshot_at": t0 + pd.to_timedelta(hours, unit="h"),
                    "engagements": (hours * (k + 1)),
                }
            )
        )
    late = pd.DataFrame(
        {"platform": "linkedin", "post_id": "late", "published_at": t0, "snapshot_at": [t0 + pd.Timedelta(hours=15)], "engagements": [5]}
    )
    snaps = pd.concat(posts + [late], ignore_index=True)
    boost = dict(platform="linkedin", spend_usd=10.0, paid_engagements=1)
    boosts = pd.DataFrame(
        [
            # flight from midnight, 14 h after publication: last pre-boost poll at 12 h, evaluated at 16 h
            {**boost, "boost_id": "b_ok", "post_id": "p0", "start_date": date(2026, 3, 2), "end_date": date(2026, 3, 4)},
            {**boost, "boost_id": "b_late", "post_id": "late", "start_date": date(2026, 3, 2), "end_date": date(2026, 3, 4)},
            {**boost, "boost_id": "b_future", "post_id": "p1", "start_date": date(2026, 3, 5), "end_date": date(2026, 3, 7)},
            {**boost, "boost_id": "b_unknown", "post_id": "nope", "start_date": date(2026, 3, 2), "end_date": date(2026, 3, 4)},
        ]
    )
    est, trajectory = estimate_boost_lift(snaps, boosts, LiftConfig())
    status = dict(zip(est["boost_id"], est["status"]))
    # 23 unboosted posts remain as comparables (p0, p1 and the late post are boosted)
    assert status == {
        "b_ok": ESTIMATED,
        "b_late": NO_PRE_BOOST_HISTORY,
        "b_future": NO_FLIGHT_DATA,
        "b_unknown": NO_PRE_BOOST_HISTORY,
    }
    ok = est.set_index("boost_id").loc["b_ok"]
    assert ok["n_comparables"] == 23 and ok["pre_boost_age_hours"] == 12 and ok["evaluation_age_hours"] == 16
    assert set(trajectory["boost_id"]) == {"b_ok"}
    assert list(trajectory["age_hours"]) == [12, 14, 16]
    assert trajectory["in_flight"].tolist() == [False, True, True]
    few = estimate_boost_lift(snaps[snaps["post_id"].isin(["p0", "p2", "p3"])], boosts.iloc[:1], LiftConfig())[0]
    assert few["status"].tolist() == [TOO_FEW_COMPARABLES]


def test_insights_find_the_planted_boost_response_by_media_and_nothing_about_flight_days(with_lift):
    """The simulator makes videos and carousels respond more to boosting (ground_truth.BOOST_MEDIA_RESPONSE)
    and plants nothing on the flight's weekday or budget: the insights must say exactly that."""
    from analytics_assets.sources.simulator import ground_truth as gt
    from ml.insights import InsightInputs, generate_findings

    sim = PlatformSimulator(SimulatorConfig(**SIM))
    posts = sim.posts(START, START + timedelta(days=2 * MARGIN_DAYS + BOOST_DAYS - 1))[["post_id", "media_type"]]
    estimated = with_lift[with_lift["status"] == ESTIMATED].merge(posts, on="post_id")
    boosts = pd.DataFrame(
        {
            "boost_id": estimated["boost_id"],
            "flight_start_dow": pd.to_datetime(estimated["flight_start_at"]).dt.dayofweek,
            "media_type": estimated["media_type"],
            "daily_budget_usd": np.random.default_rng(0).uniform(20, 150, len(estimated)),  # no planted effect
            "relative_lift": estimated["relative_lift"].astype(float),
        }
    )
    findings = generate_findings(InsightInputs(boosts=boosts), min_n=15)
    by_category = {}
    for f in findings:
        by_category.setdefault(f.category, []).append(f)
    assert set(by_category) == {"boost_content"}, [f.title for f in findings]
    for f in by_category["boost_content"]:
        media = f.subject.removeprefix("boosted ").removesuffix(" posts")
        planted = gt.BOOST_MEDIA_RESPONSE[media]
        assert (f.effect > 0) == (planted > 1.0), f.title
    assert any(f.effect > 0 and "video" in f.subject for f in findings)
