"""The definitions load, and the operational wiring (pool, schedules, sensors, jobs) is what we promise."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import yaml

from analytics_assets.definitions import defs
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.settings import PROJECT_ROOT


def test_the_code_location_loads_as_dagster_loads_it():
    # what `dagster dev` and the daemon do with the module: every job and sensor built against the repository
    # (a job defined twice under one name only fails here, not when the Definitions object is made)
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    assert {"full_pipeline_job", "simulated_loop_job", "privacy_request_job"} <= {j.name for j in repository.get_all_jobs()}


def test_every_asset_that_opens_the_warehouse_is_in_the_single_writer_pool():
    # every asset Cycle executes; a dbt source that no asset writes on its own (raw_quarantine, filled by the
    # raw step) is external and opens nothing
    pools = {n.key.to_user_string(): n.pools for n in defs.resolve_asset_graph().asset_nodes if n.is_executable}
    assert len(pools) >= 25
    for key, node_pools in pools.items():
        assert node_pools == {WAREHOUSE_POOL}, key
    config = yaml.safe_load((PROJECT_ROOT / "analytics_assets" / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1


def test_jobs_schedules_and_sensors_are_defined():
    for job in ("full_pipeline_job", "daily_pipeline_job", "engagement_model_training_job"):
        defs.resolve_job_def(job)
    daily = defs.resolve_job_def("daily_pipeline_job")
    assert dg.AssetKey("engagement_model") not in daily.asset_layer.selected_asset_keys
    assert dg.AssetKey("serving_snapshot") in daily.asset_layer.selected_asset_keys
    assert defs.resolve_sensor_def("engagement_drift_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    defs.resolve_schedule_def("engagement_model_weekly_schedule")


def test_daily_schedule_materializes_yesterdays_partition():
    schedule = defs.resolve_schedule_def("daily_pipeline_schedule")
    tick = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=tick) as context:
        requests = schedule.evaluate_tick(context).run_requests
    assert len(requests) == 1
    assert requests[0].partition_key == "2026-11-20"
