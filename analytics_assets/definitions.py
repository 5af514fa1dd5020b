"""Cycle's Dagster definitions: every asset, check, job, schedule, sensor and resource in one place."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource

from analytics_assets import settings
from analytics_assets.assets.attribution import agg_attribution_model_comparison
from analytics_assets.assets.boosts import boost_effectiveness, experiment_results
from analytics_assets.assets.dbt import cycle_dbt_models, dbt_project
from analytics_assets.assets.insights import insights
from analytics_assets.assets.ml import engagement_model, ml_feature_drift, posting_hour_recommendations
from analytics_assets.assets.raw import raw_platform_data
from analytics_assets.assets.retention import (
    raw_snapshot_archive,
    raw_snapshot_archive_job,
    raw_snapshot_archive_schedule,
)
from analytics_assets.assets.serving import serving_snapshot
from analytics_assets.connectors.resources import connector_resources_from_env
from analytics_assets.assets.webhooks import (
    WebhookStoreResource,
    default_webhook_store_path,
    raw_webhook_events,
    webhook_events_job,
    webhook_events_sensor,
)
from analytics_assets.automation import (
    daily_pipeline_job,
    daily_pipeline_schedule,
    engagement_drift_sensor,
    engagement_model_training_job,
    engagement_model_weekly_schedule,
    full_pipeline_job,
    social_metrics_poll_job,
    social_metrics_poll_schedule,
)
from analytics_assets.resources import MlflowResource, ServingResource, SimulatorResource, WarehouseResource


def dbt_executable() -> str:
    """dbt from this interpreter's environment, so an un-activated venv still finds it."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def default_resources() -> dict[str, Any]:
    """Resources of the embedded default, configured from CYCLE_* environment variables."""
    return {
        "warehouse": WarehouseResource(
            path=str(settings.warehouse_path()),
            threads=settings.env_int("CYCLE_DUCKDB_THREADS", 1),
            memory_limit=os.environ.get("CYCLE_DUCKDB_MEMORY_LIMIT", "2GB"),
        ),
        "simulator": SimulatorResource(
            seed=settings.env_int("CYCLE_SIM_SEED", 7),
            posts_per_day=settings.env_int("CYCLE_SIM_POSTS_PER_DAY", 240),
            campaigns_per_platform=settings.env_int("CYCLE_SIM_CAMPAIGNS_PER_PLATFORM", 4),
            journeys_per_day=settings.env_int("CYCLE_SIM_JOURNEYS_PER_DAY", 400),
            ai_generations_per_day=settings.env_int("CYCLE_SIM_AI_GENERATIONS_PER_DAY", 150),
            shift_start=os.environ.get("CYCLE_SIM_SHIFT_START") or None,
            malformed_rate=settings.env_float("CYCLE_SIM_MALFORMED_RATE", 0.002),
            journey_model=os.environ.get("CYCLE_SIM_JOURNEY_MODEL", "exposure"),
        ),
        "dbt": DbtCliResource(
            project_dir=dbt_project, profiles_dir=str(dbt_project.profiles_dir), dbt_executable=dbt_executable()
        ),
        "mlflow_store": MlflowResource(
            tracking_uri=settings.mlflow_tracking_uri(),
            artifact_root=str(settings.mlflow_dir() / "artifacts"),
        ),
        "serving": ServingResource(serving_dir=str(settings.serving_dir())),
        "webhook_store": WebhookStoreResource(path=default_webhook_store_path()),
        # one per platform (linkedin, x, reddit, tiktok, google_ads, meta_ads, linkedin_ads): unconfigured
        # ones leave the platform to the simulator
        **connector_resources_from_env(),
    }


def build_defs(resources: dict[str, Any] | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=[
            raw_platform_data,
            cycle_dbt_models,
            ml_feature_drift,
            engagement_model,
            posting_hour_recommendations,
            serving_snapshot,
            raw_webhook_events,
            raw_snapshot_archive,
            agg_attribution_model_comparison,
            boost_effectiveness,
            experiment_results,
            insights,
        ],
        jobs=[
            full_pipeline_job,
            daily_pipeline_job,
            engagement_model_training_job,
            webhook_events_job,
            raw_snapshot_archive_job,
            social_metrics_poll_job,
        ],
        schedules=[
            daily_pipeline_schedule,
            engagement_model_weekly_schedule,
            raw_snapshot_archive_schedule,
            social_metrics_poll_schedule,
        ],
        sensors=[engagement_drift_sensor, webhook_events_sensor],
        resources={**default_resources(), **(resources or {})},
    )


defs = build_defs()
