"""Tracked events (api/routes/events.py): POST /v1/events.

A key with the ingest scope sends a batch (JSON array or JSON lines); each event is validated on its own, the
valid ones are stored once per (workspace, event_id) in the API's store and the invalid ones are listed with
their index, event_id and reasons. Resending stores nothing new; no key is 401, no ingest scope 403, a body over
the limit 413 (nothing stored), an unwritable store 503 (nothing stored); hostile input never gets a 5xx.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_assets.contracts.events import assign_property, event_from_json, parse_event
from analytics_assets.contracts.inbound import TrackedEventStore
from api.main import create_app
from api.routes.events import MAX_BODY_BYTES, MAX_EVENTS
from api_serving_data import NOW, make_registry, publish

DAY = "2025-03-04"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("events")
    publish(root / "serving")
    access = root / "access.sqlite3"
    tokens = make_registry(access, scopes=("read", "ingest"))  # workspace `default`: every test account
    split = make_registry(root / "access-split.sqlite3", split=True, scopes=("ingest",))
    read_only = make_registry(root / "access-read.sqlite3")["default"]

    def client(access_path: Path, token: str | None, store: Path) -> TestClient:
        app = create_app(root / "serving", access_store=access_path, webhook_store=store,
                         rate_limit="100000/minute", clock=lambda: NOW)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return TestClient(app, headers=headers)

    return root, tokens["default"], split, read_only, client, access


def touch(i: int, **extra) -> dict:
    return {"type": "touchpoint", "event_id": f"tp-{i}", "timestamp": f"{DAY}T10:{i:02d}:00Z",
            "property_id": "acme-site", "journey_id": "j-1", "user_id": "anon-1", "utm_source": "linkedin",
            "utm_medium": "social", **extra}


VALID = [
    touch(1),
    {"type": "conversion", "event_id": "cv-1", "timestamp": f"{DAY}T11:00:00+01:00", "property_id": "acme-site",
     "journey_id": "j-1", "user_id": "anon-1", "value": 49.5, "currency": "EUR"},
    {"type": "ai_generation", "event_id": "gen-1", "timestamp": f"{DAY}T09:00:00Z", "model": "gpt-x",
     "platform": "linkedin", "status": "succeeded", "prompt_tokens": 300, "completion_tokens": 120,
     "latency_ms": 850, "cost_usd": 0.0031},
    {"type": "experiment_exposure", "event_id": "exp-1", "timestamp": f"{DAY}T08:00:00Z", "experiment_id": "exp_timing",
     "factor": "timing", "start_date": "2025-03-01", "end_date": "2025-03-14", "metric": "clicked",
     "metric_kind": "binary", "baseline_mean": 0.04, "baseline_sd": 0.2, "mde": 0.01, "alpha": 0.05, "power": 0.8,
     "variant": "evening", "variant_role": "treatment", "unit_id": "unit-17", "value": 1},
]
INVALID = [  # (event, a word its reasons must hold)
    ({"type": "pageview", "event_id": "bad-type", "timestamp": f"{DAY}T10:00:00Z"}, "type"),
    (touch(2, utm_source=""), "utm_source"),
    ({**VALID[1], "event_id": "cv-neg", "value": -3}, "value"),
    ({**VALID[1], "event_id": "cv-cur", "currency": "XYZ"}, "currency"),
    (touch(3, property_id="globex-elsewhere"), "property_id"),
    (touch(4, timestamp="2199-01-01T00:00:00Z"), "timestamp"),
    (touch(5, extra_field=1), "extra_field"),
    ({**VALID[3], "event_id": "exp-bin", "value": 0.5}, "binary"),
    ("not an object", "object"),
]


def _stored(store: Path) -> list[dict]:
    return TrackedEventStore(store).read_after(0)


def test_a_mixed_batch_stores_the_valid_events_once_and_lists_each_rejected_one(env):
    root, token, _, _, client, access = env
    store = root / "mixed.sqlite3"
    api = client(access, token, store)
    batch = [VALID[0], INVALID[0][0], VALID[1], *[e for e, _ in INVALID[1:]], VALID[2], VALID[3]]
    r = api.post("/v1/events", json=batch)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["received"], body["accepted"], body["duplicates"], body["rejected"]) == (len(batch), 4, 0, len(INVALID))
    by_index = {e["index"]: e for e in body["errors"]}
    for index, item in enumerate(batch):
        if item in VALID:
            assert index not in by_index
            continue
        word = next(w for e, w in INVALID if e == item)
        error = by_index[index]
        assert error["event_id"] == (item.get("event_id") if isinstance(item, dict) else None)
        assert any(word in reason for reason in error["reasons"]), error
    rows = _stored(store)
    assert sorted(r["event_id"] for r in rows) == ["cv-1", "exp-1", "gen-1", "tp-1"]
    assert {r["workspace_id"] for r in rows} == {"default"}
    conversion = event_from_json(next(r["event"] for r in rows if r["event_id"] == "cv-1"))
    assert conversion.timestamp.isoformat() == f"{DAY}T10:00:00"  # +01:00 stored as UTC

    again = api.post("/v1/events", json=batch)  # resending: nothing new, the same answer otherwise
    assert again.status_code == 200
    assert (again.json()["accepted"], again.json()["duplicates"], again.json()["rejected"]) == (0, 4, len(INVALID))
    assert len(_stored(store)) == 4


def test_json_lines_with_a_broken_line_and_nan_store_the_rest(env):
    root, token, _, _, client, access = env
    store = root / "lines.sqlite3"
    api = client(access, token, store)
    lines = [json.dumps(touch(10)), "{not json", "", json.dumps(touch(11))[:-1] + ', "x": NaN}',
             json.dumps({**touch(12), "event_id": "tp-10"})]  # a second event with tp-10's id: a duplicate
    r = api.post("/v1/events", content="\n".join(lines), headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["received"], body["accepted"], body["duplicates"], body["rejected"]) == (4, 1, 1, 2)
    assert [e["index"] for e in body["errors"]] == [1, 2]
    assert [r["event_id"] for r in _stored(store)] == ["tp-10"]


def test_a_workspace_with_one_web_property_may_omit_it(env):
    root, _, split, _, client, _ = env
    store = root / "split.sqlite3"
    api = client(root / "access-split.sqlite3", split["acme"], store)
    event = touch(20)
    del event["property_id"]
    assert api.post("/v1/events", json=[event]).status_code == 200
    assert event_from_json(_stored(store)[0]["event"]).property_id == "acme-site"
    other = client(root / "access-split.sqlite3", split["globex"], store)
    r = other.post("/v1/events", json=[touch(21)])  # acme's property, sent with globex's key
    assert r.status_code == 422
    assert r.json()["errors"][0]["reasons"] == ["property_id: not a web property of workspace globex"]


def test_the_property_rule_and_its_wording_are_the_landing_imports(env):
    """One rule (contracts.events.assign_property) for the API and the landing folder: the same event gets
    the same reasons either way."""
    root, token, _, _, client, access = env
    api = client(access, token, root / "rule.sqlite3")  # workspace `default`: acme-site and globex-site
    unnamed = touch(30)
    del unnamed["property_id"]
    foreign = touch(31, property_id="initech-site")
    for event in (unnamed, foreign):
        r = api.post("/v1/events", json=[event])
        assert r.status_code == 422, r.text
        _, landing = assign_property(parse_event(event)[0], ["acme-site", "globex-site"], "default")
        assert r.json()["errors"][0]["reasons"] == landing
    assert landing == ["property_id: not a web property of workspace default"]


def test_nothing_valid_is_422_and_nothing_is_stored(env):
    root, token, _, _, client, access = env
    store = root / "none.sqlite3"
    api = client(access, token, store)
    for body in ([e for e, _ in INVALID], [], {"type": "touchpoint"}, "[1, 2"):
        r = api.post("/v1/events", content=json.dumps(body) if not isinstance(body, str) else body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["accepted"] == 0
    r = api.post("/v1/events", json=[touch(i) for i in range(MAX_EVENTS + 1)])
    assert r.status_code == 422 and str(MAX_EVENTS) in r.json()["detail"]
    assert _stored(store) == []


def test_no_key_no_ingest_scope_or_an_oversized_body_is_refused_with_nothing_stored(env):
    root, token, _, read_only, client, access = env
    store = root / "refused.sqlite3"
    assert client(access, None, store).post("/v1/events", json=VALID).status_code == 401
    assert client(access, "cyk_bogus_key", store).post("/v1/events", json=VALID).status_code == 401
    assert client(root / "access-read.sqlite3", read_only, store).post("/v1/events", json=VALID).status_code == 403
    big = json.dumps([touch(1, utm_campaign="c" * 150)] * (MAX_BODY_BYTES // 300 + 10))
    assert len(big) > MAX_BODY_BYTES
    assert client(access, token, store).post("/v1/events", content=big).status_code == 413
    assert _stored(store) == []


def test_an_unwritable_store_is_503_and_loses_nothing_acknowledged(env):
    root, token, _, _, client, access = env
    store = root / "full.sqlite3"
    api = client(access, token, store)
    assert api.post("/v1/events", json=[VALID[0]]).status_code == 200
    blocker = root / "a-file"
    blocker.write_text("not a folder")
    api.app.state.tracked_events = TrackedEventStore(blocker / "store.sqlite3")  # its folder cannot be created
    r = api.post("/v1/events", json=VALID[1:])
    assert r.status_code == 503 and "nothing was stored" in r.json()["detail"]
    assert [r["event_id"] for r in _stored(store)] == ["tp-1"]  # what was acknowledged is still there


@pytest.fixture(scope="module")
def hostile_api(env):
    root, token, _, _, client, access = env
    return client(access, token, root / "hostile.sqlite3")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
                 lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
                 max_leaves=30).map(lambda v: json.dumps(v, allow_nan=True).encode()),
))
def test_hostile_bodies_never_get_a_5xx(hostile_api, body):
    r = hostile_api.post("/v1/events", content=body)
    assert r.status_code in (200, 413, 422), (body, r.status_code, r.text)


def test_deep_nesting_is_rejected_not_crashed(env):
    root, token, _, _, client, access = env
    api = client(access, token, root / "deep.sqlite3")
    deep = "[" * 100_000 + "]" * 100_000
    assert api.post("/v1/events", content=deep).status_code == 422
    line = json.dumps({**touch(30), "utm_content": None})[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}"
    r = api.post("/v1/events", content=line)
    assert r.status_code == 422


def test_an_erased_visitor_leaves_no_tracked_event_in_the_store(env):
    from analytics_assets.contracts.inbound import PrivacyRequestStore

    root, token, _, _, client, access = env
    store = root / "erase.sqlite3"
    api = client(access, token, store)
    assert api.post("/v1/events", json=[touch(40, user_id="anon_7"), touch(41, user_id="anon_77")]).status_code == 200
    privacy = PrivacyRequestStore(store)
    assert [r["event_id"] for r in privacy.naming("anon_7")["tracked_events"]] == ["tp-40"]  # not anon_77's
    assert privacy.erase_naming("anon_7", "prq_test") == {"tracked_events": 1}
    assert [r["event_id"] for r in _stored(store)] == ["tp-41"]
