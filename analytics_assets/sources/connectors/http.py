"""One synchronous HTTP client for every platform, applying Cycle's error policy.

401 refreshes the token once, then retries; a throttled answer (429, or what the platform's classifier calls
throttling) waits for the time the platform announces in its usage headers (see ``throttling``), else
``Retry-After`` (seconds or HTTP-date), else backs off exponentially with jitter, at most 3 retries; a
successful answer whose usage headers report usage near the limit pauses the next call until the window
resets; any of these waits longer than the throttle policy's maximum raises ``ThrottledTooLong``; 5xx and
unreadable bodies at most 2 retries; network errors and timeouts at most 5; 404 on a post raises
``PostDeleted``. Every attempt takes a token from the platform's bucket and passes its circuit breaker.
Counters (the throttle waits among them) feed the asset metadata.
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
    ThrottledTooLong,
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
from analytics_assets.sources.connectors.throttling import Pauses, ThrottlePolicy, Usage, UsageReader, endpoint_of

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
    throttled_waits: int = 0  # waits on a throttled answer (announced time, Retry-After or back-off)
    throttle_pauses: int = 0  # pauses before the next call because usage neared the limit
    throttle_wait_seconds: float = 0.0  # both kinds together
    peak_usage_pct: float | None = None  # the largest usage percentage the platform reported (Meta)
    fewest_remaining: float | None = None  # the fewest calls left the platform reported (X, Reddit)

    def note_usage(self, usage: Usage) -> None:
        if usage.used_pct is not None:
            self.peak_usage_pct = max(self.peak_usage_pct or 0.0, usage.used_pct)
        if usage.remaining is not None:
            seen = self.fewest_remaining
            self.fewest_remaining = usage.remaining if seen is None else min(seen, usage.remaining)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "responses_by_status": {str(k): v for k, v in sorted(self.by_status.items(), key=lambda kv: str(kv[0]))},
            "retries": dict(self.retries),
            "token_refreshes": self.token_refreshes,
            "backoff_wait_seconds": round(self.backoff_wait_seconds, 3),
            "throttled_waits": self.throttled_waits,
            "throttle_pauses": self.throttle_pauses,
            "throttle_wait_seconds": round(self.throttle_wait_seconds, 3),
            "peak_usage_pct": self.peak_usage_pct,
            "fewest_remaining_calls": self.fewest_remaining,
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
        usage_reader: UsageReader | None = None,
        throttle: ThrottlePolicy | None = None,
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
        self.usage_reader = usage_reader
        self.throttle = throttle or ThrottlePolicy(max_wait_seconds=self.policy.max_wait_seconds)
        self.pauses = Pauses()  # no call before these times: usage neared the limit (per endpoint where it counts so)
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
        endpoint: str | None = None,
    ) -> Any:
        """Send one logical request (with its retries) and return the parsed JSON body. ``endpoint`` names the
        endpoint the platform counts the call on (X: ``GET /2/users/:id/tweets``), for its usage pauses;
        by default the method and the path with its ids generalized (``throttling.endpoint_of``)."""
        target = self._url(url)
        where = f"{method} {httpx.URL(target).path}"
        endpoint = endpoint or endpoint_of(method, httpx.URL(target).path)
        tries: Counter[str] = Counter()
        refreshes = 0
        while True:
            self._hold_off(where, endpoint)
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
            usage: Usage | None = None
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
                usage = self._read_usage(resp)
                if error_class is None and parse_error is None:
                    self.breaker.record_success()
                    if usage is not None:
                        self._schedule_pause(usage, endpoint)
                    return body
                if error_class is None:  # a 2xx whose body is cut or not JSON: retried like a 5xx
                    error_class = SERVER
                    detail = f"unreadable JSON body ({getattr(parse_error, 'msg', parse_error)})"
                else:
                    detail = f"HTTP {status}: {_short(resp)}"
                if error_class == RATE_LIMITED:
                    # the platform's own announcement first: it says when access returns, Retry-After
                    # (where sent at all) is often a generic minimum
                    retry_after = ThrottlePolicy.announced_wait(usage)
                    if retry_after is None:
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
            if error_class == RATE_LIMITED and wait > self.throttle.max_wait_seconds:
                announced = usage.header if usage is not None and usage.reset_in else "Retry-After"
                raise ThrottledTooLong(
                    self.platform,
                    f"{where}: throttled ({detail}); {announced} says access returns in {_duration(wait)}, more than "
                    f"the {_duration(self.throttle.max_wait_seconds)} a run may wait (max_retry_wait_seconds); what "
                    "was fetched before is kept and the next run resumes from there",
                    wait,
                    self.throttle.max_wait_seconds,
                    status,
                )
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
            if error_class == RATE_LIMITED:
                self.stats.throttled_waits += 1
                self.stats.throttle_wait_seconds += wait
            else:
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

    # ---- usage headers: pause before the platform throttles
    def _read_usage(self, resp: httpx.Response) -> Usage | None:
        if self.usage_reader is None:
            return None
        usage = self.usage_reader(resp.headers, self.clock.time())
        if usage is not None:
            self.stats.note_usage(usage)
        return usage

    def _schedule_pause(self, usage: Usage, endpoint: str) -> None:
        """Usage near the limit: the next call waits (of ``endpoint`` only, where the usage is that endpoint's).
        Lazily, so a sync whose last call this was ends now."""
        pause = self.throttle.pause_after(usage)
        if pause > 0:
            self.pauses.schedule(usage, endpoint, self.clock.time() + pause)

    def _hold_off(self, where: str, endpoint: str) -> None:
        wait, reason = self.pauses.due(endpoint, self.clock.time())
        if wait <= 0:
            return
        if wait > self.throttle.max_wait_seconds:  # kept: any later call it holds is refused too
            raise ThrottledTooLong(
                self.platform,
                f"{where}: usage near the limit ({reason}); the pause until access returns is {_duration(wait)}, "
                f"more than the {_duration(self.throttle.max_wait_seconds)} a run may wait (max_retry_wait_seconds); "
                "what was fetched before is kept and the next run resumes from there",
                wait,
                self.throttle.max_wait_seconds,
            )
        self.pauses.clear(endpoint)
        log.warning("%s: %s; pausing %.0fs before %s", self.platform, reason, wait, where)
        self.stats.throttle_pauses += 1
        self.stats.throttle_wait_seconds += wait
        self.clock.sleep(wait)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f} min ({seconds:.0f}s)"


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
