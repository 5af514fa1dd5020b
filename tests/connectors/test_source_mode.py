"""Source mode (``CYCLE_SOURCE_MODE``): in live mode nothing is simulated.

One warehouse, one partition (2026-10-11), two runs of every raw table, on the fake clock:
  1. simulator mode, no connector: the embedded demo fills all seven tables;
  2. live mode, all seven connectors against the fake platforms, with the simulator's class rigged to count
     (and refuse) every use: the connectors refill their tables, the rest is emptied, the run succeeds.
A third, separate run is live with no connector at all: everything is empty and the checks say what to set.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import dagster as dg
import pydantic
import pytest

from analytics_assets.contracts.raw import AD_PLATFORMS, ORGANIC_PLATFORMS, RAW_TABLES
from analytics_assets.defs.ingest.connector_resources import connector_resources_from_env
from analytics_assets.defs.ingest.raw import raw_platform_data
from analytics_assets.defs.resources import SimulatorDisabledError, SimulatorResource, default_resources
from analytics_assets.settings import SettingsError, load_settings
from analytics_assets.sources.simulator import core
from cycle_testing import CycleHome, new_home
from fake_platforms import FakeClock, FakeDataset, FakePlatforms
from test_connector_pipeline import CONFIG, POST_DAYS, RECENT_AD_DAYS, _resources

pytestmark = pytest.mark.slow

DAY = date(2026, 10, 11)
AS_OF = datetime(2026, 10, 12, 10, 0)  # the partition is the latest: the social connectors poll
ALL = list(RAW_TABLES)
CONNECTED = ["raw_social_post_snapshots", "raw_ad_campaign_metrics", "raw_ad_creative_metrics"]
# boosts: LinkedIn Ads and Meta discover them; no connector can for Google Ads (the check says why)
BOOST_SOURCES = {"connector": ["meta_ads", "linkedin_ads"], "none": ["google_ads"]}
TRACKED = {
    "raw_touchpoints": "raw.raw_tracked_touchpoints",
    "raw_ai_generations": "raw.raw_tracked_ai_generations",
    "raw_experiment_observations": "raw.raw_tracked_experiment_observations",
}


def _simulator(mode: str) -> SimulatorResource:
    # another seed than the fake platforms' (CONFIG.seed): the simulator's ids never collide with theirs
    return SimulatorResource(
        source_mode=mode, seed=5, posts_per_day=12, campaigns_per_platform=2, journeys_per_day=10,
        ai_generations_per_day=5, experiment_units_per_day=20, boost_rate=0.5,
    )


def _run(instance: dg.DagsterInstance, resources: dict) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [raw_platform_data], selection=ALL, resources=resources, instance=instance,
        partition_key=DAY.isoformat(), raise_on_error=False,
    )


def _meta(result, table: str) -> dict:
    (m,) = [m for m in result.asset_materializations_for_node("raw_platform_data") if m.asset_key.to_user_string() == table]
    return {k: v.value for k, v in m.metadata.items()}


def _source_check(result, table: str) -> dg.AssetCheckEvaluation:
    (e,) = [
        e.event_specific_data for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.event_specific_data.asset_key.to_user_string() == table
        and e.event_specific_data.check_name == "source_is_configured"
    ]
    return e


def _counts(home: CycleHome) -> dict[str, int]:
    return {t: int(home.query(f"select count(*) n from raw.{t}")["n"][0]) for t in ALL}


class _SimulatorCalls:
    """Every construction or day of the simulator class, wherever it comes from; each one raises."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.calls = 0

        def refuse(*args, **kwargs):
            self.calls += 1
            raise AssertionError("the simulator was used in live mode")

        monkeypatch.setattr(core.PlatformSimulator, "__init__", refuse)
        monkeypatch.setattr(core.PlatformSimulator, "day", refuse)


@pytest.fixture(scope="module")
def switched(tmp_path_factory):
    """(home, simulator-mode result, counts after it, live result, simulator calls during the live run)."""
    home = new_home(tmp_path_factory.mktemp("source_mode"))
    instance = dg.DagsterInstance.ephemeral()
    demo = _run(instance, {**home.resources(), **connector_resources_from_env({}), "simulator": _simulator("simulator")})
    before = _counts(home)
    data = FakeDataset(CONFIG, POST_DAYS, RECENT_AD_DAYS, settle_days=3)
    with pytest.MonkeyPatch.context() as mp, FakePlatforms(data, FakeClock(AS_OF), max_lifetime_seconds=120) as fake:
        calls = _SimulatorCalls(mp)
        live = _run(instance, {**_resources(home, fake, AS_OF), "simulator": _simulator("live")})
    return home, demo, before, live, calls.calls, data


def test_simulator_mode_fills_every_table_from_the_simulator_as_before(switched):
    _, demo, before, *_ = switched
    assert demo.success
    assert all(before[t] > 0 for t in ALL), before
    for table in ALL:
        meta = _meta(demo, table)
        assert meta["source_mode"] == "simulator" and set(meta["sources"]) == {"simulator"}
        check = _source_check(demo, table)
        assert check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert _meta(demo, "raw_touchpoints")["live_source"] == "raw.raw_tracked_touchpoints"


def test_live_run_never_touches_the_simulator_and_succeeds(switched):
    _, _, _, live, calls, _ = switched
    assert live.success
    assert calls == 0  # run-level: not one construction nor one simulated day, for any table


def test_live_raw_tables_hold_only_connector_rows(switched):
    home, _, before, live, _, data = switched
    after = _counts(home)
    # the connectors' tables are refilled from the platforms; every other entity lost its simulated day (the fake
    # boosts no LinkedIn post here: the simulator's LinkedIn boosts are gone, and only Meta's came, paid side)
    assert all(after[t] > 0 for t in CONNECTED), after
    others = [t for t in ALL if t not in CONNECTED and t != "raw_boosts"]
    assert {t: after[t] for t in others} == {t: 0 for t in others}
    boosts = home.query("select ad_platform, organic_platform from raw.raw_boosts")
    assert after["raw_boosts"] > 0 and set(boosts["ad_platform"]) == {"meta_ads"}
    assert set(boosts["organic_platform"]) <= {"facebook", "instagram"}
    quarantine = home.query("select source_table, count(*) n from raw.raw_quarantine where partition_date = ? group by 1", [DAY])
    assert set(quarantine["source_table"]) <= set(CONNECTED)
    # every snapshot is of a post a connector discovered: none of the simulator's survived the switch
    stray = home.query(
        "select count(*) n from raw.raw_social_post_snapshots s where not exists "
        "(select 1 from raw.raw_post_registry r where r.platform = s.platform and r.post_id = s.post_id)"
    )
    assert stray["n"][0] == 0
    # the ad day holds exactly the platforms' campaigns (the simulator's campaigns of that day are gone)
    ads = home.query("select platform, campaign_id from raw.raw_ad_campaign_metrics where metric_date = ?", [DAY])
    creatives = home.query("select platform, ad_id from raw.raw_ad_creative_metrics where metric_date = ?", [DAY])
    for platform in AD_PLATFORMS:
        truth = set(data.ad_rows(platform, DAY, DAY, AS_OF)["campaign_id"].astype(str))
        assert set(ads[ads["platform"] == platform]["campaign_id"]) == truth and truth
        truth = set(data.creative_rows(platform, DAY, DAY, AS_OF)["ad_id"].astype(str))
        assert set(creatives[creatives["platform"] == platform]["ad_id"]) == truth and truth
    social = home.query("select distinct platform from raw.raw_social_post_snapshots")
    assert set(social["platform"]) == set(ORGANIC_PLATFORMS)


def test_live_metadata_names_each_entitys_source(switched):
    _, _, _, live, _, _ = switched
    assert _meta(live, "raw_social_post_snapshots")["sources"] == {"connector": list(ORGANIC_PLATFORMS)}
    for table in ("raw_ad_campaign_metrics", "raw_ad_creative_metrics"):
        ads = _meta(live, table)
        assert ads["sources"] == {"connector": list(AD_PLATFORMS)} and ads["simulated_platforms"] == []
        assert ads["dagster/row_count"] > 0
    boosts = _meta(live, "raw_boosts")
    assert boosts["source_mode"] == "live" and boosts["sources"] == BOOST_SOURCES
    # Meta's boosts land (paid side: Cycle tracks no Facebook or Instagram post); the fake boosts no LinkedIn post
    assert boosts["untracked_boosted_posts"]["meta_ads"] > 0
    assert boosts["dagster/row_count"] > 0 and {p for p, n in boosts["rows_by_platform"].items() if n} == {"meta_ads"}
    for table, where in TRACKED.items():
        meta = _meta(live, table)
        assert set(meta["sources"]) == {"tracked_events"} and meta["live_source"] == where


def test_entities_without_a_live_source_warn_with_the_reason(switched):
    _, _, _, live, _, _ = switched
    check = _source_check(live, "raw_boosts")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "no google_ads rows and no connector can give them: Google Ads does not promote organic" in check.description
    assert "meta_ads" not in check.description  # its connector is configured, and discovers Meta's boosts
    assert "linkedin_ads" not in check.description  # its connector is configured
    for table in [*CONNECTED, *TRACKED]:
        assert _source_check(live, table).passed
    # the blocking checks pass on the empty tables: an absent source never stops the graph
    blocking = [
        e.event_specific_data for e in live.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.check_name != "source_is_configured"
    ]
    assert blocking and all(c.passed for c in blocking if c.severity == dg.AssetCheckSeverity.ERROR)


def test_live_mode_without_connectors_is_empty_and_names_each_connectors_settings(tmp_path, monkeypatch):
    home = new_home(tmp_path / "bare")
    calls = _SimulatorCalls(monkeypatch)
    result = _run(dg.DagsterInstance.ephemeral(), {**home.resources(), **connector_resources_from_env({}),
                                                   "simulator": _simulator("live")})
    assert result.success and calls.calls == 0
    assert _counts(home) == {t: 0 for t in ALL}
    social = _source_check(result, "raw_social_post_snapshots")
    assert not social.passed
    assert "CYCLE_LINKEDIN_ACCESS_TOKEN and CYCLE_LINKEDIN_ORGANIZATION_URNS" in social.description
    assert "CYCLE_X_BEARER_TOKEN and CYCLE_X_USER_IDS" in social.description
    ads = _source_check(result, "raw_ad_campaign_metrics")
    assert not ads.passed and "CYCLE_META_ACCESS_TOKEN and CYCLE_META_AD_ACCOUNT_IDS" in ads.description
    assert _meta(result, "raw_ad_campaign_metrics")["sources"] == {"none": list(AD_PLATFORMS)}
    assert _meta(result, "raw_ad_creative_metrics")["sources"] == {"none": list(AD_PLATFORMS)}
    boosts = _source_check(result, "raw_boosts")
    assert "linkedin_ads: set CYCLE_LINKEDIN_ADS_ACCESS_TOKEN" in boosts.description
    assert "meta_ads: set CYCLE_META_ACCESS_TOKEN" in boosts.description


def test_the_simulator_resource_refuses_in_live_mode():
    with pytest.raises(SimulatorDisabledError, match="CYCLE_SOURCE_MODE=live"):
        _simulator("live").simulator()
    assert isinstance(_simulator("simulator").simulator(), core.PlatformSimulator)
    with pytest.raises(pydantic.ValidationError):
        SimulatorResource(source_mode="production")


def test_source_mode_setting_defaults_to_the_simulator_and_rejects_anything_else(monkeypatch, tmp_path: Path):
    assert load_settings({}).source_mode == "simulator"
    assert load_settings({"CYCLE_SOURCE_MODE": "live"}).source_mode == "live"
    with pytest.raises(SettingsError, match=r"CYCLE_SOURCE_MODE='production': Input should be 'simulator' or 'live'"):
        load_settings({"CYCLE_SOURCE_MODE": "production"})
    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))
    monkeypatch.setenv("CYCLE_SOURCE_MODE", "live")
    assert default_resources()["simulator"].is_live
