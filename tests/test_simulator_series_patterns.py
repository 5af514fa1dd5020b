"""The opt-in series patterns (trend, weekly seasonality, holidays, level shifts): off by default, so every
existing draw is unchanged; on, each campaign's spend and each platform's posts move by exactly their planted
factor, from the same underlying draws."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics_assets.sources.simulator import SeriesPatterns, SimulatorConfig
from analytics_assets.sources.simulator import core
from analytics_assets.sources.simulator import series_patterns as sp

START = date(2026, 11, 2)
PLAIN = SimulatorConfig(seed=5, posts_per_day=40)
PLANTED = SimulatorConfig(seed=5, posts_per_day=40, patterns=SeriesPatterns(start=START))
BLACK_FRIDAY = date(2026, 11, 27)


def test_without_a_plan_nothing_moves():
    day = date(2026, 11, 20)
    assert sp.factor(PLAIN, "google_ads", "1", day, ads=True) == 1.0
    ads = core._ad_day(PLAIN, day)
    assert sp.scale_spend(PLAIN, day, ads, ads["spend_local"]) is ads["spend_local"]
    posts = core.posts_published_on(PLAIN, day)
    assert sp.scale_posts(PLAIN, day, posts) is posts


@pytest.mark.parametrize("day", [date(2026, 11, 21), BLACK_FRIDAY])
def test_spend_and_posts_move_by_their_planted_factor(day):
    plain, planted = core._ad_day(PLAIN, day), core._ad_day(PLANTED, day)
    active = plain["is_active"].to_numpy(bool)
    factors = np.array([sp.factor(PLANTED, p, c, day, ads=True) for p, c in zip(plain["platform"], plain["campaign_id"])])
    ratio = planted.loc[active, "spend_local"].to_numpy() / plain.loc[active, "spend_local"].to_numpy()
    np.testing.assert_allclose(ratio, factors[active], rtol=2e-3)
    posts, moved = core.posts_published_on(PLAIN, day), core.posts_published_on(PLANTED, day)
    pd.testing.assert_frame_equal(posts.drop(columns=[c for c in posts if c.endswith("_total")]),
                                  moved.drop(columns=[c for c in moved if c.endswith("_total")]))
    for platform in posts["platform"].unique():
        rows = (posts["platform"] == platform).to_numpy()
        f = sp.factor(PLANTED, platform, platform, day, ads=False)
        expected = np.round(posts.loc[rows, "impressions_total"].to_numpy() * f)
        np.testing.assert_array_equal(moved.loc[rows, "impressions_total"].to_numpy(), expected)
        # a metric the platform lacks stays missing
        for col in ("clicks_total", "quotes_total", "saves_total"):
            assert (posts.loc[rows, col].isna().to_numpy() == moved.loc[rows, col].isna().to_numpy()).all()


def test_the_patterns_have_a_weekday_shape_a_trend_holidays_and_level_shifts():
    days = pd.date_range(START, periods=364, freq="D").date
    f = np.array([sp.factor(PLANTED, "linkedin_ads", "512002000", d, ads=True) for d in days])
    weekday = pd.Series(np.log(f)).groupby(pd.Series([d.weekday() for d in days])).mean()
    assert weekday[[5, 6]].max() < weekday[[0, 1, 2]].min()  # a B2B network dips at the weekend
    bf = list(days).index(BLACK_FRIDAY)
    # Black Friday: the same weekday a week before and after, without the holiday, is well below
    assert f[bf] > 1.4 * min(f[bf - 7], f[bf + 7])
    growth, _, offsets, sizes = sp._series_draws(PLANTED.seed, PLANTED.patterns, "linkedin_ads:512002000")
    assert len(offsets) > 0 and (np.abs(sizes) >= 0.15).all()  # level shifts over the three years drawn
    with pytest.raises(ValueError, match="shifts_per_year"):
        SeriesPatterns(start=START, shifts_per_year=-1)
