"""The embedded DuckDB warehouse: connections with bounded resources and idempotent partition writes.

DuckDB allows one writing process per file and a reader's connection blocks writers, so connections
are opened per operation and closed at once; every asset that writes sits in one Dagster pool.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from analytics_assets.ingest.tables import QUARANTINE_COLUMNS, QUARANTINE_TABLE, RAW_SCHEMA, RawTable


@contextlib.contextmanager
def connect(
    path: str | Path, threads: int = 1, memory_limit: str = "2GB", read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only, config={"threads": threads, "memory_limit": memory_limit})
    try:
        yield con
    finally:
        con.close()


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, tables: list[RawTable]) -> None:
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    for table in tables:
        con.execute(table.ddl())
    cols = ", ".join(f"{c} {t}" for c, t in QUARANTINE_COLUMNS.items())
    con.execute(f"create table if not exists {RAW_SCHEMA}.{QUARANTINE_TABLE} ({cols})")


def _insert(con: duckdb.DuckDBPyConnection, qualified: str, columns: dict[str, str], rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    con.register("_incoming", rows)
    try:
        select = ", ".join(f"cast({c} as {t}) as {c}" for c, t in columns.items())
        con.execute(f"insert into {qualified} select {select} from _incoming")
    finally:
        con.unregister("_incoming")


def replace_partitions(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    rows: pd.DataFrame,
    quarantine: pd.DataFrame,
    start: date,
    end: date,
) -> None:
    """Replace exactly the days ``start..end`` of ``table`` and of its quarantine, in one transaction,
    so a rerun or a backfill never duplicates nor loses a row."""
    ensure_raw_tables(con, [table])
    con.execute("begin transaction")
    try:
        con.execute(
            f"delete from {table.qualified_name} where {table.partition_column} between ? and ?", [start, end]
        )
        con.execute(
            f"delete from {RAW_SCHEMA}.{QUARANTINE_TABLE} where source_table = ? and partition_date between ? and ?",
            [table.name, start, end],
        )
        _insert(con, table.qualified_name, table.columns, rows)
        _insert(con, f"{RAW_SCHEMA}.{QUARANTINE_TABLE}", QUARANTINE_COLUMNS, quarantine)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
