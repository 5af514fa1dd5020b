"""Realistic serving files for the API tests, following the "Serving files" contract exactly,
published the way the `serving_snapshot` asset publishes them (temp file in the same folder, then
os.replace; manifest last). Deterministic per `generation`."""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analytics_assets.contracts.recommendations import (
    RECOMMENDATION_COLUMNS,
    RECOMMENDATION_STATUS_COLUMNS,
    recommendation_id,
    served_status,
)
from ml.insights import Finding, findings_per_account, rank_findings

ORGANIC = ["linkedin", "x", "reddit", "tiktok"]
PAID = ["google_ads", "meta_ads", "linkedin_ads"]
CHANNELS = [
    "linkedin_organic", "x_organic", "reddit_organic", "tiktok_organic",
    "google_ads", "meta_ads", "linkedin_ads",
]
MODELS = ["first_touch", "last_touch", "linear", "time_decay", "position_based"]
ALL_MODELS = [*MODELS, "markov", "shapley"]
# Two tenants' accounts side by side in one snapshot: workspace "acme" owns the first account of each
# platform, "globex" the second (tests/api/conftest.py registers them). The default test key owns all.
ACCOUNTS = {
    "linkedin": ["urn:li:organization:1001", "urn:li:organization:2002"],
    "x": ["14001", "14002"],
    "reddit": ["t2_acme", "t2_globex"],
    "tiktok": ["acme_brand", "globex_brand"],
    "google_ads": ["1110001", "2220002"],
    "meta_ads": ["act_1001", "act_2002"],
    "linkedin_ads": ["LI-1001", "LI-2002"],
    "web": ["acme-site", "globex-site"],
}
WORKSPACES = {"acme": 0, "globex": 1}  # workspace -> index of its account on every platform
ASSETS = [
    ("raw_social_post_snapshots", "2024-05-14"),
    ("raw_ad_campaign_daily", "2024-05-14"),
    ("fct_post_metrics_daily", None),
    ("optimal_hours_model", None),
    ("serving_snapshot", None),
]


def accounts_of(workspace: str | None = None) -> list[tuple[str, str]]:
    """(platform, account_id) of one workspace's accounts, or of all."""
    return [
        (platform, ids[i])
        for platform, ids in ACCOUNTS.items()
        for i in range(len(ids))
        if workspace is None or WORKSPACES[workspace] == i
    ]


def _s(*cols):
    return pa.schema(list(cols))


_ACC = [("platform", pa.string()), ("account_id", pa.string())]
_ARROW = {"VARCHAR": pa.string(), "DOUBLE": pa.float64(), "BIGINT": pa.int64(), "TIMESTAMP": pa.timestamp("us")}
# Arrow types matching the warehouse's (INTEGER=int32, BIGINT=int64, TIMESTAMP=naive UTC).
SCHEMAS = {
    "asset_status.parquet": _s(
        ("asset_key", pa.string()), ("last_materialized_at", pa.timestamp("us")),
        ("last_partition", pa.string()), ("run_id", pa.string()),
    ),
    "automation_status.parquet": _s(
        ("name", pa.string()), ("kind", pa.string()), ("status", pa.string()), ("cron_schedule", pa.string()),
        ("last_tick_at", pa.timestamp("us")), ("last_tick_status", pa.string()),
    ),
    "accounts.parquet": _s(*_ACC, ("account_name", pa.string()), ("channel_type", pa.string()), ("first_seen_date", pa.date32()),
                           ("last_seen_date", pa.date32())),
    "optimal_hours.parquet": _s(
        ("account_id", pa.string()), ("platform", pa.string()), ("rank", pa.int32()), ("publish_hour", pa.int32()),
        ("expected_engagement_score", pa.float64()), ("lift_vs_platform_mean", pa.float64()),
        ("model_name", pa.string()), ("model_version", pa.string()), ("generated_at", pa.timestamp("us")),
    ),
    "account_daily.parquet": _s(
        ("metric_date", pa.date32()), *_ACC, ("channel_type", pa.string()), ("posts", pa.int32()),
        ("impressions", pa.int64()), ("engagements", pa.int64()), ("clicks", pa.int64()),
        ("engagement_score_sum", pa.float64()), ("scored_posts", pa.int64()), ("spend_usd", pa.float64()),
        ("conversions", pa.float64()), ("revenue_usd", pa.float64()),
    ),
    "overview_daily.parquet": _s(
        ("metric_date", pa.date32()), *_ACC,
        *[(c, pa.float64()) for c in ("spend_usd", "revenue_usd", "paid_conversions")],
        *[(c, pa.int64()) for c in ("paid_impressions", "paid_clicks", "organic_impressions",
                                    "organic_engagements", "posts_published", "ai_calls")],
        ("ai_cost_usd", pa.float64()),
    ),
    "attribution_daily.parquet": _s(
        ("conversion_date", pa.date32()), *_ACC, ("model", pa.string()), ("channel", pa.string()),
        ("conversions", pa.float64()), ("conversion_value", pa.float64()),
    ),
    "attribution_models.parquet": _s(
        *_ACC, ("channel", pa.string()), ("model", pa.string()), ("conversions", pa.float64()),
        ("value", pa.float64()), ("share", pa.float64()), ("window_start", pa.date32()), ("window_end", pa.date32()),
    ),
    "campaigns.parquet": _s(
        *_ACC, ("campaign_id", pa.string()), ("campaign_name", pa.string()), ("campaign_status", pa.string()),
        ("objective", pa.string()), ("bidding_strategy", pa.string()), ("currency", pa.string()),
        ("daily_budget", pa.float64()), ("daily_budget_usd", pa.float64()), ("is_boost", pa.bool_()),
        ("valid_from", pa.timestamp("us")), ("is_current", pa.bool_()),
    ),
    "campaign_daily.parquet": _s(
        ("metric_date", pa.date32()), *_ACC, ("campaign_id", pa.string()), ("currency", pa.string()),
        ("spend", pa.float64()), ("spend_usd", pa.float64()), ("impressions", pa.int64()), ("clicks", pa.int64()),
        ("conversions", pa.float64()), ("conversion_value_usd", pa.float64()), ("reach", pa.int64()),
        ("ads_delivering", pa.int64()), ("ctr", pa.float64()), ("cpc_usd", pa.float64()),
        ("cpa_usd", pa.float64()), ("roas", pa.float64()),
    ),
    "top_posts.parquet": _s(
        *_ACC, ("post_rank", pa.int32()), ("post_id", pa.string()), ("published_at", pa.timestamp("us")),
        ("hook_type", pa.string()), ("media_type", pa.string()), ("topic", pa.string()),
        ("engagement_score", pa.float64()), ("engagement_rate", pa.float64()), ("impressions", pa.int64()),
        ("engagements", pa.int64()), ("is_boosted", pa.bool_()),
    ),
    "engagement_heatmap.parquet": _s(
        *_ACC, ("publish_dow", pa.int32()), ("publish_hour", pa.int32()), ("posts", pa.int64()),
        ("scored_posts", pa.int64()), ("engagement_score_sum", pa.float64()), ("rated_posts", pa.int64()),
        ("engagement_rate_sum", pa.float64()),
    ),
    "boosts.parquet": _s(
        ("boost_id", pa.string()), *_ACC, ("post_id", pa.string()), ("published_at", pa.timestamp("us")),
        ("flight_start_at", pa.timestamp("us")), ("flight_end_at", pa.timestamp("us")), ("status", pa.string()),
        ("flight_complete", pa.bool_()), ("n_comparables", pa.int64()),
        *[(c, pa.float64()) for c in (
            "observed_engagements", "counterfactual_engagements", "counterfactual_low", "counterfactual_high",
            "organic_lift", "organic_lift_low", "organic_lift_high", "relative_lift")],
        ("significant", pa.bool_()),
        *[(c, pa.float64()) for c in (
            "paid_engagements", "incremental_engagements", "incremental_engagements_low",
            "incremental_engagements_high", "spend_usd", "cost_per_incremental_engagement_usd",
            "incremental_value_usd", "roi", "effectiveness_score")],
    ),
    "boost_organic_vs_paid.parquet": _s(
        ("boost_id", pa.string()), *_ACC, ("ad_platform", pa.string()), ("campaign_id", pa.string()),
        ("start_date", pa.date32()), ("end_date", pa.date32()), ("spend_usd", pa.float64()),
        ("paid_impressions", pa.int64()), ("paid_engagements", pa.float64()), ("organic_engagements", pa.float64()),
        ("paid_share", pa.float64()), ("organic_share", pa.float64()), ("reached_journeys", pa.int64()),
        ("incremental_reach_journeys", pa.int64()), ("incremental_reach_share", pa.float64()),
        ("overlap_share", pa.float64()), ("converted_journeys", pa.int64()), ("paid_only_conversions", pa.int64()),
        ("organic_only_conversions", pa.int64()), ("overlap_conversions", pa.int64()),
        ("conversion_value_usd", pa.float64()),
    ),
    # the recommendation contract's columns and the status the served copy adds, in the warehouse's types
    "recommendations.parquet": _s(
        *((c, _ARROW[t]) for c, t in {**RECOMMENDATION_COLUMNS, **RECOMMENDATION_STATUS_COLUMNS}.items())
    ),
    "recommendation_performance.parquet": _s(
        *_ACC, ("kind", pa.string()),
        *[(c, pa.int64()) for c in ("recommendations", "open_count", "applied_count", "dismissed_count",
                                    "expired_count", "superseded_count")],
        ("adoption_rate", pa.float64()), ("measured_count", pa.int64()),
        *[(c, pa.float64()) for c in ("interval_coverage", "mean_realized_value", "mean_expected_value",
                                      "mean_baseline_value", "bias", "realized_lift_vs_baseline",
                                      "mean_absolute_error")],
    ),
}

FIRST_DAY = date(2024, 5, 1)
BASE_TIME = datetime(2024, 5, 15, 6, 0, 0)
NOW = (BASE_TIME + timedelta(hours=2)).replace(tzinfo=timezone.utc)  # "now" for /health's freshness check


# -- builders (deterministic per generation) ------------------------------------------------------


def _shuffled(rows: list[dict], generation: int) -> pd.DataFrame:
    # Stored in no particular order: the API must order, not rely on file order.
    return pd.DataFrame(rows).sample(frac=1, random_state=generation).reset_index(drop=True)


def build_asset_status(generation: int = 1) -> pd.DataFrame:
    at = BASE_TIME + timedelta(minutes=generation)
    return pd.DataFrame(
        [
            {
                "asset_key": key,
                "last_materialized_at": at - timedelta(minutes=5 * i),
                "last_partition": partition,
                "run_id": f"run-{generation:04d}",
            }
            for i, (key, partition) in enumerate(reversed(ASSETS))
        ]
    )


def build_automation_status(generation: int = 1) -> pd.DataFrame:
    at = BASE_TIME + timedelta(minutes=generation)
    return pd.DataFrame([
        {"name": "daily_pipeline_schedule", "kind": "schedule", "status": "running", "cron_schedule": "0 3 * * *",
         "last_tick_at": at - timedelta(hours=3), "last_tick_status": "success"},
        {"name": "social_metrics_poll_schedule", "kind": "schedule", "status": "stopped",
         "cron_schedule": "0 */2 * * *", "last_tick_at": None, "last_tick_status": None},
        {"name": "webhook_events_sensor", "kind": "sensor", "status": "running", "cron_schedule": None,
         "last_tick_at": at - timedelta(seconds=30), "last_tick_status": "skipped"},
    ])


def build_accounts(generation: int = 1, n_days: int = 14) -> pd.DataFrame:
    kind = {**{p: "organic" for p in ORGANIC}, **{p: "paid" for p in PAID}, "web": "web"}
    return pd.DataFrame([
        {"platform": p, "account_id": a, "account_name": f"{a}_name" if kind[p] == "organic" else None,
         "channel_type": kind[p], "first_seen_date": FIRST_DAY,
         "last_seen_date": FIRST_DAY + timedelta(days=n_days - 1)}
        for p, a in accounts_of()
    ])


def build_optimal_hours(generation: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(1000 + generation)
    rows = []
    for p_idx, platform in enumerate(ORGANIC):
        peak = (9 + 4 * p_idx + generation) % 24
        base = 40.0 + 15 * p_idx
        scores = [base * (1 + 0.35 * math.cos(2 * math.pi * (h - peak) / 24)) + rng.uniform(0, 1) for h in range(24)]
        mean = sum(scores) / 24
        order = sorted(range(24), key=lambda h: -scores[h])
        for account in ACCOUNTS[platform]:  # the platform's model output, once per account
            for rank, hour in enumerate(order, start=1):
                rows.append({
                    "account_id": account, "platform": platform, "rank": rank, "publish_hour": hour,
                    "expected_engagement_score": scores[hour], "lift_vs_platform_mean": scores[hour] / mean - 1,
                    "model_name": "engagement_score_gbm", "model_version": f"v{generation}",
                    "generated_at": BASE_TIME + timedelta(minutes=generation),
                })
    return _shuffled(rows, generation)


def build_account_daily(generation: int = 1, n_days: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(2000 + generation)
    rows = []
    for d in range(n_days):
        day = FIRST_DAY + timedelta(days=d)
        for platform in ORGANIC:
            for account in ACCOUNTS[platform]:
                impressions = int(rng.integers(2_000, 50_000))
                engagements = int(impressions * rng.uniform(0.01, 0.08))
                posts = int(rng.integers(1, 12))
                rows.append({
                    "metric_date": day, "platform": platform, "account_id": account, "channel_type": "organic",
                    "posts": posts, "impressions": impressions, "engagements": engagements,
                    "clicks": int(engagements * rng.uniform(0.1, 0.5)),
                    "engagement_score_sum": float(rng.uniform(20, 400)) * posts, "scored_posts": posts,
                    "spend_usd": 0.0, "conversions": None, "revenue_usd": None,
                })
        for platform in PAID:
            for account in ACCOUNTS[platform]:
                impressions = int(rng.integers(5_000, 80_000))
                clicks = int(impressions * rng.uniform(0.005, 0.03))
                # linkedin_ads is paused on the first day: no spend, so no ROAS.
                spend = 0.0 if (platform == "linkedin_ads" and d == 0) else round(float(rng.uniform(50, 900)), 2)
                conversions = round(float(rng.uniform(0, 30)), 2)
                rows.append({
                    "metric_date": day, "platform": platform, "account_id": account, "channel_type": "paid",
                    "posts": int(rng.integers(1, 5)), "impressions": impressions, "engagements": clicks,
                    "clicks": clicks, "engagement_score_sum": None, "scored_posts": 0, "spend_usd": spend,
                    "conversions": conversions, "revenue_usd": round(conversions * 55.0, 2),
                })
    return _shuffled(rows, generation)


def build_overview_daily(generation: int = 1, n_days: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(2500 + generation)
    rows = []
    for d in range(n_days):
        for platform, account in accounts_of():
            if platform == "web":
                continue
            paid = platform in PAID
            spend = round(float(rng.uniform(50, 900)), 2) if paid else 0.0
            rows.append({
                "metric_date": FIRST_DAY + timedelta(days=d), "platform": platform, "account_id": account,
                "spend_usd": spend, "revenue_usd": round(spend * float(rng.uniform(0.5, 3)), 2),
                "paid_conversions": round(float(rng.uniform(0, 20)), 2) if paid else 0.0,
                "paid_impressions": int(rng.integers(1000, 9000)) if paid else 0,
                "paid_clicks": int(rng.integers(10, 200)) if paid else 0,
                "organic_impressions": 0 if paid else int(rng.integers(1000, 50000)),
                "organic_engagements": 0 if paid else int(rng.integers(10, 2000)),
                "posts_published": 0 if paid else int(rng.integers(0, 6)),
                "ai_calls": 0 if paid else int(rng.integers(0, 10)),
                "ai_cost_usd": 0.0 if paid else round(float(rng.uniform(0, 3)), 4),
            })
    return _shuffled(rows, generation)


def build_attribution_daily(generation: int = 1, n_days: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(3000 + generation)
    rows = []
    for d in range(n_days):
        for account in ACCOUNTS["web"]:
            conversions = float(rng.integers(1, 9)) + generation / 100
            for model in MODELS:
                weights = rng.dirichlet(np.ones(len(CHANNELS)))
                for channel, w in zip(CHANNELS, weights):
                    rows.append({
                        "conversion_date": FIRST_DAY + timedelta(days=d), "platform": "web", "account_id": account,
                        "model": model, "channel": channel, "conversions": float(conversions * w),
                        "conversion_value": float(conversions * w * 61.5),
                    })
    return _shuffled(rows, generation)


def build_attribution_models(generation: int = 1, n_days: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(3500 + generation)
    rows = []
    for account in ACCOUNTS["web"]:
        total = 100.0 + generation
        for model in ALL_MODELS:
            weights = rng.dirichlet(np.ones(len(CHANNELS)))
            for channel, w in zip(CHANNELS, weights):
                rows.append({
                    "platform": "web", "account_id": account, "channel": channel, "model": model,
                    "conversions": float(total * w), "value": float(total * w * 61.5), "share": float(w),
                    "window_start": FIRST_DAY, "window_end": FIRST_DAY + timedelta(days=n_days - 1),
                })
    return _shuffled(rows, generation)


def _campaign_ids() -> list[tuple[str, str, str]]:
    return [(p, a, f"{p[:2]}-{a}-{k}") for p in PAID for a in ACCOUNTS[p] for k in range(2)]


def build_campaigns(generation: int = 1) -> pd.DataFrame:
    return pd.DataFrame([
        {"platform": p, "account_id": a, "campaign_id": c, "campaign_name": f"Campaign {c}",
         "campaign_status": "ACTIVE", "objective": "CONVERSIONS", "bidding_strategy": "LOWEST_COST",
         "currency": "USD", "daily_budget": 100.0 + i + 10 * (generation - 1),
         "daily_budget_usd": 100.0 + i + 10 * (generation - 1), "is_boost": False,
         "valid_from": BASE_TIME - timedelta(days=20), "is_current": True}
        for i, (p, a, c) in enumerate(_campaign_ids())
    ])


def build_campaign_daily(generation: int = 1, n_days: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(4000 + generation)
    rows = []
    for d in range(n_days):
        for p, a, c in _campaign_ids():
            spend = round(float(rng.uniform(10, 300)), 2)
            impressions = int(rng.integers(1000, 20000))
            clicks = int(impressions * rng.uniform(0.005, 0.03))
            conversions = round(float(rng.uniform(0, 10)), 2)
            value = round(conversions * 60.0, 2)
            rows.append({
                "metric_date": FIRST_DAY + timedelta(days=d), "platform": p, "account_id": a, "campaign_id": c,
                "currency": "USD", "spend": spend, "spend_usd": spend, "impressions": impressions, "clicks": clicks,
                "conversions": conversions, "conversion_value_usd": value, "reach": impressions // 2,
                "ads_delivering": 2, "ctr": clicks / impressions, "cpc_usd": spend / clicks if clicks else None,
                "cpa_usd": spend / conversions if conversions else None, "roas": value / spend,
            })
    return _shuffled(rows, generation)


def build_top_posts(generation: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(5000 + generation)
    rows = []
    for platform in ORGANIC:
        for account in ACCOUNTS[platform]:
            scores = sorted(rng.uniform(50, 900, 20), reverse=True)
            for rank, score in enumerate(scores, start=1):
                rows.append({
                    "platform": platform, "account_id": account, "post_rank": rank,
                    "post_id": f"{platform}-{account}-{rank}", "published_at": BASE_TIME - timedelta(days=rank),
                    "hook_type": "question", "media_type": "image", "topic": "product",
                    "engagement_score": float(score), "engagement_rate": float(score) / 10_000,
                    "impressions": int(score * 100), "engagements": int(score * 3), "is_boosted": rank == 1,
                })
    return _shuffled(rows, generation)


def build_engagement_heatmap(generation: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(6000 + generation)
    rows = []
    for platform in ORGANIC:
        for account in ACCOUNTS[platform]:
            for dow in range(7):
                for hour in range(0, 24, 3):
                    posts = int(rng.integers(1, 6))
                    rated = posts - int(hour == 21)  # a post without impressions yet has no rate
                    rows.append({
                        "platform": platform, "account_id": account, "publish_dow": dow, "publish_hour": hour,
                        "posts": posts, "scored_posts": posts, "engagement_score_sum": float(rng.uniform(50, 500)) * posts,
                        "rated_posts": rated, "engagement_rate_sum": float(rng.uniform(0.01, 0.08)) * rated,
                    })
    return _shuffled(rows, generation)


def build_boosts(generation: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(7000 + generation)
    rows = []
    for platform in ("linkedin", "x"):
        for account in ACCOUNTS[platform]:
            for k in range(3):
                start = BASE_TIME - timedelta(days=10 - k)
                lift = float(rng.uniform(-20, 200))
                rows.append({
                    "boost_id": f"bst-{platform}-{account}-{k}", "platform": platform, "account_id": account,
                    "post_id": f"{platform}-{account}-{k + 1}", "published_at": start - timedelta(hours=6),
                    "flight_start_at": start, "flight_end_at": start + timedelta(days=3),
                    "status": "estimated" if k else "no_pre_boost_history", "flight_complete": True,
                    "n_comparables": 25 if k else None, "observed_engagements": 500.0 + lift,
                    "counterfactual_engagements": 500.0 if k else None, "counterfactual_low": 450.0 if k else None,
                    "counterfactual_high": 550.0 if k else None, "organic_lift": lift if k else None,
                    "organic_lift_low": lift - 50 if k else None, "organic_lift_high": lift + 50 if k else None,
                    "relative_lift": lift / 500 if k else None, "significant": bool(lift > 50) if k else None,
                    "paid_engagements": 300.0, "incremental_engagements": 300.0 + lift,
                    "incremental_engagements_low": 250.0 + lift, "incremental_engagements_high": 350.0 + lift,
                    "spend_usd": 120.0, "cost_per_incremental_engagement_usd": 120.0 / (300.0 + lift),
                    "incremental_value_usd": 2.0 * (300.0 + lift), "roi": 2.0 * (300.0 + lift) / 120.0 - 1,
                    "effectiveness_score": 50.0 + lift / 10,
                })
    return _shuffled(rows, generation)


def build_boost_split(generation: int = 1) -> pd.DataFrame:
    more = generation - 1  # each generation's numbers differ (generation 1's as they always were)
    return pd.DataFrame([
        {"boost_id": b.boost_id, "platform": b.platform, "account_id": b.account_id, "ad_platform": "linkedin_ads",
         "campaign_id": f"bc-{b.boost_id}", "start_date": b.flight_start_at.date(), "end_date": b.flight_end_at.date(),
         "spend_usd": 120.0, "paid_impressions": 9000 + 100 * more, "paid_engagements": 300.0,
         "organic_engagements": 500.0,
         "paid_share": 0.375, "organic_share": 0.625, "reached_journeys": 40, "incremental_reach_journeys": 12,
         "incremental_reach_share": 0.3, "overlap_share": 0.2, "converted_journeys": 6, "paid_only_conversions": 2,
         "organic_only_conversions": 3, "overlap_conversions": 1, "conversion_value_usd": 420.0 + 10 * more}
        for b in build_boosts(generation).itertuples()
    ])


def _recommendation(generation: int, kind: str, platform: str, account: str, target_type: str, target_id: str,
                    action_key: str, action: str, *, expires_at: datetime, slot_start: datetime | None = None,
                    policy: str = "greedy", propensity: float = 1.0, superseded_at: datetime | None = None,
                    applied: tuple[datetime, str, str | None] | None = None, metric: str = "engagement_score_7d",
                    value: float = 100.0) -> dict:
    """One row of recommendations.parquet; ``applied``: (decided_at, feedback_id, applied_post_id) of a decision
    loaded into the warehouse before the publish."""
    as_of = published_at(generation)
    created = BASE_TIME - timedelta(days=1)
    fields = {"action_key": action_key} if slot_start is None else {
        "slot_start": slot_start.isoformat(), "publish_hour": slot_start.hour, "weekday": slot_start.strftime("%A")}
    value = value + 5.0 * generation
    return {
        "recommendation_id": recommendation_id(kind, platform, account, target_type, target_id, action_key),
        "kind": kind, "platform": platform, "account_id": account, "target_type": target_type, "target_id": target_id,
        "action": action, "action_fields": json.dumps(fields, sort_keys=True), "slot_start": slot_start,
        "expected_metric": metric, "expected_value": value, "expected_low": 0.6 * value, "expected_high": 1.5 * value,
        "baseline_value": 0.8 * value, "confidence": 0.83, "propensity": propensity, "policy": policy,
        "model_name": "engagement_score_gbm", "model_version": f"v{generation}", "sample_size": 120 + generation,
        "evidence": "Posts in this hour beat the weekday's average in 9 of the last 12 weeks.",
        "created_at": created, "expires_at": expires_at,
        "last_generated_at": created if superseded_at is not None else BASE_TIME, "superseded_at": superseded_at,
        "status": served_status("apply" if applied else None, superseded_at, expires_at, as_of),
        "status_as_of": as_of,
        "decided_at": applied[0] if applied else None,
        "feedback_id": applied[1] if applied else None,
        "applied_post_id": applied[2] if applied else None,
    }


def build_recommendations(generation: int = 1) -> pd.DataFrame:
    """Recommendations for every organic account: posting slots that are open, exploring (Thompson sampling),
    expired, expiring after the publish but before ``NOW`` (open in the file: the API applies expiry itself),
    superseded, and applied before the publish (a decision the warehouse already holds); a boost of a top post
    on linkedin and x; a budget for the first campaign of every ad account. Status as of the publish."""
    rows = []
    for p_idx, (platform, account) in enumerate(accounts_of()):
        if platform in ORGANIC:
            def slot(day: int, hour: int, kind: str = "posting_slot", **kw) -> dict:
                start = datetime(2024, 5, 15, hour) + timedelta(days=day)  # a slot can be acted on until it starts
                return _recommendation(
                    generation, kind, platform, account, "slot", f"{start.date().isoformat()}#1", start.isoformat(),
                    f"Publish at {hour:02d}:00 UTC on {start:%A %Y-%m-%d}", slot_start=start, expires_at=start, **kw,
                )

            hour = 9 + p_idx % 8
            rows += [
                slot(1, hour),  # open
                slot(2, (hour + 7) % 24, "exploration", policy="thompson", propensity=0.2),  # open
                slot(-1, hour),  # expired before the publish
                slot(0, 7),  # expires at 07:00, after the publish (06:0x) and before NOW (08:00)
                slot(3, hour, superseded_at=BASE_TIME),  # a newer run dropped it
                # applied two hours before the publish, with the account's first top post
                slot(4, hour, applied=(BASE_TIME - timedelta(hours=2), "fb_" + hashlib.md5(account.encode()).hexdigest(),
                                       f"{platform}-{account}-1")),
            ]
            if platform in ("linkedin", "x"):
                post = f"{platform}-{account}-2"
                rows.append(_recommendation(
                    generation, "boost", platform, account, "post", post, "budget=120;days=3",
                    f"Boost post {post} with 120 USD over 3 days", expires_at=BASE_TIME + timedelta(days=2),
                    policy="ranked", metric="incremental_engagements", value=300.0,
                ))
        elif platform in PAID:
            campaign = f"{platform[:2]}-{account}-0"
            rows.append(_recommendation(
                generation, "budget", platform, account, "campaign", campaign, "daily_budget=150",
                f"Raise the daily budget of {campaign} to 150 USD", expires_at=BASE_TIME + timedelta(days=7),
                metric="conversions_7d", value=40.0,
            ))
    return _shuffled(rows, generation)


def build_recommendation_performance(generation: int = 1) -> pd.DataFrame:
    """Per account and kind, what became of ``build_recommendations``' rows (the counts add up to them); the
    applied ones are measured: realized 10% above their promise, inside its interval."""
    rows = []
    recs = build_recommendations(generation)
    for (platform, account, kind), group in recs.groupby(["platform", "account_id", "kind"], sort=True):
        counts = group["status"].value_counts()
        applied, dismissed = int(counts.get("applied", 0)), int(counts.get("dismissed", 0))
        measured = group[group["status"] == "applied"]
        expected = float(measured["expected_value"].mean()) if len(measured) else None
        baseline = float(measured["baseline_value"].mean()) if len(measured) else None
        realized = None if expected is None else 1.1 * expected
        rows.append({
            "platform": platform, "account_id": account, "kind": kind, "recommendations": len(group),
            **{f"{s}_count": int(counts.get(s, 0)) for s in ("open", "applied", "dismissed", "expired", "superseded")},
            "adoption_rate": applied / (applied + dismissed) if applied + dismissed else None,
            "measured_count": len(measured), "interval_coverage": 1.0 if len(measured) else None,
            "mean_realized_value": realized, "mean_expected_value": expected, "mean_baseline_value": baseline,
            "bias": None if realized is None else round(realized / expected - 1, 4),
            "realized_lift_vs_baseline": None if realized is None else round(realized / baseline - 1, 4),
            "mean_absolute_error": None if realized is None else realized - expected,
        })
    return _shuffled(rows, generation)


def build_all(generation: int = 1) -> dict[str, pd.DataFrame]:
    n_days = 10 + generation % 7
    return {
        "asset_status.parquet": build_asset_status(generation),
        "automation_status.parquet": build_automation_status(generation),
        "accounts.parquet": build_accounts(generation, n_days),
        "optimal_hours.parquet": build_optimal_hours(generation),
        "account_daily.parquet": build_account_daily(generation, n_days),
        "overview_daily.parquet": build_overview_daily(generation, n_days),
        "attribution_daily.parquet": build_attribution_daily(generation, n_days),
        "attribution_models.parquet": build_attribution_models(generation, n_days),
        "campaigns.parquet": build_campaigns(generation),
        "campaign_daily.parquet": build_campaign_daily(generation, n_days),
        "top_posts.parquet": build_top_posts(generation),
        "engagement_heatmap.parquet": build_engagement_heatmap(generation),
        "boosts.parquet": build_boosts(generation),
        "boost_organic_vs_paid.parquet": build_boost_split(generation),
        "recommendations.parquet": build_recommendations(generation),
        "recommendation_performance.parquet": build_recommendation_performance(generation),
        **build_read_models(generation),
        **build_series_files(generation),
    }


# -- the read models: insights (per account, through the pipeline's own ml.insights.findings_per_account),
# experiments (per account they ran on), hook success and content performance per account -----------------

READ_MODEL_SCHEMAS = {
    "insights.parquet": _s(
        ("insight_id", pa.string()), *_ACC, ("rank", pa.int64()), ("finding_rank", pa.int64()), ("scope", pa.string()),
        *[(c, pa.string()) for c in ("finding_id", "category", "subject", "severity", "title", "action", "metric")],
        *[(c, pa.float64()) for c in ("effect", "ci_low", "ci_high", "p_value", "q_value")], ("n", pa.int64()),
        ("evidence", pa.string()), ("window_start", pa.date32()), ("window_end", pa.date32()),
        ("generated_at", pa.timestamp("us")), ("acknowledged_at", pa.timestamp("us")),
        ("acknowledgement_id", pa.string()),
    ),
    "experiments.parquet": _s(
        *_ACC, ("boosts_in_window", pa.int64()), ("accounts_in_experiment", pa.int64()),
        *[(c, pa.string()) for c in ("experiment_id", "experiment_name", "factor", "metric", "metric_kind",
                                     "control_variant", "treatment_variant")],
        ("start_date", pa.date32()), ("end_date", pa.date32()), ("decision_rule", pa.string()), ("test", pa.string()),
        ("alpha", pa.float64()), ("mde", pa.float64()), ("required_n_per_arm", pa.int64()),
        ("n_control", pa.int64()), ("n_treatment", pa.int64()), ("n_tested_per_arm", pa.int64()),
        *[(c, pa.float64()) for c in ("control_mean", "treatment_mean", "effect", "ci_low", "ci_high", "p_value",
                                      "always_valid_p_value", "always_valid_ci_low", "always_valid_ci_high")],
        ("status", pa.string()), ("winner", pa.string()), ("reason", pa.string()),
    ),
    "hook_success.parquet": _s(
        *_ACC, ("hook_type", pa.string()), ("posts", pa.int64()),
        *[(c, pa.float64()) for c in ("mean_engagement_rate", "sd_engagement_rate", "standard_error", "t_critical",
                                      "ci_lower", "ci_upper", "mean_engagement_score", "lift_vs_account_posts")],
        ("insufficient_sample", pa.bool_()), ("hook_rank", pa.int32()),
    ),
    "content_performance.parquet": _s(
        ("metric_date", pa.date32()), *_ACC, ("dimension", pa.string()), ("dimension_value", pa.string()),
        ("posts_published", pa.int32()), ("posts_active", pa.int32()), ("impressions", pa.int64()),
        ("engagements", pa.int64()), ("engagement_rate", pa.float64()), ("avg_engagement_score", pa.float64()),
    ),
}

HOOKS = ("question", "story", "list")


def build_insights(generation: int = 1) -> pd.DataFrame:
    """Findings of every scope (an ad account's campaign, a platform's hour, an experiment's accounts, the boosting
    accounts, every organic account, every account), published per account by the pipeline's own function."""
    findings = [
        Finding("warning", "google_ads campaign go-2220002-0", "google_ads campaign go-2220002-0 returns 0.41 per "
                "unit spent", "Cut its budget.", "critical", "ROAS", effect=-0.59, n=14, platform="google_ads",
                account_id="2220002"),
        Finding("posting_time", "linkedin posts at 09:00 UTC", "linkedin posts at 09:00 engage +31% more",
                "Schedule linkedin posts in this hour.", "medium", "Expected engagement score", effect=0.31,
                ci_low=0.12, ci_high=0.5, n=40, platform="linkedin"),
        Finding("anomaly", f"x {FIRST_DAY + timedelta(days=3)}", "Impressions of x jumped", "Check for a viral post.",
                "high", "Impressions", effect=2.4 + generation / 100, n=14, platform="x"),
        Finding("creative", "creative: short_video", "A/B test exp_20240503_creative: short_video beats static_image",
                "Use short_video for creative on future boosts.", "medium", "watch_seconds", effect=0.22,
                p_value=0.003, n=4200, evidence={"experiment_id": "exp_20240503_creative"}),
        Finding("boost_timing", "boosts starting on Tuesday", "Boost organic lift higher for boosts starting on "
                "Tuesday", "Start boosts on that day.", "low", "Boost organic lift", effect=0.15, p_value=0.01,
                q_value=0.02, n=33),
        Finding("content", "hook 'question'", "Engagement rate higher for hook 'question': +18% vs the rest",
                "Favour hook 'question' (+18%).", "low", "Engagement rate", effect=0.18, p_value=0.001,
                q_value=0.004, n=210),
        Finding("warning", "feature drift", "Posting behaviour drifted", "Check the new champion.", "medium",
                "drift share", effect=0.4),
    ]
    ranked = rank_findings(findings)
    accounts = build_accounts(generation)[["platform", "account_id", "channel_type"]]
    boosting = pd.DataFrame([(p, ACCOUNTS[p][i]) for p in ("linkedin", "x") for i in (0, 1)],
                            columns=["platform", "account_id"])
    owners = build_experiments(generation)[["experiment_id", "platform", "account_id"]]
    table = findings_per_account(ranked, accounts, boosting, owners)
    day = FIRST_DAY + timedelta(days=9 + generation % 7)
    table = table.assign(window_start=day - timedelta(days=27), window_end=day,
                         generated_at=BASE_TIME - timedelta(hours=1), acknowledged_at=pd.NaT, acknowledgement_id=None)
    # one insight acknowledged in the warehouse already (the acknowledgement loaded and joined)
    first = table.index[table["account_id"] == ACCOUNTS["linkedin"][0]][0]
    table.loc[first, "acknowledged_at"] = BASE_TIME - timedelta(hours=3)
    table.loc[first, "acknowledgement_id"] = "ack_" + "0" * 32
    return table.sample(frac=1, random_state=generation).reset_index(drop=True)


def _experiment(experiment_id: str, factor: str, start, status: str, winner: str | None, more: int = 0) -> dict:
    """One experiment's call; ``more`` shifts its numbers (each generation's differ)."""
    control, treatment = {"creative": ("static_image", "short_video"), "budget": ("usd_50_per_day", "usd_100_per_day"),
                          "targeting": ("followers_lookalike", "job_title")}[factor]
    return {
        "experiment_id": experiment_id, "experiment_name": f"{factor}: {treatment} vs {control}", "factor": factor,
        "metric": "watch_seconds", "metric_kind": "continuous", "control_variant": control,
        "treatment_variant": treatment, "start_date": start, "end_date": start + timedelta(days=13),
        "decision_rule": "fixed_horizon", "test": "welch_t", "alpha": 0.05, "mde": 1.0, "required_n_per_arm": 1005,
        "n_control": 2100 + 10 * more, "n_treatment": 2100 + 10 * more, "n_tested_per_arm": 1005, "control_mean": 12.04,
        "treatment_mean": 13.31234 + more / 10, "effect": 1.27234 + more / 10, "ci_low": 0.61234, "ci_high": 1.93234, "p_value": 0.000162,
        "always_valid_p_value": 0.0011, "always_valid_ci_low": 0.4, "always_valid_ci_high": 2.1, "status": status,
        "winner": winner, "reason": "p = 0.000162 < alpha = 0.05 at the planned 1005 units per arm",
    }


def build_experiments(generation: int = 1) -> pd.DataFrame:
    """Three experiments: one on both workspaces' boosting accounts, one on acme's only, one on globex's only."""
    acme, globex = [(p, ACCOUNTS[p][0]) for p in ("linkedin", "x")], [(p, ACCOUNTS[p][1]) for p in ("linkedin", "x")]
    experiments = [
        (_experiment("exp_20240503_creative", "creative", FIRST_DAY + timedelta(days=2), "winner", "short_video", generation - 1),
         [*acme, *globex]),
        (_experiment("exp_20240501_budget", "budget", FIRST_DAY, "inconclusive", None, generation - 1), acme[:1]),
        (_experiment("exp_20240506_targeting", "targeting", FIRST_DAY + timedelta(days=5), "running", None, generation - 1), globex),
    ]
    rows = [
        {"platform": p, "account_id": a, "boosts_in_window": 1 + i, "accounts_in_experiment": len(owners), **exp}
        for exp, owners in experiments for i, (p, a) in enumerate(owners)
    ]
    return pd.DataFrame(rows).sample(frac=1, random_state=generation).reset_index(drop=True)


def build_hook_success(generation: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(9100 + generation)
    rows = []
    for platform in ORGANIC:
        for account in ACCOUNTS[platform]:
            means = rng.uniform(0.01, 0.08, len(HOOKS))
            posts = [int(n) for n in rng.integers(5, 80, len(HOOKS))]
            ranked = sorted((m - 0.005 for m, n in zip(means, posts) if n >= 30), reverse=True)
            for hook, mean, n in zip(HOOKS, means, posts):
                lower = mean - 0.005
                rows.append({
                    "platform": platform, "account_id": account, "hook_type": hook, "posts": n,
                    "mean_engagement_rate": float(mean), "sd_engagement_rate": 0.02, "standard_error": 0.02 / n**0.5,
                    "t_critical": 2.0, "ci_lower": float(lower), "ci_upper": float(mean + 0.005),
                    "mean_engagement_score": float(mean * 10_000), "lift_vs_account_posts": float(mean / means.mean() - 1),
                    "insufficient_sample": n < 30, "hook_rank": ranked.index(lower) + 1 if n >= 30 else None,
                })
    return pd.DataFrame(rows).sample(frac=1, random_state=generation).reset_index(drop=True)


def build_content_performance(generation: int = 1, n_days: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(9200 + generation)
    values = {"hook_type": HOOKS, "media_type": ("image", "video"), "topic": ("product",)}
    rows = []
    for platform in ORGANIC:
        for account in ACCOUNTS[platform]:
            for d in range(n_days):
                for dimension, levels in values.items():
                    for level in levels:
                        impressions = int(rng.integers(100, 5000))
                        engagements = int(impressions * rng.uniform(0.01, 0.06))
                        rows.append({
                            "metric_date": FIRST_DAY + timedelta(days=d), "platform": platform, "account_id": account,
                            "dimension": dimension, "dimension_value": level, "posts_published": int(rng.integers(0, 3)),
                            "posts_active": int(rng.integers(1, 9)), "impressions": impressions,
                            "engagements": engagements, "engagement_rate": engagements / impressions,
                            "avg_engagement_score": float(rng.uniform(50, 900)),
                        })
    return pd.DataFrame(rows).sample(frac=1, random_state=generation).reset_index(drop=True)


def build_read_models(generation: int = 1) -> dict[str, pd.DataFrame]:
    return {
        "insights.parquet": build_insights(generation),
        "experiments.parquet": build_experiments(generation),
        "hook_success.parquet": build_hook_success(generation),
        "content_performance.parquet": build_content_performance(generation, 10 + generation % 7),
    }

SCHEMAS.update(READ_MODEL_SCHEMAS)


# -- the daily series' anomalies and forecasts: a campaign's rows are its account's; a platform's organic total is
# published once per account of the platform, series_accounts saying how many (contracts.serving.platform_rows) ----

_SERIES = [("series_id", pa.string()), ("entity_type", pa.string()), ("platform", pa.string()),
           ("account_id", pa.string()), ("campaign_id", pa.string()), ("metric", pa.string())]
SERIES_SCHEMAS = {
    "anomalies.parquet": _s(
        *_SERIES, ("metric_date", pa.date32()), ("kind", pa.string()), ("severity", pa.string()),
        *[(c, pa.float64()) for c in ("observed", "expected", "expected_low", "expected_high", "change", "score")],
        ("history_days", pa.int32()), ("series_accounts", pa.int64()),
    ),
    "forecasts.parquet": _s(
        *_SERIES, ("origin_date", pa.date32()), ("forecast_date", pa.date32()), ("horizon", pa.int32()),
        *[(c, pa.float64()) for c in ("forecast", "lo_80", "hi_80", "lo_95", "hi_95")], ("model", pa.string()),
        ("history_days", pa.int32()), ("series_accounts", pa.int64()),
    ),
}
SERIES_SEVERITIES = ("medium", "high", "critical")


def _series_copies(platform: str, account: str | None, campaign_id: str | None, metric: str) -> list[dict]:
    """A row's identity, once for a campaign's account, once per account of the platform for a platform's total."""
    if campaign_id is not None:
        sid = f"campaign:{platform}:{campaign_id}:{metric}"
        return [{"series_id": sid, "entity_type": "campaign", "platform": platform, "account_id": account,
                 "campaign_id": campaign_id, "metric": metric, "series_accounts": 1}]
    owners = ACCOUNTS[platform]
    return [{"series_id": f"platform:{platform}:{metric}", "entity_type": "platform", "platform": platform,
             "account_id": a, "campaign_id": None, "metric": metric, "series_accounts": len(owners)} for a in owners]


def build_anomalies(generation: int = 1, n_days: int = 14) -> pd.DataFrame:
    """Per campaign a spend spike (severity cycling medium, high, critical) and a tracking outage (critical) on two
    days; per organic platform a viral spike of its impressions, published to both its accounts."""
    rows = []

    def flag(copies, day, kind, severity, expected, observed):
        low, high = expected * 0.7, expected * 1.3
        for c in copies:
            rows.append({**c, "metric_date": FIRST_DAY + timedelta(days=day), "kind": kind, "severity": severity,
                         "observed": observed, "expected": expected, "expected_low": low, "expected_high": high,
                         "change": observed / expected - 1, "score": 6.0 + 3 * SERIES_SEVERITIES.index(severity),
                         "history_days": 28})

    for i, (p, a, c) in enumerate(_campaign_ids()):
        budget = 100.0 + i + 10 * (generation - 1)
        flag(_series_copies(p, a, c, "spend"), (i + generation) % n_days, "spend_spike",
             SERIES_SEVERITIES[i % 3], budget, budget * (2.5 + 0.1 * i))
        flag(_series_copies(p, a, c, "conversions"), (i + generation + 5) % n_days, "tracking_outage",
             "critical", 8.0 + i % 4, 0.0)
    for j, p in enumerate(ORGANIC):
        expected = 20000.0 * (j + 1)
        flag(_series_copies(p, None, None, "impressions"), (2 * j + generation) % n_days, "viral_spike", "high",
             expected, expected * (3.0 + 0.25 * generation))
    return _shuffled(rows, generation)


def build_forecasts(generation: int = 1, n_days: int = 14) -> pd.DataFrame:
    """The latest origin's 7 days ahead of each campaign's spend and conversions and each organic platform's
    impressions (published to both its accounts), intervals nested around the point."""
    origin = FIRST_DAY + timedelta(days=n_days - 1)
    series = [(_series_copies(p, a, c, m), 50.0 + 7 * i + (5 if m == "spend" else 0))
              for i, (p, a, c) in enumerate(_campaign_ids()) for m in ("spend", "conversions")]
    series += [(_series_copies(p, None, None, "impressions"), 20000.0 * (j + 1)) for j, p in enumerate(ORGANIC)]
    rows = []
    for copies, level in series:
        for h in range(1, 8):
            point = level * (1 + 0.01 * h) + generation
            for c in copies:
                rows.append({**c, "origin_date": origin, "forecast_date": origin + timedelta(days=h), "horizon": h,
                             "forecast": point, "lo_80": point * 0.85, "hi_80": point * 1.15, "lo_95": point * 0.75,
                             "hi_95": point * 1.25, "model": "ensemble(AutoETS+AutoARIMA)", "history_days": 60})
    return _shuffled(rows, generation)


def build_series_files(generation: int = 1) -> dict[str, pd.DataFrame]:
    n_days = 10 + generation % 7
    return {"anomalies.parquet": build_anomalies(generation, n_days), "forecasts.parquet": build_forecasts(generation, n_days)}


SCHEMAS.update(SERIES_SCHEMAS)


# -- publishing -----------------------------------------------------------------------------------


def atomic_write_bytes(path: Path, writer) -> None:
    """Write through `writer(tmp_path)` then os.replace onto `path`, like the publisher does."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def to_table(name: str, df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, schema=SCHEMAS[name], preserve_index=False)


def manifest_doc(frames: dict[str, pd.DataFrame], published_at: datetime,
                 files: dict[str, bytes] | None = None) -> dict:
    """The manifest of ``frames``; with ``files`` (name -> published bytes) also each file's size and
    SHA-256, as the ``serving_snapshot`` asset writes them (otherwise a manifest from before checksums)."""
    doc = {
        "published_at": published_at.isoformat() + "Z",
        "files": {name: {"rows": len(df)} for name, df in frames.items()},
    }
    if files is not None:
        for name, entry in doc["files"].items():
            entry.update({"bytes": len(files[name]), "sha256": hashlib.sha256(files[name]).hexdigest()})
    return doc


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def publish_bytes(serving_dir: Path, files: dict[str, bytes]) -> None:
    """Atomically publish ready-made file contents (file name -> bytes), in the given order."""
    for name, data in files.items():
        atomic_write_bytes(serving_dir / name, lambda tmp, b=data: tmp.write_bytes(b))


def publish_tables(serving_dir: Path, tables: dict[str, pa.Table], manifest: dict | None) -> None:
    """Atomically publish Arrow tables (file name -> table), then the manifest if given."""
    serving_dir.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        atomic_write_bytes(serving_dir / name, lambda tmp, t=table: pq.write_table(t, tmp))
    if manifest is not None:
        payload = json.dumps(manifest)
        atomic_write_bytes(serving_dir / "manifest.json", lambda tmp: tmp.write_text(payload))


def published_at(generation: int) -> datetime:
    return BASE_TIME + timedelta(minutes=generation, seconds=30)


def publish(serving_dir: Path, frames: dict[str, pd.DataFrame] | None = None, *, generation: int = 1,
            manifest: bool = True, checksums: bool = False) -> dict[str, pd.DataFrame]:
    """Publish serving files (all four by default), manifest last. Returns what was written. With
    ``checksums`` the manifest names each file's size and SHA-256 (the current format)."""
    frames = build_all(generation) if frames is None else frames
    tables = {name: to_table(name, df) for name, df in frames.items()}
    if not checksums:
        doc = manifest_doc(frames, published_at(generation)) if manifest else None
        publish_tables(serving_dir, tables, doc)
        return frames
    files = {name: parquet_bytes(table) for name, table in tables.items()}
    serving_dir.mkdir(parents=True, exist_ok=True)
    publish_bytes(serving_dir, files)
    if manifest:
        doc = manifest_doc(frames, published_at(generation), files)
        publish_bytes(serving_dir, {"manifest.json": json.dumps(doc).encode()})
    return frames


# -- access ---------------------------------------------------------------------------------------


def make_registry(path: Path, *, split: bool = False, scopes: tuple[str, ...] = ("read",)) -> dict[str, str]:
    """An access registry at ``path`` and a key per workspace (workspace -> token): one workspace
    ``default`` owning every test account, or (``split``) ``acme`` and ``globex`` owning theirs."""
    from analytics_assets.contracts.access import Account, AccessRegistry

    registry = AccessRegistry(path)
    tokens = {}
    for workspace in (WORKSPACES if split else ["default"]):
        registry.create_workspace(workspace, exist_ok=True)
        owned = accounts_of(workspace if split else None)
        registry.add_accounts(workspace, [Account(p, a) for p, a in owned])
        tokens[workspace] = registry.create_key(workspace, "tests", scopes).token
    return tokens


def api_client(serving_dir: Path, state_dir: Path | None = None, *, workspace: str = "default",
               raise_server_exceptions: bool = True, **app_kwargs):
    """A TestClient of ``create_app(serving_dir, ...)`` that sends a read key of ``workspace`` (``default``
    owns every test account; ``acme`` and ``globex`` their own, see ``make_registry``). The access registry
    and the webhook store live in ``state_dir`` (default: the serving folder's parent); clients of one
    serving folder share its registry, each with a key of its own. ``app_kwargs`` go to ``create_app``: by
    default the clock is ``NOW`` (the test snapshots are published on the morning of 2024-05-15, and
    /health judges their age as of then) and the rate limit is out of the way."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    state = Path(state_dir) if state_dir is not None else Path(serving_dir).parent
    split = workspace != "default"
    access = state / f"access-{Path(serving_dir).name}{'-split' if split else ''}.sqlite3"
    token = make_registry(access, split=split)[workspace]
    app_kwargs.setdefault("clock", lambda: NOW)
    app_kwargs.setdefault("rate_limit", "100000/minute")
    app_kwargs.setdefault("webhook_store", state / "inbound.sqlite3")
    app = create_app(serving_dir, access_store=access, **app_kwargs)
    return TestClient(app, headers={"Authorization": f"Bearer {token}"},
                      raise_server_exceptions=raise_server_exceptions)


def stored_webhook_events(store_path: Path) -> int:
    """Webhook events in the API's inbound store (0 when nothing was ever stored). The file itself may exist
    without any: the audit record of a refused delivery lands in the same store."""
    from analytics_assets.contracts.inbound import WebhookStore

    state = WebhookStore(store_path).state()
    return 0 if state is None else state.events
