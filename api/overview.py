"""The dashboard overview for any date range: ``GET /overview?start=&end=``.

``compute_overview`` is a plain function over the daily totals that the ``serving_snapshot`` asset
publishes as ``overview_daily.parquet`` (dbt model ``agg_overview_daily``): every overview metric over
[start, end] and over the previous window of equal length, with the change. It follows the dbt model
``agg_overview_windows`` exactly (sums over the window's days, ratios of sums, null for a window without
data, change_pct relative to the previous value), so the API and the dashboards' fixed windows agree;
tests/test_warehouse_marts.py holds the two to the same numbers.

Beside the platform-reported conversions (each ad platform's own claim, summed), ``attributed`` gives Cycle's
own attribution of the tracked conversions over the same two windows (``compute_attributed``), from
``attribution_daily.parquet`` (dbt model ``agg_channel_attribution_daily``) under one named rule-based model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, field_serializer, model_validator

from analytics_assets.contracts.raw import AD_PLATFORMS
from analytics_assets.contracts.serving import ATTRIBUTION_DAILY, OVERVIEW_DAILY, WEB_PLATFORM
from api.auth import Reader
from api.routes.common import DATA_ERRORS, EndParam, StartParam, Store, check_window, issue
from api.store import ServingFileInvalid, ServingFileMissing, SnapshotNotPinned

MAX_RANGE_DAYS = 3660  # ten years: more is a typo, not a question

# additive daily columns of agg_overview_daily (the serving contract of overview_daily.parquet)
ADDITIVE = (
    "spend_usd",
    "revenue_usd",
    "paid_conversions",
    "paid_impressions",
    "paid_clicks",
    "organic_impressions",
    "organic_engagements",
    "posts_published",
    "ai_calls",
    "ai_cost_usd",
)


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if not denominator else numerator / denominator


# metric -> value from the window's sums; the same list and order as agg_overview_windows
METRICS: tuple[tuple[str, Callable[[Mapping[str, float]], float | None]], ...] = (
    ("spend_usd", lambda s: s["spend_usd"]),
    ("revenue_usd", lambda s: s["revenue_usd"]),
    ("profit_usd", lambda s: s["revenue_usd"] - s["spend_usd"]),
    ("margin", lambda s: _ratio(s["revenue_usd"] - s["spend_usd"], s["revenue_usd"])),
    ("roas", lambda s: _ratio(s["revenue_usd"], s["spend_usd"])),
    ("paid_conversions", lambda s: s["paid_conversions"]),
    ("cpa_usd", lambda s: _ratio(s["spend_usd"], s["paid_conversions"])),
    ("paid_impressions", lambda s: s["paid_impressions"]),
    ("paid_clicks", lambda s: s["paid_clicks"]),
    ("ctr", lambda s: _ratio(s["paid_clicks"], s["paid_impressions"])),
    ("organic_impressions", lambda s: s["organic_impressions"]),
    ("organic_engagements", lambda s: s["organic_engagements"]),
    ("organic_engagement_rate", lambda s: _ratio(s["organic_engagements"], s["organic_impressions"])),
    ("posts_published", lambda s: s["posts_published"]),
    ("ai_calls", lambda s: s["ai_calls"]),
    ("ai_cost_usd", lambda s: s["ai_cost_usd"]),
)


def previous_window(start: date, end: date) -> tuple[date, date]:
    """The window of equal length that ends the day before ``start``."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def _window_values(rows: list[Mapping[str, Any]], start: date, end: date) -> tuple[int, dict[str, float | None]]:
    inside = [r for r in rows if start <= r["metric_date"] <= end]
    if not inside:  # no day of data: unknown, not zero
        return 0, {name: None for name, _ in METRICS}
    sums = {c: float(sum((r[c] or 0) for r in inside)) for c in ADDITIVE}
    values = {}
    for name, fn in METRICS:
        value = fn(sums)
        values[name] = None if value is None else float(value)
    return len(inside), values


def compute_overview(daily: Iterable[Mapping[str, Any]], start: date, end: date) -> dict[str, Any]:
    """Every overview metric over ``start..end`` (inclusive) and over the previous window of equal
    length, with ``change = current - previous`` and ``change_pct = change / abs(previous)`` (None when
    the previous value is None or 0). ``daily`` holds agg_overview_daily rows (``metric_date`` as a date
    plus the ADDITIVE columns)."""
    if start > end:
        raise ValueError(f"start ({start}) is after end ({end})")
    rows = list(daily)
    previous_start, previous_end = previous_window(start, end)
    current_days, current = _window_values(rows, start, end)
    previous_days, previous = _window_values(rows, previous_start, previous_end)
    metrics = []
    for name, _ in METRICS:
        cur, prev = current[name], previous[name]
        change = None if cur is None or prev is None else cur - prev
        change_pct = None if change is None or prev == 0 else change / abs(prev)
        metrics.append({"metric": name, "current": cur, "previous": prev, "change": change, "change_pct": change_pct})
    return {
        "start": start,
        "end": end,
        "days": (end - start).days + 1,
        "previous_start": previous_start,
        "previous_end": previous_end,
        "current_days_with_data": current_days,
        "previous_days_with_data": previous_days,
        "metrics": metrics,
    }


# ------------------------------------------------------------------------------ Cycle's attribution

# The attribution model of the overview's attributed figures. Rule-based, because the overview answers any
# window: the rule-based models credit each conversion on its own day (an exact sum over any range), while
# Markov and Shapley are fitted on the paths of one modelled window and /v1/attribution serves them for that
# window only. Linear, because it favours no position in the path: between the ad platforms' last-click-like
# claims and a first-touch view it is the neutral reference (/v1/attribution/models shows the other six).
OVERVIEW_ATTRIBUTION_MODEL = "linear"
# the attribution channels of the ad platforms (named as the platforms): their credit is what compares with
# the conversions those platforms report themselves (paid_conversions)
AD_CHANNELS = tuple(AD_PLATFORMS)

# metric -> (channels counted: the ad channels or every channel, column of attribution_daily)
ATTRIBUTED_METRICS: tuple[tuple[str, bool, str], ...] = (
    ("attributed_paid_conversions", True, "conversions"),
    ("attributed_paid_conversion_value_usd", True, "conversion_value"),
    ("tracked_conversions", False, "conversions"),
    ("tracked_conversion_value_usd", False, "conversion_value"),
)


def _attributed_values(rows: list[Mapping[str, Any]], start: date, end: date) -> dict[str, float]:
    inside = [r for r in rows if start <= r["conversion_date"] <= end]
    values = {}
    for name, ads_only, column in ATTRIBUTED_METRICS:
        values[name] = float(sum((r[column] or 0) for r in inside if not ads_only or r["channel"] in AD_CHANNELS))
    return values


def compute_attributed(credits: Iterable[Mapping[str, Any]], start: date, end: date) -> list[dict[str, Any]]:
    """Cycle's attributed conversions and value over ``start..end`` and the previous window of equal length:
    credited to the ad channels (beside the platforms' own ``paid_conversions``/``revenue_usd``) and over every
    channel (every tracked conversion, each credited once in total). ``credits`` holds attribution_daily rows
    of one model (``conversion_date`` as a date, ``channel``, ``conversions``, ``conversion_value``). A day
    without a tracked conversion has no row: it counts 0, not unknown."""
    if start > end:
        raise ValueError(f"start ({start}) is after end ({end})")
    rows = list(credits)
    previous_start, previous_end = previous_window(start, end)
    current = _attributed_values(rows, start, end)
    previous = _attributed_values(rows, previous_start, previous_end)
    metrics = []
    for name, _, _ in ATTRIBUTED_METRICS:
        cur, prev = current[name], previous[name]
        change = cur - prev
        metrics.append(
            {"metric": name, "platform_reported": False, "current": cur, "previous": prev, "change": change,
             "change_pct": None if prev == 0 else change / abs(prev)}
        )
    return metrics


# ------------------------------------------------------------------------------------------------ API

# the serving contract of overview_daily.parquet (one row per day and account): the workspace's accounts
# summed per day, exactly these columns, in the range asked for
_OVERVIEW_DAILY_SQL = (
    "SELECT CAST(metric_date AS DATE) AS metric_date, "
    + ", ".join(f"sum(CAST({c} AS DOUBLE)) AS {c}" for c in ADDITIVE)
    + " FROM src WHERE metric_date IS NOT NULL"
    " AND (CAST($start AS DATE) IS NULL OR CAST(metric_date AS DATE) >= CAST($start AS DATE))"
    " AND (CAST($end AS DATE) IS NULL OR CAST(metric_date AS DATE) <= CAST($end AS DATE))"
    " GROUP BY 1 ORDER BY 1"
)


# the workspace's web properties' credits of one model in the range, summed per day and channel
_ATTRIBUTION_DAILY_SQL = (
    "SELECT CAST(conversion_date AS DATE) AS conversion_date, CAST(channel AS VARCHAR) AS channel, "
    "sum(CAST(conversions AS DOUBLE)) AS conversions, sum(CAST(conversion_value AS DOUBLE)) AS conversion_value "
    "FROM src WHERE conversion_date IS NOT NULL AND channel IS NOT NULL AND CAST(model AS VARCHAR) = $model"
    " AND CAST(conversion_date AS DATE) BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)"
    " GROUP BY 1, 2 ORDER BY 1, 2"
)


# metrics that rest on the conversions and conversion value each ad platform reports under its own
# attribution: summed across platforms, a conversion two platforms both claim counts twice. Cycle's own
# attribution of tracked conversions is /v1/attribution.
PLATFORM_REPORTED = frozenset({"revenue_usd", "profit_usd", "margin", "roas", "paid_conversions", "cpa_usd"})


class OverviewMetric(BaseModel):
    metric: str = Field(description="Metric name (see the endpoint description).")
    platform_reported: bool = Field(
        default=False,
        description="Whether the metric rests on platform-reported conversions (each ad platform's own attribution, "
        "summed across platforms) rather than on Cycle's attribution of tracked conversions (/v1/attribution).",
    )
    current: float | None = Field(description="Value over start..end; null when no day of the range has data.")
    previous: float | None = Field(description="Value over the previous window of equal length.")
    change: float | None = Field(description="current - previous; null when the previous window is incomplete.")
    change_pct: float | None = Field(
        description="change / |previous|; null when previous is null or 0, or the previous window is incomplete."
    )

    @model_validator(mode="before")
    @classmethod
    def _label(cls, data: Any) -> Any:
        if isinstance(data, dict) and "platform_reported" not in data:
            return {**data, "platform_reported": data.get("metric") in PLATFORM_REPORTED}
        return data

    @field_serializer("current", "previous", "change")
    def _round_value(self, value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    @field_serializer("change_pct")
    def _round_pct(self, value: float | None) -> float | None:
        return None if value is None else round(value, 4)


class AttributedOverview(BaseModel):
    model: str = Field(description="The attribution model of these figures (rule-based: exact over any window).")
    ad_channels: list[str] = Field(description="The channels counted in the attributed_paid_* metrics.")
    available: bool = Field(description="Whether attribution data was published for this workspace.")
    unavailable_reason: str | None = Field(description="Why the figures are absent, when they are.")
    metrics: list[OverviewMetric] = Field(
        description="attributed_paid_conversions and attributed_paid_conversion_value_usd (USD): the tracked "
        "conversions (and their value) Cycle credits to the ad channels, beside the platform-reported "
        "paid_conversions and revenue_usd; tracked_conversions and tracked_conversion_value_usd: every tracked "
        "conversion of the workspace's web properties. Same windows and change rules as the overview."
    )


class OverviewResponse(BaseModel):
    start: date
    end: date
    days: int = Field(description="Length of the window in days.")
    previous_start: date
    previous_end: date
    current_days_with_data: int
    previous_days_with_data: int
    previous_complete: bool = Field(
        description="Whether the previous window lies wholly within the workspace's data (its first day of data "
        "is on or before previous_start); when not, every change is null."
    )
    change_unavailable_reason: str | None = Field(description="Why the changes are null, when they are.")
    metrics: list[OverviewMetric]
    attributed: AttributedOverview = Field(
        description="Cycle's own attribution of the tracked conversions over the same windows, beside the "
        "platform-reported metrics."
    )


router = APIRouter(tags=["analytics"])


@router.get(
    "/overview",
    response_model=OverviewResponse,
    summary="Overview metrics for a date range against the previous window of equal length",
    responses=DATA_ERRORS,
)
def overview(store: Store, principal: Reader, start: StartParam = None, end: EndParam = None) -> OverviewResponse:
    """Spend, revenue (platform-reported conversion value), profit, margin, ROAS, conversions
    (platform-reported: each metric says so in `platform_reported`), CPA,
    paid impressions, clicks, CTR, organic impressions, engagements and engagement rate, posts
    published, AI calls and cost, over `start..end` (default: the 7 days ending on the latest day with data)
    and over the window of equal length just before it, with the change. Sums over the days and the
    workspace's accounts, ratios of the sums (UTC days, money in USD). A previous window that reaches
    before the workspace's first day of data, or past its latest, is incomplete: its changes are null, and
    the response says why. `attributed` sets beside them the conversions and value Cycle's own attribution
    (the model it names) credits to the ad channels, and every tracked conversion, over the same windows."""
    # every day in one query: the bounds and the sums come from one read of the file, and the attribution
    # credits from the same published snapshot, even while the publisher replaces it
    tables, attribution_unavailable = _read_snapshot(store, principal)
    daily = store.run(OVERVIEW_DAILY, tables[OVERVIEW_DAILY], _OVERVIEW_DAILY_SQL, {"start": None, "end": None})
    first_day = daily[0]["metric_date"] if daily else None  # ordered by metric_date
    if end is None:
        if not daily:
            raise HTTPException(status_code=404, detail="No day of data for this workspace's accounts yet.")
        end = daily[-1]["metric_date"]
    if start is None:
        start = end - timedelta(days=6)
    check_window(start, end)
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise issue("start", f"the range may span at most {MAX_RANGE_DAYS} days", start.isoformat())
    previous_start, _ = previous_window(start, end)
    result = compute_overview((r for r in daily if previous_start <= r["metric_date"] <= end), start, end)
    latest_day = daily[-1]["metric_date"] if daily else None
    previous_end = result["previous_end"]
    complete = first_day is not None and first_day <= previous_start and previous_end <= latest_day
    reason = None
    if first_day is None:
        reason = "no data at all"
    elif first_day > previous_start:
        reason = (
            f"the previous window {previous_start.isoformat()}..{previous_end.isoformat()} starts before the first "
            f"day of data ({first_day.isoformat()}): a change against it would compare a full window with a partial one"
        )
    elif previous_end > latest_day:
        reason = (
            f"the previous window {previous_start.isoformat()}..{previous_end.isoformat()} ends after the latest day "
            f"of data ({latest_day.isoformat()}): it is not complete yet"
        )
    if not complete:
        for metric in result["metrics"]:
            metric["change"] = metric["change_pct"] = None
    attributed = _attributed(store, tables.get(ATTRIBUTION_DAILY), attribution_unavailable, previous_start, start, end, complete)
    return OverviewResponse(
        **result, previous_complete=complete, change_unavailable_reason=reason, attributed=attributed
    )


def _read_snapshot(store: Any, principal: Any) -> tuple[dict[str, Any], str | None]:
    """The workspace's rows of overview_daily and of attribution_daily, both from one published snapshot
    (``ServingStore.scoped_together``), so the attributed figures always describe the same publish as the
    platform-reported ones; and why attribution is absent, when it is. Attribution that is not published or
    unreadable leaves the overview to answer alone; a problem with overview_daily is the overview's error."""
    if not any(a.platform == WEB_PLATFORM for a in principal.accounts):  # zeros would read as "none converted"
        why = "this workspace has no web property: Cycle tracks no conversion of its own for it"
        return {OVERVIEW_DAILY: store.scoped(OVERVIEW_DAILY, principal.accounts)}, why
    try:
        return store.scoped_together((OVERVIEW_DAILY, ATTRIBUTION_DAILY), principal.accounts), None
    except SnapshotNotPinned:  # a manifest from before checksums: two unverified reads may be two publishes
        why = f"{ATTRIBUTION_DAILY} cannot be shown to come from the same published snapshot as the overview"
    except (ServingFileMissing, ServingFileInvalid) as exc:
        if exc.name != ATTRIBUTION_DAILY:
            raise
        if isinstance(exc, ServingFileMissing):
            why = f"{ATTRIBUTION_DAILY} has not been published yet: no attribution to compare with"
        else:
            why = f"{ATTRIBUTION_DAILY} is unreadable: {exc.reason}"
    return {OVERVIEW_DAILY: store.scoped(OVERVIEW_DAILY, principal.accounts)}, why


def _attributed(
    store: Any, credits_table: Any, unavailable: str | None, previous_start: date, start: date, end: date, complete: bool
) -> AttributedOverview:
    """The attributed section; absent (with why) rather than an error when attribution was not published, so
    the platform-reported overview is always answered."""
    base = {"model": OVERVIEW_ATTRIBUTION_MODEL, "ad_channels": list(AD_CHANNELS)}
    if unavailable is not None:
        return AttributedOverview(**base, available=False, metrics=[], unavailable_reason=unavailable)
    try:
        credits = store.run(
            ATTRIBUTION_DAILY, credits_table, _ATTRIBUTION_DAILY_SQL,
            {"model": OVERVIEW_ATTRIBUTION_MODEL, "start": previous_start, "end": end},
        )
    except ServingFileInvalid as exc:
        return AttributedOverview(
            **base, available=False, metrics=[], unavailable_reason=f"{ATTRIBUTION_DAILY} is unreadable: {exc.reason}"
        )
    metrics = compute_attributed(credits, start, end)
    if not complete:  # the same previous window as the overview's: its changes go when the overview's do
        for metric in metrics:
            metric["change"] = metric["change_pct"] = None
    return AttributedOverview(**base, available=True, unavailable_reason=None, metrics=metrics)
