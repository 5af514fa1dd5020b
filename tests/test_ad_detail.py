"""Ad creatives and campaign settings: the simulator plants them in each platform's native ad-level
shape, the parsers bring them into the raw contract, and what does not parse is quarantined."""

from __future__ import annotations

import functools
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from analytics_assets.sources.parsing.loader import parse_day
from analytics_assets.sources.parsing.parsers import AD_MAPPINGS, CREATIVE_MAPPINGS, parse_records
from analytics_assets.contracts.raw import AD_CAMPAIGN_METRICS, AD_CREATIVE_METRICS
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import ad_detail
from analytics_assets.sources.simulator import ground_truth as gt
from analytics_assets.sources.simulator.core import _ad_day, campaigns
from analytics_assets.storage.warehouse import connect, replace_partitions

DAY = date(2026, 6, 2)
SIM = SimulatorConfig(seed=3, posts_per_day=40, journeys_per_day=10, ai_generations_per_day=5)
MEASURES = ["impressions", "clicks", "spend", "conversions", "conversion_value"]
QUARTILES = ["video_p25_views", "video_p50_views", "video_p75_views", "video_p100_views"]


@functools.lru_cache(maxsize=1)
def clean_day():
    """One simulated day and its parsed batches (read-only: tests that corrupt records make their own)."""
    sim_day = PlatformSimulator(SIM).day(DAY)
    return sim_day, parse_day(sim_day)


def test_creatives_add_up_to_their_campaign_to_the_cent_on_every_platform():
    _, batches = clean_day()
    creatives = batches[AD_CREATIVE_METRICS.name].rows
    campaign_rows = batches[AD_CAMPAIGN_METRICS.name].rows
    assert set(creatives["platform"]) == set(gt.AD_PLATFORMS)
    sums = creatives.groupby(["platform", "campaign_id"])[MEASURES].sum()
    expected = campaign_rows.set_index(["platform", "campaign_id"])[MEASURES]
    # every campaign, boosts included, has ads; the ads add up exactly (money to the cent)
    assert sorted(sums.index) == sorted(expected.index)
    diff = (sums.reindex(expected.index).astype(float) - expected.astype(float)).abs()
    assert diff.max().max() < 0.005
    per_campaign = creatives.groupby("campaign_id").size()
    assert per_campaign.min() >= 1 and per_campaign.max() <= gt.CREATIVES_PER_CAMPAIGN[1]
    # reach does not add up, but an ad never reaches more people than it has impressions
    reach = creatives.dropna(subset=["reach"])
    assert (reach["reach"] <= reach["impressions"]).all()
    assert creatives.loc[creatives["platform"] == "google_ads", "reach"].isna().all()


def test_video_quartiles_exist_only_for_video_ads_and_shrink_quartile_by_quartile():
    sim_day, batches = clean_day()
    rows = batches[AD_CREATIVE_METRICS.name].rows
    is_video = rows["creative_format"].isin(gt.VIDEO_FORMATS)
    assert is_video.any() and (~is_video).any()
    assert rows.loc[~is_video, QUARTILES].isna().all().all()
    assert set(rows.loc[is_video, "platform"]) == set(gt.AD_PLATFORMS)
    assert rows.loc[is_video, QUARTILES].notna().all().all()
    video = rows.loc[is_video & (rows["impressions"] > 0)]
    q = video[QUARTILES].astype(int).to_numpy()
    assert (np.diff(q, axis=1) <= 0).all() and (q[:, 0] <= video["impressions"].to_numpy()).all()
    # Google reports shares of impressions: the parser turns them back into the exact view counts
    google = sim_day.ad_creatives["google_ads"]
    g = google[google["metrics.videoQuartileP25Rate"].notna()].iloc[0]
    parsed = rows.set_index("ad_id").loc[g["adGroupAd.ad.id"]]
    assert parsed["video_p25_views"] == round(g["metrics.videoQuartileP25Rate"] * int(g["metrics.impressions"]))
    # Meta's come as video_view actions, LinkedIn's as completion counts
    meta = sim_day.ad_creatives["meta_ads"]
    m = meta[meta["video_p100_watched_actions"].map(lambda a: isinstance(a, list))].iloc[0]
    assert rows.set_index("ad_id").loc[m["ad_id"], "video_p100_views"] == int(m["video_p100_watched_actions"][0]["value"])


def test_campaign_settings_change_on_some_days_deterministically_and_shape_delivery():
    catalog = campaigns(SIM)
    days = [DAY + timedelta(days=k) for k in range(30)]
    history = pd.concat(
        [ad_detail.campaign_settings(catalog, SIM.seed, d).assign(day=d, campaign_id=catalog["campaign_id"]) for d in days]
    )
    # the same day gives the same settings whatever was generated before
    again = ad_detail.campaign_settings(catalog, SIM.seed, days[17])
    pd.testing.assert_frame_equal(again, history[history["day"] == days[17]].drop(columns=["day", "campaign_id"]))
    settings = ["status", "objective", "budget_factor", "bidding_strategy"]
    changed = history.groupby("campaign_id")[settings].apply(lambda f: (f != f.shift()).iloc[1:].any(axis=1).sum())
    assert changed.sum() > 0  # settings do change...
    assert (changed < len(days) / 3).all()  # ...on some days only
    assert set(history["status"]) == {"ENABLED", "ACTIVE", "PAUSED"}
    # a paused campaign delivers nothing; spend stays within the day's budget, which follows the settings
    delivery = pd.concat([_ad_day(SIM, d) for d in days])
    paused = delivery["status"] == "PAUSED"
    assert paused.any() and (delivery.loc[paused, ["impressions", "clicks", "spend_local"]] == 0).all().all()
    assert (delivery.loc[~paused, "impressions"] > 0).all()
    assert (delivery["spend_local"] <= delivery["daily_budget_local"] + 0.01).all()
    assert delivery.groupby("campaign_id")["daily_budget_local"].nunique().gt(1).any()


def test_settings_are_parsed_from_each_platforms_fields_and_are_optional():
    sim_day, _ = clean_day()
    google = sim_day.ad_campaigns["google_ads"]
    rows = parse_records(google, AD_MAPPINGS["google_ads"]).rows
    assert rows["daily_budget"].tolist() == (google["campaignBudget.amountMicros"].astype(int) / 1e6).tolist()
    assert rows["objective"].tolist() == google["campaign.advertisingChannelType"].tolist()
    meta = sim_day.ad_campaigns["meta_ads"]
    rows = parse_records(meta, AD_MAPPINGS["meta_ads"]).rows
    assert rows["daily_budget"].tolist() == (meta["campaign.daily_budget"].astype(int) / 100).tolist()
    assert rows["campaign_status"].tolist() == meta["campaign.effective_status"].tolist()
    linkedin = sim_day.ad_campaigns["linkedin_ads"]
    rows = parse_records(linkedin, AD_MAPPINGS["linkedin_ads"]).rows
    assert rows["bidding_strategy"].tolist() == linkedin["campaign.optimizationTargetType"].tolist()
    assert rows["reach"].tolist() == linkedin["approximateMemberReach"].tolist()
    # a client that sends no settings (or no video metrics) loses nothing: the fields are null
    for platform, frame in sim_day.ad_campaigns.items():
        bare = frame.drop(columns=[c for c in frame if c.startswith(("campaign.", "campaignBudget.", "objective"))
                                   and c not in ("campaign.id", "campaign.name")])
        parsed = parse_records(bare, AD_MAPPINGS[platform])
        assert len(parsed.quarantine) == 0 and len(parsed.rows) == len(frame), platform
        assert parsed.rows[["campaign_status", "objective", "daily_budget", "bidding_strategy"]].isna().all().all()
    for platform, frame in sim_day.ad_creatives.items():
        bare = frame.drop(columns=[c for c in frame if "video" in c.lower() or "Quartile" in c])
        parsed = parse_records(bare, CREATIVE_MAPPINGS[platform])
        assert len(parsed.quarantine) == 0 and len(parsed.rows) == len(frame), platform
        assert parsed.rows[QUARTILES].isna().all().all()


def test_malformed_ad_records_are_quarantined_with_their_reason():
    sim_day = PlatformSimulator(SimulatorConfig(seed=3, posts_per_day=40, malformed_rate=0.2)).day(DAY)
    injected = sim_day.malformed[sim_day.malformed["entity"] == "ad_creatives"]
    assert len(injected) > 3
    parsed = [parse_records(f, CREATIVE_MAPPINGS[p]) for p, f in sim_day.ad_creatives.items()]
    quarantine = pd.concat([p.quarantine for p in parsed])
    assert len(quarantine) == len(injected)
    assert quarantine["reason"].str.len().gt(10).all()
    assert quarantine["payload"].notna().all()
    total = sum(len(f) for f in sim_day.ad_creatives.values())
    assert sum(len(p.rows) for p in parsed) + len(quarantine) == total
    # a later quartile above an earlier one breaks the contract too
    frame = clean_day()[0].ad_creatives["linkedin_ads"].copy()
    video = frame.index[frame["videoCompletions"].notna()][0]
    frame.loc[video, "videoCompletions"] = int(frame.loc[video, "videoFirstQuartileCompletions"]) + 1
    parsed = parse_records(frame, CREATIVE_MAPPINGS["linkedin_ads"])
    assert len(parsed.quarantine) == 1 and "later video quartile" in parsed.quarantine["reason"].iloc[0]


def test_a_warehouse_created_before_a_column_was_added_still_loads(tmp_path):
    # raw_ad_campaign_metrics as it was before the settings columns existed
    old = {c: t for c, t in AD_CAMPAIGN_METRICS.columns.items()
           if c not in ("campaign_status", "objective", "daily_budget", "bidding_strategy")}
    path = tmp_path / "warehouse.duckdb"
    with connect(path) as con:
        con.execute("create schema raw")
        con.execute(f"create table {AD_CAMPAIGN_METRICS.qualified_name} ({', '.join(f'{c} {t}' for c, t in old.items())})")
        batch = clean_day()[1][AD_CAMPAIGN_METRICS.name]
        replace_partitions(con, AD_CAMPAIGN_METRICS, batch.rows, batch.quarantine, DAY, DAY)
    con = duckdb.connect(str(path), read_only=True)
    try:
        stored = con.execute(f"select * from {AD_CAMPAIGN_METRICS.qualified_name} order by platform, campaign_id").df()
    finally:
        con.close()
    assert len(stored) == len(batch.rows)
    expected = batch.rows.sort_values(["platform", "campaign_id"]).reset_index(drop=True)
    assert stored["daily_budget"].tolist() == expected["daily_budget"].tolist()
    assert stored["spend"].tolist() == expected["spend"].tolist()
