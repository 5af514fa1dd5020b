"""Request vocabularies and response models of the Cycle API."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PlainSerializer

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def strict_iso_date(value: Any) -> Any:
    """Accept only calendar dates written YYYY-MM-DD (no timestamps, week dates or epoch numbers): the
    ``BeforeValidator`` of every date query parameter."""
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"'{value}' is not a valid calendar date ({exc}); expected YYYY-MM-DD") from None
    raise ValueError(f"'{value}' is not an ISO date; expected YYYY-MM-DD, e.g. 2024-03-01")


class OrganicPlatform(str, Enum):
    linkedin = "linkedin"
    x = "x"
    reddit = "reddit"
    tiktok = "tiktok"


class Platform(str, Enum):
    """Organic and ad platforms."""

    linkedin = "linkedin"
    x = "x"
    reddit = "reddit"
    tiktok = "tiktok"
    google_ads = "google_ads"
    meta_ads = "meta_ads"
    linkedin_ads = "linkedin_ads"


class AttributionModel(str, Enum):
    first_touch = "first_touch"
    last_touch = "last_touch"
    linear = "linear"
    time_decay = "time_decay"
    position_based = "position_based"
    markov = "markov"
    shapley = "shapley"


# the five rule-based models credit each conversion on its own day: any date window sums them exactly;
# markov and shapley are fitted on the set of paths of the modelled window (analysis.agg_attribution_model_comparison)
RULE_BASED_MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")


ORGANIC_PLATFORMS = [p.value for p in OrganicPlatform]
PLATFORMS = [p.value for p in Platform]
AD_PLATFORMS = [p for p in PLATFORMS if p not in ORGANIC_PLATFORMS]
ATTRIBUTION_MODELS = [m.value for m in AttributionModel]


# -- rounding: money to cents, rates and shares to 4 decimals, fractional counts and scores to 2 ------------


def _rounded(digits: int) -> PlainSerializer:
    return PlainSerializer(lambda v: None if v is None else round(float(v), digits), return_type=float | None)


Money = Annotated[float, _rounded(2)]
Rate = Annotated[float, _rounded(4)]
Amount = Annotated[float, _rounded(2)]


# -- errors ------------------------------------------------------------------------------------


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Where the problem is, e.g. ['query', 'start'].")
    msg: str = Field(description="Human-readable explanation, listing valid values where relevant.")
    type: str
    input: Any = None


class ValidationErrorResponse(BaseModel):
    detail: list[ValidationIssue]


class ErrorResponse(BaseModel):
    detail: str


# -- /health -------------------------------------------------------------------------------------


class AssetStatus(BaseModel):
    asset_key: str = Field(examples=["fct_post_metrics_daily"])
    last_materialized_at: datetime | None = Field(description="UTC time of the last materialization.")
    last_partition: str | None = Field(description="Last materialized partition key, if partitioned.")
    run_id: str | None = Field(description="Dagster run that materialized it.")
    skip_reason: str | None = Field(
        default=None,
        description="Why that materialization computed nothing (e.g. too little data yet for the engagement model, "
        "or no model for the posting slots); null when it computed its output.",
    )


class AutomationStatus(BaseModel):
    name: str = Field(examples=["daily_pipeline_schedule"])
    kind: Literal["schedule", "sensor"]
    status: Literal["running", "stopped"] = Field(description="As toggled in the Dagster UI, else the code's default.")
    cron_schedule: str | None = Field(default=None, description="Schedules: when they fire (UTC).")
    last_tick_at: datetime | None = Field(default=None, description="The last evaluation (UTC); null: never evaluated.")
    last_tick_status: str | None = Field(default=None, description="'success', 'skipped', 'failure' or 'started'.")


class ServingFileStatus(BaseModel):
    name: str = Field(examples=["optimal_hours.parquet"])
    status: Literal["ok", "unverified", "not_published", "missing", "unreadable", "mismatch"] = Field(
        description=(
            "'ok': present and of the size and SHA-256 (and row count) the manifest names; 'unverified': "
            "readable, but the manifest names no checksum for it (a manifest from before checksums, or a file "
            "it does not list); 'not_published': neither listed nor on disk; 'missing', 'unreadable', "
            "'mismatch' (not the file the manifest names): broken, the status is 'degraded'."
        )
    )
    rows: int | None = Field(default=None, description="Row count, from the manifest.")
    bytes: int | None = Field(default=None, description="Size in bytes, from the manifest.")
    sha256: str | None = Field(default=None, description="SHA-256 (hex), from the manifest.")
    detail: str | None = Field(default=None, description="Why the file is not 'ok'.")


class HealthResponse(BaseModel):
    status: Literal["ok", "no_data", "degraded"] = Field(
        description=(
            "'ok': the serving snapshot is published, complete, consistent with its manifest and fresh; "
            "'no_data': nothing published yet (run `make demo`); 'degraded': the manifest or a served file is "
            "missing, unreadable or not the file the manifest names, or the snapshot is older than its "
            "freshness limit (the data endpoints keep answering from the last verified copies where they can)."
        )
    )
    published_at: datetime | None = Field(description="When the serving snapshot was published (UTC).")
    files: dict[str, int | None] = Field(
        default_factory=dict, description="Published files and their row counts, from the manifest."
    )
    assets: list[AssetStatus] = Field(
        default_factory=list, description="Last materialization per asset, ordered by asset_key."
    )
    automation: list[AutomationStatus] = Field(
        default_factory=list,
        description="Every schedule and sensor when the snapshot was published: on or off, and its last tick.",
    )
    detail: str | None = Field(default=None, description="Why the status is not 'ok'.")
    quality_gate: dict[str, Any] | None = Field(
        default=None,
        description="The quality gate at the last serving run: 'passed', or 'failed' with the blocking checks "
        "that failed (the previous snapshot then stays served, and the status is 'degraded').",
    )
    age_seconds: float | None = Field(default=None, description="Age of the serving snapshot (from published_at).")
    max_age_seconds: float | None = Field(
        default=None, description="Freshness limit of the snapshot: older than this, the status is 'degraded'."
    )
    file_checks: list[ServingFileStatus] = Field(
        default_factory=list,
        description="Each served file (and any other file the manifest lists) checked against the manifest.",
    )


# -- /optimal-hours ------------------------------------------------------------------------------


class HourRecommendation(BaseModel):
    rank: int = Field(description="1 = best hour.")
    publish_hour: int = Field(description="UTC hour of day, 0..23.")
    expected_engagement_score: Amount | None = Field(description="Predicted engagement score (0..1000).")
    lift_vs_platform_mean: Rate | None = Field(
        description="Expected score / platform mean - 1 (0.12 means 12% above the platform average)."
    )


class PlatformOptimalHours(BaseModel):
    platform: str
    model_name: str | None
    model_version: str | None
    generated_at: datetime | None = Field(description="When the recommendations were computed (UTC).")
    hours: list[HourRecommendation] = Field(description="Best hours first.")


class OptimalHoursResponse(BaseModel):
    platform: OrganicPlatform | None = Field(description="The platform filter, null for all platforms.")
    top: int
    platforms: list[PlatformOptimalHours] = Field(description="One entry per platform, ordered by platform.")


# -- /rollups/daily ------------------------------------------------------------------------------


class DailyRollup(BaseModel):
    metric_date: date
    platform: str
    channel_type: str = Field(description="'organic' or 'paid'.")
    posts: int | None = Field(description="Organic: posts with a snapshot that day; paid: active campaigns.")
    impressions: int | None
    engagements: int | None
    clicks: int | None
    avg_engagement_score: Amount | None = Field(description="Null for paid platforms.")
    spend_usd: Money | None
    conversions: Amount | None
    revenue_usd: Money | None
    ctr: Rate | None
    roas: Rate | None = Field(description="Null when there is no spend.")


class DailyRollupsResponse(BaseModel):
    platform: Platform | None
    start: date | None
    end: date | None
    count: int = Field(description="Rows on this page.")
    total: int = Field(description="Rows in the whole result (every page).")
    rows: list[DailyRollup] = Field(description="Ordered by metric_date, platform, then channel_type.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


# -- /attribution --------------------------------------------------------------------------------


class ChannelCredit(BaseModel):
    channel: str = Field(examples=["linkedin_organic"])
    conversions: Amount | None = Field(description="Fractional conversions credited to the channel.")
    conversion_value: Money | None = Field(description="Revenue credited to the channel (USD).")
    share: Rate | None = Field(description="Channel's share of the model's conversions (0..1).")


class AttributionResponse(BaseModel):
    model: AttributionModel
    start: date | None = Field(description="First conversion day credited (the modelled window's for markov/shapley).")
    end: date | None = Field(description="Last conversion day credited.")
    total_conversions: Amount
    total_conversion_value: Money
    channels: list[ChannelCredit] = Field(description="Ordered by conversions, highest first.")


# -- /anomalies and /forecasts: the daily campaign and platform series -------------------------------------

# the detector's vocabulary (ml/anomalies.py KINDS, SEVERITIES; tests/api/test_api_anomalies_forecasts.py holds them
# equal): severities from the least to the most severe, the order `min_severity` filters by
AnomalyKind = Literal["spend_spike", "tracking_outage", "ctr_collapse", "viral_spike", "other"]
ANOMALY_SEVERITIES = ("medium", "high", "critical")
AnomalySeverity = Literal["medium", "high", "critical"]
SeriesMetric = Literal["spend", "clicks", "conversions", "impressions", "engagements"]
EntityType = Literal["campaign", "platform"]

_SERIES_ACCOUNT = (
    "The campaign's ad account; null for a platform's series, which sums every account of the platform (served only "
    "to a workspace that owns all of them)."
)


class Anomaly(BaseModel):
    metric_date: date = Field(description="The anomalous day.")
    series_id: str = Field(examples=["campaign:google_ads:go-1110001-0:spend"])
    entity_type: EntityType = Field(description="'campaign' (an always-on campaign) or 'platform' (organic totals).")
    platform: str = Field(examples=["google_ads"])
    account_id: str | None = Field(description=_SERIES_ACCOUNT)
    campaign_id: str | None = Field(description="Null for a platform's series.")
    metric: SeriesMetric
    kind: AnomalyKind = Field(description="spend_spike, tracking_outage (conversions given clicks), ctr_collapse "
                              "(clicks given impressions), viral_spike (organic) or other.")
    severity: AnomalySeverity = Field(description="medium, high or critical (a tracking outage always is).")
    observed: Amount | None = Field(description="The day's value (spend in USD).")
    expected: Amount | None = Field(description="What the series' history expected that day.")
    expected_low: Amount | None = Field(description="Low end of the expected range.")
    expected_high: Amount | None = Field(description="High end of the expected range.")
    change: Rate | None = Field(description="observed / expected - 1 (-0.8 means 80% below the expectation).")
    score: Amount | None = Field(description="Robust z-score of the day against its history (MAD-scaled).")
    history_days: int | None = Field(description="Days of history the day was judged against.")


class AnomalyPage(BaseModel):
    items: list[Anomaly] = Field(description="Ordered by metric_date (latest first), then series_id.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    total: int = Field(description="Rows in the whole result (every page).")


class Forecast(BaseModel):
    series_id: str = Field(examples=["platform:linkedin:impressions"])
    entity_type: EntityType
    platform: str
    account_id: str | None = Field(description=_SERIES_ACCOUNT)
    campaign_id: str | None = Field(description="Null for a platform's series.")
    metric: SeriesMetric
    origin_date: date = Field(description="The last day of history the forecast was made from.")
    forecast_date: date = Field(description="The day forecast.")
    horizon: int = Field(description="Days ahead of the origin, 1..7.")
    forecast: Amount | None = Field(description="Point forecast (spend in USD).")
    lo_80: Amount | None = Field(description="80% prediction interval, low end.")
    hi_80: Amount | None
    lo_95: Amount | None = Field(description="95% prediction interval, low end.")
    hi_95: Amount | None
    model: str | None = Field(description="The model that produced it.", examples=["ensemble(AutoETS+AutoARIMA)+holidays+budgets"])
    history_days: int | None = Field(description="Days of history the model was fitted on.")


class ForecastPage(BaseModel):
    origin_date: date | None = Field(description="The latest forecast origin served; null before forecasts ran.")
    items: list[Forecast] = Field(description="Ordered by series_id, then horizon.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    total: int = Field(description="Rows in the whole result (every page).")
