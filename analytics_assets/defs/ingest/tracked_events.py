"""Tracked events into the warehouse: the API's store and the landing folder -> the tracked raw tables, one way.

``raw_tracked_events`` (one asset, three tables: ``raw_tracked_touchpoints``, ``raw_tracked_ai_generations``,
``raw_tracked_experiment_observations``) copies the events ``POST /v1/events`` stored since its last run and loads
the files dropped in the landing folder (``$CYCLE_EVENTS_LANDING_DIR``, default ``$CYCLE_HOME/landing/events``;
``<landing>/<workspace>/<file>``, the workspace checked against the access registry) that it has not loaded
(``storage.tracked_events``). ``tracked_events_sensor`` requests it when the store holds events past the last
copy, or the landing folder holds a file (path, size, modification time) that the last successful load did not
see; the load itself decides by sha256 whether a file is new.

A load that fails (a warehouse error, a run whose worker died and that run monitoring marked failed) recorded
nothing the sensor goes by, so the same files stay new: the sensor requests them again, each attempt with its
own run key, after a back-off (``RETRY_DELAY_SECONDS``, doubling), and gives up after ``MAX_ATTEMPTS`` failed
runs of one state of the store and folder, saying so, until that state changes. A file that can never load (not
of its format, unreadable, no such workspace) does not fail the run: the load records it as rejected with its
reason, and it is requested again only once it changes.

The staging models read the tracked tables beside the simulator's or connector's, so the events reach
attribution, AI usage and experiments through the daily dbt partitions. An event may describe an old day (a
late one, or a file of history): ``tracked_events_dbt_sensor`` then requests the dbt models downstream of the
tracked tables for the days the load touched and those only: consecutive days as one single-run range (what
``cycle backfill`` runs), a run per range, so two late days a year apart rebuild two days, not the year between.
A load of scattered history touching more than ``MAX_DBT_RUNS`` ranges has its closest ranges merged (the few
untouched days between them rebuilt too) rather than queueing hundreds of runs. The unpartitioned followers
catch up on their own (``defs.automation``).
"""


import hashlib
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from analytics_assets.contracts.access import AccessRegistry
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
LANDED_FIELD = "landed_files"  # the landing folder's files (path:size:mtime) as the load saw them
STATE_TAG = "cycle/tracked_state"  # the store and folder state a load was requested for
MAX_ATTEMPTS = 4  # failed loads of one state before the sensor stops requesting it
RETRY_DELAY_SECONDS = 60.0  # after the first failure; doubling after each next one
MAX_DBT_RUNS = 8  # dbt runs one load may request (closest ranges merged past it)


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
    scope = storage.landing_scope(AccessRegistry(load_settings().access))
    with warehouse.connect() as con:
        load = storage.copy_from_store(con, store)
        from_api = sum(load.loaded.values())
        files = storage.load_landing(con, landing, scope)
        load.add(files)
        totals = {t.name: rows_and_duplicate_keys(con, storage.qualified(t), ("event_id",)) for t in TRACKED_TABLES}
    days = sorted(d.isoformat() for d in load.days)
    context.log.info(
        f"Loaded {from_api} events from {store.path} (cursor {load.cursor}) and "
        f"{sum(files.loaded.values())} rows of {len(files.files)} files from {landing}; "
        f"{load.duplicates} duplicates, {load.rejected} rejected ({load.quarantined} new in raw_quarantine)"
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
                "newly_quarantined": load.quarantined,
                "files_rejected": sum(f["status"] == storage.REJECTED for f in files.files),
                "workspaces": dg.MetadataValue.json(sorted(scope.properties)),
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
    prints = []
    for file in storage.landed_files(landing):
        try:
            prints.append(storage.fingerprint(file))
        except FileNotFoundError:  # renamed or deleted since it was listed
            continue
    return prints


def last_landed(instance: dg.DagsterInstance) -> set[str]:
    """The landed files the latest load saw (their fingerprints): loaded then, or found loaded before."""
    event = instance.get_latest_materialization_event(CURSOR_KEY)
    meta = event.asset_materialization.metadata if event and event.asset_materialization else {}
    return set(meta[LANDED_FIELD].value) if LANDED_FIELD in meta else set()


def load_attempts(instance: dg.DagsterInstance, state: str) -> list[dg.RunRecord]:
    """The runs requested for ``state`` of the store and folder, newest first."""
    return list(instance.get_run_records(
        filters=dg.RunsFilter(job_name=tracked_events_job.name, tags={STATE_TAG: state}), limit=MAX_ATTEMPTS + 1,
    ))


def retry_delay(failures: int) -> float:
    return RETRY_DELAY_SECONDS * 2 ** max(failures - 1, 0)


@dg.sensor(
    name="tracked_events_sensor",
    job=tracked_events_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a load of the tracked events when the API's store holds events newer than the last load, "
    "or a file in the landing folder is new or changed (files being written, named .* or *.tmp, are ignored); "
    "requests a failed load again, with a back-off, up to a few attempts per state of the store and folder.",
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
    hwm = state.high_water_mark if state else 0
    digest = hashlib.sha256("\n".join([f"{state.store_id if state else 'none'}:{hwm}", *files]).encode()).hexdigest()[:16]
    # A successful load of this state records it (the store cursor, the files seen) and the check above skips;
    # a run of it that is still going is waited for; one that failed or died is requested again, bounded.
    attempts = load_attempts(context.instance, digest)
    if any(not r.dagster_run.is_finished for r in attempts):
        return dg.SkipReason(f"A load of this state ({digest}) is queued or running")
    failed = [r for r in attempts if r.dagster_run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)]
    if len(failed) >= MAX_ATTEMPTS:
        return dg.SkipReason(
            f"{len(failed)} loads of this state ({digest}) failed (latest: run {failed[0].dagster_run.run_id}); not "
            "requesting it again until the store or the landing folder changes: see the failed runs' errors, then "
            "launch tracked_events_job by hand or change a file"
        )
    if failed:
        wait = (failed[0].end_time or 0.0) + retry_delay(len(failed)) - time.time()
        if wait > 0:
            return dg.SkipReason(f"The last load of this state failed; trying again in {wait:.0f}s "
                                 f"(attempt {len(failed) + 1} of {MAX_ATTEMPTS})")
    return dg.RunRequest(
        run_key=f"tracked-events-{digest}-{len(attempts)}",  # each attempt its own key: a retry is not deduplicated
        tags={
            "cycle/trigger": "tracked_events", STATE_TAG: digest, "cycle/store_seq": str(hwm),
            "cycle/new_files": str(len(new_files)), "cycle/attempt": str(len(failed) + 1),
        },
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


def day_ranges(days: list[str], max_runs: int = MAX_DBT_RUNS) -> list[tuple[str, str]]:
    """The partitions of ``days`` (those that exist), consecutive days grouped into one range each; past
    ``max_runs`` ranges, the two closest are merged until ``max_runs`` remain."""
    keys = set(daily_partitions.get_partition_keys())
    touched = sorted({date.fromisoformat(d) for d in days if d in keys})
    ranges: list[list[date]] = []
    for day in touched:
        if ranges and day - ranges[-1][1] == timedelta(days=1):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    while len(ranges) > max(max_runs, 1):
        gaps = [(ranges[i + 1][0] - ranges[i][1], i) for i in range(len(ranges) - 1)]
        _, i = min(gaps)
        ranges[i:i + 2] = [[ranges[i][0], ranges[i + 1][1]]]
    return [(a.isoformat(), b.isoformat()) for a, b in ranges]


@dg.asset_sensor(
    asset_key=CURSOR_KEY,
    job=tracked_events_dbt_job,
    name="tracked_events_dbt_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a tracked-events load, requests the dbt partitions of the days it touched (late events "
    "included), a run per range of consecutive days.",
)
def tracked_events_dbt_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    materialization = asset_event.asset_materialization
    meta = materialization.metadata if materialization else {}
    days = list(meta[DAYS_FIELD].value) if DAYS_FIELD in meta else []
    spans = day_ranges(days)
    if not spans:
        return dg.SkipReason("The load touched no day with a partition: nothing to rebuild")
    return [
        dg.RunRequest(
            run_key=f"tracked-events-dbt-{asset_event.run_id}-{start}",
            tags={
                "dagster/asset_partition_range_start": start,
                "dagster/asset_partition_range_end": end,
                "cycle/trigger": "tracked_events",
            },
        )
        for start, end in spans
    ]
