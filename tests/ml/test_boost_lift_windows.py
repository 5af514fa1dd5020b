"""Boost lift window by window (bounded memory) gives exactly what one pass over every snapshot gives, reads only
bounded windows, and still finds the simulator's planted lift."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from ml.boost_lift import ESTIMATED, NO_PRE_BOOST_HISTORY, LiftConfig, estimate_boost_lift, estimate_boost_lift_by_window

START = date(2026, 4, 1)
DAYS = 24
ENGAGEMENT_METRICS = ["likes", "comments", "shares", "clicks", "quotes", "saves"]


@pytest.fixture(scope="module")
def scenario() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every poll of 24 days of LinkedIn and X posts (X: a platform without boosts), every boost with its post's
    publication, and the planted truth; plus a boost of a post never polled."""
    sim = PlatformSimulator(SimulatorConfig(seed=3, posts_per_day=300, boost_rate=0.2))
    end = START + timedelta(days=DAYS - 1)
    snaps = sim.post_trajectories(START, end, platforms=("linkedin", "x"))
    snaps["engagements"] = snaps[ENGAGEMENT_METRICS].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
    snaps = snaps[["platform", "post_id", "published_at", "snapshot_at", "engagements"]]
    truth = sim.boost_truth(START, end)
    boosts = pd.DataFrame(
        {
            "boost_id": truth["boost_id"],
            "post_id": truth["post_id"],
            "platform": truth["platform"],
            "account_id": "urn:li:organization:80000",
            "start_date": truth["flight_start_at"].dt.date,
            "end_date": (truth["flight_end_at"] - pd.Timedelta(days=1)).dt.date,
            "spend_usd": 120.0,
            "paid_engagements": 40,
            "published_at": truth["published_at"],
        }
    )
    never_polled = {
        "boost_id": "bst_unpolled", "post_id": "urn:li:share:1", "platform": "linkedin", "account_id": None,
        "start_date": START, "end_date": START + timedelta(days=2), "spend_usd": 50.0, "paid_engagements": 3,
        "published_at": pd.NaT,
    }
    # the boosts in an order that is not their publication's (the asset orders them by boost_id, as here)
    boosts = pd.concat([boosts, pd.DataFrame([never_polled])], ignore_index=True).sort_values("boost_id", ignore_index=True)
    return snaps, boosts, truth


@pytest.fixture(scope="module")
def one_pass(scenario) -> tuple[pd.DataFrame, pd.DataFrame]:
    snaps, boosts, _ = scenario
    return estimate_boost_lift(snaps, boosts.drop(columns="published_at"), LiftConfig())


def _loader(snaps: pd.DataFrame, asked: list):
    def load(platforms: list[str], lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
        asked.append((tuple(platforms), lo, hi))
        published = snaps["published_at"]
        return snaps[snaps["platform"].isin(platforms) & (published >= lo) & (published < hi)].reset_index(drop=True)

    return load


@pytest.mark.parametrize("chunk_days", [1.0, 7.0])
def test_window_by_window_equals_one_pass_over_every_snapshot(scenario, one_pass, chunk_days):
    snaps, boosts, _ = scenario
    config = LiftConfig()
    asked: list = []
    windowed = estimate_boost_lift_by_window(boosts, _loader(snaps, asked), config, chunk_days=chunk_days)
    pd.testing.assert_frame_equal(windowed[0], one_pass[0], check_exact=True)
    pd.testing.assert_frame_equal(windowed[1], one_pass[1], check_exact=True)
    assert (one_pass[0]["status"] == ESTIMATED).sum() > 300 and len(one_pass[1]) > 5_000
    assert one_pass[0].set_index("boost_id").at["bst_unpolled", "status"] == NO_PRE_BOOST_HISTORY
    # every post is read once, in slabs of whole days, each at most the first chunk's days plus the comparables'
    # window either side; only the boosted platform's
    window = pd.Timedelta(days=config.publish_window_days)
    assert all(platforms == ("linkedin",) for platforms, _, _ in asked)
    assert all(a[2] <= b[1] for a, b in zip(asked, asked[1:]))  # disjoint, in order
    assert all(lo == lo.floor("D") and hi == hi.floor("D") for _, lo, hi in asked)
    assert max(hi - lo for _, lo, hi in asked) <= pd.Timedelta(days=chunk_days + 1) + 2 * window
    assert len(asked) >= (DAYS - 2) / (chunk_days + 1)


def test_window_by_window_still_finds_the_planted_lift(scenario):
    snaps, boosts, truth = scenario
    est, _ = estimate_boost_lift_by_window(boosts, _loader(snaps, []), LiftConfig(), chunk_days=3.0)
    # boosts whose comparables' week lies wholly inside the simulated days
    inner = truth["published_at"].dt.date.between(START + timedelta(days=7), START + timedelta(days=DAYS - 9))
    t = truth[inner.to_numpy()].drop(columns=["post_id", "platform", "published_at", "flight_start_at", "flight_end_at"])
    out = est[est["status"] == ESTIMATED].merge(t, on="boost_id")
    out["true_lift"] = PlatformSimulator.true_incremental_engagements_at(out, out["evaluation_age_hours"].astype(float))
    assert len(out) > 100
    assert np.corrcoef(out["organic_lift"], out["true_lift"])[0, 1] > 0.8
    covered = (out["organic_lift_low"] <= out["true_lift"]) & (out["true_lift"] <= out["organic_lift_high"])
    assert 0.8 < covered.mean() <= 1.0


def test_window_by_window_refuses_what_it_cannot_place(scenario):
    _, boosts, _ = scenario
    with pytest.raises(ValueError, match="published_at"):
        estimate_boost_lift_by_window(boosts.drop(columns="published_at"), lambda *a: pd.DataFrame())
    with pytest.raises(ValueError, match="repeat a boost_id"):
        estimate_boost_lift_by_window(pd.concat([boosts, boosts.head(1)]), lambda *a: pd.DataFrame())
    with pytest.raises(ValueError, match="chunk_days"):
        estimate_boost_lift_by_window(boosts, lambda *a: pd.DataFrame(), chunk_days=0)


def test_an_unrelated_post_changes_no_estimate(scenario, one_pass):
    """A post's curve is its own: one post published a year before, polled three weeks long, moved 31 of 385 lifts
    by up to 1.6 engagements when the curves' interpolation weights came from keys that carried every post's index."""
    snaps, boosts, _ = scenario
    boosts = boosts.drop(columns="published_at")
    old = pd.Timestamp(START) - pd.Timedelta(days=365)
    unrelated = pd.DataFrame(
        {
            "platform": "linkedin",
            "post_id": "urn:li:share:0",
            "published_at": old,
            "snapshot_at": [old + pd.Timedelta(hours=2), old + pd.Timedelta(days=21)],
            "engagements": [1.0, 2.0],
        }
    )
    together = estimate_boost_lift(pd.concat([unrelated, snaps], ignore_index=True), boosts)
    pd.testing.assert_frame_equal(together[0], one_pass[0], check_exact=True)
    pd.testing.assert_frame_equal(together[1], one_pass[1], check_exact=True)


@pytest.mark.parametrize("seed", range(5))
def test_the_nearest_comparables_are_those_a_stable_sort_takes_ties_included(seed):
    """The partition that picks a boost's comparables takes the set a stable sort of the distances in row order
    takes: ties at the cut go to the first posts (rows), and NaN distances come last."""
    from ml.boost_lift import _nearest

    rng = np.random.default_rng(seed)
    n = 500
    rows = np.sort(rng.choice(10_000, n, replace=False))  # candidates come in ascending row order
    dist = rng.integers(0, 12, n).astype(float)  # few distinct values: ties at the cut are the rule
    dist[rng.random(n) < 0.1] = np.nan
    for k in (1, 19, 39, 450, n, n + 3):
        expected = np.argsort(dist, kind="stable")[: min(k, n)]
        got = _nearest(dist, rows, min(k, n))
        assert sorted(got) == sorted(expected), k
