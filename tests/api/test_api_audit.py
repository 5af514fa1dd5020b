"""Every HTTP request leaves one audit record in the API's store (api/audit.py): who (key id, workspace),
which route template, status, bytes, duration, client; nothing secret; and a broken store never breaks a
request."""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from analytics_assets.contracts.access import ApiKey
from analytics_assets.contracts.inbound import AuditStore, WebhookStore
from api.audit import install

KEY = ApiKey(key_id="0123456789ab", workspace_id="acme", name="ci", scopes=frozenset({"read"}), created_at="2026-01-01")
GOOD_TOKEN = "cyk_0123456789ab_" + "s" * 43
SECRETS = ("query-secret-123", "header-secret-456", "body-secret-789", GOOD_TOKEN)


def authenticate(request: Request) -> ApiKey:
    """What the API's auth dependency does: the key (or None) on request.state, 401 without a valid key."""
    token = (request.headers.get("authorization") or "").removeprefix("Bearer ")
    request.state.api_key = KEY if token == GOOD_TOKEN else None
    if request.state.api_key is None:
        raise HTTPException(401, "missing or invalid API key")
    return request.state.api_key


def build_app() -> FastAPI:
    app = FastAPI()
    v1 = APIRouter(dependencies=[Depends(authenticate)])

    @v1.get("/campaigns/{campaign_id}")
    def campaign(campaign_id: int) -> dict:
        return {"campaign_id": campaign_id, "name": "spring"}

    @v1.post("/feedback/{item_id}")
    def feedback(item_id: str, body: dict) -> dict:
        return {"ok": True}

    @v1.get("/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse(iter([b"a" * 10, b"b" * 20, b"c" * 30]), media_type="text/plain")

    app.include_router(v1, prefix="/v1")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/boom")
    def boom() -> dict:
        raise RuntimeError("the handler failed")

    sub = FastAPI()

    @sub.get("/items/{item_id}")
    def item(item_id: str) -> dict:
        return {"item_id": item_id}

    app.mount("/sub", sub)
    return app


def rows(store_path: Path) -> list[dict]:
    return AuditStore(store_path).read_after(0)


@pytest.fixture
def store_path(tmp_path) -> Path:
    return tmp_path / "api" / "store.sqlite3"


@pytest.fixture
def audited(store_path):
    """A client of an audited app whose writer only writes on flush (so the test decides when)."""
    app = build_app()
    audit = install(app, store_path, flush_interval_s=3600)
    return TestClient(app, raise_server_exceptions=False), audit


AUTH = {"Authorization": f"Bearer {GOOD_TOKEN}"}


def test_each_request_is_one_record_with_route_template_status_bytes_and_key(audited, store_path):
    client, audit = audited
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    requests = [
        # (method, url, headers, expected route, expected status, key)
        ("GET", "/v1/campaigns/7", AUTH, "/v1/campaigns/{campaign_id}", 200, KEY),
        ("GET", "/v1/campaigns/7", {}, "/v1/campaigns/{campaign_id}", 401, None),  # no key
        ("GET", "/v1/campaigns/7", {"Authorization": "Bearer cyk_bad"}, "/v1/campaigns/{campaign_id}", 401, None),
        ("GET", "/v1/campaigns/not-a-number", AUTH, "/v1/campaigns/{campaign_id}", 422, KEY),
        ("DELETE", "/v1/campaigns/7", AUTH, "/v1/campaigns/{campaign_id}", 405, None),  # no handler, no auth ran
        ("GET", "/v1/stream", AUTH, "/v1/stream", 200, KEY),
        ("GET", "/health", {}, "/health", 200, None),
        ("GET", "/sub/items/x1", {}, "/sub/items/{item_id}", 200, None),
        ("GET", "/no/such/path", AUTH, None, 404, None),  # no route selected: NULL, never the raw path
        ("GET", "/boom", {}, "/boom", 500, None),
    ]
    responses = [client.request(m, url, headers=h) for m, url, h, *_ in requests]
    assert audit.flush() == len(requests)
    stored = rows(store_path)
    after = datetime.now(timezone.utc).replace(tzinfo=None)

    assert len(stored) == len(requests)
    assert [r["seq"] for r in stored] == list(range(1, len(requests) + 1))
    for (method, url, _, route, status, key), response, row in zip(requests, responses, stored):
        assert response.status_code == status, url
        assert (row["method"], row["route"], row["status"]) == (method, route, status), url
        assert row["response_bytes"] == len(response.content), url
        assert (row["key_id"], row["workspace_id"]) == ((key.key_id, key.workspace_id) if key else (None, None)), url
        assert row["client_addr"] == "testclient"
        assert before - timedelta(seconds=1) <= datetime.fromisoformat(row["requested_at"]) <= after
        assert 0 <= row["duration_ms"] < 60_000
    assert stored[5]["response_bytes"] == 60  # a streamed body: the sum of its chunks
    assert audit.dropped == 0


def test_no_key_header_query_string_or_body_reaches_the_store(audited, store_path):
    client, audit = audited
    r = client.post(
        "/v1/feedback/abc?token=query-secret-123&x=1",
        headers={**AUTH, "X-Api-Key": "header-secret-456", "Cookie": "session=header-secret-456"},
        json={"comment": "body-secret-789"},
    )
    assert r.status_code == 200
    client.get("/v1/campaigns/3?token=query-secret-123")  # a 401 with the secret in the URL
    client.get("/no/such/path?token=query-secret-123")  # no route: nothing of the URL is kept
    audit.flush()

    stored = rows(store_path)
    assert [r["route"] for r in stored] == ["/v1/feedback/{item_id}", "/v1/campaigns/{campaign_id}", None]
    assert stored[0]["key_id"] == KEY.key_id
    dumped = repr(stored)
    assert "?" not in dumped and "token" not in dumped
    # nor anywhere in the database files (WAL included)
    files = [p for p in store_path.parent.iterdir() if p.name.startswith(store_path.name)]
    raw = b"".join(p.read_bytes() for p in files)
    for secret in SECRETS:
        assert secret.encode() not in raw, secret
    assert b"query-secret" not in raw and b"Bearer" not in raw


def test_request_state_is_scope_state_so_the_key_set_by_auth_is_recorded(store_path):
    """The middleware reads scope["state"] after the app ran: request.state writes there (in a dependency,
    in the handler, or in an inner middleware)."""
    app = FastAPI()

    @app.middleware("http")
    async def auth_middleware(request: Request, call_next):
        request.state.api_key = KEY if request.headers.get("authorization") == f"Bearer {GOOD_TOKEN}" else None
        return await call_next(request)

    @app.get("/items/{item_id:int}")
    def get_item(item_id: int) -> dict:
        return {"item_id": item_id}

    audit = install(app, store_path, flush_interval_s=3600)
    client = TestClient(app)
    client.get("/items/1", headers=AUTH)
    client.get("/items/2")
    audit.flush()
    assert [(r["route"], r["key_id"], r["workspace_id"]) for r in rows(store_path)] == [
        ("/items/{item_id}", KEY.key_id, KEY.workspace_id),  # the template without its converter
        ("/items/{item_id}", None, None),
    ]


def test_an_unwritable_store_never_fails_a_request_and_drops_are_counted(tmp_path, caplog):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the store's folder should be")
    app = build_app()
    audit = install(app, blocked / "store.sqlite3", flush_interval_s=3600)
    client = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level(logging.WARNING, logger="api.audit"):
        statuses = [client.get("/health").status_code for _ in range(3)] + [client.get("/boom").status_code]
        assert audit.flush() == 0
    assert statuses == [200, 200, 200, 500]
    assert audit.dropped == 4
    warnings = [r for r in caplog.records if "API audit records dropped" in r.getMessage()]
    assert len(warnings) == 1  # once per failure streak, not once per record


def test_a_full_queue_drops_instead_of_blocking(store_path):
    app = build_app()
    audit = install(app, store_path, flush_interval_s=3600, batch_size=1000, max_pending=2)
    client = TestClient(app)
    assert all(client.get("/health").status_code == 200 for _ in range(5))
    assert audit.dropped == 3
    assert audit.flush() == 2 and len(rows(store_path)) == 2


def wait_for(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_the_background_thread_writes_without_a_flush_and_ends_when_idle(store_path):
    app = build_app()
    audit = install(app, store_path, flush_interval_s=0.02, idle_exit_s=0.2)
    client = TestClient(app)
    for _ in range(3):
        client.get("/health")
    assert wait_for(lambda: len(rows(store_path)) == 3)
    assert wait_for(lambda: not audit.writer.running)  # nothing to write: the thread ends
    client.get("/health")  # the next record starts another
    assert audit.writer.running
    assert wait_for(lambda: len(rows(store_path)) == 4)


@pytest.mark.parametrize("options", [{"flush_interval_s": 0}, {"batch_size": 0}, {"max_pending": 0}])
def test_a_writer_that_would_spin_or_hold_nothing_is_refused(store_path, options):
    with pytest.raises(ValueError, match="audit writer needs"):
        install(build_app(), store_path, **options)


def test_shutdown_flushes_every_queued_record(store_path):
    app = build_app()
    audit = install(app, store_path, flush_interval_s=3600)
    with TestClient(app) as client:  # lifespan startup ... shutdown
        for i in range(4):
            client.get(f"/v1/campaigns/{i}", headers=AUTH)
        assert not store_path.exists()  # nothing written yet: the writer waits for its interval
    assert [r["status"] for r in rows(store_path)] == [200] * 4
    assert audit.writer.pending == 0 and audit.dropped == 0
    # the app can start again (a new writer thread) and still flushes on shutdown
    with TestClient(app) as client:
        client.get("/health")
    assert len(rows(store_path)) == 5


def test_audit_records_share_the_webhook_store_and_are_append_only(audited, store_path):
    client, audit = audited
    client.get("/health")
    audit.flush()
    webhook_state, audit_state = WebhookStore(store_path).state(), AuditStore(store_path).state()
    assert audit_state.store_id == webhook_state.store_id and audit_state.high_water_mark == 1
    assert webhook_state.events == 0
    con = sqlite3.connect(store_path)
    try:
        assert con.execute("pragma journal_mode").fetchone()[0] == "wal"
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute("update api_audit set status = 200")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute("delete from api_audit")
    finally:
        con.close()


def test_install_refuses_a_second_install_or_a_started_app(store_path):
    app = build_app()
    install(app, store_path)
    with pytest.raises(RuntimeError, match="already installed"):
        install(app, store_path)
    started = build_app()
    TestClient(started).get("/health")
    with pytest.raises(RuntimeError, match="before the application starts"):
        install(started, store_path)
