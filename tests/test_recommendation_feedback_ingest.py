"""Decisions on recommendations flow one way: the API's store (recommendation_feedback) -> the sensor's request ->
raw.raw_recommendation_feedback -> stg_recommendation_feedback. Loading is idempotent on (store_id, store_seq), a
replaced store is loaded from its start beside the old rows, the sensor asks for a load only when the store holds
decisions past the last one, and the staging model keeps each recommendation's first decision (and builds, empty,
before any decision was ever loaded)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import dagster as dg
import duckdb
import pytest

from analytics_assets.contracts.inbound import AuditRecord, AuditStore, FeedbackRecord, FeedbackStore
from analytics_assets.contracts.recommendations import FEEDBACK_COLUMNS
from analytics_assets.defs.ingest.recommendation_feedback import (
    raw_recommendation_feedback,
    recommendation_feedback_sensor,
)
from analytics_assets.defs.transform.dbt import DBT_PROJECT_DIR
from analytics_assets.storage.recommendation_feedback import TABLE, ingest

from inbound_copy_testing import evaluate_sensor, inbound_env, materialize_copy

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def decision(i: int, which: str = "apply", rec: str | None = None) -> FeedbackRecord:
    return FeedbackRecord(
        feedback_id=f"fb_{i:032x}",
        recommendation_id=rec or f"rec_{i:024x}",
        decision=which,
        received_at=T0 + timedelta(minutes=i),
        platform="linkedin",
        account_id="urn:li:organization:1001",
        workspace_id="acme",
        key_id="0123456789ab",
        reason=f"reason {i} – with ünïcode" if which == "dismiss" else None,
        applied_post_id=f"post-{i}" if which == "apply" else None,
        applied_details='{"spend_usd":120.5}' if which == "apply" else None,
    )


@pytest.fixture
def env(tmp_path, monkeypatch):
    return inbound_env(tmp_path, monkeypatch)


def materialize(resources, instance) -> dict:
    return materialize_copy(raw_recommendation_feedback, resources, instance)


def evaluate(resources, instance):
    return evaluate_sensor(recommendation_feedback_sensor, resources, instance)


def table(warehouse) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            f"select {', '.join(c for c in FEEDBACK_COLUMNS if c != 'loaded_at')} from {TABLE} "
            "order by received_at, store_id, store_seq"
        ).fetchall()
    finally:
        con.close()


def replace_store(path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def test_store_to_sensor_to_raw_table_once_and_the_sensor_then_skips(env):
    resources, instance, warehouse, store_path = env
    first = evaluate(resources, instance)
    assert isinstance(first, dg.SkipReason) and "No recommendation decisions" in first.skip_message

    store = FeedbackStore(store_path)
    assert store.record(decision(1))[1] and store.record(decision(2, "dismiss"))[1]
    assert not store.record(decision(3, "dismiss", rec=decision(1).recommendation_id))[1]  # the first one stays
    request = evaluate(resources, instance)
    store_id = store.state().store_id
    assert isinstance(request, dg.RunRequest) and request.run_key == f"recommendation-feedback-{store_id}-2"
    assert request.tags == {"cycle/trigger": "recommendation_feedback", "cycle/store_seq": "2"}
    assert evaluate(resources, instance).run_key == request.run_key  # one request per high-water mark

    meta = materialize(resources, instance)
    assert meta["loaded_decisions"].value == 2 and meta["dagster/row_count"].value == 2
    assert meta["ingested_through_seq"].value == 2 and meta["store_id"].value == store_id
    assert meta["loaded_by_decision"].value == {"apply": 1, "dismiss": 1}
    rows = table(warehouse)
    assert rows == [
        (f"fb_{1:032x}", f"rec_{1:024x}", "apply", None, "post-1", '{"spend_usd":120.5}', "linkedin",
         "urn:li:organization:1001", "acme", "0123456789ab", datetime(2026, 3, 1, 9, 1), store_id, 1),
        (f"fb_{2:032x}", f"rec_{2:024x}", "dismiss", "reason 2 – with ünïcode", None, None, "linkedin",
         "urn:li:organization:1001", "acme", "0123456789ab", datetime(2026, 3, 1, 9, 2), store_id, 2),
    ]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert [c[0] for c in con.execute(f"describe {TABLE}").fetchall()] == list(FEEDBACK_COLUMNS)
    finally:
        con.close()
    assert isinstance(evaluate(resources, instance), dg.SkipReason)  # everything is loaded

    # a rerun loads nothing twice
    again = materialize(resources, instance)
    assert again["loaded_decisions"].value == 0 and table(warehouse) == rows
    assert isinstance(evaluate(resources, instance), dg.SkipReason)

    # audit records in the same file are not decisions
    AuditStore(store_path).append([AuditRecord(T0, "POST", "/v1/recommendations/{recommendation_id}/apply", 201, 10, 1.0)])
    assert isinstance(evaluate(resources, instance), dg.SkipReason)

    store.record(decision(4))
    assert evaluate(resources, instance).run_key.endswith("-3")
    assert materialize(resources, instance)["loaded_decisions"].value == 1
    assert [r[-1] for r in table(warehouse)] == [1, 2, 3]


def test_a_replaced_store_is_loaded_from_its_start_beside_the_old_rows(env):
    resources, instance, warehouse, store_path = env
    FeedbackStore(store_path).record(decision(1))
    materialize(resources, instance)
    before = table(warehouse)

    replace_store(store_path)  # a new store_id, seq from 1 again, and the same recommendation decided anew
    new = FeedbackStore(store_path)
    new.record(decision(5, "dismiss", rec=decision(1).recommendation_id))
    replaced = evaluate(resources, instance)  # seq 1 of a new store is new, though not above the old cursor
    assert isinstance(replaced, dg.RunRequest) and replaced.run_key == f"recommendation-feedback-{new.state().store_id}-1"
    meta = materialize(resources, instance)
    assert meta["loaded_decisions"].value == 1 and meta["dagster/row_count"].value == 2
    after = table(warehouse)
    assert after[0] == before[0] and (after[1][11], after[1][12]) == (new.state().store_id, 1)
    assert materialize(resources, instance)["loaded_decisions"].value == 0 and table(warehouse) == after


def test_ingest_in_batches(env):
    _, _, warehouse, store_path = env
    store = FeedbackStore(store_path)
    for i in range(1, 8):
        store.record(decision(i, ("apply", "dismiss")[i % 2]))
    con = duckdb.connect(str(warehouse))
    try:
        copy = ingest(con, store, batch_rows=3)
        assert (copy.loaded, copy.cursor, dict(copy.loaded_by)) == (7, 7, {"apply": 3, "dismiss": 4})
        assert ingest(con, store, batch_rows=3).loaded == 0
        assert con.execute(f"select count(*), count(distinct store_seq) from {TABLE}").fetchone() == (7, 7)
    finally:
        con.close()


def test_a_store_from_before_the_feedback_table_has_nothing_to_load_until_the_first_decision(env):
    """A store written before recommendation_feedback existed reads as empty, not as an error; the first decision
    creates the table in the same file, under the same store id."""
    resources, instance, _, store_path = env
    store_path.parent.mkdir(parents=True)
    con = sqlite3.connect(store_path)
    con.executescript(
        "create table store_info (key text primary key, value text not null);"
        "insert into store_info values ('store_id', 'old');"
        "create table webhook_events (seq integer primary key autoincrement, platform text);"
    )
    con.close()
    store = FeedbackStore(store_path)
    assert store.state() is None and store.read_after(0) == [] and store.decisions([f"rec_{1:024x}"]) == {}
    assert isinstance(evaluate(resources, instance), dg.SkipReason)
    assert materialize(resources, instance)["loaded_decisions"].value == 0
    assert store.record(decision(1))[1] and store.state().store_id == "old"
    assert store.decision(f"rec_{1:024x}") == replace(decision(1), seq=1)
    assert materialize(resources, instance)["loaded_decisions"].value == 1


def test_the_copy_is_defined_with_its_sensor_and_left_out_of_the_pipeline_jobs():
    from analytics_assets.definitions import defs

    key = dg.AssetKey("raw_recommendation_feedback")
    sensor = defs.resolve_sensor_def("recommendation_feedback_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING and sensor.job_name == "recommendation_feedback_job"
    assert key in defs.resolve_job_def("recommendation_feedback_job").asset_layer.selected_asset_keys
    for job in ("full_pipeline_job", "daily_pipeline_job"):  # its sensor runs it, not once more per partition
        assert key not in defs.resolve_job_def(job).asset_layer.selected_asset_keys


def dbt_build(warehouse, target, manifest) -> dict[str, str]:
    """``dbt build`` of stg_recommendation_feedback and its data tests against ``warehouse``; the status of each
    node by name."""
    from dbt.cli.main import dbtRunner

    from test_warehouse_incremental import _release_duckdb

    base = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target),
            "--log-path", str(target / "logs"), "--quiet"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CYCLE_WAREHOUSE_PATH", str(warehouse))
        try:
            result = dbtRunner(manifest=manifest).invoke(["build", *base, "--select", "stg_recommendation_feedback"])
        finally:
            _release_duckdb()
    statuses = {r.node.name: str(r.status) for r in (result.result or [])}
    assert result.success, (result.exception, statuses)
    return statuses


@pytest.mark.slow
def test_staging_keeps_the_first_decision_of_each_recommendation_and_builds_before_any_is_loaded(env, tmp_path):
    from dbt.cli.main import dbtRunner

    resources, instance, warehouse, store_path = env
    target = tmp_path / "dbt_target"
    with pytest.MonkeyPatch.context() as patch:  # the manifest names the database after the file: warehouse
        patch.setenv("CYCLE_WAREHOUSE_PATH", str(tmp_path / "parse" / warehouse.name))
        parsed = dbtRunner().invoke(["parse", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
                                     str(DBT_PROJECT_DIR), "--target-path", str(target), "--quiet"])
    assert parsed.success, parsed.exception

    # no decision loaded yet, so no raw table: the model is empty, and its tests pass
    empty = tmp_path / "empty" / warehouse.name
    empty.parent.mkdir()
    statuses = dbt_build(empty, target, parsed.result)
    assert statuses["stg_recommendation_feedback"] == "success"
    assert sum(s == "pass" for s in statuses.values()) >= 8  # the data tests ran on it
    with duckdb.connect(str(empty), read_only=True) as con:
        assert con.execute("select count(*) from main.stg_recommendation_feedback").fetchone() == (0,)

    # decisions in two stores: the replaced store's decision on rec 1 came later, the one on rec 2 at the same
    # time as the old store's (which was loaded first): neither is the first
    store = FeedbackStore(store_path)
    store.record(decision(1))
    store.record(decision(2, "dismiss"))
    materialize(resources, instance)
    replace_store(store_path)
    FeedbackStore(store_path).record(decision(3, "dismiss", rec=decision(1).recommendation_id))
    FeedbackStore(store_path).record(replace(decision(2, "apply"), feedback_id="fb_" + "e" * 32))
    FeedbackStore(store_path).record(decision(4))
    materialize(resources, instance)

    statuses = dbt_build(warehouse, target, parsed.result)
    assert statuses["stg_recommendation_feedback"] == "success"
    assert sum(s == "pass" for s in statuses.values()) >= 8
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select recommendation_id, feedback_id, decision, status, reason, decisions_stored "
            "from main.stg_recommendation_feedback order by recommendation_id"
        ).fetchall()
    assert rows == [
        (f"rec_{1:024x}", f"fb_{1:032x}", "apply", "applied", None, 2),
        (f"rec_{2:024x}", f"fb_{2:032x}", "dismiss", "dismissed", "reason 2 – with ünïcode", 2),
        (f"rec_{4:024x}", f"fb_{4:032x}", "apply", "applied", None, 1),
    ]
