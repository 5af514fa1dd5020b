"""The anomaly detector (ml/anomalies.py) on the simulator's planted anomalies: each found on its day with its kind,
nothing flagged on the same series without them, and a weekly rhythm is not an anomaly."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics_assets.sources.simulator import AnomalyPlan, PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator.anomaly_series import daily_series
from ml.anomalies import (
    ANOMALY_COLUMNS,
    anomaly_insights,
    campaign_series,
    detect_anomalies,
    entity_days,
    platform_series,
    score_against_truth,
    series_days,
)
from ml.insights import Finding, InsightInputs, generate_findings

START, END = date(2026, 5, 4), date(2026, 5, 31)  # four weeks: two of history, two planted
SPIKE_DAYS = (date(2026, 5, 20), date(2026, 5, 27))
SMALL = dict(seed=4, posts_per_day=120, journeys_per_day=10, ai_generations_per_day=5)


def _series(config: SimulatorConfig) -> pd.DataFrame:
    campaigns, platforms = daily_series(config, START, END)
    return pd.concat([campaign_series(campaigns), platform_series(platforms)], ignore_index=True)


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.DataFrame]:
    config = SimulatorConfig(**SMALL, anomalies=AnomalyPlan(days=SPIKE_DAYS))
    return _series(config), PlatformSimulator(config).anomalies(START, END)


def _events(frame: pd.DataFrame) -> set[tuple]:
    return {
        (k, p, c if isinstance(c, str) else None, pd.Timestamp(d).date())
        for k, p, c, d in zip(frame["kind"], frame["platform"], frame["campaign_id"], frame["metric_date"])
    }


def test_every_planted_anomaly_is_found_on_its_day_with_its_kind_and_nothing_else(planted):
    series, truth = planted
    assert sorted(truth["kind"]) == sorted(["spend_spike", "tracking_outage", "ctr_collapse", "viral_spike"] * 2)
    anomalies = detect_anomalies(series)
    assert list(anomalies.columns) == ANOMALY_COLUMNS
    assert _events(entity_days(anomalies)) == _events(truth)
    # each flagged value lies outside its expected range, on the side its kind says
    rises = anomalies["kind"].isin(["spend_spike", "viral_spike"])
    assert (anomalies.loc[rises, "observed"] > anomalies.loc[rises, "expected_high"]).all()
    assert (anomalies.loc[~rises, "observed"] < anomalies.loc[~rises, "expected_low"]).all()
    outages = anomalies[anomalies["kind"] == "tracking_outage"]
    assert (outages["observed"] == 0).all() and (outages["expected_low"] > 0).all()
    assert set(outages["severity"]) == {"critical"}
    scores = score_against_truth(entity_days(anomalies), truth, series_days(series))
    assert scores["f1"] == 1.0 and scores["false_alarms"] == 0


@pytest.fixture(scope="module")
def clean_days() -> tuple[pd.DataFrame, pd.DataFrame]:
    return daily_series(SimulatorConfig(**SMALL), START, END)


def test_the_same_series_without_anomalies_flag_no_day(clean_days):
    clean = pd.concat([campaign_series(clean_days[0]), platform_series(clean_days[1])], ignore_index=True)
    assert series_days(clean) > 400  # every series judged on its last three weeks
    assert detect_anomalies(clean).empty


def test_a_run_from_one_day_reports_what_the_whole_range_reports_for_it(planted):
    series, _ = planted
    whole = detect_anomalies(series)
    day = pd.Timestamp(SPIKE_DAYS[1])
    # a campaign that ended before the day (its series stops a week earlier) is history only: nothing of it is
    # reported or counted as judged, and the run skips it
    first = series[series["series_id"] == series["series_id"].iloc[0]]
    ended = first[pd.to_datetime(first["metric_date"]) < day - pd.Timedelta(days=7)].assign(series_id="ended")
    window = pd.concat([series[series["metric_date"] <= day], ended], ignore_index=True)
    alone = detect_anomalies(window, evaluate_from=day)
    pd.testing.assert_frame_equal(alone, whole[pd.to_datetime(whole["metric_date"]) == day].reset_index(drop=True))
    assert series_days(window, evaluate_from=day) == series_days(series[series["metric_date"] <= day], evaluate_from=day)


def _platform_days(values: np.ndarray, start: date = date(2026, 1, 5)) -> pd.DataFrame:
    days = [start + timedelta(days=k) for k in range(len(values))]
    return pd.DataFrame({"metric_date": days, "platform": "x", "impressions": values, "engagements": values / 100})


def test_a_weekly_rhythm_is_expected_and_a_spike_on_top_of_it_is_found():
    rng = np.random.default_rng(0)
    weekday = np.tile([1.0, 1.0, 1.0, 1.0, 1.0, 0.45, 0.4], 8)  # weekends at under half the week's level
    values = 100_000 * weekday * np.exp(rng.normal(0, 0.04, len(weekday)))
    assert detect_anomalies(platform_series(_platform_days(values))).empty
    values[45] *= 2.5  # a Thursday of week 7
    found = detect_anomalies(platform_series(_platform_days(values)))
    assert set(found["metric_date"]) == {date(2026, 1, 5) + timedelta(days=45)}
    assert set(found["kind"]) == {"viral_spike"} and set(found["metric"]) == {"impressions", "engagements"}


def test_a_lasting_level_shift_stops_being_flagged():
    values = np.r_[np.full(21, 50_000.0), np.full(21, 150_000.0)] * np.exp(np.random.default_rng(1).normal(0, 0.03, 42))
    found = detect_anomalies(platform_series(_platform_days(values)))
    flagged = sorted(set(found["metric_date"]))
    assert flagged[0] == date(2026, 1, 5) + timedelta(days=21)
    assert len(flagged) <= 10  # the new level becomes the history within a window's half, not never


def test_bad_input_flags_nothing_and_raises_nothing():
    assert detect_anomalies(pd.DataFrame(columns=["series_id"])).empty
    days = _platform_days(np.r_[np.full(10, 1000.0), [np.nan, 0.0, -5.0], np.full(3, 1000.0)])
    assert detect_anomalies(platform_series(days)).empty  # missing, zero and negative days are no observation
    campaign = pd.DataFrame(
        {"metric_date": [date(2026, 1, 5) + timedelta(days=k) for k in range(12)], "platform": "meta_ads",
         "account_id": "act_1", "campaign_id": "9", "spend_usd": [0.0] * 12, "impressions": [0] * 12,
         "clicks": [0] * 12, "conversions": [0] * 12}
    )
    assert campaign_series(campaign).empty  # a campaign that never delivered has no series
    hostile = campaign.assign(spend_usd=[float("inf"), "n/a", *[100.0] * 10], impressions=5000, clicks=50, conversions=2)
    doubled = pd.concat([hostile, hostile], ignore_index=True)  # every row twice: one series-day each, summed
    series = campaign_series(doubled)
    assert not series.duplicated(["series_id", "metric_date"]).any() and len(series) == 3 * 10
    assert detect_anomalies(series).empty


def test_the_insights_name_the_dates_and_series_of_each_anomaly(planted):
    series, truth = planted
    anomalies = detect_anomalies(series)
    findings = [Finding(**f) for f in anomaly_insights(anomalies)]
    assert len(findings) == len({(k, c or p) for k, p, c, _ in _events(truth)})  # one per entity and kind
    for f in findings:
        assert f.category == "anomaly" and all(d in f.title for d in f.evidence["dates"])
        assert f.evidence["series"] and all(day["expected_low"] <= day["expected_high"] for day in f.evidence["days"])
    outage = next(f for f in findings if f.evidence["kind"] == "tracking_outage")
    assert outage.account_id is not None and outage.severity == "critical"
    # generate_findings takes the dated anomalies instead of the undated scan of the platform days
    via_inputs = generate_findings(InsightInputs(metric_anomalies=anomalies, platform_daily=pd.DataFrame({"x": [1]})))
    assert sorted(f.subject for f in via_inputs) == sorted(f.subject for f in findings)


def test_the_forest_baseline_scores_on_the_same_truth_and_cycle_is_not_behind(planted):
    """(The interval baseline, statsforecast's, takes seconds to import and fit: ``make benchmark-ml`` runs it.)"""
    from ml.anomalies import isolation_forest_flags

    series, truth = planted
    judged_from = START + timedelta(days=14)
    judged = series_days(series, evaluate_from=judged_from)
    cycle = score_against_truth(entity_days(detect_anomalies(series, evaluate_from=judged_from)), truth, judged)
    forest = isolation_forest_flags(series, contamination=0.02)
    forest = forest[pd.to_datetime(forest["metric_date"]) >= pd.Timestamp(judged_from)]
    assert list(forest.columns) == list(entity_days(detect_anomalies(series)).columns)
    assert set(forest["kind"]) <= {"spend_spike", "tracking_outage", "ctr_collapse", "viral_spike", "other"}
    assert cycle["f1"] == 1.0 >= score_against_truth(forest, truth, judged)["f1"]


def test_a_campaign_missing_its_budget_on_some_days_is_not_read_on_two_scales(clean_days):
    gaps = clean_days[0].copy()
    gaps.loc[gaps.index % 3 == 0, "daily_budget_usd"] = None  # the budget unknown on a third of the days
    assert detect_anomalies(campaign_series(gaps)).empty
