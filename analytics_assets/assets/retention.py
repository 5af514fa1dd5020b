"""Retention: old raw partitions move from the hot DuckDB tables to Parquet files, losing nothing.

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

import os
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from analytics_assets.ingest.tables import RAW_TABLES, RawTable
from analytics_assets.partitions import WAREHOUSE_POOL
from analytics_assets.resources import WarehouseResource

DEFAULT_RETENTION_DAYS = 90
ARCHIVE_FILE = "part-0.parquet"


class ArchiveVerificationError(RuntimeError):
    """The Parquet file read back does not hold exactly the hot rows: nothing was deleted."""


def archive_root(warehouse_path: str | Path | None = None) -> Path:
    """``$CYCLE_ARCHIVE_DIR``, else ``archive/`` beside the warehouse file (what dbt derives too)."""
    explicit = os.environ.get("CYCLE_ARCHIVE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    if warehouse_path is None:
        from analytics_assets import settings

        warehouse_path = settings.warehouse_path()
    return Path(warehouse_path).resolve().parent / "archive"


def archive_path(root: Path, table: str, day: date) -> Path:
    return Path(root) / table / f"partition_date={day.isoformat()}" / ARCHIVE_FILE


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _fingerprint_sql(table: RawTable, relation: str, where: str = "true") -> str:
    """Row count and an order-independent checksum of every column of ``relation``."""
    cols = ", ".join(table.columns)
    return f"select count(*), coalesce(sum(hash({cols})), 0) from {relation} where {where}"


@dataclass(frozen=True)
class ArchivedDay:
    table: str
    day: date
    rows: int
    path: Path


def archive_day(con: duckdb.DuckDBPyConnection, table: RawTable, root: Path, day: date) -> ArchivedDay:
    """Move one partition of ``table`` to its Parquet file; verified before the hot rows go."""
    target = archive_path(root, table.name, day)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    day_filter = f"{table.partition_column} = cast('{day.isoformat()}' as date)"
    con.execute("begin transaction")
    try:
        select = f"select {', '.join(table.columns)} from {table.qualified_name} where {day_filter} order by {', '.join(table.key)}"
        con.execute(f"copy ({select}) to {_sql_path(tmp)} (format parquet, compression zstd)")
        hot = con.execute(_fingerprint_sql(table, table.qualified_name, day_filter)).fetchall()[0]
        archived = con.execute(
            _fingerprint_sql(table, f"read_parquet({_sql_path(tmp)}, hive_partitioning = false)")
        ).fetchall()[0]
        if hot != archived:
            raise ArchiveVerificationError(
                f"{table.name} {day}: the archive file holds {archived[0]} rows (checksum {archived[1]}) but the "
                f"hot table {hot[0]} rows (checksum {hot[1]}); nothing was deleted"
            )
        os.replace(tmp, target)
        (deleted,) = con.execute(f"delete from {table.qualified_name} where {day_filter}").fetchall()[0]
        if deleted != hot[0]:
            raise ArchiveVerificationError(f"{table.name} {day}: deleted {deleted} rows, archived {hot[0]}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")  # the file, if already in place, is rewritten by the next run
        tmp.unlink(missing_ok=True)
        raise
    return ArchivedDay(table.name, day, int(hot[0]), target)


def days_to_archive(
    con: duckdb.DuckDBPyConnection, table: RawTable, retention_days: int, reference: date | None = None
) -> tuple[date | None, list[date]]:
    """(cutoff, the hot partitions older than ``retention_days`` before the reference day)."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [table.qualified_name.split(".")[0], table.name],
    ).fetchall()[0][0]
    if not exists:
        return None, []
    if reference is None:
        reference = con.execute(f"select max({table.partition_column}) from {table.qualified_name}").fetchall()[0][0]
        if reference is None:
            return None, []
    cutoff = reference - timedelta(days=retention_days)
    days = con.execute(
        f"select distinct {table.partition_column} from {table.qualified_name} "
        f"where {table.partition_column} < ? order by 1",
        [cutoff],
    ).fetchall()
    return cutoff, [d for (d,) in days]


def archive_tables(
    con: duckdb.DuckDBPyConnection,
    tables: list[RawTable],
    root: Path,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    reference: date | None = None,
) -> list[ArchivedDay]:
    done = []
    for table in tables:
        _, days = days_to_archive(con, table, retention_days, reference)
        done += [archive_day(con, table, root, day) for day in days]
    return done


def archived_days(table: str, root: Path | None = None) -> list[date]:
    folder = Path(root or archive_root()) / table
    if not folder.exists():
        return []
    return sorted(
        date.fromisoformat(p.parent.name.split("=", 1)[1])
        for p in folder.glob(f"partition_date=*/{ARCHIVE_FILE}")
    )


def read_archived_day(table: str, day: date, root: Path | None = None) -> pd.DataFrame:
    """The rows of one archived partition, exactly as they left the hot table."""
    path = archive_path(Path(root or archive_root()), table, day)
    if not path.exists():
        raise FileNotFoundError(f"{table} {day} is not archived (no {path})")
    con = duckdb.connect(config={"threads": 1, "memory_limit": "512MB"})
    try:
        return con.execute(f"select * from read_parquet({_sql_path(path)}, hive_partitioning = false)").df()
    finally:
        con.close()


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
