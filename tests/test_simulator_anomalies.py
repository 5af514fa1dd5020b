"""The simulator's planted anomalies (sources/simulator/anomalies.py): each kind does to its series what its name
says, only there and only that day, and a plan moves no other draw of the simulator."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from analytics_assets.sources.simulator import AnomalyPlan, PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import core
from analytics_assets.sources.simulator.anomaly_series import daily_series

DAY = date(2026, 4, 15)
SMALL = dict(seed=8, posts_per_day=60, journeys_per_day=10, ai_generations_per_day=5)
PLAIN = SimulatorConfig(**SMALL)
PLANTED = SimulatorConfig(**SMALL, anomalies=AnomalyPlan(days=(DAY,)))


def test_each_campaign_kind_moves_what_it_names_and_nothing_else():
    truth = PlatformSimulator(PLANTED).anomalies(DAY - timedelta(days=3), DAY + timedelta(days=3))
    assert sorted(truth["kind"]) == ["ctr_collapse", "spend_spike", "tracking_outage", "viral_spike"]
    assert set(truth["metric_date"]) == {DAY} and truth["campaign_id"].dropna().is_unique
    plain, planted = core._ad_day(PLAIN, DAY).set_index("campaign_id"), core._ad_day(PLANTED, DAY).set_index("campaign_id")
    by_kind = dict(zip(truth["kind"], truth["campaign_id"]))
    untouched = plain.index.difference(list(by_kind.values()))
    pd.testing.assert_frame_equal(planted.loc[untouched], plain.loc[untouched])

    spike = by_kind["spend_spike"]
    factor = truth.set_index("kind").loc["spend_spike", "magnitude"]
    assert planted.loc[spike, "spend_local"] == pytest.approx(plain.loc[spike, "spend_local"] * factor, abs=0.01)
    assert planted.loc[spike, "impressions"] == pytest.approx(plain.loc[spike, "impressions"] * factor, abs=1)

    outage = by_kind["tracking_outage"]
    assert planted.loc[outage, "conversions"] == 0 and planted.loc[outage, "value_local"] == 0
    assert planted.loc[outage, "clicks"] == plain.loc[outage, "clicks"]  # the clicks happened
    assert plain.loc[outage, "conversions"] > 0

    collapse = by_kind["ctr_collapse"]
    assert planted.loc[collapse, "impressions"] == plain.loc[collapse, "impressions"]
    assert planted.loc[collapse, "clicks"] < 0.5 * plain.loc[collapse, "clicks"]


def test_a_viral_spike_lands_on_its_day_only_and_a_plan_moves_no_other_draw():
    start, end = DAY - timedelta(days=2), DAY + timedelta(days=2)
    plain_campaigns, plain_days = daily_series(PLAIN, start, end)
    planted_campaigns, planted_days = daily_series(PLANTED, start, end)
    [viral] = PlatformSimulator(PLANTED).anomalies(DAY, DAY).query("kind == 'viral_spike'").itertuples(index=False)
    jump = planted_days.set_index(["platform", "metric_date"])["impressions"] - plain_days.set_index(
        ["platform", "metric_date"]
    )["impressions"]
    moved = jump[jump != 0]
    assert list(moved.index) == [(viral.platform, DAY)]
    assert moved.iloc[0] > plain_days.query("platform == @viral.platform")["impressions"].median()
    # the other days' ad rows are the plain simulator's
    other_days = planted_campaigns["metric_date"] != DAY
    pd.testing.assert_frame_equal(
        planted_campaigns[other_days].reset_index(drop=True), plain_campaigns[other_days].reset_index(drop=True)
    )
    # the native records of a day without anomalies are the plain simulator's, byte for byte
    quiet = DAY - timedelta(days=2)
    plain_sim, planted_sim = PlatformSimulator(PLAIN).day(quiet), PlatformSimulator(PLANTED).day(quiet)
    for platform, frame in plain_sim.ad_campaigns.items():
        pd.testing.assert_frame_equal(planted_sim.ad_campaigns[platform], frame)


def test_a_bad_plan_is_refused_with_its_reason():
    with pytest.raises(ValueError, match="anomaly kinds"):
        AnomalyPlan(kinds=("spend_spike", "meteor_strike"))
    with pytest.raises(ValueError, match="probability"):
        AnomalyPlan(rate=1.5)
    assert PlatformSimulator(PLAIN).anomalies(DAY, DAY).empty
