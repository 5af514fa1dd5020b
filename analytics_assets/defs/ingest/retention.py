"""Retention: old raw partitions move from the hot DuckDB tables to Parquet files, losing nothing (on DuckDB only:
a PostgreSQL warehouse keeps every partition hot, as dbt reads the archive back only on DuckDB).

``raw_snapshot_archive`` moves every partition of ``raw.raw_social_post_snapshots`` (or of the raw
tables its config lists) older than ``retention_days`` to

    <archive root>/<table>/partition_date=YYYY-MM-DD/part-0.parquet

where the archive root is ``$CYCLE_ARCHIVE_DIR``, by default the ``archive`` folder beside the warehouse
file (``$CYCLE_HOME/archive``). Each day is written to a temporary file, read back and compared with
the hot rows (row count and an order-independent checksum over every column), moved into place with
``os.replace`` and only then deleted from the hot table, all inside one warehouse transaction. A day
that is loaded into the hot table again after it was archived is archived again on the next run and its
file replaced, never duplicated; ``stg_social_post_snapshots`` reads the archive too (the hot copy wins
for a day present in both), so a dbt full refresh keeps the whole history.

Age is measured from the newest partition in the hot table (not the wall clock), so a historical
backfill keeps its own last ``retention_days`` days hot; ``reference_date`` pins it explicitly.
"""

from datetime import date

import dagster as dg
import pandas as pd
from pydantic import Field

from analytics_assets.contracts.raw import RAW_TABLES
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.storage.archive import DEFAULT_RETENTION_DAYS, ArchivedDay, archive_day, archive_root, days_to_archive


class SnapshotArchiveConfig(dg.Config):
    retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS, ge=1, description="Partitions older than this many days are archived"
    )
    tables: list[str] = Field(
        default=["raw_social_post_snapshots"], description="Raw tables to archive (names in RAW_TABLES)"
    )
    reference_date: str | None = Field(
        default=None,
        description="ISO day ages are measured from; default: each table's newest partition",
    )


@dg.asset(
    name="raw_snapshot_archive",
    deps=["raw_social_post_snapshots"],
    group_name="raw",
    kinds={"duckdb", "parquet"},
    pool=WAREHOUSE_POOL,
    description="Moves raw snapshot partitions older than the retention window (90 days) to Parquet files "
    "under the archive folder, verified before they leave the hot table.",
)
def raw_snapshot_archive(
    context: dg.AssetExecutionContext, config: SnapshotArchiveConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    unknown = sorted(set(config.tables) - set(RAW_TABLES))
    if unknown:
        raise dg.Failure(f"Unknown raw tables {unknown}; archivable tables: {sorted(RAW_TABLES)}")
    tables = [RAW_TABLES[name] for name in config.tables]
    if warehouse.on_postgres:
        # dbt reads the archive back only on DuckDB (cycle_archived_rows): on PostgreSQL a day moved out of the hot
        # table would vanish from the marts' next full refresh. PostgreSQL keeps every partition hot.
        reason = "The warehouse is on PostgreSQL, which keeps every raw partition hot: nothing is archived"
        context.log.info(reason)
        return dg.MaterializeResult(metadata={"archived_days": 0, "archived_rows": 0, "skipped": reason})
    reference = date.fromisoformat(config.reference_date) if config.reference_date else None
    root = archive_root(warehouse.path)
    cutoffs: dict[str, str] = {}
    with warehouse.connect() as con:
        done: list[ArchivedDay] = []
        for table in tables:
            cutoff, days = days_to_archive(con, table, config.retention_days, reference)
            cutoffs[table.name] = cutoff.isoformat() if cutoff else "no data"
            done += [archive_day(con, table, root, day) for day in days]
        hot = {
            t.name: con.execute(
                f"select count(*), min({t.partition_column}), max({t.partition_column}) from {t.qualified_name}"
            ).fetchall()[0]
            for t in tables
            if cutoffs[t.name] != "no data"
        }
    for d in done:
        context.log.info(f"archived {d.table} {d.day}: {d.rows} rows -> {d.path}")
    summary = pd.DataFrame([{"table": d.table, "day": d.day.isoformat(), "rows": d.rows} for d in done])
    return dg.MaterializeResult(
        metadata={
            "archive_root": str(root),
            "retention_days": config.retention_days,
            "cutoff_by_table": cutoffs,
            "archived_days": len(done),
            "archived_rows": int(sum(d.rows for d in done)),
            "hot_rows_by_table": {name: int(v[0]) for name, v in hot.items()},
            "hot_days_by_table": {name: f"{v[1]} .. {v[2]}" for name, v in hot.items()},
            "archived": dg.MetadataValue.md(summary.to_markdown(index=False)) if len(done) else None,
        }
    )


raw_snapshot_archive_job = dg.define_asset_job(
    "raw_snapshot_archive_job",
    selection=dg.AssetSelection.assets("raw_snapshot_archive"),
    description="Archive raw partitions older than the retention window to Parquet.",
)

# After the 03:00 daily pipeline, so the newest partition is in before ages are measured.
raw_snapshot_archive_schedule = dg.ScheduleDefinition(
    name="raw_snapshot_archive_schedule",
    job=raw_snapshot_archive_job,
    cron_schedule="30 4 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
