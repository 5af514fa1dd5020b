"""Publish the tables the API serves (``contracts.serving``) as Parquet files, so the API never opens the
warehouse; each file is replaced atomically, and the manifest, naming each file's row count, size and
SHA-256, is published last (``storage.serving_files``). Every data file must carry the account columns
(``ACCOUNT_COLUMNS``) with no null on any row, since the API answers a key only with its workspace's
accounts' rows: a file that does not fails the asset before anything is published. The engagement model's
health (``MODEL_HEALTH``, global like the assets' status) and the newest drift report page (``DRIFT_REPORT``)
are published with them, under the same manifest (``model_health.py``)."""


import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pandas as pd

from analytics_assets.contracts.serving import (
    ACCOUNT_COLUMNS,
    ASSET_STATUS,
    AUTOMATION_STATUS,
    DRIFT_REPORT,
    MANIFEST,
    MODEL_HEALTH,
    OPTIONAL_SOURCES,
    QUALITY_GATE,
    SERVED_TABLES,
    PublishedFile,
    ServedTable,
    ServingManifest,
    sha256_hex,
)
from analytics_assets.contracts.warehouse import METRIC_ANOMALIES, METRIC_FORECASTS
from analytics_assets.defs.analysis.anomalies import METRIC_ANOMALY_COLUMNS
from analytics_assets.defs.analysis.forecasts import METRIC_FORECAST_COLUMNS
from analytics_assets.defs.automation import FOLLOW_UPSTREAM
from analytics_assets.defs.automation_catalog import AutomationCatalogResource
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.resources import ServingResource, WarehouseResource
from analytics_assets.defs.quality_gate import QualityGateResource, gate_failure
from analytics_assets.defs.serving.model_health import MODEL_HEALTH_DEPS, model_health
from analytics_assets.storage.serving_files import publish_bytes, publish_json, publish_parquet
from analytics_assets.storage.warehouse import table_columns, table_exists



def asset_status(instance: dg.DagsterInstance, keys: list[dg.AssetKey]) -> pd.DataFrame:
    """The last materialization of each asset, with ``skip_reason`` where that materialization computed nothing
    and said why (the engagement model before there is enough data, the posting policy before there is a
    model): a served file that is empty for a reason says so next to it."""
    rows = []
    for key in sorted(keys, key=lambda k: k.to_user_string()):
        event = instance.get_latest_materialization_event(key)
        if event is None:
            continue
        materialization = event.asset_materialization
        skip_reason = materialization.metadata.get("skip_reason") if materialization else None
        rows.append(
            {
                "asset_key": key.to_user_string(),
                "last_materialized_at": datetime.fromtimestamp(event.timestamp, timezone.utc).replace(tzinfo=None),
                "last_partition": materialization.partition if materialization else None,
                "run_id": event.run_id,
                "skip_reason": None if skip_reason is None else str(skip_reason.value),
            }
        )
    return pd.DataFrame(rows, columns=["asset_key", "last_materialized_at", "last_partition", "run_id", "skip_reason"])


# the columns of each optional source (contracts.serving.OPTIONAL_SOURCES), for the empty file published until the
# table exists: the forecasts before forecast_job first ran, the anomalies before metric_anomalies did
OPTIONAL_SOURCE_COLUMNS: dict[str, Mapping[str, str]] = {
    METRIC_ANOMALIES: METRIC_ANOMALY_COLUMNS,
    METRIC_FORECASTS: METRIC_FORECAST_COLUMNS,
}
assert set(OPTIONAL_SOURCE_COLUMNS) == set(OPTIONAL_SOURCES)


def served_sql(con, table: ServedTable) -> tuple[str, bool]:
    """The query that reads ``table``'s file, and whether its source was absent: an optional source that does not
    exist yet is read from an empty stand-in of its columns, so its file is published empty with the table's
    schema (the forecasts before their own schedule first ran) and nothing waits for it."""
    if table.source not in OPTIONAL_SOURCES or table_exists(con, table.source):
        return table.select_sql(table_columns(con, table.source) if table.platform_rows else ()), False
    columns = OPTIONAL_SOURCE_COLUMNS[table.source]
    empty = "(select " + ", ".join(f"cast(null as {t}) as {c}" for c, t in columns.items()) + " where false)"
    return dataclasses.replace(table, source=empty).select_sql(list(columns)), True


def account_column_problems(frames: Mapping[str, pd.DataFrame]) -> list[str]:
    """Why the data files of ``SERVED_TABLES`` cannot be served per account: a file without one of the
    ``ACCOUNT_COLUMNS``, or with rows where one is null (such a row belongs to no workspace)."""
    problems = []
    for table in SERVED_TABLES:
        frame = frames[table.file]
        missing = [c for c in ACCOUNT_COLUMNS if c not in frame.columns]
        if missing:
            problems.append(f"{table.file} (from {table.source}) has no column {', '.join(missing)}")
            continue
        for column in ACCOUNT_COLUMNS:
            nulls = int(frame[column].isna().sum())
            if nulls:
                problems.append(f"{table.file} (from {table.source}): {nulls} of {len(frame)} rows have a null {column}")
    return problems


def accounts_per_file(frames: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    """Distinct accounts (``ACCOUNT_COLUMNS``) of each data file."""
    return {t.file: len(frames[t.file][list(ACCOUNT_COLUMNS)].drop_duplicates()) for t in SERVED_TABLES}


def publish_files(
    out: Path, frames: Mapping[str, pd.DataFrame], files: Mapping[str, bytes], published_at: datetime
) -> ServingManifest:
    """Publish the frames (Parquet) and the ready-made ``files`` (the drift report page) into ``out``, each
    atomically, then the manifest naming every one's size and checksum, last: a reader never finds a manifest
    whose files are not in place yet."""
    out.mkdir(parents=True, exist_ok=True)
    entries = {name: publish_parquet(frame, out / name) for name, frame in frames.items()}
    for name, data in files.items():
        publish_bytes(data, out / name)
        entries[name] = PublishedFile(rows=None, size=len(data), sha256=sha256_hex(data))  # not a table: no rows
    manifest = ServingManifest(published_at=published_at, files=entries)
    publish_json(manifest.to_json(), out / MANIFEST)
    return manifest


@dg.asset(
    # the served tables, and what the model health file reads (model_health.py): a run of them republishes it
    deps=[t.source.split(".", 1)[1] for t in SERVED_TABLES] + list(MODEL_HEALTH_DEPS),
    group_name="serving",
    kinds={"parquet"},
    pool=WAREHOUSE_POOL,
    automation_condition=FOLLOW_UPSTREAM,
    description="Parquet copies of the served tables plus the assets' last materializations and the engagement "
    "model's health (retrains, live accuracy, the newest drift day and its report page), for the API.",
)
def serving_snapshot(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    serving: ServingResource,
    quality_gate: QualityGateResource,
    automation_catalog: AutomationCatalogResource,
) -> dg.MaterializeResult:
    out = serving.path
    checked_at = datetime.now(timezone.utc)
    failed = quality_gate.failed_checks(context.instance, context.asset_key)
    if failed:  # keep the last good snapshot in place, and say why it was not replaced
        previous = json.loads((out / MANIFEST).read_text()).get("published_at") if (out / MANIFEST).exists() else None
        out.mkdir(parents=True, exist_ok=True)
        publish_json(
            {
                "status": "failed",
                "checked_at": checked_at.isoformat(),
                "failed_checks": [str(f) for f in failed],
                "serving_published_at": previous,
            },
            out / QUALITY_GATE,
        )
        raise gate_failure(failed, "the served snapshot was not replaced")
    frames, absent = {}, []
    with warehouse.connect() as con:
        for table in SERVED_TABLES:
            sql, missing = served_sql(con, table)
            frames[table.file] = con.execute(sql).df()
            if missing:
                absent.append(table.source)
        health = model_health(context.instance, con)
    if absent:
        context.log.info(f"Not materialized yet, published empty: {', '.join(absent)}")
    problems = account_column_problems(frames)
    if problems:  # nothing is published: the API keeps serving the previous snapshot
        raise dg.Failure(
            description=f"The serving snapshot was not published: every served row must belong to an account "
            f"({', '.join(ACCOUNT_COLUMNS)} present and not null), and {len(problems)} file problem(s) were "
            f"found: " + "; ".join(problems),
            metadata={"problems": problems},
        )
    accounts = accounts_per_file(frames)
    frames[ASSET_STATUS] = asset_status(context.instance, list(context.instance.get_asset_keys()))
    frames[AUTOMATION_STATUS] = automation_catalog.status(context.instance)
    frames[MODEL_HEALTH] = health.frame
    report = {DRIFT_REPORT: health.report} if health.report is not None else {}
    # data files first, the manifest (rows, bytes, sha256 of each) last
    manifest = publish_files(out, frames, report, published_at=datetime.now(timezone.utc))
    if not report:  # no drift report (yet): the manifest no longer names one, so no stale page stays beside it
        (out / DRIFT_REPORT).unlink(missing_ok=True)
    published_at = manifest.to_json()["published_at"]
    publish_json(
        {"status": "passed", "checked_at": checked_at.isoformat(), "failed_checks": [], "serving_published_at": published_at},
        out / QUALITY_GATE,
    )
    return dg.MaterializeResult(
        metadata={
            "serving_dir": str(out),
            **{f"rows/{n}": f.rows for n, f in manifest.files.items()},
            **{f"sha256/{n}": f.sha256 for n, f in manifest.files.items()},
            **{f"accounts/{n}": count for n, count in accounts.items()},
            "published_at": published_at,
            # optional sources with no table yet, whose files are empty (e.g. forecasts before forecast_job ran)
            "not_materialized_yet": absent,
            # what the model health file has no rows for yet, and why (no model trained, no drift computed)
            "model_health_not_materialized_yet": health.absent,
            "model_health_problems": health.problems,
            "drift_report_source": str(health.report_source) if health.report_source else None,
        }
    )
