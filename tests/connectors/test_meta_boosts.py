"""Meta boosts (sources/connectors/platforms/meta.py, parsers.META_BOOST_MAPPING) against the fake platforms.

An ad whose creative promotes a post the page had already published (``object_story_id``: a Facebook page post;
``source_instagram_media_id``: an Instagram media) is a boost of that post. Every other ad carries an
``effective_object_story_id`` too (Meta sets it on the post it makes for any ad): not a boost. A boost's days are
its ad's ``level=ad`` insights (read once per window, shared with the ad-level report), with its ad set's flight
and daily budget; they land in raw_boosts through the sync machinery (ledger, chunked replace), idempotently.
The promoted posts are none Cycle tracks organically: only counted as such, never given invented snapshots.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import duckdb
import pandas as pd
import pytest

from analytics_assets.defs.ingest.connector_resources import AD_RESOURCES
from analytics_assets.defs.ingest.connector_sync import sync_ad_entities
from analytics_assets.sources.parsing.parsers import boost_mappings, parse_records
from fake_platforms import FakeClock, FakeDataset, FakePlatforms
from test_connector_clients import CONFIG, DAYS, KEY, NOW, make_client

COLUMNS = ["boost_id", "organic_platform", "post_id", "ad_platform", "campaign_id", "boost_date", "start_date",
           "end_date", "currency", "daily_budget", "spend", "paid_impressions", "paid_engagements", "paid_clicks"]


@pytest.fixture(scope="module")
def dataset() -> FakeDataset:
    # three campaigns: a Facebook and an Instagram boost among the ads; every day final at once
    return FakeDataset(replace(CONFIG, campaigns_per_platform=3), DAYS, DAYS, settle_days=0)


@pytest.fixture
def fake(dataset):
    with FakePlatforms(dataset, FakeClock(NOW), max_lifetime_seconds=60) as server:
        yield server


def _truth(dataset: FakeDataset) -> pd.DataFrame:
    truth = dataset.final_boosts(DAYS[0], DAYS[-1])
    return truth[truth["ad_platform"] == "meta_ads"].sort_values(["boost_id", "boost_date"]).reset_index(drop=True)


def _same(got: pd.DataFrame, truth: pd.DataFrame) -> None:
    got = got.sort_values(["boost_id", "boost_date"]).reset_index(drop=True)
    for col in ("boost_date", "start_date", "end_date"):
        got[col] = pd.to_datetime(got[col]).dt.date
    text = [c for c in COLUMNS if c not in ("spend", "daily_budget")]
    assert got[text].astype(str).values.tolist() == truth[text].astype(str).values.tolist()
    assert (got["spend"].round(2) == truth["spend"].round(2)).all()
    assert (got["daily_budget"] == truth["daily_budget"]).all()


def test_ads_promoting_a_published_post_are_boosts_with_their_ads_delivery(fake, dataset, tmp_path):
    clock = fake.clock
    with make_client(fake, "meta_ads", tmp_path, clock) as client:
        creatives = client.fetch_creatives(DAYS[0], DAYS[-1])
        native = client.fetch_boosts(DAYS[0], DAYS[-1])
        details = client.entity_details()
    # one read per account (its first page, then paging.next): the ad-level report and the boosts share it
    insights = fake.requests("meta_ads.insights")
    ad_level = [r for r in insights if r.query.get("level") == "ad" and "after" not in r.query]
    assert len(ad_level) == len(dataset.accounts("meta_ads"))
    parsed = parse_records(native, boost_mappings()["meta_ads"])
    assert len(parsed.quarantine) == 0
    truth = _truth(dataset)
    _same(parsed.rows, truth)
    assert set(truth["organic_platform"]) == {"facebook", "instagram"}
    # every ad has an effective_object_story_id; only the SHARE ads promote a post that was published
    ads = dataset.creatives
    shares = ads[(ads["platform"] == "meta_ads") & (ads["creative_format"] == "SHARE")]
    assert set(parsed.rows["boost_id"]) == {f"meta_{a}" for a in shares["ad_id"]}
    assert creatives["ad_id"].nunique() > len(shares)
    # paid engagements: the post_engagement action; the flight: the ad set's days (end_time exclusive)
    assert (parsed.rows["paid_engagements"] > parsed.rows["paid_clicks"]).all()
    assert (parsed.rows["boost_date"] <= parsed.rows["end_date"]).all()
    assert details["boosts"]["untracked_boosted_posts"] == len(shares)


def test_meta_boosts_land_in_raw_boosts_through_the_sync_and_a_rerun_changes_nothing(fake, dataset, tmp_path):
    resource = AD_RESOURCES["meta_ads"](
        **fake.resource_kwargs("meta_ads"), token_encryption_key=KEY, secrets_dir=str(tmp_path / "secrets"),
        state_dir=str(tmp_path / "state"), timeout_seconds=1.0, backoff_base_seconds=0.01, as_of=NOW.isoformat(),
        lookback_days=1,
    )
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    log = logging.getLogger("test.meta_boosts")
    (report,) = sync_ad_entities(con, resource, DAYS, log, ["raw_boosts"])
    assert report.error is None and report.quarantined == 0 and report.rows == len(_truth(dataset)) > 0
    assert report.details["untracked_boosted_posts"] > 0
    stored = con.execute(f"select {', '.join(COLUMNS)} from raw.raw_boosts").df()
    _same(stored, _truth(dataset))
    ledger = con.execute(
        "select count(*) from raw.raw_fetch_ledger where platform = 'meta_ads' and entity = 'boosts'"
    ).fetchone()
    assert ledger[0] >= len(DAYS)

    (again,) = sync_ad_entities(con, resource, DAYS, log, ["raw_boosts"])  # the lookback is read again: replaced
    assert again.error is None
    rerun = con.execute(f"select {', '.join(COLUMNS)} from raw.raw_boosts").df()
    pd.testing.assert_frame_equal(
        rerun.sort_values(["boost_id", "boost_date"]).reset_index(drop=True),
        stored.sort_values(["boost_id", "boost_date"]).reset_index(drop=True),
    )
    con.close()


def test_the_warehouse_exempts_exactly_the_untracked_platforms_from_waiting_for_their_post():
    """dbt lets a boost of an untracked platform into the facts without its post's snapshots (macros/held_back.sql,
    cycle_untracked_boost_platforms) and its relationships tests skip those rows by the same list, written out in
    the yml: both must be the platforms the raw contract accepts as untracked, or a Meta boost would be held back
    forever (a platform missing) or a tracked boost would enter without its post (one too many)."""
    import re
    from pathlib import Path

    from analytics_assets.contracts.raw import UNTRACKED_BOOST_PLATFORMS

    dbt = Path(__file__).resolve().parents[2] / "dbt"
    macro = (dbt / "macros" / "held_back.sql").read_text()
    (listed,) = re.findall(r"macro cycle_untracked_boost_platforms\(\).*?return\(\[([^\]]*)\]\)", macro, re.S)
    assert tuple(re.findall(r"'([a-z_]+)'", listed)) == UNTRACKED_BOOST_PLATFORMS
    quoted = ", ".join(f"'{p}'" for p in UNTRACKED_BOOST_PLATFORMS)
    yml = (dbt / "models" / "intermediate" / "int_boosts_with_parents.yml").read_text()
    assert f"organic_platform not in ({quoted})" in yml
