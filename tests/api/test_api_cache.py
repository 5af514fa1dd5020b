"""The response cache (api/cache.py): a cached answer is the uncached one, byte for byte, for every route; a
republished snapshot or a workspace's new account shows on the next request; one workspace never gets
another's answer; 401/403/429 and the audit record happen on every hit; the cache keeps to its byte bound."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from analytics_assets.contracts.access import Account, AccessRegistry
from analytics_assets.contracts.inbound import AuditStore
from api.cache import ResponseCache, cache_key, normalized_query
from api.main import create_app
from api_serving_data import ACCOUNTS, NOW, accounts_of, make_registry, publish
from test_api_auth import PATH_VALUES, protected_urls

# routes whose answers are never cached (the disk and the clock; the workspace's name; the recommendations,
# whose status follows the decisions in the API's store and the clock)
UNCACHED = ("/v1/health", "/v1/accounts", "/health")
UNCACHED_PREFIX = ("/v1/recommendations", "/v1/insights")  # they apply what the API's store holds now


def cached_route(url: str) -> bool:
    path = url.split("?")[0]
    return path not in UNCACHED and not path.startswith(UNCACHED_PREFIX)
# query variants on top of every route's plain URL: pages, filters, repeated names (the last one wins)
VARIANTS = (
    "/v1/rollups/daily?limit=3", "/v1/rollups/daily?platform=linkedin&start=2024-05-03&end=2024-05-09",
    "/v1/rollups/daily?end=2024-05-09&start=2024-05-03&platform=linkedin",
    "/v1/optimal-hours?top=3&top=5", "/v1/optimal-hours?top=5&top=3", "/v1/optimal-hours?platform=x&top=2",
    "/v1/overview?start=2024-05-05&end=2024-05-08", "/v1/attribution?model=position_based&start=2024-05-04",
    "/v1/campaigns?platform=meta_ads&limit=2", "/v1/boosts?status=estimated", "/v1/posts/top?limit=3",
)
DATA_URLS = ("/v1/optimal-hours", "/v1/rollups/daily", "/v1/overview", "/v1/attribution?model=linear",
             "/v1/campaigns", "/v1/boosts")


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("cache")
    serving = root / "serving"
    publish(serving, checksums=True)  # the current format: the cache needs the manifest's checksums
    access = root / "access.sqlite3"
    tokens = make_registry(access, split=True)
    everyone = root / "access-all.sqlite3"
    tokens["default"] = make_registry(everyone)["default"]
    return SimpleNamespace(root=root, serving=serving, access=access, everyone=everyone, tokens=tokens)


def make_app(serving: Path, access: Path, state: Path, *, cache_mb: float = 64, rate_limit: str = "100000/minute"):
    return create_app(serving, webhook_store=state / "inbound.sqlite3", access_store=access, rate_limit=rate_limit,
                      clock=lambda: NOW, response_cache_mb=cache_mb)


def client(app, token: str | None, address: str = "10.0.0.1") -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {token}"} if token else {}, client=(address, 5000))


def same(a, b, url: str) -> None:
    assert a.status_code == b.status_code, (url, a.status_code, b.status_code, a.text[:300], b.text[:300])
    assert a.content == b.content, url
    assert a.headers["content-type"] == b.headers["content-type"], url


# ------------------------------------------------------------------------------------------------ answers


def test_a_cached_answer_equals_the_uncached_one_for_every_route(env, tmp_path):
    cached_app = make_app(env.serving, env.everyone, tmp_path)
    plain_app = make_app(env.serving, env.everyone, tmp_path, cache_mb=0)
    cached, plain = client(cached_app, env.tokens["default"]), client(plain_app, env.tokens["default"])
    urls = protected_urls(cached_app) + list(VARIANTS)
    first_pages = {}
    for url in urls:
        expected = plain.get(url)
        assert expected.status_code == 200, (url, expected.text[:300])
        same(cached.get(url), expected, url)  # a miss, stored
        same(cached.get(url), expected, url)  # a hit
        first_pages[url] = expected
    cache = cached_app.state.response_cache
    hits = cache.hits
    assert plain_app.state.response_cache.stores == 0
    for url in urls:  # every cached route answers the second time from memory, the others never do
        before = cache.hits
        same(cached.get(url), first_pages[url], url)
        served_from_cache = cache.hits > before
        assert served_from_cache == cached_route(url), url
    assert cache.hits > hits
    # the next page of a cached first page: its cursor belongs to the same snapshot
    cursor = json.loads(first_pages["/v1/rollups/daily?limit=3"].content)["next_cursor"]
    assert cursor
    url = f"/v1/rollups/daily?limit=3&cursor={cursor}"
    same(cached.get(url), plain.get(url), url)
    # the values of a repeated name keep their order: two answers, both right
    a, b = (json.loads(cached.get(u).content)["top"] for u in ("/v1/optimal-hours?top=3&top=5", "/v1/optimal-hours?top=5&top=3"))
    assert (a, b) == (5, 3)


def test_errors_are_never_cached(env, tmp_path):
    app = make_app(env.serving, env.everyone, tmp_path)
    c = client(app, env.tokens["default"])
    for url in ("/v1/campaigns/google_ads/nope", "/v1/attribution?model=nope", "/v1/rollups/daily?start=2024-05-09&end=2024-05-01"):
        first, second = c.get(url), c.get(url)
        assert first.status_code in (404, 422) and second.status_code == first.status_code, url
    assert app.state.response_cache.stores == 0


def test_a_republished_snapshot_is_served_on_the_next_request(env, tmp_path):
    serving = tmp_path / "serving"
    publish(serving, generation=1, checksums=True)
    cached_app = make_app(serving, env.everyone, tmp_path)
    cached = client(cached_app, env.tokens["default"])
    old = {url: (cached.get(url), cached.get(url))[1] for url in DATA_URLS}  # stored, then served from memory
    assert cached_app.state.response_cache.hits >= len(DATA_URLS)
    publish(serving, generation=2, checksums=True)  # data files first, manifest last, as the publisher does
    plain = client(make_app(serving, env.everyone, tmp_path, cache_mb=0), env.tokens["default"])
    changed = 0
    for url in DATA_URLS:
        now = cached.get(url)
        same(now, plain.get(url), url)
        changed += now.content != old[url].content
        same(cached.get(url), now, url)  # and the new answer is cached in turn
    assert changed >= 4  # generation 2 has other numbers and days
    assert len(cached_app.state.response_cache) == len(DATA_URLS)  # the old snapshot's answers are gone


def test_answers_from_a_last_verified_copy_are_not_cached(env, tmp_path):
    serving = tmp_path / "serving"
    publish(serving, generation=1, checksums=True)
    app = make_app(serving, env.everyone, tmp_path)
    c = client(app, env.tokens["default"])
    url = "/v1/rollups/daily"
    first = c.get(url)
    assert first.status_code == 200 and app.state.response_cache.stores == 1
    publish(serving, generation=2, checksums=True)
    (serving / "account_daily.parquet").write_bytes(b"not the file the manifest names")
    stores = app.state.response_cache.stores
    for _ in range(3):  # the store answers from generation 1's verified copy: a mix, never kept
        same(c.get(url), first, url)
    assert app.state.response_cache.stores == stores
    publish(serving, generation=2, checksums=True)  # the right bytes again
    plain = client(make_app(serving, env.everyone, tmp_path, cache_mb=0), env.tokens["default"])
    fixed = c.get(url)
    same(fixed, plain.get(url), url)
    assert fixed.content != first.content and app.state.response_cache.stores == stores + 1
    same(c.get(url), fixed, url)


def test_a_manifest_without_checksums_is_not_cached(env, tmp_path):
    serving = tmp_path / "serving"
    publish(serving, generation=1)  # a manifest from before checksums: files are read on every request
    app = make_app(serving, env.everyone, tmp_path)
    c = client(app, env.tokens["default"])
    plain = client(make_app(serving, env.everyone, tmp_path, cache_mb=0), env.tokens["default"])
    for url in DATA_URLS:
        same(c.get(url), plain.get(url), url)
        same(c.get(url), plain.get(url), url)
    assert app.state.response_cache.stores == 0 and app.state.response_cache.hits == 0


# ------------------------------------------------------------------------------------------------ workspaces


def test_two_workspaces_never_get_each_others_cached_answer(env, tmp_path):
    app = make_app(env.serving, env.access, tmp_path)
    plain_app = make_app(env.serving, env.access, tmp_path, cache_mb=0)
    urls = [u for u in protected_urls(app) if cached_route(u)] + list(VARIANTS)
    answers = {}
    for round_ in (1, 2):  # the second round is served from the cache
        hits = app.state.response_cache.hits
        for workspace in ("acme", "globex"):
            c, plain = client(app, env.tokens[workspace]), client(plain_app, env.tokens[workspace])
            for url in urls:
                got = c.get(url)
                same(got, plain.get(url), f"{workspace} {url}")
                answers[(workspace, url)] = got
        ok = sum(answers[(w, u)].status_code == 200 for w in ("acme", "globex") for u in urls)
        # round 1: only the reordered duplicate of VARIANTS hits, once per workspace; round 2: every 200
        assert app.state.response_cache.hits - hits == (2 if round_ == 1 else ok)
    differ = [u for u in DATA_URLS if answers[("acme", u)].content != answers[("globex", u)].content]
    assert len(differ) == len(DATA_URLS) - 1, differ  # all but the optimal hours, one model per platform
    # acme's campaigns and boosts, cached for acme, are a 404 for globex like any id it does not own
    by_id = [u for u in urls if any(quote(v, safe="") in u for k, v in PATH_VALUES.items() if k != "platform")]
    assert len(by_id) >= 3
    for url in by_id:
        assert answers[("acme", url)].status_code == 200, url
        assert answers[("globex", url)].status_code == 404, url


def test_the_cache_is_keyed_by_the_accounts_not_by_the_key(env, tmp_path):
    access = tmp_path / "access.sqlite3"
    shutil.copy(env.access, access)
    second = AccessRegistry(access).create_key("acme", "second", ["read"]).token
    app = make_app(env.serving, access, tmp_path)
    first = client(app, env.tokens["acme"]).get("/v1/rollups/daily")
    cache = app.state.response_cache
    hits = cache.hits
    again = client(app, second).get("/v1/rollups/daily")  # another key of the same workspace: the same answer
    assert cache.hits == hits + 1
    same(again, first, "/v1/rollups/daily")


def test_adding_an_account_to_a_workspace_changes_its_answer_on_the_next_request(env, tmp_path):
    access = tmp_path / "access.sqlite3"
    registry = AccessRegistry(access)
    registry.create_workspace("w")
    later = Account("google_ads", ACCOUNTS["google_ads"][0])
    registry.add_accounts("w", [Account(p, a) for p, a in accounts_of("acme") if Account(p, a) != later])
    token = registry.create_key("w", "tests", ["read"]).token
    app = make_app(env.serving, access, tmp_path)
    plain_app = make_app(env.serving, access, tmp_path, cache_mb=0)
    c, plain = client(app, token), client(plain_app, token)
    urls = ("/v1/campaigns", "/v1/rollups/daily", "/v1/overview", "/v1/platforms/comparison")
    before = {url: (c.get(url), c.get(url))[1] for url in urls}
    assert app.state.response_cache.hits >= len(urls)
    registry.add_accounts("w", [later])
    for url in urls:
        after = c.get(url)
        same(after, plain.get(url), url)
        assert after.content != before[url].content, url  # the new account's rows are in
    registry.remove_account("w", later)
    for url in urls:
        same(c.get(url), before[url], url)


# ------------------------------------------------------------------------------------------------ checks


def test_401_403_429_and_audit_records_happen_on_cache_hits(env, tmp_path):
    access = tmp_path / "access.sqlite3"
    shutil.copy(env.access, access)
    registry = AccessRegistry(access)
    spare = registry.create_key("acme", "spare", ["read"])
    no_read = registry.create_key("acme", "writer", ["feedback"]).token
    app = make_app(env.serving, access, tmp_path, rate_limit="4/minute")
    cache = app.state.response_cache
    url = "/v1/rollups/daily?limit=5"
    acme = client(app, env.tokens["acme"])
    answers = [acme.get(url) for _ in range(4)]  # one miss, three hits: the limit's four requests
    assert [a.status_code for a in answers] == [200] * 4
    assert cache.hits == 3
    refused = acme.get(url)  # cached, but over the key's limit
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) >= 1
    assert cache.hits == 3
    # another key of the same workspace has its own limit, and gets the cached answer
    assert client(app, spare.token).get(url).content == answers[0].content
    assert cache.hits == 4
    registry.revoke_key(spare.key.key_id)
    revoked = client(app, spare.token, address="10.0.0.2").get(url)
    assert revoked.status_code == 401 and revoked.headers["www-authenticate"] == "Bearer"
    assert client(app, None, address="10.0.0.3").get(url).status_code == 401
    assert client(app, "cyk_0123456789ab_" + "x" * 43, address="10.0.0.4").get(url).status_code == 401
    forbidden = client(app, no_read, address="10.0.0.5").get(url)
    assert forbidden.status_code == 403 and "read" in forbidden.json()["detail"]
    assert cache.hits == 4
    # the same answers as the route gives without the cache
    (tmp_path / "plain").mkdir()
    plain_app = make_app(env.serving, access, tmp_path / "plain", rate_limit="4/minute", cache_mb=0)
    plain = client(plain_app, env.tokens["acme"])
    assert [plain.get(url).content for _ in range(4)] == [a.content for a in answers]
    refused_too = plain.get(url)
    assert refused_too.status_code == 429 and refused_too.json()["detail"].split(";")[0] == refused.json()["detail"].split(";")[0]

    app.state.audit.flush()
    records = [r for r in AuditStore(tmp_path / "inbound.sqlite3").read_after(0) if r["route"] == "/v1/rollups/daily"]
    statuses = sorted(r["status"] for r in records)
    assert statuses == sorted([200] * 4 + [429, 200, 401, 401, 401, 403]), statuses
    acme_id = registry.keys("acme")[0].key_id
    hits = [r for r in records if r["key_id"] == acme_id and r["status"] == 200]
    assert len(hits) >= 4 and all(r["workspace_id"] == "acme" and r["response_bytes"] == len(answers[0].content) for r in hits)
    assert not any(spare.token in json.dumps(r, default=str) for r in records)


def test_the_cache_stays_within_its_byte_bound(env, tmp_path):
    app = make_app(env.serving, env.everyone, tmp_path, cache_mb=0.008)  # 8 KB: a handful of answers
    plain = client(make_app(env.serving, env.everyone, tmp_path, cache_mb=0), env.tokens["default"])
    cache = app.state.response_cache
    c = client(app, env.tokens["default"])
    urls = [f"/v1/rollups/daily?limit={n}" for n in range(1, 40)] + ["/v1/boosts?limit=1000", "/v1/campaigns"]
    for url in urls * 2:
        same(c.get(url), plain.get(url), url)
        assert cache.bytes <= cache.max_bytes
        assert cache.bytes == sum(e.size for e in cache._entries.values())
    assert cache.evictions > 0 and 0 < len(cache) < len(urls)
    big = c.get("/v1/boosts?limit=1000")
    assert len(big.content) > cache.max_bytes  # too big to keep: answered, not stored
    assert all(key[1] != "/v1/boosts" for key in cache._entries)


# ------------------------------------------------------------------------------------------------ units


def test_the_cache_drops_another_snapshots_entries_and_evicts_least_recently_used():
    cache = ResponseCache(2000)
    headers = ((b"content-type", b"application/json"),)
    for n in range(3):
        assert cache.put("v1", ("a", f"/p{n}", ()), b"x" * 300, headers)
    assert cache.get("v1", ("a", "/p0", ())) is not None  # now the most recent
    assert cache.put("v1", ("a", "/p3", ()), b"x" * 300, headers)
    assert cache.put("v1", ("a", "/p4", ()), b"x" * 300, headers)
    assert cache.get("v1", ("a", "/p1", ())) is None  # the least recently used went first
    assert cache.get("v1", ("a", "/p0", ())) is not None
    assert cache.bytes <= cache.max_bytes
    assert not cache.put("v1", ("a", "/huge", ()), b"x" * 5000, headers)
    assert cache.get("v2", ("a", "/p0", ())) is None and len(cache) == 0 and cache.bytes == 0


def test_the_key_orders_names_but_keeps_the_order_of_a_names_values():
    assert normalized_query(b"b=2&a=1") == normalized_query(b"a=1&b=2") == (("a", "1"), ("b", "2"))
    assert normalized_query(b"top=3&top=5") != normalized_query(b"top=5&top=3")
    assert normalized_query(b"start=&x=%20y") == (("start", ""), ("x", " y"))
    one = frozenset({Account("x", "1"), Account("reddit", "t2_a")})
    other = frozenset({Account("reddit", "t2_a"), Account("x", "1")})
    scope = {"path": "/v1/boosts", "query_string": b"limit=2"}
    assert cache_key(one, scope) == cache_key(other, scope)
    assert cache_key(one, scope) != cache_key(frozenset({Account("x", "1")}), scope)
    assert cache_key(frozenset({Account("x", "1\tz")}), scope) != cache_key(frozenset({Account("x\t1", "z")}), scope)


def test_the_manifest_is_read_again_only_when_its_stat_changes(env, tmp_path, monkeypatch):
    from api import store as store_module

    serving = tmp_path / "serving"
    shutil.copytree(env.serving, serving)
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: (opened.append(str(path)), real_open(path, *a, **k))[1])
    reads = lambda: len([p for p in opened if p.endswith("manifest.json")])  # noqa: E731
    # just written: the stat may not tell a replacement within the timestamp granularity, so it is read again
    store = store_module.ServingStore(serving)
    version = store.snapshot_version()
    assert version is not None and store.snapshot_version() == version and reads() == 2
    # written long enough ago (here: the racy window made 0): one stat a call, no read
    monkeypatch.setattr(store_module, "RACY_NS", 0)
    time.sleep(0.05)
    store = store_module.ServingStore(serving)
    assert store.snapshot_version() == version and reads() == 3
    for _ in range(5):
        assert store.snapshot_version() == version
        store.manifest()
    assert reads() == 3
    doc = json.loads((serving / "manifest.json").read_text())
    doc["published_at"] = "2024-05-15T07:00:00Z"
    (serving / "manifest.json").write_text(json.dumps(doc))  # in place: same inode, new size and times
    assert store.snapshot_version() != version
    assert store.manifest().published_at.hour == 7
