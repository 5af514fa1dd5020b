"""Copy tables of the DuckDB warehouse into PostgreSQL: how the dbt project's sources (the raw layer and the
tables the ML and analysis assets write) reach a PostgreSQL target, e.g. to move an existing warehouse or to
build the same project on both engines and compare (tests/test_postgres_parity.py).

DuckDB's own ``postgres`` extension is downloaded on first use (not available offline), so each table goes
through a CSV file: DuckDB writes it (nulls unquoted and empty, empty strings quoted, doubles in their
shortest round-trip form), PostgreSQL reads it with ``COPY ... FROM STDIN``, which is how the PostgreSQL
documentation loads bulk data. A table is replaced in one transaction: a failed copy leaves the previous one.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

# DuckDB type -> PostgreSQL type of the same values. Nested and binary types have no CSV form both read
# alike: a table holding one is refused with a clear error instead of being copied wrong.
_SCALAR_TYPES = {
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "VARCHAR": "text",
    "UUID": "uuid",
    "JSON": "jsonb",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "INTERVAL": "interval",
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


class UnsupportedColumnType(ValueError):
    """A column whose DuckDB type has no faithful PostgreSQL copy through CSV (lists, structs, blobs...)."""


@dataclass(frozen=True)
class CopiedTable:
    schema: str
    table: str
    rows: int


def postgres_type(duckdb_type: str) -> str:
    """The PostgreSQL column type for a DuckDB type name (as ``information_schema.columns`` spells it)."""
    name = duckdb_type.upper()
    if name in _SCALAR_TYPES:
        return _SCALAR_TYPES[name]
    decimal = _DECIMAL.match(name)
    if decimal:
        return f"numeric({decimal.group(1)}, {decimal.group(2)})"
    raise UnsupportedColumnType(f"DuckDB type {duckdb_type} has no PostgreSQL copy through CSV")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    if not rows:
        raise LookupError(f"{schema}.{table} does not exist in the DuckDB warehouse")
    return rows


def copy_table(con: duckdb.DuckDBPyConnection, pg, schema: str, table: str, workdir: Path) -> CopiedTable:
    """Replace ``schema.table`` in PostgreSQL (psycopg2 connection ``pg``) with the DuckDB table of the same
    name, columns in the same order with the matching types. Commits on success, rolls back on any error."""
    columns = _columns(con, schema, table)
    try:
        definitions = ", ".join(f"{_quote(name)} {postgres_type(dtype)}" for name, dtype in columns)
    except UnsupportedColumnType as error:
        raise UnsupportedColumnType(f"{schema}.{table}: {error}") from None
    csv_path = workdir / f"{schema}.{table}.csv"
    source = f"{_quote(schema)}.{_quote(table)}"
    con.execute(f"copy (select * from {source}) to '{csv_path.as_posix()}' (format csv, header false)")
    try:
        with pg.cursor() as cur:
            cur.execute(f"create schema if not exists {_quote(schema)}")
            cur.execute(f"drop table if exists {source} cascade")
            cur.execute(f"create table {source} ({definitions})")
            with csv_path.open("r", encoding="utf-8") as csv:
                cur.copy_expert(f"copy {source} from stdin with (format csv, header false)", csv)
            rows = cur.rowcount
        pg.commit()
    except BaseException:
        pg.rollback()
        raise
    finally:
        csv_path.unlink(missing_ok=True)
    return CopiedTable(schema=schema, table=table, rows=rows)


def copy_tables(duckdb_path: str | Path, pg_dsn: str, tables: Iterable[tuple[str, str]]) -> list[CopiedTable]:
    """Copy each (schema, table) of the DuckDB warehouse at ``duckdb_path`` into the PostgreSQL database of
    ``pg_dsn`` (a libpq connection string), replacing what is there. The warehouse is opened read-only."""
    import psycopg2  # the postgres extra's driver (dbt-postgres): only needed by this copy

    copied = []
    con = duckdb.connect(str(duckdb_path), read_only=True)
    pg = psycopg2.connect(pg_dsn)
    try:
        with tempfile.TemporaryDirectory(prefix="cycle-pgcopy-") as workdir:
            for schema, table in tables:
                copied.append(copy_table(con, pg, schema, table, Path(workdir)))
    finally:
        pg.close()
        con.close()
    return copied
