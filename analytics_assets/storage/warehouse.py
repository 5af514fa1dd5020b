"""The embedded DuckDB warehouse: connections with bounded resources, and every write Cycle makes
outside dbt.

DuckDB allows one writing process per file and a reader's connection blocks writers, so connections
are opened per operation and closed at once; every asset that writes sits in one Dagster pool.

Every writer goes through ``transaction()``: it commits all of its statements or, on any error, rolls
all of them back, so a failed write leaves the previous rows and tables exactly as they were.
``replace_tables`` swaps whole tables (Python-computed results), ``replace_rows`` a slice of one
(a window of days), ``replace_partitions``/``replace_platform_days``/``upsert_rows`` the raw layer. A raw
partition can also be written from a stream of chunks (``*_streamed``): each chunk is inserted as it comes, inside
the one transaction that deletes the old rows, so memory follows the chunk while the replacement stays atomic.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from analytics_assets.contracts.raw import QUARANTINE_COLUMNS, QUARANTINE_TABLE, RAW_SCHEMA, RawTable
from analytics_assets.storage.dialect import ensure_json_text
from analytics_assets.storage.tombstones import drop_tombstoned


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


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All statements inside commit together, or none does (rolled back on any exception)."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> Iterator[str]:
    """``frame`` visible to SQL as ``name`` for the duration of the block."""
    con.register(name, frame)
    try:
        yield name
    except BaseException:
        # inside a failed transaction DuckDB refuses every statement until the rollback, unregister included:
        # let the original error through (the rollback drops the registration with the rest)
        with contextlib.suppress(duckdb.TransactionException):
            con.unregister(name)
        raise
    con.unregister(name)


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    """Whether ``schema.table`` exists (an optional source before its first materialization)."""
    schema, name = qualified.split(".", 1)
    # fetchall, not fetchone: DuckDB keeps a result open until a fetch finds its end, and refuses the
    # connection's next register() while one is
    (found,) = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchall()
    return bool(found[0])


def table_columns(con: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    """The columns of ``schema.table``, in table order (empty if it does not exist)."""
    schema, name = qualified.split(".", 1)
    return [
        c
        for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, name],
        ).fetchall()
    ]


def _schema_of(qualified: str) -> str | None:
    return qualified.split(".", 1)[0] if "." in qualified else None


def replace_tables(
    con: duckdb.DuckDBPyConnection, frames: Mapping[str, pd.DataFrame], casts: Mapping[str, Mapping[str, str]] | None = None
) -> None:
    """Replace each table ``qualified name -> frame`` with the frame's rows, all in one transaction: readers
    see every old table or every new one. ``casts`` fixes a table's column types (``column -> SQL type``)
    where the frame's own dtypes would be ambiguous (an empty or all-null column)."""
    casts = casts or {}
    for qualified in frames:
        if schema := _schema_of(qualified):
            con.execute(f"create schema if not exists {schema}")
    with transaction(con):
        for qualified, frame in frames.items():
            with registered(con, "_replacement", frame):
                typed = casts.get(qualified)
                select = ", ".join(f"cast({c} as {typed[c]}) as {c}" if c in typed else c for c in frame.columns) if typed else "*"
                # drop and create rather than DuckDB's `create or replace`: PostgreSQL's spelling too
                con.execute(f"drop table if exists {qualified}")
                con.execute(f"create table {qualified} as select {select} from _replacement")


def replace_table(con: duckdb.DuckDBPyConnection, qualified: str, frame: pd.DataFrame, casts: Mapping[str, str] | None = None) -> None:
    """``replace_tables`` for one table."""
    replace_tables(con, {qualified: frame}, {qualified: casts} if casts else None)


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    qualified: str,
    columns: Mapping[str, str],
    rows: pd.DataFrame,
    where: str,
    params: Sequence[object],
) -> None:
    """Delete the rows of ``qualified`` matching ``where`` and insert ``rows`` (by column name), in one
    transaction; the table is created with ``columns`` (name -> SQL type) if it does not exist."""
    if schema := _schema_of(qualified):
        con.execute(f"create schema if not exists {schema}")
    con.execute(f"create table if not exists {qualified} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
    with transaction(con):
        con.execute(f"delete from {qualified} where {where}", list(params))
        _insert(con, qualified, columns, rows)


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, tables: list[RawTable]) -> None:
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    for table in tables:
        con.execute(table.ddl())
        # a column added to the contract later reaches warehouses created before it (nullable, at the end)
        for column, type_ in table.columns.items():
            con.execute(f"alter table {table.qualified_name} add column if not exists {column} {type_}")
    cols = ", ".join(f"{c} {t}" for c, t in QUARANTINE_COLUMNS.items())
    con.execute(f"create table if not exists {RAW_SCHEMA}.{QUARANTINE_TABLE} ({cols})")
    # with the quarantine, the function that reads its payloads' keys on PostgreSQL (an export, a read-only reader)
    ensure_json_text(con)


def _insert(con: duckdb.DuckDBPyConnection, qualified: str, columns: dict[str, str], rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    with registered(con, "_incoming", rows):
        select = ", ".join(f"cast({c} as {t}) as {c}" for c, t in columns.items())
        # by name: a table whose columns were added later has them in another order than the contract
        con.execute(f"insert into {qualified} ({', '.join(columns)}) select {select} from _incoming")


# (rows, quarantine) of one piece of a load, in the raw table's and the quarantine's columns
Chunk = tuple[pd.DataFrame, pd.DataFrame]


def _insert_chunks(con: duckdb.DuckDBPyConnection, table: RawTable, chunks: Iterable[Chunk]) -> None:
    for rows, quarantine in chunks:  # each chunk may be computed only now: the iterable can be a generator
        _insert(con, table.qualified_name, table.columns, rows)
        _insert(con, f"{RAW_SCHEMA}.{QUARANTINE_TABLE}", QUARANTINE_COLUMNS, quarantine)


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
    replace_partitions_streamed(con, table, [(rows, quarantine)], start, end)


def replace_partitions_streamed(
    con: duckdb.DuckDBPyConnection, table: RawTable, chunks: Iterable[Chunk], start: date, end: date
) -> None:
    """``replace_partitions`` with the new rows and quarantine as ``chunks``, consumed inside the transaction: an
    error while one is produced (or written) rolls back the whole replacement, and the days keep their old rows."""
    ensure_raw_tables(con, [table])
    with transaction(con):
        con.execute(
            f"delete from {table.qualified_name} where {table.partition_column} between ? and ?", [start, end]
        )
        con.execute(
            f"delete from {RAW_SCHEMA}.{QUARANTINE_TABLE} where source_table = ? and partition_date between ? and ?",
            [table.name, start, end],
        )
        _insert_chunks(con, table, chunks)
        drop_tombstoned(con, table.name)  # an erased person's rows never commit (contracts.privacy)


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
    replace_platform_days_streamed(con, table, platforms, [(rows, quarantine)], days, also)


def replace_platform_days_streamed(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    platforms: list[str],
    chunks: Iterable[Chunk],
    days: list[date],
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    """``replace_platform_days`` with the new rows and quarantine as ``chunks``, consumed inside the transaction."""
    ensure_raw_tables(con, [table])
    with transaction(con):
        con.execute(
            f"delete from {table.qualified_name} where {table.platform_column} in (select unnest(?::varchar[])) "
            f"and {table.partition_column} in (select unnest(?::date[]))",
            [platforms, days],
        )
        con.execute(
            f"delete from {RAW_SCHEMA}.{QUARANTINE_TABLE} where source_table = ? and platform in "
            "(select unnest(?::varchar[])) and partition_date in (select unnest(?::date[]))",
            [table.name, platforms, days],
        )
        _insert_chunks(con, table, chunks)
        drop_tombstoned(con, table.name)  # an erased person's rows never commit (contracts.privacy)
        if also is not None:
            also(con)


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
    with transaction(con):
        if len(rows):
            match = " and ".join(f"k.{c} = t.{c}" for c in table.key)
            with registered(con, "_keys", rows[list(table.key)].drop_duplicates()):
                con.execute(f"delete from {table.qualified_name} t where exists (select 1 from _keys k where {match})")
        if len(quarantine):
            keys = quarantine[["source_table", "platform", "record_key", "quarantined_at"]].drop_duplicates()
            with registered(con, "_qkeys", keys):
                con.execute(
                    f"""delete from {RAW_SCHEMA}.{QUARANTINE_TABLE} q where exists (
                          select 1 from _qkeys k where k.source_table = q.source_table and k.platform = q.platform
                          and k.record_key is not distinct from q.record_key and k.quarantined_at = q.quarantined_at)"""
                )
        _insert(con, table.qualified_name, table.columns, rows)
        _insert(con, f"{RAW_SCHEMA}.{QUARANTINE_TABLE}", QUARANTINE_COLUMNS, quarantine)
        drop_tombstoned(con, table.name)  # an erased person's rows never commit (contracts.privacy)
        if also is not None:
            also(con)
