"""Webhook receivers under attack: each test reproduces a fault an attacker found and shows it closed.

1. The LinkedIn challenge endpoint signed anything with the notification secret (a signing oracle).
2. A request without a signature header had its body read before being refused.
3. Chunked bodies were buffered whole before their size was checked.
4. Correctly signed but hostile JSON (deep nesting, huge numbers, lone surrogates, timestamps no
   datetime holds) gave 500s, which the platforms retry.
5. A seeded mutation loop (Hypothesis is not installed) shows no signed body gets a 5xx.

Streamed bodies go through httpx's ASGITransport, which pulls request chunks from the generator only
when the app asks for them (Starlette's TestClient reads a generator whole before sending), so the
chunks a generator yielded are what the server read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import uuid

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

import api.webhooks as webhooks
from api.webhooks import MAX_BODY_BYTES, MAX_JSON_DEPTH, ChallengeRateLimiter
from api_serving_data import stored_webhook_events

META_SECRET = "meta-app-secret-for-hostile-tests"
LI_SECRET = "linkedin-client-secret-for-hostile-tests"
CHUNK = 64 * 1024
HUGE = 50 * 1024 * 1024  # what the attacker claims to send; generated lazily, never allocated


def meta_delivery(value: object = None) -> dict:
    return {
        "object": "page",
        "entry": [
            {
                "id": "104123456789",
                "time": 1789012345,
                "changes": [
                    {
                        "field": "feed",
                        "value": value
                        if value is not None
                        else {
                            "item": "comment",
                            "verb": "add",
                            "post_id": "104123456789_555",
                            "comment_id": "555_777",
                            "created_time": 1789012300,
                            "message": "Love this",
                        },
                    }
                ],
            }
        ],
    }


def linkedin_delivery(**extra: object) -> dict:
    return {
        "type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS",
        "notifications": [
            {
                "notificationId": 80421,
                "organizationalEntity": "urn:li:organization:80001",
                "action": "COMMENT",
                "sourcePost": "urn:li:share:7100000000000000001",
                "lastModifiedAt": 1789012345678,
                **extra,
            }
        ],
    }


def meta_sig(body: bytes) -> str:
    return "sha256=" + hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()


def li_sig(body: bytes) -> str:
    return hmac.new(LI_SECRET.encode(), b"hmacsha256=" + body, hashlib.sha256).hexdigest()


SIGN = {"meta": ("X-Hub-Signature-256", meta_sig), "linkedin": ("X-LI-Signature", li_sig)}


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "api" / "store.sqlite3"


@pytest.fixture
def app(monkeypatch, tmp_path, store_path):
    monkeypatch.setenv("CYCLE_META_APP_SECRET", META_SECRET)
    monkeypatch.setenv("CYCLE_META_VERIFY_TOKEN", "verify")
    monkeypatch.setenv("CYCLE_LINKEDIN_CLIENT_SECRET", LI_SECRET)
    from api.main import create_app

    return create_app(tmp_path / "serving", webhook_store=store_path)


@pytest.fixture
def client(app):
    # A 500 comes back as a response (not a raised exception), so tests can assert on it.
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def hmac_calls(monkeypatch):
    """Every HMAC the webhook module computes (the challenge answer goes through hmac_sha256_hex)."""
    calls: list[bytes] = []
    real = webhooks.hmac_sha256_hex

    def spy(secret: str, message: bytes) -> str:
        calls.append(message)
        return real(secret, message)

    monkeypatch.setattr(webhooks, "hmac_sha256_hex", spy)
    return calls


def post_signed(client, platform: str, body: bytes):
    header, sign = SIGN[platform]
    return client.post(f"/webhooks/{platform}", content=body, headers={header: sign(body), "Content-Type": "application/json"})


def post_streamed(app, platform: str, chunks, headers: dict[str, str]) -> tuple[httpx.Response, int]:
    """POST the chunks (an iterable) as a streamed body; returns the response and how many chunks were pulled."""
    pulled = 0

    async def body():
        nonlocal pulled
        for chunk in chunks:
            pulled += 1
            yield chunk

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.post(f"/webhooks/{platform}", content=body(), headers=headers)

    return anyio.run(send), pulled


def endless_chunks(total: int = HUGE, size: int = CHUNK):
    """``total`` bytes of JSON-looking padding in ``size`` chunks, made one at a time."""
    chunk = b" " * size
    for _ in range(total // size):
        yield chunk


# -- 1. the LinkedIn challenge is not a signing oracle ----------------------------------------------


def test_linkedin_challenge_cannot_be_used_to_forge_a_delivery(client, store_path, hmac_calls):
    body = json.dumps(linkedin_delivery()).encode()
    # The old endpoint answered HMAC(secret, "hmacsha256=" + body), which is exactly X-LI-Signature.
    forged = client.get("/webhooks/linkedin", params={"challengeCode": "hmacsha256=" + body.decode()})
    assert forged.status_code == 400, forged.text
    assert "UUID" in forged.json()["detail"] and "challengeResponse" not in forged.json()
    assert hmac_calls == []  # nothing was computed with the secret
    # What an attacker can obtain: the refused answer (nothing) and answers to genuine UUID challenges.
    code = str(uuid.uuid4())
    genuine = client.get("/webhooks/linkedin", params={"challengeCode": code}).json()["challengeResponse"]
    for signature in [forged.json().get("challengeResponse", ""), genuine, "hmacsha256=" + genuine]:
        r = client.post("/webhooks/linkedin", content=body, headers={"X-LI-Signature": signature})
        assert r.status_code == 401, (signature, r.text)
    assert stored_webhook_events(store_path) == 0


@pytest.mark.parametrize(
    "code",
    [
        "x",
        "hmacsha256={}",
        "890e46654dfe4ab1b689ed553bceeed0",  # hex without hyphens
        "{890e4665-4dfe-4ab1-b689-ed553bceeed0}",  # braces (uuid.UUID would accept them)
        "urn:uuid:890e4665-4dfe-4ab1-b689-ed553bceeed0",
        "890e4665-4dfe-4ab1-b689-ed553bceeed0\n",  # a trailing newline ($ would accept it)
        " 890e4665-4dfe-4ab1-b689-ed553bceeed0",
        "890e4665-4dfe-4ab1-b689-ed553bceeed0x",
        "890e4665-4dfe-4ab1-b689-ed553bceeedg0"[:36],  # not hex
        "\u0668\u0669\u0660e4665-4dfe-4ab1-b689-ed553bceeed0",  # Arabic-Indic digits
    ],
)
def test_linkedin_challenge_answers_only_a_canonical_uuid(client, hmac_calls, code):
    r = client.get("/webhooks/linkedin", params={"challengeCode": code})
    assert r.status_code == 400, r.text
    assert "challengeResponse" not in r.json()
    assert hmac_calls == []


def test_linkedin_challenge_still_answers_uuids_in_either_case(client):
    for code in ["890e4665-4dfe-4ab1-b689-ed553bceeed0", "890E4665-4DFE-4AB1-B689-ED553BCEEED0"]:
        r = client.get("/webhooks/linkedin", params={"challengeCode": code})
        assert r.status_code == 200, r.text
        assert r.json()["challengeResponse"] == hmac.new(LI_SECRET.encode(), code.encode(), hashlib.sha256).hexdigest()


def test_linkedin_challenge_is_rate_limited_per_client_address(app, hmac_calls):
    now = [1000.0]
    app.state.webhook_challenge_limiter = ChallengeRateLimiter(limit=10, window_s=60, clock=lambda: now[0])
    attacker = TestClient(app, client=("203.0.113.9", 40000))
    code = {"challengeCode": "890e4665-4dfe-4ab1-b689-ed553bceeed0"}
    # malformed codes count too, so the endpoint cannot be probed for free
    assert [attacker.get("/webhooks/linkedin", params={"challengeCode": "x"}).status_code for _ in range(5)] == [400] * 5
    assert [attacker.get("/webhooks/linkedin", params=code).status_code for _ in range(5)] == [200] * 5
    now[0] += 30
    for params in (code, {"challengeCode": "x"}):
        refused = attacker.get("/webhooks/linkedin", params=params)
        assert refused.status_code == 429, refused.text
        assert refused.headers["Retry-After"] == "30"  # when the first of the ten leaves the window
    assert len(hmac_calls) == 5  # only the five well-formed, allowed challenges were answered
    # another address (LinkedIn's validator) is not affected
    linkedin = TestClient(app, client=("198.51.100.7", 443))
    assert linkedin.get("/webhooks/linkedin", params=code).status_code == 200
    now[0] += 30.5  # the window has slid past the first ten
    assert attacker.get("/webhooks/linkedin", params=code).status_code == 200


def test_challenge_rate_limiter_memory_is_bounded():
    limiter = ChallengeRateLimiter(limit=3, window_s=60, max_clients=5, clock=lambda: 0.0)
    for i in range(1000):
        assert limiter.retry_after(f"10.0.{i // 256}.{i % 256}") is None
    assert len(limiter._hits) == 5
    assert all(len(hits) <= 3 for hits in limiter._hits.values())
    assert [limiter.retry_after("192.0.2.1") for _ in range(4)] == [None, None, None, 60]


# -- 2. a missing signature is refused before the body is read --------------------------------------


@pytest.mark.parametrize(
    "platform,headers",
    [
        ("meta", {}),
        ("meta", {"X-Hub-Signature-256": ""}),
        ("meta", {"X-Hub-Signature-256": "sha1=abc"}),  # malformed: refused from the header alone
        ("linkedin", {}),
        ("linkedin", {"X-LI-Signature": ""}),
    ],
)
def test_unsigned_request_is_refused_before_its_body_is_read(app, store_path, platform, headers):
    r, pulled = post_streamed(app, platform, endless_chunks(), headers)
    assert r.status_code == 401, r.text
    assert pulled == 0  # not a single body chunk was read
    assert stored_webhook_events(store_path) == 0


# -- 3. bodies are read as a stream and cut off at the limit ----------------------------------------

# the chunks the server may pull: up to the limit, plus the one that crosses it
MAX_PULLED = MAX_BODY_BYTES // CHUNK + 1


@pytest.mark.parametrize("platform", ["meta", "linkedin"])
def test_chunked_oversized_body_is_cut_off_at_the_limit(app, store_path, platform):
    header, sign = SIGN[platform]
    r, pulled = post_streamed(app, platform, endless_chunks(), {header: sign(b"whatever")})
    assert r.status_code == 413, r.text
    assert str(MAX_BODY_BYTES) in r.json()["detail"]
    assert pulled <= MAX_PULLED, pulled  # about 1 MiB of the 50 MB was read
    assert stored_webhook_events(store_path) == 0


@pytest.mark.parametrize("platform", ["meta", "linkedin"])
def test_body_longer_than_its_content_length_is_cut_off_at_the_limit(app, store_path, platform):
    header, sign = SIGN[platform]
    headers = {header: sign(b"whatever"), "Content-Length": "1000"}  # understates the body
    r, pulled = post_streamed(app, platform, endless_chunks(), headers)
    assert r.status_code == 413, r.text
    assert pulled <= MAX_PULLED, pulled
    assert stored_webhook_events(store_path) == 0


@pytest.mark.parametrize("declared", [str(MAX_BODY_BYTES + 1), str(HUGE), "9" * 5000])
def test_declared_oversized_body_is_refused_before_it_is_read(app, store_path, declared):
    r, pulled = post_streamed(app, "meta", endless_chunks(), {"X-Hub-Signature-256": meta_sig(b""), "Content-Length": declared})
    assert r.status_code == 413, r.text
    assert pulled == 0
    assert stored_webhook_events(store_path) == 0


def test_malformed_content_length_is_refused(app, store_path):
    for declared in ["abc", "-1", "1e3", "\u00b2"]:  # "\u00b2" (superscript 2) is a digit to str.isdigit, not to int()
        headers = {"X-Hub-Signature-256": meta_sig(b"{}"), "Content-Length": declared.encode("latin-1")}
        r, _ = post_streamed(app, "meta", [b"{}"], headers)
        assert r.status_code == 400, (declared, r.text)
    assert stored_webhook_events(store_path) == 0


@pytest.mark.parametrize("platform", ["meta", "linkedin"])
def test_signed_delivery_sent_in_small_chunks_is_still_accepted(app, store_path, platform):
    body = json.dumps(meta_delivery() if platform == "meta" else linkedin_delivery()).encode()
    header, sign = SIGN[platform]
    chunks = [body[i : i + 7] for i in range(0, len(body), 7)]
    r, pulled = post_streamed(app, platform, chunks, {header: sign(body)})
    assert r.status_code == 200, r.text
    assert pulled == len(chunks) and r.json()["stored"] == 1


# -- 4. signed hostile JSON is a 400, never a 500 ---------------------------------------------------

DEEP = "[" * 5000 + "]" * 5000
HUGE_INT = "1" + "0" * 5000  # past Python's 4,300-digit int conversion limit
BIG_TS = "9" * 400


def _splice(delivery: dict, marker: str, raw: str) -> bytes:
    """The delivery as JSON with the string ``"<marker>"`` replaced by raw JSON text."""
    text = json.dumps(delivery)
    assert text.count(f'"{marker}"') == 1
    return text.replace(f'"{marker}"', raw).encode("utf-8")


def meta_with(raw: str, where: str = "message") -> bytes:
    value = meta_delivery()["entry"][0]["changes"][0]["value"]
    return _splice(meta_delivery(dict(value, **{where: "@@"})), "@@", raw)


def linkedin_with(raw: str, where: str = "extra") -> bytes:
    return _splice(linkedin_delivery(**{where: "@@"}), "@@", raw)


HOSTILE = {
    # name: (raw JSON text, field it goes into (Meta, LinkedIn), what the 400 says)
    "depth-5000": (DEEP, ("message", "extra"), "deeper than"),
    "depth-just-over-limit": ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, ("message", "extra"), "deeper than"),
    "int-5000-digits": (HUGE_INT, ("comment_id", "notificationId"), "digits"),
    "int-31-digits": ("1" * 31, ("message", "extra"), "digits"),
    "timestamp-400-digits": (BIG_TS, ("created_time", "lastModifiedAt"), "digits"),
    "timestamp-past-year-9999": ("1" * 25, ("created_time", "lastModifiedAt"), "years 1 and 9999"),
    "timestamp-float-1e300": ("1e300", ("created_time", "lastModifiedAt"), "years 1 and 9999"),
    "timestamp-negative": ("-99999999999999", ("created_time", "lastModifiedAt"), "years 1 and 9999"),
    "iso-timestamp-past-9999-in-utc": ('"9999-12-31T23:59:59-05:00"', ("created_time", "lastModifiedAt"), "in UTC"),
    "iso-timestamp-before-year-1-in-utc": ('"0001-01-01T00:00:00+05:00"', ("created_time", "lastModifiedAt"), "in UTC"),
    "float-overflow": ("1e999", ("message", "extra"), "finite"),
    "float-long-literal": ("0." + "1" * 5000, ("message", "extra"), "finite"),
    "NaN": ("NaN", ("message", "extra"), "NaN"),
    "Infinity": ("-Infinity", ("message", "extra"), "Infinity"),
    "lone-high-surrogate": ('"\\ud800"', ("message", "extra"), "lone surrogate"),
    "lone-low-surrogate": ('"a\\udc00b"', ("message", "extra"), "lone surrogate"),
    "high-surrogate-then-not-low": ('"\\ud800\\u0041"', ("message", "extra"), "lone surrogate"),
    "surrogate-in-a-key": ('{"\\udfff": 1}', ("message", "extra"), "lone surrogate"),
    "surrogate-in-the-id": ('"\\ud800"', ("comment_id", "notificationId"), "lone surrogate"),
}


@pytest.mark.parametrize("platform", ["meta", "linkedin"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_signed_hostile_json_is_400_and_stores_nothing(client, store_path, platform, name):
    raw, (meta_field, li_field), fragment = HOSTILE[name]
    body = meta_with(raw, meta_field) if platform == "meta" else linkedin_with(raw, li_field)
    r = post_signed(client, platform, body)
    assert r.status_code == 400, r.text[:300]
    assert fragment in r.json()["detail"]
    assert stored_webhook_events(store_path) == 0


@pytest.mark.parametrize("platform", ["meta", "linkedin"])
def test_encoded_surrogate_bytes_are_400(client, store_path, platform):
    body = (meta_with('"@"') if platform == "meta" else linkedin_with('"@"')).replace(b"@", b"\xed\xa0\x80")
    r = post_signed(client, platform, body)
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    assert stored_webhook_events(store_path) == 0


@pytest.mark.parametrize(
    "raw",
    [
        '"' + "[{" * 5000 + '"',  # brackets inside a string are not nesting
        '"\\"[[[[\\\\"',  # escaped quotes and backslashes do not end the string early
        "[" * 20 + "]" * 20,
        "1" * 30,  # the largest integer allowed
        "1.5e300",  # a finite float that is not a timestamp
        '"\\ud83d\\ude00 \u00e9"',  # a surrogate pair (an emoji) is valid Unicode
    ],
)
def test_inputs_within_the_bounds_are_still_accepted(client, store_path, raw):
    for platform, body in [("meta", meta_with(raw)), ("linkedin", linkedin_with(raw))]:
        r = post_signed(client, platform, body)
        assert r.status_code == 200, (platform, r.text[:300])


def test_rejected_hostile_delivery_leaves_an_existing_store_unchanged(client, store_path):
    good = json.dumps(linkedin_delivery()).encode()
    assert post_signed(client, "linkedin", good).status_code == 200
    before = webhooks.WebhookStore(store_path).read_after(0)
    assert post_signed(client, "linkedin", linkedin_with(BIG_TS, "lastModifiedAt")).status_code == 400
    assert webhooks.WebhookStore(store_path).read_after(0) == before


# -- 5. random mutations of signed deliveries never get a 5xx ---------------------------------------

# raw JSON fragments that exercise the bounds (and Python's json extensions)
TOKENS = ["[", "]", "{", "}", '"', "\\", ",", ":", "\\ud800", '"\\udc00"', "1e999", "NaN", "-", "9" * 40, "null", "\x00", "\xff"]
# whole values: other JSON types, then raw literals beyond the bounds (each gave a 500 somewhere)
SWAPS = [None, True, False, 0, -1, 1.5, 10**20, "", "x", "\ud83d\ude00", [], {}, [1, [2]], {"a": {"b": None}}]
HOSTILE_VALUES = [DEEP, HUGE_INT, BIG_TS, "1" * 25, "1e300", '"\\ud800"', '"9999-12-31T23:59:59-05:00"', "1e999", "NaN"]


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))


def _replace_value(rng: random.Random, delivery: dict, raw: str) -> bytes:
    """The delivery with one value, picked at random, replaced by the raw JSON text ``raw``."""
    doc = json.loads(json.dumps(delivery))
    path = rng.choice(list(_paths(doc))[1:])
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = "@@mutant@@"
    return json.dumps(doc).replace('"@@mutant@@"', raw).encode("utf-8")


def _mutate(rng: random.Random, body: bytes, delivery: dict) -> bytes:
    kind = rng.randrange(6)
    b = bytearray(body)
    i = rng.randrange(len(b))
    if kind == 0:  # byte flips
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if kind == 1:  # truncation
        return bytes(b[:i])
    if kind == 2:  # duplication of a slice
        j = rng.randrange(i, len(b) + 1)
        return bytes(b[:j] + b[i:j] * rng.randint(1, 50) + b[j:])
    if kind == 3:  # a token inserted anywhere
        return bytes(b[:i]) + rng.choice(TOKENS).encode("utf-8") + bytes(b[i:])
    if kind == 4:  # a value of another type
        return _replace_value(rng, delivery, json.dumps(rng.choice(SWAPS)))
    return _replace_value(rng, delivery, rng.choice(HOSTILE_VALUES))  # a value beyond the bounds


def test_random_mutations_of_signed_deliveries_never_get_a_5xx(client):
    rng = random.Random(0)
    seeds = {"meta": meta_delivery(), "linkedin": linkedin_delivery()}
    statuses: dict[int, int] = {}
    for n in range(300):
        platform = "meta" if n % 2 else "linkedin"
        delivery = seeds[platform]
        body = _mutate(rng, json.dumps(delivery).encode(), delivery)
        r = post_signed(client, platform, body)
        assert r.status_code in (200, 400, 413, 422), (n, platform, body[:300], r.status_code, r.text[:300])
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    # the loop reaches accepted, unparsable and wrongly shaped deliveries alike
    assert {200, 400, 422} <= set(statuses), statuses
