"""Webhook events into the warehouse: the API's store -> ``raw.raw_webhook_events``, one way.

The API verifies and appends platform notifications to its own SQLite store and never opens the
warehouse. ``raw_webhook_events`` copies the events it has not loaded yet (``storage.webhook_events``);
``webhook_events_sensor`` requests a load when the store holds events past the last load.
"""

import dagster as dg

from analytics_assets.contracts.raw import WEBHOOK_EVENTS_TABLE
from analytics_assets.defs.metadata import store_cursor
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.resources import WarehouseResource, WebhookStoreResource
from analytics_assets.storage.webhook_events import TABLE, ingest

TABLE_NAME = WEBHOOK_EVENTS_TABLE
KEY = dg.AssetKey(TABLE_NAME)


@dg.asset(
    name=TABLE_NAME,
    group_name="raw",
    kinds={"duckdb", "sqlite"},
    pool=WAREHOUSE_POOL,
    metadata={"table": TABLE, "dagster/table_name": TABLE},
    check_specs=[
        dg.AssetCheckSpec("event_is_unique", asset=TABLE_NAME, description="No (platform, event_id) twice"),
    ],
    description="Verified Meta and LinkedIn webhook events from the API's store, one row per platform event, "
    "with the event's JSON and its parsed ids and time.",
)
def raw_webhook_events(
    context: dg.AssetExecutionContext, webhook_store: WebhookStoreResource, warehouse: WarehouseResource
):
    store = webhook_store.store()
    with warehouse.connect() as con:
        loaded, cursor, per_platform, store_id = ingest(con, store)
        total, dupes = con.execute(
            f"""select (select count(*) from {TABLE}),
                       (select count(*) from (select platform, event_id from {TABLE} group by all having count(*) > 1))"""
        ).fetchall()[0]
        preview = con.execute(
            f"select platform, event_id, object, field, action, entity_id, event_time from {TABLE} "
            "order by received_at desc, store_seq desc limit 5"
        ).df()
    context.log.info(f"Loaded {loaded} webhook events from {store.path} (cursor {cursor})")
    yield dg.MaterializeResult(
        metadata={
            "loaded_events": loaded,
            "dagster/row_count": int(total),
            "rows_by_platform": dict(per_platform) or None,
            "store_path": str(store.path),
            "store_id": store_id or "",
            "ingested_through_seq": cursor,
            "preview": dg.MetadataValue.md(preview.to_markdown(index=False)) if len(preview) else None,
        }
    )
    yield dg.AssetCheckResult(
        check_name="event_is_unique", passed=int(dupes) == 0, metadata={"duplicate_events": int(dupes)}
    )


webhook_events_job = dg.define_asset_job(
    "webhook_events_job",
    selection=dg.AssetSelection.assets(KEY),
    description="Load new webhook events from the API's store into the warehouse.",
)


def last_ingested(instance: dg.DagsterInstance) -> tuple[str, int] | None:
    return store_cursor(instance, KEY, "ingested_through_seq")


@dg.sensor(
    name="webhook_events_sensor",
    job=webhook_events_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a load of raw_webhook_events when the API's store holds events newer than the last load.",
)
def webhook_events_sensor(context: dg.SensorEvaluationContext, webhook_store: WebhookStoreResource):
    state = webhook_store.store().state()
    if state is None or state.high_water_mark == 0:
        return dg.SkipReason(f"No webhook events stored yet in {webhook_store.path}")
    last = last_ingested(context.instance)
    if last is not None and last[0] == state.store_id and last[1] >= state.high_water_mark:
        return dg.SkipReason(f"All {state.events} stored events are loaded (through seq {last[1]})")
    # one request per high-water mark: a tick that sees no new event never requests a second run
    return dg.RunRequest(
        run_key=f"webhooks-{state.store_id}-{state.high_water_mark}",
        tags={"cycle/trigger": "webhook_events", "cycle/store_seq": str(state.high_water_mark)},
    )
