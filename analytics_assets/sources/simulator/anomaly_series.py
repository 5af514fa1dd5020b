"""The simulator's daily campaign and organic platform series, computed straight from it in the shape the marts
give them: what the anomaly benchmark and the detector's tests score on without building a warehouse (with
``SimulatorConfig.anomalies`` set, the planted anomalies are in them; ``PlatformSimulator.anomalies`` labels them)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from analytics_assets.sources.simulator import core
from analytics_assets.sources.simulator import ground_truth as gt


def daily_series(config, start: date, end: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The simulator's daily campaign and organic platform series of ``start..end`` in the shape the marts give
    them (``agg_campaign_daily_summary`` / ``fct_campaign_performance`` and ``agg_platform_daily``), computed
    straight from the simulator: what the benchmark scores detectors on without building a warehouse.

    Campaign days: metric_date, platform, account_id, campaign_id, daily_budget_usd, spend_usd, impressions,
    clicks, conversions (always-on campaigns only). Platform days: metric_date, platform, impressions,
    engagements (the day's growth of the cumulative counters of every poll that day)."""
    days = [start + timedelta(days=k) for k in range((end - start).days + 1)]
    ads = []
    for day in days:
        a = core._ad_day(config, day)
        usd = a["currency"].map(gt.USD_PER_UNIT)
        ads.append(
            pd.DataFrame(
                {
                    "metric_date": day,
                    "platform": a["platform"],
                    "account_id": a["account_id"],
                    "campaign_id": a["campaign_id"],
                    "daily_budget_usd": a["daily_budget_local"] * usd,
                    "spend_usd": a["spend_local"] * usd,
                    "impressions": a["impressions"].astype(np.int64),
                    "clicks": a["clicks"].astype(np.int64),
                    "conversions": a["conversions"].astype(float),
                }
            )
        )
    polls = core.PlatformSimulator(config).post_trajectories(start - timedelta(days=core.MAX_POST_AGE_DAYS), end)
    polls = polls.sort_values(["post_id", "snapshot_at"])
    engagement = [m for m in ("likes", "comments", "shares", "clicks", "quotes", "saves") if m in polls]
    polls["engagements"] = polls[engagement].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
    polls["impressions"] = pd.to_numeric(polls["impressions"], errors="coerce").fillna(0)
    growth = polls.groupby("post_id")[["impressions", "engagements"]].diff().fillna(polls[["impressions", "engagements"]])
    growth["metric_date"] = polls["snapshot_at"].dt.date
    growth["platform"] = polls["platform"]
    growth = growth[(growth["metric_date"] >= start) & (growth["metric_date"] <= end)]
    platform_days = growth.groupby(["metric_date", "platform"], as_index=False)[["impressions", "engagements"]].sum()
    return pd.concat(ads, ignore_index=True), platform_days
