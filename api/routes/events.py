"""``POST /v1/events``: tracked events (touchpoints, conversions, AI generations, experiment exposures) in batches.

A key with the ``ingest`` scope sends a batch; each event is checked on its own against ``contracts.events`` and
the valid ones are appended to the API's inbound store (``contracts.inbound.TrackedEventStore``), from which
``raw_tracked_events`` copies them into the warehouse. The API never opens the warehouse. Rules, in order:

1. The key: 401 (none, bad, revoked), 403 (no ``ingest`` scope), 429 (rate limit), before the body is read.
2. The body: at most ``MAX_BODY_BYTES`` (413 as soon as it passes the limit, nothing stored) and
   ``MAX_EVENTS`` events. A JSON array of event objects, or JSON lines (one object per line, blank lines
   skipped; ``application/x-ndjson``). A body that is neither, or holds no event, is 422.
3. Each event: a JSON object of its type's fields within their bounds (no NaN or infinity, timestamps from
   2015 to a day from now); a touchpoint or conversion names one of the workspace's web properties
   (``property_id``; omitted: the workspace's only one). The reasons of each rejected event are listed with its
   position (``index``, from 0: the array's element, or the n-th non-blank line) and its ``event_id`` when it
   has a usable one. Values are never echoed.
4. The valid events are stored in one transaction, once per ``(workspace, event_id)``: resending a batch
   stores nothing new and answers the same counts, with the resent events under ``duplicates``. A store that
   cannot be written (disk full, locked past its timeout) is 503 and nothing of the batch is stored.
5. A valid event naming a person whose erasure the store has taken (GDPR, ``api/routes/privacy.py``; the store
   checks each event's JSON for their whole id inside the same transaction, ``contracts.inbound.ErasedSubjects``)
   is not stored: it is counted under ``discarded`` and in the store's ``privacy_discards`` (the erasure's
   request id, the workspace and key; never the user id). It still counts as valid, so a batch holding only such
   events is a 200: a sender retries what was refused, and resending it would only be discarded again.

The answer is **200** when at least one event was valid (stored now or before), **422** when none was.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, TypeAdapter
from starlette.concurrency import run_in_threadpool

from analytics_assets.contracts.events import (
    MAX_ID_CHARS,
    WEB_PLATFORM,
    TrackedEvent,
    assign_property,
    event_json,
    parse_event,
)
from analytics_assets.contracts.inbound import DISCARDED, STORED, TrackedEventRecord, TrackedEventStore
from api.auth import Principal, require
from api.request_body import read_limited
from api.routes.common import DATA_ERRORS
from api.schemas import ErrorResponse

log = logging.getLogger(__name__)

router = APIRouter(tags=["events"])

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: about 2,500 typical events, far below anything that costs memory
MAX_EVENTS = 1000
MAX_JSON_DEPTH = 32  # an event is flat: deeper nesting is hostile, and deep enough recursion would crash the parser

Ingester = Annotated[Principal, Depends(require("ingest"))]


class RejectedEvent(BaseModel):
    index: int = Field(description="The event's position in the batch, from 0 (array element or non-blank line).")
    event_id: str | None = Field(description="Its event_id, when it has a usable one.")
    reasons: list[str] = Field(description="What is wrong, field by field.")


class EventsResponse(BaseModel):
    received: int = Field(description="Events in the batch.")
    accepted: int = Field(description="Valid events stored now.")
    duplicates: int = Field(description="Valid events stored before (same workspace and event_id): nothing new stored.")
    rejected: int = Field(description="Invalid events, none stored.")
    discarded: int = Field(0, description="Valid events naming a person whose data was erased (GDPR): not stored, "
                           "and not to be resent.")
    errors: list[RejectedEvent] = Field(description="Each rejected event and why.")
    detail: str | None = Field(None, description="Why the whole batch was refused, when it was.")


EVENTS_ERRORS: dict[int | str, dict[str, Any]] = {
    **{k: v for k, v in DATA_ERRORS.items() if k != 404},
    413: {"model": ErrorResponse, "description": f"Body larger than {MAX_BODY_BYTES} bytes; nothing stored."},
    422: {"model": EventsResponse, "description": "No valid event: the body is not a JSON array or JSON lines of "
          f"events, holds none or more than {MAX_EVENTS}, or every event was rejected (see `errors`); nothing stored."},
    503: {"model": ErrorResponse, "description": "The API's store cannot be written now; nothing of the batch stored."},
}


def _inline_refs(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` with its ``#/$defs/...`` references replaced by the definitions (the operation's schema must
    stand alone: the OpenAPI document has no ``$defs`` at its root)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline_refs(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline_refs(v, defs) for v in schema]
    return schema


def _body_schema() -> dict[str, Any]:
    batch = TypeAdapter(list[TrackedEvent]).json_schema()
    batch = _inline_refs(batch, batch.get("$defs", {}))
    batch["maxItems"] = MAX_EVENTS
    event = batch["items"]
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": batch},
        "application/x-ndjson": {"schema": {"type": "string", "description": "One event object per line.",
                                            "x-item-schema": event}},
    }}}


def get_tracked_event_store(request: Request) -> TrackedEventStore:
    store = getattr(request.app.state, "tracked_events", None)
    if store is None:  # beside the other tables of the API's store
        store = request.app.state.tracked_events = TrackedEventStore(request.app.state.feedback_store.path)
    return store


TrackedEvents = Annotated[TrackedEventStore, Depends(get_tracked_event_store)]


class BatchError(ValueError):
    """The body as a whole is not a batch of events."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constants)


def _depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    stack, deepest = [(value, 1)], 0
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return deepest


def split_batch(body: bytes) -> list[Any]:
    """The batch's items: each a decoded JSON value, or a ``BatchError`` for a line that is not JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BatchError("The body is not UTF-8 text.") from None
    stripped = text.strip()
    if not stripped:
        raise BatchError("The body holds no event.")
    if stripped.startswith("["):
        try:
            items = _loads(stripped)
        except (ValueError, RecursionError):
            raise BatchError("The body is not a valid JSON array.") from None
        if not isinstance(items, list):
            raise BatchError("The body is not a JSON array.")
    else:
        items = []
        for line in stripped.splitlines():
            if not line.strip():
                continue
            try:
                items.append(_loads(line))
            except (ValueError, RecursionError):
                items.append(BatchError("not a JSON value (one event object per line)"))
            if len(items) > MAX_EVENTS:
                break
    if not items:
        raise BatchError("The body holds no event.")
    if len(items) > MAX_EVENTS:
        raise BatchError(f"A batch holds at most {MAX_EVENTS} events.")
    return items


def _usable_id(item: Any) -> str | None:
    """The item's event_id, when it is one we can name back safely (a short printable string)."""
    value = item.get("event_id") if isinstance(item, dict) else None
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS and value.isprintable():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return value
    return None


def _web_properties(principal: Principal) -> list[str]:
    return sorted(a.account_id for a in principal.accounts if a.platform == WEB_PLATFORM)


def check_event(item: Any, properties: list[str], workspace: str) -> tuple[Any | None, list[str]]:
    """The item as a valid event of ``workspace`` (whose web properties are ``properties``), or None and the
    reasons. Which property a journey event belongs to is ``contracts.events.assign_property``'s rule, the one
    the landing-folder import applies too: an event is accepted (and worded when refused) the same either way."""
    if isinstance(item, BatchError):
        return None, [str(item)]
    if _depth(item) > MAX_JSON_DEPTH:
        return None, [f"nested deeper than {MAX_JSON_DEPTH} levels"]
    event, reasons = parse_event(item)
    if event is None:
        return None, reasons
    return assign_property(event, properties, workspace)


def _answer(status: int, body: EventsResponse) -> JSONResponse:
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"))


@router.post(
    "/events",
    status_code=200,
    response_model=EventsResponse,
    responses=EVENTS_ERRORS,
    summary="Send tracked events (touchpoints, conversions, AI generations, experiment exposures)",
    openapi_extra=_body_schema(),
)
async def post_events(request: Request, principal: Ingester, store: TrackedEvents) -> JSONResponse:
    """A batch of tracked events, as a JSON array or JSON lines (at most 1 MiB and 1,000 events). Each event is
    validated on its own: the valid ones are stored once per `event_id` (resending is safe), the invalid ones are
    listed in `errors` with their reasons. 200 when any event was valid, 422 when none was."""
    body = await read_limited(request, MAX_BODY_BYTES, HTTPException)
    try:
        items = split_batch(body)
    except BatchError as exc:
        return _answer(422, EventsResponse(received=0, accepted=0, duplicates=0, rejected=0, errors=[], detail=str(exc)))
    properties = _web_properties(principal)
    valid: list[TrackedEventRecord] = []
    errors: list[RejectedEvent] = []
    for index, item in enumerate(items):
        event, reasons = check_event(item, properties, principal.workspace_id)
        if event is None:
            errors.append(RejectedEvent(index=index, event_id=_usable_id(item), reasons=reasons))
        else:
            valid.append(TrackedEventRecord(event_id=event.event_id, type=event.type, event=event_json(event)))
    if not valid:
        return _answer(422, EventsResponse(
            received=len(items), accepted=0, duplicates=0, rejected=len(errors), errors=errors,
            detail="No valid event; nothing stored.",
        ))
    try:
        outcomes = await run_in_threadpool(
            store.append_checked, valid, principal.workspace_id, principal.key.key_id, datetime.now(timezone.utc)
        )
    except (sqlite3.Error, OSError) as exc:  # a full disk, a store locked past its timeout: not the request's fault
        log.warning("tracked event store %s: %s", store.path, exc)
        raise HTTPException(503, "The API's store cannot be written now; nothing was stored. Retry later.") from None
    accepted, discarded = outcomes.count(STORED), outcomes.count(DISCARDED)
    if discarded:  # the count only: which person, the store's privacy_discards names by the erasure's request id
        log.info("tracked events: %d discarded (their person's erasure was taken)", discarded)
    return _answer(200, EventsResponse(
        received=len(items), accepted=accepted, duplicates=len(valid) - accepted - discarded, rejected=len(errors),
        discarded=discarded, errors=errors,
    ))
