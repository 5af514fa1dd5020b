"""Tracked events into the warehouse: the API's store and the landing folder -> the tracked raw tables, one way.

``raw_tracked_events`` (one asset, three tables: ``raw_tracked_touchpoints``, ``raw_tracked_ai_generations``,
``raw_tracked_experiment_observations``) copies the events ``POST /v1/events`` stored since its last run and loads
the files dropped in the landing folder (``$CYCLE_EVENTS_LANDING_DIR``, default ``$CYCLE_HOME/landing/events``)
that it has not loaded (``storage.tracked_events``). ``tracked_events_sensor`` requests it when the store holds
events past the last copy, or the landing folder holds a file (name, size, modification time) that the last load
did not see; the load itself decides by sha256 whether a file is new.

The staging models read the tracked tables beside the simulator's or connector's, so the events reach
attribution, AI usage and experiments through the daily dbt partitions. An event may describe an old day (a
late one, or a file of history): ``tracked_events_dbt_sensor`` then requests the dbt models downstream of the
tracked tables for the days the load touched, as one single-run range (what ``cycle backfill`` runs), so those
days' incremental marts are rebuilt. The unpartitioned followers catch up on their own (``defs.automation``).
"""


import hashlib
from pathlib import Path

import dagster as dg

from analytics_assets.contracts.events import TRACKED_TABLES
from analytics_assets.contracts.inbound import TrackedEventStore
from analytics_assets.defs.ingest.inbound_store import CURSOR_FIELD, last_ingested, rows_and_duplicate_keys
from analytics_assets.defs.partitions import WAREHOUSE_POOL, daily_partitions
from analytics_assets.defs.resources import WarehouseResource, WebhookStoreResource
from analytics_assets.settings import load_settings
from analytics_assets.storage import tracked_events as storage

KEYS = [dg.AssetKey(t.name) for t in TRACKED_TABLES]
CURSOR_KEY = KEYS[0]  # the store cursor and the days loaded are recorded on the touchpoints' materialization
DAYS_FIELD = "days_loaded"
LANDED_FIELD = "landed_files"  # the landing folder's files (name:size:mtime) as the load saw them


def tracked_event_store(webhook_store: WebhookStoreResource) -> TrackedEventStore:
    return TrackedEventStore(webhook_store.path)


class TrackedEventsConfig(dg.Config):
    landing_dir: str | None = None  # default: the settings' events_landing


def landing_dir(config_value: str | None = None) -> Path:
    return Path(config_value) if config_value else load_settings().events_landing


@dg.multi_asset(
    name="raw_tracked_events",
    specs=[
        dg.AssetSpec(
            key, group_name="raw", kinds={"duckdb", "sqlite"},
            metadata={"table": storage.qualified(t), "dagster/table_name": storage.qualified(t)},
            description=f"Tracked events of {t.raw.name}'s shape from POST /v1/events and landed files, one row per "
            f"event ({', '.join(t.key)} unique), with event_id, workspace_id, received_at and origin.",
        )
        for key, t in zip(KEYS, TRACKED_TABLES)
    ],
    check_specs=[dg.AssetCheckSpec("event_is_unique", asset=key, description="No event_id twice") for key in KEYS],
    pool=WAREHOUSE_POOL,
)
def raw_tracked_events(
    context: dg.AssetExecutionContext, config: TrackedEventsConfig, webhook_store: WebhookStoreResource,
    warehouse: WarehouseResource,
):
    store = tracked_event_store(webhook_store)
    landing = landing_dir(config.landing_dir)
    seen = landing_state(landing)  # before reading: a file changed during the load is new to the next tick
    with warehouse.connect() as con:
        load = storage.copy_from_store(con, store)
        from_api = sum(load.loaded.values())
        files = storage.load_landing(con, landing)
        load.add(files)
        totals = {t.name: rows_and_duplicate_keys(con, storage.qualified(t), ("event_id",)) for t in TRACKED_TABLES}
    days = sorted(d.isoformat() for d in load.days)
    context.log.info(
        f"Loaded {from_api} events from {store.path} (cursor {load.cursor}) and "
        f"{sum(files.loaded.values())} rows of {len(files.files)} files from {landing}; "
        f"{load.duplicates} duplicates, {load.rejected} rejected (raw_quarantine)"
    )
    for key, t in zip(KEYS, TRACKED_TABLES):
        total, _ = totals[t.name]
        meta = {"loaded_rows": load.loaded[t.name], "dagster/row_count": total}
        if key == CURSOR_KEY:
            meta |= {
                "loaded_from_api": from_api,
                "loaded_from_files": sum(files.loaded.values()),
                "duplicates": load.duplicates,
                "rejected_to_quarantine": load.rejected,
                "files": dg.MetadataValue.json(files.files) if files.files else None,
                "landing_dir": str(landing),
                "store_path": str(store.path),
                "store_id": load.store_id or "",
                CURSOR_FIELD: load.cursor,
                DAYS_FIELD: dg.MetadataValue.json(days),
                LANDED_FIELD: dg.MetadataValue.json(seen),
            }
        yield dg.MaterializeResult(asset_key=key, metadata=meta)
    for key, t in zip(KEYS, TRACKED_TABLES):
        dupes = totals[t.name][1]
        yield dg.AssetCheckResult(asset_key=key, check_name="event_is_unique", passed=dupes == 0,
                                  metadata={"duplicate_events": dupes})


tracked_events_job = dg.define_asset_job(
    "tracked_events_job",
    selection=dg.AssetSelection.assets(*KEYS),
    description="Load new tracked events (API store, landing folder) into the tracked raw tables.",
)


def landing_state(landing: Path) -> list[str]:
    return [storage.fingerprint(p) for p in storage.landed_files(landing)]


def last_landed(instance: dg.DagsterInstance) -> set[str]:
    """The landed files the latest load saw (their fingerprints): loaded then, or found loaded before."""
    event = instance.get_latest_materialization_event(CURSOR_KEY)
    meta = event.asset_materialization.metadata if event and event.asset_materialization else {}
    return set(meta[LANDED_FIELD].value) if LANDED_FIELD in meta else set()


@dg.sensor(
    name="tracked_events_sensor",
    job=tracked_events_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a load of the tracked events when the API's store holds events newer than the last load, "
    "or a file in the landing folder is new or changed (files being written, named .* or *.tmp, are ignored).",
)
def tracked_events_sensor(context: dg.SensorEvaluationContext, webhook_store: WebhookStoreResource):
    state = tracked_event_store(webhook_store).state()
    last = last_ingested(context.instance, CURSOR_KEY)
    store_new = state is not None and state.high_water_mark > 0 and not (
        last is not None and last[0] == state.store_id and last[1] >= state.high_water_mark
    )
    landing = landing_dir()
    files = landing_state(landing)
    new_files = [f for f in files if f not in last_landed(context.instance)]
    if not store_new and not new_files:
        return dg.SkipReason(f"No tracked events newer than the last load in {webhook_store.path} or {landing}")
    # one request per state of the store and the folder: a tick that sees nothing new never requests a second run
    digest = hashlib.sha256("\n".join(files).encode()).hexdigest()[:16]
    hwm = state.high_water_mark if state else 0
    return dg.RunRequest(
        run_key=f"tracked-events-{state.store_id if state else 'none'}-{hwm}-{digest}",
        tags={"cycle/trigger": "tracked_events", "cycle/store_seq": str(hwm), "cycle/new_files": str(len(new_files))},
    )


def _dbt_job():
    from analytics_assets.defs.transform.dbt import cycle_dbt_models

    return dg.define_asset_job(
        "tracked_events_dbt_job",
        selection=dg.AssetSelection.assets(*KEYS).downstream(include_self=False)
        & dg.AssetSelection.assets(cycle_dbt_models),
        partitions_def=daily_partitions,
        description="Rebuild the dbt partitions (staging to attribution marts) of the days a tracked-events load "
        "touched.",
    )


tracked_events_dbt_job = _dbt_job()


def partition_range(days: list[str]) -> tuple[str, str] | None:
    """The partitions spanning ``days``, clipped to the partitions that exist (None: none of them does)."""
    keys = daily_partitions.get_partition_keys()
    if not keys or not days:
        return None
    first, last = max(min(days), keys[0]), min(max(days), keys[-1])
    return (first, last) if first <= last else None


@dg.asset_sensor(
    asset_key=CURSOR_KEY,
    job=tracked_events_dbt_job,
    name="tracked_events_dbt_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a tracked-events load, requests the dbt partitions of the days it touched (late events "
    "included), as one range.",
)
def tracked_events_dbt_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    materialization = asset_event.asset_materialization
    meta = materialization.metadata if materialization else {}
    days = list(meta[DAYS_FIELD].value) if DAYS_FIELD in meta else []
    span = partition_range(days)
    if span is None:
        return dg.SkipReason("The load touched no day with a partition: nothing to rebuild")
    return dg.RunRequest(
        run_key=f"tracked-events-dbt-{asset_event.run_id}",
        tags={
            "dagster/asset_partition_range_start": span[0],
            "dagster/asset_partition_range_end": span[1],
            "cycle/trigger": "tracked_events",
        },
    )
