"""Rate limiting, circuit breaking and the retry policy shared by every platform client.

Every piece takes an injectable clock so tests run scripted hours of back-off in milliseconds.
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import random
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from analytics_assets.sources.connectors.errors import CircuitOpen, RateLimitBudgetExhausted


class Clock:
    """Wall-clock time and sleep; tests swap in a fake that advances on sleep."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class TokenBucket:
    """At most ``capacity`` requests in any window of ``period_seconds``.

    A spent token comes back exactly one period after it was spent (a sliding-window bucket), so unlike a
    continuously refilled bucket it can never let through a burst of twice the published limit across
    a window boundary. The spend times can be persisted, so consecutive runs share one budget.
    """

    def __init__(
        self,
        capacity: int,
        period_seconds: float,
        clock: Clock | None = None,
        state_path: str | Path | None = None,
    ):
        if capacity < 1 or period_seconds <= 0:
            raise ValueError("a token bucket needs capacity >= 1 and a positive period")
        self.capacity = int(capacity)
        self.period = float(period_seconds)
        self.clock = clock or Clock()
        self.state_path = Path(state_path) if state_path else None
        self._spent: deque[float] = deque()
        self.waited_seconds = 0.0
        self._load()

    def _expire(self, now: float) -> None:
        while self._spent and self._spent[0] <= now - self.period:
            self._spent.popleft()

    def available(self) -> int:
        self._expire(self.clock.time())
        return self.capacity - len(self._spent)

    def wait_time(self) -> float:
        now = self.clock.time()
        self._expire(now)
        if len(self._spent) < self.capacity:
            return 0.0
        return self._spent[0] + self.period - now

    def acquire(self, max_wait_seconds: float = math.inf) -> float:
        """Take one token, sleeping until one is free; returns the seconds waited. Raises
        ``RateLimitBudgetExhausted`` instead of sleeping longer than ``max_wait_seconds``."""
        waited = 0.0
        while True:
            wait = self.wait_time()
            if wait <= 0:
                self._spent.append(self.clock.time())
                self.waited_seconds += waited
                return waited
            if waited + wait > max_wait_seconds:
                self.waited_seconds += waited
                raise RateLimitBudgetExhausted(
                    f"rate limit of {self.capacity} requests per {self.period:g}s reached; next request "
                    f"allowed in {wait:.0f}s, more than the {max_wait_seconds:g}s a run may wait"
                )
            self.clock.sleep(wait)
            waited += wait

    # ---- persistence: one JSON file of spend times per platform
    def _load(self) -> None:
        if not self.state_path or not self.state_path.exists():
            return
        try:
            state = json.loads(self.state_path.read_text())
            spent = sorted(float(t) for t in state.get("spent", []))
        except (ValueError, TypeError, OSError):
            return  # a corrupt state file only loses the memory of past spends, never blocks ingestion
        self._spent = deque(spent[-self.capacity :])
        self._expire(self.clock.time())

    def save(self) -> None:
        if not self.state_path:
            return
        self._expire(self.clock.time())
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"capacity": self.capacity, "period": self.period, "spent": list(self._spent)}))
        os.replace(tmp, self.state_path)


class CircuitBreaker:
    """Closed -> open after ``failure_threshold`` consecutive failures -> half-open after ``cooldown``
    (one trial request) -> closed on success, open again on failure."""

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(self, failure_threshold: int = 8, cooldown_seconds: float = 60.0, clock: Clock | None = None):
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown_seconds
        self.clock = clock or Clock()
        self._state = self.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self.times_opened = 0
        self.transitions: list[str] = []

    @property
    def state(self) -> str:
        if self._state == self.OPEN and self.clock.time() - self._opened_at >= self.cooldown:
            self._set(self.HALF_OPEN)
        return self._state

    def _set(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.transitions.append(state)

    def before_request(self, platform: str) -> None:
        if self.state == self.OPEN:
            remaining = self.cooldown - (self.clock.time() - self._opened_at)
            raise CircuitOpen(platform, f"circuit open after {self._failures} consecutive failures; retry in {remaining:.0f}s")

    def record_success(self) -> None:
        self._failures = 0
        self._set(self.CLOSED)

    def record_failure(self) -> None:
        self._failures += 1
        if self._state == self.HALF_OPEN or self._failures >= self.failure_threshold:
            self._opened_at = self.clock.time()
            if self._state != self.OPEN:
                self.times_opened += 1
            self._set(self.OPEN)


# error classes of the retry policy
AUTH, RATE_LIMITED, SERVER, NETWORK, NOT_FOUND, CLIENT = "auth", "rate_limited", "server", "network", "not_found", "client"


@dataclass
class RetryPolicy:
    """How often each class of error is retried, and how long to wait between tries."""

    max_rate_limited: int = 3  # 429: honour Retry-After, else exponential back-off with jitter
    max_server: int = 2  # 5xx and unreadable bodies
    max_network: int = 5  # connection errors, dropped connections, timeouts
    max_auth_refresh: int = 1  # 401: refresh the token once, then retry
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    max_wait_seconds: float = 900.0  # a Retry-After longer than this fails the request instead of stalling a run
    rng: random.Random = field(default_factory=random.Random)

    def limit(self, error_class: str) -> int:
        return {
            RATE_LIMITED: self.max_rate_limited,
            SERVER: self.max_server,
            NETWORK: self.max_network,
            AUTH: self.max_auth_refresh,
        }.get(error_class, 0)

    def backoff(self, attempt: int) -> float:
        """Equal jitter: half the exponential delay, plus a random share of the other half."""
        delay = min(self.backoff_max_seconds, self.backoff_base_seconds * (2**attempt))
        return delay / 2 + self.rng.uniform(0, delay / 2)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)
