"""The simulator's planted structure can be switched on where a data engineer runs Cycle (issue 14): the
``simulator`` resource (the UI's launchpad) and the ``CYCLE_SIM_*`` settings plant the same labeled anomalies,
series patterns and budget response curves as the library's plans, and with none of them set the data are the
plain simulator's."""

from __future__ import annotations

from datetime import date

import pytest

from analytics_assets.defs.resources import SimulatorResource, default_resources
from analytics_assets.settings import SettingsError, load_settings
from analytics_assets.sources.simulator import AnomalyPlan, PlatformSimulator, SimulatorConfig, core

DAY = date(2026, 4, 15)
SMALL = dict(seed=8, posts_per_day=60, journeys_per_day=10, ai_generations_per_day=5)


def test_the_resource_plants_the_anomalies_the_library_plan_plants():
    resource = SimulatorResource(**SMALL, anomaly_days=[DAY.isoformat()], anomaly_kinds=["spend_spike", "tracking_outage"])
    library = SimulatorConfig(**SMALL, anomalies=AnomalyPlan(days=(DAY,), kinds=("spend_spike", "tracking_outage")))
    assert resource.config() == library
    truth = PlatformSimulator(resource.config()).anomalies(DAY, DAY)
    assert sorted(truth["kind"]) == ["spend_spike", "tracking_outage"]
    # the planted day's ad rows differ from the plain simulator's on exactly the two planted campaigns
    plain = core._ad_day(SimulatorResource(**SMALL).config(), DAY).set_index("campaign_id")
    planted = core._ad_day(resource.config(), DAY).set_index("campaign_id")
    changed = [c for c in plain.index if not plain.loc[c].equals(planted.loc[c])]
    assert sorted(changed) == sorted(truth["campaign_id"])
    with pytest.raises(ValueError, match="anomaly kinds must be among"):
        SimulatorResource(**SMALL, anomaly_days=[DAY.isoformat()], anomaly_kinds=["meteor"]).config()


def test_the_settings_switch_each_plan_on_and_none_leaves_the_simulator_plain(monkeypatch):
    for name in ("CYCLE_SIM_ANOMALY_DAYS", "CYCLE_SIM_ANOMALY_RATE", "CYCLE_SIM_SERIES_PATTERNS_START",
                 "CYCLE_SIM_BUDGET_RESPONSE_START", "CYCLE_HOLIDAY_CALENDAR", "CYCLE_HOLIDAY_DATES"):
        monkeypatch.delenv(name, raising=False)
    plain = default_resources()["simulator"].config()
    assert (plain.anomalies, plain.patterns, plain.budget_response) == (None, None, None)

    monkeypatch.setenv("CYCLE_SIM_ANOMALY_DAYS", "2026-06-16, 2026-06-19")
    monkeypatch.setenv("CYCLE_SIM_ANOMALY_RATE", "0.01")
    monkeypatch.setenv("CYCLE_SIM_SERIES_PATTERNS_START", "2026-01-05")
    monkeypatch.setenv("CYCLE_SIM_BUDGET_RESPONSE_START", "2026-02-02")
    monkeypatch.setenv("CYCLE_HOLIDAY_DATES", "2026-03-17=spring_sale:peak")
    config = default_resources()["simulator"].config()
    assert config.anomalies == AnomalyPlan(days=(date(2026, 6, 16), date(2026, 6, 19)), rate=0.01)
    assert config.patterns.start == date(2026, 1, 5)
    # the holidays are planted on the deployment's calendar, the one the forecasts read as known inputs
    assert config.patterns.calendar.on(date(2026, 3, 17)).name == "spring_sale"
    assert config.budget_response.start == date(2026, 2, 2)
    # the series move from the pattern's start: the campaigns' spend on a later day is no longer the plain one
    later = date(2026, 3, 2)
    assert not core._ad_day(config, later)["spend_local"].equals(core._ad_day(plain, later)["spend_local"])

    monkeypatch.setenv("CYCLE_SIM_ANOMALY_DAYS", "2026-06-31")
    with pytest.raises(SettingsError, match="CYCLE_SIM_ANOMALY_DAYS"):
        load_settings()
    monkeypatch.setenv("CYCLE_SIM_ANOMALY_DAYS", "")
    monkeypatch.setenv("CYCLE_SIM_ANOMALY_RATE", "1.5")
    with pytest.raises(SettingsError, match="CYCLE_SIM_ANOMALY_RATE"):
        load_settings()
