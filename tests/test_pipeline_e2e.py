"""The whole graph on three partitions of the simulator: lineage, dbt tests, idempotency, quarantine,
recovery of the planted posting hours, and the API serving it while a run writes the warehouse."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from analytics_assets.ingest.loader import parse_day
from analytics_assets.ingest.tables import RAW_TABLES
from analytics_assets.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.simulator import ground_truth as gt
from cycle_testing import E2E_END, E2E_SIM, E2E_START
from warehouse_state import table_fingerprints

pytestmark = pytest.mark.slow

EXPECTED_ASSETS = {
    *RAW_TABLES,
    "stg_social_post_snapshots",
    "fct_post_metrics_daily",
    "agg_engagement_by_hour",
    "fct_campaign_performance_daily",
    "agg_platform_daily",
    "fct_touchpoint_attribution",
    "agg_channel_attribution",
    "fct_boost_contribution",
    "ml_training_dataset",
    "ml_feature_drift",
    "engagement_model",
    "posting_hour_recommendations",
    "serving_snapshot",
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
    assert failed == []


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
    assert {"posting_hour_recommendations", "agg_channel_attribution", "agg_platform_daily"} <= upstream("serving_snapshot")


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
    best = home.query("select platform, publish_hour from main.posting_hour_recommendations where rank = 1")
    recovered = dict(zip(best["platform"], best["publish_hour"]))
    planted = {p: gt.strongest_posting_hour(p) for p in gt.ORGANIC_PLATFORMS}
    assert recovered == planted


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


def test_api_answers_from_the_served_copy_while_a_run_writes_the_warehouse(pipeline):
    from api.main import create_app

    home, _ = pipeline
    client = TestClient(create_app(serving_dir=home.serving))
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
                client.get("/health").status_code,
                client.get("/optimal-hours", params={"platform": "linkedin"}).status_code,
                client.get("/rollups/daily", params={"platform": "x", "start": E2E_START.isoformat()}).status_code,
                client.get("/attribution", params={"model": "position_based"}).status_code,
            ]
            time.sleep(0.2)
    finally:
        writer.join()
    assert not errors, errors
    assert len(statuses) > 20 and set(statuses) == {200}

    hours = client.get("/optimal-hours", params={"platform": "tiktok", "top": 3}).json()
    assert hours and str(gt.strongest_posting_hour("tiktok")) in str(hours)
    rollups = client.get("/rollups/daily", params={"start": E2E_START.isoformat(), "end": E2E_END.isoformat()}).json()
    assert rollups
    health = client.get("/health").json()
    assert "raw_social_post_snapshots" in str(health) and "engagement_model" in str(health)
    attribution = client.get("/attribution", params={"model": "linear"}).json()
    assert "google_ads" in str(attribution)
    assert client.get("/optimal-hours", params={"platform": "myspace"}).status_code == 422
    assert client.get("/rollups/daily", params={"start": "2026-13-01"}).status_code == 422
    assert client.get("/attribution", params={"model": "astrology"}).status_code == 422


def test_rematerializing_a_partition_leaves_every_table_identical(pipeline):
    home, _ = pipeline
    before = table_fingerprints(home.warehouse)
    home.run(E2E_START + timedelta(days=1), E2E_START + timedelta(days=1), job="daily_pipeline_job")
    after = table_fingerprints(home.warehouse)
    assert set(before) == set(after)
    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    assert changed == {}
