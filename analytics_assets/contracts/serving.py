"""The serving snapshot: the files the ``serving_snapshot`` asset publishes and the API reads.

Defined once here, imported by the publisher (``defs/serving``) and by the API (``api/``): a file name or
its source table cannot drift apart between the two sides. Each file is a Parquet copy of one warehouse
table; ``manifest.json`` lists what was published and when, and for each file its row count, byte size and
SHA-256 checksum, so the API can refuse a file that is not the one published:

    {"published_at": "2026-10-14T06:00:00+00:00", "version": 2,
     "files": {"optimal_hours.parquet": {"rows": 96, "bytes": 8123, "sha256": "9f2c..."}, ...}}

The data files are published first and the manifest last, so a manifest never names a checksum of a file
that is not in place yet. Readers accept older manifests (``files.<name>.rows`` only): such a file is
served unverified.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from analytics_assets.contracts.warehouse import (
    ATTRIBUTION_MODEL_COMPARISON,
    BOOST_EFFECTIVENESS,
    METRIC_ANOMALIES,
    METRIC_FORECASTS,
    POSTING_HOUR_RECOMMENDATIONS,
)

ASSET_STATUS = "asset_status.parquet"  # last materialization per asset, from the Dagster instance
# (with skip_reason: why that materialization computed nothing, e.g. no engagement model yet; else null)
# every schedule and sensor: on or off, and its last tick (when, and whether it succeeded)
AUTOMATION_STATUS = "automation_status.parquet"
ACCOUNTS = "accounts.parquet"
OPTIMAL_HOURS = "optimal_hours.parquet"
ACCOUNT_DAILY = "account_daily.parquet"  # organic and paid per day and account: /v1/rollups/daily sums it
OVERVIEW_DAILY = "overview_daily.parquet"  # daily totals per account behind GET /v1/overview
ATTRIBUTION_DAILY = "attribution_daily.parquet"  # rule-based credit per conversion day, property and channel
ATTRIBUTION_MODELS = "attribution_models.parquet"  # all seven models per property over the modelled window
CAMPAIGNS = "campaigns.parquet"
CAMPAIGN_DAILY = "campaign_daily.parquet"
TOP_POSTS = "top_posts.parquet"
ENGAGEMENT_HEATMAP = "engagement_heatmap.parquet"
BOOSTS = "boosts.parquet"
BOOST_SPLIT = "boost_organic_vs_paid.parquet"
# every recommendation (contracts.recommendations.RECOMMENDATION_COLUMNS) with its status when published:
# RECOMMENDATION_STATUS_COLUMNS
RECOMMENDATIONS = "recommendations.parquet"
# per account and kind: what users did with the recommendations and whether the applied ones kept their promise
RECOMMENDATION_PERFORMANCE = "recommendation_performance.parquet"
# the insights (analysis.insights) per account, each with its insight_id and when it was acknowledged
INSIGHTS = "insights.parquet"
# each A/B test's call, once per account whose boosts it ran on (analysis.account_experiments)
EXPERIMENTS = "experiments.parquet"
HOOK_SUCCESS = "hook_success.parquet"  # engagement per hook template and account
CONTENT_PERFORMANCE = "content_performance.parquet"  # per day, account and content attribute
# the dated anomalies of the campaign and platform series (analysis.metric_anomalies) and the latest 7-day
# forecasts (analysis.metric_forecasts): see ServedTable.platform_rows for whose rows they are
ANOMALIES = "anomalies.parquet"
FORECASTS = "forecasts.parquet"
MANIFEST = "manifest.json"
# The engagement model's health: its recent retrains (champion, challenger, retired), the champion's live accuracy
# and the newest drift day's per-column scores, one row each, the section named by MODEL_HEALTH_SECTION. Models
# are global, not any account's: like asset_status.parquet, the file has no account columns and is served to every
# read key (the post counts, which total every workspace's posts, only to a key that owns every served account).
MODEL_HEALTH = "model_health.parquet"
# Evidently's report page of that drift day, copied as published (self-contained: its scripts, styles and fonts
# are inline); listed in the manifest only while there is one
DRIFT_REPORT = "drift_report.html"
# the quality gate's state when the snapshot was last due: {"status": "passed"|"failed", "checked_at",
# "failed_checks": [...], "serving_published_at"}; a failed gate keeps the previous snapshot in place
QUALITY_GATE = "quality_gate.json"

# Every served data row belongs to one account, and through it to one workspace
# (contracts/access.py): these two columns are in every data file, never null, and the API answers a
# key only with the rows of its workspace's accounts. Tracked journeys belong to a web property
# (platform 'web', account_id = the property id).
ACCOUNT_COLUMNS = ("platform", "account_id")
WEB_PLATFORM = "web"
# the analysis tables that give insights and experiments their accounts (defs/analysis/insights.py, experiments.py)
ACCOUNT_INSIGHTS_TABLE = "analysis.account_insights"
ACCOUNT_EXPERIMENTS_TABLE = "analysis.account_experiments"
# in a file with platform rows (ServedTable.platform_rows): how many accounts the row was published to, one per
# account of its series (1 for a campaign's series, every account of the platform for a platform's)
SERIES_ACCOUNTS = "series_accounts"


@dataclass(frozen=True)
class ServedTable:
    file: str
    source: str  # qualified warehouse table (its asset is the table name)
    order_by: str
    where: str | None = None  # a row filter of the published copy (e.g. the current version only)
    account_join: str | None = None
    """A platform-wide table whose rows hold for every account of their platform (the engagement model's
    hours): published once per ``main.dim_account`` account of the row's platform."""
    platform_rows: bool = False
    """A table of series, some an account's (a campaign's: ``account_id`` set), some a platform's total over all of
    its accounts (the organic platform series: ``account_id`` null). An account's row is published for its
    account; a platform's row once per ``main.dim_account`` account of the platform, with ``SERIES_ACCOUNTS``
    saying how many copies there are, so the API can serve a platform's total only to a workspace that owns
    every account in it (a total that mixes workspaces is no one workspace's data)."""
    latest: str | None = None
    """Publish only the rows of the latest value of this column (the forecasts' latest origin)."""

    def select_sql(self, columns: Sequence[str] = ()) -> str:
        """The query that reads the file's rows; a ``platform_rows`` table needs its source's ``columns`` (in
        table order), as the account column of a platform's row is filled in place."""
        if self.platform_rows:
            if "account_id" not in columns:
                raise ValueError(f"{self.file}: the columns of {self.source}, with account_id, are needed to publish it")
            selected = ", ".join(
                "coalesce(s.account_id, a.account_id) as account_id" if c == "account_id" else f"s.{c}" for c in columns
            )
            filters = ["(s.account_id is not null or a.account_id is not null)"]
            if self.latest is not None:
                filters.append(f"s.{self.latest} = (select max(l.{self.latest}) from {self.source} l)")
            if self.where:
                filters.append(f"({self.where})")
            return (
                f"select {selected}, "
                f"case when s.account_id is null then (select count(*) from main.dim_account d "
                f"where d.platform = s.platform) else 1 end as {SERIES_ACCOUNTS} "
                f"from {self.source} s left join main.dim_account a on s.account_id is null and a.platform = s.platform "
                f"where {' and '.join(filters)} order by {self.order_by}"
            )
        if self.account_join is not None:
            return (
                f"select a.account_id, s.* from {self.source} s join main.dim_account a using (platform) "
                f"{'where ' + self.where if self.where else ''} order by a.account_id, {self.order_by}"
            )
        return f"select * from {self.source} {'where ' + self.where if self.where else ''} order by {self.order_by}"


SERVED_TABLES = (
    ServedTable(ACCOUNTS, "main.dim_account", "platform, account_id"),
    ServedTable(OPTIMAL_HOURS, POSTING_HOUR_RECOMMENDATIONS, "platform, rank", account_join="platform"),
    ServedTable(ACCOUNT_DAILY, "main.agg_account_daily", "metric_date, platform, account_id, channel_type"),
    ServedTable(OVERVIEW_DAILY, "main.agg_overview_account_daily", "metric_date, platform, account_id"),
    ServedTable(ATTRIBUTION_DAILY, "main.agg_channel_attribution_daily", "conversion_date, account_id, model, channel"),
    ServedTable(ATTRIBUTION_MODELS, ATTRIBUTION_MODEL_COMPARISON, "account_id, model, conversions desc, channel"),
    ServedTable(CAMPAIGNS, "main.dim_campaign", "platform, account_id, campaign_id", where="is_current"),
    ServedTable(CAMPAIGN_DAILY, "main.fct_campaign_performance", "metric_date, platform, account_id, campaign_id"),
    ServedTable(TOP_POSTS, "main.agg_top_posts", "platform, account_id, post_rank"),
    ServedTable(ENGAGEMENT_HEATMAP, "main.agg_account_engagement_by_hour", "platform, account_id, publish_dow, publish_hour"),
    ServedTable(BOOSTS, BOOST_EFFECTIVENESS, "platform, account_id, boost_id"),
    ServedTable(BOOST_SPLIT, "main.fct_boost_organic_vs_paid", "platform, account_id, boost_id"),
    ServedTable(RECOMMENDATIONS, "main.fct_recommendations", "platform, account_id, created_at, recommendation_id"),
    ServedTable(RECOMMENDATION_PERFORMANCE, "main.agg_recommendation_performance", "platform, account_id, kind"),
    ServedTable(INSIGHTS, ACCOUNT_INSIGHTS_TABLE, "platform, account_id, rank, insight_id"),
    ServedTable(EXPERIMENTS, ACCOUNT_EXPERIMENTS_TABLE, "platform, account_id, start_date, experiment_id"),
    ServedTable(HOOK_SUCCESS, "main.agg_account_hook_success", "platform, account_id, hook_type"),
    ServedTable(
        CONTENT_PERFORMANCE, "main.agg_account_content_performance_daily",
        "metric_date, platform, account_id, dimension, dimension_value",
    ),
    ServedTable(ANOMALIES, METRIC_ANOMALIES, "metric_date, platform, account_id, series_id", platform_rows=True),
    ServedTable(
        FORECASTS, METRIC_FORECASTS, "platform, account_id, series_id, origin_date, horizon",
        platform_rows=True, latest="origin_date",
    ),
)
# served tables another schedule writes (metric_forecasts: forecast_schedule), or that may not have run yet on a
# new deployment: until their table exists, their file is published empty, of the table's columns
OPTIONAL_SOURCES = (METRIC_ANOMALIES, METRIC_FORECASTS)

SERVING_FILES = (ASSET_STATUS, AUTOMATION_STATUS, *(t.file for t in SERVED_TABLES), MANIFEST)
# published beside them by the same asset, under the same manifest, and checked by /health wherever the manifest
# lists them; a snapshot from before them has none, and only /v1/models answers 404 then
MODEL_HEALTH_FILES = (MODEL_HEALTH, DRIFT_REPORT)

# ---- the model health file (MODEL_HEALTH)

VERSION_SECTION, LIVE_SECTION, DRIFT_SECTION = "version", "live_accuracy", "drift_column"
MODEL_HEALTH_SECTIONS = (VERSION_SECTION, LIVE_SECTION, DRIFT_SECTION)
CHAMPION_ROLE, CHALLENGER_ROLE, RETIRED_ROLE = "champion", "challenger", "retired"
MODEL_ROLES = (CHAMPION_ROLE, CHALLENGER_ROLE, RETIRED_ROLE)
MODEL_HEALTH_VERSIONS = 10  # the newest retrains published (and the champion, however old)
# the columns (DuckDB types) and, per section, which of them it fills (the others are null). Errors are on the
# scale the promotion gate decides on: rmse_log (RMSE of log1p(engagement_score)); MAE in score units beside it.
MODEL_HEALTH_COLUMNS: dict[str, str] = {
    "section": "VARCHAR",  # MODEL_HEALTH_SECTIONS
    "model_name": "VARCHAR",
    "model_version": "VARCHAR",  # the version the row is about (live accuracy: the champion; drift: its reference)
    # version: one retrain (a registered model version) and the gate's decision on it
    "role": "VARCHAR",  # MODEL_ROLES: the champion now, the newest retrain kept out, or an older one
    "trained_at": "TIMESTAMP",  # when its engagement_model run recorded it (UTC)
    "decision": "VARCHAR",  # promoted | kept
    "reason": "VARCHAR",  # the gate's reason, as recorded (it quotes post counts)
    "compared_with": "VARCHAR",  # the champion version it was compared with (null: there was none)
    "holdout_posts": "BIGINT",  # the challenger's holdout posts both models were scored on
    "holdout_rmse_log": "DOUBLE",  # this version on its holdout (live_accuracy: the champion's own holdout figure)
    "holdout_mae": "DOUBLE",
    "champion_holdout_rmse_log": "DOUBLE",  # the champion it was compared with, on the same posts
    "champion_holdout_mae": "DOUBLE",
    "shadow_posts": "BIGINT",  # posts neither model saw (the shadow_* figures are null when too few to decide on)
    "shadow_rmse_log": "DOUBLE",
    "shadow_mae": "DOUBLE",
    "champion_shadow_rmse_log": "DOUBLE",
    "champion_shadow_mae": "DOUBLE",
    "promotion_margin": "DOUBLE",  # the relative gain on every set that a promotion needs (0.02: 2%)
    # live_accuracy: the champion's error on the realized posts it never saw (ml.governance.live_accuracy)
    "as_of_date": "DATE",
    "window_start": "DATE",
    "window_end": "DATE",
    "window_posts": "BIGINT",
    "posts_since_training": "BIGINT",
    "live_rmse_log": "DOUBLE",
    "live_mae": "DOUBLE",
    "error_ratio": "DOUBLE",  # live_rmse_log / holdout_rmse_log (null below the minimum of posts)
    "status": "VARCHAR",  # ok | warn | retrain | insufficient_data
    "warn_ratio": "DOUBLE",  # the error ratio that warns (1.2) and the one that asks for a retrain (1.5)
    "retrain_ratio": "DOUBLE",
    # drift_column: one column of the newest drift day (ml_feature_drift) against the champion's reference
    "drift_day": "DATE",
    "column_name": "VARCHAR",
    "test": "VARCHAR",  # the two-sample test (its score is a p-value: drift below the threshold)
    "score": "DOUBLE",
    "threshold": "DOUBLE",
    "drifted": "BOOLEAN",
    "drift_share": "DOUBLE",  # the day's share of drifted columns, and the share at which the dataset drifts
    "drift_share_threshold": "DOUBLE",
    "dataset_drift": "BOOLEAN",
    "reference_start": "DATE",
    "reference_end": "DATE",
    "n_reference": "BIGINT",
    "n_current": "BIGINT",
    "report_file": "VARCHAR",  # DRIFT_REPORT when the day's page is published beside the file, else null
}
# what totals every workspace's posts: served only to a key whose workspace owns every served account
MODEL_HEALTH_POST_COUNTS = ("holdout_posts", "shadow_posts", "window_posts", "posts_since_training", "n_reference",
                            "n_current")

# ---- the manifest

MANIFEST_VERSION = 2  # 1 (implicit): rows only; 2: rows, bytes and sha256 per file
MAX_SNAPSHOT_AGE = timedelta(hours=36)
"""Freshness limit of the daily snapshot: older than this, the API's /health reports it degraded."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PublishedFile:
    """One file as the manifest describes it. ``sha256``/``size`` are None in manifests from before
    checksums (version 1), whose files cannot be verified."""

    rows: int | None = None
    size: int | None = None  # bytes
    sha256: str | None = None

    @property
    def verifiable(self) -> bool:
        return self.sha256 is not None

    @classmethod
    def of(cls, data: bytes, rows: int) -> PublishedFile:
        return cls(rows=rows, size=len(data), sha256=sha256_hex(data))

    def mismatch(self, data: bytes) -> str | None:
        """Why ``data`` is not this file (None when it is, or when there is nothing to check against)."""
        if self.size is not None and len(data) != self.size:
            return f"size {len(data)} bytes, the manifest says {self.size}"
        if self.sha256 is not None:
            actual = sha256_hex(data)
            if actual != self.sha256:
                return f"sha256 {actual[:12]}..., the manifest says {self.sha256[:12]}..."
        return None

    def to_json(self) -> dict[str, object]:
        return {"rows": self.rows, "bytes": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class ServingManifest:
    published_at: datetime | None  # UTC
    files: dict[str, PublishedFile]

    def to_json(self) -> dict[str, object]:
        published = None if self.published_at is None else self.published_at.astimezone(timezone.utc).isoformat()
        return {
            "published_at": published,
            "version": MANIFEST_VERSION,
            "files": {name: f.to_json() for name, f in self.files.items()},
        }


def _optional_int(meta: Mapping[str, object], key: str) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} is not a non-negative integer: {value!r}")
    return value


def parse_manifest(raw: bytes | str) -> ServingManifest:
    """Read ``manifest.json`` (any version); ``ValueError`` when it is not a manifest."""
    doc = json.loads(raw)
    if not isinstance(doc, dict):
        raise ValueError("top level is not an object")
    published_raw = doc.get("published_at")
    published_at = None
    if published_raw is not None:
        published_at = datetime.fromisoformat(str(published_raw))
        published_at = (
            published_at.replace(tzinfo=timezone.utc) if published_at.tzinfo is None
            else published_at.astimezone(timezone.utc)
        )
    files_doc = doc.get("files") or {}
    if not isinstance(files_doc, dict):
        raise ValueError("files is not an object")
    files: dict[str, PublishedFile] = {}
    for name, meta in files_doc.items():
        if not isinstance(meta, dict):
            files[str(name)] = PublishedFile()
            continue
        rows = meta.get("rows")
        rows = rows if isinstance(rows, int) and not isinstance(rows, bool) else None  # as readers always did
        sha = meta.get("sha256")
        if sha is not None:
            if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdefABCDEF" for c in sha)):
                raise ValueError(f"{name}: sha256 is not a SHA-256 hex digest: {sha!r}")
            sha = sha.lower()
        files[str(name)] = PublishedFile(rows=rows, size=_optional_int(meta, "bytes"), sha256=sha)
    return ServingManifest(published_at=published_at, files=files)
