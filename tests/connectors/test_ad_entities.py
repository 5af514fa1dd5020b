"""Ad-level reports and LinkedIn boosts from the ad platforms' APIs, end to end against the fake platforms.

Live mode, the three ad connectors and LinkedIn organic configured (X, Reddit and TikTok not), on the fake clock:
  1. 2026-10-12 10:00, partitions 10-10..10-11: LinkedIn posts are discovered and polled, campaigns, ads and
     boosts read while the platforms still restate those days; one Meta ad-day has lost its ``spend``;
  2. six days later, the drift fixed, partitions 10-12..10-15: every day of 10-10..10-15 is final by now
     (the two first ones are read once more as they left the restatement lookback);
  3. the same run again: nothing changes, and the ledger spares the final days of every entity.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import dagster as dg
import duckdb
import pandas as pd
import pytest

from analytics_assets.contracts.raw import AD_PLATFORMS
from analytics_assets.defs.ingest.connector_resources import LinkedInAdsResource, connector_resources_from_env
from analytics_assets.defs.ingest.connector_sync import sync_ad_entities
from analytics_assets.defs.ingest.raw import raw_platform_data
from analytics_assets.defs.resources import SimulatorResource
from analytics_assets.sources.connectors.platforms.google_ads import _restore_zero_metrics
from analytics_assets.sources.parsing.parsers import LINKEDIN_BOOST_MAPPING, parse_records
from cycle_testing import CycleHome, new_home
from fake_platforms import FakeClock, FakeDataset, FakePlatforms
from test_connector_pipeline import CONFIG, KEY, RECENT_AD_DAYS, _resources
from warehouse_state import table_fingerprints

pytestmark = pytest.mark.slow

T0 = datetime(2026, 10, 12, 10, 0)
T_FINAL = T0 + timedelta(days=6)
FIRST, LAST = date(2026, 10, 10), date(2026, 10, 15)
POST_DAYS = [date(2026, 10, 9), date(2026, 10, 10), date(2026, 10, 11)]  # all published before T0: all discovered
TABLES = ["raw_social_post_snapshots", "raw_ad_campaign_metrics", "raw_ad_creative_metrics", "raw_boosts"]
ENTITIES = {"raw_ad_campaign_metrics": "ad_campaigns", "raw_ad_creative_metrics": "ad_creatives", "raw_boosts": "boosts"}
DELIVERY = ["impressions", "clicks", "conversions", "spend", "conversion_value"]
QUARTILES = ["video_p25_views", "video_p50_views", "video_p75_views", "video_p100_views"]


_STATUSES = "select platform, entity, day, status, rows, quarantined from raw.raw_fetch_ledger order by all"


def _run(home: CycleHome, fake: FakePlatforms, instance, as_of: datetime, start: date, end: date):
    fake.clock.set(as_of)
    unconfigured = connector_resources_from_env({})
    resources = {
        **_resources(home, fake, as_of),
        **{p: unconfigured[p] for p in ("x", "reddit", "tiktok")},
        "simulator": SimulatorResource(source_mode="live"),
    }
    return dg.materialize(
        [raw_platform_data], selection=TABLES, resources=resources, instance=instance, raise_on_error=False,
        tags={"dagster/asset_partition_range_start": start.isoformat(), "dagster/asset_partition_range_end": end.isoformat()},
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    home = new_home(tmp_path_factory.mktemp("ad_entities"))
    data = FakeDataset(CONFIG, POST_DAYS, RECENT_AD_DAYS, settle_days=3, boost_share=0.3)
    instance = dg.DagsterInstance.ephemeral()
    drifted = data.creative_rows("meta_ads", date(2026, 10, 11), date(2026, 10, 11), T0).iloc[0]["ad_id"]
    data.drift[("meta_ads", f"{drifted}|2026-10-11")] = {"remove": ["spend"]}
    with FakePlatforms(data, FakeClock(T0), max_lifetime_seconds=120) as fake:
        first = _run(home, fake, instance, T0, FIRST, date(2026, 10, 11))
        quarantine = home.query("select * from raw.raw_quarantine where source_table = 'raw_ad_creative_metrics'")
        first_rows = home.query("select * from raw.raw_ad_creative_metrics")
        data.drift.clear()
        final = _run(home, fake, instance, T_FINAL, date(2026, 10, 12), LAST)
        prints = table_fingerprints(home.warehouse)
        statuses = home.query(_STATUSES)
        mark = len(fake.log)
        again = _run(home, fake, instance, T_FINAL, FIRST, LAST)
        rerun_requests = fake.log[mark:]
    return {"home": home, "data": data, "first": first, "final": final, "again": again, "drifted": drifted,
            "quarantine": quarantine, "first_rows": first_rows, "prints": prints, "statuses": statuses,
            "rerun_requests": rerun_requests}


def _meta(result, table: str) -> dict:
    # one materialization per partition of the range, all with the run's metadata
    m = [m for m in result.asset_materializations_for_node("raw_platform_data") if m.asset_key.to_user_string() == table][0]
    return {k: v.value for k, v in m.metadata.items()}


def test_runs_succeed(runs):
    assert runs["first"].success and runs["final"].success and runs["again"].success


def test_creatives_equal_the_platforms_final_ads_key_for_key(runs):
    home, data = runs["home"], runs["data"]
    loaded = home.query("select * from raw.raw_ad_creative_metrics where metric_date between ? and ?", [FIRST, LAST])
    for platform in AD_PLATFORMS:
        truth = data.final_creatives(platform, FIRST, LAST)
        got = loaded[loaded["platform"] == platform].copy()
        got["metric_date"] = pd.to_datetime(got["metric_date"]).dt.date
        key = ["ad_id", "metric_date"]
        got, truth = got.sort_values(key).reset_index(drop=True), truth.sort_values(key).reset_index(drop=True)
        assert list(zip(got["ad_id"], got["metric_date"])) == list(zip(truth["ad_id"], truth["metric_date"])), platform
        for col in ["impressions", "clicks", "conversions"]:
            assert got[col].astype(int).tolist() == truth[col].astype(int).tolist(), (platform, col)
        for col in ["spend", "conversion_value"]:  # to the cent
            assert (got[col].round(2) == truth[col].round(2)).all(), (platform, col)
        assert got["campaign_id"].tolist() == truth["campaign_id"].tolist()
        assert got["ad_name"].tolist() == truth["ad_name"].tolist() and got["ad_name"].notna().all()
        assert got["creative_format"].tolist() == truth["creative_format"].tolist(), platform
        for q in QUARTILES:  # views for video ads, none for the others
            assert got[q].astype("Int64").tolist() == truth[q].astype("Int64").tolist(), (platform, q)
        assert truth["creative_format"].isin(["VIDEO", "VIDEO_RESPONSIVE_AD"]).any() and got[QUARTILES].notna().any().all()


def test_creatives_add_up_to_their_campaign_days(runs):
    sums = runs["home"].query(
        f"""select c.platform, c.campaign_id, c.metric_date,
                   {", ".join(f"round(sum(a.{m}), 2) as a_{m}, any_value(c.{m}) as c_{m}" for m in DELIVERY)}, count(*) n
            from raw.raw_ad_campaign_metrics c join raw.raw_ad_creative_metrics a using (platform, campaign_id, metric_date)
            group by all"""
    )
    campaigns = runs["home"].query("select count(*) n from raw.raw_ad_campaign_metrics")["n"][0]
    assert len(sums) == campaigns and (sums["n"] >= 1).all()
    for m in DELIVERY:
        assert (sums[f"a_{m}"] - sums[f"c_{m}"]).abs().max() < 0.005, m


def test_boosts_equal_the_platforms_boosts_of_tracked_posts(runs):
    home, data = runs["home"], runs["data"]
    stored = home.query("select * from raw.raw_boosts order by boost_id, boost_date")
    truth = data.final_boosts(FIRST, LAST).sort_values(["boost_id", "boost_date"]).reset_index(drop=True)
    assert len(truth) >= 5 and truth["boost_id"].nunique() >= 2
    stored["boost_date"] = pd.to_datetime(stored["boost_date"]).dt.date
    # Meta's boosts run over their campaign's every day: the lookback read days either side of the partitions too
    got = stored[(stored["boost_date"] >= FIRST) & (stored["boost_date"] <= LAST)].reset_index(drop=True)
    for col in ["start_date", "end_date"]:
        got[col] = pd.to_datetime(got[col]).dt.date
    cols = ["boost_id", "organic_platform", "post_id", "ad_platform", "campaign_id", "boost_date", "start_date",
            "end_date", "currency", "paid_impressions", "paid_engagements", "paid_clicks"]
    assert got[cols].astype(str).values.tolist() == truth[cols].astype(str).values.tolist()
    assert (got["spend"].round(2) == truth["spend"].round(2)).all()
    assert (got["daily_budget"] == truth["daily_budget"]).all() and (got["spend"] <= got["daily_budget"]).all()
    # LinkedIn's boosted posts are the organic posts the LinkedIn connector tracks; Meta's are Facebook and
    # Instagram posts, which Cycle does not track: no snapshot of them, none invented
    orphans = home.query(
        "select distinct b.organic_platform from raw.raw_boosts b where not exists (select 1 from "
        "raw.raw_social_post_snapshots s where s.platform = b.organic_platform and s.post_id = b.post_id)"
    )
    meta_platforms = set(got.loc[got["ad_platform"] == "meta_ads", "organic_platform"])
    assert meta_platforms and meta_platforms <= {"facebook", "instagram"}
    assert set(orphans["organic_platform"]) == meta_platforms
    # a boost's delivery is its ad's (LinkedIn: its creative's) delivery of the ad-level report
    joined = home.query(
        "select b.paid_impressions, a.impressions, a.creative_format from raw.raw_boosts b join raw.raw_ad_creative_metrics a "
        "on a.platform = b.ad_platform and a.ad_id = regexp_replace(b.boost_id, '^(li|meta)_', '') "
        "and a.metric_date = b.boost_date"
    )
    assert len(joined) == len(stored) and (joined["paid_impressions"] == joined["impressions"]).all()
    assert set(joined["creative_format"]) == {"SPONSORED_UPDATE", "SHARE"}


def test_boost_sources_and_what_cycle_cannot_measure(runs):
    meta = _meta(runs["final"], "raw_boosts")
    assert meta["sources"] == {"connector": ["meta_ads", "linkedin_ads"], "none": ["google_ads"]}
    shares = runs["data"].creatives
    expected = int(((shares["platform"] == "meta_ads") & (shares["creative_format"] == "SHARE")).sum())
    assert expected > 0 and meta["untracked_boosted_posts"] == {"meta_ads": expected}
    (check,) = [
        e.event_specific_data for e in runs["final"].all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.asset_key.to_user_string() == "raw_boosts"
        and e.event_specific_data.check_name == "source_is_configured"
    ]
    assert not check.passed and "meta_ads" not in check.description  # its connector discovers Meta's boosts
    assert "Google Ads does not promote organic social posts" in check.description
    creatives = _meta(runs["final"], "raw_ad_creative_metrics")
    assert creatives["sources"] == {"connector": list(AD_PLATFORMS)}
    assert set(creatives["rows_by_platform"]) == set(AD_PLATFORMS)
    assert creatives["rows_loaded_in_run"] == sum(creatives["rows_by_platform"].values()) > 0


def test_a_drifted_ad_record_is_quarantined_and_the_rest_loads(runs):
    q, rows, drifted = runs["quarantine"], runs["first_rows"], runs["drifted"]
    mine = q[(q["record_key"] == drifted) & (q["platform"] == "meta_ads")]
    assert len(mine) == 1 and "missing required field 'spend'" in mine["reason"].iloc[0]
    assert str(pd.Timestamp(mine["partition_date"].iloc[0]).date()) == "2026-10-11"
    day = rows[(rows["platform"] == "meta_ads") & (pd.to_datetime(rows["metric_date"]).dt.date == date(2026, 10, 11))]
    expected = runs["data"].creative_rows("meta_ads", date(2026, 10, 11), date(2026, 10, 11), T0)
    assert len(day) == len(expected) - 1 and drifted not in set(day["ad_id"])
    # the fixed record replaced its quarantine once it was read again
    assert runs["home"].query("select count(*) n from raw.raw_quarantine where source_table = 'raw_ad_creative_metrics'")["n"][0] == 0


def test_rerun_changes_nothing_and_the_ledger_spares_final_days_per_entity(runs):
    home = runs["home"]
    # every table as it was; the ledger records the rerun's own windows and requests, its days keep their status
    ledger = "raw.raw_fetch_ledger"
    assert {k: v for k, v in table_fingerprints(home.warehouse).items() if k != ledger} == {
        k: v for k, v in runs["prints"].items() if k != ledger
    }
    pd.testing.assert_frame_equal(home.query(_STATUSES), runs["statuses"])
    ledger = home.query(
        "select platform, entity, count(*) filter (where status = 'final') final from raw.raw_fetch_ledger group by all"
    )
    served = {(p, e) for p in AD_PLATFORMS for e in ENTITIES.values() if e != "boosts" or p != "google_ads"}
    assert set(zip(ledger["platform"], ledger["entity"])) == served
    assert (ledger["final"] >= 4).all()  # 10-10..10-13 are final at T_FINAL (lookback 4)
    for table, entity in ENTITIES.items():
        connectors = _meta(runs["again"], table)["connectors"]
        for platform, report in connectors.items():
            assert report["entity"] == entity and report["days_skipped_final"] == 4, (table, platform)
            assert report["fetched_window"] == "2026-10-14..2026-10-15"  # the days still restating
    # the ads a run reads come with their listing (Meta: the ads and their creative; LinkedIn: the creatives)
    for route in ("meta_ads.ads", "linkedin_ads.creatives"):
        assert runs["rerun_requests"] and any(r.route == route for r in runs["rerun_requests"])


def _li_boost_day(**cycle: object) -> dict:
    return {
        "pivotValues": ["urn:li:sponsoredCampaign:512500000", "urn:li:sponsoredCreative:51250000001"],
        "dateRange.start": {"year": 2026, "month": 10, "day": 12}, "dateRange.end": {"year": 2026, "month": 10, "day": 12},
        "impressions": 4300, "clicks": 51, "costInLocalCurrency": "25.88", "totalEngagements": 112,
        "cycle.account_id": "5001000", "cycle.currency": "USD", "cycle.post_urn": "urn:li:share:7100000739898000001",
        "cycle.daily_budget": "35.00",
        # 2026-10-10 00:00 UTC to 2026-10-13 00:00 UTC: the flight's last day is the 12th
        "cycle.run_start": 1791590400000, "cycle.run_end": 1791849600000,
        **cycle,
    }


def test_linkedin_boost_mapping_reads_the_flight_and_quarantines_what_it_cannot():
    native = pd.DataFrame(
        [
            _li_boost_day(),
            _li_boost_day(**{"cycle.run_end": "soon"}),
            _li_boost_day(**{"cycle.run_end": 1791763200000}),  # ended with the 11th: the 12th is outside its flight
        ]
    )
    parsed = parse_records(native, LINKEDIN_BOOST_MAPPING, days=[date(2026, 10, 12)])
    (row,) = parsed.rows.to_dict("records")
    assert row["boost_id"] == "li_51250000001" and row["post_id"] == "urn:li:share:7100000739898000001"
    assert (row["start_date"], row["end_date"], row["boost_date"]) == (date(2026, 10, 10), date(2026, 10, 12), date(2026, 10, 12))
    assert (row["ad_platform"], row["organic_platform"], row["campaign_id"]) == ("linkedin_ads", "linkedin", "512500000")
    assert (row["spend"], row["daily_budget"], row["paid_engagements"]) == (25.88, 35.0, 112)
    reasons = parsed.quarantine["reason"].tolist()
    assert "field '_end_date' not a YYYY-MM-DD date: 'soon'" in reasons[0]
    assert "boost_date outside the boost's start_date..end_date" in reasons[1]
    assert set(parsed.quarantine["platform"]) == {"linkedin_ads"}


def test_google_restores_a_video_ads_zero_quartile_rates_and_gives_other_ads_none():
    mask = ["adGroupAd.ad.id", "metrics.impressions", "metrics.clicks", "metrics.videoQuartileP25Rate",
            "metrics.videoQuartileP100Rate"]
    video = {"adGroupAd": {"ad": {"id": "1", "type": "VIDEO_RESPONSIVE_AD"}}, "metrics": {"impressions": "900", "videoQuartileP25Rate": 0.4}}
    search = {"adGroupAd": {"ad": {"id": "2", "type": "RESPONSIVE_SEARCH_AD"}}, "metrics": {"impressions": "500"}}
    assert _restore_zero_metrics(video, mask)["metrics"] == {
        "impressions": "900", "clicks": "0", "videoQuartileP25Rate": 0.4, "videoQuartileP100Rate": 0.0
    }
    assert _restore_zero_metrics(search, mask)["metrics"] == {"impressions": "500", "clicks": "0"}


def test_a_failing_ad_level_report_stops_its_platform_there_and_keeps_what_was_committed(tmp_path):
    """LinkedIn's creatives listing is down: the campaign days commit, the ad days stop with the error (nothing
    half-written, no ledger row), boosts are not attempted; the next run fetches those days again."""
    days = [date(2026, 10, 10), date(2026, 10, 11)]
    data = FakeDataset(CONFIG, POST_DAYS, days, boost_share=0.3)
    with FakePlatforms(data, FakeClock(T0), max_lifetime_seconds=30) as fake:
        fake.outage("linkedin_ads.creatives")
        linkedin_ads = LinkedInAdsResource(
            **fake.resource_kwargs("linkedin_ads"), token_encryption_key=KEY, secrets_dir=str(tmp_path / "secrets"),
            state_dir=str(tmp_path / "state"), timeout_seconds=1.0, backoff_base_seconds=0.01, as_of=T0.isoformat(),
            lookback_days=4,
        )
        con = duckdb.connect()
        reports = sync_ad_entities(con, linkedin_ads, days, logging.getLogger("test.ad_entities"), list(ENTITIES))
        # 503 on every try (5xx: 2 retries), then nothing more asked of LinkedIn
        assert [r.outcome for r in fake.requests("linkedin_ads.creatives")] == ["outage"] * 3
    campaigns, creatives, boosts = reports
    assert (campaigns.table, creatives.table, boosts.table) == tuple(ENTITIES)
    assert campaigns.error is None and campaigns.rows == len(data.ad_rows("linkedin_ads", days[0], days[-1], T0)) > 0
    assert creatives.error is not None and "creatives" in creatives.error and creatives.rows == 0
    assert boosts.error is None and boosts.rows == 0 and "days_fetched" not in boosts.details  # never started
    counts = dict(con.execute(
        "select entity, count(*) from raw.raw_fetch_ledger where platform = 'linkedin_ads' group by all").fetchall())
    assert counts == {"ad_campaigns": 4}  # the lookback 10-08..10-11, one committed window
    assert con.execute("select count(*) from raw.raw_ad_campaign_metrics").fetchone()[0] == campaigns.rows
