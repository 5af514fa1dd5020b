"""What an erasure asks the asset graph to rebuild, without running it (fast; the runs themselves are in
test_privacy.py): the plan's models and partitions, the run request ``privacy_rebuild_sensor`` makes of it, and
the sensor's retries and cursor over the API's store."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import pytest

from analytics_assets.contracts.inbound import PrivacyRequestStore
from analytics_assets.contracts.privacy import DONE
from analytics_assets.definitions import defs
from analytics_assets.defs.privacy.rebuild import (
    MAX_REBUILD_ATTEMPTS,
    REBUILD_TAG,
    downstream_models,
    pending_rebuilds,
    privacy_rebuild_sensor,
    rebuild_plan,
    rebuild_run_request,
)
from analytics_assets.defs.resources import WebhookStoreResource

WINDOW = ["2026-10-12", "2026-10-13"]


def test_the_plan_names_the_models_downstream_of_the_touched_tables():
    plan = rebuild_plan(["raw_touchpoints", "raw_quarantine"], WINDOW)
    assert plan["window"] == WINDOW
    assert {"stg_touchpoints", "fct_touchpoint_attribution", "agg_channel_attribution_daily"} <= set(plan["models"])
    assert not {"fct_recommendations", "agg_recommendation_performance"} & set(plan["models"])  # the loop's own
    assert "dim_post" not in plan["models"]  # not built from the touchpoints
    # without a window (only built rows went): no incremental model, whose days would lose their archived rows
    tables_only = rebuild_plan(["raw_touchpoints"], None)
    assert "fct_touchpoint_attribution" not in tables_only["models"]
    assert set(tables_only["models"]) < set(plan["models"])
    assert rebuild_plan(["raw_privacy_audit"], WINDOW) is None  # no model reads it


def _done_erasure(store: PrivacyRequestStore, plan: dict | None):
    request = store.submit("erasure", "anon-plan-1", ["cycle-demo"], workspace_id="ws")
    store.mark(request.request_id, DONE, {"rows_total": 3, "rebuild": plan}, redact_user_as="e" * 64)
    return store.get(request.request_id)


def test_the_run_request_selects_the_models_and_serving_over_the_window(tmp_path):
    store = PrivacyRequestStore(tmp_path / "store.sqlite3")
    request = _done_erasure(store, rebuild_plan(["raw_touchpoints"], WINDOW))
    run = rebuild_run_request(request)
    assert run.run_key == f"privacy-rebuild-{request.request_id}-0"
    assert set(run.asset_selection) == {*(dg.AssetKey(m) for m in downstream_models(["raw_touchpoints"])),
                                         dg.AssetKey("serving_snapshot")}
    assert (run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]) == tuple(WINDOW)
    assert run.tags[REBUILD_TAG] == request.request_id
    # every selected asset is in the job (a run request outside it would fail at launch)
    job = defs.resolve_job_def("privacy_rebuild_job")
    assert set(run.asset_selection) <= set(job.asset_layer.asset_graph.get_all_asset_keys())
    # without a window: one partition, the newest
    tables_only = rebuild_run_request(
        _done_erasure(store, rebuild_plan(["raw_touchpoints"], None)), today=datetime(2026, 11, 2, 8, tzinfo=timezone.utc)
    )
    assert tables_only.tags["dagster/asset_partition_range_start"] == tables_only.tags["dagster/asset_partition_range_end"] == "2026-11-01"
    assert rebuild_run_request(_done_erasure(store, None)) is None


def test_the_sensor_requests_each_rebuild_once_retries_failures_and_moves_its_cursor(tmp_path):
    store = PrivacyRequestStore(tmp_path / "store.sqlite3")
    pending = store.submit("erasure", "anon-plan-2", ["cycle-demo"], workspace_id="ws")  # not carried out yet
    done = _done_erasure(store, rebuild_plan(["raw_touchpoints"], WINDOW))
    instance = dg.DagsterInstance.ephemeral()
    due, cursor = pending_rebuilds(store, instance)
    assert [r.tags[REBUILD_TAG] for r in due] == [done.request_id]
    assert cursor == 0  # the pending erasure before it is not settled
    with dg.build_sensor_context(instance=instance, resources={"webhook_store": WebhookStoreResource(
            path=str(store.path))}) as ctx:
        requested = privacy_rebuild_sensor(ctx)
    assert [r.run_key for r in requested] == [f"privacy-rebuild-{done.request_id}-0"]
    # failed runs are requested again under the next key, up to the limit
    job = defs.resolve_job_def("privacy_rebuild_job")
    for attempt in range(MAX_REBUILD_ATTEMPTS):
        (run,) = [r for r in pending_rebuilds(store, instance)[0] if r.tags[REBUILD_TAG] == done.request_id]
        assert run.run_key.endswith(f"-{attempt}")
        instance.create_run_for_job(job, tags=run.tags, status=dg.DagsterRunStatus.FAILURE)
    assert pending_rebuilds(store, instance)[0] == []
    store.mark(pending.request_id, DONE, {"rows_total": 0, "rebuild": None}, redact_user_as="d" * 64)
    assert pending_rebuilds(store, instance) == ([], done.seq)  # both settled: the cursor passes them


@pytest.mark.parametrize("name", ["privacy_rebuild_job", "privacy_request_job"])
def test_the_jobs_are_in_the_definitions(name):
    assert defs.resolve_job_def(name).name == name
