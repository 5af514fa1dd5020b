"""Carry out privacy requests (``contracts.privacy``): the API's store -> ``privacy_request_job``.

``privacy_requests_sensor`` requests one run per open request (run key: the request and its attempt, so a tick
never starts a request twice and a failed one is retried a bounded number of times). The job's one op, in the
warehouse pool, reads the request from the store and:

* **erasure**: deletes the person's rows from the API's own store (``PrivacyRequestStore.erase_naming``; the store
  refuses new rows naming them since the erasure was taken, ``contracts.inbound.ErasedSubjects``), then tombstones
  them and deletes their rows from the raw tables, the quarantine, every table of the warehouse that names them
  and the archived days (``storage.privacy.erase_person``); writes the audit row; marks the request done with
  what must be rebuilt (``rebuild.rebuild_plan``: the dbt models downstream of the raw tables it touched, over
  the days their rows belonged to) and leaves in the store only the salted hash of the user id.
  ``privacy_rebuild_sensor`` then runs that rebuild through the asset graph (``rebuild``). The store goes first:
  a copy of the store into the warehouse made before it lands before the warehouse's erasure, which removes it,
  and none can bring their rows after it (both run in the warehouse pool, one at a time).
* **export**: writes every row of the person (warehouse, archive, API store) to
  ``$CYCLE_HOME/privacy/exports/<request_id>.json``, with its audit row, and marks the request done with the path.

Both are idempotent: a request done is not redone, and erasing a person erased before removes nothing.
"""


from datetime import datetime, timezone

import dagster as dg

from analytics_assets.contracts.inbound import PrivacyRequest, PrivacyRequestStore
from analytics_assets.contracts.privacy import DONE, FAILED, RUNNING, USER_TABLES, export_file
from analytics_assets.contracts.raw import QUARANTINE_TABLE
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.privacy.rebuild import dbt_sources, rebuild_plan
from analytics_assets.defs.resources import WarehouseResource, WebhookStoreResource
from analytics_assets.settings import load_settings
from analytics_assets.storage.archive import archive_root
from analytics_assets.storage.privacy import Person, erase_person, find_person, hashed, record_audit, write_export

MAX_ATTEMPTS = 3  # runs of one request before the sensor stops retrying it (its status stays failed)


class PrivacyRequestConfig(dg.Config):
    request_id: str


def privacy_store(resource: WebhookStoreResource) -> PrivacyRequestStore:
    """The privacy requests of the API's inbound store (the same file as the webhook events)."""
    return PrivacyRequestStore(resource.path)


def _erase(
    context: dg.OpExecutionContext,
    request: PrivacyRequest,
    store: PrivacyRequestStore,
    warehouse: WarehouseResource,
    state: dict,
) -> dict:
    person = Person(request.user_id, request.property_ids)
    store_removed = store.erase_naming(request.user_id, request.request_id)
    with warehouse.connect() as con:
        erasure = erase_person(
            con, archive_root(warehouse.path), person,
            request_id=request.request_id, workspace_id=request.workspace_id, requested_at=request.requested_at,
        )
    removed = {**erasure.removed, **{f"api_store.{t}": n for t, n in store_removed.items()}}
    # the files of the workspace's earlier exports of the person hold their rows too
    for earlier in store.of_user(request.user_id):
        if earlier.kind == "export" and earlier.export_path and earlier.workspace_id == request.workspace_id:
            exported = export_file(load_settings().cycle_home, earlier.request_id)
            if exported.exists():
                exported.unlink()
                removed[f"exports/{exported.name}"] = 1
    # what dbt must rebuild: the models downstream of the raw tables that lost hot rows, over the partitions those
    # rows were filed under; when only built rows went (their raw days archived), the models without a window of
    # days; when only archived raw rows went, nothing (staging never read them). The quarantine is not among
    # them: the one model reading it (fct_held_back_rows) keeps only keys of ad and post parents. A failed
    # attempt's needs carry over (its rows are gone already).
    previous = (request.detail or {}) if request.status == FAILED else {}
    raw_hot = {p.split(".", 1)[1] for p in erasure.removed if p.startswith("raw.")} - {QUARANTINE_TABLE}
    touched = sorted(set(dbt_sources(sorted(raw_hot))) | set(previous.get("touched", [])))
    window = ([erasure.days[0].isoformat(), erasure.days[-1].isoformat()] if erasure.days else None) or previous.get("window")
    built = [p for p in erasure.removed if not p.startswith(("raw.", "archive/"))]
    if not touched and (built or previous.get("built")):
        touched, window = list(USER_TABLES), None
    state.update(window=window, touched=touched, built=bool(built or previous.get("built")))
    plan = rebuild_plan(touched, window) if touched else None
    with warehouse.connect() as con:
        record_audit(
            con, request_id=request.request_id, kind=request.kind, workspace_id=request.workspace_id,
            property_ids=request.property_ids, hashed_user=erasure.user_hash, requested_at=request.requested_at,
            items=removed, run_id=context.run_id,
        )
    detail = {
        "removed": removed,
        "rows_total": sum(removed.values()),
        "journeys": erasure.journeys,
        "already_erased": not erasure.tombstoned,
        # privacy_rebuild_sensor's work: these models over these days, then serving_snapshot (None: nothing)
        "rebuild": plan,
        "window": window,
    }
    store.mark(request.request_id, DONE, detail, redact_user_as=erasure.user_hash)
    return detail


def _export(context: dg.OpExecutionContext, request: PrivacyRequest, store: PrivacyRequestStore, warehouse: WarehouseResource) -> dict:
    person = Person(request.user_id, request.property_ids)
    with warehouse.connect() as con:
        user_hash = hashed(con, request.user_id)  # first: it creates the privacy tables, and what find_person needs
        data = find_person(con, archive_root(warehouse.path), person)
    store_rows = store.naming(request.user_id)
    counts = {**data.counts(), **{f"api_store.{t}": len(rows) for t, rows in store_rows.items()}}
    path = export_file(load_settings().cycle_home, request.request_id)
    write_export(path, {
        "request_id": request.request_id,
        "user_id": request.user_id,
        "property_ids": list(request.property_ids),
        "workspace_id": request.workspace_id,
        "requested_at": request.requested_at.isoformat(),
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "counts": counts,
        "rows": {**data.records(), **{f"api_store.{t}": rows for t, rows in store_rows.items()}},
    })
    with warehouse.connect() as con:
        record_audit(
            con, request_id=request.request_id, kind=request.kind, workspace_id=request.workspace_id,
            property_ids=request.property_ids, hashed_user=user_hash, requested_at=request.requested_at,
            items=counts, export_path=str(path), run_id=context.run_id,
        )
    detail = {"exported": counts, "rows_total": sum(counts.values())}
    store.mark(request.request_id, DONE, detail, export_path=str(path))
    return detail


@dg.op(pool=WAREHOUSE_POOL, description="Carry out one privacy request (erasure or export) from the API's store.")
def carry_out_privacy_request(
    context: dg.OpExecutionContext,
    config: PrivacyRequestConfig,
    warehouse: WarehouseResource,
    webhook_store: WebhookStoreResource,
) -> dict:
    store = privacy_store(webhook_store)
    request = store.get(config.request_id)
    if request is None:
        raise dg.Failure(description=f"No privacy request {config.request_id} in {store.path}")
    if request.status == DONE:  # a rerun of a finished request changes nothing
        context.log.info(f"{request.request_id} ({request.kind}) is done already; nothing to do")
        return request.detail or {}
    store.mark(request.request_id, RUNNING, {"run_id": context.run_id})
    state: dict = {}
    try:
        if request.kind == "erasure":
            detail = _erase(context, request, store, warehouse, state)
        else:
            detail = _export(context, request, store, warehouse)
    except Exception as exc:
        # the error's type and message (no parameters: SQL errors carry no bound values), and what an erasure
        # needs to finish on the next attempt
        store.mark(request.request_id, FAILED, {"error": f"{type(exc).__name__}: {exc}"[:2000], **state})
        raise
    context.add_output_metadata({"request_id": request.request_id, "kind": request.kind, "rows": detail.get("rows_total", 0)})
    context.log.info(f"{request.request_id} ({request.kind}) done: {detail.get('rows_total', 0)} rows")
    return detail


@dg.job(description="Carry out one privacy request (GDPR erasure or export) taken by the API or `cycle privacy`.")
def privacy_request_job():
    carry_out_privacy_request()


def run_config(request_id: str) -> dict:
    return {"ops": {"carry_out_privacy_request": {"config": {"request_id": request_id}}}}


@dg.sensor(
    job=privacy_request_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a run of privacy_request_job for each open privacy request in the API's store.",
)
def privacy_requests_sensor(context: dg.SensorEvaluationContext, webhook_store: WebhookStoreResource):
    requests = privacy_store(webhook_store).open_requests(MAX_ATTEMPTS)
    if not requests:
        return dg.SkipReason(f"No open privacy requests in {webhook_store.path}")
    return [
        dg.RunRequest(
            run_key=f"privacy-{r.request_id}-{r.attempts}",
            run_config=run_config(r.request_id),
            tags={"cycle/trigger": "privacy_request", "cycle/privacy_request": r.request_id, "cycle/kind": r.kind},
        )
        for r in requests
    ]
