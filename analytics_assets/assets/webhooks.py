"""Webhook events into the warehouse: the API's store -> ``raw.raw_webhook_events``, one way.

The API verifies and appends platform notifications to its own SQLite store and never opens the
warehouse. ``raw_webhook_events`` copies the events it has not loaded yet (store ``seq`` above the
largest one already in the table for that store) and upserts them by ``(platform, event_id)``, so a
rerun, a crash half-way or a store replayed from scratch never duplicates an event.
``webhook_events_sensor`` requests a load when the store holds events past the last load.
"""

from collections import Counter

import dagster as dg
import pandas as pd

from analytics_assets import settings
from analytics_assets.ingest.tables import RAW_SCHEMA
from analytics_assets.partitions import WAREHOUSE_POOL
from analytics_assets.resources import WarehouseResource
from api.webhook_store import WebhookStore, default_store_path

TABLE_NAME = "raw_webhook_events"
TABLE = f"{RAW_SCHEMA}.{TABLE_NAME}"
KEY = dg.AssetKey(TABLE_NAME)
BATCH_ROWS = 5000

COLUMNS = {
    "platform": "VARCHAR",
    "event_id": "VARCHAR",
    "object": "VARCHAR",
    "field": "VARCHAR",
    "action": "VARCHAR",
    "account_id": "VARCHAR",
    "post_id": "VARCHAR",
    "entity_id": "VARCHAR",
    "event_time": "TIMESTAMP",
    "received_at": "TIMESTAMP",
    "payload": "VARCHAR",  # the event in the platform's own delivery shape, as JSON: nothing is lost
    "delivery_id": "VARCHAR",  # sha256 of the HTTP body the event arrived in
    "store_id": "VARCHAR",
    "store_seq": "BIGINT",
    "loaded_at": "TIMESTAMP",
}


def default_webhook_store_path() -> str:
    """The API's default store (``$CYCLE_API_STORE`` or ``$CYCLE_HOME/api/store.sqlite3``)."""
    return str(default_store_path(home=settings.cycle_home()))


class WebhookStoreResource(dg.ConfigurableResource):
    """The API's append-only webhook store (SQLite). Read here, written only by the API."""

    path: str

    def store(self) -> WebhookStore:
        return WebhookStore(self.path)


def ensure_table(con) -> None:
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    cols = ", ".join(f"{c} {t}" for c, t in COLUMNS.items())
    con.execute(f"create table if not exists {TABLE} ({cols})")


def upsert_events(con, frame: pd.DataFrame) -> None:
    """Replace the rows of these ``(platform, event_id)`` and insert the batch, in one transaction."""
    con.register("_events", frame)
    try:
        con.execute("begin transaction")
        try:
            con.execute(
                f"""delete from {TABLE} t using (select distinct platform, event_id from _events) e
                    where t.platform = e.platform and t.event_id = e.event_id"""
            )
            select = ", ".join(f"cast({c} as {t}) as {c}" for c, t in COLUMNS.items())
            con.execute(f"insert into {TABLE} select {select} from _events")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        con.unregister("_events")


def ingest(con, store: WebhookStore, batch_rows: int = BATCH_ROWS) -> tuple[int, int, Counter[str], str | None]:
    """Load every event of ``store`` past the table's cursor. Returns (loaded, cursor, per platform, store id)."""
    ensure_table(con)
    state = store.state()
    if state is None:
        return 0, 0, Counter(), None
    (cursor,) = con.execute(
        f"select coalesce(max(store_seq), 0) from {TABLE} where store_id = ?", [state.store_id]
    ).fetchall()[0]
    cursor = int(cursor)
    loaded, per_platform = 0, Counter()
    while True:
        rows = store.read_after(cursor, batch_rows)
        if not rows:
            break
        frame = pd.DataFrame(rows).rename(columns={"seq": "store_seq"})
        frame["store_id"] = state.store_id
        frame["loaded_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
        frame = frame.drop_duplicates(["platform", "event_id"], keep="last")  # the store is unique already
        upsert_events(con, frame)
        loaded += len(frame)
        per_platform.update(frame["platform"].value_counts().to_dict())
        cursor = int(frame["store_seq"].max())
    return loaded, cursor, per_platform, state.store_id


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
    event = instance.get_latest_materialization_event(KEY)
    if event is None or event.asset_materialization is None:
        return None
    meta = event.asset_materialization.metadata
    if "store_id" not in meta or "ingested_through_seq" not in meta:
        return None
    return str(meta["store_id"].value), int(meta["ingested_through_seq"].value)


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
