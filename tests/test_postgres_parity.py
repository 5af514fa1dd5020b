"""The same dbt project on PostgreSQL gives the same warehouse as on DuckDB, table for table.

The session ``pipeline`` fixture builds the whole graph on DuckDB for three days of the simulator (with malformed
records). A snapshot of its dbt sources (the raw layer and the tables the ML and analysis assets write) goes into
a fresh DuckDB warehouse and into a PostgreSQL server started for this module (tests/postgres_testing.py,
analytics_assets/storage/postgres_copy.py); the whole project is built on each (`dbt build`: seeds, snapshot,
models, and on PostgreSQL every data and unit test too), the incremental models are rebuilt on PostgreSQL for the
last day as the daily schedule does, and every relation dbt built is compared with DuckDB's: the same columns in
the same order with the same kind of type, the same rows in any order (floats to 6 significant digits, numbers
compared as numbers whatever their integer or decimal type).

Without PostgreSQL server binaries the test is skipped on a developer machine and fails under CI (env CI set).
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pytest

from analytics_assets.defs.transform.dbt import DBT_PROJECT_DIR
from analytics_assets.storage.postgres_copy import copy_tables
from cycle_testing import E2E_END
from postgres_testing import server_for_module

pytestmark = pytest.mark.slow

PG_SCHEMA = "analytics"
DUCKDB_SCHEMA = "main"
# the time the build ran, not what the data is (fct_recommendations: now() of the build)
BUILD_TIME_COLUMNS = {"status_as_of"}
SIGNIFICANT_DIGITS = 6


@pytest.fixture(scope="module")
def postgres():
    yield from server_for_module()


def _dbt(args: list[str], target: Path, engine: str, manifest=None):
    from dbt.cli.main import dbtRunner

    base = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(target), "--target", engine, "--quiet"]
    return dbtRunner(manifest=manifest).invoke([args[0], *base, *args[1:]])


def _project_manifest():
    """The DuckDB manifest `make install` keeps in dbt/target, when no project file is newer than it (loading it
    takes a second where a parse takes many); None otherwise."""
    from dbt.artifacts.schemas.manifest import WritableManifest
    from dbt.contracts.graph.manifest import Manifest

    path = DBT_PROJECT_DIR / "target" / "manifest.json"
    if not path.exists():
        return None
    project_files = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"] + [
        f for d in ("models", "macros", "seeds", "snapshots", "tests") for f in (DBT_PROJECT_DIR / d).rglob("*")
        if f.is_file()
    ]
    if max(f.stat().st_mtime for f in project_files) > path.stat().st_mtime:
        return None
    manifest = Manifest.from_writable_manifest(WritableManifest.read_and_check_versions(str(path)))
    return manifest if manifest.metadata.adapter_type == "duckdb" else None


def _release_duckdb() -> None:
    # dbt-duckdb keeps the database open in-process after a command: close it so this process can read the file
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    if DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
    DuckDBConnectionManager.close_all_connections()


def _copy_sources_to_duckdb(source: Path, warehouse: Path, tables: list[tuple[str, str]]) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"attach '{source.as_posix()}' as pipeline (read_only)")
        for schema, table in tables:
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(f'create table "{schema}"."{table}" as select * from pipeline."{schema}"."{table}"')
        con.execute("detach pipeline")


@pytest.fixture(scope="module")
def builds(pipeline, postgres, tmp_path_factory):
    """One snapshot of the pipeline's dbt sources, built by the whole project on both engines: a fresh DuckDB
    warehouse holding only those sources, and the PostgreSQL database they were copied into. Both start from the
    same rows whatever other tests did to the shared warehouse since (rerun the policy, ingested decisions)."""
    home, _ = pipeline
    root = tmp_path_factory.mktemp("postgres_parity")
    with pytest.MonkeyPatch.context() as env:
        # the whole history: no partition window may leak in from the environment
        env.delenv("CYCLE_DBT_MIN_DATE", raising=False)
        env.delenv("CYCLE_DBT_MAX_DATE", raising=False)
        for name, value in postgres.dbt_env(PG_SCHEMA).items():
            env.setenv(name, value)
        parsed = _dbt(["parse"], root / "pg_target", "postgres")
        assert parsed.success, parsed.exception
        manifest = parsed.result
        assert manifest.metadata.adapter_type == "postgres"

        sources = sorted({(s.schema, s.identifier) for s in manifest.sources.values()})
        with duckdb.connect(str(home.warehouse), read_only=True) as con:
            present = set(con.execute("select table_schema, table_name from information_schema.tables").fetchall())
        # a source no asset has written yet (e.g. tracked events) is absent on both engines alike
        sources = [s for s in sources if s in present]
        copied = copy_tables(home.warehouse, postgres.dsn, sources)

        duck_manifest = _project_manifest()
        # dbt-duckdb names the database after the file, and a loaded manifest keeps that name
        database = next(n.database for n in duck_manifest.nodes.values() if n.resource_type == "model") if duck_manifest else "warehouse"
        warehouse = root / "duckdb" / f"{database}.duckdb"
        warehouse.parent.mkdir()
        _copy_sources_to_duckdb(home.warehouse, warehouse, sources)
        env.setenv("CYCLE_WAREHOUSE_PATH", str(warehouse))
        env.setenv("CYCLE_DBT_TARGET", "duckdb")
        # DuckDB's data and unit tests run in the pipeline and the DuckDB test modules: here only what is compared
        duck = _dbt(["build", "--exclude-resource-type", "test", "unit_test"], root / "duck_target", "duckdb", duck_manifest)
        _release_duckdb()
        _assert_built(duck)

        env.setenv("CYCLE_DBT_TARGET", "postgres")
        built = _dbt(["build"], root / "pg_target", "postgres", manifest)
        _assert_built(built)
        # then the last day again, as the daily schedule runs it: the incremental models' windowed path
        # (delete the window, insert it) on PostgreSQL must leave the same tables
        env.setenv("CYCLE_DBT_MIN_DATE", E2E_END.isoformat())
        env.setenv("CYCLE_DBT_MAX_DATE", E2E_END.isoformat())
        rerun = _dbt(["build", "--select", "config.materialized:incremental"], root / "pg_target", "postgres", manifest)
        _assert_built(rerun)
    return {"manifest": manifest, "built": built, "rerun": rerun, "copied": copied, "duckdb": warehouse}


def _assert_built(result) -> None:
    # a warning is a data test configured to warn (rows held back for a missing parent): DuckDB warns alike
    failures = [(r.node.name, r.status, r.message) for r in (result.result or []) if r.status not in ("success", "pass", "warn")]
    assert result.success and not failures, (result.exception, failures)


# the kind of value a column holds, whatever each engine calls its type (`integer` vs `bigint` are one kind;
# a double and a numeric are both numbers compared to SIGNIFICANT_DIGITS)
_TYPE_KINDS = {
    "tinyint": "integer", "smallint": "integer", "integer": "integer", "bigint": "integer", "hugeint": "integer",
    "double": "number", "double precision": "number", "real": "number", "float": "number", "numeric": "number",
    "decimal": "number", "varchar": "text", "text": "text", "character varying": "text", "boolean": "boolean",
    "date": "date", "timestamp": "timestamp", "timestamp without time zone": "timestamp",
}


def _type_kind(data_type: str) -> str:
    name = data_type.lower().split("(")[0].strip()
    return _TYPE_KINDS.get(name, name)


def _column_kinds(cursor, schema: str, name: str) -> list[tuple[str, str]]:
    cursor.execute(
        "select column_name, data_type from information_schema.columns "
        f"where table_schema = '{schema}' and table_name = '{name}' order by ordinal_position"
    )
    return [(column.lower(), _type_kind(dtype)) for column, dtype in cursor.fetchall() if column not in BUILD_TIME_COLUMNS]


def _round_significant(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values) & (values != 0)
    scale = np.ones_like(values)
    scale[finite] = 10.0 ** (SIGNIFICANT_DIGITS - 1 - np.floor(np.log10(np.abs(values[finite]))))
    return np.where(finite, np.round(values * scale) / scale, values)


def _canonical_column(values: tuple) -> list:
    """A column as both engines' drivers return it, reduced to what the data means: numbers as floats to
    SIGNIFICANT_DIGITS (an integer count and the same count as a decimal are equal), times as ISO text, NaN and
    null kept apart."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in present):
        numbers = np.array([np.nan if v is None else float(v) for v in values], dtype="float64")
        rounded = _round_significant(numbers).tolist()
        return [None if v is None else ("NaN" if math.isnan(r) else r) for v, r in zip(values, rounded)]
    if present and all(isinstance(v, (datetime, date)) for v in present):
        return [None if v is None else v.replace(tzinfo=None).isoformat() if isinstance(v, datetime) else v.isoformat() for v in values]
    return [None if v is None else v if isinstance(v, (bool, str)) else str(v) for v in values]


def _rows(cursor, sql: str) -> tuple[list[str], Counter]:
    cursor.execute(sql)
    columns = [d[0].lower() for d in cursor.description]
    keep = [i for i, c in enumerate(columns) if c not in BUILD_TIME_COLUMNS]
    # columns as the driver returned them (no pandas inference: it would turn a null count into NaN)
    by_column = list(zip(*cursor.fetchall()))
    if not by_column:
        return [columns[i] for i in keep], Counter()
    canonical = [_canonical_column(by_column[i]) for i in keep]
    return [columns[i] for i in keep], Counter(zip(*canonical))


def _sort_key(row: tuple) -> tuple:
    return tuple((v is None, type(v).__name__, v if v is not None else 0) for v in row)


def _close(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=10 ** (1 - SIGNIFICANT_DIGITS), abs_tol=1e-9)
    return a == b


def _same_rows(duck: Counter, pg: Counter) -> bool:
    """Equal multisets of rows; where rounding to 6 digits fell on both sides of a boundary (x.xxxxx5), the rows
    sorted alike are compared value by value within one unit of the 6th digit."""
    if duck == pg:
        return True
    left, right = sorted(duck.elements(), key=_sort_key), sorted(pg.elements(), key=_sort_key)
    return len(left) == len(right) and all(
        len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b)) for a, b in zip(left, right)
    )


def test_the_whole_project_builds_on_postgres_with_duckdbs_rows_table_for_table(postgres, builds):
    import psycopg2

    manifest, built, rerun, copied = builds["manifest"], builds["built"], builds["rerun"], builds["copied"]
    assert {(c.schema, c.table) for c in copied} >= {("raw", "raw_social_post_snapshots"), ("raw", "raw_boosts")}
    assert all(c.rows > 0 for c in copied if c.table in ("raw_social_post_snapshots", "raw_ad_campaign_metrics"))

    relations = sorted(
        node.alias
        for node in manifest.nodes.values()
        if node.resource_type in ("model", "seed", "snapshot") and node.config.materialized != "ephemeral"
    )
    ran = {r.node.alias for r in built.result if r.node.resource_type in ("model", "seed", "snapshot")}
    assert set(relations) == ran  # dbt built every relation on PostgreSQL
    tests_run = [r for r in built.result if r.node.resource_type in ("test", "unit_test")]
    assert len(tests_run) > 300 and any(r.node.resource_type == "unit_test" for r in tests_run)
    # the rerun took the incremental path: its SQL reads the one day's window
    incremental = [r for r in rerun.result if r.node.resource_type == "model"]
    assert len(incremental) >= 4
    assert all(f"'{E2E_END.isoformat()}'" in r.node.compiled_code for r in incremental)

    mismatched, compared_rows = [], 0
    duck = duckdb.connect(str(builds["duckdb"]), read_only=True)
    pg = psycopg2.connect(postgres.dsn)
    try:
        duck_cursor, pg_cursor = duck.cursor(), pg.cursor()
        for name in relations:
            duck_columns, duck_rows = _rows(duck_cursor, f'select * from {DUCKDB_SCHEMA}."{name}"')
            pg_columns, pg_rows = _rows(pg_cursor, f'select * from {PG_SCHEMA}."{name}"')
            compared_rows += sum(duck_rows.values())
            duck_kinds, pg_kinds = _column_kinds(duck_cursor, DUCKDB_SCHEMA, name), _column_kinds(pg_cursor, PG_SCHEMA, name)
            if duck_columns != pg_columns or duck_kinds != pg_kinds:
                mismatched.append((name, "columns", [c for c in duck_kinds if c not in pg_kinds], [c for c in pg_kinds if c not in duck_kinds]))
            elif not _same_rows(duck_rows, pg_rows):
                only_duck, only_pg = duck_rows - pg_rows, pg_rows - duck_rows
                mismatched.append((name, "rows", sum(duck_rows.values()), sum(pg_rows.values()),
                                   list(only_duck)[:2], list(only_pg)[:2]))
    finally:
        pg.close()
        duck.close()
    assert not mismatched, mismatched
    # the comparison is not vacuous: the facts and marts hold the simulator's days
    assert len(relations) > 50 and compared_rows > 10_000


def test_every_unit_test_name_fits_a_postgres_identifier():
    """dbt-postgres builds a unit test's expected rows in a relation named after the test and refuses a name over
    PostgreSQL's 63-byte identifier limit (it truncates model relations itself, never these)."""
    import yaml

    names = [
        test["name"]
        for path in sorted((DBT_PROJECT_DIR / "models").rglob("*.yml"))
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests") or []
    ]
    assert len(names) > 20
    assert [n for n in names if len(n.encode()) > 63] == []


def test_the_copy_keeps_nulls_apart_from_empty_text_and_refuses_what_csv_cannot_carry(postgres, tmp_path):
    import psycopg2

    from analytics_assets.storage.postgres_copy import UnsupportedColumnType

    warehouse = tmp_path / "small.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        con.execute(
            "create table raw.sample as select * from (values "
            "(1, '', 0.1::double, timestamp '2026-10-12 01:02:03.5', true), "
            "(2, null, null, null, null), "
            "(3, 'a,\"b\"\nc', 'nan'::double, timestamp '2026-10-13 00:00:00', false)"
            ") t(id, label, share, seen_at, flag)"
        )
        con.execute("create table raw.nested as select 1 as id, [1, 2] as ids")
    copied = copy_tables(warehouse, postgres.dsn, [("raw", "sample")])
    assert [(c.table, c.rows) for c in copied] == [("sample", 3)]
    pg = psycopg2.connect(postgres.dsn)
    pg.autocommit = True  # an open read transaction would hold a lock the next copy's drop table waits for
    try:
        with pg.cursor() as cur:
            cur.execute("select id, label, share, seen_at, flag from raw.sample order by id")
            rows = cur.fetchall()
        assert rows[0][1] == "" and rows[1][1:] == (None, None, None, None)
        assert rows[0][2] == 0.1 and math.isnan(rows[2][2]) and rows[2][1] == 'a,"b"\nc'
        assert rows[0][3] == datetime(2026, 10, 12, 1, 2, 3, 500000) and rows[0][4] is True
        with pytest.raises(UnsupportedColumnType, match="raw.nested"):
            copy_tables(warehouse, postgres.dsn, [("raw", "nested")])
        with pytest.raises(LookupError, match="raw.missing"):
            copy_tables(warehouse, postgres.dsn, [("raw", "missing")])
        # a second copy replaces the table, never appends
        copy_tables(warehouse, postgres.dsn, [("raw", "sample")])
        with pg.cursor() as cur:
            cur.execute("select count(*) from raw.sample")
            assert cur.fetchone()[0] == 3
    finally:
        pg.close()
