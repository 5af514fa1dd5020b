"""The warehouse on PostgreSQL: a connection with the surface of DuckDB's Python connection that Cycle's
writers and readers use, over psycopg2, so the same assets read and write the warehouse on either engine
(``CYCLE_WAREHOUSE_ENGINE``, ``WarehouseResource.connect``).

Cycle's SQL outside dbt is written for DuckDB's client API: ``?`` placeholders, ``con.execute(sql, params)``
returning something to fetch from, ``fetchdf()`` with DuckDB's pandas dtypes, ``register(name, frame)`` to
read a DataFrame in SQL, explicit ``begin transaction``/``commit``. ``PostgresConnection`` gives exactly that:

- the statement is translated from DuckDB's dialect where the two differ in spelling only: ``?`` becomes
  psycopg2's ``%s`` (outside quotes and comments; a literal ``%`` is escaped), the type ``DOUBLE`` becomes
  ``double precision``, a closing ``order by all`` orders by every column by number. Anything else must already
  be SQL both engines read, or be spelled per engine (``storage/dialect.py``);
- statements run in autocommit, as in DuckDB, until ``begin transaction``; a DML statement answers its row
  count as DuckDB does (``fetchall()`` of a ``delete`` -> ``[(n,)]``). A query runs when it is fetched, the way
  it is fetched (rows, or a frame through the copy below); every other statement runs when executed;
- a query's frame is built by DuckDB itself from PostgreSQL's CSV copy of the result (``COPY (...) TO STDOUT``)
  with each column's type taken from PostgreSQL's description: the dtypes are DuckDB's for the same column
  (nullable ``Int64``, ``datetime64[us]`` dates), and ``fetch_df_chunk`` streams the copy from disk, so a
  chunked read holds a chunk, not the result;
- a registered frame becomes a temporary table of the session, loaded by ``COPY ... FROM STDIN`` from the CSV
  DuckDB writes of it (``postgres_copy``'s types and format, nulls and empty strings kept apart).

DuckDB's own ``postgres`` extension would make this a one-line ``ATTACH``, but it is downloaded on first use and
the package index has no build for the pinned DuckDB.
"""

from __future__ import annotations

import contextlib
import functools
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from analytics_assets.storage.postgres_copy import UnsupportedColumnType, postgres_type

# PostgreSQL type OID -> the DuckDB type DuckDB reads its CSV text as; any other type is read as its text
_DUCKDB_TYPES = {
    16: "BOOLEAN",
    20: "BIGINT",
    21: "SMALLINT",
    23: "INTEGER",
    26: "BIGINT",  # oid
    700: "FLOAT",
    701: "DOUBLE",
    1700: "DOUBLE",  # numeric: DuckDB's frames hold DECIMAL as float64 too
    1082: "DATE",
    1083: "TIME",
    1114: "TIMESTAMP",
    1184: "TIMESTAMPTZ",
    1186: "INTERVAL",
    2950: "UUID",
}
_ROW_STATEMENTS = ("select", "with", "values", "table", "show", "explain")
_DML = ("insert", "update", "delete", "merge")
# DuckDB spells the 8-byte float DOUBLE; PostgreSQL only knows DOUBLE PRECISION
_DOUBLE = re.compile(r"\bdouble\b(?!\s+precision)", re.IGNORECASE)
# `with ... as (...) delete/insert/update`: a write, run at once like every write, not when fetched
_CTE_WRITE = re.compile(r"^\s*with\b.*\)\s*(insert|update|delete|merge)\b", re.IGNORECASE | re.DOTALL)
# DuckDB's `order by all` closing a query (PostgreSQL has no spelling for it: the columns are numbered instead)
_ORDER_BY_ALL = re.compile(r"\border\s+by\s+all\s*;?\s*$", re.IGNORECASE)
# what the CSV reader must not guess: every column is typed, nothing is auto-detected
_CSV_OPTIONS = "header = false, auto_detect = false, quote = '\"', escape = '\"', nullstr = '', allow_quoted_nulls = false"


class WarehouseDialectError(ValueError):
    """A statement Cycle sent that PostgreSQL cannot take as written (named in the message)."""


def translate(sql: str, has_params: bool) -> str:
    """DuckDB's spelling of ``sql`` -> PostgreSQL's (``?`` -> ``%s``, a literal ``%`` doubled where psycopg2 formats,
    ``DOUBLE`` -> ``double precision``). Quoted strings, quoted identifiers and comments are left as they are."""
    out: list[str] = []
    code: list[str] = []  # the current unquoted stretch, translated when it ends

    def flush() -> None:
        text = _DOUBLE.sub("double precision", "".join(code))
        if has_params:
            text = text.replace("%", "%%").replace("?", "%s")
        out.append(text)
        code.clear()

    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            flush()
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # a doubled quote inside the literal
                        j += 2
                        continue
                    break
                j += 1
            literal = sql[i : j + 1]
            out.append(literal.replace("%", "%%") if has_params else literal)
            i = j + 1
        elif sql.startswith("--", i):
            flush()
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j].replace("%", "%%") if has_params else sql[i:j])
            i = j
        elif sql.startswith("/*", i):
            flush()
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(sql[i:j].replace("%", "%%") if has_params else sql[i:j])
            i = j
        else:
            code.append(c)
            i += 1
    flush()
    return "".join(out)


def _first_keyword(sql: str) -> str:
    stripped = re.sub(r"^(\s|--[^\n]*\n|/\*.*?\*/|\()*", "", sql, flags=re.DOTALL)
    match = re.match(r"[A-Za-z_]+", stripped)
    return match.group(0).lower() if match else ""


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@functools.cache  # psycopg2's adapters are global: registered once per process
def _register_adapters() -> None:
    """numpy and pandas scalars as parameters, as DuckDB takes them (psycopg2 knows Python's own types only)."""
    from psycopg2.extensions import AsIs, Float, adapt, register_adapter

    register_adapter(np.integer, lambda v: AsIs(int(v)))
    register_adapter(np.floating, lambda v: Float(float(v)))
    register_adapter(np.bool_, lambda v: AsIs("true" if v else "false"))
    register_adapter(pd.Timestamp, lambda v: AsIs("null") if pd.isna(v) else adapt(v.to_pydatetime()))
    register_adapter(type(pd.NaT), lambda v: AsIs("null"))
    register_adapter(np.datetime64, lambda v: adapt(pd.Timestamp(v).to_pydatetime()) if not np.isnat(v) else AsIs("null"))


class PostgresResult:
    """What ``execute`` returns: DuckDB's fetch methods over one statement's result."""

    def __init__(self, connection: PostgresConnection, bound: str | None, rows: list[tuple] | None, description=None):
        self._connection = connection
        self._bound = bound  # a query not run yet: run by the first fetch, the way it is fetched
        self._rows = rows
        self._position = 0
        self._description = description  # the query's columns where execute already asked (`order by all`)
        self._frames: duckdb.DuckDBPyConnection | None = None

    # --- Python rows
    def _all_rows(self) -> list[tuple]:
        if self._rows is None:
            with self._connection.pg.cursor() as cur:
                cur.execute(self._bound)
                self._rows = cur.fetchall()
        return self._rows

    def fetchall(self) -> list[tuple]:
        rows = self._all_rows()[self._position :]
        self._position += len(rows)
        return rows

    def fetchone(self) -> tuple | None:
        rows = self._all_rows()
        if self._position >= len(rows):
            return None
        self._position += 1
        return rows[self._position - 1]

    # --- DuckDB frames
    def _frame_cursor(self) -> duckdb.DuckDBPyConnection:
        if self._frames is None:
            if self._bound is None:
                raise WarehouseDialectError("this statement returns no rows to read as a frame")
            self._frames = self._connection.query_frames(self._bound, self._description)
        return self._frames

    def fetchdf(self) -> pd.DataFrame:
        return self._frame_cursor().fetchdf()

    df = fetchdf

    def fetch_df_chunk(self, vectors_per_chunk: int = 1) -> pd.DataFrame:
        return self._frame_cursor().fetch_df_chunk(vectors_per_chunk)

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
            self._frames = None


class PostgresConnection:
    """DuckDB's connection surface (the part Cycle uses) over one psycopg2 connection in autocommit."""

    dialect = "postgres"

    def __init__(self, pg, workdir: Path, memory_limit: str = "512MB"):
        self.pg = pg
        self._workdir = workdir
        self._memory_limit = memory_limit
        self._last: PostgresResult | None = None
        self._registered: set[str] = set()
        self._files = 0

    # --- statements
    def execute(self, sql: str, parameters: Sequence[object] | None = None) -> PostgresResult:
        if self._last is not None:
            self._last.close()
        params = list(parameters) if parameters is not None else None
        sql = sql.rstrip().rstrip(";")  # a query is wrapped in others (its description, its copy)
        order_by_all = _ORDER_BY_ALL.search(sql)
        if order_by_all:
            sql = sql[: order_by_all.start()]
        translated = translate(sql, params is not None)
        with self.pg.cursor() as cur:
            bound = cur.mogrify(translated, params).decode() if params is not None else translated
            columns = None
            if order_by_all:  # DuckDB's `order by all`: every column, left to right (the columns kept for the frame)
                columns = self.describe(bound)
                bound += " order by " + ", ".join(str(k + 1) for k in range(len(columns)))
            if _first_keyword(sql) in _ROW_STATEMENTS and not _CTE_WRITE.search(sql):
                self._last = PostgresResult(self, bound, None, columns)
                return self._last
            cur.execute(bound)
            if cur.description is not None:  # ... returning
                rows = cur.fetchall()
            elif _first_keyword(sql) in _DML or _CTE_WRITE.search(sql):
                rows = [(cur.rowcount,)]
            else:
                rows = []
            self._last = PostgresResult(self, None, rows)
        return self._last

    def _result(self) -> PostgresResult:
        if self._last is None:
            raise WarehouseDialectError("nothing was executed on this connection")
        return self._last

    def fetchall(self) -> list[tuple]:
        return self._result().fetchall()

    def fetchone(self) -> tuple | None:
        return self._result().fetchone()

    def fetchdf(self) -> pd.DataFrame:
        return self._result().fetchdf()

    df = fetchdf

    def fetch_df_chunk(self, vectors_per_chunk: int = 1) -> pd.DataFrame:
        return self._result().fetch_df_chunk(vectors_per_chunk)

    # --- query results as DuckDB frames
    def describe(self, bound: str) -> tuple:
        with self.pg.cursor() as cur:
            cur.execute(f"select * from ({bound}) as _described limit 0")
            return cur.description

    def _csv_path(self) -> Path:
        self._files += 1
        return self._workdir / f"result_{self._files}.csv"

    def query_frames(self, bound: str, description: tuple | None = None) -> duckdb.DuckDBPyConnection:
        """A DuckDB cursor over the rows of the query ``bound`` (parameters already bound), typed as PostgreSQL
        describes each column (``description``, asked for here when the caller has none): fetchdf/fetch_df_chunk on
        it give DuckDB's dtypes."""
        description = description or self.describe(bound)
        names: list[str] = []
        for column in description:
            name, k = column.name, 1
            while name in names:  # two columns of one name (a join's keys): DuckDB's suffixing
                name, k = f"{column.name}_{k}", k + 1
            names.append(name)
        types = {name: _DUCKDB_TYPES.get(column.type_code, "VARCHAR") for name, column in zip(names, description)}
        path = self._csv_path()
        with self.pg.cursor() as cur, path.open("w", encoding="utf-8") as out:
            cur.copy_expert(f"copy ({bound}) to stdout with (format csv, header false)", out)
        reader = duckdb.connect(config={"threads": 1, "memory_limit": self._memory_limit})
        columns = "{" + ", ".join(f"'{n.replace(chr(39), chr(39) * 2)}': '{t}'" for n, t in types.items()) + "}"
        # the file is read lazily by the cursor's fetches, then removed with the connection's folder
        reader.execute(f"select * from read_csv('{path.as_posix()}', columns = {columns}, {_CSV_OPTIONS})")
        return reader

    # --- frames visible to SQL
    def register(self, name: str, frame: pd.DataFrame) -> PostgresConnection:
        """``frame`` as the temporary table ``name`` of this session (until ``unregister``)."""
        if name in self._registered:
            self.unregister(name)
        writer = duckdb.connect(config={"threads": 1, "memory_limit": self._memory_limit})
        try:
            writer.register("_frame", frame)
            described = writer.execute("describe select * from _frame").fetchall()
            definitions = []
            for column, duck_type, *_ in described:
                try:
                    pg_type = "text" if duck_type in ("NULL", '"NULL"') or duck_type.startswith("ENUM") else postgres_type(duck_type)
                except UnsupportedColumnType as error:
                    raise UnsupportedColumnType(f"frame {name}, column {column}: {error}") from None
                definitions.append(f"{_quote(column)} {pg_type}")
            path = self._csv_path()
            writer.execute(f"copy (select * from _frame) to '{path.as_posix()}' (format csv, header false)")
        finally:
            writer.close()
        try:
            with self.pg.cursor() as cur:
                cur.execute(f"create temporary table {_quote(name)} ({', '.join(definitions)})")
                with path.open("r", encoding="utf-8") as csv:
                    cur.copy_expert(f"copy {_quote(name)} from stdin with (format csv, header false)", csv)
        finally:
            path.unlink(missing_ok=True)
        self._registered.add(name)
        return self

    def unregister(self, name: str) -> PostgresConnection:
        from psycopg2.extensions import TRANSACTION_STATUS_INERROR

        if self.pg.get_transaction_status() == TRANSACTION_STATUS_INERROR:
            # as DuckDB, a failed transaction refuses everything until its rollback, which drops a table it
            # created; one registered before it is dropped when the name is registered again
            return self
        with self.pg.cursor() as cur:
            cur.execute(f"drop table if exists pg_temp.{_quote(name)}")
        self._registered.discard(name)
        return self

    def close(self) -> None:
        if self._last is not None:
            self._last.close()
        self.pg.close()


def postgres_dsn(host: str, port: int, user: str, password: str, dbname: str, sslmode: str = "prefer") -> str:
    """A libpq connection string (values quoted as libpq reads them)."""

    def value(v: object) -> str:
        return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"

    parts = {"host": host, "port": port, "user": user, "dbname": dbname, "sslmode": sslmode}
    if password:
        parts["password"] = password
    return " ".join(f"{k}={value(v)}" for k, v in parts.items())


@contextlib.contextmanager
def connect(dsn: str, read_only: bool = False, memory_limit: str = "512MB") -> Iterator[PostgresConnection]:
    """A short-lived connection to the PostgreSQL warehouse, in UTC (timestamps are stored without zone)."""
    import psycopg2  # the postgres extra's driver

    _register_adapters()
    pg = psycopg2.connect(dsn)
    pg.autocommit = True
    with pg.cursor() as cur:
        cur.execute("set timezone = 'UTC'")
        if read_only:
            cur.execute("set session characteristics as transaction read only")
    with tempfile.TemporaryDirectory(prefix="cycle-pgwarehouse-") as workdir:
        con = PostgresConnection(pg, Path(workdir), memory_limit)
        try:
            yield con
        finally:
            con.close()
