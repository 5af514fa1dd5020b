"""Tracked events: what a site, an app or Cycle's own services send about journeys, AI usage and experiments.

Shaped like Segment or Snowplow tracking events: every event has a client-chosen ``event_id`` (resending it
stores nothing new), a ``type`` and a ``timestamp`` (when it happened, UTC), plus the typed fields of its
type. Each type maps onto one raw contract (``contracts.raw``):

=====================  ==============================================  ==========================================
type                   raw contract                                    tracked table (beside the raw one)
=====================  ==============================================  ==========================================
touchpoint             TOUCHPOINTS (event_type ``touchpoint``)        raw_tracked_touchpoints
conversion             TOUCHPOINTS (event_type ``conversion``)        raw_tracked_touchpoints
ai_generation          AI_GENERATIONS (generation_id = event_id)      raw_tracked_ai_generations
experiment_exposure    EXPERIMENT_OBSERVATIONS                         raw_tracked_experiment_observations
=====================  ==============================================  ==========================================

The same models validate events arriving at ``POST /v1/events`` (``api/routes/events.py``) and rows of the files
dropped in the landing folder (``storage.tracked_events``). No Dagster or FastAPI imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from analytics_assets.contracts.raw import (
    AI_GENERATIONS,
    CURRENCIES,
    EXPERIMENT_OBSERVATIONS,
    ORGANIC_PLATFORMS,
    TOUCHPOINTS,
    RawTable,
)
from analytics_assets.contracts.text import valid_unicode

EVENT_TYPES = ("touchpoint", "conversion", "ai_generation", "experiment_exposure")
# A timestamp outside [EARLIEST_TIMESTAMP, now + MAX_CLOCK_SKEW] is a client's clock or unit error (seconds
# read as milliseconds, a year 0001 default): refused rather than filed under a day no partition covers.
EARLIEST_TIMESTAMP = datetime(2015, 1, 1)
MAX_CLOCK_SKEW = timedelta(days=1)
MAX_ID_CHARS = 200
MAX_TEXT_CHARS = 500
MAX_AMOUNT = 1e9  # a conversion value or a generation's cost above this is a unit error, not a sale
MAX_TOKENS = 10_000_000
MAX_LATENCY_MS = 24 * 3600 * 1000

Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]
OptionalId = Annotated[str | None, Field(None, min_length=1, max_length=MAX_ID_CHARS)]
Text = Annotated[str | None, Field(None, min_length=1, max_length=MAX_TEXT_CHARS)]
Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_AMOUNT, le=MAX_AMOUNT)]
Share = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]


def naive_utc(ts: datetime) -> datetime:
    """``ts`` as naive UTC (the warehouse's convention); a naive value is taken as UTC already."""
    return ts if ts.tzinfo is None else ts.astimezone(timezone.utc).replace(tzinfo=None)


def _printable(value: Any) -> Any:
    # JSON escapes can spell lone surrogates and control characters, which no id or label should hold
    if isinstance(value, str):
        valid_unicode(value)
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("holds a control character")
    return value


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    event_id: Id = Field(description="Chosen by the sender, unique per event (a UUID): resending it stores nothing new.")
    timestamp: datetime = Field(description="When it happened, ISO 8601 (UTC when no offset is given).")

    @model_validator(mode="before")
    @classmethod
    def _clean_text(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                try:
                    _printable(value)
                except ValueError as exc:
                    raise ValueError(f"{str(key)[:50]} {exc}") from None
        return data

    @field_validator("timestamp")
    @classmethod
    def _sane_time(cls, value: datetime) -> datetime:
        value = naive_utc(value)
        latest = naive_utc(datetime.now(timezone.utc)) + MAX_CLOCK_SKEW
        if not EARLIEST_TIMESTAMP <= value <= latest:
            raise ValueError(f"must lie between {EARLIEST_TIMESTAMP.date()} and a day from now (UTC)")
        return value


class _JourneyEvent(_Event):
    property_id: OptionalId = Field(
        None, description="The web property (site or app) it was tracked on; omitted: the workspace's only one."
    )
    journey_id: Id = Field(description="The journey (one visitor's path towards a conversion) within the property.")
    user_id: Id = Field(description="The visitor's pseudonymous id (Segment's anonymousId).")


class TouchpointEvent(_JourneyEvent):
    """A visit that came from a tagged link (Segment ``page`` with campaign context)."""

    type: Literal["touchpoint"]
    utm_source: Id
    utm_medium: OptionalId = None
    utm_campaign: OptionalId = None
    utm_content: OptionalId = None


class ConversionEvent(_JourneyEvent):
    """A purchase or signup that ends a path (Segment ``Order Completed``)."""

    type: Literal["conversion"]
    value: Amount = Field(description="The conversion's value in `currency` (major unit), 0 for none.")
    currency: Literal[CURRENCIES] = Field(description="ISO currency of `value`.")  # type: ignore[valid-type]


class AiGenerationEvent(_Event):
    """One call to the AI content generator (``generation_id`` is the event_id)."""

    type: Literal["ai_generation"]
    model: Id
    platform: Literal[ORGANIC_PLATFORMS] = Field(description="The platform the text was written for.")  # type: ignore[valid-type]
    post_id: OptionalId = None
    status: Literal["succeeded", "failed", "filtered"]
    prompt_tokens: int = Field(ge=0, le=MAX_TOKENS)
    completion_tokens: int = Field(ge=0, le=MAX_TOKENS)
    latency_ms: int = Field(ge=0, le=MAX_LATENCY_MS)
    cost_usd: Amount


class ExperimentExposureEvent(_Event):
    """One unit of an A/B test: its variant, its outcome and the design the test was planned with
    (``timestamp`` is the exposure)."""

    type: Literal["experiment_exposure"]
    experiment_id: Id
    experiment_name: Text = None
    factor: Id
    start_date: date
    end_date: date
    metric: Id
    metric_kind: Literal["binary", "continuous"]
    baseline_mean: Finite
    baseline_sd: Annotated[float, Field(gt=0, le=MAX_AMOUNT, allow_inf_nan=False)]
    mde: Annotated[float, Field(gt=0, le=MAX_AMOUNT, allow_inf_nan=False)]
    alpha: Share
    power: Share
    variant: Id
    variant_role: Literal["control", "treatment"]
    unit_id: Id
    value: Finite

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentExposureEvent:
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        if not self.start_date <= self.timestamp.date() <= self.end_date:
            raise ValueError("timestamp (the exposure) lies outside start_date..end_date")
        if self.metric_kind == "binary" and self.value not in (0.0, 1.0):
            raise ValueError("a binary metric's value is 0 or 1")
        return self


TrackedEvent = Annotated[
    TouchpointEvent | ConversionEvent | AiGenerationEvent | ExperimentExposureEvent, Field(discriminator="type")
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(TrackedEvent)


def reasons(exc: ValidationError) -> list[str]:
    """What is wrong, field by field, never echoing a value (it may be hostile or personal)."""
    out = []
    for e in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in e["loc"] if p not in EVENT_TYPES)
        msg = e["msg"].removeprefix("Value error, ")
        out.append(f"{where}: {msg}" if where else msg)
    return out or ["invalid event"]


def parse_event(raw: Any) -> tuple[Any | None, list[str]]:
    """``raw`` (a decoded JSON value or a file row as a dict) as a tracked event, or None and the reasons."""
    if not isinstance(raw, dict):
        return None, ["an event is a JSON object"]
    if raw.get("type") not in EVENT_TYPES:
        return None, [f"type: must be one of {', '.join(EVENT_TYPES)}"]
    try:
        return _ADAPTER.validate_python(raw), []
    except ValidationError as exc:
        return None, reasons(exc)
    except (ValueError, TypeError, OverflowError) as exc:  # a validator's own error outside pydantic's wrapping
        return None, [str(exc)[:200]]


def event_json(event: Any) -> str:
    """The event as stored: compact JSON of its validated fields (timestamps naive UTC ISO)."""
    return event.model_dump_json(exclude_none=True)


def event_from_json(text: str) -> Any:
    """A stored event back (raises ValidationError when it no longer passes the contract)."""
    return _ADAPTER.validate_json(text)


# ---------------------------------------------------------------------------------------------------
# The tracked raw tables: a raw contract's columns plus where each row came from
# ---------------------------------------------------------------------------------------------------

_PROVENANCE = {
    "workspace_id": "VARCHAR",  # the API key's workspace, or the landed file's (its subfolder; see storage.tracked_events)
    "received_at": "TIMESTAMP",  # when the API took the event, or when its file was loaded (UTC)
    "origin": "VARCHAR",  # 'api' or 'file:<name>'
}


@dataclass(frozen=True)
class TrackedTable:
    name: str
    raw: RawTable  # the contract whose columns (and natural key) it shares
    day_column: str  # the day an event describes: its partition_date

    @property
    def columns(self) -> dict[str, str]:
        cols = dict(self.raw.columns)
        cols.setdefault("event_id", "VARCHAR")
        return {**cols, **_PROVENANCE}

    @property
    def key(self) -> tuple[str, ...]:
        return self.raw.key


TRACKED_TOUCHPOINTS = TrackedTable("raw_tracked_touchpoints", TOUCHPOINTS, "event_at")
TRACKED_AI_GENERATIONS = TrackedTable("raw_tracked_ai_generations", AI_GENERATIONS, "generated_at")
TRACKED_EXPERIMENT_OBSERVATIONS = TrackedTable(
    "raw_tracked_experiment_observations", EXPERIMENT_OBSERVATIONS, "exposed_at"
)
TRACKED_TABLES = (TRACKED_TOUCHPOINTS, TRACKED_AI_GENERATIONS, TRACKED_EXPERIMENT_OBSERVATIONS)
TABLE_OF_TYPE = {
    "touchpoint": TRACKED_TOUCHPOINTS,
    "conversion": TRACKED_TOUCHPOINTS,
    "ai_generation": TRACKED_AI_GENERATIONS,
    "experiment_exposure": TRACKED_EXPERIMENT_OBSERVATIONS,
}


def to_row(event: Any) -> dict[str, Any]:
    """The event as a row of its tracked table (the raw contract's columns; provenance and load columns aside)."""
    ts = naive_utc(event.timestamp)
    base = {"event_id": event.event_id, "partition_date": ts.date()}
    if event.type in ("touchpoint", "conversion"):
        touch = event.type == "touchpoint"
        return {
            **base,
            "property_id": event.property_id,
            "journey_id": event.journey_id,
            "user_id": event.user_id,
            "event_at": ts,
            "event_type": event.type,
            "utm_source": event.utm_source if touch else None,
            "utm_medium": event.utm_medium if touch else None,
            "utm_campaign": event.utm_campaign if touch else None,
            "utm_content": event.utm_content if touch else None,
            "conversion_value": None if touch else float(event.value),
            "currency": None if touch else event.currency,
        }
    if event.type == "ai_generation":
        return {
            **base,
            "generation_id": event.event_id,
            "generated_at": ts,
            **{k: getattr(event, k) for k in (
                "model", "platform", "post_id", "status", "prompt_tokens", "completion_tokens", "latency_ms", "cost_usd",
            )},
        }
    return {
        **base,
        "exposed_at": ts,
        **{k: getattr(event, k) for k in (
            "experiment_id", "experiment_name", "factor", "start_date", "end_date", "metric", "metric_kind",
            "baseline_mean", "baseline_sd", "mde", "alpha", "power", "variant", "variant_role", "unit_id", "value",
        )},
    }


# ---------------------------------------------------------------------------------------------------
# Whose events: a journey event names a web property of the sender's workspace
# ---------------------------------------------------------------------------------------------------

WEB_PLATFORM = "web"  # the access registry's platform of web properties (contracts.access)
JOURNEY_TYPES = ("touchpoint", "conversion")


def assign_property(event: Any, properties: list[str] | tuple[str, ...], workspace: str) -> tuple[Any | None, list[str]]:
    """``event`` as an event of ``workspace``, whose web properties are ``properties``: a touchpoint or
    conversion must name one of them (``property_id``; omitted: the workspace's only one), the rules
    ``POST /v1/events`` applies to a key's workspace. Other types reference no account: kept as they are.
    Returns the event (with its property filled in) or None and the reasons."""
    if event.type not in JOURNEY_TYPES:
        return event, []
    if event.property_id is None:
        if len(properties) != 1:
            return None, [f"property_id: required (workspace {workspace} has {len(properties)} web properties)"]
        return event.model_copy(update={"property_id": properties[0]}), []
    if event.property_id not in properties:
        return None, [f"property_id: not a web property of workspace {workspace}"]
    return event, []


__all__ = [
    "EVENT_TYPES",
    "JOURNEY_TYPES",
    "TABLE_OF_TYPE",
    "TRACKED_TABLES",
    "AiGenerationEvent",
    "ConversionEvent",
    "ExperimentExposureEvent",
    "TouchpointEvent",
    "TrackedEvent",
    "TrackedTable",
    "WEB_PLATFORM",
    "assign_property",
    "event_from_json",
    "event_json",
    "parse_event",
    "to_row",
]
