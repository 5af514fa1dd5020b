"""API audit records flow one way: API store (api_audit) -> raw.raw_api_audit. Loading is idempotent on
(store_id, store_seq), a replaced store is loaded from its start beside the old rows, and the sensor asks
for a load only when the store holds records past the last one."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import dagster as dg
import duckdb
import pytest

from analytics_assets.contracts.inbound import AuditRecord, AuditStore, WebhookEvent, WebhookStore
from analytics_assets.contracts.raw import API_AUDIT_COLUMNS
from analytics_assets.defs.ingest.api_audit import api_audit_sensor, raw_api_audit
from analytics_assets.storage.api_audit import TABLE, ingest

from inbound_copy_testing import evaluate_sensor, inbound_env, materialize_copy

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def record(i: int, status: int | None = 200, key: str | None = "0123456789ab") -> AuditRecord:
    return AuditRecord(
        requested_at=T0 + timedelta(seconds=i),
        method="GET",
        route="/v1/campaigns/{campaign_id}" if status != 404 else None,
        status=status,
        response_bytes=100 + i,
        duration_ms=1.5 * i,
        client_addr="10.0.0.1",
        key_id=key,
        workspace_id="acme" if key else None,
    )


@pytest.fixture
def env(tmp_path, monkeypatch):
    return inbound_env(tmp_path, monkeypatch)


def materialize(resources, instance) -> dict:
    return materialize_copy(raw_api_audit, resources, instance)


def evaluate(resources, instance):
    return evaluate_sensor(api_audit_sensor, resources, instance)


def table(warehouse) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            f"select store_id, store_seq, requested_at, key_id, workspace_id, method, route, status, "
            f"response_bytes, duration_ms, client_addr from {TABLE} order by requested_at, store_id, store_seq"
        ).fetchall()
    finally:
        con.close()


def replace_store(path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def test_records_land_once_and_reruns_change_nothing(env):
    resources, instance, warehouse, store_path = env
    store = AuditStore(store_path)
    assert store.append([record(1), record(2, status=401, key=None), record(3, status=404, key=None)]) == 3
    meta = materialize(resources, instance)
    assert meta["loaded_records"].value == 3 and meta["dagster/row_count"].value == 3
    assert meta["ingested_through_seq"].value == 3
    assert meta["loaded_by_status"].value == {"200": 1, "401": 1, "404": 1}
    store_id = store.state().store_id
    assert meta["store_id"].value == store_id

    rows = table(warehouse)
    assert rows[0] == (
        store_id, 1, datetime(2026, 3, 1, 9, 0, 1), "0123456789ab", "acme", "GET", "/v1/campaigns/{campaign_id}",
        200, 101, 1.5, "10.0.0.1",
    )
    assert [(r[1], r[3], r[6], r[7]) for r in rows[1:]] == [(2, None, "/v1/campaigns/{campaign_id}", 401), (3, None, None, 404)]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert [c[0] for c in con.execute(f"describe {TABLE}").fetchall()] == list(API_AUDIT_COLUMNS)
    finally:
        con.close()

    again = materialize(resources, instance)
    assert again["loaded_records"].value == 0 and table(warehouse) == rows

    store.append([record(4, status=None)])  # a request whose client went away: no status
    assert materialize(resources, instance)["loaded_records"].value == 1
    assert [r[7] for r in table(warehouse)] == [200, 401, 404, None]


def test_a_replaced_store_is_loaded_from_its_start_and_the_old_rows_are_kept(env):
    resources, instance, warehouse, store_path = env
    AuditStore(store_path).append([record(1), record(2)])
    materialize(resources, instance)
    before = table(warehouse)

    replace_store(store_path)  # new store_id, seq from 1 again
    new = AuditStore(store_path)
    new.append([record(3), record(4), record(5)])
    meta = materialize(resources, instance)
    assert meta["loaded_records"].value == 3 and meta["dagster/row_count"].value == 5
    after = table(warehouse)
    assert after[:2] == before
    assert [(r[0], r[1]) for r in after[2:]] == [(new.state().store_id, s) for s in (1, 2, 3)]
    assert materialize(resources, instance)["loaded_records"].value == 0 and table(warehouse) == after


def test_ingest_in_batches_and_webhook_events_in_the_same_file_stay_apart(env):
    _, _, warehouse, store_path = env
    WebhookStore(store_path).append(
        [WebhookEvent(platform="linkedin", event_id="e1", payload={"a": 1})], delivery_id="d1"
    )
    AuditStore(store_path).append([record(i) for i in range(1, 8)])
    con = duckdb.connect(str(warehouse))
    try:
        copy = ingest(con, AuditStore(store_path), batch_rows=3)
        assert (copy.loaded, copy.cursor, dict(copy.loaded_by)) == (7, 7, {"200": 7})
        assert ingest(con, AuditStore(store_path), batch_rows=3).loaded == 0
        assert con.execute(f"select count(*), count(distinct store_seq) from {TABLE}").fetchone() == (7, 7)
    finally:
        con.close()
    assert WebhookStore(store_path).state().high_water_mark == 1


def test_a_store_without_the_audit_table_has_nothing_to_load(env):
    """A store written before api_audit existed (only webhook_events) reads as empty, not as an error."""
    resources, instance, warehouse, store_path = env
    store_path.parent.mkdir(parents=True)
    con = sqlite3.connect(store_path)
    con.executescript(
        "create table store_info (key text primary key, value text not null);"
        "insert into store_info values ('store_id', 'old');"
        "create table webhook_events (seq integer primary key autoincrement, platform text);"
    )
    con.close()
    assert AuditStore(store_path).state() is None and AuditStore(store_path).read_after(0) == []
    assert materialize(resources, instance)["loaded_records"].value == 0
    # the first append creates the table in the same file, under the same store id
    AuditStore(store_path).append([record(1)])
    assert AuditStore(store_path).state().store_id == "old"
    assert materialize(resources, instance)["loaded_records"].value == 1


def evaluate(resources, instance):
    with dg.build_sensor_context(instance=instance, resources={"webhook_store": resources["webhook_store"]}) as context:
        return api_audit_sensor(context)


def test_sensor_fires_only_when_the_store_has_records_past_the_last_load(env):
    resources, instance, _, store_path = env
    first = evaluate(resources, instance)
    assert isinstance(first, dg.SkipReason) and "No API audit records" in first.skip_message

    store = AuditStore(store_path)
    store.append([record(1), record(2)])
    request = evaluate(resources, instance)
    assert isinstance(request, dg.RunRequest) and request.run_key == f"api-audit-{store.state().store_id}-2"
    assert request.tags == {"cycle/trigger": "api_audit", "cycle/store_seq": "2"}
    assert evaluate(resources, instance).run_key == request.run_key

    materialize(resources, instance)
    assert isinstance(evaluate(resources, instance), dg.SkipReason)

    # webhook events in the same file are not audit records
    WebhookStore(store_path).append([WebhookEvent(platform="meta", event_id="m1", payload={})], delivery_id="d")
    assert isinstance(evaluate(resources, instance), dg.SkipReason)

    store.append([record(3)])
    assert evaluate(resources, instance).run_key.endswith("-3")

    replace_store(store_path)
    AuditStore(store_path).append([record(4)])
    replaced = evaluate(resources, instance)  # seq 1 of a new store is new, though below the old cursor
    assert isinstance(replaced, dg.RunRequest) and replaced.run_key == f"api-audit-{AuditStore(store_path).state().store_id}-1"
