"""The whole graph on three partitions of the simulator: lineage, dbt tests, idempotency, quarantine,
recovery of the planted posting hours, and the API serving it while a run writes the warehouse."""

from __future__ import annotations

import os

import threading
import time
from datetime import timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from analytics_assets.sources.parsing.loader import parse_day
from analytics_assets.contracts.raw import RAW_TABLES
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import ground_truth as gt
from cycle_testing import E2E_END, E2E_SIM, E2E_START
from dbt_logs import parse_events
from ml.attribution import MODELS as ATTRIBUTION_MODELS
from warehouse_state import table_fingerprints

pytestmark = pytest.mark.slow

EXPECTED_ASSETS = {
    *RAW_TABLES,
    "stg_social_post_snapshots",
    "fct_snapshot_delta_flags",
    "snapshot_delta_reviews",
    "fct_post_metrics_daily",
    "agg_engagement_by_hour",
    "fct_campaign_performance",
    "fct_ad_creative_performance",
    "stg_ad_creative_metrics",
    "int_campaign_settings_versions",
    "snap_campaign_versions",
    "dim_campaign",
    "dim_date",
    "dim_time",
    "dim_platform",
    "agg_campaign_daily_summary",
    "agg_platform_comparison",
    "agg_overview_daily",
    "agg_overview_windows",
    "agg_top_posts",
    "agg_content_performance_daily",
    "agg_ai_usage_daily",
    "agg_hook_success",
    "agg_platform_daily",
    "dim_account",
    "agg_account_daily",
    "agg_overview_account_daily",
    "agg_account_engagement_by_hour",
    "fct_touchpoint_attribution",
    "agg_channel_attribution",
    "agg_channel_attribution_daily",
    "fct_boost_contribution",
    "ml_training_dataset",
    "ml_feature_drift",
    "engagement_model",
    "posting_hour_recommendations",
    "ml_posting_slots",
    "ml_recommendations",
    "stg_recommendation_feedback",
    "fct_recommendations",
    "fct_recommendation_outcomes",
    "agg_recommendation_performance",
    "serving_snapshot",
    "agg_attribution_model_comparison",
    "stg_experiment_observations",
    "fct_boost_organic_vs_paid",
    "boost_effectiveness",
    "experiment_results",
    "insights",
}


def _events(result, kind: str):
    return [e for e in result.all_events if e.event_type_value == kind]


def test_whole_graph_materializes_and_every_check_passes(pipeline):
    home, result = pipeline
    materialized = {e.asset_key.to_user_string() for e in _events(result, "ASSET_MATERIALIZATION")}
    assert EXPECTED_ASSETS <= materialized
    raw_partitions = {
        e.partition for e in _events(result, "ASSET_MATERIALIZATION") if e.asset_key.to_user_string() == "raw_boosts"
    }
    assert raw_partitions == {(E2E_START + timedelta(days=k)).isoformat() for k in range(3)}
    checks = [e.event_specific_data for e in _events(result, "ASSET_CHECK_EVALUATION")]
    dbt_checks = [c for c in checks if not c.asset_key.to_user_string().startswith("raw_")]
    assert len(dbt_checks) > 100  # dbt data tests, reported as Dagster asset checks
    failed = [(c.asset_key.to_user_string(), c.check_name) for c in checks if not c.passed]
    # the one quarantined campaign row of this seed (malformed rate 0.01) holds back its boost day and ad
    # instead of breaking the run: a warning that lists them, never an error
    held_back = ("fct_held_back_rows", "held_back_rows_waiting_for_a_parent")
    assert [f for f in failed if f != held_back] == []
    assert all(c.severity == dg.AssetCheckSeverity.WARN for c in checks if not c.passed)
    # dbt got the warehouse and the window for its own process only: nothing leaks into later commands
    assert os.environ.get("CYCLE_WAREHOUSE_PATH") != str(home.warehouse)
    assert "CYCLE_DBT_MIN_DATE" not in os.environ and "CYCLE_DBT_MAX_DATE" not in os.environ


def test_lineage_runs_raw_to_dbt_to_attribution_and_training_to_model_to_recommendations(pipeline):
    home, _ = pipeline
    graph = home.defs().resolve_asset_graph()

    def upstream(key: str) -> set[str]:
        seen, todo = set(), [dg.AssetKey(key)]
        while todo:
            for parent in graph.get(todo.pop()).parent_keys:
                if parent.to_user_string() not in seen:
                    seen.add(parent.to_user_string())
                    todo.append(parent)
        return seen

    assert "raw_touchpoints" in upstream("agg_channel_attribution")
    assert {"fct_post_metrics_daily", "raw_social_post_snapshots"} <= upstream("ml_training_dataset")
    assert {"ml_training_dataset", "raw_social_post_snapshots"} <= upstream("engagement_model")
    assert "engagement_model" in upstream("posting_hour_recommendations")
    assert {"ml_posting_slots", "engagement_model", "dim_post"} <= upstream("ml_recommendations")
    assert {"ml_recommendations", "raw_recommendation_feedback"} <= upstream("fct_recommendations")
    assert {"fct_recommendations", "agg_recommendation_performance"} <= upstream("serving_snapshot")
    assert {"posting_hour_recommendations", "agg_channel_attribution_daily", "agg_account_daily", "dim_account"} <= upstream("serving_snapshot")


def test_malformed_records_land_in_quarantine_and_nowhere_else(pipeline):
    home, _ = pipeline
    sim = PlatformSimulator(SimulatorConfig(**E2E_SIM))
    quarantine = home.query("select source_table, count(*) n from raw.raw_quarantine group by 1")
    quarantined = dict(zip(quarantine["source_table"], quarantine["n"]))
    expected_rows: dict[str, int] = {}
    expected_quarantine: dict[str, int] = {}
    for k in range(3):
        for table, batch in parse_day(sim.day(E2E_START + timedelta(days=k))).items():
            expected_rows[table] = expected_rows.get(table, 0) + len(batch.rows)
            expected_quarantine[table] = expected_quarantine.get(table, 0) + batch.quarantined
    injected = sum(len(sim.day(E2E_START + timedelta(days=k)).malformed) for k in range(3))
    assert sum(quarantined.values()) == sum(expected_quarantine.values()) == injected > 50
    for table, n in expected_rows.items():
        assert home.query(f"select count(*) n from raw.{table}")["n"][0] == n, table
        assert quarantined.get(table, 0) == expected_quarantine[table], table
    bad = home.query(
        """select count(*) n from raw.raw_social_post_snapshots
           where post_id is null or impressions < 0 or likes < 0 or comments < 0 or snapshot_at < published_at"""
    )
    assert bad["n"][0] == 0
    reasons = home.query("select reason from raw.raw_quarantine")["reason"]
    assert reasons.str.len().gt(10).all()


def test_pipeline_recovers_the_strongest_posting_hour_per_platform(pipeline):
    home, _ = pipeline
    planted = {p: gt.strongest_posting_hour(p) for p in gt.ORGANIC_PLATFORMS}
    # the champion's hour curve (the posting policy's prior, averaged over the weekdays) peaks at the planted hour
    prior = home.query(
        """select platform, publish_hour from (
               select platform, publish_hour, avg(prior_mean_log) as score,
                      row_number() over (partition by platform order by avg(prior_mean_log) desc) as rank
               from ml.ml_posting_slots group by platform, publish_hour)
           where rank = 1"""
    )
    assert dict(zip(prior["platform"], prior["publish_hour"])) == planted
    # the served answer also follows the last 7 days' outcomes (so it moves when the audience does, see make
    # benchmark-loop): on these three days it stays within an hour of the planted one (neighbours differ by ~4%)
    best = home.query("select platform, publish_hour from ml.posting_hour_recommendations where rank = 1")
    for platform, hour in zip(best["platform"], best["publish_hour"]):
        d = abs(hour - planted[platform]) % 24
        assert min(d, 24 - d) <= 1, (platform, hour, planted[platform])


def test_attribution_model_comparison_credits_every_conversion_under_every_model(pipeline):
    home, result = pipeline
    credits = home.query("select * from analysis.agg_attribution_model_comparison")
    paths = home.query(
        """select count(*) as conversions, sum(conversion_value_usd) as value from main.int_journey_conversions
           where conversion_id in (select conversion_id from main.int_attribution_touchpoints)"""
    )
    sums = credits.groupby("model")[["conversions", "value", "share"]].sum()
    assert set(sums.index) == set(ATTRIBUTION_MODELS)
    assert sums["conversions"].to_numpy() == pytest.approx(paths["conversions"][0], rel=1e-9)
    assert sums["value"].to_numpy() == pytest.approx(paths["value"][0], rel=1e-9)
    assert sums["share"].to_numpy() == pytest.approx(1.0)
    credit = credits.pivot(index="channel", columns="model", values="conversions")
    # planted log-odds effects 0.9 and 0.1: every model sees it, the incremental Shapley game most clearly
    assert (credit.loc["google_ads"] > credit.loc["reddit_organic"]).all(), credit
    assert credit["shapley"].idxmax() == "google_ads", credit
    key = "agg_attribution_model_comparison"
    [event] = [e for e in _events(result, "ASSET_MATERIALIZATION") if e.asset_key.to_user_string() == key]
    metadata = event.event_specific_data.materialization.metadata
    assert metadata["markov_order"].value == 1
    assert metadata["conversions"].value == paths["conversions"][0]
    assert "google_ads" in metadata["credited_conversions"].value


def test_boosts_organic_vs_paid_and_lift_match_what_the_simulator_planted(pipeline):
    home, _ = pipeline
    sim = PlatformSimulator(SimulatorConfig(**E2E_SIM))
    touches = pd.concat(
        [parse_day(sim.day(E2E_START + timedelta(days=k)))["raw_touchpoints"].rows for k in range(3)], ignore_index=True
    )
    vs = home.query("select * from main.fct_boost_organic_vs_paid")
    contribution = home.query("select boost_id, campaign_id, post_id from main.fct_boost_contribution")
    assert len(vs) == len(contribution) > 30
    # organic vs paid per boost, recounted from the tracked touchpoints the simulator tagged
    paid = touches.merge(contribution, left_on="utm_campaign", right_on="campaign_id")[["boost_id", "journey_id"]]
    organic = touches[touches["utm_medium"] == "social"].merge(contribution, left_on="utm_content", right_on="post_id")
    paid_pairs = set(map(tuple, paid.to_numpy()))
    organic_pairs = set(map(tuple, organic[["boost_id", "journey_id"]].to_numpy()))
    by_boost = vs.set_index("boost_id")
    assert by_boost["paid_journeys"].sum() == len(paid_pairs) > 20
    assert by_boost["organic_journeys"].sum() == len(organic_pairs) > 5
    assert by_boost["overlap_journeys"].sum() == len(paid_pairs & organic_pairs)
    per_boost = paid.drop_duplicates().groupby("boost_id").size()
    assert (by_boost.loc[per_boost.index, "paid_journeys"] == per_boost).all()
    assert (by_boost["incremental_reach_journeys"] == by_boost["paid_journeys"] - by_boost["overlap_journeys"]).all()
    # lift against the planted truth, on the boosts whose post was seen before its flight
    est = home.query("select * from analysis.boost_effectiveness")
    assert set(est["boost_id"]) == set(contribution["boost_id"])
    est = est[est["status"] == "estimated"]
    truth = sim.boost_truth(E2E_START - timedelta(days=7), E2E_END)
    truth = truth.drop(columns=["post_id", "platform", "published_at", "flight_start_at", "flight_end_at"])
    scored = est.merge(truth, on="boost_id")
    scored["true_lift"] = PlatformSimulator.true_incremental_engagements_at(scored, scored["evaluation_age_hours"].astype(float))
    assert len(scored) == len(est) >= 15
    covered = (scored["organic_lift_low"] <= scored["true_lift"]) & (scored["true_lift"] <= scored["organic_lift_high"])
    # ~20 boosts, 90% intervals: the share covered is noisy here (the calibration test measures it on ~400)
    assert covered.mean() >= 0.75
    assert np.corrcoef(scored["organic_lift"], scored["true_lift"])[0, 1] > 0.8
    trajectory = home.query("select * from analysis.boost_counterfactual_trajectory")
    assert set(trajectory["boost_id"]) == set(est["boost_id"])


def test_experiment_results_match_scipy_and_call_nothing_before_the_planned_sample(pipeline):
    home, _ = pipeline
    results = home.query("select * from analysis.experiment_results").set_index("experiment_id")
    obs = home.query("select * from main.stg_experiment_observations order by exposed_at, unit_id")
    assert set(results.index) == set(obs["experiment_id"]) and len(results) >= 4
    # three days of units cannot reach any design's planned sample: every experiment is still running
    assert (results["n_control"] < results["required_n_per_arm"]).all()
    assert (results["status"] == "running").all() and results["winner"].isna().all()
    for exp_id, g in obs.groupby("experiment_id"):
        c = g.loc[g["variant_role"] == "control", "value"].to_numpy()
        t = g.loc[g["variant_role"] == "treatment", "value"].to_numpy()
        row = results.loc[exp_id]
        if row["metric_kind"] == "binary":
            _, p = proportions_ztest([t.sum(), c.sum()], [len(t), len(c)])
        else:
            p = stats.ttest_ind(t, c, equal_var=False).pvalue
        assert row["p_value"] == pytest.approx(p, rel=1e-9), exp_id
        assert row["effect"] == pytest.approx(t.mean() - c.mean())


def test_engagement_model_beats_its_baseline_and_is_registered(pipeline):
    home, result = pipeline
    (event,) = [e for e in _events(result, "ASSET_MATERIALIZATION") if e.asset_key.to_user_string() == "engagement_model"]
    meta = event.event_specific_data.materialization.metadata
    assert meta["holdout/rmse"].value < meta["holdout/baseline_rmse"].value
    from ml.registry import load_model

    res = home.resources()["mlflow_store"]
    _, _, version, metrics = load_model(res.tracking_uri, res.model_name, alias="champion")
    assert str(version) == meta["model_version"].value
    assert metrics["n_holdout"] > 0
    # the asset page: figures to 4 significant digits (MLflow keeps the full ones), and the run's two pictures
    rmse = meta["holdout/rmse"].value
    assert rmse == pytest.approx(metrics["rmse"], rel=1e-3) and len(f"{rmse:e}".split("e")[0].rstrip("0")) <= 6
    for plot in ("challenger_holdout_plot", "challenger_training_history"):
        assert meta[plot].value.startswith("![") and "data:image/png;base64," in meta[plot].value


def test_api_answers_from_the_served_copy_while_a_run_writes_the_warehouse(pipeline):
    from api.local import local_client

    home, _ = pipeline
    client = local_client(home.serving, home.root / "api-state")
    errors: list[BaseException] = []

    def rerun():
        try:
            home.run(E2E_END, E2E_END, job="daily_pipeline_job")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    writer = threading.Thread(target=rerun)
    writer.start()
    statuses = []
    try:
        while writer.is_alive():
            statuses += [
                client.get("/v1/health").status_code,
                client.get("/v1/optimal-hours", params={"platform": "linkedin"}).status_code,
                client.get("/v1/rollups/daily", params={"platform": "x", "start": E2E_START.isoformat()}).status_code,
                client.get("/v1/attribution", params={"model": "position_based"}).status_code,
            ]
            time.sleep(0.2)
    finally:
        writer.join()
    assert not errors, errors
    assert len(statuses) > 20 and set(statuses) == {200}

    hours = client.get("/v1/optimal-hours", params={"platform": "tiktok", "top": 3}).json()
    assert hours and str(gt.strongest_posting_hour("tiktok")) in str(hours)
    rollups = client.get("/v1/rollups/daily", params={"start": E2E_START.isoformat(), "end": E2E_END.isoformat()}).json()
    assert rollups
    health = client.get("/v1/health").json()
    assert "raw_social_post_snapshots" in str(health) and "engagement_model" in str(health)
    attribution = client.get("/v1/attribution", params={"model": "linear"}).json()
    assert "google_ads" in str(attribution)
    assert client.get("/v1/optimal-hours", params={"platform": "myspace"}).status_code == 422
    assert client.get("/v1/rollups/daily", params={"start": "2026-13-01"}).status_code == 422
    assert client.get("/v1/attribution", params={"model": "astrology"}).status_code == 422


def test_rematerializing_a_partition_leaves_every_table_identical(pipeline):
    home, _ = pipeline
    before = table_fingerprints(home.warehouse)
    rerun = home.run(E2E_START + timedelta(days=1), E2E_START + timedelta(days=1), job="daily_pipeline_job")
    # another window on a warehouse dbt already ran on: dbt reuses its parse (the window is no --vars)
    events = parse_events(rerun.run_id)
    assert "PartialParsingSkipParsing" in dict(events) and "UnableToPartialParse" not in dict(events), events
    after = table_fingerprints(home.warehouse)
    assert set(before) == set(after)
    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    assert changed == {}


def test_insights_rank_planted_patterns_with_actions_and_report_no_noise(pipeline):
    """On the fixture's three days: the planted content effects and posting peaks come out as findings with
    figures and an action; nothing is said about the weekday of posting, where nothing is planted."""
    home, _ = pipeline
    table = home.query("select * from analysis.insights order by rank")
    assert len(table) and table["rank"].tolist() == list(range(1, len(table) + 1))
    assert table["action"].str.len().gt(10).all() and table["severity"].isin(["critical", "high", "medium", "low"]).all()
    subjects = set(table["subject"])
    assert {"video posts", "hook 'none'"} <= subjects, sorted(subjects)
    video = table[table["subject"] == "video posts"].iloc[0]
    assert video["effect"] > 0 and video["q_value"] < 0.05 and video["ci_low"] > 0
    assert (table.loc[table["subject"] == "hook 'none'", "effect"] < 0).all()
    assert not (table["category"] == "posting_day").any()
    best_hours = table[(table["category"] == "posting_time") & (table["effect"] > 0)]
    for row in best_hours.itertuples():
        platform, hour = row.subject.split()[0], int(row.subject.split()[3][:2])
        assert abs(hour - gt.strongest_posting_hour(platform)) <= 1, row.subject
