"""What the assets that copy the API's inbound store share (``raw_webhook_events``, ``raw_api_audit``).

Each (``store_copy_asset``) copies one table of the store into one raw table past a cursor
(``storage.inbound_store``), checks the raw table's key is unique, and records in its materialization the
``store_id`` and the ``seq`` it copied through (``CURSOR_FIELD``). Its sensor (``store_copy_sensor``)
compares that with the store's high-water mark and requests one run per new high-water mark; a replaced
store (new ``store_id``) is always new.
"""

from collections.abc import Callable
from typing import Any

import dagster as dg

from analytics_assets.contracts.inbound import InboundStore
from analytics_assets.defs.metadata import store_cursor
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.resources import WarehouseResource, WebhookStoreResource
from analytics_assets.storage.inbound_store import StoreCopy

CURSOR_FIELD = "ingested_through_seq"


def last_ingested(instance: dg.DagsterInstance, key: dg.AssetKey) -> tuple[str, int] | None:
    """(store id, seq) the latest materialization of ``key`` copied the store through."""
    return store_cursor(instance, key, CURSOR_FIELD)


def rows_and_duplicate_keys(con, table: str, key: tuple[str, ...]) -> tuple[int, int]:
    """Rows of ``table``, and how many ``key`` values stand more than once (the uniqueness check)."""
    cols = ", ".join(key)
    total, dupes = con.execute(
        f"""select (select count(*) from {table}),
                   (select count(*) from (select {cols} from {table} group by {cols} having count(*) > 1) as repeated)"""
    ).fetchall()[0]
    return int(total), int(dupes)


def store_copy_asset(
    *,
    name: str,
    table: str,
    key: tuple[str, ...],
    store: Callable[[WebhookStoreResource], InboundStore],
    copy: Callable[[Any, Any], StoreCopy],
    what: str,
    loaded_field: str,
    by_field: str,
    check_name: str,
    duplicates_field: str,
    preview_sql: str,
    description: str,
) -> dg.AssetsDefinition:
    """The asset that copies ``store`` (a table of the API's store) into the raw ``table`` with ``copy``.

    Metadata: ``loaded_field`` (rows loaded now), ``dagster/row_count``, ``by_field`` (rows loaded per value
    of the copy's ``count_by`` column), the store's path and id, ``CURSOR_FIELD`` and a preview
    (``preview_sql``); check ``check_name``: no ``key`` twice (``duplicates_field`` counts them)."""

    @dg.asset(
        name=name,
        group_name="raw",
        kinds={"duckdb", "sqlite"},
        pool=WAREHOUSE_POOL,
        metadata={"table": table, "dagster/table_name": table},
        check_specs=[dg.AssetCheckSpec(check_name, asset=name, description=f"No ({', '.join(key)}) twice")],
        description=description,
    )
    def _copy_asset(context: dg.AssetExecutionContext, webhook_store: WebhookStoreResource, warehouse: WarehouseResource):
        source = store(webhook_store)
        with warehouse.connect() as con:
            result = copy(con, source)
            total, dupes = rows_and_duplicate_keys(con, table, key)
            preview = con.execute(preview_sql).df()
        context.log.info(f"Loaded {result.loaded} {what} from {source.path} (cursor {result.cursor})")
        yield dg.MaterializeResult(
            metadata={
                loaded_field: result.loaded,
                "dagster/row_count": total,
                by_field: dict(result.loaded_by) or None,
                "store_path": str(source.path),
                "store_id": result.store_id or "",
                CURSOR_FIELD: result.cursor,
                "preview": dg.MetadataValue.md(preview.to_markdown(index=False)) if len(preview) else None,
            }
        )
        yield dg.AssetCheckResult(check_name=check_name, passed=dupes == 0, metadata={duplicates_field: dupes})

    return _copy_asset


def store_copy_sensor(
    *,
    name: str,
    job: Any,  # what dg.define_asset_job returns
    key: dg.AssetKey,
    store: Callable[[WebhookStoreResource], InboundStore],
    what: str,
    run_key_prefix: str,
    trigger: str,
) -> dg.SensorDefinition:
    """A sensor that requests ``job`` when the store table behind ``key`` holds rows past its last copy."""

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Requests a load of {key.to_user_string()} when the API's store holds {what} newer than "
        "the last load.",
    )
    def _sensor(context: dg.SensorEvaluationContext, webhook_store: WebhookStoreResource):
        state = store(webhook_store).state()
        if state is None or state.high_water_mark == 0:
            return dg.SkipReason(f"No {what} stored yet in {webhook_store.path}")
        last = last_ingested(context.instance, key)
        if last is not None and last[0] == state.store_id and last[1] >= state.high_water_mark:
            return dg.SkipReason(f"All {state.events} stored {what} are loaded (through seq {last[1]})")
        # one request per high-water mark: a tick that sees nothing new never requests a second run
        return dg.RunRequest(
            run_key=f"{run_key_prefix}-{state.store_id}-{state.high_water_mark}",
            tags={"cycle/trigger": trigger, "cycle/store_seq": str(state.high_water_mark)},
        )

    return _sensor
