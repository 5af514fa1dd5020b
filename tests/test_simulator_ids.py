"""The simulator's ids are unique at any volume, and at the default volumes the ids it always minted."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from analytics_assets.sources.simulator import SimulatorConfig, core, ids

DAY = date(2026, 5, 4)


def test_the_narrow_ranges_keep_the_ids_minted_before():
    ordinal = DAY.toordinal()
    for p_idx in range(4):
        for seq in (0, 1, 239, 50_000, 54_999, 99_999):
            assert ids.post_native_id(DAY, p_idx, seq) == str(7_100_000_000_000_000_000 + ordinal * 1_000_000 + p_idx * 100_000 + seq)
    assert ids.boost_campaign_ids(DAY, 100) == [str(700_000_000 + ordinal * 100 + i) for i in range(100)]
    assert ids.extra_post_seq(240, 3, 7) == core.EXTRA_POST_SEQ + 3 * core.MAX_POSTS_PER_ACCOUNT + 7


def test_boost_campaign_ids_are_unique_over_busy_days_and_apart_from_the_always_on_campaigns():
    days = [DAY + timedelta(days=k) for k in range(-3, 4)] + [date.min, date.max]
    minted = [cid for d in days for cid in ids.boost_campaign_ids(d, 5_000)]
    assert len(set(minted)) == len(minted)
    always_on = set(core.campaigns(SimulatorConfig())["campaign_id"])
    assert not always_on & set(minted)
    # the creatives' ids (campaign id + two digits) stay apart too
    creatives = {cid + "00" for cid in minted}
    assert len(creatives) == len(minted)
    with pytest.raises(ValueError, match="boost campaign ids"):
        ids.boost_campaign_ids(DAY, 10_000_001)


def test_post_ids_are_unique_past_every_old_cap():
    seqs = np.r_[0:200, 49_990:50_010, 99_990:100_010, 9_999_999_990:10_000_000_000]
    days = [DAY, DAY + timedelta(days=1), date.min, date.max]
    minted = [ids.post_native_id(d, p, int(s)) for d in days for p in range(4) for s in seqs]
    assert len(set(minted)) == len(minted)
    reddit = {core._post_id("reddit", nid) for nid in minted}
    assert len(reddit) == len(minted)
    with pytest.raises(ValueError, match="post_seq"):
        ids.post_native_id(DAY, 0, 10_000_000_000)


def test_extra_posts_never_take_a_drawn_posts_place():
    for n_drawn in (240, 50_000, 50_001, 120_000):
        for account in range(core.ACCOUNTS_PER_PLATFORM):
            for number in (0, 999, 1_000, 5_000_000):
                seq = ids.extra_post_seq(n_drawn, account, number)
                assert seq >= n_drawn
                assert ids.post_native_id(DAY, 1, seq) not in {ids.post_native_id(DAY, 1, s) for s in (0, n_drawn - 1)}
    narrow = {ids.extra_post_seq(240, a, k) for a in range(5) for k in range(1_000)}
    wide = {ids.extra_post_seq(60_000, a, k) for a in range(5) for k in range(1_000)}
    assert len(narrow) == len(wide) == 5_000 and not narrow & wide
    with pytest.raises(ValueError):
        ids.extra_post_seq(240, 0, ids.WIDE_POSTS_PER_ACCOUNT)


def test_a_day_with_hundreds_of_boosts_gives_each_its_own_campaign_and_creative():
    """At 1,500 posts and half of LinkedIn's boosted, each publish day has about 225 boosts (the old ids held 100)."""
    config = SimulatorConfig(posts_per_day=1_500, boost_rate=0.5)
    delivery = core._boost_day(config, DAY)  # the boosts of three publish days, all in flight on DAY
    assert delivery.groupby("boost_id")["start_date"].first().map(lambda d: d - timedelta(days=1)).nunique() == 3
    assert len(delivery) > 3 * 100
    assert delivery["campaign_id"].is_unique and delivery["boost_id"].is_unique
    linkedin = core._native_ads(core._ad_day(config, DAY), delivery)["linkedin_ads"]
    assert linkedin["pivotValues"].map(tuple).is_unique
