"""The warehouse marts on the end-to-end pipeline's data (the session `pipeline` fixture, three
partitions of the simulator with malformed records): the hook ranking recovers the planted hook
effects with correct confidence intervals, creatives reconcile with campaigns, and every summary agrees
with the facts it summarizes and with the API's /overview."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics_assets.sources.simulator import ground_truth as gt
from api.overview import OVERVIEW_DAILY, compute_overview

pytestmark = pytest.mark.slow


def test_hook_ranking_recovers_the_planted_hook_effects(pipeline):
    home, _ = pipeline
    hooks = home.query("select * from main.agg_hook_success order by hook_rank")
    ranked = hooks[hooks["hook_rank"].notna()]
    assert set(ranked["hook_type"]) == set(gt.HOOK_EFFECTS)  # every hook has enough posts here
    assert (ranked["posts"] >= 30).all() and not hooks["insufficient_sample"].any()
    planted_order = sorted(gt.HOOK_EFFECTS, key=gt.HOOK_EFFECTS.get, reverse=True)
    assert ranked["hook_type"].tolist() == planted_order
    # the interval is the t interval of the mean over the same posts
    posts = home.query(
        "select coalesce(hook_type, 'unknown') hook_type, engagement_rate from main.dim_post "
        "where engagement_rate is not null and post_age_hours >= 24"
    )
    for row in ranked.itertuples():
        rates = posts.loc[posts["hook_type"] == row.hook_type, "engagement_rate"].to_numpy()
        low, high = stats.t.interval(0.95, len(rates) - 1, loc=rates.mean(), scale=stats.sem(rates))
        assert row.posts == len(rates)
        assert row.ci_lower == pytest.approx(low, rel=1e-4) and row.ci_upper == pytest.approx(high, rel=1e-4)


def test_ads_reconcile_with_their_campaigns_except_on_quarantined_days(pipeline):
    home, _ = pipeline
    compared = home.query(
        """
        with ads as (
            select platform, campaign_id, metric_date, sum(impressions) impressions, sum(spend) spend,
                   sum(conversion_value_usd) value, count(*) n_ads, count(video_p25_views) n_video
            from main.fct_ad_creative_performance group by all
        ),
        gaps as (
            select distinct platform, partition_date as metric_date from raw.raw_quarantine
            where source_table in ('raw_ad_campaign_metrics', 'raw_ad_creative_metrics')
        )
        select c.platform, c.campaign_id, c.metric_date, c.impressions, c.spend, c.conversion_value_usd,
               ads.impressions ad_impressions, ads.spend ad_spend, ads.value ad_value, ads.n_video,
               c.video_p25_views, gaps.platform is not null as has_gap
        from main.fct_campaign_performance c
        left join ads using (platform, campaign_id, metric_date)
        left join gaps on gaps.platform = c.platform and gaps.metric_date = c.metric_date
        """
    )
    clean = compared[~compared["has_gap"]]
    assert len(clean) > 30 and compared["has_gap"].any()  # malformed records made real gaps
    assert (clean["impressions"] == clean["ad_impressions"]).all()
    assert np.allclose(clean["spend"], clean["ad_spend"], atol=0.005)
    assert np.allclose(clean["conversion_value_usd"], clean["ad_value"], atol=0.005)
    # campaign video quartiles are their video ads' sums, and exist on every ad platform
    with_video = compared[compared["n_video"] > 0]
    assert set(with_video["platform"]) == set(gt.AD_PLATFORMS)
    assert compared.loc[compared["n_video"] == 0, "video_p25_views"].isna().all()
    frequency = home.query("select platform, avg(frequency) f, count(frequency) n from main.fct_campaign_performance group by 1")
    freq = dict(zip(frequency["platform"], frequency["n"]))
    assert freq["google_ads"] == 0 and freq["meta_ads"] > 0 and freq["linkedin_ads"] > 0


def test_every_campaign_day_has_its_settings_version(pipeline):
    home, _ = pipeline
    summary = home.query("select * from main.agg_campaign_daily_summary")
    facts = home.query("select count(*) n from main.fct_campaign_performance")["n"][0]
    assert len(summary) == facts and summary["campaign_version_id"].notna().all()
    paused = summary[summary["campaign_status"] == "paused"]
    assert len(paused) > 0 and (paused["spend_usd"] == 0).all()
    active = summary[(summary["campaign_status"] == "active") & ~summary["is_boost"]]
    assert active["budget_utilization"].between(0.79, 1.0 + 1e-6).all()
    current = home.query("select platform, campaign_id, count(*) n from main.dim_campaign where is_current group by all")
    assert (current["n"] == 1).all()


def test_overview_windows_match_the_api_on_the_published_daily_totals(pipeline):
    from api.local import local_client

    home, _ = pipeline
    windows = home.query("select * from main.agg_overview_windows order by window_order, metric_order")
    # the published file holds one row per day and account: the API sums a workspace's accounts per day,
    # here a workspace owning every account
    served = pd.read_parquet(home.serving / OVERVIEW_DAILY)
    served["metric_date"] = pd.to_datetime(served["metric_date"]).dt.date
    daily = served.drop(columns=["platform", "account_id"]).groupby("metric_date", as_index=False).sum()
    # the AI calls that belong to no account (no post) are in the warehouse's totals only: added back, the
    # accounts' sums are agg_overview_daily, so the windows match on every metric
    unattributed = home.query(
        "select generated_date as metric_date, count(*) as ai_calls, sum(cost_usd) as ai_cost_usd "
        "from main.int_ai_generation_accounts where not is_attributed group by 1"
    )
    unattributed["metric_date"] = pd.to_datetime(unattributed["metric_date"]).dt.date
    totals = daily.merge(unattributed, on="metric_date", how="left", suffixes=("", "_no_account"))
    assert totals["ai_calls_no_account"].sum() > 0
    for column in ("ai_calls", "ai_cost_usd"):
        totals[column] = totals[column] + totals.pop(f"{column}_no_account").fillna(0)
    assert set(windows["window_name"]) == {"24h", "7d", "30d", "90d"}
    client = local_client(home.serving, home.root / "api-state")
    for name, rows in windows.groupby("window_name", sort=False):
        start, end = rows["current_start"].iloc[0].date(), rows["current_end"].iloc[0].date()
        result = compute_overview(totals.to_dict("records"), start, end)
        assert result["previous_start"] == rows["previous_start"].iloc[0].date()
        by_metric = {m["metric"]: m for m in result["metrics"]}
        assert list(by_metric) == rows["metric"].tolist()
        for row in rows.itertuples():
            for ours, dbt_value in (("current", row.current_value), ("previous", row.previous_value),
                                    ("change_pct", row.change_pct)):
                mine = by_metric[row.metric][ours]
                if pd.isna(dbt_value):
                    assert mine is None, (name, row.metric, ours)
                else:
                    assert mine == pytest.approx(dbt_value, rel=1e-9), (name, row.metric, ours)
        # the API answers from the published file alone: the accounts' sums
        served_only = {m["metric"]: m for m in compute_overview(daily.to_dict("records"), start, end)["metrics"]}
        api = client.get("/v1/overview", params={"start": start.isoformat(), "end": end.isoformat()}).json()
        for m in api["metrics"]:
            for ours in ("current", "previous", "change_pct"):
                expected = served_only[m["metric"]][ours]
                if ours == "change_pct" and not api["previous_complete"]:  # a window reaching before the data
                    expected = None
                # the API rounds to 4 decimals
                assert m[ours] == (None if expected is None else pytest.approx(expected, rel=1e-9, abs=5.1e-5)), (
                    name, m["metric"], ours)
    # the 24h window compares the last day with the one before, both with data here
    last = windows[(windows["window_name"] == "24h") & (windows["metric"] == "spend_usd")].iloc[0]
    assert last["current_days_with_data"] == last["previous_days_with_data"] == 1
    assert last["current_end"].date() == date(2026, 10, 14)


def test_summaries_agree_with_the_facts_they_summarize(pipeline):
    home, _ = pipeline
    # platform comparison = the paid rows of agg_platform_daily
    comparison = home.query("select metric_date, platform, spend_usd, revenue_usd, profit_usd, roas from main.agg_platform_comparison")
    paid = home.query("select metric_date, platform, spend_usd, revenue_usd from main.agg_platform_daily where channel_type = 'paid'")
    merged = comparison.merge(paid, on=["metric_date", "platform"], suffixes=("", "_daily"), validate="one_to_one")
    assert len(merged) == len(paid) == len(comparison)
    assert np.allclose(merged["spend_usd"], merged["spend_usd_daily"]) and np.allclose(merged["revenue_usd"], merged["revenue_usd_daily"])
    assert np.allclose(merged["profit_usd"], merged["revenue_usd"] - merged["spend_usd"])
    # each content breakdown adds up to the platform's organic day
    content = home.query(
        "select metric_date, platform, dimension, sum(impressions) impressions, sum(engagements) engagements "
        "from main.agg_content_performance_daily group by all"
    )
    organic = home.query("select metric_date, platform, impressions, engagements from main.agg_platform_daily where channel_type = 'organic'")
    joined = content.merge(organic, on=["metric_date", "platform"], suffixes=("", "_platform"))
    assert len(joined) == 3 * len(organic)
    assert (joined["impressions"] == joined["impressions_platform"]).all()
    assert (joined["engagements"] == joined["engagements_platform"]).all()
    # top posts: each account's twenty best scores among posts with enough impressions, ranked 1..n
    top = home.query("select platform, account_id, post_id, post_rank from main.agg_top_posts order by all")
    best = home.query(
        "select platform, account_id, post_id, row_number() over (partition by platform, account_id "
        "order by engagement_score desc, engagements desc, post_id) as post_rank from main.dim_post "
        "where impressions >= 500 and engagement_score is not null qualify post_rank <= 20 order by all"
    )
    assert len(top) > 20 and top.astype(str).values.tolist() == best.astype(str).values.tolist()
    # ... from which the ten best over all accounts (what the API ranks for a workspace owning them all)
    overall = home.query(
        "select t.post_id from main.agg_top_posts t join main.dim_post p using (platform, post_id) "
        "order by p.engagement_score desc, p.engagements desc, t.platform, t.post_id limit 10"
    )
    best10 = home.query(
        "select post_id from main.dim_post where impressions >= 500 and engagement_score is not null "
        "order by engagement_score desc, engagements desc, platform, post_id limit 10"
    )
    assert overall["post_id"].tolist() == best10["post_id"].tolist()
    # AI usage per model and day: counts and latency percentiles of the raw calls
    usage = home.query("select * from main.agg_ai_usage_daily")
    calls = home.query("select cast(generated_at as date) d, model, latency_ms from raw.raw_ai_generations")
    assert usage["calls"].sum() == len(calls)
    for row in usage.sample(4, random_state=0).itertuples():
        lat = calls.loc[(calls["d"] == row.generated_date) & (calls["model"] == row.model), "latency_ms"]
        assert row.latency_p95_ms == pytest.approx(np.percentile(lat, 95))
        assert row.latency_p50_ms == pytest.approx(np.median(lat))
