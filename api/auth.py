"""Who is asking: API keys, their workspace and scopes, and per-key rate limits.

Every data route depends on ``require(scope)``. The key comes as ``Authorization: Bearer cyk_...`` or
``X-API-Key: cyk_...`` and is checked against the access registry (``contracts.access``), which is held in
memory and reloaded when its file changes, so a request costs one ``stat()`` and a SHA-256:

* no key, or a key that is malformed, unknown, wrong or revoked: **401** (``WWW-Authenticate: Bearer``);
* a valid key without the route's scope: **403**;
* a valid key over its request limit: **429** with ``Retry-After`` (seconds until the window frees a slot).

Limits use the ``limits`` library's moving window (``$CYCLE_API_RATE_LIMIT``, default
``1200/minute;100/second``, per key) in the storage ``$CYCLE_API_RATE_LIMIT_STORAGE`` names (``api.settings``):
``memory://`` (the default) counts in the process, right for the embedded single-process API; with several
uvicorn workers or hosts each would count alone and a key would get N times its limit, so a deployment names a
shared store, ``redis://host:6379/0`` (or ``rediss://``, ``redis+sentinel://``, ``redis+cluster://``), where the
moving window is one Lua script per hit: atomic across every process counting against it. A shared store that
cannot be reached answers **503** with ``Retry-After`` (fail closed: a key never escapes its limit because the
counter is down), and says so in the log.
Requests with a missing or bad key are limited per client address (``FAILED_AUTH_LIMIT``), so guessing
keys is slow as well as hopeless.

The authenticated key is put on ``request.state.api_key`` for the audit records; the workspace's accounts
on the returned :class:`Principal` scope every read (``ServingStore.scoped``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import limits
from limits.errors import ConfigurationError, StorageError
from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from analytics_assets.contracts.access import Account, AccessRegistry, AccessSnapshot, ApiKey
from api.settings import DEFAULT_RATE_LIMIT_STORAGE, rate_limit_storage_from_env

log = logging.getLogger(__name__)

FAILED_AUTH_LIMIT = "30/minute"
LIMITER_UNAVAILABLE_RETRY_S = 5  # Retry-After while the shared rate-limit store cannot be reached

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer cyk_...` (an API key).")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key, `cyk_...`.")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: its key and the accounts of its workspace."""

    key: ApiKey
    accounts: frozenset[Account]

    @property
    def workspace_id(self) -> str:
        return self.key.workspace_id


class AccessControl:
    """The registry as of its last change, and the rate limiters. One per app."""

    def __init__(self, registry: AccessRegistry, rate_limit: str, storage_uri: str = DEFAULT_RATE_LIMIT_STORAGE):
        self.registry = registry
        self.limits = limits.parse_many(rate_limit)
        self.failed_limit = limits.parse(FAILED_AUTH_LIMIT)
        self.storage_uri = storage_uri
        self._limiter = limits.strategies.MovingWindowRateLimiter(rate_limit_storage(storage_uri))
        self._lock = threading.Lock()
        self._version: tuple[int, ...] | None = None
        self._snapshot = AccessSnapshot({}, {})

    def snapshot(self) -> AccessSnapshot:
        version = self.registry.version()
        if version != self._version:
            with self._lock:
                if version != self._version:
                    self._snapshot = self.registry.snapshot()
                    self._version = version
        return self._snapshot

    def _retry_after(self, item: limits.RateLimitItem, *ids: str) -> int:
        reset_at = self._limiter.get_window_stats(item, *ids).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def throttle(self, items: list[limits.RateLimitItem], *ids: str) -> None:
        """Count a request against each limit of ``ids``; 429 when one is spent, 503 when the shared store
        cannot be reached."""
        for item in items:
            try:
                allowed = self._limiter.hit(item, *ids)
                retry = 0 if allowed else self._retry_after(item, *ids)
            except StorageError as exc:  # the store's own error, wrapped (wrap_exceptions)
                log.warning("rate-limit store %s unreachable: %s", _safe_uri(self.storage_uri), type(exc.storage_error).__name__)
                raise HTTPException(
                    status_code=503,
                    detail="The rate limiter's store cannot be reached; nothing was served. Retry later.",
                    headers={"Retry-After": str(LIMITER_UNAVAILABLE_RETRY_S)},
                ) from None
            if not allowed:
                raise HTTPException(
                    status_code=429,
                    detail=f"Rate limit of {item} exceeded; retry in {retry} s.",
                    headers={"Retry-After": str(retry)},
                )

    def authenticate(self, request: Request, token: str | None) -> ApiKey:
        key = self.snapshot().authenticate(token) if token else None
        if key is None:
            client = request.client.host if request.client else "unknown"
            self.throttle([self.failed_limit], "failed-auth", client)
            why = "Missing API key" if not token else "Invalid or revoked API key"
            raise HTTPException(
                status_code=401,
                detail=f"{why}: send `Authorization: Bearer cyk_...` or `X-API-Key: cyk_...` "
                "(create one with `cycle keys create`).",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return key


def _safe_uri(uri: str) -> str:
    """``uri`` without its password (``redis://:secret@host`` -> ``redis://***@host``), for logs and errors."""
    scheme, sep, rest = uri.partition("://")
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}" if "@" in rest else uri


def rate_limit_storage(uri: str) -> limits.storage.Storage:
    """The ``limits`` storage ``uri`` names, made to support the moving window; a clear ValueError otherwise
    (an unknown scheme, a store without the moving window, the ``redis`` client not installed). Its errors
    reach ``throttle`` wrapped as ``limits.errors.StorageError``."""
    # a shared store that hangs must not hang every request: connect and answer within a second, or 503
    options = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0} if uri.startswith(("redis://", "rediss://")) else {}
    try:
        storage = limits.storage.storage_from_string(uri, wrap_exceptions=True, **options)
    except ConfigurationError as exc:
        why = str(exc).replace(uri, _safe_uri(uri))  # never the password of the URI
        raise ValueError(f"CYCLE_API_RATE_LIMIT_STORAGE={_safe_uri(uri)!r}: {why}") from None
    if not isinstance(storage, limits.storage.MovingWindowSupport):
        raise ValueError(
            f"CYCLE_API_RATE_LIMIT_STORAGE={_safe_uri(uri)!r}: {type(storage).__name__} is not a synchronous store "
            "with a moving window (use memory:// or redis://)"
        )
    return storage


def access_control(registry_path: Path, rate_limit: str, storage_uri: str | None = None) -> AccessControl:
    """The app's access control; its counters in ``storage_uri`` (default: ``$CYCLE_API_RATE_LIMIT_STORAGE``)."""
    return AccessControl(AccessRegistry(registry_path), rate_limit, storage_uri or rate_limit_storage_from_env())


def require(scope: str) -> Callable[..., Principal]:
    """A dependency: the caller's :class:`Principal`, holding ``scope`` (401/403/429 otherwise)."""

    def dependency(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header: Annotated[str | None, Depends(_header)],
    ) -> Principal:
        control: AccessControl = request.app.state.access
        token = bearer.credentials if bearer is not None else header
        key = control.authenticate(request, token)
        request.state.api_key = key
        control.throttle(control.limits, "key", key.key_id)
        if not key.allows(scope):
            raise HTTPException(
                status_code=403,
                detail=f"This key lacks the '{scope}' scope (it has: {', '.join(sorted(key.scopes))}).",
            )
        return Principal(key, control.snapshot().accounts(key.workspace_id))

    dependency.__name__ = f"require_{scope}"
    return dependency


Reader = Annotated[Principal, Depends(require("read"))]
Admin = Annotated[Principal, Depends(require("admin"))]
