"""API keys on every route of API v1 (and the 0.1 alias paths): 401 for a missing, malformed, wrong or
revoked key, 403 without the route's scope, 429 past the per-key rate limit (and past the per-address limit
on failed attempts), /v1/livez open but silent, and keys stored only as hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from analytics_assets.contracts.access import AccessRegistry
from api.auth import FAILED_AUTH_LIMIT
from api.main import ALIASES, create_app
from api_serving_data import ACCOUNTS, NOW, build_insights, build_recommendations, make_registry, publish

# an existing id of workspace "acme" for every path parameter, a valid value for every required query parameter
PATH_VALUES = {
    "platform": "google_ads",
    "campaign_id": f"go-{ACCOUNTS['google_ads'][0]}-0",
    "boost_id": f"bst-linkedin-{ACCOUNTS['linkedin'][0]}-0",
    "recommendation_id": build_recommendations().set_index("account_id").loc[ACCOUNTS["linkedin"][0], "recommendation_id"].iloc[0],
    "insight_id": build_insights().set_index("account_id").loc[ACCOUNTS["linkedin"][0], "insight_id"].iloc[0],
    "experiment_id": "exp_20240501_budget",  # acme's only
}
REQUIRED_QUERY = {"model": "linear"}
FAILED_LIMIT = int(FAILED_AUTH_LIMIT.split("/")[0])


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("auth")
    serving = root / "serving"
    publish(serving, checksums=True)
    access = root / "access.sqlite3"
    tokens = make_registry(access, split=True)
    return SimpleNamespace(root=root, serving=serving, access=access, tokens=tokens)


def make_app(env: SimpleNamespace, rate_limit: str = "100000/minute", access: Path | None = None):
    return create_app(env.serving, webhook_store=env.root / "inbound.sqlite3", access_store=access or env.access,
                      rate_limit=rate_limit, clock=lambda: NOW)


_clients = iter(range(1, 1 << 24))


def client_of(app, token: str | None = None, *, header: str = "bearer", address: str | None = None) -> TestClient:
    """A client with ``token`` (Bearer or X-API-Key); each from its own address unless one is given, so the
    per-address limit on failed attempts never interferes with a test that does not test it."""
    if address is None:
        n = next(_clients)
        address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    headers = {}
    if token is not None:
        headers = {"Authorization": f"Bearer {token}"} if header == "bearer" else {"X-API-Key": token}
    return TestClient(app, headers=headers, client=(address, 50000))


def _fill(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    assert "{" not in path, f"no test value for a path parameter of {path}: add it to PATH_VALUES"
    return path


def protected_urls(app) -> list[str]:
    """Every GET of the schema under /v1 except /v1/livez, with path and required query parameters filled,
    plus the unversioned alias paths."""
    urls = []
    for path, ops in app.openapi()["paths"].items():
        if not path.startswith("/v1/"):
            assert path.startswith("/webhooks/"), f"{path}: a route outside /v1 that is not a webhook"
            continue
        if path == "/v1/livez":
            continue
        if path.startswith("/v1/privacy/"):  # admin-only GDPR requests and their status: test_api_privacy
            continue
        # the decisions on recommendations (test_api_feedback), the acknowledgements of insights
        # (test_api_read_models) and the tracked events (test_api_events) are the only writes
        if "get" not in ops:
            assert set(ops) == {"post"} and (
                path.startswith(("/v1/recommendations/", "/v1/insights/")) or path == "/v1/events"), (
                f"{path}: {sorted(ops)}")
            continue
        assert set(ops) == {"get"}, f"{path}: only the recommendations and insights take writes, found {sorted(ops)}"
        query = []
        for param in ops["get"].get("parameters", []):
            if param["in"] == "query" and param.get("required"):
                assert param["name"] in REQUIRED_QUERY, f"{path}: no test value for required {param['name']}"
                query.append(f"{param['name']}={REQUIRED_QUERY[param['name']]}")
        urls.append(_fill(path) + ("?" + "&".join(query) if query else ""))
    for alias in ALIASES:
        urls.append(alias + ("?model=linear" if alias == "/attribution" else ""))
    return urls


@pytest.fixture(scope="module")
def urls(env) -> list[str]:
    found = protected_urls(make_app(env))
    assert len(found) >= 15 + len(ALIASES)
    return found


def _assert_401(response, url: str) -> None:
    assert response.status_code == 401, (url, response.status_code, response.text)
    assert response.headers.get("www-authenticate") == "Bearer", url
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "API key" in detail, (url, detail)
    assert "cyk_" in detail  # tells the caller what to send


def test_a_valid_key_reads_every_route(env, urls):
    # the baseline of the refusals below: with a good key every route answers
    app = make_app(env)
    for header in ("bearer", "x-api-key"):
        client = client_of(app, env.tokens["acme"], header=header)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (header, url, response.status_code, response.text[:300])


def _bad_tokens(env) -> dict[str, tuple[str, dict[str, str]]]:
    token = env.tokens["acme"]
    prefix, key_id, secret = token.split("_", 2)
    wrong_secret = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    return {
        "missing": ("bearer", {}),
        "empty bearer": ("bearer", {"Authorization": "Bearer "}),
        "not bearer": ("bearer", {"Authorization": f"Basic {token}"}),
        "malformed": ("bearer", {"Authorization": "Bearer cyk_nothex_short"}),
        "malformed x-api-key": ("x-api-key", {"X-API-Key": "hunter2"}),
        "truncated": ("bearer", {"Authorization": f"Bearer {token[:-1]}"}),
        "unknown key id": ("bearer", {"Authorization": f"Bearer {prefix}_{'0' * 12}_{secret}"}),
        "wrong secret": ("bearer", {"Authorization": f"Bearer {prefix}_{key_id}_{wrong_secret}"}),
        "wrong secret x-api-key": ("x-api-key", {"X-API-Key": f"{prefix}_{key_id}_{wrong_secret}"}),
    }


@pytest.mark.parametrize(
    "kind",
    ["missing", "empty bearer", "not bearer", "malformed", "malformed x-api-key", "truncated", "unknown key id",
     "wrong secret", "wrong secret x-api-key"],
)
def test_every_route_refuses_a_bad_key_with_401(env, urls, kind):
    app = make_app(env)
    _, headers = _bad_tokens(env)[kind]
    for url in urls:
        client = client_of(app)  # a fresh address per request: the failed-attempt limit is tested apart
        _assert_401(client.get(url, headers=headers), url)


def test_a_revoked_key_is_refused_without_restart(env, urls, tmp_path):
    access = tmp_path / "access.sqlite3"
    registry = AccessRegistry(access)
    make_registry(access, split=True)
    new = registry.create_key("acme", "to-revoke", ["read"])
    app = make_app(env, access=access)
    client = client_of(app, new.token)
    assert client.get("/v1/accounts").status_code == 200  # the API has loaded the registry with the key
    registry.revoke_key(new.key.key_id)
    for url in urls:
        _assert_401(client_of(app, new.token).get(url), url)
    # the other keys of the workspace still work
    other = registry.create_key("acme", "other", ["read"])
    assert client_of(app, other.token).get("/v1/accounts").status_code == 200


def test_a_key_without_the_read_scope_gets_403(env, urls, tmp_path):
    access = tmp_path / "access.sqlite3"
    make_registry(access, split=True)
    registry = AccessRegistry(access)
    ingest = registry.create_key("acme", "ingest-only", ["ingest"]).token
    feedback = registry.create_key("acme", "feedback-only", ["feedback", "ingest"]).token
    admin = registry.create_key("acme", "admin", ["admin"]).token  # admin implies read
    app = make_app(env, access=access)
    for url in urls:
        for token in (ingest, feedback):
            response = client_of(app, token).get(url)
            assert response.status_code == 403, (url, response.status_code, response.text)
            assert "'read' scope" in response.json()["detail"]
            assert "www-authenticate" not in response.headers
        assert client_of(app, admin).get(url).status_code == 200, url


def test_livez_answers_without_a_key_and_discloses_only_the_status(env):
    app = make_app(env)
    for headers in ({}, {"Authorization": "Bearer cyk_bogus"}, {"Authorization": f"Bearer {env.tokens['acme']}"}):
        response = client_of(app).get("/v1/livez", headers=headers)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
    # and its schema promises nothing more
    schema = app.openapi()
    ref = schema["paths"]["/v1/livez"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    live = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(live["properties"]) == {"status"}
    assert not schema["paths"]["/v1/livez"]["get"].get("security")


def test_the_schema_declares_both_key_schemes_on_every_protected_operation(env):
    schema = make_app(env).openapi()
    schemes = schema["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    for path, ops in schema["paths"].items():
        if path.startswith("/v1/") and path != "/v1/livez":
            for method, op in ops.items():
                security = op.get("security")
                assert security, (method, path)
                assert {name for req in security for name in req} == set(schemes), (method, path)


def test_rate_limit_per_key(env):
    app = make_app(env, rate_limit="5/minute")
    acme = client_of(app, env.tokens["acme"])
    for i in range(5):
        assert acme.get("/v1/accounts").status_code == 200, i
    refused = acme.get("/v1/overview")  # the limit is per key, across routes
    assert refused.status_code == 429, refused.text
    retry = refused.headers["retry-after"]
    assert retry.isdigit() and 1 <= int(retry) <= 60, retry
    assert "Rate limit" in refused.json()["detail"]
    # the same key from another address is the same key: still limited
    assert client_of(app, env.tokens["acme"], header="x-api-key").get("/v1/accounts").status_code == 429
    # other keys are unaffected, and so is the open probe
    globex = client_of(app, env.tokens["globex"])
    for i in range(5):
        assert globex.get("/v1/accounts").status_code == 200, i
    assert globex.get("/v1/accounts").status_code == 429
    assert client_of(app).get("/v1/livez").status_code == 200


def test_failed_attempts_are_limited_per_client_address(env):
    app = make_app(env)
    guesser = client_of(app, address="203.0.113.7")
    wrong = env.tokens["acme"][:-2] + "xx"
    for i in range(FAILED_LIMIT):
        response = guesser.get("/v1/accounts", headers={"Authorization": f"Bearer {wrong}"} if i % 2 else {})
        assert response.status_code == 401, (i, response.status_code)
    refused = guesser.get("/v1/accounts", headers={"Authorization": f"Bearer {wrong}"})
    assert refused.status_code == 429, refused.text
    assert refused.headers["retry-after"].isdigit() and int(refused.headers["retry-after"]) >= 1
    # another address still gets its 401, and a valid key from the limited address still reads
    _assert_401(client_of(app, address="203.0.113.8").get("/v1/accounts"), "/v1/accounts")
    ok = client_of(app, env.tokens["acme"], address="203.0.113.7").get("/v1/accounts")
    assert ok.status_code == 200, ok.text


def test_keys_are_stored_hashed(tmp_path):
    access = tmp_path / "access.sqlite3"
    tokens = make_registry(access, split=True)
    registry = AccessRegistry(access)
    tokens["admin"] = registry.create_key("globex", "admin", ["admin", "read"]).token
    stored = b"".join(p.read_bytes() for p in sorted(tmp_path.iterdir()) if p.name.startswith("access.sqlite3"))
    assert stored
    for token in tokens.values():
        prefix, key_id, secret = token.split("_", 2)
        assert prefix == "cyk" and len(key_id) == 12 and len(secret) == 43
        assert secret.encode() not in stored
        assert token.encode() not in stored
        assert hashlib.sha256(secret.encode()).hexdigest().encode() in stored  # what is kept instead
        assert key_id.encode() in stored  # public
        # and the listing never carries the secret either
        listed = [k for k in registry.keys() if k.key_id == key_id]
        assert len(listed) == 1 and secret not in repr(listed[0])
