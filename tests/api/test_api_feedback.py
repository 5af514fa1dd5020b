"""Decisions on recommendations (api/routes/feedback.py): POST /v1/recommendations/{id}/apply and .../dismiss.

A key with the feedback scope stores one decision per recommendation of its workspace: 201 the first time, 200
with the same stored record when the same decision comes again (nothing new stored, whatever the body), 409
for the other decision or a recommendation that expired or was superseded; an unknown id and another
workspace's id get the same 404; a bad key, scope, id or body is refused with nothing stored; no input, however
hostile, gets a 5xx; the audit record never holds the body.

The test snapshot (api_serving_data.build_recommendations) holds, per organic account, open slots, an expired
one, one that expires after the publish but before NOW (open in the file), a superseded one and one applied
before the publish (a decision the warehouse holds).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import quote

import limits
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from analytics_assets.contracts.access import AccessRegistry
from analytics_assets.contracts.inbound import AuditStore, FeedbackRecord, FeedbackStore, new_feedback_id
from api.main import create_app
from api.routes.feedback import MAX_BODY_BYTES, MAX_DETAILS_BYTES, current_status, overlay
from api_serving_data import NOW, accounts_of, make_registry, publish

NOW_NAIVE = NOW.replace(tzinfo=None)


def iso(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> SimpleNamespace:
    """One published snapshot and registry for every test: acme and globex with read+feedback keys, plus an
    acme key that only reads and one that only gives feedback."""
    root = tmp_path_factory.mktemp("feedback")
    frames = publish(root / "serving", checksums=True)
    access = root / "access.sqlite3"
    tokens = make_registry(access, split=True, scopes=("read", "feedback"))
    registry = AccessRegistry(access)
    tokens["reader"] = registry.create_key("acme", "reader", ["read"]).token
    tokens["writer"] = registry.create_key("acme", "writer", ["feedback"]).token
    return SimpleNamespace(serving=root / "serving", access=access, tokens=tokens,
                           recs=frames["recommendations.parquet"])


def ids(snapshot: SimpleNamespace, workspace: str, case: str) -> list[str]:
    """Recommendation ids of ``workspace`` in one of the snapshot's cases, in a stable order."""
    recs = snapshot.recs
    own = recs[[(p, a) in set(accounts_of(workspace)) for p, a in zip(recs["platform"], recs["account_id"])]]
    expires = pd.to_datetime(own["expires_at"])
    selected = {
        "open": (own["status"] == "open") & (expires > NOW_NAIVE),
        "expiring": (own["status"] == "open") & (expires <= NOW_NAIVE),  # open in the file, expired by NOW
        "expired": own["status"] == "expired",
        "superseded": own["status"] == "superseded",
        "applied": own["status"] == "applied",
    }[case]
    found = sorted(own.loc[selected, "recommendation_id"])
    assert found, case
    return found


def row_of(snapshot: SimpleNamespace, recommendation_id: str) -> pd.Series:
    return snapshot.recs.set_index("recommendation_id").loc[recommendation_id]


class Api:
    def __init__(self, client: TestClient, snapshot: SimpleNamespace, store_path, app):
        self.client, self.snapshot, self.store_path, self.app = client, snapshot, store_path, app

    def post(self, recommendation_id: str, decision: str, body=None, *, key: str | None = "acme",
             content: bytes | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if key is not None:
            headers["Authorization"] = f"Bearer {self.snapshot.tokens[key]}"
        if content is None and body is not None:
            content, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        url = f"/v1/recommendations/{quote(recommendation_id, safe='')}/{decision}"
        return self.client.post(url, content=content, headers=headers)

    def stored(self) -> list[dict]:
        return FeedbackStore(self.store_path).read_after(0)


@pytest.fixture
def api(snapshot, tmp_path):
    """A client of an app over the shared snapshot with an inbound store of its own (the clock at NOW)."""
    store_path = tmp_path / "inbound.sqlite3"
    app = create_app(snapshot.serving, webhook_store=store_path, access_store=snapshot.access,
                     rate_limit="100000/minute", clock=lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, snapshot, store_path, app)


# -- the decision -----------------------------------------------------------------------------------


def test_apply_is_stored_once_and_the_same_decision_again_answers_the_stored_record(api, snapshot):
    rec = ids(snapshot, "acme", "open")[0]
    row = row_of(snapshot, rec)
    body = {"reason": "Fits our launch week", "applied_post_id": "li-post-77", "details": {"audience": "EU", "n": 2}}
    first = api.post(rec, "apply", body)
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer == {
        "feedback_id": answer["feedback_id"], "recommendation_id": rec, "decision": "apply", "status": "applied",
        "received_at": iso(NOW), "applied_post_id": "li-post-77",
    }
    assert answer["feedback_id"].startswith("fb_") and len(answer["feedback_id"]) == 35

    (stored,) = api.stored()
    assert stored == {
        "seq": 1, "feedback_id": answer["feedback_id"], "recommendation_id": rec, "decision": "apply",
        "reason": "Fits our launch week", "applied_post_id": "li-post-77",
        "applied_details": '{"audience":"EU","n":2}', "platform": row["platform"], "account_id": row["account_id"],
        "workspace_id": "acme", "key_id": snapshot.tokens["acme"].split("_")[1],
        "received_at": NOW_NAIVE.isoformat(timespec="microseconds"),
    }

    # a retry, even with another body, answers the stored decision and stores nothing
    for again_body in (body, {"reason": "changed my mind about the words"}, None):
        again = api.post(rec, "apply", again_body)
        assert again.status_code == 200, again.text
        assert again.json() == answer
    assert api.stored() == [stored]

    # the other decision is refused: it was applied
    conflict = api.post(rec, "dismiss", {"reason": "too late"})
    assert conflict.status_code == 409
    assert conflict.json() == {
        "detail": f"Recommendation {rec} is already applied since {iso(NOW)}; it cannot be dismissed.",
        "status": "applied", "since": iso(NOW),
    }
    assert api.stored() == [stored]


def test_dismiss_with_or_without_a_body_then_apply_conflicts(api, snapshot):
    first, second = ids(snapshot, "acme", "open")[:2]
    assert api.post(first, "dismiss").status_code == 201  # no body at all
    response = api.post(second, "dismiss", {"reason": "We do not post on Fridays"})
    assert response.status_code == 201 and response.json()["status"] == "dismissed"
    assert response.json()["applied_post_id"] is None
    assert api.post(second, "dismiss", {}).json() == response.json()
    conflict = api.post(second, "apply", {"applied_post_id": "x-1"})
    assert conflict.status_code == 409 and conflict.json()["status"] == "dismissed"
    assert "already dismissed" in conflict.json()["detail"] and "cannot be applied" in conflict.json()["detail"]
    assert [(r["recommendation_id"], r["decision"], r["reason"]) for r in api.stored()] == [
        (first, "dismiss", None), (second, "dismiss", "We do not post on Fridays"),
    ]


def test_the_longest_valid_fields_are_accepted_however_escaped(api, snapshot):
    rec = ids(snapshot, "acme", "open")[0]
    body = {"reason": "\U0001f600" * 500, "applied_post_id": "\U0001f600" * 200, "details": {"k": "\u00e9" * 1990}}
    content = json.dumps(body).encode()  # every non-ASCII character as a \u escape: 20 KB for 4.3 KB of text
    assert len(content) > 20_000 and len(json.dumps(body["details"], separators=(",", ":"), ensure_ascii=False).encode()) <= 4096
    response = api.post(rec, "apply", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text[:300]
    (stored,) = api.stored()
    assert stored["reason"] == body["reason"] and stored["applied_post_id"] == body["applied_post_id"]
    assert json.loads(stored["applied_details"]) == body["details"]


def test_a_key_with_only_the_feedback_scope_may_decide(api, snapshot):
    response = api.post(ids(snapshot, "acme", "open")[0], "apply", key="writer")
    assert response.status_code == 201, response.text
    assert api.stored()[0]["key_id"] == snapshot.tokens["writer"].split("_")[1]


@pytest.mark.parametrize("case", ["expired", "expiring", "superseded"])
@pytest.mark.parametrize("decision", ["apply", "dismiss"])
def test_a_closed_recommendation_is_409_with_its_status_and_since_when(api, snapshot, case, decision):
    rec = ids(snapshot, "acme", case)[0]
    row = row_of(snapshot, rec)
    response = api.post(rec, decision, {"reason": "still want it"})
    assert response.status_code == 409, response.text
    status = "superseded" if case == "superseded" else "expired"
    since = row["superseded_at"] if case == "superseded" else row["expires_at"]
    assert response.json()["status"] == status and response.json()["since"] == iso(since)
    assert f"is already {status} since {iso(since)}" in response.json()["detail"]
    assert api.stored() == []


def test_a_decision_the_snapshot_holds_answers_like_a_stored_one(api, snapshot):
    """A decision loaded into the warehouse before the publish (from a store since replaced, say) is the
    recommendation's decision: the same one again is 200 with it, the other one 409, and nothing is stored."""
    rec = ids(snapshot, "acme", "applied")[0]
    row = row_of(snapshot, rec)
    same = api.post(rec, "apply", {"reason": "again"})
    assert same.status_code == 200, same.text
    assert same.json() == {
        "feedback_id": row["feedback_id"], "recommendation_id": rec, "decision": "apply", "status": "applied",
        "received_at": iso(row["decided_at"]), "applied_post_id": row["applied_post_id"],
    }
    other = api.post(rec, "dismiss")
    assert other.status_code == 409 and other.json()["status"] == "applied"
    assert other.json()["since"] == iso(row["decided_at"])
    assert api.stored() == []


# -- who may ask, and about what --------------------------------------------------------------------


def test_unknown_and_other_workspace_ids_get_the_same_404_and_nothing_is_stored(api, snapshot):
    theirs = ids(snapshot, "globex", "open")[0]
    unknown = "rec_" + "0" * 24
    assert unknown not in set(snapshot.recs["recommendation_id"])
    for decision in ("apply", "dismiss"):
        other = api.post(theirs, decision, {"reason": "not ours"})
        missing = api.post(unknown, decision, {"reason": "not ours"})
        assert other.status_code == missing.status_code == 404
        assert other.content.replace(theirs.encode(), b"<id>") == missing.content.replace(unknown.encode(), b"<id>")
        assert other.json() == {"detail": f"No recommendation {theirs} in this workspace."}
        assert dict(other.headers) == dict(missing.headers)
    # their own decisions are theirs alone, and a refused request blocked nothing
    assert api.stored() == []
    assert api.post(theirs, "dismiss", key="globex").status_code == 201
    assert api.post(theirs, "apply").status_code == 404
    assert [r["workspace_id"] for r in api.stored()] == ["globex"]


def test_a_key_without_the_feedback_scope_is_403_and_no_key_is_401_before_the_body_is_read(api, snapshot):
    rec = ids(snapshot, "acme", "open")[0]
    for decision in ("apply", "dismiss"):
        forbidden = api.post(rec, decision, {"reason": "hi"}, key="reader")
        assert forbidden.status_code == 403
        assert forbidden.json() == {"detail": "This key lacks the 'feedback' scope (it has: read)."}
        # a key is checked before anything else: no key, a bad key, however bad the id or body
        for content in (b'{"reason": "hi"}', b"not json at all", b"x" * (MAX_BODY_BYTES + 1)):
            for rec_id in (rec, "not-an-id"):
                missing = api.post(rec_id, decision, key=None, content=content)
                assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
                bad = api.post(rec_id, decision, key=None, content=content, headers={"X-API-Key": "cyk_nope"})
                assert bad.status_code == 401
        assert api.post("not-an-id", decision, {"reason": "hi"}, key="reader").status_code == 403
    assert api.stored() == []


@pytest.mark.parametrize("bad_id", [
    "rec_" + "A" * 24, "rec_" + "0" * 23, "rec_" + "0" * 25, "REC_" + "0" * 24, "rc_" + "0" * 24, "rec_" + "g" * 24,
    "rec_" + "0" * 23 + "\n", "'; drop table recommendation_feedback; --", "rec_" + "0" * 24 + " ",
])
def test_an_id_that_cannot_be_a_recommendation_is_422(api, bad_id):
    response = api.post(bad_id, "apply", {})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["path", "recommendation_id"]
    assert api.stored() == []


BAD_BODIES = {
    "unknown field": (b'{"reason": "ok", "note": "x"}', ["body", "note"]),
    "apply field on dismiss": (b'{"applied_post_id": "p1"}', ["body", "applied_post_id"]),
    "reason too long": (json.dumps({"reason": "r" * 501}).encode(), ["body", "reason"]),
    "reason not a string": (b'{"reason": 5}', ["body", "reason"]),
    "reason a lone surrogate": (b'{"reason": "\\ud800"}', ["body"]),
    "not JSON": (b"reason=ok", ["body"]),
    "truncated JSON": (b'{"reason": "ok"', ["body"]),
    "a JSON array": (b"[]", ["body"]),
    "a JSON string": (b'"apply"', ["body"]),
    "not UTF-8": (b'{"reason": "\xff\xfe"}', ["body"]),
    "deep nesting": (b'{"reason": ' + b"[" * 5000 + b"]" * 5000 + b"}", ["body"]),
}
BAD_APPLY_BODIES = {
    "post id empty": (b'{"applied_post_id": ""}', ["body", "applied_post_id"]),
    "post id too long": (json.dumps({"applied_post_id": "p" * 201}).encode(), ["body", "applied_post_id"]),
    "details not an object": (b'{"details": [1, 2]}', ["body", "details"]),
    "details too large": (json.dumps({"details": {"k": "v" * MAX_DETAILS_BYTES}}).encode(), ["body", "details"]),
    "details with NaN": (b'{"details": {"spend": NaN}}', ["body", "details"]),
    "details with infinity": (b'{"details": {"spend": 1e999}}', ["body", "details"]),
    "details with a huge integer": (b'{"details": {"n": ' + b"9" * 5000 + b"}}", ["body"]),
}


@pytest.mark.parametrize(
    "decision,name",
    [("dismiss", n) for n in BAD_BODIES] + [("apply", n) for n in BAD_APPLY_BODIES]
    + [("apply", n) for n in BAD_BODIES if n != "apply field on dismiss"],
)
def test_a_bad_body_is_422_saying_where_and_nothing_is_stored(api, snapshot, decision, name):
    content, loc = {**BAD_BODIES, **BAD_APPLY_BODIES}[name]
    response = api.post(ids(snapshot, "acme", "open")[0], decision, content=content,
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 422, (name, response.status_code, response.text[:300])
    issue = response.json()["detail"][0]
    assert issue["loc"] == loc and issue["msg"] and issue["input"] is None  # body values are never echoed
    assert api.stored() == []


def test_a_body_over_the_limit_is_413_however_it_is_sent(api, snapshot):
    rec = ids(snapshot, "acme", "open")[0]
    big = json.dumps({"reason": "r" * (MAX_BODY_BYTES + 10)}).encode()
    assert api.post(rec, "dismiss", content=big).status_code == 413

    def chunks():  # no Content-Length: counted while read
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    assert api.client.post(f"/v1/recommendations/{rec}/dismiss", content=chunks(),
                           headers={"Authorization": f"Bearer {snapshot.tokens['acme']}"}).status_code == 413
    assert api.stored() == []


def test_the_audit_record_holds_the_route_never_the_body(api, snapshot):
    rec = ids(snapshot, "acme", "open")[0]
    secret = "the-reason-nobody-else-may-read-4711"
    body = {"reason": secret, "applied_post_id": secret, "details": {secret: secret}}
    assert api.post(rec, "apply", body).status_code == 201
    assert api.post(rec, "dismiss", {"reason": secret}).status_code == 409
    assert api.post(rec, "apply", {"reason": secret, "oops": 1}).status_code == 422
    api.app.state.audit.flush()
    records = [r for r in AuditStore(api.store_path).read_after(0) if r["method"] == "POST"]
    assert [(r["route"], r["status"], r["workspace_id"]) for r in records] == [
        (f"/v1/recommendations/{{recommendation_id}}/{d}", status, "acme")
        for d, status in (("apply", 201), ("dismiss", 409), ("apply", 422))
    ]
    assert not any(secret in str(v) or rec in str(v) for r in records for v in r.values())
    assert api.stored()[0]["reason"] == secret  # it is in the decision, where it belongs


def test_racing_apply_and_dismiss_store_exactly_one_decision(api, snapshot):
    rec = ids(snapshot, "acme", "open")[0]
    barrier = threading.Barrier(8)
    answers: list = [None] * 8

    def decide(i: int) -> None:
        barrier.wait()
        answers[i] = api.post(rec, "apply" if i % 2 else "dismiss", {"reason": f"request {i}"})

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (stored,) = api.stored()
    winner = stored["decision"]
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1 and set(codes) <= {200, 201, 409}, codes
    for i, answer in enumerate(answers):
        mine = "apply" if i % 2 else "dismiss"
        assert answer.status_code in ((200, 201) if mine == winner else (409,)), (i, answer.text)
        if mine == winner:
            assert answer.json()["feedback_id"] == stored["feedback_id"]


def test_the_store_keeps_the_first_decision_of_racing_writers(tmp_path):
    store = FeedbackStore(tmp_path / "store.sqlite3")
    barrier = threading.Barrier(12)
    results: list = [None] * 12

    def record(i: int) -> None:
        barrier.wait()
        results[i] = store.record(FeedbackRecord(new_feedback_id(), "rec_" + "1" * 24, ("apply", "dismiss")[i % 2],
                                                 datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=i)))

    threads = [threading.Thread(target=record, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(created for _, created in results) == 1
    assert len({stored for stored, _ in results}) == 1  # everyone was told the one stored record
    assert store.state().events == 1


# -- the read side's overlay ------------------------------------------------------------------------


def test_overlay_applies_decisions_stored_since_the_snapshot_and_expiry_as_of_now(api, snapshot):
    cases = ("open", "expiring", "superseded", "applied")
    opened, expiring, superseded, applied = (ids(snapshot, "acme", c)[0] for c in cases)
    assert api.post(opened, "dismiss", {"reason": "no"}).status_code == 201
    store = FeedbackStore(api.store_path)
    frame = snapshot.recs.set_index("recommendation_id")
    rows = [
        {"recommendation_id": i, **{c: (None if pd.isna(v) else (v.to_pydatetime().replace(tzinfo=timezone.utc)
                                                                   if isinstance(v, pd.Timestamp) else v))
                                    for c, v in frame.loc[i].items()}}
        for i in (opened, expiring, superseded, applied)
    ]
    before = [r["status"] for r in rows]
    assert before == ["open", "open", "superseded", "applied"]
    after = overlay(rows, store, NOW)
    assert [r["status"] for r in after] == ["dismissed", "expired", "superseded", "applied"]
    assert after[0]["feedback_id"] == store.decision(opened).feedback_id and after[0]["decided_at"] == NOW
    assert after[3]["feedback_id"] == frame.loc[applied, "feedback_id"]
    assert all(r["status_as_of"] == NOW for r in after)
    assert current_status(rows[1], None, NOW - timedelta(hours=2)) == "open"  # before its slot started


# -- hostile input ----------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.floats()
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries({}, optional={
    "reason": st.none() | st.text(max_size=520),
    "applied_post_id": st.none() | st.text(max_size=210),
    "details": st.dictionaries(st.text(max_size=10), JSON, max_size=4) | JSON,
}).map(lambda d: json.dumps(d).encode())
BODIES = st.one_of(
    FIELDS, FIELDS, FIELDS,  # mostly the documented fields, within their bounds or just past them
    st.dictionaries(st.text(max_size=12), JSON, max_size=4).map(lambda d: json.dumps(d).encode()),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)


@pytest.fixture(scope="module")
def hostile(snapshot, tmp_path_factory):
    store_path = tmp_path_factory.mktemp("hostile") / "inbound.sqlite3"
    app = create_app(snapshot.serving, webhook_store=store_path, access_store=snapshot.access,
                     rate_limit="100000/minute", clock=lambda: NOW)
    app.state.access.failed_limit = limits.parse("1000000/minute")  # keyless examples: 401, not 429
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, snapshot, store_path, app)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_input_gets_a_5xx_and_only_valid_decisions_are_stored(hostile, snapshot, data):
    known = sorted(snapshot.recs["recommendation_id"])
    opened = ids(snapshot, "acme", "open") + ids(snapshot, "globex", "open")
    rec = data.draw(st.one_of(
        st.sampled_from(opened), st.sampled_from(opened), st.sampled_from(known),
        st.from_regex(r"rec_[0-9a-fA-F]{22,26}", fullmatch=True),
        st.text(max_size=40),
    ), label="id")
    decision = data.draw(st.sampled_from(["apply", "dismiss"]), label="decision")
    content = data.draw(BODIES, label="body")
    key = data.draw(st.sampled_from(["acme", "acme", "acme", "globex", "reader", None]), label="key")
    before = len(hostile.stored())
    response = hostile.post(rec, decision, key=key, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, (response.status_code, response.text[:300])
    event(f"status {response.status_code}")
    stored = hostile.stored()
    assert len(stored) == before + (response.status_code == 201)
    if response.status_code == 201:
        row = stored[-1]
        body = json.loads(content) if content.strip() else {}  # an empty body is {}
        own = {(p, a) for p, a in accounts_of(key)}
        assert row["recommendation_id"] == rec and row["decision"] == decision
        assert (row["platform"], row["account_id"]) in own and row["workspace_id"] == key
        assert row["reason"] == body.get("reason") and len(row["reason"] or "") <= 500
        assert set(body) <= ({"reason", "applied_post_id", "details"} if decision == "apply" else {"reason"})
        if row["applied_details"] is not None:
            details = json.loads(row["applied_details"])
            assert isinstance(details, dict) and len(row["applied_details"].encode()) <= MAX_DETAILS_BYTES
