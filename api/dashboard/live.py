"""``GET /dashboard/events``: server-sent events that tell an open dashboard page a new snapshot was published.

The stream sends the snapshot's tag (its publication time, as the page's ``data-snapshot`` holds it) when it
opens and whenever the manifest names another one; the page then fetches its own URL again and swaps in the new
content (``dashboard.js``). Checking costs one ``stat()`` of the manifest a second (``ServingStore.manifest``
re-reads it only when it changed). A stream ends after ``MAX_STREAM_S``; the browser's EventSource reconnects
by itself, and the reconnection checks the cookie's key again, so a revoked key stops receiving updates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.dashboard.layout import snapshot_tag
from api.dashboard.session import PREFIX, Viewer

POLL_S = 1.0
KEEPALIVE_S = 15.0  # a comment line now and then keeps proxies from closing an idle stream
MAX_STREAM_S = 300.0
RETRY_MS = 3000

router = APIRouter(prefix=PREFIX, include_in_schema=False)


async def snapshot_events(request: Request, poll_s: float = POLL_S, max_s: float = MAX_STREAM_S) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    last: str | None = None
    sent = started = time.monotonic()
    while time.monotonic() - started < max_s:
        if await request.is_disconnected():
            return
        tag, _ = await run_in_threadpool(snapshot_tag, request)  # reads the manifest when it changed: off the loop
        if tag != last:
            last, sent = tag, time.monotonic()
            yield f"event: snapshot\ndata: {tag}\n\n"
        elif time.monotonic() - sent >= KEEPALIVE_S:
            sent = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(poll_s)


@router.get("/events")
def events(request: Request, principal: Viewer) -> StreamingResponse:
    return StreamingResponse(
        snapshot_events(request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
