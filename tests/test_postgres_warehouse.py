"""The warehouse on PostgreSQL (``CYCLE_WAREHOUSE_ENGINE=postgres``): the whole graph (``full_pipeline_job``: raw,
dbt, ML, analysis, recommendations, serving) for three days of the simulator with malformed records, run with its
warehouse on PostgreSQL, writes the tables and publishes the serving files the same graph gives on DuckDB, table
for table; the raw checks and the dbt data tests run there with the same outcomes; a rerun of the raw layer
replaces its days; what the API receives lands there through the sensors, and a privacy request (export, erasure,
the rebuild through the asset graph) is carried out end to end. And the connection behind it
(``storage/postgres_warehouse.py``) answers as DuckDB's does: placeholders, row counts, transactions, registered
frames and frames with DuckDB's dtypes.

Starts its own PostgreSQL (tests/postgres_testing.py); skipped without server binaries on a developer machine,
failed under CI (env CI set).
"""

from __future__ import annotations

import contextlib
import socket
from datetime import date

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from analytics_assets.contracts.raw import QUARANTINE_TABLE, RAW_SCHEMA
from analytics_assets.defs.ingest.raw import RAW_TABLES
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.storage import warehouse
from analytics_assets.storage.recommendations import GENERATION_COLUMNS
from analytics_assets.storage.postgres_warehouse import translate
from cycle_testing import E2E_END, E2E_START, new_home
from postgres_testing import server_for_module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres():
    yield from server_for_module()


def _resource(server, dbname: str | None = None) -> WarehouseResource:
    return WarehouseResource(
        path="/nonexistent/warehouse.duckdb",  # never opened on PostgreSQL
        engine="postgres",
        postgres_host=server.host,
        postgres_port=server.port,
        postgres_user=server.user,
        postgres_dbname=dbname or server.dbname,
        memory_limit="512MB",
    )


# ------------------------------------------------------------------------------------- the connection


def test_translate_placeholders_types_and_literals():
    sql = "select cast(x as DOUBLE), ? , '?%', \"a?\" -- what? 5%\nfrom t where y like 'x%' and z = ? /* ? */"
    assert translate(sql, True) == (
        "select cast(x as double precision), %s , '?%%', \"a?\" -- what? 5%%\n"
        "from t where y like 'x%%' and z = %s /* ? */"
    )
    # without parameters psycopg2 formats nothing: % stays single, ? is not a placeholder
    assert translate("select 5 % 2, 'a''?' as q, double precision", False) == "select 5 % 2, 'a''?' as q, double precision"


@contextlib.contextmanager
def _schema(con, name: str):
    """A schema of the test's own, dropped afterwards: the graph's tables are compared with DuckDB's later."""
    con.execute(f"create schema {name}")
    try:
        yield
    finally:
        con.execute(f"drop schema {name} cascade")


def test_connection_answers_as_duckdb_does(postgres, tmp_path):
    frame = pd.DataFrame(
        {
            "n": pd.array([1, None, 3], dtype="Int64"),
            "x": [1.5, np.nan, 0.1 + 0.2],  # a double that needs all 17 digits
            "d": [date(2026, 1, 1), None, date(2026, 1, 3)],
            "ts": pd.to_datetime(["2026-01-01 10:00:00.123456", None, "2026-01-03 00:00:00.000000"]),
            "s": ["x?%", "", None],  # an empty string is not a null
            "b": [True, None, False],
        }
    )
    ddl = "create table {t} (n bigint, x DOUBLE, d date, ts timestamp, s varchar, b boolean)"
    import duckdb

    with duckdb.connect(str(tmp_path / "w.duckdb")) as duck, _resource(postgres).connect() as pg, _schema(pg, "probe"):
        duck.execute("create schema probe")
        for con in (duck, pg):
            con.execute(ddl.format(t="probe.t"))
            with warehouse.registered(con, "_incoming", frame):
                # DML answers its row count, as DuckDB's does
                assert con.execute("insert into probe.t select * from _incoming").fetchall() == [(3,)]
        query = "select * from probe.t where s = ? or s is null or s = '' order by n nulls last"
        expected = duck.execute(query, ["x?%"]).fetchdf()
        got = pg.execute(query, ["x?%"]).fetchdf()
        pd.testing.assert_frame_equal(got, expected)
        assert got["x"].iloc[1] == 0.1 + 0.2 and got["s"].iloc[1] is None and got["s"].iloc[2] == ""
        # an empty result keeps the column types
        pd.testing.assert_frame_equal(
            pg.execute("select * from probe.t where false").fetchdf(), duck.execute("select * from probe.t where false").fetchdf()
        )
        # numpy parameters, arrays of dates, chunked frames
        chunked = pg.execute("select n from probe.t where n >= ? and d in (select unnest(?::date[])) order by n",
                             [np.int64(1), [date(2026, 1, 1), date(2026, 1, 3)]])
        assert chunked.fetch_df_chunk(1)["n"].tolist() == [1, 3]
        assert chunked.fetch_df_chunk(1).empty
        # DuckDB's `order by all`: every column, left to right, on the frame path too
        ordered = "select s, n from probe.t order by all"
        pd.testing.assert_frame_equal(pg.execute(ordered).fetchdf(), duck.execute(ordered).fetchdf())
        assert pg.execute(ordered).fetchall() == duck.execute(ordered).fetchall()
        # a write that fails inside a transaction is rolled back: the rows stay
        with pytest.raises(RuntimeError):
            with warehouse.transaction(pg):
                assert pg.execute("delete from probe.t where n = ?", [1]).fetchall() == [(1,)]
                raise RuntimeError("the write fails")
        assert pg.execute("select count(*) from probe.t;").fetchone() == (3,)
        # a write behind a common table expression runs when executed, as every write does, and answers its count
        assert pg.execute("with old as (select 3 as n) delete from probe.t where n in (select n from old)").fetchall() == [(1,)]
        with warehouse.registered(pg, "_back", frame.iloc[[2]]):
            pg.execute("insert into probe.t select * from _back")
        assert warehouse.table_exists(pg, "probe.t") and not warehouse.table_exists(pg, "probe.absent")
        # whole tables replaced in one transaction, with a type fixed for an all-null column
        warehouse.replace_table(pg, "probe.r", pd.DataFrame({"a": [1, 2], "z": [None, None]}), casts={"z": "DOUBLE"})
        warehouse.replace_table(pg, "probe.r", pd.DataFrame({"a": [3], "z": [None]}), casts={"z": "DOUBLE"})
        assert pg.execute("select a, z from probe.r").fetchall() == [(3, None)]


def test_an_unknown_engine_is_refused_where_it_is_set():
    import pydantic

    from analytics_assets.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="CYCLE_WAREHOUSE_ENGINE"):
        load_settings({"CYCLE_WAREHOUSE_ENGINE": "postgress"})
    with pytest.raises(pydantic.ValidationError, match="warehouse engine must be one of duckdb, postgres"):
        WarehouseResource(path="warehouse.duckdb", engine="sqlite")
    assert load_settings({"CYCLE_PG_DATABASE": "analytics_db"}).pg_dbname == "analytics_db"  # the dbt profile's name


def test_read_only_connection_refuses_writes(postgres):
    import psycopg2

    with _resource(postgres).connect(read_only=True) as con:
        assert con.execute("select 1").fetchall() == [(1,)]
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            con.execute("create table refused (a int)")


# ------------------------------------------------------------------------------------- the whole graph

# what a run stamps rather than computes: the time it ran (a recommendation's GENERATION_COLUMNS are the times of
# the runs that proposed it), the ids of its MLflow runs and Dagster runs, and the input fingerprints, which each engine hashes its own way (storage/dialect.py) and only ever compares with its own
RUN_COLUMNS = {
    "loaded_at", "quarantined_at", "generated_at", "status_as_of", "computed_at", "published_at", "proposed_at",
    "input_fingerprint", "run_id", "mlflow_run_id", "last_materialized_at", "trained_at", "registered_at",
}
# floats to 7 significant digits: each engine sums doubles in its own order, and the model trains on those sums
RELATIVE = 1e-7
# files of the serving snapshot that describe the run, not the data
RUN_FILES = {"asset_status.parquet", "automation_status.parquet", "manifest.json", "quality_gate.json"}


def _run_raw(home):
    """raw_platform_data alone for the three days, as a backfill of those partitions reruns it."""
    from analytics_assets.definitions import build_defs

    job = build_defs(home.resources()).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=home.instance,
        asset_selection=[k for k in job.asset_layer.asset_graph.get_all_asset_keys() if k.to_user_string() in RAW_TABLES],
        tags={
            "dagster/asset_partition_range_start": E2E_START.isoformat(),
            "dagster/asset_partition_range_end": E2E_END.isoformat(),
        },
        raise_on_error=False,
    )
    assert result.success, [str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure]
    return result


def _check_outcomes(result) -> dict[tuple[str, str, str | None], bool]:
    outcomes = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            outcomes[(data.asset_key.to_user_string(), data.check_name, data.partition)] = data.passed
    return outcomes


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    stamped = RUN_COLUMNS | (set(GENERATION_COLUMNS) if "recommendation_id" in frame.columns else set())
    frame = frame.drop(columns=[c for c in frame.columns if c in stamped])
    return frame.sort_values(list(frame.columns)).reset_index(drop=True) if len(frame.columns) else frame


def _differences(name: str, got: pd.DataFrame, expected: pd.DataFrame) -> list[str]:
    """Each column of ``name`` whose values differ (numbers beyond RELATIVE), or its shape."""
    if list(got.columns) != list(expected.columns) or len(got) != len(expected):
        return [f"{name}: columns {list(got.columns)} x {len(got)} rows, expected {list(expected.columns)} x {len(expected)}"]
    out = []
    for column in expected.columns:
        try:
            pd.testing.assert_series_equal(got[column], expected[column], check_dtype=False, rtol=RELATIVE)
        except AssertionError as error:
            out.append(f"{name}.{column}: {' '.join(str(error).split())[:300]}")
    return out


def _tables(con) -> set[str]:
    return {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('information_schema', 'pg_catalog') and table_schema not like 'pg_temp%'"
        ).fetchall()
    }


@pytest.fixture(scope="module")
def graphs(postgres, tmp_path_factory):
    duck_home = new_home(tmp_path_factory.mktemp("graph_duckdb"))
    pg_home = new_home(tmp_path_factory.mktemp("graph_postgres"))
    pg_home.warehouse_resource = _resource(postgres)
    duck = duck_home.run(E2E_START, E2E_END)
    pg = pg_home.run(E2E_START, E2E_END)
    rerun = _run_raw(pg_home)  # the same days again: replaced, never duplicated
    return duck_home, pg_home, duck, pg, rerun


def test_whole_graph_on_postgres_writes_what_duckdb_does(graphs):
    duck_home, pg_home, *_ = graphs
    assert not pg_home.warehouse.exists()  # nothing went to a DuckDB file
    different = []
    with warehouse.connect(duck_home.warehouse, read_only=True) as d, pg_home.warehouse_resource.connect(read_only=True) as p:
        tables = _tables(d)
        assert _tables(p) == tables
        assert {"raw", "main", "ml", "analysis"} <= {t.split(".")[0] for t in tables}
        for qualified in sorted(tables):
            expected = _canonical(d.execute(f"select * from {qualified}").fetchdf())
            got = _canonical(p.execute(f"select * from {qualified}").fetchdf())
            different += _differences(qualified, got, expected)
    assert not different, "\n".join(different)


def test_serving_snapshot_from_postgres_is_duckdbs(graphs):
    duck_home, pg_home, *_ = graphs
    files = sorted(p.name for p in duck_home.serving.glob("*.parquet") if p.name not in RUN_FILES)
    assert len(files) >= 20
    assert files == sorted(p.name for p in pg_home.serving.glob("*.parquet") if p.name not in RUN_FILES)
    different = []
    for name in files:
        expected = _canonical(pd.read_parquet(duck_home.serving / name))
        got = _canonical(pd.read_parquet(pg_home.serving / name))
        different += _differences(name, got, expected)
    assert not different, "\n".join(different)


def test_checks_run_on_postgres_with_duckdbs_outcomes(graphs):
    _, _, duck, pg, rerun = graphs
    expected = _check_outcomes(duck)
    raw = {k: v for k, v in expected.items() if k[0] in RAW_TABLES}
    assert raw and all(raw[k] for k in raw if k[1] in ("rows_match_schema", "natural_key_is_unique"))
    assert len(expected) > len(raw)  # the dbt models' data tests and the Python assets' checks too
    assert _check_outcomes(pg) == expected
    # the rerun's raw checks, on the days it replaced
    assert _check_outcomes(rerun) == raw


def test_raw_rerun_replaces_its_days(graphs):
    _, pg_home, duck, pg, rerun = graphs

    def counts(result):
        return {
            e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata["rows_stored_in_run"].value
            for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key.to_user_string() in RAW_TABLES
        }

    assert counts(pg) == counts(duck) == counts(rerun)
    assert all(n > 0 for n in counts(pg).values())
    with pg_home.warehouse_resource.connect(read_only=True) as con:
        for name in RAW_TABLES:
            assert con.execute(f"select count(*) from {RAW_SCHEMA}.{name}").fetchone()[0] == counts(pg)[name]
    # the malformed records the simulator plants were quarantined on PostgreSQL too
        assert con.execute(f"select count(*) from {RAW_SCHEMA}.{QUARANTINE_TABLE}").fetchone()[0] > 0


def test_api_store_loads_land_in_postgres(graphs):
    """What the API receives reaches the PostgreSQL warehouse as on DuckDB: a tick of each store's sensor requests
    its run, which copies the webhook events, the recommendation decisions and the insight acknowledgements past
    the last load into their raw tables; a second tick finds nothing new."""
    from datetime import datetime, timedelta

    from analytics_assets.contracts.inbound import (
        FeedbackRecord, FeedbackStore, InsightAcknowledgement, InsightAcknowledgementStore, WebhookEvent, WebhookStore,
    )
    from analytics_assets.defs.ingest import insight_acknowledgements, recommendation_feedback, webhooks

    _, pg_home, *_ = graphs
    store_path = pg_home.root / "api" / "inbound.sqlite3"
    store_path.parent.mkdir(exist_ok=True)
    at = datetime(2026, 10, 14, 9, 0)
    WebhookStore(store_path).append([WebhookEvent("meta", "evt-1", {"entry": [{"id": "1", "note": "50% off?"}]})], delivery_id="d1")
    FeedbackStore(store_path).record(FeedbackRecord(
        feedback_id="fb_" + "1" * 32, recommendation_id="rec_" + "a" * 24, decision="dismiss", received_at=at,
        platform="linkedin", account_id="urn:li:organization:1001", workspace_id="acme", key_id="0123456789ab",
        reason="not now – ünïcode",
    ))
    InsightAcknowledgementStore(store_path).record(InsightAcknowledgement(
        acknowledgement_id="ack_" + "2" * 32, insight_id="ins_" + "b" * 24, platform="linkedin",
        account_id="urn:li:organization:1001", received_at=at + timedelta(minutes=1), workspace_id="acme",
        key_id="0123456789ab", note="seen",
    ))
    loaded = {
        webhooks.TABLE_NAME: ("webhook_events_sensor", "select event_id from {t}", [("evt-1",)]),
        recommendation_feedback.TABLE_NAME: (
            "recommendation_feedback_sensor", "select feedback_id, reason from {t}", [("fb_" + "1" * 32, "not now – ünïcode")]
        ),
        insight_acknowledgements.TABLE_NAME: (
            "insight_acknowledgements_sensor", "select acknowledgement_id, note from {t}", [("ack_" + "2" * 32, "seen")]
        ),
    }
    for table, (sensor, sql, expected) in loaded.items():
        assert table in pg_home.ingest_api_store(sensor)
        assert isinstance(pg_home.tick_api_store_sensor(sensor), dg.SkipReason)  # everything is loaded
        with pg_home.warehouse_resource.connect(read_only=True) as con:
            assert con.execute(sql.format(t=f"{RAW_SCHEMA}.{table}")).fetchall() == expected
    assert not pg_home.warehouse.exists()


def test_tracked_events_and_api_audit_land_in_postgres(graphs, tmp_path, monkeypatch):
    """Tracked events from the API's store (one malformed, quarantined once however often it is seen) and the API's
    audit records reach the PostgreSQL warehouse through their sensors' runs."""
    from datetime import datetime

    from analytics_assets.contracts.events import event_json, parse_event
    from analytics_assets.contracts.inbound import AuditRecord, AuditStore, TrackedEventRecord, TrackedEventStore
    from analytics_assets.contracts.events import TRACKED_TOUCHPOINTS
    from analytics_assets.defs.ingest import api_audit

    _, pg_home, *_ = graphs
    monkeypatch.setenv("CYCLE_EVENTS_LANDING_DIR", str(tmp_path / "landing"))  # no files: the store alone
    store_path = pg_home.root / "api" / "inbound.sqlite3"
    store_path.parent.mkdir(exist_ok=True)
    touch = {"type": "touchpoint", "event_id": "pg-t1", "timestamp": "2026-10-14T09:00:00Z", "property_id": "cycle-demo",
             "journey_id": "pg-j1", "user_id": "pg-u1", "utm_source": "linkedin", "utm_medium": "social",
             "utm_campaign": "pg-test"}
    event, problems = parse_event(touch)
    assert not problems
    store = TrackedEventStore(store_path)
    assert all(store.append([TrackedEventRecord("pg-t1", "touchpoint", event_json(event)),
                             TrackedEventRecord("pg-bad", "touchpoint", '{"type": "touchpoint", "event_id": "pg-bad"}')],
                            "default"))
    AuditStore(store_path).append([AuditRecord(
        requested_at=datetime(2026, 10, 14, 9, 1), method="GET", route="/v1/campaigns", status=200, response_bytes=120,
        duration_ms=3.5, client_addr="10.0.0.1", key_id="0123456789ab",
    )])
    tracked = f"{RAW_SCHEMA}.{TRACKED_TOUCHPOINTS.name}"
    assert TRACKED_TOUCHPOINTS.name in pg_home.ingest_api_store("tracked_events_sensor")
    assert api_audit.TABLE_NAME in pg_home.ingest_api_store("api_audit_sensor")
    with pg_home.warehouse_resource.connect(read_only=True) as con:
        assert con.execute(
            f"select journey_id, user_id, utm_campaign from {tracked} where event_id = ?", ["pg-t1"]
        ).fetchall() == [("pg-j1", "pg-u1", "pg-test")]
        quarantined = f"select count(*) from {RAW_SCHEMA}.{QUARANTINE_TABLE} where payload like ?"
        assert con.execute(quarantined, ["%pg-bad%"]).fetchone() == (1,)
        assert con.execute(f"select route, status from {RAW_SCHEMA}.{api_audit.TABLE_NAME}").fetchall()[-1] == ("/v1/campaigns", 200)
    # the malformed event, seen again by a later load, is not quarantined a second time
    store.append([TrackedEventRecord("pg-t2", "touchpoint", event_json(parse_event({**touch, "event_id": "pg-t2"})[0]))], "default")
    pg_home.ingest_api_store("tracked_events_sensor")
    with pg_home.warehouse_resource.connect(read_only=True) as con:
        assert con.execute(quarantined, ["%pg-bad%"]).fetchone() == (1,)
        assert con.execute(f"select count(*) from {tracked} where event_id like 'pg-t%'").fetchone() == (2,)


def test_the_archive_keeps_every_partition_hot_on_postgres(graphs):
    """dbt reads archived days back only on DuckDB: on PostgreSQL the retention asset moves nothing."""
    from analytics_assets.definitions import build_defs

    _, pg_home, *_ = graphs
    with pg_home.warehouse_resource.connect(read_only=True) as con:
        before = con.execute(f"select count(*) from {RAW_SCHEMA}.raw_social_post_snapshots").fetchone()
    job = build_defs(pg_home.resources()).resolve_job_def("raw_snapshot_archive_job")
    result = job.execute_in_process(
        instance=pg_home.instance, run_config={"ops": {"raw_snapshot_archive": {"config": {"retention_days": 1}}}}
    )
    (materialization,) = result.asset_materializations_for_node("raw_snapshot_archive")
    assert materialization.metadata["archived_days"].value == 0 and "PostgreSQL" in materialization.metadata["skipped"].value
    with pg_home.warehouse_resource.connect(read_only=True) as con:
        assert con.execute(f"select count(*) from {RAW_SCHEMA}.raw_social_post_snapshots").fetchone() == before


def test_cli_summary_reads_the_warehouse_on_postgres(graphs, monkeypatch):
    """`cycle summary`'s quarantine share and `cycle summary --tables` read the warehouse the settings configure:
    on PostgreSQL, the counts PostgreSQL holds (the tests before this one loaded more rows there than the DuckDB
    graph has); a server that cannot be reached is one line of the summary, not a traceback."""
    from analytics_assets.cli.summary import quarantine_lines, table_rows

    _, pg_home, *_ = graphs
    pg = pg_home.warehouse_resource
    with pg.connect(read_only=True) as con:
        counts = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in _tables(con)}
    quarantined = counts[f"{RAW_SCHEMA}.{QUARANTINE_TABLE}"]
    raw_records = sum(n for t, n in counts.items() if t.startswith(f"{RAW_SCHEMA}."))  # loaded and quarantined
    (quarantine,) = quarantine_lines(pg)
    assert quarantined > 0 and quarantine.startswith(f"Quarantine: {quarantined:,} of {raw_records:,} raw records ")
    # --tables from the settings alone: every table of the warehouse with its rows
    for name, value in {"CYCLE_WAREHOUSE_ENGINE": "postgres", "CYCLE_PG_HOST": pg.postgres_host,
                        "CYCLE_PG_PORT": str(pg.postgres_port), "CYCLE_PG_USER": pg.postgres_user,
                        "CYCLE_PG_DBNAME": pg.postgres_dbname}.items():
        monkeypatch.setenv(name, value)
    lines = table_rows()
    assert lines[:2] == [f"Warehouse: PostgreSQL {pg.postgres_user}@{pg.postgres_host}:{pg.postgres_port}/"
                         f"{pg.postgres_dbname}", "Rows per table:"]
    listed = {table: int(n.replace(",", "")) for table, n in (line.split() for line in lines[2:])}
    assert len(listed) > 40 and listed == counts
    # nothing listens on the port: one line says so
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    gone = WarehouseResource(path=pg.path, engine="postgres", postgres_host="127.0.0.1", postgres_port=closed_port,
                             postgres_user=pg.postgres_user, postgres_dbname=pg.postgres_dbname)
    (line,) = quarantine_lines(gone)
    assert line.startswith(f"Warehouse PostgreSQL {pg.postgres_user}@127.0.0.1:{closed_port}/") and "cannot be read now: " in line


# ------------------------------------------------------------------------------------- SQL spelled per engine


def test_dialect_helpers_agree_across_engines(postgres, tmp_path):
    """Each helper of storage/dialect.py answers the same on both engines: hashes of a person's id, keys of JSON
    payloads (broken ones too), regular expressions."""
    import duckdb

    from analytics_assets.contracts.privacy import user_hash
    from analytics_assets.storage import dialect

    payloads = ['{"user_id": "anon_1", "n": 2}', '{"user_id": null}', "[1, 2]", "not json {", "", None, '"text"']
    texts = ["anon_1", "anon_12", "x anon_1 y", "", None, "7", "12a"]
    with duckdb.connect(str(tmp_path / "d.duckdb")) as duck, _resource(postgres).connect() as pg, _schema(pg, "dialect_probe"):
        answers = []
        for con in (duck, pg):
            dialect.ensure_json_text(con)
            con.execute("create schema if not exists dialect_probe")
            con.execute("create table dialect_probe.p (k integer, payload varchar, t varchar)")
            for k, (payload, text) in enumerate(zip(payloads, texts)):
                con.execute("insert into dialect_probe.p values (?, ?, ?)", [k, payload, text])
            answers.append(
                con.execute(
                    f"""select k, {dialect.json_text(con, 'payload', 'user_id')},
                               {dialect.sha256_hex(con, "'salt:' || t")},
                               {dialect.matches(con, "coalesce(t, '')", '?')},
                               {dialect.matches_whole(con, 't', '[0-9]+')}
                        from dialect_probe.p order by k""",
                    ["(^|[^A-Za-z0-9_])anon_1($|[^A-Za-z0-9_])"],
                ).fetchall()
            )
        duck_rows, pg_rows = answers
        assert pg_rows == duck_rows
        assert [r[1] for r in pg_rows] == ["anon_1", None, None, None, None, None, None]
        assert pg_rows[0][2] == user_hash("salt", "anon_1")
        assert [r[3] for r in pg_rows] == [True, False, True, False, False, False, False]
        assert [r[4] for r in pg_rows] == [False, False, False, False, None, True, False]


def test_tombstoned_rows_never_commit_on_postgres(postgres):
    """An erased person's rows and quarantined records are dropped inside the raw writer's transaction on
    PostgreSQL as on DuckDB (storage/tombstones.py)."""
    from analytics_assets.contracts.privacy import tombstones_qualified, user_hash
    from analytics_assets.contracts.raw import TOUCHPOINTS
    from analytics_assets.storage.tombstones import drop_tombstoned, ensure_privacy_tables, installation_salt

    resource = _resource(postgres, dbname="postgres")  # a database of its own: the graph's is compared above
    with resource.connect() as con:
        warehouse.ensure_raw_tables(con, [TOUCHPOINTS])
        ensure_privacy_tables(con)
        salt = installation_salt(con)
        assert installation_salt(con) == salt  # created once
        con.execute(
            f"insert into {tombstones_qualified()} (property_id, subject, subject_hash) values (?, 'user', ?), (?, 'journey', ?)",
            ["default", user_hash(salt, "gone"), "default", user_hash(salt, "j-gone")],
        )
        rows = pd.DataFrame({"event_id": ["e1", "e2", "e3"], "user_id": ["gone", "kept", "kept"],
                             "journey_id": ["j1", "j2", "j-gone"], "property_id": [None, None, None]})
        cols = ", ".join(rows.columns)
        with warehouse.registered(con, "_rows", rows):
            con.execute(f"insert into {TOUCHPOINTS.qualified_name} ({cols}) select {cols} from _rows")
        con.execute(
            f"insert into {RAW_SCHEMA}.{QUARANTINE_TABLE} (source_table, payload) values (?, ?), (?, ?), (?, ?)",
            [TOUCHPOINTS.name, '{"user_id": "gone"}', TOUCHPOINTS.name, '{"user_id": "kept"}', TOUCHPOINTS.name, "broken {"],
        )
        assert drop_tombstoned(con, TOUCHPOINTS.name) == (2, 1)
        assert con.execute(f"select event_id from {TOUCHPOINTS.qualified_name}").fetchall() == [("e2",)]
        assert sorted(p for (p,) in con.execute(f"select payload from {RAW_SCHEMA}.{QUARANTINE_TABLE}").fetchall()) == [
            "broken {", '{"user_id": "kept"}'
        ]


# the person with the most touchpoints: the one the erasure comparison erases on both warehouses
TOP_USER = (
    "select user_id from raw.raw_touchpoints where user_id is not null group by user_id "
    "order by count(*) desc, user_id limit 1"
)


def test_privacy_requests_run_end_to_end_on_postgres(graphs, tmp_path, monkeypatch):
    """An export, then an erasure, of one simulated person on the PostgreSQL warehouse, as Dagster carries them out:
    the API's store -> privacy_requests_sensor -> privacy_request_job, then privacy_rebuild_sensor ->
    privacy_rebuild_job (the dbt models downstream of the erased raw rows over their days, on PostgreSQL, their
    tests as checks, then the serving snapshot). Nothing of theirs is left, the export held exactly what the erasure
    removed, and the attribution in the marts and served drops by exactly their conversions' value. It runs
    before the comparison below, which erases on both warehouses without a rebuild."""
    from analytics_assets.contracts.inbound import PrivacyRequestStore
    from analytics_assets.contracts.privacy import DONE, export_file
    from analytics_assets.defs.resources import WebhookStoreResource
    from analytics_assets.storage.dialect import JSON_TEXT_FUNCTION
    from analytics_assets.storage.privacy import Person, find_person
    from cycle_testing import run_privacy_requests

    _, pg_home, *_ = graphs
    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))  # where the export file is written
    attribution = "select model, sum(conversion_value) from main.agg_channel_attribution_daily group by model"
    with pg_home.warehouse_resource.connect(read_only=True) as con:
        # a converted person, not the one the DuckDB comparison after this erases on both warehouses
        (user_id,) = con.execute(
            "select user_id from raw.raw_touchpoints where event_type = 'conversion' and user_id <> ("
            f"{TOP_USER}) group by user_id order by count(*) desc, user_id limit 1"
        ).fetchone()
        person = Person(user_id, ("cycle-demo",))
        found = find_person(con, tmp_path / "archive", person).counts()
        their = dict(con.execute(
            "select attribution_model, sum(value_credit) from main.fct_touchpoint_attribution where user_id = ? "
            "group by 1", [user_id],
        ).fetchall())
        before = dict(con.execute(attribution).fetchall())
    served_before = pd.read_parquet(pg_home.serving / "attribution_daily.parquet").groupby("model")["conversion_value"].sum()
    assert found["raw.raw_touchpoints"] > 0 and found["main.fct_touchpoint_attribution"] > 0
    assert set(their) == set(before) and all(v > 0 for v in their.values())

    # a warehouse whose raw tables predate the function that reads quarantined payloads on PostgreSQL (the raw
    # writer creates it now): the requests create what they need themselves
    with pg_home.warehouse_resource.connect() as con:
        con.execute(f"drop function {JSON_TEXT_FUNCTION}(text, text)")

    store_path = tmp_path / "api" / "inbound.sqlite3"
    store = PrivacyRequestStore(store_path)
    export = store.submit("export", user_id, ["cycle-demo"], workspace_id="ws")
    erasure = store.submit("erasure", user_id, ["cycle-demo"], workspace_id="ws")
    resources = {**pg_home.resources(), "webhook_store": WebhookStoreResource(path=str(store_path))}
    cursor = ["0"]
    outputs, rebuilds = run_privacy_requests(pg_home.instance, resources, cursor)

    assert len(outputs) == 2 and store.get(export.request_id).status == DONE and store.get(erasure.request_id).status == DONE
    removed = store.get(erasure.request_id).detail["removed"]
    exported = store.get(export.request_id).detail["exported"]
    assert exported == found == {k: v for k, v in removed.items() if not k.startswith("exports/")}
    assert removed[f"exports/{export_file(tmp_path, export.request_id).name}"] == 1  # the earlier export's file went too
    ((request, result),) = rebuilds
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"fct_touchpoint_attribution", "agg_channel_attribution_daily", "serving_snapshot"} <= materialized
    with pg_home.warehouse_resource.connect(read_only=True) as con:
        assert find_person(con, tmp_path / "archive", person).counts() == {}
        after = dict(con.execute(attribution).fetchall())
    served_after = pd.read_parquet(pg_home.serving / "attribution_daily.parquet").groupby("model")["conversion_value"].sum()
    for model, value in before.items():
        assert after[model] == pytest.approx(value - their[model], rel=1e-9)
        assert served_after[model] == pytest.approx(served_before[model] - their[model], rel=1e-9)
    # settled: a second tick of both sensors starts nothing
    assert run_privacy_requests(pg_home.instance, resources, cursor) == ([], [])
    assert not pg_home.warehouse.exists()


def test_an_erasure_on_postgres_removes_what_it_removes_on_duckdb(graphs, tmp_path):
    """GDPR erasure of one simulated person (storage/privacy.py) on both warehouses of the graph: the same rows
    found, the same places and counts removed, nothing of theirs found afterwards, and a second erasure a no-op.
    Last in the module: it changes both warehouses."""
    from datetime import datetime

    from analytics_assets.storage.privacy import Person, erase_person, find_person

    duck_home, pg_home, *_ = graphs
    with warehouse.connect(duck_home.warehouse, read_only=True) as con:
        (user_id,) = con.execute(TOP_USER).fetchone()
    person = Person(user_id, ("cycle-demo",))
    archive = tmp_path / "archive"  # nothing archived: the hot tables alone
    erasures, found = [], []
    with warehouse.connect(duck_home.warehouse) as duck, pg_home.warehouse_resource.connect() as pg:
        for con in (duck, pg):
            before = find_person(con, archive, person)
            found.append(before.counts())
            erasures.append(erase_person(con, archive, person, request_id="req-1", workspace_id="ws",
                                         requested_at=datetime(2026, 10, 15, 8, 0)))
            assert find_person(con, archive, person).counts() == {}
            again = erase_person(con, archive, person, request_id="req-2", workspace_id="ws",
                                 requested_at=datetime(2026, 10, 15, 9, 0))
            assert again.removed == {} and not again.tombstoned
    duck_erasure, pg_erasure = erasures
    assert found[0] == found[1] and sum(found[0].values()) > 0
    assert pg_erasure.removed == duck_erasure.removed and pg_erasure.removed
    assert (pg_erasure.journeys, pg_erasure.days, pg_erasure.tombstoned) == (
        duck_erasure.journeys, duck_erasure.days, duck_erasure.tombstoned
    )

