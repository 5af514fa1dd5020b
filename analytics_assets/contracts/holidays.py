"""The holiday calendar: the days known in advance to move a deployment's ad and post series (closures, shopping
peaks). One calendar serves both sides of the loop: the forecasts take it as known future inputs
(``ml/forecasting.py``), and the simulator plants its holiday effects on exactly its days
(``sources/simulator/series_patterns.py``), so a forecast learns holidays from the calendar a real deployment
configures, never from the simulator's truth.

A calendar is a built-in rule set (``CYCLE_HOLIDAY_CALENDAR``: ``us_retail``, the default, or ``none``) plus
explicit days (``CYCLE_HOLIDAY_DATES``: comma-separated ``YYYY-MM-DD=name:kind``, e.g.
``2026-03-17=spring_sale:peak``; an explicit day replaces the rule's holiday on the same day). A holiday's
``kind`` says which way it moves the series when no earlier occurrence of the same holiday is in the history:
``closure`` (offices and shops shut: activity dips) or ``peak`` (a shopping event: ad spend surges).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

KINDS = ("closure", "peak")
HOLIDAY_COLUMNS = ["holiday_date", "name", "kind"]


@dataclass(frozen=True)
class Holiday:
    day: date
    name: str
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"holiday {self.name!r} on {self.day}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not re.fullmatch(r"[a-z0-9_]{1,40}", self.name):
            raise ValueError(f"holiday name must be 1..40 of a-z, 0-9 and _, got {self.name!r}")


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def us_retail(year: int) -> list[Holiday]:
    """The US retail advertiser's year: the public closures that empty offices and feeds, and the shopping peaks
    (Black Friday, Cyber Monday) that ad budgets chase."""
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    return [
        Holiday(date(year, 1, 1), "new_years_day", "closure"),
        Holiday(date(year, 7, 4), "independence_day", "closure"),
        Holiday(thanksgiving, "thanksgiving", "closure"),
        Holiday(thanksgiving + timedelta(days=1), "black_friday", "peak"),
        Holiday(thanksgiving + timedelta(days=4), "cyber_monday", "peak"),
        Holiday(date(year, 12, 24), "christmas_eve", "closure"),
        Holiday(date(year, 12, 25), "christmas_day", "closure"),
        Holiday(date(year, 12, 31), "new_years_eve", "closure"),
    ]


@functools.lru_cache(maxsize=64)
def _year(calendar: HolidayCalendar, year: int) -> dict[date, Holiday]:
    return {h.day: h for h in calendar.holidays(date(year, 1, 1), date(year, 12, 31))}


CALENDARS: dict[str, Callable[[int], list[Holiday]]] = {"us_retail": us_retail, "none": lambda year: []}
DEFAULT_CALENDAR = "us_retail"


@dataclass(frozen=True)
class HolidayCalendar:
    """A named rule set plus explicit days (hashable: the simulator's plan, a cache key, holds one)."""

    rules: str = DEFAULT_CALENDAR
    extra: tuple[Holiday, ...] = ()

    def __post_init__(self) -> None:
        if self.rules not in CALENDARS:
            raise ValueError(f"unknown holiday calendar {self.rules!r}: one of {', '.join(CALENDARS)}")

    @classmethod
    def from_settings(cls, rules: str = DEFAULT_CALENDAR, dates: str | None = None) -> HolidayCalendar:
        """The calendar of the two settings (``CYCLE_HOLIDAY_CALENDAR``, ``CYCLE_HOLIDAY_DATES``); a malformed
        entry is a clear error naming it, never a silently smaller calendar."""
        extra = []
        for entry in (dates or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})=([^:]+):(\w+)", entry)
            if not m:
                raise ValueError(f"holiday date {entry!r}: expected YYYY-MM-DD=name:kind (kind: {', '.join(KINDS)})")
            try:
                day = date.fromisoformat(m.group(1))
            except ValueError as exc:
                raise ValueError(f"holiday date {entry!r}: {exc}") from None
            extra.append(Holiday(day, m.group(2).strip(), m.group(3)))
        return cls(rules=(rules or DEFAULT_CALENDAR).strip().lower(), extra=tuple(sorted(extra, key=lambda h: h.day)))

    def holidays(self, start: date, end: date) -> list[Holiday]:
        """Every holiday from ``start`` to ``end`` (both included), one per day, by day."""
        by_day = {h.day: h for year in range(start.year, end.year + 1) for h in CALENDARS[self.rules](year)}
        by_day.update({h.day: h for h in self.extra})
        return [by_day[d] for d in sorted(by_day) if start <= d <= end]

    def on(self, day: date) -> Holiday | None:
        """The holiday on ``day``, if any (cached per year: the simulator asks once per series and day)."""
        return _year(self, day.year).get(day)

    def frame(self, start: date, end: date) -> pd.DataFrame:
        """The holidays of ``start..end`` as rows (``HOLIDAY_COLUMNS``): what ``ml.forecasting`` takes."""
        rows = [(pd.Timestamp(h.day), h.name, h.kind) for h in self.holidays(start, end)]
        return pd.DataFrame(rows, columns=HOLIDAY_COLUMNS).astype({"holiday_date": "datetime64[ns]"})
