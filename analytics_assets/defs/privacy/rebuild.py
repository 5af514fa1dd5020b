"""After an erasure: rebuild, through the asset graph, what was built from the erased rows.

``privacy_request_job`` deletes the person's rows everywhere and records in the request's detail what must be
rebuilt (``rebuild_plan``): the dbt models downstream of the raw tables that lost hot rows, over the partitions
those rows were filed under. ``privacy_rebuild_sensor`` turns each done erasure's plan into one run of
``privacy_rebuild_job``: those dbt assets (partitioned, one dbt invocation for the whole range: their backfill
policy is a single run, and the range reaches the macros as ``CYCLE_DBT_MIN_DATE``/``CYCLE_DBT_MAX_DATE`` as
for any run, ``defs/transform/dbt_invocation``), then ``serving_snapshot``. So each rebuild is a normal
materialization: its assets' lineage and metadata, the dbt tests as asset checks, the quality gate before the
served files are replaced, and the warehouse pool.

Without a window (the erased rows were archived: staging no longer reads them, only built rows went) the
incremental models are left out, as rebuilding their days would drop every archived row (the erasure deleted
the person's rows from them directly), and the other models, rebuilt whole whatever the window, run for one
partition (the newest). The closed loop's models (``tag:loop``) are left to their own automation.

A rebuild that fails is requested again, at most ``MAX_REBUILD_ATTEMPTS`` runs per erasure (run key: the
request and its attempt); the sensor's cursor is the store position below which every erasure is settled.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg

from analytics_assets.contracts.inbound import PrivacyRequest, PrivacyRequestStore
from analytics_assets.contracts.privacy import DONE
from analytics_assets.defs.partitions import daily_partitions
from analytics_assets.defs.resources import WebhookStoreResource
from analytics_assets.defs.serving.snapshot import serving_snapshot
from analytics_assets.defs.transform.dbt import cycle_dbt_models, dbt_project

MAX_REBUILD_ATTEMPTS = 3
REBUILD_TAG = "cycle/privacy_rebuild"  # the erasure's request id, on each rebuild run
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"

privacy_rebuild_job = dg.define_asset_job(
    "privacy_rebuild_job",
    selection=dg.AssetSelection.assets(cycle_dbt_models) | dg.AssetSelection.assets(serving_snapshot),
    partitions_def=daily_partitions,
    description="After an erasure: the dbt models built from the erased rows, over their days, then the served "
    "files (privacy_rebuild_sensor picks the models and the days of each erasure).",
)


def _manifest() -> dict:
    return json.loads(Path(dbt_project.manifest_path).read_text())


def dbt_sources(raw_tables: list[str]) -> list[str]:
    """Those of ``raw_tables`` that dbt reads (sources of the ``raw`` source)."""
    names = {s["name"] for s in _manifest()["sources"].values() if s["source_name"] == "raw"}
    return sorted(t for t in set(raw_tables) if t in names)


def downstream_models(raw_tables: list[str], *, incremental: bool = True) -> list[str]:
    """The dbt models and snapshots (not tests, not the loop's) downstream of the sources ``raw_tables``, by name;
    without the incremental models unless ``incremental``."""
    manifest = _manifest()
    start = [uid for uid, s in manifest["sources"].items() if s["source_name"] == "raw" and s["name"] in raw_tables]
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for child in manifest["child_map"].get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    nodes = manifest["nodes"]
    return sorted(
        nodes[uid]["name"] for uid in seen
        if uid.startswith(("model.", "snapshot.")) and "loop" not in nodes[uid].get("tags", [])
        and (incremental or nodes[uid].get("config", {}).get("materialized") != "incremental")
    )


def rebuild_plan(raw_tables: list[str], window: list[str] | None) -> dict | None:
    """What an erasure must rebuild: the models downstream of ``raw_tables`` (the dbt sources among them) and the
    partitions (``window``: first and last ISO day; None: the incremental models left out, one partition). None
    when no model reads them."""
    models = downstream_models(dbt_sources(raw_tables), incremental=window is not None)
    if not models:
        return None
    return {"models": models, "window": list(window) if window else None}


def rebuild_run_request(request: PrivacyRequest, attempt: int = 0, today: datetime | None = None) -> dg.RunRequest | None:
    """The run of ``privacy_rebuild_job`` a done erasure's plan asks for (None: nothing to rebuild)."""
    plan = (request.detail or {}).get("rebuild")
    if request.kind != "erasure" or request.status != DONE or not plan:
        return None
    window = plan.get("window")
    if window:
        first, last = window[0], window[-1]
    else:  # tables only: rebuilt whole whatever the window, so the newest partition
        # (a day is a partition once it has ended, UTC: the newest is yesterday, never before the first one)
        newest = (today or datetime.now(timezone.utc)).astimezone(timezone.utc).date() - timedelta(days=1)
        first = last = max(newest, daily_partitions.start.date()).isoformat()
    return dg.RunRequest(
        run_key=f"privacy-rebuild-{request.request_id}-{attempt}",
        asset_selection=[*(dg.AssetKey(m) for m in plan["models"]), serving_snapshot.key],
        tags={
            REBUILD_TAG: request.request_id, "cycle/trigger": "privacy_rebuild",
            RANGE_START: first, RANGE_END: last,
        },
    )


def rebuild_runs(instance: dg.DagsterInstance, request_id: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={REBUILD_TAG: request_id})))


def pending_rebuilds(
    store: PrivacyRequestStore, instance: dg.DagsterInstance, after_seq: int = 0
) -> tuple[list[dg.RunRequest], int]:
    """The rebuild runs due for the store's done erasures past ``after_seq``, and the new cursor: the store position
    below which every erasure is settled (rebuilt, nothing to rebuild, or out of attempts)."""
    due: list[dg.RunRequest] = []
    cursor = after_seq
    unsettled = False
    for request in store.erasures_after(after_seq):
        settled = True
        if request.status != DONE:
            settled = False  # not carried out yet (or failed and retried): its plan comes later
        elif (request.detail or {}).get("rebuild"):
            runs = rebuild_runs(instance, request.request_id)
            if any(r.status == dg.DagsterRunStatus.SUCCESS for r in runs):
                pass
            elif any(not r.is_finished for r in runs):
                settled = False  # running now
            elif len(runs) < MAX_REBUILD_ATTEMPTS:
                due.append(rebuild_run_request(request, attempt=len(runs)))
                settled = False
        unsettled = unsettled or not settled
        if not unsettled and request.seq is not None:
            cursor = request.seq
    return [r for r in due if r is not None], cursor


@dg.sensor(
    job=privacy_rebuild_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a run of privacy_rebuild_job for each carried-out erasure: the dbt models built from "
    "the erased rows, over their days, then serving_snapshot.",
)
def privacy_rebuild_sensor(context: dg.SensorEvaluationContext, webhook_store: WebhookStoreResource):
    store = PrivacyRequestStore(webhook_store.path)
    due, cursor = pending_rebuilds(store, context.instance, int(context.cursor or 0))
    context.update_cursor(str(cursor))
    if not due:
        return dg.SkipReason("No erasure waits for its rebuild")
    return due
