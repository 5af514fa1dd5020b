"""The simulator is the ground truth the pipeline is checked against: it must be exact about itself."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import ground_truth as gt
from analytics_assets.sources.simulator.core import posts_published_on

DAY = date(2026, 3, 10)


def test_same_seed_and_day_give_identical_records_whatever_came_before():
    a = PlatformSimulator(SimulatorConfig(seed=3)).day(DAY)
    sim_b = PlatformSimulator(SimulatorConfig(seed=3))
    sim_b.day(DAY + timedelta(days=5))  # generating other days first must not change this one
    b = sim_b.day(DAY)
    for platform in a.social_posts:
        pd.testing.assert_frame_equal(a.social_posts[platform], b.social_posts[platform])
    pd.testing.assert_frame_equal(a.touchpoints, b.touchpoints)
    pd.testing.assert_frame_equal(a.ad_campaigns["meta_ads"], b.ad_campaigns["meta_ads"])
    c = PlatformSimulator(SimulatorConfig(seed=4)).day(DAY)
    assert not a.social_posts["x"].equals(c.social_posts["x"])


def test_records_use_each_platforms_native_fields_and_units():
    day = PlatformSimulator().day(DAY)
    assert {"public_metrics.like_count", "public_metrics.impression_count", "created_at"} <= set(day.social_posts["x"])
    assert {"totalShareStatistics.impressionCount", "share", "created.time"} <= set(day.social_posts["linkedin"])
    assert {"ups", "num_comments", "created_utc", "name"} <= set(day.social_posts["reddit"])
    assert {"view_count", "like_count", "create_time"} <= set(day.social_posts["tiktok"])
    google = day.ad_campaigns["google_ads"]
    assert google["metrics.costMicros"].map(type).eq(str).all()  # int64 arrives as a JSON string
    meta = day.ad_campaigns["meta_ads"]
    assert meta["spend"].str.fullmatch(r"\d+\.\d{2}").all()
    assert set(meta["account_currency"]) <= set(gt.USD_PER_UNIT)
    assert day.social_posts["reddit"]["name"].str.startswith("t3_").all()


def test_reddit_self_posts_carry_their_body_as_selftext_and_the_excerpt_reads_it_after_the_title():
    """A self post (media_type text) is its opening sentence as the title and the rest of its text as
    ``selftext``, as Reddit serves it (and the fake platform server does); a link or media post has no body."""
    from analytics_assets.contracts.raw import POST_EXCERPT_CHARS
    from analytics_assets.sources.parsing.parsers import SOCIAL_MAPPINGS, parse_records
    from analytics_assets.sources.simulator.post_text import post_text

    reddit = PlatformSimulator(SimulatorConfig(posts_per_day=40)).day(DAY).social_posts["reddit"]
    posts = posts_published_on(SimulatorConfig(posts_per_day=40), DAY - timedelta(days=1)).set_index("post_id")
    is_self = reddit["cycle.media_type"].eq("text")
    assert is_self.any() and (~is_self).any()
    assert (reddit.loc[~is_self, "selftext"] == "").all()
    assert (reddit.loc[is_self, "selftext"] != "").mean() > 0.9  # a text of one sentence has no body
    assert reddit["title"].str.len().le(300).all() and not reddit["title"].str.contains("\n").any()
    for _, row in reddit[is_self & reddit["name"].isin(posts.index)].drop_duplicates("name").iterrows():
        p = posts.loc[row["name"]]
        full = post_text("reddit", row["name"], p["hook_type"], p["topic"], int(p["text_length"]))
        assert " ".join(f"{row['title']} {row['selftext']}".split()) == " ".join(full.split())  # nothing lost
    parsed = parse_records(reddit, SOCIAL_MAPPINGS["reddit"]).rows
    first = reddit.index[is_self & reddit["selftext"].str.len().gt(20)][0]
    body = " ".join(reddit.loc[first, "selftext"].split())
    excerpt = parsed.loc[first, "post_excerpt"]
    assert excerpt.startswith(f"{reddit.loc[first, 'title']} {body[:20]}") and len(excerpt) <= POST_EXCERPT_CHARS


def test_counters_grow_with_post_age_and_snapshots_fall_on_the_day():
    sim = PlatformSimulator()
    frames = []
    for d in (DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)):
        x = sim.day(d).social_posts["x"]
        polled = pd.to_datetime(x["cycle.polled_at"]).dt.tz_convert(None)
        assert (polled.dt.date == d).all()
        frames.append(x.assign(polled=polled))
    x = pd.concat(frames).sort_values(["id", "polled"])
    diffs = x.groupby("id")["public_metrics.impression_count"].diff().dropna()
    assert len(diffs) > 1000 and (diffs >= 0).all()
    # polled every 2 hours while young, then every 6 hours
    gaps = x.groupby("id")["polled"].diff().dropna().dt.total_seconds() / 3600
    assert set(np.round(gaps).astype(int)) <= {2, 6}


def test_volume_is_a_parameter():
    small = PlatformSimulator(SimulatorConfig(posts_per_day=40, journeys_per_day=10)).day(DAY)
    big = PlatformSimulator(SimulatorConfig(posts_per_day=400, journeys_per_day=100)).day(DAY)
    n_small = sum(len(f) for f in small.social_posts.values())
    n_big = sum(len(f) for f in big.social_posts.values())
    assert 8 < n_big / n_small < 12
    assert big.touchpoints["journey_id"].nunique() == 100


def test_planted_hour_effect_is_visible_in_the_posts_it_generates():
    cfg = SimulatorConfig(posts_per_day=2000)
    posts = pd.concat([posts_published_on(cfg, DAY + timedelta(days=k)) for k in range(3)])
    posts["rate"] = posts["likes_total"].astype(float) / posts["impressions_total"]
    for platform in gt.ORGANIC_PLATFORMS:
        p = posts[posts["platform"] == platform]
        by_hour = p.groupby("publish_hour")["rate"].median()
        peak = gt.strongest_posting_hour(platform)
        assert abs(by_hour.idxmax() - peak) % 24 in (0, 1, 23), platform


def test_behaviour_shift_changes_the_content_mix_from_its_start_day():
    cfg = SimulatorConfig(shift_start=DAY + timedelta(days=1), posts_per_day=400)
    before = posts_published_on(cfg, DAY)
    after = posts_published_on(cfg, DAY + timedelta(days=1))
    non_tiktok = lambda f: f[f["platform"] != "tiktok"]  # noqa: E731
    assert (non_tiktok(after)["media_type"] == "video").mean() > 0.6 > (non_tiktok(before)["media_type"] == "video").mean()
    assert after["text_length"].median() > 2 * before["text_length"].median()
    assert (after["publish_hour"] >= 17).mean() > 0.7


def test_malformed_records_are_injected_and_logged():
    day = PlatformSimulator(SimulatorConfig(malformed_rate=0.02)).day(DAY)
    assert len(day.malformed) > 50
    assert set(day.malformed["entity"]) >= {"social_posts", "touchpoints"}
    clean = PlatformSimulator(SimulatorConfig(malformed_rate=0.0)).day(DAY)
    assert clean.malformed.empty


def test_boosts_link_linkedin_posts_to_linkedin_ads_campaigns():
    sim = PlatformSimulator(SimulatorConfig(boost_rate=0.2))
    day = sim.day(DAY)
    assert len(day.boosts) > 0
    assert set(day.boosts["paid.platform"]) == {"linkedin_ads"}
    ads_campaigns = {v[0].rsplit(":", 1)[-1] for v in day.ad_campaigns["linkedin_ads"]["pivotValues"]}
    assert set(day.boosts["paid.campaign_id"]) <= ads_campaigns


@pytest.mark.parametrize("platform", gt.ORGANIC_PLATFORMS)
def test_strongest_hour_is_exposed(platform):
    assert PlatformSimulator.strongest_posting_hour(platform) == gt.PLATFORMS[platform].peak_hour


def test_spike_days_make_a_few_posts_go_viral():
    spike = DAY + timedelta(days=1)
    cfg = SimulatorConfig(posts_per_day=2000, spike_days=(spike,))
    normal, spiked = posts_published_on(cfg, DAY), posts_published_on(cfg, spike)
    assert not normal["is_viral"].any()
    share = spiked["is_viral"].mean()
    assert 0.01 < share < 0.06
    ratio = spiked.loc[spiked["is_viral"], "impressions_total"].median() / spiked.loc[~spiked["is_viral"], "impressions_total"].median()
    assert ratio > 10


def test_simulator_fx_table_covers_exactly_the_contract_currencies():
    from analytics_assets.contracts.raw import CURRENCIES

    assert set(gt.USD_PER_UNIT) == set(CURRENCIES)


def test_funnel_world_journeys_convert_at_a_touch_and_never_repeat_a_channel_in_a_row():
    with pytest.raises(ValueError, match="journey_model"):
        SimulatorConfig(journey_model="mixed")
    config = dict(seed=3, posts_per_day=20, journeys_per_day=3000)
    exposure = PlatformSimulator(SimulatorConfig(**config)).day(DAY).touchpoints
    funnel = PlatformSimulator(SimulatorConfig(**config, journey_model="funnel")).day(DAY).touchpoints
    assert list(funnel.columns) == list(exposure.columns)
    at = pd.to_datetime(funnel["timestamp"])
    touches = funnel[funnel["event"] == "touchpoint"].assign(at=at)
    conversions = funnel[funnel["event"] == "conversion"].assign(at=at).set_index("journey_id")
    last_touch = touches.groupby("journey_id")["at"].max()
    # the conversion happens during the visit the last touch brought: within the hour, never before it
    gap = (conversions["at"] - last_touch.reindex(conversions.index)).dt.total_seconds()
    assert gap.between(60, 3_600).all()
    channels = touches.sort_values(["journey_id", "at", "event_id"]).groupby("journey_id")["utm_source"].agg(list)
    media = touches.sort_values(["journey_id", "at", "event_id"]).groupby("journey_id")["utm_medium"].agg(list)
    pairs = [list(zip(s, m)) for s, m in zip(channels, media)]
    assert all(a != b for p in pairs for a, b in zip(p, p[1:]))
    assert max(len(p) for p in pairs) <= gt.FUNNEL_MAX_TOUCHES
    # the share of journeys that convert is the planted chain's exact probability (binomial sd ~0.007)
    assert abs(len(conversions) / 3000 - gt.funnel_conversion_probability()) < 0.025
