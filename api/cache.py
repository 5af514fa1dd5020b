"""Response cache of the read routes: a GET's answer is served from memory while the snapshot is unchanged.

The answer of a cached route is a pure function of the published snapshot, the workspace's accounts, the
path and the query string: every such route reads only the served files, scoped to ``Principal.accounts``.
The cache keeps the serialized body of each 200 answer under that key:

* the snapshot: ``ServingStore.snapshot_version()`` (the manifest's SHA-256, revalidated by ``stat()``, and
  a count of degraded loads). A republished manifest changes the key on the next request, and the entries of
  the older snapshot are dropped at once. Nothing is cached while the store cannot name a version (nothing
  published, a manifest without checksums), nor an answer during which the version changed (a publish under
  way, a last verified copy served in place of a damaged file);
* the accounts: the workspace's set of accounts, never the key or the workspace, so two workspaces with the
  same accounts share answers and an account added to a workspace changes its key on the next request (the
  access registry is reloaded when its file changes);
* the path and the query parameters, in order of name (the values of a repeated name keep their order: the
  last one wins).

Storing: a cached route depends on ``lookup`` (``install`` returns it for ``include_router``), which runs
after the route's own ``Reader`` dependency and notes the key under the route's principal; the middleware
keeps the body of that request's answer when its status is 200 and the version did not change meanwhile.

Answering: ``ResponseCacheMiddleware`` answers a hit before routing, but never without the route's checks.
It reads the token with the routes' own security schemes, makes the key from the workspace the token belongs
to, and when that key is in the cache runs the routes' own auth dependency (``api.auth.require("read")``,
the callable behind ``Reader``): the key check (401), the rate limit (429) and the scope (403) run exactly
once per request, on hits as on misses, and set ``request.state.api_key`` for the audit record; an error is
answered by the application's own exception handler. The audit middleware, outside everything, records hits
like any other answer, with the route template stored beside the body. A token that does not authenticate,
a key without the scope, or a key that is not cached goes to the routes untouched. (Were the registry to
change between the two reads of a hit, microseconds apart, the request goes to the route and its rate limit
counts it twice.)

The cache is a least-recently-used map bounded in bytes (``$CYCLE_API_CACHE_MB``, default 64 MiB per API
process; 0 disables it), counting each entry's body, headers and key. ``/v1/health`` and ``/v1/livez`` (the
files on disk and the clock) and ``/v1/accounts`` (it names the workspace) are not cached.

Each API process keeps its own cache, unlike the rate limits (``api.auth``, shared through
``$CYCLE_API_RATE_LIMIT_STORAGE``): an entry is a pure function of the snapshot version, the accounts and the
URL, so every worker computes the same answer and a miss in one worker only costs that worker the computation,
never a wrong or stale answer (a republished snapshot changes every worker's key on its next request). Sharing
it would add a network round trip to every hit for no correctness gain.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, Request
from starlette._utils import is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.audit import route_template
from api.auth import Reader, _bearer, _header

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

ENTRY_OVERHEAD = 256  # bytes counted per entry on top of its body, headers and key (the map, the tuples)
_PENDING = "response_cache_pending"  # request.state: (version, key, route) a miss is to be stored under
# the routes' auth: Reader's dependency (key, rate limit, read scope; sets request.state.api_key)
_READER: Callable[..., Any] = Reader.__metadata__[0].dependency
_SCOPE = "read"


@dataclass(frozen=True)
class CachedBody:
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]  # raw headers of the original answer (content-type, -length)
    route: str | None  # the route template, for the audit record of a hit
    size: int


@dataclass(frozen=True)
class _Route:
    """What the audit middleware reads of the route that answered (``route_template``)."""

    path_format: str


class CachedAnswer(Exception):
    """Raised by ``lookup`` on a hit (an answer stored after the middleware looked); answered by its handler."""

    def __init__(self, entry: CachedBody):
        self.entry = entry


class ResponseCache:
    """Serialized answers by (snapshot version, accounts, path, query); LRU bounded by ``max_bytes``."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max(0, int(max_bytes))
        self._entries: OrderedDict[Hashable, CachedBody] = OrderedDict()
        self._lock = threading.Lock()
        self._version: Hashable | None = None
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.stores = 0
        self.evictions = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._entries)

    def _advance(self, version: Hashable) -> None:
        """Drop every entry of another snapshot (lock held): they can no longer be asked for."""
        if version != self._version:
            self._entries.clear()
            self.bytes = 0
            self._version = version

    def get(self, version: Hashable, key: Hashable, *, count_miss: bool = True) -> CachedBody | None:
        with self._lock:
            self._advance(version)
            entry = self._entries.get(key)
            if entry is None:
                self.misses += count_miss
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def peek(self, version: Hashable, key: Hashable) -> CachedBody | None:
        """The entry of ``key``, without counting a hit or making it the most recent."""
        return self._entries.get(key) if version == self._version else None

    def put(self, version: Hashable, key: Hashable, body: bytes, headers: tuple[tuple[bytes, bytes], ...],
            route: str | None = None) -> bool:
        size = len(body) + sum(len(k) + len(v) for k, v in headers) + _key_size(key) + len(route or "") + ENTRY_OVERHEAD
        if size > self.max_bytes:
            return False
        entry = CachedBody(body, headers, route, size)
        with self._lock:
            self._advance(version)
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old.size
            self._entries[key] = entry
            self.bytes += size
            self.stores += 1
            while self.bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.bytes -= evicted.size
                self.evictions += 1
        return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def stats(self) -> dict[str, int]:
        return {
            "entries": len(self._entries), "bytes": self.bytes, "max_bytes": self.max_bytes, "hits": self.hits,
            "misses": self.misses, "stores": self.stores, "evictions": self.evictions,
        }


def _key_size(key: Hashable) -> int:
    """Bytes of the key's text (the accounts' name, the path, the query)."""
    if isinstance(key, str):
        return len(key)
    if isinstance(key, tuple):
        return sum(_key_size(part) for part in key)
    return 0


def normalized_query(query_string: bytes) -> tuple[tuple[str, str], ...]:
    """The query parameters as the routes read them (Starlette's parsing), ordered by name; the values of a
    repeated name keep their order, which decides the answer (the last one wins)."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return tuple(sorted(pairs, key=lambda pair: pair[0]))


_ACCOUNT_SETS: dict[int, tuple[frozenset, str]] = {}  # id -> (the set, kept alive so the id stays its own; name)
_ACCOUNT_SETS_MAX = 4096


def accounts_name(accounts: frozenset) -> str:
    """Names a set of accounts by its content (SHA-256 of the sorted accounts): equal sets, equal names,
    whichever registry snapshot they come from; compared as one string instead of element by element.
    Memoized per set object (the registry hands out one object per workspace and snapshot)."""
    known = _ACCOUNT_SETS.get(id(accounts))
    if known is not None and known[0] is accounts:
        return known[1]
    text = json.dumps(sorted([a.platform, a.account_id] for a in accounts))  # unambiguous, whatever the ids hold
    name = hashlib.sha256(text.encode()).hexdigest()
    if len(_ACCOUNT_SETS) >= _ACCOUNT_SETS_MAX:
        _ACCOUNT_SETS.clear()
    _ACCOUNT_SETS[id(accounts)] = (accounts, name)
    return name


def cache_key(accounts: frozenset, scope: Scope) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """(the accounts, the path, the query): what a cached route's answer depends on besides the snapshot."""
    return (accounts_name(accounts), scope["path"], normalized_query(scope.get("query_string", b"")))


async def lookup(request: Request, principal: Reader) -> None:
    """Route dependency, after the route's own ``Reader``: answer from the cache (an answer stored since the
    middleware looked), or note the key the route's answer is stored under. Async: one ``stat()`` and a dict
    lookup, no thread."""
    cache: ResponseCache | None = getattr(request.app.state, "response_cache", None)
    if cache is None or not cache.enabled or request.method != "GET":
        return
    version = request.app.state.store.snapshot_version()
    if version is None:
        return
    key = cache_key(principal.accounts, request.scope)
    entry = cache.get(version, key)
    if entry is not None:
        raise CachedAnswer(entry)
    route = route_template(request.scope, request.scope.get("root_path", ""))
    setattr(request.state, _PENDING, (version, key, route))


async def _answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CachedAnswer)
    response = Response(content=exc.entry.body, status_code=200)
    response.raw_headers = list(exc.entry.headers)
    return response


class ResponseCacheMiddleware:
    """Pure ASGI middleware (inside the error middleware, outside the routes): answers hits after the routes'
    own auth, and keeps the body of a 200 answer whose route noted a key (a miss) while the snapshot version
    is still the one the key was made with."""

    def __init__(self, app: ASGIApp, cache: ResponseCache, api: FastAPI):
        self.app = app
        self.cache = cache
        self.api = api

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or not self.cache.enabled:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # request.state of every Request on this scope writes here
        if len(self.cache) and await self._answer_hit(scope, receive, send):
            return
        status: int | None = None
        headers: tuple[tuple[bytes, bytes], ...] = ()
        chunks: list[bytes] = []
        size = 0

        async def capture(message: Message) -> None:
            nonlocal status, headers, size
            pending = state.get(_PENDING)
            if pending is not None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    headers = tuple((bytes(k), bytes(v)) for k, v in message.get("headers", ()))
                elif message["type"] == "http.response.body" and status == 200:
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size <= self.cache.max_bytes:
                        chunks.append(chunk)
                    if not message.get("more_body", False):
                        state.pop(_PENDING, None)
                        version, key, route = pending
                        if size <= self.cache.max_bytes and self.api.state.store.snapshot_version() == version:
                            self.cache.put(version, key, b"".join(chunks), headers, route)
            await send(message)

        await self.app(scope, receive, capture)

    async def _answer_hit(self, scope: Scope, receive, send) -> bool:
        """Answer a cached request (True), after the routes' own auth; False: leave it to the routes."""
        request = Request(scope, receive)
        bearer = await _bearer(request)
        header = await _header(request)
        token = bearer.credentials if bearer is not None else header
        if not token:
            return False
        state = self.api.state
        access = state.access.snapshot()
        key = access.authenticate(token)  # no side effect: the rate limit is counted below, once
        if key is None or not key.allows(_SCOPE):
            return False  # the route answers 401 / 403 (and counts the failed attempt) itself
        version = state.store.snapshot_version()
        accounts = access.accounts(key.workspace_id)
        ckey = cache_key(accounts, scope) if version is not None else None
        cached = self.cache.peek(version, ckey) if ckey is not None else None
        if cached is None:
            return False
        if cached.route is not None:  # the template in the audit record, as the route leaves it (errors too)
            scope["route"] = _Route(cached.route)
        try:
            principal = _READER(request, bearer, header)  # what the route would run: key, rate limit, scope
        except StarletteHTTPException as exc:
            response = await self._handle(request, exc)
            await response(scope, receive, send)
            return True
        if principal.accounts is not accounts:  # the registry was reloaded in between
            ckey = cache_key(principal.accounts, scope)
        entry = self.cache.get(version, ckey, count_miss=False)
        if entry is None:
            scope.pop("route", None)
            return False  # the registry changed in between: the route answers
        await send({"type": "http.response.start", "status": 200, "headers": list(entry.headers)})
        await send({"type": "http.response.body", "body": entry.body, "more_body": False})
        return True

    async def _handle(self, request: Request, exc: StarletteHTTPException) -> Response:
        """The application's answer to ``exc``, as its exception middleware would give it."""
        handlers = self.api.exception_handlers
        handler = handlers.get(exc.status_code)
        if handler is None:
            handler = next((handlers[c] for c in type(exc).__mro__ if c in handlers), None)
        if handler is None:  # pragma: no cover - FastAPI always registers one for HTTPException
            return Response(status_code=exc.status_code, headers=exc.headers)
        if is_async_callable(handler):
            return await handler(request, exc)
        return await run_in_threadpool(handler, request, exc)


def install(app: FastAPI, max_mb: float) -> list[Any]:
    """Give ``app`` a response cache of ``max_mb`` MiB (0: none; ``app.state.response_cache``). Returns the
    route dependencies that make a route cached: pass them to ``include_router`` / ``add_api_route`` for
    the routes whose 200 answer is a function of the snapshot, the accounts, the path and the query alone
    and that need the ``read`` scope (``api.auth.Reader``)."""
    cache = ResponseCache(int(max_mb * 1024 * 1024))
    app.state.response_cache = cache
    if not cache.enabled:
        return []
    app.add_middleware(ResponseCacheMiddleware, cache=cache, api=app)
    app.add_exception_handler(CachedAnswer, _answer)  # type: ignore[arg-type]
    return [Depends(lookup)]


__all__ = ["CachedAnswer", "ResponseCache", "ResponseCacheMiddleware", "accounts_name", "cache_key", "install",
           "lookup", "normalized_query"]
