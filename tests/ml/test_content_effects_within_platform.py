"""Content effects within platform: TikTok posts are all video and engage more, so comparing media types over all
posts credits video with TikTok's level. The stratified estimate (each platform's contrast, pooled by inverse
variance) recovers the planted within-platform effect; the pooled one misses it (the test can fail)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import ground_truth as gt
from ml.insights import POST_FAMILIES, SegmentFamily, segment_findings, segment_tests

START, END = date(2026, 9, 1), date(2026, 9, 14)
MEDIA = SegmentFamily("content", "media_type", "engagement_rate", "Engagement rate")


@pytest.fixture(scope="module")
def posts() -> pd.DataFrame:
    frame = PlatformSimulator(SimulatorConfig(seed=8, posts_per_day=480)).posts(START, END)
    engaged = frame[["likes_total", "comments_total", "shares_total", "clicks_total"]].apply(pd.to_numeric)
    return frame.assign(engagement_rate=engaged.fillna(0).sum(axis=1) / frame["impressions_total"])


def _planted_within_platform(posts: pd.DataFrame, min_n: int = 20) -> pd.Series:
    """Each media type's planted log effect against the rest of its platform's posts, pooled over the platforms
    with the weights of the estimate (n_level * n_rest / n: equal noise in every platform)."""
    effects = {}
    for level, effect in gt.MEDIA_EFFECTS.items():
        total = weight = 0.0
        for _, g in posts.groupby("platform"):
            inside = (g["media_type"] == level).to_numpy()
            n_in, n_out = inside.sum(), (~inside).sum()
            if n_in < min_n or n_out < min_n:
                continue  # TikTok (all video) has no rest to compare video with
            rest = g.loc[~inside, "media_type"].map(gt.MEDIA_EFFECTS).mean()
            w = n_in * n_out / (n_in + n_out)
            total, weight = total + w * (effect - rest), weight + w
        effects[level] = total / weight
    return pd.Series(effects)


def test_media_effects_within_platform_match_the_planted_ones_where_pooling_does_not(posts):
    planted = _planted_within_platform(posts)
    stratified = segment_tests(posts, SegmentFamily(**{**MEDIA.__dict__, "stratify": "platform"})).set_index("level")
    pooled = segment_tests(posts, MEDIA).set_index("level")
    error = (np.log1p(stratified["effect"]) - planted).abs()
    assert error.max() < 0.06, error
    # the order of the media types is the planted one
    assert list(stratified["effect"].sort_values().index) == list(planted.sort_values().index)
    # pooled over platforms, TikTok's level reads as a media effect: image even flips sign here
    pooled_error = (np.log1p(pooled["effect"]) - planted).abs()
    assert pooled_error.max() > 0.10, pooled_error
    assert stratified.loc["video", "strata"] == 3  # TikTok says nothing about video against the rest
    assert (stratified["ci_low"] <= stratified["effect"]).all() and (stratified["effect"] <= stratified["ci_high"]).all()


def test_the_insights_content_families_compare_within_platform(posts):
    content = [f for f in POST_FAMILIES if f.category == "content"]
    assert {f.segment for f in content} == {"hook_type", "media_type", "topic"}
    assert all(f.stratify == "platform" for f in content)
    found = {f.subject: f for f in segment_findings(posts, content)}
    video = found["video posts"]
    assert np.log1p(video.effect) == pytest.approx(_planted_within_platform(posts)["video"], abs=0.06)
    assert "within each platform" in video.evidence["test"]
    # the planted hook effects keep their sign against the family's average
    for hook, planted in gt.HOOK_EFFECTS.items():
        f = found.get(f"hook '{hook}'")
        if f is not None:
            assert np.sign(f.effect) == np.sign(planted - np.mean(list(gt.HOOK_EFFECTS.values()))), hook
