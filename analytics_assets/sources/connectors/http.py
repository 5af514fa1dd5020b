"""One synchronous HTTP client for every platform, applying Cycle's error policy.

401 refreshes the token once, then retries; 429 waits for ``Retry-After`` (seconds or HTTP-date) or
backs off exponentially with jitter, at most 3 retries; 5xx and unreadable bodies at most 2 retries;
network errors and timeouts at most 5; 404 on a post raises ``PostDeleted``. Every attempt takes a token
from the platform's bucket and passes its circuit breaker. Counters feed the asset metadata.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from analytics_assets.sources.connectors.errors import (
    AuthError,
    CircuitOpen,
    ClientError,
    ConnectorError,
    PostDeleted,
    RateLimitBudgetExhausted,
    RetriesExhausted,
)
from analytics_assets.sources.connectors.redaction import get_logger, redact
from analytics_assets.sources.connectors.resilience import (
    AUTH,
    CLIENT,
    NETWORK,
    NOT_FOUND,
    RATE_LIMITED,
    SERVER,
    CircuitBreaker,
    Clock,
    RetryPolicy,
    TokenBucket,
    parse_retry_after,
)

log = get_logger("cycle.connectors.http")


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """Loading the CA bundle takes ~0.1 s: do it once per process, not once per client."""
    return httpx.create_ssl_context()  # httpx's own default (certifi's bundle, SSL_CERT_* honoured)


class Auth(Protocol):
    can_refresh: bool

    def headers(self) -> dict[str, str]: ...

    def refresh(self) -> None: ...


class NoAuth:
    can_refresh = False

    def headers(self) -> dict[str, str]:
        return {}

    def refresh(self) -> None:  # pragma: no cover - never called: can_refresh is False
        raise NotImplementedError


# (response, parsed body or None) -> error class, or None for the status code's default
Classifier = Callable[[httpx.Response, Any], str | None]


@dataclass
class RequestStats:
    requests: int = 0
    by_status: Counter = field(default_factory=Counter)
    retries: Counter = field(default_factory=Counter)
    token_refreshes: int = 0
    backoff_wait_seconds: float = 0.0

    def as_metadata(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "responses_by_status": {str(k): v for k, v in sorted(self.by_status.items(), key=lambda kv: str(kv[0]))},
            "retries": dict(self.retries),
            "token_refreshes": self.token_refreshes,
            "backoff_wait_seconds": round(self.backoff_wait_seconds, 3),
        }


def default_class(status: int) -> str | None:
    if 200 <= status < 300:
        return None
    if status == 401:
        return AUTH
    if status == 404:
        return NOT_FOUND
    if status == 429:
        return RATE_LIMITED
    if status == 408:
        return NETWORK
    if status >= 500:
        return SERVER
    return CLIENT


class PlatformHttpClient:
    def __init__(
        self,
        platform: str,
        base_url: str,
        *,
        auth: Auth | None = None,
        bucket: TokenBucket | None = None,
        breaker: CircuitBreaker | None = None,
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        timeout_seconds: float = 30.0,
        default_headers: dict[str, str] | None = None,
        classify: Classifier | None = None,
        max_rate_limit_wait_seconds: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ):
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self.auth = auth or NoAuth()
        self.clock = clock or Clock()
        self.bucket = bucket
        self.breaker = breaker or CircuitBreaker(clock=self.clock)
        self.policy = policy or RetryPolicy()
        self.classify = classify
        self.max_rate_limit_wait = max_rate_limit_wait_seconds
        self.stats = RequestStats()
        self.oauth: PlatformHttpClient | None = None  # the token endpoint's client, closed with this one
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds),
            headers=default_headers or {},
            transport=transport,
            verify=_tls_context(),
        )

    def close(self) -> None:
        self._http.close()
        if self.oauth is not None:
            self.oauth.close()
        if self.bucket is not None:
            self.bucket.save()

    def __enter__(self) -> PlatformHttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def rate_limit_wait_seconds(self) -> float:
        return self.bucket.waited_seconds if self.bucket else 0.0

    def metadata(self) -> dict[str, Any]:
        return {
            **self.stats.as_metadata(),
            "rate_limit_wait_seconds": round(self.rate_limit_wait_seconds, 3),
            "circuit_breaker": self.breaker.state,
            "circuit_breaker_opened": self.breaker.times_opened,
        }

    def _url(self, url: str) -> str:
        return url if url.startswith(("http://", "https://")) else f"{self.base_url}/{url.lstrip('/')}"

    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        post_id: str | None = None,
        authenticated: bool = True,
    ) -> Any:
        """Send one logical request (with its retries) and return the parsed JSON body."""
        target = self._url(url)
        where = f"{method} {httpx.URL(target).path}"
        tries: Counter[str] = Counter()
        refreshes = 0
        while True:
            self.breaker.before_request(self.platform)
            if self.bucket is not None:
                try:
                    self.bucket.acquire(self.max_rate_limit_wait)
                except RateLimitBudgetExhausted as exc:
                    raise RetriesExhausted(self.platform, f"{where}: {exc}", RATE_LIMITED, sum(tries.values())) from exc
            self.stats.requests += 1
            send_headers = {**(headers or {}), **(self.auth.headers() if authenticated else {})}
            status: int | None = None
            body: Any = None
            parse_error: Exception | None = None
            retry_after: float | None = None
            try:
                resp = self._http.request(method, target, params=params, json=json_body, data=data, headers=send_headers)
            except httpx.TimeoutException as exc:
                error_class, detail = NETWORK, f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                error_class, detail = NETWORK, f"connection failed ({type(exc).__name__}: {exc})"
            else:
                status = resp.status_code
                self.stats.by_status[status] += 1
                try:
                    body = resp.json() if resp.content else None
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    parse_error = exc
                error_class = (self.classify(resp, body) if self.classify else None) or default_class(status)
                if error_class is None and parse_error is None:
                    self.breaker.record_success()
                    return body
                if error_class is None:  # a 2xx whose body is cut or not JSON: retried like a 5xx
                    error_class = SERVER
                    detail = f"unreadable JSON body ({getattr(parse_error, 'msg', parse_error)})"
                else:
                    detail = f"HTTP {status}: {_short(resp)}"
                if error_class == RATE_LIMITED:
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"), self.clock.time())

            # the breaker counts only signs of an unhealthy platform; 401/404/429 are answers
            if error_class in (SERVER, NETWORK):
                self.breaker.record_failure()
            elif error_class in (NOT_FOUND, CLIENT):
                self.breaker.record_success()

            if error_class == NOT_FOUND:
                if post_id is not None:
                    raise PostDeleted(self.platform, post_id)
                raise ClientError(self.platform, f"{where}: {detail}", 404)
            if error_class == CLIENT:
                raise ClientError(self.platform, f"{where}: {detail}", status or 0)
            if error_class == AUTH:
                if self.auth.can_refresh and refreshes < self.policy.max_auth_refresh:
                    refreshes += 1
                    self.stats.token_refreshes += 1
                    log.info("%s: %s answered %s; refreshing the access token", self.platform, where, status)
                    self.auth.refresh()
                    continue
                raise AuthError(self.platform, f"{where}: credentials refused ({detail})")

            done = tries[error_class]
            if done >= self.policy.limit(error_class):
                raise RetriesExhausted(
                    self.platform,
                    f"{where}: {detail}; gave up after {done} retries",
                    error_class,
                    sum(tries.values()) + 1,
                    status,
                )
            wait = retry_after if retry_after is not None else self.policy.backoff(done)
            if wait > self.policy.max_wait_seconds:
                raise RetriesExhausted(
                    self.platform,
                    f"{where}: asked to wait {wait:.0f}s, more than {self.policy.max_wait_seconds:g}s",
                    error_class,
                    sum(tries.values()) + 1,
                    status,
                )
            tries[error_class] += 1
            self.stats.retries[error_class] += 1
            self.stats.backoff_wait_seconds += wait
            log.warning(
                "%s: %s failed (%s); retry %d of %d in %.2fs",
                self.platform,
                where,
                detail,
                tries[error_class],
                self.policy.limit(error_class),
                wait,
            )
            self.clock.sleep(wait)


def _short(resp: httpx.Response, limit: int = 200) -> str:
    try:
        text = resp.text
    except Exception:  # noqa: BLE001 - only for a message
        return ""
    return redact(text[:limit].replace("\n", " "))


__all__ = [
    "Auth",
    "CircuitOpen",
    "ConnectorError",
    "NoAuth",
    "PlatformHttpClient",
    "PostDeleted",
    "RequestStats",
]
