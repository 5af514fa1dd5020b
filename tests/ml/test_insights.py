"""Insights find the patterns the simulator planted and stay silent on noise."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import ground_truth as gt
from ml.insights import SegmentFamily, anomaly_findings, rank_findings, roas_warnings, segment_findings

START, END = date(2026, 9, 1), date(2026, 9, 14)


@pytest.fixture(scope="module")
def posts() -> pd.DataFrame:
    frame = PlatformSimulator(SimulatorConfig(seed=5, posts_per_day=480)).posts(START, END)
    engaged = frame[["likes_total", "comments_total", "shares_total", "clicks_total"]].apply(pd.to_numeric)
    return frame.assign(engagement_rate=engaged.fillna(0).sum(axis=1) / frame["impressions_total"])


def _by_subject(findings):
    return {f.subject: f for f in findings}


def test_planted_content_effects_are_found_with_the_right_sign(posts):
    found = _by_subject(
        segment_findings(
            posts,
            [
                SegmentFamily("content", "hook_type", "engagement_rate", "Engagement rate"),
                SegmentFamily("content", "media_type", "engagement_rate", "Engagement rate"),
            ],
        )
    )
    # the strongest planted effects of each family, both directions
    assert found["video"].effect > 0.2 and found["story"].effect > 0.1
    assert found["none"].effect < -0.2 and found["link"].effect < -0.1
    for subject, f in found.items():
        planted = {**gt.HOOK_EFFECTS, **gt.MEDIA_EFFECTS}[subject]
        family = gt.HOOK_EFFECTS if subject in gt.HOOK_EFFECTS else gt.MEDIA_EFFECTS
        # sign relative to the family's average planted effect
        assert np.sign(f.effect) == np.sign(planted - np.mean(list(family.values()))), subject
        assert f.q_value < 0.05 and f.ci_low <= f.effect <= f.ci_high
        assert f.action and f.severity in ("high", "medium", "low")


def test_best_posting_hour_per_platform_brackets_the_planted_peak(posts):
    findings = segment_findings(
        posts,
        SegmentFamily("posting_time", "publish_hour", "engagement_rate", "Engagement rate", within="platform", best_only=True),
    )
    best = {f.subject.split()[0]: f for f in findings if f.effect > 0}
    assert set(best) == set(gt.PLATFORMS)
    for platform, f in best.items():
        peak = gt.strongest_posting_hour(platform)
        # one hour's sample cannot separate the peak from its neighbours; the window must hold the peak
        assert abs(int(f.subject.split()[1]) - peak) <= 1, (platform, f.subject)
        assert peak in f.evidence["significant_positive_levels"]


def test_noise_is_not_reported(posts):
    families = [SegmentFamily("noise", "label", "engagement_rate", "Engagement rate")]
    runs_with_findings = 0
    for seed in range(20):
        labels = np.random.default_rng(seed).choice(list("abcdefgh"), len(posts))
        runs_with_findings += bool(segment_findings(posts.assign(label=labels), families))
    # Benjamini-Hochberg at 5% bounds the chance of any false finding under a global null by 5%
    assert runs_with_findings <= 2


def test_a_level_below_the_minimum_sample_is_never_reported(posts):
    rare = posts.copy()
    rare["hook_type"] = rare["hook_type"].astype(object)
    idx = rare.nlargest(5, "engagement_rate").index  # five outstanding posts under a new hook
    rare.loc[idx, "hook_type"] = "emoji_wall"
    found = _by_subject(segment_findings(rare, SegmentFamily("content", "hook_type", "engagement_rate", "ER")))
    assert "emoji_wall" not in found


def test_anomalies_flag_the_planted_viral_day_only():
    spike = date(2026, 9, 20)
    sim = PlatformSimulator(SimulatorConfig(seed=3, posts_per_day=480, spike_days=(spike,)))
    posts = sim.posts(spike - timedelta(days=15), spike + timedelta(days=3))
    daily = (
        posts.assign(day=posts["published_at"].dt.date)
        .groupby(["platform", "day"], as_index=False)["impressions_total"]
        .sum()
    )
    findings = anomaly_findings(daily, date_col="day", group_col="platform", value_col="impressions_total", metric="Impressions")
    flagged = {(f.subject.split()[0], f.subject.split()[1]) for f in findings}
    assert {d for _, d in flagged} == {spike.isoformat()}
    assert len(flagged) >= 3  # the spike hits every platform; the smallest may not clear the bar
    assert all(f.effect > 0.3 and f.evidence["robust_z"] > 5 for f in findings)


def test_roas_warning_needs_the_whole_window_to_lose_money():
    rng = np.random.default_rng(1)
    days = 14
    frame = pd.concat(
        [
            pd.DataFrame(
                {"platform": "meta_ads", "campaign_id": cid, "spend_usd": 100.0, "revenue_usd": 100 * rng.normal(mu, 0.15, days)}
            )
            for cid, mu in (("loser", 0.6), ("winner", 1.8), ("breakeven", 1.0))
        ],
        ignore_index=True,
    )
    frame.loc[(frame["campaign_id"] == "winner").to_numpy().nonzero()[0][:2], "revenue_usd"] = 0.0  # two bad days
    warned = {f.subject: f for f in roas_warnings(frame)}
    assert set(warned) == {"meta_ads campaign loser"}
    assert warned["meta_ads campaign loser"].evidence["roas"] == pytest.approx(0.6, abs=0.1)


def test_ranking_orders_by_severity_then_size():
    table = rank_findings(
        segment_findings(
            pd.DataFrame(
                {
                    "segment": np.repeat(["big", "mid", "base"], 200),
                    "value": np.exp(
                        np.concatenate([np.full(200, 0.7), np.full(200, 0.25), np.zeros(200)])
                        + np.random.default_rng(0).normal(0, 0.1, 600)
                    ),
                }
            ),
            SegmentFamily("content", "segment", "value", "Value"),
        )
    )
    assert table["rank"].tolist() == list(range(1, len(table) + 1))
    assert table.iloc[0]["subject"] == "big" and table.iloc[0]["severity"] == "high"
    assert list(table.columns[:3]) == ["rank", "finding_id", "category"]
