"""Canonical raw tables: their DuckDB columns, keys and pandera row rules.

Each platform's native payload is parsed into one of these shapes (see ``sources/parsing/parsers.py``); units are made
explicit here (spend in the account currency's major unit, never micros), while currency conversion and
business logic stay in dbt.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

RAW_SCHEMA = "raw"
QUARANTINE_TABLE = "raw_quarantine"
# Above this share of quarantined records a partition is suspicious: warn, but keep what is valid.
MAX_QUARANTINE_SHARE = 0.05

ORGANIC_PLATFORMS = ("linkedin", "x", "reddit", "tiktok")
AD_PLATFORMS = ("google_ads", "meta_ads", "linkedin_ads")
# organic platforms an ad platform boosts posts of that Cycle does not track (Meta: Facebook page posts and
# Instagram media): their boosts are measured paid side only, with no organic snapshots to compare against
UNTRACKED_BOOST_PLATFORMS = ("facebook", "instagram")
CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
# The web property (the site or app the tracking snippet runs on) of tracked events that name none:
# raw_touchpoints rows loaded before the column existed, or sent by a snippet that does not set it.
# stg_touchpoints maps a null property_id to it, so every journey belongs to exactly one property.
DEFAULT_WEB_PROPERTY = "default"


@dataclass(frozen=True)
class RawTable:
    name: str
    columns: dict[str, str]  # column -> DuckDB type, in table order
    key: tuple[str, ...]  # natural key, unique within the table
    partition_column: str  # DATE column that equals the Dagster partition
    row_schema: pa.DataFrameSchema
    # the column whose date is the day a record describes, which must lie in the partition window it is
    # loaded into (a record filed under another day would be deleted by the wrong rerun); None: the
    # source decides (a journey is filed under the day it ended)
    day_column: str | None = None
    # the column naming the platform a row comes from: a connector replaces only its own platform's rows
    # (``storage.warehouse.replace_platform_days``); boosts are per ad platform, which delivered them
    platform_column: str = "platform"

    @property
    def qualified_name(self) -> str:
        return f"{RAW_SCHEMA}.{self.name}"

    def ddl(self) -> str:
        cols = ",\n  ".join(f"{c} {t}" for c, t in self.columns.items())
        return f"create table if not exists {self.qualified_name} (\n  {cols}\n)"


_LOAD_COLUMNS = {"partition_date": "DATE", "loaded_at": "TIMESTAMP"}


def _count(nullable: bool = False) -> pa.Column:
    return pa.Column("Int64", pa.Check.ge(0), nullable=nullable)


def _amount(nullable: bool = False) -> pa.Column:
    return pa.Column(float, pa.Check.ge(0), nullable=nullable)


_id = pa.Column(str, pa.Check.str_length(min_value=1))

POST_EXCERPT_CHARS = 280  # the excerpt of a post's text kept and served (whitespace collapsed)

SOCIAL_POST_SNAPSHOTS = RawTable(
    name="raw_social_post_snapshots",
    columns={
        "platform": "VARCHAR",
        "post_id": "VARCHAR",
        "account_id": "VARCHAR",
        "published_at": "TIMESTAMP",
        "snapshot_at": "TIMESTAMP",
        "hook_type": "VARCHAR",
        "media_type": "VARCHAR",
        "topic": "VARCHAR",
        "text_length": "INTEGER",
        "impressions": "BIGINT",
        "likes": "BIGINT",
        "comments": "BIGINT",
        "shares": "BIGINT",
        "clicks": "BIGINT",
        "quotes": "BIGINT",
        "saves": "BIGINT",
        # the post's identity as its platform shows it (optional: a payload without them still loads)
        "post_url": "VARCHAR",
        "post_excerpt": "VARCHAR",
        "author_name": "VARCHAR",
        **_LOAD_COLUMNS,
    },
    key=("platform", "post_id", "snapshot_at"),
    partition_column="partition_date",
    day_column="snapshot_at",
    row_schema=pa.DataFrameSchema(
        {
            "platform": pa.Column(str, pa.Check.isin(ORGANIC_PLATFORMS)),
            "post_id": _id,
            "account_id": pa.Column(str, nullable=True),
            "published_at": pa.Column("datetime64[ns]"),
            "snapshot_at": pa.Column("datetime64[ns]"),
            "hook_type": pa.Column(str, nullable=True),
            "media_type": pa.Column(str, nullable=True),
            "topic": pa.Column(str, nullable=True),
            "text_length": pa.Column("Int64", pa.Check.ge(0), nullable=True),
            "impressions": _count(),
            "likes": _count(),
            "comments": _count(),
            "shares": _count(nullable=True),
            "clicks": _count(nullable=True),
            "quotes": _count(nullable=True),
            "saves": _count(nullable=True),
            # a link the API and the UI can show as is: never another scheme (javascript:, data:, a bare path)
            "post_url": pa.Column(str, pa.Check.str_matches(r"^https://[^\s/]+/\S*$"), nullable=True),
            "post_excerpt": pa.Column(str, pa.Check.str_length(min_value=1, max_value=POST_EXCERPT_CHARS), nullable=True),
            "author_name": pa.Column(str, pa.Check.str_length(min_value=1, max_value=200), nullable=True),
        },
        checks=[
            pa.Check(
                lambda df: df["snapshot_at"] >= df["published_at"],
                name="snapshot_after_publication",
                error="snapshot_at is before published_at",
            ),
        ],
    ),
)

# An ad account's delivery, the same at campaign and at ad level (spend in the account currency's major unit).
_AD_DELIVERY_COLUMNS = {
    "currency": "VARCHAR",
    "impressions": "BIGINT",
    "clicks": "BIGINT",
    "spend": "DOUBLE",
    "conversions": "DOUBLE",
    "conversion_value": "DOUBLE",
    "reach": "BIGINT",
}


def _ad_delivery_rules() -> dict[str, pa.Column]:
    return {
        "currency": pa.Column(str, pa.Check.isin(CURRENCIES)),
        "impressions": _count(),
        "clicks": _count(),
        "spend": _amount(),
        "conversions": _amount(),
        "conversion_value": _amount(),
        "reach": _count(nullable=True),
    }


def _clicks_not_above_impressions() -> pa.Check:
    return pa.Check(
        lambda df: df["clicks"] <= df["impressions"], name="clicks_not_above_impressions", error="clicks exceed impressions"
    )


AD_CAMPAIGN_METRICS = RawTable(
    name="raw_ad_campaign_metrics",
    columns={
        "platform": "VARCHAR",
        "account_id": "VARCHAR",
        "campaign_id": "VARCHAR",
        "campaign_name": "VARCHAR",
        "metric_date": "DATE",
        **_AD_DELIVERY_COLUMNS,
        # the campaign's settings that day, in the platform's own vocabulary (optional: not every
        # client sends them); daily_budget in the account currency's major unit
        "campaign_status": "VARCHAR",
        "objective": "VARCHAR",
        "daily_budget": "DOUBLE",
        "bidding_strategy": "VARCHAR",
        **_LOAD_COLUMNS,
    },
    key=("platform", "campaign_id", "metric_date"),
    partition_column="partition_date",
    day_column="metric_date",
    row_schema=pa.DataFrameSchema(
        {
            "platform": pa.Column(str, pa.Check.isin(AD_PLATFORMS)),
            "account_id": _id,
            "campaign_id": _id,
            "campaign_name": pa.Column(str, nullable=True),
            **_ad_delivery_rules(),
            "campaign_status": pa.Column(str, nullable=True),
            "objective": pa.Column(str, nullable=True),
            "daily_budget": _amount(nullable=True),
            "bidding_strategy": pa.Column(str, nullable=True),
        },
        checks=[
            _clicks_not_above_impressions(),
        ],
    ),
)

# Ad-level (creative) delivery: the rows of one campaign and day add up to its raw_ad_campaign_metrics
# row (reach excepted: people see several ads). Video quartiles are view counts (Google's rates are
# converted with the row's impressions), null where the platform reports none (non-video ads).
_VIDEO_QUARTILES = ("video_p25_views", "video_p50_views", "video_p75_views", "video_p100_views")

AD_CREATIVE_METRICS = RawTable(
    name="raw_ad_creative_metrics",
    columns={
        "platform": "VARCHAR",
        "account_id": "VARCHAR",
        "campaign_id": "VARCHAR",
        "ad_id": "VARCHAR",
        "ad_name": "VARCHAR",  # the ad's name in the platform's UI (optional: not every report carries it)
        "creative_format": "VARCHAR",
        "metric_date": "DATE",
        **_AD_DELIVERY_COLUMNS,
        **{q: "BIGINT" for q in _VIDEO_QUARTILES},
        **_LOAD_COLUMNS,
    },
    key=("platform", "ad_id", "metric_date"),
    partition_column="partition_date",
    day_column="metric_date",
    row_schema=pa.DataFrameSchema(
        {
            "platform": pa.Column(str, pa.Check.isin(AD_PLATFORMS)),
            "account_id": _id,
            "campaign_id": _id,
            "ad_id": _id,
            "ad_name": pa.Column(str, nullable=True),
            "creative_format": pa.Column(str, nullable=True),
            **_ad_delivery_rules(),
            **{q: _count(nullable=True) for q in _VIDEO_QUARTILES},
        },
        checks=[
            _clicks_not_above_impressions(),
            pa.Check(
                # a quartile is reached only by views that reached the one before it (nulls pass)
                lambda df: ~(
                    (df["video_p50_views"] > df["video_p25_views"])
                    | (df["video_p75_views"] > df["video_p50_views"])
                    | (df["video_p100_views"] > df["video_p75_views"])
                ).fillna(False),
                name="video_quartiles_not_increasing",
                error="a later video quartile has more views than an earlier one",
            ),
        ],
    ),
)

BOOSTS = RawTable(
    name="raw_boosts",
    columns={
        "boost_id": "VARCHAR",
        "organic_platform": "VARCHAR",
        "post_id": "VARCHAR",
        "ad_platform": "VARCHAR",
        "campaign_id": "VARCHAR",
        "boost_date": "DATE",
        "start_date": "DATE",
        "end_date": "DATE",
        "currency": "VARCHAR",
        "daily_budget": "DOUBLE",
        "spend": "DOUBLE",
        "paid_impressions": "BIGINT",
        "paid_engagements": "BIGINT",
        "paid_clicks": "BIGINT",
        **_LOAD_COLUMNS,
    },
    key=("boost_id", "boost_date"),
    partition_column="partition_date",
    day_column="boost_date",
    platform_column="ad_platform",
    row_schema=pa.DataFrameSchema(
        {
            "boost_id": _id,
            "organic_platform": pa.Column(str, pa.Check.isin(ORGANIC_PLATFORMS + UNTRACKED_BOOST_PLATFORMS)),
            "post_id": _id,
            "ad_platform": pa.Column(str, pa.Check.isin(AD_PLATFORMS)),
            "campaign_id": _id,
            "currency": pa.Column(str, pa.Check.isin(CURRENCIES)),
            "daily_budget": _amount(),
            "spend": _amount(),
            "paid_impressions": _count(),
            "paid_engagements": _count(),
            "paid_clicks": _count(),
        },
        checks=[
            pa.Check(
                lambda df: (df["boost_date"] >= df["start_date"]) & (df["boost_date"] <= df["end_date"]),
                name="boost_date_within_flight",
                error="boost_date outside the boost's start_date..end_date",
            ),
        ],
    ),
)

TOUCHPOINTS = RawTable(
    name="raw_touchpoints",
    columns={
        # the web property the event was tracked on (journeys belong to one): nullable, as rows loaded
        # before the column existed have none and a warehouse created then gets it added empty
        # (storage.warehouse.ensure_raw_tables); staging reads a null as DEFAULT_WEB_PROPERTY
        "property_id": "VARCHAR",
        "event_id": "VARCHAR",
        "journey_id": "VARCHAR",
        "user_id": "VARCHAR",
        "event_at": "TIMESTAMP",
        "event_type": "VARCHAR",
        "utm_source": "VARCHAR",
        "utm_medium": "VARCHAR",
        "utm_campaign": "VARCHAR",
        "utm_content": "VARCHAR",  # the post a touch came from (organic and boosted posts' links)
        "conversion_value": "DOUBLE",
        "currency": "VARCHAR",
        **_LOAD_COLUMNS,
    },
    key=("event_id",),
    partition_column="partition_date",
    row_schema=pa.DataFrameSchema(
        {
            "property_id": pa.Column(str, pa.Check.str_length(min_value=1), nullable=True),
            "event_id": _id,
            "journey_id": _id,
            "user_id": _id,
            "event_at": pa.Column("datetime64[ns]"),
            "event_type": pa.Column(str, pa.Check.isin(("touchpoint", "conversion"))),
            "utm_source": pa.Column(str, nullable=True),
            "utm_medium": pa.Column(str, nullable=True),
            "utm_campaign": pa.Column(str, nullable=True),
            "utm_content": pa.Column(str, nullable=True),
            "conversion_value": _amount(nullable=True),
            "currency": pa.Column(str, pa.Check.isin(CURRENCIES), nullable=True),
        },
        checks=[
            pa.Check(
                lambda df: (df["event_type"] != "touchpoint") | df["utm_source"].notna(),
                name="touchpoint_has_source",
                error="touchpoint without utm_source",
            ),
        ],
    ),
)

AI_GENERATIONS = RawTable(
    name="raw_ai_generations",
    columns={
        "generation_id": "VARCHAR",
        "generated_at": "TIMESTAMP",
        "model": "VARCHAR",
        "platform": "VARCHAR",
        "post_id": "VARCHAR",
        "status": "VARCHAR",
        "prompt_tokens": "BIGINT",
        "completion_tokens": "BIGINT",
        "latency_ms": "BIGINT",
        "cost_usd": "DOUBLE",
        **_LOAD_COLUMNS,
    },
    key=("generation_id",),
    partition_column="partition_date",
    day_column="generated_at",
    row_schema=pa.DataFrameSchema(
        {
            "generation_id": _id,
            "generated_at": pa.Column("datetime64[ns]"),
            "model": _id,
            "platform": pa.Column(str, pa.Check.isin(ORGANIC_PLATFORMS)),
            "post_id": pa.Column(str, nullable=True),
            "status": pa.Column(str, pa.Check.isin(("succeeded", "failed", "filtered"))),
            "prompt_tokens": _count(),
            "completion_tokens": _count(),
            "latency_ms": _count(),
            "cost_usd": _amount(),
        },
    ),
)

EXPERIMENT_OBSERVATIONS = RawTable(
    name="raw_experiment_observations",
    columns={
        "experiment_id": "VARCHAR",
        "experiment_name": "VARCHAR",
        "factor": "VARCHAR",
        "start_date": "DATE",
        "end_date": "DATE",
        "metric": "VARCHAR",
        "metric_kind": "VARCHAR",
        "baseline_mean": "DOUBLE",  # the design the test was planned with: control mean and sd per unit,
        "baseline_sd": "DOUBLE",  # minimum detectable effect (absolute), significance level and power
        "mde": "DOUBLE",
        "alpha": "DOUBLE",
        "power": "DOUBLE",
        "variant": "VARCHAR",
        "variant_role": "VARCHAR",
        "unit_id": "VARCHAR",
        "exposed_at": "TIMESTAMP",
        "value": "DOUBLE",
        **_LOAD_COLUMNS,
    },
    key=("experiment_id", "unit_id"),
    partition_column="partition_date",
    day_column="exposed_at",
    row_schema=pa.DataFrameSchema(
        {
            "experiment_id": _id,
            "factor": _id,
            "metric": _id,
            "metric_kind": pa.Column(str, pa.Check.isin(("binary", "continuous"))),
            "baseline_mean": pa.Column(float),
            "baseline_sd": pa.Column(float, pa.Check.gt(0)),
            "mde": pa.Column(float, pa.Check.gt(0)),
            "alpha": pa.Column(float, [pa.Check.gt(0), pa.Check.lt(1)]),
            "power": pa.Column(float, [pa.Check.gt(0), pa.Check.lt(1)]),
            "variant": _id,
            "variant_role": pa.Column(str, pa.Check.isin(("control", "treatment"))),
            "unit_id": _id,
            "exposed_at": pa.Column("datetime64[ns]"),
            "value": pa.Column(float),
        },
        checks=[
            pa.Check(
                lambda df: (df["metric_kind"] != "binary") | df["value"].isin((0.0, 1.0)),
                name="binary_outcome_is_0_or_1",
                error="binary metric with a value other than 0 or 1",
            ),
            pa.Check(
                lambda df: df["exposed_at"]
                .dt.normalize()
                .between(pd.to_datetime(df["start_date"]), pd.to_datetime(df["end_date"])),
                name="exposure_within_experiment",
                error="exposed_at outside the experiment's start_date..end_date",
            ),
        ],
    ),
)

QUARANTINE_COLUMNS = {
    "source_table": "VARCHAR",
    "partition_date": "DATE",
    "platform": "VARCHAR",
    "record_key": "VARCHAR",
    "reason": "VARCHAR",
    "payload": "VARCHAR",  # the native record as JSON, so nothing is lost
    "quarantined_at": "TIMESTAMP",
}

RAW_TABLES: dict[str, RawTable] = {
    t.name: t
    for t in (
        SOCIAL_POST_SNAPSHOTS,
        AD_CAMPAIGN_METRICS,
        BOOSTS,
        TOUCHPOINTS,
        AI_GENERATIONS,
        EXPERIMENT_OBSERVATIONS,
        AD_CREATIVE_METRICS,
    )
}


# Verified platform webhook events, copied from the API's inbound store (``contracts.inbound``) by the
# ``raw_webhook_events`` asset: one row per platform event, upserted by (platform, event_id).
WEBHOOK_EVENTS_TABLE = "raw_webhook_events"
WEBHOOK_EVENT_COLUMNS = {
    "platform": "VARCHAR",
    "event_id": "VARCHAR",
    "object": "VARCHAR",
    "field": "VARCHAR",
    "action": "VARCHAR",
    "account_id": "VARCHAR",
    "post_id": "VARCHAR",
    "entity_id": "VARCHAR",
    "event_time": "TIMESTAMP",
    "received_at": "TIMESTAMP",
    "payload": "VARCHAR",  # the event in the platform's own delivery shape, as JSON: nothing is lost
    "delivery_id": "VARCHAR",  # sha256 of the HTTP body the event arrived in
    "store_id": "VARCHAR",
    "store_seq": "BIGINT",
    "loaded_at": "TIMESTAMP",
}


# The API's audit records, copied from its inbound store (``contracts.inbound.AuditStore``) by the ``raw_api_audit``
# asset: one row per HTTP request the API answered, keyed by (store_id, store_seq). Nothing secret: no key, header,
# query string or body.
API_AUDIT_TABLE = "raw_api_audit"
API_AUDIT_COLUMNS = {
    "requested_at": "TIMESTAMP",  # when the request arrived (UTC)
    "key_id": "VARCHAR",  # public id of the API key that authenticated it; NULL: no key, or a bad one
    "workspace_id": "VARCHAR",  # that key's workspace
    "method": "VARCHAR",
    "route": "VARCHAR",  # the route template (/v1/campaigns/{campaign_id}); NULL when no route matched
    "status": "INTEGER",  # HTTP status sent; NULL when no response was started (client gone)
    "response_bytes": "BIGINT",
    "duration_ms": "DOUBLE",
    "client_addr": "VARCHAR",
    "store_id": "VARCHAR",
    "store_seq": "BIGINT",
    "loaded_at": "TIMESTAMP",
}
