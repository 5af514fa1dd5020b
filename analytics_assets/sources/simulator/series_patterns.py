"""Trend, weekly seasonality, holidays and level shifts in the daily ad and post series (opt-in:
``SimulatorConfig.patterns``): something for a 7-day forecast to get right or wrong.

Without it the campaign series are flat noise around their budgets and the platforms' organic reach is flat noise
around its mean, where a seasonal-naive forecast is hard to beat only because there is nothing to forecast. With a
``SeriesPatterns`` plan every campaign's delivery (its spend, and so its impressions, clicks and conversions) and
every platform's organic reach (its posts' lifetime counters, by publish day) is multiplied by a factor of the day:

- a trend: a growth rate per series (per year, drawn in ``trend_per_year``), compounding from ``start``;
- weekly seasonality: a weekday profile per platform (B2B networks dip at the weekend, consumer ones peak),
  each campaign scaling its platform's profile by a strength of its own;
- holidays: the days of the plan's holiday calendar (``contracts/holidays.py``, the one a deployment configures
  and the forecasts read) move every series of a family by the holiday's factor (``HOLIDAY_EFFECTS``: ad spend
  up on Black Friday and Cyber Monday, everything down at Christmas);
- level shifts: each series moves by a lasting factor on a few days drawn per series (a budget change, a new
  audience), about ``shifts_per_year`` a year from ``start`` on.

Every draw comes from the pattern stream (its own seed key), and the factor is exactly 1 without a plan, so the
demo, the digests and every truth test are unchanged. ``factor`` is the ground truth, for tests and the benchmark.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from analytics_assets.contracts.holidays import HolidayCalendar
from analytics_assets.sources.simulator import ground_truth as gt

_STREAM = 102  # the pattern stream: far from core's stream ids and the anomaly stream (101)
_TREND, _WEEKLY, _SHIFTS = 1, 2, 3
_HORIZON_DAYS = 3 * 365  # level shifts are drawn this far from ``start``
_FACTOR_RANGE = (0.05, 20.0)  # a factor never leaves it, however long the trend compounds

# weekday profile (Monday first) per platform: the shape each of its series scales by its own strength
WEEKLY_PROFILES: dict[str, tuple[float, ...]] = {
    "google_ads": (1.08, 1.10, 1.08, 1.05, 0.98, 0.85, 0.86),
    "meta_ads": (0.95, 0.96, 0.97, 1.00, 1.05, 1.05, 1.02),
    "linkedin_ads": (1.15, 1.18, 1.16, 1.10, 0.96, 0.70, 0.75),
    "linkedin": (1.15, 1.20, 1.18, 1.10, 0.95, 0.68, 0.74),
    "x": (1.02, 1.03, 1.02, 1.00, 0.98, 0.96, 0.99),
    "reddit": (0.96, 0.98, 0.98, 0.99, 1.00, 1.05, 1.04),
    "tiktok": (0.92, 0.93, 0.95, 0.98, 1.04, 1.10, 1.08),
    "instagram": (0.95, 0.96, 0.97, 0.99, 1.02, 1.06, 1.05),
    "facebook": (0.97, 0.98, 0.98, 0.99, 1.00, 1.04, 1.04),
}


# what each holiday of the calendar does to the series: (factor on ad spend, factor on organic reach). The days
# come from the deployment's calendar (contracts/holidays.py), the same one the forecasts take as known inputs;
# only the sizes are the simulator's truth. A holiday the table does not name moves the series by its kind's.
HOLIDAY_EFFECTS: dict[str, tuple[float, float]] = {
    "new_years_day": (0.60, 0.75),
    "independence_day": (0.75, 0.85),
    "thanksgiving": (0.70, 0.80),
    "black_friday": (1.80, 1.10),
    "cyber_monday": (1.50, 1.05),
    "christmas_eve": (0.65, 0.80),
    "christmas_day": (0.50, 0.70),
    "new_years_eve": (0.70, 0.85),
}
KIND_EFFECTS: dict[str, tuple[float, float]] = {"closure": (0.70, 0.80), "peak": (1.40, 1.05)}


def holidays(year: int, calendar: HolidayCalendar | None = None) -> dict[date, tuple[float, float]]:
    """The year's holidays of ``calendar`` (default: the default calendar): day -> (factor on ad spend, factor on
    organic reach)."""
    calendar = calendar or HolidayCalendar()
    return {
        h.day: HOLIDAY_EFFECTS.get(h.name, KIND_EFFECTS[h.kind])
        for h in calendar.holidays(date(year, 1, 1), date(year, 12, 31))
    }


@dataclass(frozen=True)
class SeriesPatterns:
    """How strong the patterns are. ``start``: the day the trend compounds from and level shifts start."""

    start: date
    trend_per_year: tuple[float, float] = (-0.4, 0.8)  # yearly growth rate range (log scale) a series draws from
    weekly_strength: tuple[float, float] = (0.6, 1.6)  # how much of its platform's weekday profile a series shows
    shifts_per_year: float = 4.0  # expected level shifts per series and year
    shift_size: tuple[float, float] = (0.15, 0.45)  # |log factor| of a level shift, up or down
    holidays: bool = True
    # the days holidays are planted on: the deployment's calendar (CYCLE_HOLIDAY_CALENDAR / CYCLE_HOLIDAY_DATES)
    calendar: HolidayCalendar = HolidayCalendar()

    def __post_init__(self) -> None:
        if self.shifts_per_year < 0:
            raise ValueError(f"shifts_per_year must be >= 0, got {self.shifts_per_year}")
        for name in ("trend_per_year", "weekly_strength", "shift_size"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name} must be a (low, high) range, got {(lo, hi)}")


def _rng(seed: int, part: int, series: str) -> np.random.Generator:
    key = [int(b) for b in series.encode()]
    return np.random.default_rng([seed, _STREAM, part, *key])


@functools.lru_cache(maxsize=1024)
def _series_draws(seed: int, plan: SeriesPatterns, series: str) -> tuple[float, float, np.ndarray, np.ndarray]:
    """A series' own pattern: yearly growth, weekly strength, level-shift days (offsets from start) and log sizes."""
    growth = float(_rng(seed, _TREND, series).uniform(*plan.trend_per_year))
    strength = float(_rng(seed, _WEEKLY, series).uniform(*plan.weekly_strength))
    rng = _rng(seed, _SHIFTS, series)
    n = int(rng.poisson(plan.shifts_per_year * _HORIZON_DAYS / 365))
    offsets = np.sort(rng.integers(7, _HORIZON_DAYS, n))  # none in the first week: there is no level to shift yet
    sizes = rng.uniform(*plan.shift_size, n) * rng.choice([-1.0, 1.0], n)
    return growth, strength, offsets, sizes


def factor(config, platform: str, series: str, day: date, *, ads: bool) -> float:
    """The multiplier of ``series`` (a campaign id, or an organic platform) on ``day``: 1.0 without a plan."""
    plan: SeriesPatterns | None = getattr(config, "patterns", None)
    if plan is None:
        return 1.0
    growth, strength, offsets, sizes = _series_draws(config.seed, plan, f"{platform}:{series}")
    t = (day - plan.start).days
    log_f = growth * t / 365 + float(sizes[offsets <= t].sum())
    log_f += strength * float(np.log(WEEKLY_PROFILES.get(platform, (1.0,) * 7)[day.weekday()]))
    if plan.holidays:
        holiday = plan.calendar.on(day)
        if holiday is not None:
            effect = HOLIDAY_EFFECTS.get(holiday.name, KIND_EFFECTS[holiday.kind])
            log_f += float(np.log(effect[0] if ads else effect[1]))
    return float(np.clip(np.exp(log_f), *_FACTOR_RANGE))


# ------------------------------------------------------------------------------------------------ hooks


def scale_spend(config, day: date, c: pd.DataFrame, spend_usd: pd.Series) -> pd.Series:
    """The day's spend of each campaign (``core._ad_day``) moved by its pattern; impressions, clicks and
    conversions follow the money. ``spend_usd`` itself when there is no plan."""
    if getattr(config, "patterns", None) is None:
        return spend_usd
    factors = [factor(config, p, str(cid), day, ads=True) for p, cid in zip(c["platform"], c["campaign_id"])]
    return spend_usd * np.asarray(factors)


def scale_posts(config, day: date, posts: pd.DataFrame) -> pd.DataFrame:
    """The posts published on ``day`` (``core._posts_published_on``) with their lifetime counters moved by their
    platform's pattern: the platform's organic reach and engagement of the days they are polled follow. ``posts``
    itself when there is no plan."""
    if getattr(config, "patterns", None) is None:
        return posts
    posts = posts.copy()
    f = posts["platform"].map({p: factor(config, p, p, day, ads=False) for p in posts["platform"].unique()})
    f = f.to_numpy(float)
    for metric in ("impressions", "likes", "comments", "shares", "clicks", "quotes", "saves"):
        col = f"{metric}_total"
        if col not in posts:
            continue
        values = pd.to_numeric(posts[col], errors="coerce")
        scaled = np.round(values.to_numpy(float) * f)
        if posts[col].dtype.kind in "iu":
            posts[col] = scaled.astype(posts[col].dtype)
        else:  # a column mixing counts with platforms that lack the metric (missing): those stay missing
            posts[col] = pd.Series(
                [pd.NA if missing else int(v) for v, missing in zip(scaled, values.isna())], index=posts.index, dtype=object
            )
    return posts

