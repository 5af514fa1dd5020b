"""Audit records of every HTTP request the API answers, appended to its inbound store.

``install(app, store_path)`` wraps the whole application (outside every other middleware, Starlette's error
middleware included) in :class:`AuditMiddleware`, a pure ASGI middleware. For each HTTP request it records
one :class:`~analytics_assets.contracts.inbound.AuditRecord`:

* ``requested_at`` (UTC, arrival), ``duration_ms`` (until the inner app returned, i.e. the last body byte),
  ``method``, ``status`` (of ``http.response.start``; None when no response was started, e.g. the client
  went away), ``response_bytes`` (the sum of the ``http.response.body`` chunks, or the size of a file sent with
  ``http.response.pathsend``), ``client_addr`` (host only).
* ``route``: the **route template** that handled the request (``/v1/campaigns/{campaign_id}``), with the
  prefixes of included routers and mounts. Never the raw path or query string, which may carry secrets.
  When no route was selected (a 404 for an unknown path, a slash redirect, or an answer given by a
  middleware before routing) ``route`` is NULL: the raw path is client-controlled, so it is not kept.
  Authentication done in a dependency (after routing) therefore keeps the template on its 401/403s.
* ``key_id`` / ``workspace_id``: of the ``ApiKey`` that auth code put on ``request.state.api_key``
  (``request.state`` is backed by ``scope["state"]``, read after the inner app ran); NULL for a request
  without a valid key. Never the key, the Authorization header, any other header, the query or the body.

Writing never slows or fails a request: records go to a bounded in-memory queue, and a background thread
appends them in batches (every ``flush_interval_s`` or ``batch_size`` records) in one transaction each.
When the queue is full or the store cannot be written, the records are dropped, counted in ``dropped``
and a warning is logged (once per failure streak). Lifespan shutdown flushes everything queued;
``flush()`` does so at any time (tests), and an exit hook catches a process ending without a shutdown.

WebSocket connections are not audited.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.routing import Mount

from analytics_assets.contracts.inbound import AuditRecord, AuditStore

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

FLUSH_INTERVAL_S = 0.25
BATCH_SIZE = 500
MAX_PENDING = 10_000
IDLE_EXIT_S = 5.0  # a writer thread with nothing to write for this long ends; the next record starts one
MAX_METHOD_CHARS = 16  # methods are client-controlled tokens; the real ones are short


class AuditWriter:
    """A bounded queue of audit records and the background thread that appends them to ``store``."""

    def __init__(
        self,
        store: AuditStore,
        *,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        batch_size: int = BATCH_SIZE,
        max_pending: int = MAX_PENDING,
        idle_exit_s: float = IDLE_EXIT_S,
    ):
        if flush_interval_s <= 0 or batch_size < 1 or max_pending < 1 or idle_exit_s < 0:
            raise ValueError(
                f"audit writer needs flush_interval_s > 0, batch_size >= 1, max_pending >= 1 and idle_exit_s >= 0 "
                f"(got {flush_interval_s}, {batch_size}, {max_pending}, {idle_exit_s})"
            )
        self.store = store
        self.flush_interval_s = flush_interval_s
        self.batch_size = batch_size
        self.idle_exit_s = idle_exit_s
        self._queue: queue.Queue[AuditRecord] = queue.Queue(maxsize=max_pending)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._write_lock = threading.Lock()  # one writer at a time: flush() waits for a batch in flight
        self._state_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._dropped = 0
        self._written = 0
        self._failing = False
        ref = weakref.ref(self)
        atexit.register(lambda: (w := ref()) is not None and w.close())

    @property
    def dropped(self) -> int:
        """Records lost: the queue was full or the store could not be written."""
        return self._dropped

    @property
    def written(self) -> int:
        return self._written

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    @property
    def running(self) -> bool:
        """Whether a writer thread is alive (it ends after ``idle_exit_s`` with nothing to write)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def submit(self, record: AuditRecord) -> None:
        """Queue ``record``; never blocks, never raises."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._drop(1, f"the queue of {self._queue.maxsize} unwritten records is full")
            return
        with self._state_lock:  # after the put: a thread ending for idleness saw this record or is gone
            if self._thread is None or not self._thread.is_alive():
                self._start_locked()
        if self._queue.qsize() >= self.batch_size:
            self._wake.set()

    def flush(self) -> int:
        """Write every queued record now (blocking); returns how many were written."""
        written = 0
        with self._write_lock:
            while batch := self._take(self.batch_size):
                written += self._write(batch)
        return written

    def close(self) -> None:
        """Stop the thread and write what is queued. A later ``submit`` starts a new thread."""
        with self._state_lock:
            thread, self._thread = self._thread, None
            self._stop.set()
            self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(30.0, self.store.timeout_s * 3))
        self.flush()

    # -- internals -------------------------------------------------------------------------------

    def _start_locked(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._stop,), name=f"audit-writer-{self.store.path.name}", daemon=True
        )
        self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        idle_since = time.monotonic()
        while not stop.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            if self.flush():
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= self.idle_exit_s:
                with self._state_lock:
                    if self._queue.empty() and self._thread is threading.current_thread():
                        self._thread = None
                        return

    def _take(self, n: int) -> list[AuditRecord]:
        batch: list[AuditRecord] = []
        while len(batch) < n:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[AuditRecord]) -> int:
        try:
            self.store.append(batch)
        except Exception as exc:  # noqa: BLE001 - the audit store must never take the API down
            self._drop(len(batch), f"the store {self.store.path} could not be written ({type(exc).__name__}: {exc})")
            return 0
        self._written += len(batch)
        if self._failing:
            self._failing = False
            log.info("API audit store %s writable again; %d records dropped so far", self.store.path, self._dropped)
        return len(batch)

    def _drop(self, n: int, why: str) -> None:
        with self._state_lock:
            self._dropped += n
            first = not self._failing
            self._failing = True
        if first:
            log.warning("API audit records dropped: %s (%d dropped so far)", why, self._dropped)


class AuditMiddleware:
    """Pure ASGI middleware: one audit record per HTTP request, written by an :class:`AuditWriter`.

    ``app`` may be None at construction and set later (``install`` does so when the application builds
    its middleware stack)."""

    def __init__(self, app: ASGIApp | None, store_path: Path | str, **writer_options: Any):
        self.app = app
        self.writer = AuditWriter(AuditStore(store_path), **writer_options)

    @property
    def dropped(self) -> int:
        return self.writer.dropped

    def flush(self) -> int:
        """Write every queued record now (blocking)."""
        return self.writer.flush()

    async def __call__(self, scope: Scope, receive, send) -> None:
        assert self.app is not None, "AuditMiddleware has no app to wrap"
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        requested_at = datetime.now(timezone.utc)
        started = time.perf_counter()
        base_root = scope.get("root_path", "")
        scope.setdefault("state", {})  # request.state of every Request on this scope writes here
        status: int | None = None
        sent = 0

        async def audited_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            elif message["type"] == "http.response.pathsend":  # a file the server sends itself
                sent += _file_size(message.get("path"))
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        except Exception:
            if status is None:
                status = 500  # what the server answers for an app that raised before responding
            raise
        finally:
            try:
                self.writer.submit(_record(scope, base_root, requested_at, started, status, sent))
            except Exception:  # noqa: BLE001 - never fail a request because of its audit record
                log.exception("could not build the API audit record")

    def _lifespan_send(self, send):
        async def lifespan_send(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await anyio.to_thread.run_sync(self.writer.close)
            await send(message)

        return lifespan_send


def _file_size(path: Any) -> int:
    try:
        return os.stat(path).st_size
    except (OSError, TypeError, ValueError):
        return 0


def _record(
    scope: Scope, base_root: str, requested_at: datetime, started: float, status: int | None, sent: int
) -> AuditRecord:
    key = (scope.get("state") or {}).get("api_key")
    client = scope.get("client")
    return AuditRecord(
        requested_at=requested_at,
        method=str(scope.get("method", ""))[:MAX_METHOD_CHARS],
        route=route_template(scope, base_root),
        status=status,
        response_bytes=sent,
        duration_ms=(time.perf_counter() - started) * 1000.0,
        client_addr=str(client[0]) if client else None,
        key_id=getattr(key, "key_id", None),
        workspace_id=getattr(key, "workspace_id", None),
    )


def route_template(scope: Scope, base_root: str = "") -> str | None:
    """The template of the route that handled the request, after the app ran; None when none was selected.

    FastAPI (from the version with non-flattened included routers) keeps the selected route's full path,
    router prefixes included, in ``scope["fastapi"]["effective_route_context"].path_format``, while
    ``scope["route"]`` is the route as declared in its router (without the prefixes). Plain Starlette (and
    older FastAPI) only set ``scope["route"]``. A request handled by a mounted app (one level of mounting)
    gets the mount's template in front (``/sub/items/{item_id}``), or the mount's own (``/static/{path}``)
    when that app has no routes. Built from templates only: never from the raw path."""
    mount = _mount_of(scope) if (scope.get("root_path", "") or "") != base_root else None
    route = scope.get("route")
    if route is None or isinstance(route, Mount):
        return mount.path_format if mount is not None else getattr(route, "path_format", None)
    fastapi_scope = scope.get("fastapi")
    context = fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    path = getattr(context, "path_format", None) or getattr(route, "path_format", None)
    if not isinstance(path, str):
        return None
    return ((mount.path if mount is not None else "") + path) or "/"


def _mount_of(scope: Scope) -> Mount | None:
    """The mount of the top-level router whose app handled the request (a mounted app or a leaf app)."""
    handlers = [h for h in (scope.get("app"), scope.get("endpoint")) if h is not None]
    for candidate in getattr(scope.get("router"), "routes", ()):
        if isinstance(candidate, Mount) and any(candidate.app is h for h in handlers):
            return candidate
    return None


def install(app: Any, store_path: Path | str, **writer_options: Any) -> AuditMiddleware:
    """Audit every HTTP request of ``app`` (a Starlette/FastAPI application) into the store at ``store_path``.

    The middleware wraps the whole stack that ``app`` builds when it first runs, so it sees every answer,
    those of Starlette's error middleware and of any middleware added before or after this call included,
    and the lifespan shutdown (when it flushes). Returns the middleware (``flush()``, ``dropped``), also
    kept as ``app.state.audit``."""
    if getattr(app, "middleware_stack", None) is not None:
        raise RuntimeError("install the audit middleware before the application starts")
    if getattr(app.state, "audit", None) is not None:
        raise RuntimeError("the audit middleware is already installed on this application")
    audit = AuditMiddleware(None, store_path, **writer_options)
    build = app.build_middleware_stack

    def build_with_audit() -> ASGIApp:
        audit.app = build()
        return audit

    app.build_middleware_stack = build_with_audit
    app.state.audit = audit
    return audit


__all__ = ["AuditMiddleware", "AuditWriter", "install", "route_template"]
