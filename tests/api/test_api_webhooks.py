"""Webhook receivers: signatures are verified in constant time before anything is parsed or stored,
bad or missing signatures get 401 and leave the store untouched, redeliveries are stored once."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from analytics_assets.contracts.inbound import WebhookStore
from api_serving_data import stored_webhook_events

META_SECRET = "meta-app-secret-for-tests"
META_VERIFY = "verify-me-please"
LI_SECRET = "linkedin-client-secret-for-tests"

# A Page feed delivery as Meta documents it: two changes in one entry.
META_DELIVERY = {
    "object": "page",
    "entry": [
        {
            "id": "104123456789",
            "time": 1789012345,
            "changes": [
                {
                    "field": "feed",
                    "value": {
                        "item": "comment",
                        "verb": "add",
                        "post_id": "104123456789_555",
                        "comment_id": "555_777",
                        "created_time": 1789012300,
                        "message": "Love this",
                        "from": {"id": "9001", "name": "A Fan"},
                    },
                },
                {
                    "field": "feed",
                    "value": {"item": "reaction", "verb": "add", "post_id": "104123456789_555", "reaction_type": "like"},
                },
            ],
        }
    ],
}

# An organization social action notification delivery (two notifications).
LINKEDIN_DELIVERY = {
    "type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS",
    "notifications": [
        {
            "notificationId": 80421,
            "organizationalEntity": "urn:li:organization:80001",
            "action": "COMMENT",
            "sourcePost": "urn:li:share:7100000000000000001",
            "generatedActivity": "urn:li:comment:(urn:li:activity:7100000000000000001,7100000000000000099)",
            "lastModifiedAt": 1789012345678,
        },
        {
            "notificationId": 80422,
            "organizationalEntity": "urn:li:organization:80001",
            "action": "LIKE",
            "sourcePost": "urn:li:share:7100000000000000001",
            "lastModifiedAt": 1789012349000,
        },
    ],
}


def utc_iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


def _body(payload) -> bytes:
    return json.dumps(payload).encode()


def meta_sig(body: bytes, secret: str = META_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def li_sig(body: bytes, secret: str = LI_SECRET) -> str:
    return hmac.new(secret.encode(), b"hmacsha256=" + body, hashlib.sha256).hexdigest()


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "api" / "store.sqlite3"


@pytest.fixture
def client(monkeypatch, tmp_path, store_path):
    monkeypatch.setenv("CYCLE_META_APP_SECRET", META_SECRET)
    monkeypatch.setenv("CYCLE_META_VERIFY_TOKEN", META_VERIFY)
    monkeypatch.setenv("CYCLE_LINKEDIN_CLIENT_SECRET", LI_SECRET)
    from api.main import create_app

    return TestClient(create_app(tmp_path / "serving", webhook_store=store_path))


def stored(store_path) -> list[dict]:
    return WebhookStore(store_path).read_after(0)


def post_meta(client, body: bytes, signature: str | bytes | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post("/webhooks/meta", content=body, headers=headers)


def post_li(client, body: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-LI-Signature"] = signature
    return client.post("/webhooks/linkedin", content=body, headers=headers)


# -- Meta -------------------------------------------------------------------------------------------


def test_meta_signed_delivery_is_stored_one_event_per_change(client, store_path):
    body = _body(META_DELIVERY)
    r = post_meta(client, body, meta_sig(body))
    assert r.status_code == 200, r.text
    assert r.json() == {"platform": "meta", "received": 2, "stored": 2, "duplicates": 0}
    rows = stored(store_path)
    assert [(e["platform"], e["object"], e["field"], e["action"]) for e in rows] == [
        ("meta", "page", "feed", "add"),
        ("meta", "page", "feed", "add"),
    ]
    comment = rows[0]
    assert comment["account_id"] == "104123456789"
    assert comment["post_id"] == "104123456789_555"
    assert comment["entity_id"] == "555_777"
    assert comment["event_time"] == utc_iso(1789012300)  # value.created_time, not entry.time
    assert comment["delivery_id"] == hashlib.sha256(body).hexdigest()
    # each stored payload is itself a delivery in Meta's shape holding just that change
    payload = json.loads(comment["payload"])
    assert payload["object"] == "page"
    assert payload["entry"][0]["changes"] == [META_DELIVERY["entry"][0]["changes"][0]]
    assert rows[0]["event_id"] != rows[1]["event_id"]


@pytest.mark.parametrize(
    "signature",
    [
        None,  # unsigned
        "",  # empty header
        "sha256=",  # scheme without a digest
        "sha256=" + "0" * 64,  # well-formed, wrong
        meta_sig(b"{}"),  # a valid signature of another body
        meta_sig(_body(META_DELIVERY), secret="not-the-app-secret"),  # forged with another secret
        "sha1=" + hmac.new(META_SECRET.encode(), _body(META_DELIVERY), hashlib.sha1).hexdigest(),  # legacy scheme
        meta_sig(_body(META_DELIVERY))[len("sha256="):],  # digest without the scheme
        "sha256=\u00e9\u00e9".encode("latin-1"),  # not even ASCII
    ],
)
def test_meta_bad_or_missing_signature_is_401_and_stores_nothing(client, store_path, signature):
    body = _body(META_DELIVERY)
    r = post_meta(client, body, signature)
    assert r.status_code == 401, r.text
    assert "X-Hub-Signature-256" in r.json()["detail"]
    assert stored_webhook_events(store_path) == 0  # nothing stored (the file may hold the audit record)


def test_meta_tampered_body_is_rejected_and_the_store_is_unchanged(client, store_path):
    body = _body(META_DELIVERY)
    assert post_meta(client, body, meta_sig(body)).status_code == 200
    before = stored(store_path)
    tampered = body.replace(b"Love this", b"Hate this")
    r = post_meta(client, tampered, meta_sig(body))
    assert r.status_code == 401
    assert stored(store_path) == before


def test_signatures_are_compared_in_constant_time(client, monkeypatch, store_path):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    body = _body(META_DELIVERY)
    assert post_meta(client, body, meta_sig(body)).status_code == 200
    assert post_meta(client, body, "sha256=" + "f" * 64).status_code == 401
    li_body = _body(LINKEDIN_DELIVERY)
    assert post_li(client, li_body, li_sig(li_body)).status_code == 200
    assert post_li(client, li_body, "0" * 64).status_code == 401
    expected = [meta_sig(body)[7:], meta_sig(body)[7:], li_sig(li_body), li_sig(li_body)]
    assert [a.decode() for a, _ in calls] == expected


def test_meta_redelivery_is_stored_once(client, store_path):
    body = _body(META_DELIVERY)
    assert post_meta(client, body, meta_sig(body)).json()["stored"] == 2
    again = post_meta(client, body, meta_sig(body))
    assert again.status_code == 200  # the platform must see success or it retries forever
    assert again.json() == {"platform": "meta", "received": 2, "stored": 0, "duplicates": 2}
    # a retry re-batches: one change alone, sent at another time -> still the same event
    entry = dict(META_DELIVERY["entry"][0], time=1789019999, changes=META_DELIVERY["entry"][0]["changes"][1:])
    rebatched = _body({"object": "page", "entry": [entry]})
    assert post_meta(client, rebatched, meta_sig(rebatched)).json()["duplicates"] == 1
    assert len(stored(store_path)) == 2


def test_meta_signed_but_unparsable_body_is_rejected_with_a_clear_error(client, store_path):
    for body, status, fragment in [
        (b"not json at all", 400, "not valid JSON"),
        (b"\xff\xfe\x00", 400, "not valid JSON"),
        (b"[1, 2]", 422, "JSON object"),
        (_body({"entry": []}), 422, "'object'"),
        (_body({"object": "page", "entry": [{"time": 1}]}), 422, "entry[0]"),
        (_body({"object": "page", "entry": [{"id": "1", "changes": [{"value": {}}]}]}), 422, "'field'"),
    ]:
        r = post_meta(client, body, meta_sig(body))
        assert r.status_code == status, (body, r.text)
        assert fragment in r.json()["detail"]
    assert stored_webhook_events(store_path) == 0


def test_oversized_body_is_refused_before_it_is_read(client, store_path):
    body = b'{"object": "page", "entry": [], "pad": "' + b"x" * (1 << 20) + b'"}'
    assert post_meta(client, body, meta_sig(body)).status_code == 413
    assert stored_webhook_events(store_path) == 0


def test_meta_verification_handshake(client):
    ok = client.get(
        "/webhooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": META_VERIFY, "hub.challenge": "1158201444"}
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = client.get(
        "/webhooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}
    )
    assert wrong.status_code == 403
    bad_mode = client.get(
        "/webhooks/meta", params={"hub.mode": "unsubscribe", "hub.verify_token": META_VERIFY, "hub.challenge": "1"}
    )
    assert bad_mode.status_code == 403
    assert client.get("/webhooks/meta", params={"hub.mode": "subscribe"}).status_code == 422


def test_unconfigured_secrets_answer_503_and_never_accept_data(monkeypatch, tmp_path, store_path):
    for name in ("CYCLE_META_APP_SECRET", "CYCLE_META_VERIFY_TOKEN", "CYCLE_LINKEDIN_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CYCLE_META_APP_SECRET", "")  # set but empty is not configured either
    from api.main import create_app

    client = TestClient(create_app(tmp_path / "serving", webhook_store=store_path))
    body = _body(META_DELIVERY)
    r = post_meta(client, body, meta_sig(body, secret=""))  # signed with the empty secret
    assert r.status_code == 503 and "CYCLE_META_APP_SECRET" in r.json()["detail"]
    assert post_meta(client, body, None).status_code == 503
    assert post_li(client, _body(LINKEDIN_DELIVERY), None).status_code == 503
    assert client.get("/webhooks/linkedin", params={"challengeCode": "x"}).status_code == 503
    handshake = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
    assert client.get("/webhooks/meta", params=handshake).status_code == 503
    assert stored_webhook_events(store_path) == 0


# -- LinkedIn ---------------------------------------------------------------------------------------


def test_linkedin_challenge_answers_with_the_hmac_of_the_code(client):
    code = "890e4665-4dfe-4ab1-b689-ed553bceeed0"
    r = client.get("/webhooks/linkedin", params={"challengeCode": code, "applicationId": "123"})
    assert r.status_code == 200
    assert r.json() == {
        "challengeCode": code,
        "challengeResponse": hmac.new(LI_SECRET.encode(), code.encode(), hashlib.sha256).hexdigest(),
    }
    assert client.get("/webhooks/linkedin").status_code == 422


def test_linkedin_signed_notifications_are_stored_once_by_notification_id(client, store_path):
    body = _body(LINKEDIN_DELIVERY)
    r = post_li(client, body, li_sig(body))
    assert r.status_code == 200, r.text
    assert r.json() == {"platform": "linkedin", "received": 2, "stored": 2, "duplicates": 0}
    rows = stored(store_path)
    assert [e["event_id"] for e in rows] == ["80421", "80422"]
    first = rows[0]
    assert (first["object"], first["action"], first["account_id"]) == (
        "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS",
        "COMMENT",
        "urn:li:organization:80001",
    )
    assert first["post_id"] == "urn:li:share:7100000000000000001"
    assert first["entity_id"].startswith("urn:li:comment:")
    assert first["event_time"] == utc_iso(1789012345.678)  # lastModifiedAt is in epoch millis
    # redelivered alone, with the scheme repeated in the header: same notification, stored once
    single = _body({"type": LINKEDIN_DELIVERY["type"], "notifications": LINKEDIN_DELIVERY["notifications"][:1]})
    again = post_li(client, single, "hmacsha256=" + li_sig(single))
    assert again.json() == {"platform": "linkedin", "received": 1, "stored": 0, "duplicates": 1}
    assert len(stored(store_path)) == 2


@pytest.mark.parametrize(
    "make_signature",
    [
        lambda body: None,
        lambda body: "",
        lambda body: hmac.new(LI_SECRET.encode(), body, hashlib.sha256).hexdigest(),  # without LinkedIn's prefix
        lambda body: li_sig(body, secret="someone-else"),
        lambda body: li_sig(body + b" "),
    ],
    ids=["missing", "empty", "unprefixed-body", "other-secret", "other-body"],
)
def test_linkedin_bad_or_missing_signature_is_401_and_stores_nothing(client, store_path, make_signature):
    body = _body(LINKEDIN_DELIVERY)
    r = post_li(client, body, make_signature(body))
    assert r.status_code == 401, r.text
    assert "X-LI-Signature" in r.json()["detail"]
    assert stored_webhook_events(store_path) == 0


def test_linkedin_signed_but_unusable_body_is_rejected(client, store_path):
    for body, status in [
        (b"{", 400),
        (_body({"type": "X"}), 422),
        (_body({"notifications": [{"action": "LIKE"}]}), 422),
        (_body({"notifications": {"notificationId": 1}}), 422),
    ]:
        r = post_li(client, body, li_sig(body))
        assert r.status_code == status, (body, r.text)
    assert stored_webhook_events(store_path) == 0


# -- the store --------------------------------------------------------------------------------------


def test_store_is_append_only_and_in_wal_mode(client, store_path):
    body = _body(LINKEDIN_DELIVERY)
    assert post_li(client, body, li_sig(body)).status_code == 200
    con = sqlite3.connect(store_path)
    try:
        assert con.execute("pragma journal_mode").fetchone()[0] == "wal"
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute("update webhook_events set payload = '{}'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute("delete from webhook_events")
    finally:
        con.close()
    state = WebhookStore(store_path).state()
    assert state.events == 2 and state.high_water_mark == 2 and len(state.store_id) == 32
