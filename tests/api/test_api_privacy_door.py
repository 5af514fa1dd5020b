"""Erased people stay erased at the API's door: once an erasure of a person is taken (and after it is carried
out), a webhook event, a tracked event or a decision's words naming their pseudonymous user id are not stored in
the API's store. The sender is answered 2xx (webhook senders retry anything else, and a retry would only be
discarded again) with the count discarded; the discard is recorded in the store's ``privacy_discards`` (the
erasure's request id, never the user id); everyone else's events in the same delivery or batch are stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from analytics_assets.contracts.inbound import (
    FeedbackRecord,
    FeedbackStore,
    PrivacyRequestStore,
    TrackedEventStore,
    WebhookEvent,
    WebhookStore,
)
from analytics_assets.contracts.privacy import DONE
from api.main import create_app
from api_serving_data import NOW, make_registry, publish

META_SECRET = "meta-app-secret-for-door-tests"
ERASED, KEPT = "anon-erased-7", "anon-kept-7"
DAY = "2025-03-04"


def meta_delivery(*visitors: str) -> bytes:
    changes = [{"field": "leadgen", "value": {"item": "lead", "verb": "add", "post_id": "104_1", "visitor": v,
                                              "created_time": 1741080000 + i}}
               for i, v in enumerate(visitors)]
    return json.dumps({"object": "page", "entry": [{"id": "104", "time": 1741080000, "changes": changes}]}).encode()


def signed(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()}


def touch(event_id: str, user: str, journey: str = "j-1") -> dict:
    return {"type": "touchpoint", "event_id": event_id, "timestamp": f"{DAY}T10:00:00Z", "property_id": "acme-site",
            "journey_id": journey, "user_id": user, "utm_source": "linkedin", "utm_medium": "social"}


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CYCLE_META_APP_SECRET", META_SECRET)
    publish(tmp_path / "serving")
    token = make_registry(tmp_path / "access.sqlite3", scopes=("read", "ingest"))["default"]
    store = tmp_path / "inbound.sqlite3"
    app = create_app(tmp_path / "serving", webhook_store=store, access_store=tmp_path / "access.sqlite3",
                     rate_limit="100000/minute", clock=lambda: NOW)
    return TestClient(app, headers={"Authorization": f"Bearer {token}"}), store


def erase(store, user: str = ERASED, *, done: bool = True) -> str:
    """An erasure of ``user`` taken by the API's store and, with ``done``, carried out as the job does it in the
    store (its rows there removed, its user id redacted to the warehouse's salted hash)."""
    requests = PrivacyRequestStore(store)
    request = requests.submit("erasure", user, ["acme-site"], workspace_id="default")
    if done:
        requests.erase_naming(user, request.request_id)
        requests.mark(request.request_id, DONE, {"rows_total": 0}, redact_user_as="f" * 64)
    return request.request_id


def mentions(store, needle: str) -> dict[str, int]:
    con = sqlite3.connect(store)
    try:
        found = {}
        for (table,) in con.execute("select name from sqlite_master where type = 'table'"):
            n = sum(1 for row in con.execute(f"select * from {table}") if any(isinstance(v, str) and needle in v for v in row))
            if n:
                found[table] = n
        return found
    finally:
        con.close()


def discards(store) -> list[dict]:
    con = sqlite3.connect(store)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("select * from privacy_discards order by seq")]
    finally:
        con.close()


def test_a_webhook_naming_an_erased_person_is_discarded_with_a_2xx(env):
    client, store = env
    request_id = erase(store)
    body = meta_delivery(ERASED, KEPT)
    response = client.post("/webhooks/meta", content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    assert response.json() == {"platform": "meta", "received": 2, "stored": 1, "duplicates": 0, "discarded": 1}
    assert mentions(store, ERASED) == {}  # nothing of theirs, anywhere in the store
    visitors = [json.loads(r["payload"])["entry"][0]["changes"][0]["value"]["visitor"] for r in WebhookStore(store).read_after(0)]
    assert visitors == [KEPT]
    (audit,) = discards(store)
    assert audit["source"] == "webhook_events" and audit["items"] == 1 and audit["request_id"] == request_id
    # the platform retries the same delivery: discarded again, nothing stored, still 2xx
    again = client.post("/webhooks/meta", content=body, headers=signed(body))
    assert again.status_code == 200 and again.json()["discarded"] == 1 and again.json()["stored"] == 0
    assert mentions(store, ERASED) == {}


def test_tracked_events_of_an_erased_person_are_discarded_the_others_stored(env):
    client, store = env
    request_id = erase(store)
    batch = [touch("tp-erased", ERASED), touch("tp-kept", KEPT, journey="j-2")]
    response = client.post("/v1/events", json=batch)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"], body["discarded"]) == (1, 0, 0, 1)
    assert [r["event_id"] for r in TrackedEventStore(store).read_after(0)] == ["tp-kept"]
    assert mentions(store, ERASED) == {}
    assert discards(store)[-1] | {"seq": None, "at": None} == {
        "seq": None, "at": None, "source": "tracked_events", "request_id": request_id, "items": 1,
        "workspace_id": "default", "key_id": discards(store)[-1]["key_id"],
    }
    # a batch of only their events is still a 200: the events were valid, the sender must not retry them
    alone = client.post("/v1/events", json=[touch("tp-erased-2", ERASED)])
    assert alone.status_code == 200 and alone.json()["discarded"] == 1 and alone.json()["accepted"] == 0


def test_payloads_are_refused_from_the_moment_the_erasure_is_taken(env):
    """Before the job runs too: what arrives meanwhile would only be erased by it (or, arriving after its store
    step, outlive it)."""
    client, store = env
    erase(store, done=False)
    body = meta_delivery(ERASED)
    assert client.post("/webhooks/meta", content=body, headers=signed(body)).json()["discarded"] == 1
    assert client.post("/v1/events", json=[touch("tp-e", ERASED)]).json()["discarded"] == 1
    assert WebhookStore(store).read_after(0) == [] and TrackedEventStore(store).read_after(0) == []


def test_only_the_whole_id_is_matched(env):
    """A longer id that holds the erased one as a prefix, or one differing in case, is someone else."""
    client, store = env
    erase(store)
    body = meta_delivery(ERASED + "0", ERASED.upper(), "x" + ERASED)
    assert client.post("/webhooks/meta", content=body, headers=signed(body)).json()["stored"] == 3
    assert discards(store) == []


def test_a_decision_naming_an_erased_person_keeps_the_decision_without_their_id(tmp_path):
    store = tmp_path / "inbound.sqlite3"
    request_id = erase(store)
    feedback = FeedbackStore(store)
    stored, created = feedback.record(FeedbackRecord(
        feedback_id="fb_" + "2" * 32, recommendation_id="rec_" + "b" * 24, decision="dismiss",
        received_at=datetime.now(timezone.utc), workspace_id="default",
        reason=f"customer {ERASED} asked us to stop; {KEPT} did not",
        applied_details=json.dumps({"visitor": ERASED}),
    ))
    assert created and stored.decision == "dismiss"
    assert stored.reason == f"customer [erased] asked us to stop; {KEPT} did not"
    assert json.loads(stored.applied_details) == {"visitor": "[erased]"}
    assert mentions(store, ERASED) == {}
    (audit,) = discards(store)
    assert (audit["source"], audit["items"], audit["request_id"]) == ("recommendation_feedback", 1, request_id)


def test_the_store_keeps_no_id_in_clear_for_its_door(tmp_path):
    """What the door consults is a salted hash per erased person (the salt is the store's own), and the check
    stands in the stores themselves, so no writer can bypass it."""
    store = tmp_path / "inbound.sqlite3"
    erase(store)
    assert mentions(store, ERASED) == {}
    con = sqlite3.connect(store)
    try:
        (hashes,) = con.execute("select count(*) from privacy_erased_subjects").fetchone()
    finally:
        con.close()
    assert hashes == 1
    result = WebhookStore(store).append([WebhookEvent("meta", "e1", {"visitor": ERASED})], delivery_id="d")
    assert (result.stored, result.discarded, result.duplicates) == (0, 1, 0)
    # erasing the same person again remembers them once
    erase(store)
    con = sqlite3.connect(store)
    try:
        assert con.execute("select count(*) from privacy_erased_subjects").fetchone() == (1,)
    finally:
        con.close()
