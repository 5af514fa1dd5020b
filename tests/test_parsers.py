"""Native payloads parse into canonical rows; every invalid record lands in quarantine with a reason."""

import json
from datetime import date, timedelta

import pandas as pd

from analytics_assets.sources.parsing.loader import parse_day
from analytics_assets.sources.parsing.parsers import AD_MAPPINGS, SOCIAL_MAPPINGS, TOUCHPOINT_MAPPING, parse_records
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import ground_truth as gt

DAY = date(2026, 5, 4)


def test_clean_day_parses_without_quarantine_and_keeps_every_record():
    sim_day = PlatformSimulator(SimulatorConfig(malformed_rate=0)).day(DAY)
    batches = parse_day(sim_day)
    snaps = batches["raw_social_post_snapshots"]
    assert snaps.quarantined == 0
    assert len(snaps.rows) == sum(len(f) for f in sim_day.social_posts.values())
    assert all(b.quarantined == 0 for b in batches.values())
    assert set(snaps.rows["platform"]) == set(gt.ORGANIC_PLATFORMS)
    assert (pd.to_datetime(snaps.rows["snapshot_at"]).dt.date == DAY).all()


def test_units_are_normalised_from_native_formats():
    sim_day = PlatformSimulator().day(DAY)
    google = sim_day.ad_campaigns["google_ads"]
    rows = parse_records(google, AD_MAPPINGS["google_ads"]).rows
    assert rows["spend"].tolist() == (google["metrics.costMicros"].astype(int) / 1e6).tolist()
    meta = sim_day.ad_campaigns["meta_ads"]
    rows = parse_records(meta, AD_MAPPINGS["meta_ads"]).rows
    purchases = [
        sum(float(a["value"]) for a in acts if a["action_type"] == "offsite_conversion.fb_pixel_purchase")
        for acts in meta["actions"]
    ]
    assert rows["conversions"].tolist() == purchases
    assert rows["spend"].tolist() == meta["spend"].astype(float).tolist()
    x = sim_day.social_posts["x"]
    rows = parse_records(x, SOCIAL_MAPPINGS["x"]).rows
    assert rows["comments"].tolist() == x["public_metrics.reply_count"].tolist()
    assert rows["published_at"].iloc[0] == pd.Timestamp(x["created_at"].iloc[0]).tz_convert(None)


def test_malformed_records_go_to_quarantine_with_reasons_and_nowhere_else():
    sim_day = PlatformSimulator(SimulatorConfig(malformed_rate=0.02)).day(DAY)
    injected = sim_day.malformed.groupby("entity").size()
    batches = parse_day(sim_day)
    entity_table = {
        "social_posts": "raw_social_post_snapshots",
        "ad_campaigns": "raw_ad_campaign_metrics",
        "boosts": "raw_boosts",
        "touchpoints": "raw_touchpoints",
        "ai_generations": "raw_ai_generations",
    }
    for entity, table in entity_table.items():
        batch = batches[table]
        assert batch.quarantined == injected.get(entity, 0), table
        assert batch.quarantine["reason"].str.len().gt(10).all()
        assert batch.quarantine["payload"].notna().all()
    snaps = batches["raw_social_post_snapshots"]
    total = sum(len(f) for f in sim_day.social_posts.values())
    assert len(snaps.rows) + snaps.quarantined == total
    # the valid rows hold none of the corrupt values
    assert (snaps.rows[["impressions", "likes", "comments"]] >= 0).all().all()
    assert snaps.rows["post_id"].notna().all()
    reasons = " | ".join(snaps.quarantine["reason"])
    assert "not an integer: 'n/a'" in reasons
    assert "missing required field 'share'" in reasons
    assert "snapshot_at is before published_at" in reasons


def test_touchpoints_carry_their_web_property_and_a_payload_without_one_is_still_loaded():
    native = PlatformSimulator(SimulatorConfig(malformed_rate=0)).day(DAY).touchpoints
    rows = parse_records(native, TOUCHPOINT_MAPPING).rows
    assert len(rows) == len(native) and (rows["property_id"] == "cycle-demo").all()
    # a snippet that sets no property (or a payload from before the field): a null, which staging reads as
    # the default property; never a quarantined journey
    legacy = parse_records(native.drop(columns="property_id"), TOUCHPOINT_MAPPING)
    assert legacy.quarantine.empty and len(legacy.rows) == len(native) and legacy.rows["property_id"].isna().all()


def test_missing_required_field_quarantines_the_whole_batch_with_the_field_named():
    x = PlatformSimulator().day(DAY).social_posts["x"].drop(columns=["public_metrics.like_count"])
    result = parse_records(x, SOCIAL_MAPPINGS["x"])
    assert result.rows.empty
    assert result.quarantine["reason"].str.contains("missing required field 'public_metrics.like_count'").all()
    assert len(result.quarantine) == len(x)


def test_a_record_dated_outside_the_window_is_quarantined_with_its_native_payload():
    """One quarantine builder for every reason: a record of another day keeps the platform's own fields."""
    sim_day = PlatformSimulator(SimulatorConfig(malformed_rate=0)).day(DAY)
    google = sim_day.ad_campaigns["google_ads"].copy()
    moved = google.index[0]
    google.loc[moved, "segments.date"] = "2026-05-05"
    parsed = parse_records(google, AD_MAPPINGS["google_ads"], days=[DAY])
    assert len(parsed.rows) == len(google) - 1 and (parsed.rows["metric_date"] == DAY).all()
    [record] = parsed.quarantine.to_dict(orient="records")
    assert record["reason"] == f"metric_date is not on the partition day {DAY.isoformat()}"
    assert record["record_key"] == str(google.loc[moved, AD_MAPPINGS["google_ads"].key_field])
    payload = json.loads(record["payload"])
    assert payload["segments.date"] == "2026-05-05" and "metrics.costMicros" in payload  # native, not canonical
    assert "metric_date" not in payload and "spend" not in payload
    # a window of several days (a connector's chunk) accepts any of them and names the window otherwise
    window = [DAY - timedelta(days=1), DAY]
    google.loc[moved, "segments.date"] = "2026-05-09"
    [reason] = parse_records(google, AD_MAPPINGS["google_ads"], days=window).quarantine["reason"]
    assert reason == f"metric_date outside the requested days {window[0]}..{window[1]}"
    assert parse_records(google, AD_MAPPINGS["google_ads"]).quarantine.empty  # no window: the source decides
