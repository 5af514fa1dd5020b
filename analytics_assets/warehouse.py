"""The embedded DuckDB warehouse: connections with bounded resources and idempotent partition writes.

DuckDB allows one writing process per file and a reader's connection blocks writers, so connections
are opened per operation and closed at once; every asset that writes sits in one Dagster pool.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
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
        # a column added to the contract later reaches warehouses created before it (nullable, at the end)
        for column, type_ in table.columns.items():
            con.execute(f"alter table {table.qualified_name} add column if not exists {column} {type_}")
    cols = ", ".join(f"{c} {t}" for c, t in QUARANTINE_COLUMNS.items())
    con.execute(f"create table if not exists {RAW_SCHEMA}.{QUARANTINE_TABLE} ({cols})")


def _insert(con: duckdb.DuckDBPyConnection, qualified: str, columns: dict[str, str], rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    con.register("_incoming", rows)
    try:
        select = ", ".join(f"cast({c} as {t}) as {c}" for c, t in columns.items())
        # by name: a table whose columns were added later has them in another order than the contract
        con.execute(f"insert into {qualified} ({', '.join(columns)}) select {select} from _incoming")
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


def _in_transaction(con: duckdb.DuckDBPyConnection, work: Callable[[], None]) -> None:
    con.execute("begin transaction")
    try:
        work()
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def replace_platform_days(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    platforms: list[str],
    rows: pd.DataFrame,
    quarantine: pd.DataFrame,
    days: list[date],
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    """Replace the rows of ``platforms`` on ``days`` and their quarantine, in one transaction with
    ``also`` (a ledger write): other platforms' rows of those days stay, so a connector and the
    simulator can share a table, and an ad platform's restated window converges without duplicates."""
    ensure_raw_tables(con, [table])

    def work() -> None:
        con.execute(
            f"delete from {table.qualified_name} where platform in (select unnest(?::varchar[])) "
            f"and {table.partition_column} in (select unnest(?::date[]))",
            [platforms, days],
        )
        con.execute(
            f"delete from {RAW_SCHEMA}.{QUARANTINE_TABLE} where source_table = ? and platform in "
            "(select unnest(?::varchar[])) and partition_date in (select unnest(?::date[]))",
            [table.name, platforms, days],
        )
        _insert(con, table.qualified_name, table.columns, rows)
        _insert(con, f"{RAW_SCHEMA}.{QUARANTINE_TABLE}", QUARANTINE_COLUMNS, quarantine)
        if also is not None:
            also(con)

    _in_transaction(con, work)


def upsert_rows(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    rows: pd.DataFrame,
    quarantine: pd.DataFrame,
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    """Add rows keyed by the table's natural key, replacing only rows with the same key (a poll's
    snapshots never delete earlier polls), and quarantined records of the same poll; one transaction."""
    ensure_raw_tables(con, [table])

    def work() -> None:
        if len(rows):
            keys = rows[list(table.key)].drop_duplicates()
            con.register("_keys", keys)
            try:
                match = " and ".join(f"k.{c} = t.{c}" for c in table.key)
                con.execute(f"delete from {table.qualified_name} t where exists (select 1 from _keys k where {match})")
            finally:
                con.unregister("_keys")
        if len(quarantine):
            keys = quarantine[["source_table", "platform", "record_key", "quarantined_at"]].drop_duplicates()
            con.register("_qkeys", keys)
            try:
                con.execute(
                    f"""delete from {RAW_SCHEMA}.{QUARANTINE_TABLE} q where exists (
                          select 1 from _qkeys k where k.source_table = q.source_table and k.platform = q.platform
                          and k.record_key is not distinct from q.record_key and k.quarantined_at = q.quarantined_at)"""
                )
            finally:
                con.unregister("_qkeys")
        _insert(con, table.qualified_name, table.columns, rows)
        _insert(con, f"{RAW_SCHEMA}.{QUARANTINE_TABLE}", QUARANTINE_COLUMNS, quarantine)
        if also is not None:
            also(con)

    _in_transaction(con, work)
