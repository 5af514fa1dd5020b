"""agg_platform_daily at the warehouse's first day: the session pipeline starts on E2E_START, when the
simulator already polls posts published up to a week before. Those posts were never seen before: their
lifetime counters must not land on the first day (they did: LinkedIn 10.4M impressions on it against 1.3M
on the next). Every day is checked against the simulator's true growth of the cumulative counters."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from cycle_testing import E2E_END, E2E_SIM, E2E_START

pytestmark = pytest.mark.slow

MAX_POST_AGE_DAYS = 8  # the simulator polls a post for 7 days: one more covers every poll before E2E_START


def _true_daily_growth() -> pd.DataFrame:
    """Each platform's true organic impressions growth per day: every post's closing counter of the day minus
    its closing counter of its previous day with a poll (0 before publication), from the simulator's polls."""
    from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig

    polls = PlatformSimulator(SimulatorConfig(**E2E_SIM)).post_trajectories(
        E2E_START - timedelta(days=MAX_POST_AGE_DAYS), E2E_END
    )
    polls["day"] = polls["snapshot_at"].dt.date
    closing = (
        polls.sort_values("snapshot_at").groupby(["platform", "post_id", "day"], as_index=False)["impressions"].last()
    )
    closing["growth"] = closing["impressions"] - closing.groupby(["platform", "post_id"])["impressions"].shift(
        fill_value=0
    )
    days = closing[closing["day"].between(E2E_START, E2E_END)]
    return days.groupby(["platform", "day"])["growth"].sum().rename("true_impressions").to_frame()


def test_first_day_books_growth_not_lifetime_counters(pipeline):
    home, _ = pipeline
    booked = home.query(
        "select platform, metric_date as day, impressions from main.agg_platform_daily where channel_type = 'organic'"
    )
    booked["day"] = pd.to_datetime(booked["day"]).dt.date
    days = booked.set_index(["platform", "day"]).join(_true_daily_growth(), how="outer")
    assert days.notna().all().all(), days
    days["ratio"] = days["impressions"] / days["true_impressions"]
    first = days.xs(E2E_START, level="day")
    later = days[days.index.get_level_values("day") > E2E_START]

    # after the first day every post has a previous snapshot day: the day totals are the true growth (the 1%
    # malformed records of the session's simulator move a few polls)
    assert later["ratio"].between(0.99, 1.01).all(), later
    # on the first day the posts first seen count from their first snapshot of the day: at most the true
    # growth, and only what happened before that snapshot is missing (at most a few hours of each post)
    assert first["ratio"].between(0.85, 1.01).all(), first
    # so the first day is an ordinary day, not a spike: within the range of the others
    normal = later.groupby(level="platform")["impressions"].agg(["min", "max"])
    for platform, row in first.iterrows():
        low, high = normal.loc[platform, "min"], normal.loc[platform, "max"]
        assert 0.8 * low <= row["impressions"] <= 1.2 * high, (platform, row["impressions"], low, high)
