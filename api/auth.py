"""Who is asking: API keys, their workspace and scopes, and per-key rate limits.

Every data route depends on ``require(scope)``. The key comes as ``Authorization: Bearer cyk_...`` or
``X-API-Key: cyk_...`` and is checked against the access registry (``contracts.access``), which is held in
memory and reloaded when its file changes, so a request costs one ``stat()`` and a SHA-256:

* no key, or a key that is malformed, unknown, wrong or revoked: **401** (``WWW-Authenticate: Bearer``);
* a valid key without the route's scope: **403**;
* a valid key over its request limit: **429** with ``Retry-After`` (seconds until the window frees a slot).

Limits use the ``limits`` library's moving window in memory, per API worker process: the configured limit
(``$CYCLE_API_RATE_LIMIT``, default ``1200/minute;100/second``) applies to each key in each worker.
Requests with a missing or bad key are limited per client address (``FAILED_AUTH_LIMIT``), so guessing
keys is slow as well as hopeless.

The authenticated key is put on ``request.state.api_key`` for the audit records; the workspace's accounts
on the returned :class:`Principal` scope every read (``ServingStore.scoped``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import limits
from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from analytics_assets.contracts.access import Account, AccessRegistry, AccessSnapshot, ApiKey

FAILED_AUTH_LIMIT = "30/minute"

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

    def __init__(self, registry: AccessRegistry, rate_limit: str):
        self.registry = registry
        self.limits = limits.parse_many(rate_limit)
        self.failed_limit = limits.parse(FAILED_AUTH_LIMIT)
        self._limiter = limits.strategies.MovingWindowRateLimiter(limits.storage.MemoryStorage())
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
        """Count a request against each limit of ``ids``; 429 when one is spent."""
        for item in items:
            if not self._limiter.hit(item, *ids):
                retry = self._retry_after(item, *ids)
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


def access_control(registry_path: Path, rate_limit: str) -> AccessControl:
    return AccessControl(AccessRegistry(registry_path), rate_limit)


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
