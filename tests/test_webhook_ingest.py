"""Webhook events flow one way: signed deliveries -> API store -> raw.raw_webhook_events. The sensor
asks for a load only when the store holds new events, and loading is idempotent."""

from __future__ import annotations

import hashlib
import hmac
import json

import dagster as dg
import duckdb
import pytest
from fastapi.testclient import TestClient

from analytics_assets.defs.ingest.webhooks import raw_webhook_events, webhook_events_sensor
from analytics_assets.defs.resources import WarehouseResource, WebhookStoreResource
from analytics_assets.storage.webhook_events import TABLE, ingest
from analytics_assets.contracts.inbound import WebhookStore

SECRET = "li-secret"
META_SECRET = "meta-secret"


def linkedin_delivery(*ids: int) -> dict:
    return {
        "type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS",
        "notifications": [
            {
                "notificationId": i,
                "organizationalEntity": "urn:li:organization:80001",
                "action": "COMMENT" if i % 2 else "LIKE",
                "sourcePost": f"urn:li:share:71000000000000{i:05d}",
                "lastModifiedAt": 1789012345000 + i,
            }
            for i in ids
        ],
    }


META = {
    "object": "instagram",
    "entry": [
        {
            "id": "17841400000000001",
            "time": 1789012345,
            "changes": [{"field": "comments", "value": {"id": "18000000000000001", "text": "wow", "media": {"id": "18100000000000009"}}}],
        }
    ],
}


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CYCLE_LINKEDIN_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("CYCLE_META_APP_SECRET", META_SECRET)
    from api.main import create_app

    store_path = tmp_path / "api" / "store.sqlite3"
    client = TestClient(create_app(tmp_path / "serving", webhook_store=store_path))
    resources = {
        "warehouse": WarehouseResource(path=str(tmp_path / "warehouse.duckdb"), memory_limit="512MB"),
        "webhook_store": WebhookStoreResource(path=str(store_path)),
    }
    return client, resources, dg.DagsterInstance.ephemeral(), tmp_path / "warehouse.duckdb", store_path


def send_linkedin(client, payload) -> dict:
    body = json.dumps(payload).encode()
    sig = hmac.new(SECRET.encode(), b"hmacsha256=" + body, hashlib.sha256).hexdigest()
    r = client.post("/webhooks/linkedin", content=body, headers={"X-LI-Signature": sig})
    assert r.status_code == 200, r.text
    return r.json()


def send_meta(client, payload) -> dict:
    body = json.dumps(payload).encode()
    sig = "sha256=" + hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
    r = client.post("/webhooks/meta", content=body, headers={"X-Hub-Signature-256": sig})
    assert r.status_code == 200, r.text
    return r.json()


def materialize(resources, instance):
    result = dg.materialize([raw_webhook_events], resources=resources, instance=instance)
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.passed, check.metadata
    return result.asset_materializations_for_node("raw_webhook_events")[0].metadata


def table(warehouse) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            f"select platform, event_id, object, field, action, account_id, post_id, entity_id, event_time, payload "
            f"from {TABLE} order by platform, event_id"
        ).fetchall()
    finally:
        con.close()


def evaluate(sensor_resources, instance):
    with dg.build_sensor_context(instance=instance, resources=sensor_resources) as context:
        return webhook_events_sensor(context)


def test_api_events_land_in_the_warehouse_once_and_reruns_change_nothing(env):
    client, resources, instance, warehouse, store_path = env
    send_linkedin(client, linkedin_delivery(1, 2, 3))
    send_meta(client, META)
    meta = materialize(resources, instance)
    assert meta["loaded_events"].value == 4 and meta["dagster/row_count"].value == 4
    assert meta["ingested_through_seq"].value == 4
    rows = table(warehouse)
    assert [(r[0], r[1]) for r in rows][:3] == [("linkedin", "1"), ("linkedin", "2"), ("linkedin", "3")]
    ig = rows[-1]
    assert ig[:8] == ("meta", ig[1], "instagram", "comments", None, "17841400000000001", "18100000000000009", "18000000000000001")
    assert ig[8] is not None  # event time from entry.time (the change carries none)
    assert json.loads(ig[9])["entry"][0]["changes"] == META["entry"][0]["changes"]  # the full event is kept
    store_rows = WebhookStore(store_path).read_after(0)
    assert sorted((r["platform"], r["event_id"]) for r in store_rows) == [(r[0], r[1]) for r in rows]

    # rerun: nothing new, nothing doubled
    again = materialize(resources, instance)
    assert again["loaded_events"].value == 0 and table(warehouse) == rows

    # a redelivery is stored once by the API, so it never reaches the warehouse twice either
    send_linkedin(client, linkedin_delivery(2, 3, 4))
    assert materialize(resources, instance)["loaded_events"].value == 1
    assert len(table(warehouse)) == 5


def test_a_replaced_store_is_loaded_again_and_upserted_by_event_id(env):
    client, resources, instance, warehouse, store_path = env
    send_linkedin(client, linkedin_delivery(1, 2))
    materialize(resources, instance)
    before = table(warehouse)
    # the store is recreated (new store_id, seq from 1 again) and receives the same and one new event
    for suffix in ("", "-wal", "-shm"):
        store_path.with_name(store_path.name + suffix).unlink(missing_ok=True)
    send_linkedin(client, linkedin_delivery(2, 9))
    meta = materialize(resources, instance)
    assert meta["loaded_events"].value == 2
    after = table(warehouse)
    assert [r[1] for r in after] == ["1", "2", "9"]
    assert after[:2] == before  # the event seen twice is one row with the same content


def test_ingest_in_batches_stops_at_the_store_high_water_mark(env):
    client, resources, _, warehouse, store_path = env
    send_linkedin(client, linkedin_delivery(*range(1, 8)))
    store = WebhookStore(store_path)
    con = duckdb.connect(str(warehouse))
    try:
        loaded, cursor, per_platform, store_id = ingest(con, store, batch_rows=3)
        assert (loaded, cursor, dict(per_platform)) == (7, 7, {"linkedin": 7})
        assert store_id == store.state().store_id
        assert ingest(con, store, batch_rows=3)[0] == 0
        assert con.execute(f"select count(*), count(distinct event_id) from {TABLE}").fetchone() == (7, 7)
    finally:
        con.close()


def test_sensor_fires_only_when_the_store_has_events_past_the_last_load(env):
    client, resources, instance, _, _ = env
    sensor_resources = {"webhook_store": resources["webhook_store"]}

    first = evaluate(sensor_resources, instance)
    assert isinstance(first, dg.SkipReason) and "No webhook events" in first.skip_message

    send_linkedin(client, linkedin_delivery(1, 2))
    request = evaluate(sensor_resources, instance)
    assert isinstance(request, dg.RunRequest) and request.run_key.endswith("-2")
    assert evaluate(sensor_resources, instance).run_key == request.run_key  # same state, same (deduplicated) key

    materialize(resources, instance)
    assert isinstance(evaluate(sensor_resources, instance), dg.SkipReason)

    send_linkedin(client, linkedin_delivery(1))  # a redelivery adds no event
    assert isinstance(evaluate(sensor_resources, instance), dg.SkipReason)

    send_linkedin(client, linkedin_delivery(3))
    new = evaluate(sensor_resources, instance)
    hwm = WebhookStore(resources["webhook_store"].path).state().high_water_mark
    assert isinstance(new, dg.RunRequest) and new.run_key != request.run_key
    assert new.run_key.endswith(f"-{hwm}") and new.tags["cycle/store_seq"] == str(hwm)
