"""The OpenAPI schema of API v1 against the app: schemathesis generates requests (valid and invalid) for
every operation of ``/v1/openapi.json`` and checks each answer (no 5xx, a documented status code and
content type, a body that conforms to the documented schema, invalid input refused). Plus what the schema
itself must state: parameter ranges and the error answers of every keyed operation."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import limits
import schemathesis
from hypothesis import HealthCheck, settings

from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from api.main import create_app
from api_serving_data import NOW, make_registry, publish

WEBHOOK_SECRETS = {  # configured, so the handshakes answer (403/400) instead of 503
    "CYCLE_META_APP_SECRET": "schema-test-meta-secret",
    "CYCLE_META_VERIFY_TOKEN": "schema-test-verify-token",
    "CYCLE_LINKEDIN_CLIENT_SECRET": "schema-test-linkedin-secret",
}


@contextmanager
def _environ(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _build_app():
    """The app over the published test snapshot, with a read key of a workspace owning every account (built
    at import: schemathesis needs the schema when the tests are collected)."""
    root = Path(tempfile.mkdtemp(prefix="cycle-schema-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    publish(root / "serving", checksums=True)
    token = make_registry(root / "access.sqlite3")["default"]
    with _environ(WEBHOOK_SECRETS):
        app = create_app(root / "serving", webhook_store=root / "inbound.sqlite3", access_store=root / "access.sqlite3",
                         rate_limit="1000000/minute", clock=lambda: NOW)
    # schemathesis resends requests without the key (its `ignored_auth` check expects 401), all from one
    # client address: lift the per-address limit on failed attempts (30/minute, tested in test_api_auth.py)
    app.state.access.failed_limit = limits.parse("1000000/minute")
    return app, token


APP, TOKEN = _build_app()
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# The webhook POSTs take a raw signed body the schema does not describe (HMAC over the bytes): their
# hostile inputs are tested in test_api_webhooks_hostile.py.
schema = schemathesis.openapi.from_asgi("/v1/openapi.json", APP).exclude(method="POST", path_regex="^/webhooks/")


# Refusals of schema-valid input that the schema cannot express (documented as 422 with the reason): a
# cursor this API did not issue (or issued for an older snapshot), start after end, a data-driven model
# asked about another window than its modelled one, an overview range over ten years.
SEMANTIC_422 = (
    "cursor is not a cursor this API issued",
    "cursor is out of range",
    "cursor belongs to an earlier published snapshot",
    "must be on or before end",
    "answers for that window only",
    "the range may span at most",
)


def positive_data_accepted(ctx, response, case):
    """schemathesis' ``positive_data_acceptance`` (a schema-valid request gets 2xx, 3xx, 401, 403, 404, 409 or
    429), except for the documented semantic refusals above: any other 4xx to a schema-valid request is a
    schema that promises too much."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code < 400 or response.status_code in (401, 403, 404, 409, 429) or response.status_code >= 500:
        return None  # 5xx: not_a_server_error's
    if response.status_code == 422:
        issues = response.json().get("detail") or []
        if issues and all(any(m in i.get("msg", "") for m in SEMANTIC_422) for i in issues):
            return None
    raise AssertionError(f"schema-valid request refused with {response.status_code}: {response.text[:500]}")


def negative_data_rejected(ctx, response, case):
    """schemathesis' ``negative_data_rejection`` (an invalid request is refused), except for cases whose
    invalid part includes a header: this harness replaces the generated Authorization header with a valid key,
    so such a case is no longer the request schemathesis made invalid (a missing, bad or revoked key is tested
    in test_api_auth.py)."""
    meta = case.meta
    data = getattr(getattr(meta, "phase", None), "data", None) if meta is not None else None
    if data is not None:
        locations = {getattr(data, "parameter_location", None)}
        locations |= {m.parameter_location for m in getattr(data, "mutations", ())}
        if ParameterLocation.HEADER in locations:
            return None
    return negative_data_rejection(ctx, response, case)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case):
    case.call_and_validate(
        headers=AUTH,
        excluded_checks=[positive_data_acceptance, negative_data_rejection],
        additional_checks=[positive_data_accepted, negative_data_rejected],
    )


# -- the schema itself ------------------------------------------------------------------------------


def _operations():
    doc = APP.openapi()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def test_every_keyed_operation_documents_its_errors():
    keyed = [(p, op) for p, m, op in _operations() if p.startswith("/v1/") and p != "/v1/livez"]
    assert len(keyed) >= 15
    for path, op in keyed:
        responses = op["responses"]
        for status in ("200", "401", "403", "422", "429"):
            assert status in responses, f"{path} does not document {status}"
        assert responses["401"].get("content"), path
    livez = APP.openapi()["paths"]["/v1/livez"]["get"]
    assert "401" not in livez["responses"]


def _param(path: str, name: str) -> dict:
    op = APP.openapi()["paths"][path]["get"]
    found = [p for p in op.get("parameters", []) if p["name"] == name]
    assert found, f"{path} has no parameter {name}"
    return found[0]


def _schema_of(param: dict) -> dict:
    """The parameter's schema without the nullable wrapper FastAPI writes for optional parameters."""
    s = param["schema"]
    if "anyOf" in s:
        s = next(x for x in s["anyOf"] if x.get("type") != "null")
    return s


def test_the_schema_states_ranges_and_limits():
    paged = [p for p, m, op in _operations() if any(x["name"] == "cursor" for x in op.get("parameters", []))]
    assert {"/v1/rollups/daily", "/v1/campaigns", "/v1/boosts", "/v1/campaigns/{platform}/{campaign_id}/daily"} <= set(paged)
    for path in paged:
        limit = _schema_of(_param(path, "limit"))
        assert limit["type"] == "integer" and limit["minimum"] == 1 and limit["maximum"] == 1000, path
        assert _schema_of(_param(path, "cursor")).get("maxLength"), path
    top = _schema_of(_param("/v1/optimal-hours", "top"))
    assert (top["minimum"], top["maximum"]) == (1, 24)
    posts = _schema_of(_param("/v1/posts/top", "limit"))
    assert (posts["minimum"], posts["maximum"]) == (1, 20)
    for path in ("/v1/campaigns/{platform}/{campaign_id}", "/v1/boosts/{boost_id}"):
        for p in APP.openapi()["paths"][path]["get"]["parameters"]:
            if p["in"] == "path":
                s = _schema_of(p)
                assert s.get("maxLength") or s.get("pattern") or s.get("enum") or "$ref" in s, (path, p["name"])
    model = _param("/v1/attribution", "model")
    assert model["required"]
    for path, method, op in _operations():
        for p in op.get("parameters", []):
            if p["name"] in ("start", "end"):
                assert "YYYY-MM-DD" in p.get("description", ""), (path, p["name"])
                pattern = re.compile(p["schema"]["pattern"])  # the accepted years, 1970..9000
                assert pattern.match("1970-01-01") and pattern.match("9000-12-31"), (path, p["name"])
                assert not pattern.match("1969-12-31") and not pattern.match("9001-01-01"), (path, p["name"])
