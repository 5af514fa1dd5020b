"""GDPR requests through the API (api/routes/privacy.py): POST /v1/privacy/erasures and /v1/privacy/exports, GET
/v1/privacy/requests/{request_id}.

Only an admin key takes a request (401 without a key, 403 with read or feedback keys); a request names one
pseudonymous user id of a valid shape (422 otherwise, nothing stored) and covers the key's workspace's web
properties; 202 returns its id, whose status only that workspace can read, never with the user id. The audit
record of a request holds the route template, never the body; no input gets a 5xx.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_assets.contracts.access import AccessRegistry
from analytics_assets.contracts.inbound import AuditStore, PrivacyRequestStore
from analytics_assets.contracts.privacy import DONE
from api.main import create_app
from api.routes.privacy import MAX_BODY_BYTES
from api_serving_data import NOW, make_registry, publish

USER = "anon_7_739541_12"


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("privacy_api")
    publish(root / "serving", checksums=True)
    access = root / "access.sqlite3"
    tokens = make_registry(access, split=True, scopes=("admin",))
    registry = AccessRegistry(access)
    tokens["reader"] = registry.create_key("acme", "reader", ["read"]).token
    tokens["feedback"] = registry.create_key("acme", "feedback", ["feedback"]).token
    registry.create_workspace("empty", exist_ok=True)  # an admin of a workspace without a web property
    tokens["empty"] = registry.create_key("empty", "admin", ["admin"]).token
    return SimpleNamespace(serving=root / "serving", access=access, tokens=tokens)


@pytest.fixture
def api(snapshot, tmp_path):
    store_path = tmp_path / "inbound.sqlite3"
    app = create_app(snapshot.serving, webhook_store=store_path, access_store=snapshot.access,
                     rate_limit="100000/minute", clock=lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield SimpleNamespace(client=client, store=PrivacyRequestStore(store_path), path=store_path,
                              tokens=snapshot.tokens, app=app)


def post(api, kind: str, body=None, *, key: str | None = "acme", content: bytes | None = None):
    headers = {} if key is None else {"Authorization": f"Bearer {api.tokens[key]}"}
    if content is None:
        content, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    return api.client.post(f"/v1/privacy/{kind}", content=content, headers=headers)


def status(api, request_id: str, key: str = "acme"):
    return api.client.get(f"/v1/privacy/requests/{request_id}", headers={"Authorization": f"Bearer {api.tokens[key]}"})


@pytest.mark.parametrize("kind", ["erasures", "exports"])
def test_an_admin_request_is_taken_for_the_workspace_web_properties(api, kind):
    answer = post(api, kind, {"user_id": USER})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "pending" and body["property_ids"] == ["acme-site"]
    assert body["kind"] == {"erasures": "erasure", "exports": "export"}[kind]
    assert USER not in answer.text
    (stored,) = api.store.open_requests()
    assert (stored.request_id, stored.user_id, stored.workspace_id, stored.property_ids) == (
        body["request_id"], USER, "acme", ("acme-site",)
    )
    again = status(api, body["request_id"])
    assert again.status_code == 200 and again.json() == body
    # asked again while it waits: the same request, nothing new; once carried out, a new request is taken
    retried = post(api, kind, {"user_id": USER})
    assert retried.status_code == 200 and retried.json() == body
    assert len(api.store.open_requests()) == 1
    api.store.mark(body["request_id"], DONE, {"rows_total": 0})
    assert post(api, kind, {"user_id": USER}).status_code == 202


def test_the_status_follows_the_pipeline_and_never_names_the_user(api):
    request_id = post(api, "exports", {"user_id": USER}).json()["request_id"]
    api.store.mark(request_id, DONE, {"exported": {"raw.raw_touchpoints": 4}, "rows_total": 4},
                   export_path=f"/data/privacy/exports/{request_id}.json")
    done = status(api, request_id)
    assert done.status_code == 200
    assert done.json()["status"] == "done" and done.json()["rows"] == 4
    assert done.json()["items"] == {"raw.raw_touchpoints": 4}
    assert done.json()["export_path"].endswith(f"{request_id}.json")
    assert USER not in done.text
    # another workspace's admin, and an id nobody issued, get the same 404
    assert status(api, request_id, key="globex").status_code == 404
    assert status(api, "exp_" + "0" * 32).status_code == 404


@pytest.mark.parametrize("key, code", [(None, 401), ("reader", 403), ("feedback", 403)])
def test_only_admin_keys_may_ask(api, key, code):
    for kind in ("erasures", "exports"):
        assert post(api, kind, {"user_id": USER}, key=key).status_code == code
    assert api.store.open_requests() == []
    assert api.client.get("/v1/privacy/requests/era_" + "0" * 32).status_code == 401


@pytest.mark.parametrize("body", [
    {}, {"user_id": ""}, {"user_id": " anon"}, {"user_id": "a" * 129}, {"user_id": "anon\n1"}, {"user_id": 12},
    {"user_id": "anon", "extra": 1}, {"user_id": "an'on"}, {"user_id": "%"}, {"user_id": "anonÿ"}, [USER], None,
])
def test_a_bad_body_is_422_and_stores_nothing(api, body):
    answer = post(api, "erasures", body)
    assert answer.status_code == 422, answer.text
    assert api.store.open_requests() == []


def test_bad_bytes_a_large_body_and_a_bad_id_store_nothing(api):
    assert post(api, "erasures", content=b"\xff\xfe{").status_code == 422
    assert post(api, "erasures", content=b'{"user_id": "' + b"a" * MAX_BODY_BYTES + b'"}').status_code == 413
    assert status(api, "era_XYZ").status_code == 422
    assert status(api, "../../etc").status_code == 404
    assert api.store.open_requests() == []


def test_a_workspace_without_a_web_property_tracks_nobody(api):
    answer = post(api, "erasures", {"user_id": USER}, key="empty")
    assert answer.status_code == 409
    assert api.store.open_requests() == []


def test_the_audit_holds_the_route_never_the_user(api):
    post(api, "erasures", {"user_id": USER})
    api.app.state.audit.flush()
    records = AuditStore(api.path).read_after(0)
    assert any(r["route"] == "/v1/privacy/erasures" and r["status"] == 202 for r in records)
    assert USER not in json.dumps(records)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(max_size=300),
    st.dictionaries(st.text(max_size=10), st.one_of(st.text(max_size=140), st.integers(), st.none()), max_size=3)
    .map(lambda d: json.dumps(d).encode()),
    st.text(max_size=140).map(lambda u: json.dumps({"user_id": u}).encode()),
))
def test_no_body_gets_a_server_error(api, body):
    answer = post(api, "exports", content=body)
    assert answer.status_code in (200, 202, 400, 413, 422), answer.text
