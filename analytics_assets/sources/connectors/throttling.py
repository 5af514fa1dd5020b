"""What a platform's usage headers say about its request budget, and how long to hold off because of it.

Each platform reports its budget on every answer, throttled or not:

- **Meta** (Graph and Marketing API): ``X-Business-Use-Case-Usage`` is JSON keyed by business object id, each a
  list of ``{"type", "call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"}``: three
  percentages of the rolling one-hour budget and, once throttled, the *minutes* until calls are let through
  again. ``X-App-Usage`` carries the same three percentages for the app; ``X-Ad-Account-Usage`` carries
  ``acc_id_util_pct`` and ``reset_time_duration`` (seconds until that percentage drops back to 0).
- **X** (API v2): ``x-rate-limit-limit``, ``x-rate-limit-remaining`` and ``x-rate-limit-reset``, the *epoch
  second* (UTC) at which the endpoint's 15-minute window resets.
- **Reddit**: ``X-Ratelimit-Used``, ``X-Ratelimit-Remaining`` (a float) and ``X-Ratelimit-Reset``, the
  *seconds* until the window resets.

A reader turns one answer's headers into a ``Usage``; ``ThrottlePolicy`` says how long to wait on a throttled
answer (the announced time) and how long to pause after a successful one whose usage is near the limit, so
the next call is not the one that gets throttled. Meta's pause grows in proportion to how far usage is past
the threshold (Airbyte's Meta source pauses for fixed steps at 85% and 95%; a proportional pause is the
same idea without the cliff); X and Reddit pause until their window resets once fewer calls than a small
floor remain (what tweepy and PRAW do when ``remaining`` reaches 0, one call earlier).

A pause holds what the budget covers. Meta's and Reddit's budgets cover the whole app or OAuth client, so
their pause holds every call; X limits each *endpoint* on its own (``x-rate-limit-reset`` is the window of
the endpoint that answered), so its usage says ``per_endpoint`` and ``Pauses`` holds only that endpoint
(``endpoint_of``: the method and the path with its ids generalized, as X's rate-limit table names them,
``GET /2/users/:id/tweets``): a spent listing window never delays a tweet lookup.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Usage:
    """One answer's report on the budget. Every field is optional: a platform says what it says."""

    header: str  # the header(s) it came from, for messages
    used_pct: float | None = None  # Meta: the largest percentage of any budget it reports
    remaining: float | None = None  # X, Reddit: calls left in the current window
    reset_in: float | None = None  # seconds until the window resets or access returns (0: not throttled)
    per_endpoint: bool = False  # the figures are the answering endpoint's budget (X), not the whole client's

    def describe(self) -> str:
        parts = []
        if self.used_pct is not None:
            parts.append(f"usage {self.used_pct:g}%")
        if self.remaining is not None:
            parts.append(f"{self.remaining:g} calls left")
        if self.reset_in:
            parts.append(f"access returns in {self.reset_in:.0f}s")
        return f"{self.header}: {', '.join(parts) or 'no figures'}"


# (response headers, clock time in epoch seconds) -> the usage they report, or None when they report none
UsageReader = Callable[[Mapping[str, str], float], "Usage | None"]


def _number(value: object) -> float | None:
    """A finite number from a header field, else None (a malformed header never breaks a sync)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _json(headers: Mapping[str, str], name: str) -> object:
    raw = headers.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return None


def _percentages(usage: dict) -> list[float]:
    """Meta's three shares of a budget: calls, CPU time and total time, each 0-100 (or more once throttled)."""
    return [p for k in ("call_count", "total_cputime", "total_time") if (p := _number(usage.get(k))) is not None]


def meta_usage(headers: Mapping[str, str], now: float) -> Usage | None:
    """The largest percentage Meta reports in any of its three usage headers, and the longest wait it
    announces: ``estimated_time_to_regain_access`` (minutes) or the ad account's ``reset_time_duration``
    (seconds) once that account's usage is at 100%."""
    percentages: list[float] = []
    waits: list[float] = []
    seen: list[str] = []
    business = _json(headers, "x-business-use-case-usage")
    if isinstance(business, dict):
        seen.append("X-Business-Use-Case-Usage")
        for entries in business.values():
            for entry in entries if isinstance(entries, list) else [entries]:
                if not isinstance(entry, dict):
                    continue
                percentages += _percentages(entry)
                minutes = _number(entry.get("estimated_time_to_regain_access"))
                if minutes is not None and minutes > 0:
                    waits.append(minutes * 60)
    app = _json(headers, "x-app-usage")
    if isinstance(app, dict):
        seen.append("X-App-Usage")
        percentages += _percentages(app)
    account = _json(headers, "x-ad-account-usage")
    if isinstance(account, dict):
        seen.append("X-Ad-Account-Usage")
        pct = _number(account.get("acc_id_util_pct"))
        if pct is not None:
            percentages.append(pct)
            reset = _number(account.get("reset_time_duration"))
            if pct >= 100 and reset is not None and reset > 0:
                waits.append(reset)
    if not seen:
        return None
    return Usage(
        " + ".join(seen),
        used_pct=max(percentages) if percentages else None,
        reset_in=max(waits) if waits else 0.0,
    )


def x_usage(headers: Mapping[str, str], now: float) -> Usage | None:
    """X: calls left in the endpoint's window and the epoch second it resets at."""
    remaining = _number(headers.get("x-rate-limit-remaining"))
    reset_at = _number(headers.get("x-rate-limit-reset"))
    if remaining is None and reset_at is None:
        return None
    return Usage(
        "x-rate-limit-remaining/x-rate-limit-reset",
        remaining=remaining,
        reset_in=None if reset_at is None else max(0.0, reset_at - now),
        per_endpoint=True,
    )


def reddit_usage(headers: Mapping[str, str], now: float) -> Usage | None:
    """Reddit: calls left in the window and the seconds until it resets."""
    remaining = _number(headers.get("x-ratelimit-remaining"))
    reset = _number(headers.get("x-ratelimit-reset"))
    if remaining is None and reset is None:
        return None
    return Usage(
        "X-Ratelimit-Remaining/X-Ratelimit-Reset",
        remaining=remaining,
        reset_in=None if reset is None else max(0.0, reset),
    )


@dataclass
class ThrottlePolicy:
    """When to pause before the platform throttles, and for how long.

    ``max_wait_seconds`` bounds every throttle wait (the announced time on a throttled answer, and a pause
    before one): a platform that asks for longer fails the run, which keeps what it committed and resumes
    on the next run, instead of holding a run (and its warehouse pool slot) for hours.
    """

    usage_threshold_pct: float = 80.0  # Meta: pause once the largest usage percentage reaches this
    min_remaining: float = 2.0  # X, Reddit: pause until the reset once fewer calls than this are left
    min_pause_seconds: float = 60.0  # Meta: the pause at the threshold...
    max_pause_seconds: float = 600.0  # ...growing in proportion to this at 100%
    max_wait_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if not 0 < self.usage_threshold_pct <= 100:
            raise ValueError(f"usage_threshold_pct must be in (0, 100], got {self.usage_threshold_pct}")
        if self.min_remaining < 0 or self.min_pause_seconds < 0 or self.max_pause_seconds < self.min_pause_seconds:
            raise ValueError("throttle pauses need min_remaining >= 0 and 0 <= min_pause_seconds <= max_pause_seconds")

    def pause_after(self, usage: Usage) -> float:
        """Seconds to hold off before the next call after a successful answer reporting ``usage`` (0: none)."""
        if usage.used_pct is not None and usage.used_pct >= self.usage_threshold_pct:
            span = 100.0 - self.usage_threshold_pct
            share = 1.0 if span <= 0 else min(1.0, (usage.used_pct - self.usage_threshold_pct) / span)
            proportional = self.min_pause_seconds + share * (self.max_pause_seconds - self.min_pause_seconds)
            return max(proportional, usage.reset_in or 0.0)
        if usage.remaining is not None and usage.remaining < self.min_remaining:
            return usage.reset_in or 0.0
        return 0.0

    @staticmethod
    def announced_wait(usage: Usage | None) -> float | None:
        """The wait a throttled answer's usage headers announce, if they announce one."""
        if usage is None or not usage.reset_in:
            return None
        return usage.reset_in


# an id in a path: a number of three digits or more (an API version, ``/2/``, is not one) or a Reddit fullname
_ID_SEGMENT = re.compile(r"^(?:\d{3,}|t\d_[0-9a-z]+)$")
CLIENT_WIDE = ""  # the scope of a pause that holds every endpoint


def endpoint_of(method: str, path: str) -> str:
    """The endpoint a rate limit is counted on, for a client that does not name it (``request_json``'s
    ``endpoint``): the method and the path with its id segments as ``:id``, so ``GET /2/users/141000/tweets``
    and ``GET /2/users/141001/tweets`` share one budget, as they do at X."""
    segments = ["" if not s else ":id" if _ID_SEGMENT.match(s) else s for s in path.split("/")]
    return f"{method.upper()} {'/'.join(segments)}"


@dataclass
class Pauses:
    """When calls may resume, per scope: ``CLIENT_WIDE`` holds every call, an endpoint (``endpoint_of``) only
    its own. A client keeps one; its calls ask ``due`` before they are sent."""

    _resume_at: dict[str, float] = field(default_factory=dict)
    _reason: dict[str, str] = field(default_factory=dict)

    def schedule(self, usage: Usage, endpoint: str, until: float) -> None:
        scope = endpoint if usage.per_endpoint else CLIENT_WIDE
        if until > self._resume_at.get(scope, 0.0):
            self._resume_at[scope], self._reason[scope] = until, usage.describe()

    def due(self, endpoint: str, now: float) -> tuple[float, str]:
        """(seconds to wait before calling ``endpoint``, why): the longest of its own pause and the client's.
        Pauses that are over are forgotten."""
        wait, why = 0.0, ""
        for scope in (CLIENT_WIDE, endpoint):
            resume = self._resume_at.get(scope)
            if resume is None:
                continue
            if resume <= now:
                del self._resume_at[scope], self._reason[scope]
            elif resume - now > wait:
                wait, why = resume - now, self._reason[scope]
        return wait, why

    def clear(self, endpoint: str) -> None:
        """The pauses ``endpoint`` just waited out (its own and the client's)."""
        for scope in (CLIENT_WIDE, endpoint):
            self._resume_at.pop(scope, None)
            self._reason.pop(scope, None)

    @property
    def pending(self) -> dict[str, float]:
        """Scope -> the time calls may resume (``CLIENT_WIDE`` is the empty string)."""
        return dict(self._resume_at)


__all__ = [
    "CLIENT_WIDE",
    "Pauses",
    "ThrottlePolicy",
    "Usage",
    "UsageReader",
    "endpoint_of",
    "meta_usage",
    "reddit_usage",
    "x_usage",
]
