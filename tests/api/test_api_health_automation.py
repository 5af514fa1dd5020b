"""/v1/health reports every schedule and sensor as the snapshot saw them, and a running one whose last tick
failed makes the status degraded; the publisher reads them from the Dagster instance."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import dagster as dg
import pandas as pd
from dagster._core.scheduler.instigation import InstigatorStatus

from analytics_assets.definitions import AUTOMATION_CATALOG, defs
from api_serving_data import api_client, build_all, build_automation_status, publish


def test_health_lists_schedules_and_sensors(tmp_path):
    publish(tmp_path / "serving", checksums=True)
    body = api_client(tmp_path / "serving", tmp_path).get("/v1/health").json()
    assert body["status"] == "ok"
    expected = build_automation_status(1).sort_values(["kind", "name"])
    assert [(a["kind"], a["name"], a["status"]) for a in body["automation"]] == list(
        expected[["kind", "name", "status"]].itertuples(index=False, name=None))
    assert body["automation"][0]["cron_schedule"] == "0 3 * * *"
    assert body["automation"][0]["last_tick_at"].endswith("Z")


def test_a_running_schedule_whose_last_tick_failed_degrades_health(tmp_path):
    frames = build_all(1)
    automation = frames["automation_status.parquet"]
    automation.loc[automation["name"] == "daily_pipeline_schedule", "last_tick_status"] = "failure"
    # a stopped one that failed long ago is not a problem of now
    automation.loc[automation["name"] == "social_metrics_poll_schedule", "last_tick_status"] = "failure"
    publish(tmp_path / "serving", frames, checksums=True)
    body = api_client(tmp_path / "serving", tmp_path).get("/v1/health").json()
    assert body["status"] == "degraded"
    assert "schedule daily_pipeline_schedule: its last tick failed" in body["detail"]
    assert "social_metrics_poll_schedule" not in body["detail"]


def test_health_without_the_automation_file_still_answers(tmp_path):
    frames = build_all(1)
    del frames["automation_status.parquet"]  # a publisher from before the file
    publish(tmp_path / "serving", frames, checksums=True)
    body = api_client(tmp_path / "serving", tmp_path).get("/v1/health").json()
    assert body["automation"] == [] and body["status"] == "ok"


def test_the_publisher_reads_toggles_defaults_and_last_ticks():
    catalog = AUTOMATION_CATALOG
    tick = SimpleNamespace(timestamp=datetime(2026, 11, 30, 3, 0).timestamp(), status=SimpleNamespace(value="FAILURE"))
    states = [
        SimpleNamespace(instigator_name="daily_pipeline_schedule", status=InstigatorStatus.STOPPED,
                        instigator_origin_id="o1", selector_id="s1"),
        SimpleNamespace(instigator_name="webhook_events_sensor", status=InstigatorStatus.DECLARED_IN_CODE,
                        instigator_origin_id="o2", selector_id="s2"),
    ]

    class Instance:  # the two calls the publisher makes
        def all_instigator_state(self):
            return states

        def get_ticks(self, origin_id, selector_id, limit):
            return [tick] if origin_id == "o2" else []

    frame = catalog.status(Instance()).set_index("name")
    repository = defs.get_repository_def()
    assert set(frame.index) == {d.name for d in [*repository.schedule_defs, *repository.sensor_defs]}
    assert frame.loc["daily_pipeline_schedule", "status"] == "stopped"  # toggled off in the UI
    assert frame.loc["daily_pipeline_schedule", "cron_schedule"] == "0 3 * * *"
    assert pd.isna(frame.loc["daily_pipeline_schedule", "last_tick_at"])
    sensor = frame.loc["webhook_events_sensor"]
    assert sensor["status"] == "running" and sensor["last_tick_status"] == "failure"
    assert sensor["last_tick_at"] == pd.Timestamp(datetime.utcfromtimestamp(tick.timestamp))
    with dg.instance_for_test() as instance:  # a real instance: nothing toggled, nothing ticked yet
        fresh = catalog.status(instance)
    assert set(fresh["status"]) <= {"running", "stopped"} and fresh["last_tick_at"].isna().all()
