"""The raw archive: old raw partitions move from the hot DuckDB tables to Parquet files, losing nothing.

Files: ``<archive root>/<table>/partition_date=YYYY-MM-DD/part-0.parquet``, where the archive root is
``$CYCLE_ARCHIVE_DIR``, by default the ``archive`` folder beside the warehouse file. Each day is written to a
temporary file, read back and compared with the hot rows (row count and an order-independent checksum over
every column), moved into place with ``os.replace`` and only then deleted from the hot table, all inside one
warehouse transaction. ``stg_social_post_snapshots`` reads the archive too (the hot copy wins for a day
present in both), so a dbt full refresh keeps the whole history.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from analytics_assets.contracts.raw import RawTable
from analytics_assets.contracts.sql_text import sql_string
from analytics_assets.settings import load_settings
from analytics_assets.storage.tombstones import Tombstones
from analytics_assets.storage.warehouse import transaction

DEFAULT_RETENTION_DAYS = 90
ARCHIVE_FILE = "part-0.parquet"


class ArchiveVerificationError(RuntimeError):
    """The Parquet file read back does not hold exactly the hot rows: nothing was deleted."""


def archive_root(warehouse_path: str | Path | None = None) -> Path:
    """``$CYCLE_ARCHIVE_DIR``, else ``archive/`` beside the warehouse file (what dbt derives too)."""
    settings = load_settings()
    if settings.archive_dir is not None or warehouse_path is None:
        return settings.archive
    return Path(warehouse_path).resolve().parent / "archive"


def archive_path(root: Path, table: str, day: date) -> Path:
    return Path(root) / table / f"partition_date={day.isoformat()}" / ARCHIVE_FILE


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
    try:
        with transaction(con):
            select = f"select {', '.join(table.columns)} from {table.qualified_name} where {day_filter} order by {', '.join(table.key)}"
            con.execute(f"copy ({select}) to {sql_string(tmp)} (format parquet, compression zstd)")
            hot = con.execute(_fingerprint_sql(table, table.qualified_name, day_filter)).fetchall()[0]
            archived = con.execute(
                _fingerprint_sql(table, f"read_parquet({sql_string(tmp)}, hive_partitioning = false)")
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
    except BaseException:
        tmp.unlink(missing_ok=True)  # the file, if already in place, is rewritten by the next run
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


def read_archived_day(
    table: str, day: date, root: Path | None = None, tombstones: Tombstones | None = None
) -> pd.DataFrame:
    """The rows of one archived partition, exactly as they left the hot table; with ``tombstones`` (the
    warehouse's, ``storage.tombstones.load_tombstones``) without the rows of erased people, should a file
    not have been rewritten yet."""
    path = archive_path(Path(root or archive_root()), table, day)
    if not path.exists():
        raise FileNotFoundError(f"{table} {day} is not archived (no {path})")
    con = duckdb.connect(config={"threads": 1, "memory_limit": "512MB"})
    try:
        frame = con.execute(f"select * from read_parquet({sql_string(path)}, hive_partitioning = false)").df()
    finally:
        con.close()
    if tombstones is not None:
        frame = frame[~tombstones.erased_rows(frame)].reset_index(drop=True)
    return frame


def erase_from_archived_day(table: RawTable, root: Path, day: date, tombstones: Tombstones) -> int:
    """Rewrite one archived day of ``table`` (a table with ``user_id``) without the rows of the tombstoned
    people and journeys: the kept rows go to a temporary file, which is read back and compared with them (row count and
    checksum, as when the day was archived) before it replaces the file. Returns the rows removed (0: the file
    is left as it was)."""
    path = archive_path(root, table.name, day)
    if not path.exists():
        return 0
    erased = tombstones.frame()
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    con = duckdb.connect(config={"threads": 1, "memory_limit": "512MB"})
    try:
        con.execute(f"create table day as select * from read_parquet({sql_string(path)}, hive_partitioning = false)")
        con.register("_erased", erased)
        # a day archived before a column existed has not got it: work with the file's own columns
        columns = [r[0] for r in con.execute("describe day").fetchall()]
        property_sql = "coalesce(d.property_id, 'default')" if "property_id" in columns else "'default'"
        journey_sql = "d.journey_id" if "journey_id" in columns else "null"
        (removed,) = con.execute(
            f"""delete from day d where exists (select 1 from _erased x where x.property_id = {property_sql} and (
                  (x.subject = 'user' and x.subject_hash = sha256(? || ':' || d.user_id))
                  or (x.subject = 'journey' and x.subject_hash = sha256(? || ':' || {journey_sql}))))""",
            [tombstones.salt, tombstones.salt],
        ).fetchall()[0]
        if not removed:
            return 0
        fingerprint = f"select count(*), coalesce(sum(hash({', '.join(columns)})), 0) from "
        kept = con.execute(fingerprint + "day").fetchall()[0]
        con.execute(
            f"copy (select {', '.join(columns)} from day order by {', '.join(table.key)}) "
            f"to {sql_string(tmp)} (format parquet, compression zstd)"
        )
        written = con.execute(fingerprint + f"read_parquet({sql_string(tmp)}, hive_partitioning = false)").fetchall()[0]
        if kept != written:
            raise ArchiveVerificationError(
                f"{table.name} {day}: the rewritten file holds {written[0]} rows (checksum {written[1]}) but "
                f"{kept[0]} rows (checksum {kept[1]}) were kept; the archived file was left as it was"
            )
        os.replace(tmp, path)
        return int(removed)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)


