"""Native payloads parse into canonical rows; every invalid record lands in quarantine with a reason."""

import functools
import json
from datetime import date, timedelta

import pandas as pd
import pytest

from analytics_assets.sources.parsing.loader import parse_day
from analytics_assets.sources.parsing.parsers import (
    AD_MAPPINGS,
    META_CONVERSION_ACTION_TYPES,
    SOCIAL_MAPPINGS,
    TOUCHPOINT_MAPPING,
    ad_mappings,
    creative_mappings,
    parse_records,
    per_distinct_text,
)
from analytics_assets.settings import SettingsError, load_settings
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import ground_truth as gt

DAY = date(2026, 5, 4)


@functools.lru_cache(maxsize=1)
def _clean_day():
    """One clean simulated day, made once (callers copy what they change)."""
    return PlatformSimulator(SimulatorConfig(malformed_rate=0)).day(DAY)


def _meta_purchases(entries: list[dict]) -> float:
    """What a Meta row counts: the value of the first purchase type of the default priority it reports
    (never the sum: Meta repeats one purchase under each type)."""
    by_type = {a["action_type"]: float(a["value"]) for a in entries}
    return next((by_type[t] for t in META_CONVERSION_ACTION_TYPES if t in by_type), 0.0)


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
    assert rows["conversions"].tolist() == [_meta_purchases(acts) for acts in meta["actions"]]
    assert rows["conversion_value"].tolist() == [_meta_purchases(vals) for vals in meta["action_values"]]
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


PIXEL = "offsite_conversion.fb_pixel_purchase"


def _meta_row(actions: dict[str, str], values: dict[str, str]) -> pd.DataFrame:
    """One Meta campaign-day of the simulator with the given purchase types (type -> count / value)."""
    row = _clean_day().ad_campaigns["meta_ads"].head(1).copy()
    row["actions"] = [[{"action_type": "link_click", "value": "40"}] + [{"action_type": t, "value": v} for t, v in actions.items()]]
    row["action_values"] = [[{"action_type": t, "value": v} for t, v in values.items()]]
    return row


def test_meta_purchases_reported_under_every_type_are_counted_once():
    meta = _clean_day().ad_campaigns["meta_ads"]
    # the simulator reports each purchase as Meta does: under all three types, with the same numbers
    assert all({a["action_type"] for a in acts} >= set(META_CONVERSION_ACTION_TYPES) for acts in meta["actions"])
    rows = parse_records(meta, AD_MAPPINGS["meta_ads"]).rows
    pixel = [sum(float(a["value"]) for a in acts if a["action_type"] == PIXEL) for acts in meta["actions"]]
    pixel_value = [sum(float(a["value"]) for a in vals if a["action_type"] == PIXEL) for vals in meta["action_values"]]
    assert sum(pixel) > 0 and rows["conversions"].tolist() == pixel  # one type's count, not three times it
    assert rows["conversion_value"].round(2).tolist() == [round(v, 2) for v in pixel_value]
    # ad level reads the same way
    creatives = _clean_day().ad_creatives["meta_ads"]
    ad_rows = parse_records(creatives, creative_mappings()["meta_ads"]).rows
    assert ad_rows["conversions"].sum() == sum(
        float(a["value"]) for acts in creatives["actions"] for a in acts if a["action_type"] == PIXEL
    )


def test_meta_conversion_type_priority_is_omni_then_purchase_then_pixel():
    every = _meta_row({PIXEL: "7", "purchase": "5", "omni_purchase": "3"}, {PIXEL: "70.00", "purchase": "50.00", "omni_purchase": "30.00"})
    [row] = parse_records(every, AD_MAPPINGS["meta_ads"]).rows.to_dict("records")
    assert (row["conversions"], row["conversion_value"]) == (3.0, 30.0)
    no_omni = _meta_row({PIXEL: "7", "purchase": "5"}, {PIXEL: "70.00", "purchase": "50.00"})
    [row] = parse_records(no_omni, AD_MAPPINGS["meta_ads"]).rows.to_dict("records")
    assert (row["conversions"], row["conversion_value"]) == (5.0, 50.0)
    pixel_only = _meta_row({PIXEL: "7"}, {PIXEL: "70.00"})
    [row] = parse_records(pixel_only, AD_MAPPINGS["meta_ads"]).rows.to_dict("records")
    assert (row["conversions"], row["conversion_value"]) == (7.0, 70.0)
    # the value is the chosen type's, even when another type's value is the only one reported
    [row] = parse_records(_meta_row({"purchase": "5"}, {PIXEL: "70.00"}), AD_MAPPINGS["meta_ads"]).rows.to_dict("records")
    assert (row["conversions"], row["conversion_value"]) == (5.0, 0.0)
    # no purchase among the actions (a count rounded down to 0): the value is still one type's, by priority
    values_only = _meta_row({}, {PIXEL: "70.00", "omni_purchase": "70.00", "purchase": "70.00"})
    [row] = parse_records(values_only, AD_MAPPINGS["meta_ads"]).rows.to_dict("records")
    assert (row["conversions"], row["conversion_value"]) == (0.0, 70.0)


def test_the_deployment_chooses_the_meta_conversion_types():
    row = _meta_row({PIXEL: "7", "purchase": "5", "omni_purchase": "3"}, {PIXEL: "70.00", "purchase": "50.00", "omni_purchase": "30.00"})
    configured = load_settings({"CYCLE_META_CONVERSION_ACTION_TYPES": f" {PIXEL} , purchase "}).meta_conversion_action_types
    [parsed] = parse_records(row, ad_mappings(configured)["meta_ads"]).rows.to_dict("records")
    assert (parsed["conversions"], parsed["conversion_value"]) == (7.0, 70.0)
    [parsed] = parse_records(row, ad_mappings(["purchase"])["meta_ads"]).rows.to_dict("records")
    assert parsed["conversions"] == 5.0
    # a row reporting none of the configured types has no conversions (not another type's)
    [parsed] = parse_records(_meta_row({PIXEL: "7"}, {PIXEL: "70.00"}), ad_mappings(["purchase"])["meta_ads"]).rows.to_dict("records")
    assert (parsed["conversions"], parsed["conversion_value"]) == (0.0, 0.0)
    # the simulated day's loader takes the list too
    batch = parse_day(_clean_day(), ["purchase"])["raw_ad_campaign_metrics"]
    assert batch.quarantined == 0 and batch.rows.loc[batch.rows["platform"] == "meta_ads", "conversions"].sum() > 0


@pytest.mark.parametrize(
    ("value", "message"),
    [(" , ", "no action type"), ("purchase,purchase", "more than once: purchase"), ("purchase;omni", "not an action type")],
)
def test_a_malformed_meta_conversion_type_list_is_refused_when_the_settings_load(value, message):
    with pytest.raises(SettingsError, match="CYCLE_META_CONVERSION_ACTION_TYPES") as err:
        load_settings({"CYCLE_META_CONVERSION_ACTION_TYPES": value})
    assert message in str(err.value)


def test_an_unknown_meta_conversion_type_is_refused_before_anything_is_parsed():
    # well formed, so the settings load; the parser knows Meta's types and names the variable and the typo
    configured = load_settings({"CYCLE_META_CONVERSION_ACTION_TYPES": "omni_purchase,purchse"}).meta_conversion_action_types
    with pytest.raises(ValueError, match=r"CYCLE_META_CONVERSION_ACTION_TYPES.*unknown \['purchse'\]"):
        ad_mappings(configured)
    with pytest.raises(ValueError, match="CYCLE_META_CONVERSION_ACTION_TYPES"):
        parse_day(_clean_day(), configured)
    with pytest.raises(ValueError, match="the list is empty"):
        creative_mappings([])
    assert ad_mappings(["offsite_conversion.custom.123456"])["meta_ads"].derive is not None  # custom conversions


def _one(platform: str, **fields) -> pd.DataFrame:
    """The first simulated snapshot of ``platform`` with ``fields`` replaced (None: the field is absent)."""
    native = _clean_day().social_posts[platform].head(1).copy()
    for name, value in fields.items():
        if value is None:
            native = native.drop(columns=name)
        else:
            native[name] = [value]
    return native


def _identity(native: pd.DataFrame, platform: str) -> dict:
    result = parse_records(native, SOCIAL_MAPPINGS[platform])
    assert result.quarantine.empty, result.quarantine["reason"].tolist()
    [row] = result.rows[["post_url", "post_excerpt", "author_name"]].to_dict("records")
    return row


def test_each_platform_maps_its_post_identity_fields():
    text = "Launch day!\n\nOur   new release\tis out."
    assert _identity(_one("linkedin", share="urn:li:share:7100", commentary=text), "linkedin") == {
        "post_url": "https://www.linkedin.com/feed/update/urn:li:share:7100/",
        "post_excerpt": "Launch day! Our new release is out.",
        "author_name": None,  # a share's payload names the organization by URN only
    }
    assert _identity(_one("x", id="1789", text=text, **{"author.username": "cycle_hq"}), "x") == {
        "post_url": "https://x.com/cycle_hq/status/1789",
        "post_excerpt": "Launch day! Our new release is out.",
        "author_name": "cycle_hq",
    }
    # without the author expansion X's own redirect still reaches the post
    assert _identity(_one("x", id="1789", **{"author.username": None}), "x")["post_url"] == "https://x.com/i/web/status/1789"
    # a link post: its title and no body (the simulated post may be a self post, whose selftext the excerpt reads)
    assert _identity(_one("reddit", permalink="/r/marketing/comments/abc12/launch_day/", title=text, selftext="",
                          author="cycle_hq"), "reddit") == {
        "post_url": "https://www.reddit.com/r/marketing/comments/abc12/launch_day/",
        "post_excerpt": "Launch day! Our new release is out.",
        "author_name": "cycle_hq",
    }
    assert _identity(_one("reddit", name="t3_abc12", permalink=None), "reddit")["post_url"] == "https://www.reddit.com/comments/abc12/"
    assert _identity(_one("tiktok", id="7301", username="cycle_hq", video_description=text), "tiktok") == {
        "post_url": "https://www.tiktok.com/@cycle_hq/video/7301",
        "post_excerpt": "Launch day! Our new release is out.",
        "author_name": "cycle_hq",
    }
    share = "https://www.tiktok.com/@cycle_hq/video/7301?is_from_webapp=1"
    assert _identity(_one("tiktok", share_url=share), "tiktok")["post_url"] == share  # the Display API's own link
    # a payload without any of them still loads, with a null identity
    bare = _one("tiktok", video_description=None, username=None)
    assert _identity(bare, "tiktok") == {"post_url": None, "post_excerpt": None, "author_name": None}


def test_the_excerpt_is_at_most_280_characters_with_whitespace_collapsed():
    long = ("word  \n" * 100).strip()
    excerpt = _identity(_one("linkedin", commentary=long), "linkedin")["post_excerpt"]
    assert len(excerpt) == 280 and excerpt.endswith("\u2026") and "  " not in excerpt and "\n" not in excerpt
    assert _identity(_one("linkedin", commentary=" \n\t "), "linkedin")["post_excerpt"] is None
    assert _identity(_one("x", text="x" * 280), "x")["post_excerpt"] == "x" * 280  # exactly the limit: kept whole
    # the simulator's texts have each post's length: long LinkedIn posts are cut, every excerpt fits
    snaps = parse_day(_clean_day())["raw_social_post_snapshots"].rows
    assert snaps["post_excerpt"].notna().all() and snaps["post_excerpt"].str.len().max() == 280
    assert snaps["post_url"].str.startswith("https://").all()


def test_a_post_link_that_is_not_https_is_quarantined_with_the_reason():
    for platform, field in (("tiktok", "share_url"), ("reddit", "permalink")):
        native = _one(platform, **{field: "javascript:alert(1)"})
        result = parse_records(native, SOCIAL_MAPPINGS[platform])
        assert result.rows.empty
        [reason] = result.quarantine["reason"]
        assert "post_url" in reason and "javascript:alert(1)" in json.loads(result.quarantine["payload"][0])[field]


def test_text_fields_are_mapped_once_per_distinct_string_and_value_by_value_otherwise():
    """A post's id and text repeat in each of its polls: a string column is mapped once per distinct value, each
    missing value as it is; numbers or a mix go value by value, since a hash would take 1, 1.0 and True for one."""
    calls = []

    def tag(v):
        calls.append(v)
        return None if v is None else f"<{v}>"

    strings = pd.Series(["a", "b", "a", None, "a", float("nan")], index=[5, 4, 3, 2, 1, 0])
    out = per_distinct_text(strings, tag)
    assert out.tolist() == ["<a>", "<b>", "<a>", None, "<a>", "<nan>"] and out.index.equals(strings.index)
    assert out.dtype == object and calls.count("a") == 1 and len(calls) == 4
    mixed = pd.Series([1, 1.0, True, "1"], dtype=object)
    assert per_distinct_text(mixed, tag).tolist() == ["<1>", "<1.0>", "<True>", "<1>"]
