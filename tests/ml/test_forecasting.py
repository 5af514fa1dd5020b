"""ml/forecasting.py on synthetic weekly series with a known shape (trend x weekday profile x lognormal noise):
Cycle's ensemble beats SeasonalNaive(7) on MASE under rolling-origin cross-validation and its intervals cover about
their nominal share; paused days are no observation; and a forecast is 7 ordered days per series."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ml.forecasting import (
    BASELINES,
    CYCLE,
    FORECAST_COLUMNS,
    campaign_series_days,
    cross_validate,
    forecast,
)

DAYS = 70
WEEKDAY = np.array([1.15, 1.2, 1.15, 1.1, 0.95, 0.65, 0.8])


def _weekly_series(n: int = 4, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2026-01-05", periods=DAYS, freq="D")
    frames = []
    for i in range(n):
        level = rng.uniform(200, 2000)
        growth = rng.uniform(-0.002, 0.004)
        strength = rng.uniform(0.5, 1.5)
        mean = level * np.exp(growth * np.arange(DAYS)) * WEEKDAY[dates.dayofweek] ** strength
        value = np.round(mean * rng.lognormal(0, 0.08, DAYS))
        frames.append(pd.DataFrame({
            "series_id": f"campaign:google_ads:{i}:clicks", "entity_type": "campaign", "platform": "google_ads",
            "campaign_id": str(i), "metric": "clicks", "metric_date": dates, "value": value, "observed": True,
        }))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def evaluation():
    return cross_validate(_weekly_series(), windows=3)


def test_cycle_beats_seasonal_naive_and_covers_about_nominal(evaluation):
    scores = evaluation.scores
    assert set(scores.index) == {*BASELINES, CYCLE}
    assert scores.loc[CYCLE, "mase"] < 0.9 * scores.loc["SeasonalNaive", "mase"]
    assert scores.loc[CYCLE, "aggregate_mape"] < 10.0
    assert 70.0 <= scores.loc[CYCLE, "coverage_80"] <= 92.0
    assert 87.0 <= scores.loc[CYCLE, "coverage_95"] <= 100.0
    # scored on the later origins only: the widening was learned on the earlier ones
    assert evaluation.cv["cutoff"].nunique() == 2 and set(evaluation.cv["horizon"]) == set(range(1, 8))


def test_a_forecast_is_seven_ordered_days_per_series_from_the_history_up_to_the_origin():
    series = _weekly_series(n=2, seed=1)
    origin = date(2026, 3, 10)
    out = forecast(series, origin, widen={80: 1.0, 95: 1.0})
    assert list(out.columns) == FORECAST_COLUMNS
    assert out.groupby("series_id")["horizon"].apply(list).map(lambda h: h == list(range(1, 8))).all()
    assert (pd.to_datetime(out["forecast_date"]) > pd.Timestamp(origin)).all()
    assert ((out["lo_95"] <= out["lo_80"]) & (out["lo_80"] <= out["forecast"]) & (out["forecast"] <= out["hi_80"])
            & (out["hi_80"] <= out["hi_95"])).all()
    # what was loaded after the origin changes nothing
    later = series[series["metric_date"] <= pd.Timestamp(origin)]
    pd.testing.assert_frame_equal(forecast(later, origin, widen={80: 1.0, 95: 1.0}), out)


def test_a_paused_day_is_no_observation_and_bad_values_lose_nothing_else():
    days = pd.DataFrame({
        "metric_date": pd.to_datetime(["2026-03-01", "2026-03-02", "2026-03-04"]),
        "platform": "meta_ads", "campaign_id": 7,
        "spend_usd": [100.0, 0.0, "oops"], "clicks": [50, 0, 40], "conversions": [3.0, 0.0, float("inf")],
    })
    series = campaign_series_days(days)
    spend = series[series["metric"] == "spend"].set_index("metric_date")
    # the paused day, the missing day and the unreadable spend: carried over, never observed
    assert list(spend["observed"]) == [True, False, False, False]
    assert list(spend["value"]) == [100.0] * 4
    clicks = series[series["metric"] == "clicks"].set_index("metric_date")
    assert list(clicks["observed"]) == [True, False, False, False]
