"""Webhook receivers for Meta (Graph API webhooks) and LinkedIn (signed notifications).

Every POST is verified before anything else happens: a request without a signature header gets 401
before its body is read; the body is then read as a stream and cut off with 413 as soon as it passes
``MAX_BODY_BYTES`` (chunked or not), and the HMAC-SHA256 of the raw body is computed with the app's
secret and compared to the signature header with ``hmac.compare_digest`` (constant time). A
malformed or wrong signature gets 401 and nothing is parsed or stored. Only then is the body parsed,
with bounds (nesting depth, number size, valid Unicode, timestamps that fit a datetime): a signed body
that is not JSON or breaks a bound gets 400, JSON that is not the platform's delivery shape gets 422,
and again nothing is stored. The platforms retry deliveries answered with a 5xx, so no body, however
hostile, may produce one. Accepted events go to the API's own append-only store
(:mod:`analytics_assets.contracts.inbound`), deduplicated on the platform's event id, from which the Dagster asset
``raw_webhook_events`` loads them into the warehouse.

An event whose payload names a person whose erasure the store has taken (GDPR: the whole pseudonymous id, checked
by the store inside its transaction, ``contracts.inbound.ErasedSubjects``) is not stored, from the moment the
erasure is taken: the delivery is still answered **200**, with the event under ``discarded``. A platform retries
any other answer for hours, and each retry would only be discarded again; the discard is recorded in the store's
``privacy_discards`` (the erasure's request id and the count, never the id).

Secrets come from the environment; an endpoint whose secret is not set answers 503 and never accepts
unsigned data:

* ``CYCLE_META_APP_SECRET``: Meta app secret (``X-Hub-Signature-256: sha256=<hex>`` over the raw body).
* ``CYCLE_META_VERIFY_TOKEN``: the token typed into the Meta app dashboard for the subscription handshake.
* ``CYCLE_LINKEDIN_CLIENT_SECRET``: LinkedIn app client secret. LinkedIn's ``X-LI-Signature`` is the hex
  HMAC-SHA256 of the body prefixed with ``hmacsha256=``; the endpoint-validation challenge answer is
  the hex HMAC-SHA256 of ``challengeCode``. Both use the same secret, so the challenge endpoint is a
  signing oracle unless restricted: it answers only a canonical UUID (what LinkedIn sends, and never
  of the form ``hmacsha256=<body>``) and is rate limited per client address.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from analytics_assets.contracts.inbound import WebhookEvent, WebhookStore
from api.request_body import read_limited
from analytics_assets.settings import CycleSettings, load_settings

log = logging.getLogger(__name__)

META_SIGNATURE_HEADER = "X-Hub-Signature-256"
LINKEDIN_SIGNATURE_HEADER = "X-LI-Signature"
# Meta batches at most 1000 changes per delivery; anything far above that is not a platform delivery.
MAX_BODY_BYTES = 1 << 20
# Bounds on a signed body's JSON. Real deliveries nest about 8 deep and carry ids and epoch millis of
# at most 19 digits; past these bounds Python's json/int/datetime raise errors that would become 500s.
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 30  # far below Python's int conversion limit (4,300 digits)
MAX_FLOAT_CHARS = 64
# The LinkedIn validation challenge: LinkedIn sends a UUID, at registration and when it re-validates
# the endpoint, far less often than the limit.
CHALLENGE_CODE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE | re.ASCII)
# the same, as the schema states it
CHALLENGE_CODE_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
CHALLENGE_LIMIT = 10
CHALLENGE_WINDOW_S = 60.0


@dataclass(frozen=True)
class WebhookSettings:
    store_path: Path
    meta_app_secret: str | None = None
    meta_verify_token: str | None = None
    linkedin_client_secret: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, store_path: Path | None = None) -> WebhookSettings:
        settings = load_settings(environ)
        return cls(
            store_path=Path(store_path) if store_path is not None else settings.inbound_store,
            meta_app_secret=CycleSettings.secret(settings.meta_app_secret),
            meta_verify_token=CycleSettings.secret(settings.meta_verify_token),
            linkedin_client_secret=CycleSettings.secret(settings.linkedin_client_secret),
        )


class WebhookRejected(Exception):
    """A request refused before anything was stored; becomes ``{"detail": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


class WebhookAccepted(BaseModel):
    platform: str
    received: int = Field(description="Events in the delivery.")
    stored: int = Field(description="Events stored now.")
    duplicates: int = Field(description="Events already stored by an earlier delivery (not stored again).")
    discarded: int | None = Field(None, description="Events naming a person whose data was erased (GDPR): not "
                                  "stored. Present only when there were any (the answer is otherwise unchanged).")


class LinkedInChallenge(BaseModel):
    challengeCode: str
    challengeResponse: str


# ---------------------------------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------------------------------


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_matches(expected_hex: str, provided_hex: str) -> bool:
    """Constant-time comparison, so response timing reveals nothing about the expected signature."""
    return hmac.compare_digest(expected_hex.encode("ascii"), provided_hex.strip().lower().encode("utf-8"))


def meta_signature_digest(header: str | None) -> str:
    """The digest of an ``X-Hub-Signature-256`` header; 401 when missing or malformed (no body needed)."""
    if not header:
        raise WebhookRejected(401, f"Missing {META_SIGNATURE_HEADER} header; the request is not signed.")
    scheme, _, provided = header.strip().partition("=")
    if scheme.lower() != "sha256" or not provided:
        raise WebhookRejected(401, f"{META_SIGNATURE_HEADER} must look like 'sha256=<hex digest>'.")
    return provided


def verify_meta_signature(secret: str, body: bytes, header: str | None) -> None:
    provided = meta_signature_digest(header)
    if not signature_matches(hmac_sha256_hex(secret, body), provided):
        raise WebhookRejected(401, f"{META_SIGNATURE_HEADER} does not match the request body.")


def linkedin_signature(secret: str, body: bytes) -> str:
    """LinkedIn signs the body prefixed with ``hmacsha256=`` (its webhook validation guide)."""
    return hmac_sha256_hex(secret, b"hmacsha256=" + body)


def linkedin_signature_digest(header: str | None) -> str:
    """The digest of an ``X-LI-Signature`` header; 401 when missing (no body needed)."""
    if not header:
        raise WebhookRejected(401, f"Missing {LINKEDIN_SIGNATURE_HEADER} header; the request is not signed.")
    provided = header.strip()
    if provided.lower().startswith("hmacsha256="):  # some deliveries repeat the scheme in the header
        provided = provided[len("hmacsha256=") :]
    return provided


def verify_linkedin_signature(secret: str, body: bytes, header: str | None) -> None:
    provided = linkedin_signature_digest(header)
    if not signature_matches(linkedin_signature(secret, body), provided):
        raise WebhookRejected(401, f"{LINKEDIN_SIGNATURE_HEADER} does not match the request body.")


# ---------------------------------------------------------------------------------------------------
# Parsing (only ever called on a verified body)
# ---------------------------------------------------------------------------------------------------


# One token per match: a whole JSON string (closed, or running to the end of a malformed text) or a
# bracket. Possessive quantifiers and a string alternative that always matches keep this linear on any
# text; brackets inside strings are thereby never counted.
_JSON_STRINGS_AND_BRACKETS = re.compile(r'"(?:[^"\\]++|\\.?)*+(?:"|\Z)|[\[\]{}]', re.DOTALL)


def _check_depth(text: str) -> None:
    """400 when arrays/objects nest deeper than ``MAX_JSON_DEPTH``, checked before ``json.loads``.

    The json module recurses once per level and raises RecursionError (a 500) near Python's recursion
    limit; json.dumps of a deep value fails the same way when the event is stored. For any text that
    json.loads would go on to parse, this count equals its nesting depth.
    """
    depth = 0
    for match in _JSON_STRINGS_AND_BRACKETS.finditer(text):
        char = text[match.start()]
        if char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise WebhookRejected(400, f"The body nests arrays/objects deeper than {MAX_JSON_DEPTH} levels.")
        elif char in "]}":
            depth -= 1


def _bounded_int(literal: str) -> int:
    # Checked on the literal, before int() would spend time on it or hit the 4,300-digit limit.
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise WebhookRejected(400, f"The body has an integer of more than {MAX_INT_DIGITS} digits.")
    return int(literal)


def _bounded_float(literal: str) -> float:
    value = float(literal) if len(literal) <= MAX_FLOAT_CHARS else math.inf
    # 1e999 parses as inf: stored as the non-JSON Infinity, and no timestamp; a longer literal is no real value
    if not math.isfinite(value):
        raise WebhookRejected(
            400, f"The body has a number that is not a finite float of at most {MAX_FLOAT_CHARS} characters."
        )
    return value


def _no_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not, and nothing downstream can use them.
    raise WebhookRejected(400, f"The body is not valid JSON ({name} is not a JSON value).")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")  # RFC 8259: JSON exchanged between systems is UTF-8
    except UnicodeDecodeError as exc:
        raise WebhookRejected(400, f"The body is not valid JSON (not UTF-8: {exc}).") from None
    _check_depth(text)
    try:
        payload = json.loads(text, parse_int=_bounded_int, parse_float=_bounded_float, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise WebhookRejected(400, f"The body is not valid JSON ({exc}).") from None
    except RecursionError:  # not reachable past _check_depth; kept so a deep body can never be a 500
        raise WebhookRejected(400, f"The body nests arrays/objects deeper than {MAX_JSON_DEPTH} levels.") from None
    try:
        # JSON escapes can spell lone UTF-16 surrogates ("\ud800") that json.loads keeps as they are;
        # such a string cannot be encoded to UTF-8, so it could be neither hashed nor stored.
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise WebhookRejected(
            400, "The body has a string that is not valid Unicode (a lone surrogate escape such as \\ud800)."
        ) from None
    if not isinstance(payload, dict):
        raise WebhookRejected(422, f"The body must be a JSON object, got {type(payload).__name__}.")
    return payload


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _epoch(value: Any, name: str) -> datetime | None:
    """Epoch seconds or milliseconds, or an ISO-8601 string, as a UTC datetime.

    None when the value is not a timestamp at all (absent, a bool, a string that is not ISO-8601);
    400 when it is one that no datetime can hold (a number or an ISO time outside the years 1-9999
    in UTC), since storing it would fail and a 500 makes the platform retry the delivery forever.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            seconds = value / 1000 if value > 1e11 else value  # 1e11 s is the year 5138: must be millis
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise WebhookRejected(
                400, f"'{name}' is {value}, which is not a time between the years 1 and 9999."
            ) from None
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        try:
            # normalized here: the store converts to UTC, which overflows for e.g. 9999-12-31T23:00-05:00
            return ts.astimezone(timezone.utc) if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
        except OverflowError:
            raise WebhookRejected(
                400, f"'{name}' is {value[:40]!r}, which is not a time between the years 1 and 9999 in UTC."
            ) from None
    return None


def _content_id(*parts: Any) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_meta(payload: dict[str, Any]) -> list[WebhookEvent]:
    """One event per change (or messaging item) of a Graph API webhook delivery.

    Meta gives no id to a change and its ``entry.time`` is when the notification was sent, which a
    retry changes; the event id is therefore the hash of what the change says (object, entry id,
    field and value), identical in every redelivery of the same change.
    """
    obj = payload.get("object")
    entries = payload.get("entry")
    if not isinstance(obj, str) or not obj:
        raise WebhookRejected(422, "A Meta delivery needs a string 'object' (page, instagram, ...).")
    if not isinstance(entries, list):
        raise WebhookRejected(422, "A Meta delivery needs an 'entry' list.")
    events = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or _str(entry.get("id")) is None:
            raise WebhookRejected(422, f"entry[{i}] must be an object with an 'id'.")
        items: list[tuple[str, dict[str, Any]]] = []
        for key in ("changes", "messaging"):
            listed = entry.get(key, [])
            if not isinstance(listed, list) or not all(isinstance(c, dict) for c in listed):
                raise WebhookRejected(422, f"entry[{i}].{key} must be a list of objects.")
            items += [(key, c) for c in listed]
        for key, item in items:
            if key == "changes":
                field = item.get("field")
                if not isinstance(field, str) or not field:
                    raise WebhookRejected(422, f"entry[{i}].changes items need a string 'field'.")
                value = item.get("value")
            else:
                field, value = "messaging", item
            v = value if isinstance(value, dict) else {}
            media = v.get("media") if isinstance(v.get("media"), dict) else {}
            message = v.get("message") if isinstance(v.get("message"), dict) else {}
            post_id = _str(v.get("post_id")) or _str(media.get("id")) or _str(v.get("media_id"))
            entity_id = (
                _str(v.get("comment_id"))
                or _str(v.get("reaction_id"))
                or _str(v.get("id"))
                or _str(message.get("mid"))
                or post_id
            )
            events.append(
                WebhookEvent(
                    platform="meta",
                    event_id=_content_id(obj, entry["id"], field, value),
                    payload={
                        "object": obj,
                        "entry": [{"id": entry["id"], "time": entry.get("time"), key: [item]}],
                    },
                    object=obj,
                    field=field,
                    action=_str(v.get("verb")) or _str(v.get("item")),
                    account_id=_str(entry["id"]),
                    post_id=post_id,
                    entity_id=entity_id,
                    event_time=_epoch(v.get("created_time"), "created_time")
                    or _epoch(v.get("timestamp"), "timestamp")
                    or _epoch(entry.get("time"), "time"),
                )
            )
    return events


def parse_linkedin(payload: dict[str, Any]) -> list[WebhookEvent]:
    """One event per notification; LinkedIn's ``notificationId`` is the event id (its dedup key)."""
    kind = _str(payload.get("type"))
    if "notifications" in payload:
        notifications = payload["notifications"]
        if not isinstance(notifications, list):
            raise WebhookRejected(422, "'notifications' must be a list.")
    elif "notificationId" in payload:  # single-notification deliveries (e.g. lead sync)
        notifications = [payload]
    else:
        raise WebhookRejected(422, "A LinkedIn delivery needs a 'notifications' list or a 'notificationId'.")
    events = []
    for i, n in enumerate(notifications):
        if not isinstance(n, dict) or _str(n.get("notificationId")) in (None, ""):
            raise WebhookRejected(422, f"notifications[{i}] must be an object with a 'notificationId'.")
        source_post = _str(n.get("sourcePost"))
        events.append(
            WebhookEvent(
                platform="linkedin",
                event_id=_str(n["notificationId"]),
                payload={"type": kind, "notifications": [n]} if n is not payload else n,
                object=kind,
                field=_str(n.get("action")),
                action=_str(n.get("action")),
                account_id=_str(n.get("organizationalEntity")) or _str(n.get("owner")),
                post_id=source_post,
                entity_id=_str(n.get("generatedActivity")) or source_post or _str(n.get("leadGenFormResponse")),
                event_time=_epoch(n.get("lastModifiedAt"), "lastModifiedAt")
                or _epoch(n.get("occurredAt"), "occurredAt")
                or _epoch(n.get("createdAt"), "createdAt"),
            )
        )
    return events


# ---------------------------------------------------------------------------------------------------
# Router
# ---------------------------------------------------------------------------------------------------


def _settings(request: Request) -> WebhookSettings:
    return request.app.state.webhook_settings


def _store(request: Request) -> WebhookStore:
    return request.app.state.webhook_store


def _require(secret: str | None, variable: str, what: str) -> str:
    if not secret:
        raise WebhookRejected(503, f"{what} are not configured on this server: set {variable}.")
    return secret


async def _body(request: Request) -> bytes:
    """The raw body, abandoned with 413 as soon as it passes ``MAX_BODY_BYTES`` (``read_limited``)."""
    return await read_limited(request, MAX_BODY_BYTES, WebhookRejected)


async def _accept(request: Request, platform: str, events: list[WebhookEvent], body: bytes) -> WebhookAccepted:
    delivery_id = hashlib.sha256(body).hexdigest()
    result = await run_in_threadpool(_store(request).append, events, delivery_id)
    if result.discarded:  # the count only: the store's privacy_discards names the erasure, never the person
        log.info("%s webhook delivery: %d events discarded (their person's erasure was taken)", platform, result.discarded)
    return WebhookAccepted(
        platform=platform, received=result.received, stored=result.stored, duplicates=result.duplicates,
        discarded=result.discarded or None,
    )


async def webhook_rejected_handler(request: Request, exc: WebhookRejected) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content={"detail": exc.message}, headers=exc.headers)


class ChallengeRateLimiter:
    """At most ``limit`` requests per ``window_s`` seconds from each client address (sliding window).

    Bounded: each address keeps at most ``limit`` timestamps and at most ``max_clients`` addresses are
    tracked; past that the least recently seen is forgotten, so memory stays fixed however many
    addresses send requests. Thread-safe (the challenge handler runs in the thread pool).
    """

    def __init__(
        self,
        limit: int = CHALLENGE_LIMIT,
        window_s: float = CHALLENGE_WINDOW_S,
        max_clients: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self.clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """Record a request from ``client``: None when allowed, else whole seconds until one would be."""
        now = self.clock()
        with self._lock:
            hits = self._hits.pop(client, None) or deque(maxlen=self.limit)
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            self._hits[client] = hits  # (re)inserted last: the most recently seen
            while len(self._hits) > self.max_clients:
                self._hits.popitem(last=False)
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window_s - now))
            hits.append(now)
            return None


def _client_address(request: Request) -> str:
    # The socket peer, not X-Forwarded-For (any client can write that header). Behind a proxy, run
    # uvicorn with --proxy-headers and --forwarded-allow-ips so this is the real client.
    return request.client.host if request.client else "unknown"


_REJECTIONS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "Signed body that is not JSON or breaks the parser's bounds (nesting depth, number size, "
        "valid Unicode, timestamps that fit a datetime); nothing stored."
    },
    401: {"description": "Missing (refused before the body is read) or wrong signature; nothing stored."},
    413: {"description": "Body too large; nothing stored."},
    422: {"description": "Signed JSON that is not a delivery of this platform; nothing stored."},
    503: {"description": "The platform's secret is not configured on this server."},
}

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get(
    "/meta",
    response_class=PlainTextResponse,
    summary="Meta subscription handshake",
    responses={403: {"description": "Wrong mode or verify token."}, 503: _REJECTIONS[503]},
)
def meta_handshake(
    request: Request,
    mode: Annotated[str, Query(alias="hub.mode")],
    verify_token: Annotated[str, Query(alias="hub.verify_token")],
    challenge: Annotated[str, Query(alias="hub.challenge")],
) -> PlainTextResponse:
    """Echo `hub.challenge` when `hub.mode` is `subscribe` and `hub.verify_token` is ours."""
    expected = _require(_settings(request).meta_verify_token, "CYCLE_META_VERIFY_TOKEN", "Meta webhooks")
    if mode != "subscribe" or not hmac.compare_digest(expected.encode("utf-8"), verify_token.encode("utf-8")):
        raise WebhookRejected(403, "hub.mode must be 'subscribe' and hub.verify_token must match.")
    return PlainTextResponse(challenge)


@router.post(
    "/meta", response_model=WebhookAccepted, response_model_exclude_none=True, summary="Receive Meta webhook events",
    responses=_REJECTIONS,
)
async def meta_events(request: Request) -> WebhookAccepted:
    """Verify `X-Hub-Signature-256`, then store one event per change, once."""
    secret = _require(_settings(request).meta_app_secret, "CYCLE_META_APP_SECRET", "Meta webhooks")
    meta_signature_digest(request.headers.get(META_SIGNATURE_HEADER))  # unsigned: 401 before the body
    body = await _body(request)
    verify_meta_signature(secret, body, request.headers.get(META_SIGNATURE_HEADER))
    return await _accept(request, "meta", parse_meta(_json_object(body)), body)


@router.get(
    "/linkedin",
    response_model=LinkedInChallenge,
    summary="LinkedIn endpoint validation",
    responses={
        400: {"description": "challengeCode is not a UUID; nothing computed."},
        429: {"description": "Too many challenges from this address; see Retry-After."},
        503: _REJECTIONS[503],
    },
)
def linkedin_challenge(
    request: Request,
    challengeCode: Annotated[  # noqa: N803
        str,
        Query(min_length=1, description="UUID sent by LinkedIn.", json_schema_extra={"pattern": CHALLENGE_CODE_PATTERN}),
    ],
    applicationId: Annotated[str | None, Query(description="Only for parent-child applications.")] = None,  # noqa: N803
) -> LinkedInChallenge:
    """Answer with the hex HMAC-SHA256 of `challengeCode` keyed with the client secret.

    The answer is computed with the secret that signs notifications, so answering any string would
    sign any body (`challengeCode=hmacsha256=<body>` returns that body's `X-LI-Signature`). Only a
    canonical UUID, which LinkedIn sends and which can never start with `hmacsha256=`, is answered,
    and the endpoint is rate limited per client address.
    """
    wait_s = request.app.state.webhook_challenge_limiter.retry_after(_client_address(request))
    if wait_s is not None:
        raise WebhookRejected(429, "Too many validation challenges from this address.", {"Retry-After": str(wait_s)})
    secret = _require(_settings(request).linkedin_client_secret, "CYCLE_LINKEDIN_CLIENT_SECRET", "LinkedIn webhooks")
    if not CHALLENGE_CODE.fullmatch(challengeCode):
        raise WebhookRejected(400, "challengeCode must be a UUID (8-4-4-4-12 hex digits).")
    return LinkedInChallenge(
        challengeCode=challengeCode, challengeResponse=hmac_sha256_hex(secret, challengeCode.encode("utf-8"))
    )


@router.post(
    "/linkedin", response_model=WebhookAccepted, response_model_exclude_none=True,
    summary="Receive LinkedIn signed notifications", responses=_REJECTIONS,
)
async def linkedin_events(request: Request) -> WebhookAccepted:
    """Verify `X-LI-Signature`, then store each notification once (by `notificationId`)."""
    secret = _require(_settings(request).linkedin_client_secret, "CYCLE_LINKEDIN_CLIENT_SECRET", "LinkedIn webhooks")
    linkedin_signature_digest(request.headers.get(LINKEDIN_SIGNATURE_HEADER))  # unsigned: 401 before the body
    body = await _body(request)
    verify_linkedin_signature(secret, body, request.headers.get(LINKEDIN_SIGNATURE_HEADER))
    return await _accept(request, "linkedin", parse_linkedin(_json_object(body)), body)


def install(app: Any, settings: WebhookSettings) -> None:
    """Mount the webhook routes on ``app`` with their settings and store."""
    app.state.webhook_settings = settings
    app.state.webhook_store = WebhookStore(settings.store_path)
    app.state.webhook_challenge_limiter = ChallengeRateLimiter()
    app.add_exception_handler(WebhookRejected, webhook_rejected_handler)
    app.include_router(router)


__all__ = [
    "LINKEDIN_SIGNATURE_HEADER",
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "META_SIGNATURE_HEADER",
    "ChallengeRateLimiter",
    "WebhookSettings",
    "install",
    "linkedin_signature",
    "parse_linkedin",
    "parse_meta",
    "router",
    "verify_linkedin_signature",
    "verify_meta_signature",
]
