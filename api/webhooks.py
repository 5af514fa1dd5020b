"""Webhook receivers for Meta (Graph API webhooks) and LinkedIn (signed notifications).

Every POST is verified before anything else happens: the HMAC-SHA256 of the raw body is computed with
the app's secret and compared to the signature header with ``hmac.compare_digest`` (constant time).
A missing, malformed or wrong signature gets 401 and nothing is parsed or stored. Only then is the
body parsed: a signed body that is not JSON gets 400, JSON that is not the platform's delivery shape
gets 422, and again nothing is stored. Accepted events go to the API's own append-only store
(:mod:`analytics_assets.contracts.inbound`), deduplicated on the platform's event id, from which the Dagster asset
``raw_webhook_events`` loads them into the warehouse.

Secrets come from the environment; an endpoint whose secret is not set answers 503 and never accepts
unsigned data:

* ``CYCLE_META_APP_SECRET``: Meta app secret (``X-Hub-Signature-256: sha256=<hex>`` over the raw body).
* ``CYCLE_META_VERIFY_TOKEN``: the token typed into the Meta app dashboard for the subscription handshake.
* ``CYCLE_LINKEDIN_CLIENT_SECRET``: LinkedIn app client secret. LinkedIn's ``X-LI-Signature`` is the hex
  HMAC-SHA256 of the body prefixed with ``hmacsha256=``; the endpoint-validation challenge answer is
  the hex HMAC-SHA256 of ``challengeCode``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from analytics_assets.contracts.inbound import WebhookEvent, WebhookStore
from analytics_assets.settings import CycleSettings, load_settings

META_SIGNATURE_HEADER = "X-Hub-Signature-256"
LINKEDIN_SIGNATURE_HEADER = "X-LI-Signature"
# Meta batches at most 1000 changes per delivery; anything far above that is not a platform delivery.
MAX_BODY_BYTES = 1 << 20


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

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class WebhookAccepted(BaseModel):
    platform: str
    received: int = Field(description="Events in the delivery.")
    stored: int = Field(description="Events stored now.")
    duplicates: int = Field(description="Events already stored by an earlier delivery (not stored again).")


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


def verify_meta_signature(secret: str, body: bytes, header: str | None) -> None:
    if not header:
        raise WebhookRejected(401, f"Missing {META_SIGNATURE_HEADER} header; the request is not signed.")
    scheme, _, provided = header.strip().partition("=")
    if scheme.lower() != "sha256" or not provided:
        raise WebhookRejected(401, f"{META_SIGNATURE_HEADER} must look like 'sha256=<hex digest>'.")
    if not signature_matches(hmac_sha256_hex(secret, body), provided):
        raise WebhookRejected(401, f"{META_SIGNATURE_HEADER} does not match the request body.")


def linkedin_signature(secret: str, body: bytes) -> str:
    """LinkedIn signs the body prefixed with ``hmacsha256=`` (its webhook validation guide)."""
    return hmac_sha256_hex(secret, b"hmacsha256=" + body)


def verify_linkedin_signature(secret: str, body: bytes, header: str | None) -> None:
    if not header:
        raise WebhookRejected(401, f"Missing {LINKEDIN_SIGNATURE_HEADER} header; the request is not signed.")
    provided = header.strip()
    if provided.lower().startswith("hmacsha256="):  # some deliveries repeat the scheme in the header
        provided = provided[len("hmacsha256=") :]
    if not signature_matches(linkedin_signature(secret, body), provided):
        raise WebhookRejected(401, f"{LINKEDIN_SIGNATURE_HEADER} does not match the request body.")


# ---------------------------------------------------------------------------------------------------
# Parsing (only ever called on a verified body)
# ---------------------------------------------------------------------------------------------------


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookRejected(400, f"The body is not valid JSON ({exc}).") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(422, f"The body must be a JSON object, got {type(payload).__name__}.")
    return payload


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _epoch(value: Any) -> datetime | None:
    """Epoch seconds or milliseconds, or an ISO-8601 string, as a UTC datetime; None if unusable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value  # 1e11 s is the year 5138: must be millis
        try:
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
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
                    event_time=_epoch(v.get("created_time")) or _epoch(v.get("timestamp")) or _epoch(entry.get("time")),
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
                event_time=_epoch(n.get("lastModifiedAt")) or _epoch(n.get("occurredAt")) or _epoch(n.get("createdAt")),
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
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise WebhookRejected(413, f"The body is larger than {MAX_BODY_BYTES} bytes.")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise WebhookRejected(413, f"The body is larger than {MAX_BODY_BYTES} bytes.")
    return body


async def _accept(request: Request, platform: str, events: list[WebhookEvent], body: bytes) -> WebhookAccepted:
    delivery_id = hashlib.sha256(body).hexdigest()
    result = await run_in_threadpool(_store(request).append, events, delivery_id)
    return WebhookAccepted(platform=platform, received=result.received, stored=result.stored, duplicates=result.duplicates)


async def webhook_rejected_handler(request: Request, exc: WebhookRejected) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content={"detail": exc.message})


_REJECTIONS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Signed body that is not JSON; nothing stored."},
    401: {"description": "Missing or wrong signature; nothing stored."},
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


@router.post("/meta", response_model=WebhookAccepted, summary="Receive Meta webhook events", responses=_REJECTIONS)
async def meta_events(request: Request) -> WebhookAccepted:
    """Verify `X-Hub-Signature-256`, then store one event per change, once."""
    secret = _require(_settings(request).meta_app_secret, "CYCLE_META_APP_SECRET", "Meta webhooks")
    body = await _body(request)
    verify_meta_signature(secret, body, request.headers.get(META_SIGNATURE_HEADER))
    return await _accept(request, "meta", parse_meta(_json_object(body)), body)


@router.get(
    "/linkedin",
    response_model=LinkedInChallenge,
    summary="LinkedIn endpoint validation",
    responses={503: _REJECTIONS[503]},
)
def linkedin_challenge(
    request: Request,
    challengeCode: Annotated[str, Query(min_length=1, description="UUID sent by LinkedIn.")],  # noqa: N803
    applicationId: Annotated[str | None, Query(description="Only for parent-child applications.")] = None,  # noqa: N803
) -> LinkedInChallenge:
    """Answer with the hex HMAC-SHA256 of `challengeCode` keyed with the client secret."""
    secret = _require(_settings(request).linkedin_client_secret, "CYCLE_LINKEDIN_CLIENT_SECRET", "LinkedIn webhooks")
    return LinkedInChallenge(
        challengeCode=challengeCode, challengeResponse=hmac_sha256_hex(secret, challengeCode.encode("utf-8"))
    )


@router.post(
    "/linkedin", response_model=WebhookAccepted, summary="Receive LinkedIn signed notifications", responses=_REJECTIONS
)
async def linkedin_events(request: Request) -> WebhookAccepted:
    """Verify `X-LI-Signature`, then store each notification once (by `notificationId`)."""
    secret = _require(_settings(request).linkedin_client_secret, "CYCLE_LINKEDIN_CLIENT_SECRET", "LinkedIn webhooks")
    body = await _body(request)
    verify_linkedin_signature(secret, body, request.headers.get(LINKEDIN_SIGNATURE_HEADER))
    return await _accept(request, "linkedin", parse_linkedin(_json_object(body)), body)


def install(app: Any, settings: WebhookSettings) -> None:
    """Mount the webhook routes on ``app`` with their settings and store."""
    app.state.webhook_settings = settings
    app.state.webhook_store = WebhookStore(settings.store_path)
    app.add_exception_handler(WebhookRejected, webhook_rejected_handler)
    app.include_router(router)


__all__ = [
    "LINKEDIN_SIGNATURE_HEADER",
    "META_SIGNATURE_HEADER",
    "WebhookSettings",
    "install",
    "linkedin_signature",
    "parse_linkedin",
    "parse_meta",
    "router",
    "verify_linkedin_signature",
    "verify_meta_signature",
]
