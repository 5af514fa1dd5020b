"""ml/forecasting.py's budgets: a campaign series is fitted per unit of its daily budget, and forecast times the
budget each horizon day is expected to have (today's, decayed towards the campaign's usual one by a persistence
learned from the history). Checked on campaigns whose advertiser moves budgets for a few days at a time, as the
simulator's do (``ad_detail.campaign_settings``), and on an account whose budget changes last."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.forecasting import (
    _fit_frame,
    budget_elasticity,
    budget_paths,
    budget_persistence,
    campaign_series_days,
    forecast,
)

WEEKDAY = np.array([1.15, 1.2, 1.15, 1.1, 0.95, 0.65, 0.8])
START = pd.Timestamp("2026-06-01")


def _fit(budgets: np.ndarray) -> pd.DataFrame:
    """A fit frame of spend series (one a row of ``budgets``, a column a day) with those daily budgets."""
    n, days = budgets.shape
    return pd.DataFrame({
        "unique_id": np.repeat([f"campaign:meta_ads:{i}:spend" for i in range(n)], days),
        "ds": np.tile(pd.date_range(START, periods=days, freq="D"), n),
        "y": 5.0, "observed": True, "log_budget": np.log(budgets).ravel(),
    })


def test_the_budget_rides_along_each_campaign_series_and_a_paused_day_takes_the_budget_it_was_filled_from():
    days = pd.DataFrame({
        "metric_date": pd.to_datetime(["2026-03-01", "2026-03-02", "2026-03-03"]), "platform": "meta_ads",
        "campaign_id": 7, "daily_budget_usd": [100.0, 300.0, 150.0], "spend_usd": [90.0, 0.0, 140.0],
        "clicks": [50, 0, 70], "conversions": [3.0, 0.0, 4.0],
    })
    series = campaign_series_days(days)
    for metric, s in series.groupby("metric"):
        # the paused day carries the day before's value, so it carries the budget that value was spent under
        assert list(s["budget"]) == [100.0, 100.0, 150.0], metric
    # without a budget in the input, the series have no budget column and are fitted as they are
    assert "budget" not in campaign_series_days(days.drop(columns="daily_budget_usd"))
    assert _fit_frame(campaign_series_days(days.drop(columns="daily_budget_usd")))["log_budget"].isna().all()


def test_the_persistence_of_budget_changes_is_learned_from_the_history():
    rng = np.random.default_rng(3)
    # deviations from the usual budget that decay by 0.8 a day
    dev = np.zeros((30, 240))
    for t in range(1, dev.shape[1]):
        dev[:, t] = 0.8 * dev[:, t - 1] + rng.normal(0, 0.1, dev.shape[0])
    assert budget_persistence(_fit(500 * np.exp(dev))) == pytest.approx(0.8, abs=0.03)
    # an account whose changes last: each campaign steps to a new budget once and keeps it
    steps = np.where(np.arange(120)[None, :] < rng.integers(20, 100, 10)[:, None], 400.0, 700.0)
    assert budget_persistence(_fit(steps)) > 0.97
    # budgets that never moved: nothing says a change would not last
    assert budget_persistence(_fit(np.full((3, 60), 250.0))) == 1.0


def test_the_budget_path_decays_today_s_budget_towards_the_usual_one():
    budgets = np.full((2, 28), 100.0)
    budgets[0, 14:18] = 125.0  # two short pushes, the second running on the last day
    budgets[0, 24:] = 150.0
    budgets[1, 20:] = 80.0  # a cut that lasts
    fit = _fit(budgets)
    cutoff = fit["ds"].max()
    phi = budget_persistence(fit)
    assert 0.0 < phi < 1.0
    paths = budget_paths(fit, cutoff).pivot(index="ds", columns="unique_id", values="log_budget")
    assert list(paths.index) == list(pd.date_range(cutoff + pd.Timedelta(days=1), periods=7, freq="D"))
    h = np.arange(1, 8)
    usual = np.log(100.0)
    assert np.allclose(paths["campaign:meta_ads:0:spend"], usual + (np.log(150.0) - usual) * phi ** h)
    assert np.allclose(paths["campaign:meta_ads:1:spend"], usual + (np.log(80.0) - usual) * phi ** h)
    # the path's error, measured the same way on the history's days: what widens the campaigns' bounds
    se = budget_paths(fit, cutoff).groupby("ds")["se"].first().to_numpy()
    assert (se > 0).all() and se[-1] > se[0]
    assert (budget_paths(_fit(np.full((2, 28), 100.0)), cutoff)["se"] == 0).all()
    # a day after the origin is never read: a budget loaded later changes nothing
    later = _fit(np.concatenate([budgets, np.full((2, 5), 999.0)], axis=1))
    pd.testing.assert_frame_equal(budget_paths(later[later["ds"] <= cutoff], cutoff), budget_paths(fit, cutoff))


def _pushed_campaigns(budgets: np.ndarray, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Spend series (one a row of ``budgets``, a column a day; the last ``HORIZON`` days the future) spending
    80-100% of the day's budget on a weekly profile, and each day's expected spend."""
    rng = np.random.default_rng(seed)
    n, days = budgets.shape
    dates = pd.date_range(START, periods=days, freq="D")
    weekday = WEEKDAY[dates.dayofweek]
    series = pd.DataFrame({
        "series_id": np.repeat([f"campaign:meta_ads:{i}:spend" for i in range(n)], days),
        "entity_type": "campaign", "platform": "meta_ads", "campaign_id": np.repeat([str(i) for i in range(n)], days),
        "metric": "spend", "metric_date": np.tile(dates, n),
        "value": np.round((budgets * rng.uniform(0.8, 1.0, budgets.shape) * weekday).ravel(), 2),
        "observed": True, "budget": budgets.ravel(),
    })
    expected = pd.DataFrame({"series_id": series["series_id"], "forecast_date": series["metric_date"],
                             "expected": (budgets * 0.9 * weekday).ravel()})
    return series, expected


def _log_errors(series: pd.DataFrame, expected: pd.DataFrame, origin: pd.Timestamp) -> dict[str, float]:
    """The mean absolute log error against the expected spend of the forecast per unit of budget and of the spend
    alone, from the history up to ``origin``."""
    out = {}
    for name, s in (("per budget", series), ("spend alone", series.drop(columns="budget"))):
        fc = forecast(s[s["metric_date"] <= origin], origin.date(), widen={80: 1.0, 95: 1.0})
        fc = fc.merge(expected, on=["series_id", "forecast_date"])
        assert len(fc) == 7 * series["series_id"].nunique()
        out[name] = float(np.abs(np.log(fc["forecast"] / fc["expected"])).mean())
    return out


def test_a_push_that_ends_with_the_history_is_forecast_back_at_the_usual_budget():
    """Four campaigns over 13 weeks whose advertiser pushes the budget to x1.5 for six days now and then, the last
    push ending on the origin: per unit of budget, the forecast heads back to the usual spend day by day (the
    history says pushes end: about a sixth of a push's days are its last); the spend alone reads the push as the
    campaign's new level. Neither knows this push ends today, so the first days miss by what it still holds."""
    rng = np.random.default_rng(5)
    days, origin_day = 91, 83
    budgets = np.repeat(rng.uniform(200, 2000, (4, 1)), days, axis=1)
    for i in range(4):
        for start in (rng.integers(5, 20), rng.integers(28, 42), rng.integers(50, 64)):
            budgets[i, start:start + 6] *= 1.5
        budgets[i, origin_day - 5:origin_day + 1] *= 1.5
    series, expected = _pushed_campaigns(budgets, seed=6)
    origin = pd.Timestamp(START) + pd.Timedelta(days=origin_day)
    phi = budget_persistence(_fit_frame(series[series["metric_date"] <= origin]))
    assert 0.5 < phi < 0.95
    errors = _log_errors(series, expected, origin)
    assert errors["per budget"] < 0.75 * errors["spend alone"], errors
    assert errors["spend alone"] > 0.15  # the push read as the new level: about log(1.5) on the later days


def test_an_account_whose_budget_changes_last_keeps_today_s_budget():
    """The same campaigns, but every budget change stays (a step every few weeks, the last one five days before
    the origin): the persistence comes out near 1, and the forecast per unit of budget keeps the new budget, at
    least as close as the spend alone, which has had five days to see it."""
    rng = np.random.default_rng(7)
    days, origin_day = 91, 83
    budgets = np.empty((4, days))
    for i in range(4):
        level = rng.uniform(200, 2000)
        changes = sorted(rng.choice(np.arange(10, 70), 3, replace=False)) + [origin_day - 4]
        for t in range(days):
            if t in changes:
                level *= rng.choice([0.7, 1.4])
            budgets[i, t] = level
    series, expected = _pushed_campaigns(budgets, seed=8)
    origin = pd.Timestamp(START) + pd.Timedelta(days=origin_day)
    assert budget_persistence(_fit_frame(series[series["metric_date"] <= origin])) > 0.95
    errors = _log_errors(series, expected, origin)
    assert errors["per budget"] <= errors["spend alone"] + 0.01, errors
    assert errors["per budget"] < 0.1


def test_a_campaign_held_back_by_its_bids_does_not_follow_its_budget():
    """Two campaigns whose budgets move the same way: one spends what its budget lets it, the other a steady 30%
    of it whatever the budget (its bids hold it back). The elasticity is measured on each one's own days: about 1
    and about 0, and a budget doubled five days before the origin doubles the first one's forecast only."""
    rng = np.random.default_rng(9)
    days, origin_day = 91, 83
    budgets = np.full((2, days), 1000.0)
    for start in (12, 40, 61):
        budgets[:, start:start + 6] = 1500.0
    budgets[:, origin_day - 4:] = 2000.0
    series, _ = _pushed_campaigns(budgets, seed=10)
    bid_limited = series["series_id"] == "campaign:meta_ads:1:spend"
    weekday = WEEKDAY[pd.DatetimeIndex(series.loc[bid_limited, "metric_date"]).dayofweek]
    series.loc[bid_limited, "value"] = np.round(300.0 * rng.uniform(0.9, 1.0, bid_limited.sum()) * weekday, 2)
    origin = pd.Timestamp(START) + pd.Timedelta(days=origin_day)
    history = series[series["metric_date"] <= origin]
    elasticity = budget_elasticity(_fit_frame(history))
    assert elasticity["campaign:meta_ads:0"] == pytest.approx(1.0, abs=0.1)
    assert elasticity["campaign:meta_ads:1"] == pytest.approx(0.0, abs=0.1)
    out = forecast(history, origin.date(), widen={80: 1.0, 95: 1.0}).set_index("series_id")
    last_week = history[history["metric_date"] > origin - pd.Timedelta(days=7)].groupby("series_id")["value"].sum()
    week = out.groupby(level=0)["forecast"].sum()
    assert week["campaign:meta_ads:1:spend"] == pytest.approx(last_week["campaign:meta_ads:1:spend"], rel=0.1)
    # the first: between its week at the usual budget and at the doubled one, the history's pushes having lasted
    # six days (the path decays from today's budget towards the usual one)
    ahead = WEEKDAY[pd.date_range(origin + pd.Timedelta(days=1), periods=7, freq="D").dayofweek].sum()
    usual, doubled = 1000.0 * 0.9 * ahead, 2000.0 * 0.9 * ahead
    assert 1.2 * usual < week["campaign:meta_ads:0:spend"] < 0.9 * doubled, (usual, week, doubled)
