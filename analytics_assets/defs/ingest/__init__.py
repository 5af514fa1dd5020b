"""Ingest: sources -> the raw layer (daily raw tables, webhook events, API audit records, decisions on
recommendations, acknowledgements of insights, the archive) and their triggers."""

import dagster as dg

from analytics_assets.defs.ingest.api_audit import api_audit_job, api_audit_sensor, raw_api_audit
from analytics_assets.defs.ingest.insight_acknowledgements import (
    insight_acknowledgements_job,
    insight_acknowledgements_sensor,
    raw_insight_acknowledgements,
)
from analytics_assets.defs.ingest.polling import social_metrics_poll_job, social_metrics_poll_schedule
from analytics_assets.defs.ingest.raw import raw_platform_data
from analytics_assets.defs.ingest.recommendation_feedback import (
    raw_recommendation_feedback,
    recommendation_feedback_job,
    recommendation_feedback_sensor,
)
from analytics_assets.defs.ingest.retention import (
    raw_snapshot_archive,
    raw_snapshot_archive_job,
    raw_snapshot_archive_schedule,
)
from analytics_assets.defs.ingest.tracked_events import (
    raw_tracked_events,
    tracked_events_dbt_job,
    tracked_events_dbt_sensor,
    tracked_events_job,
    tracked_events_sensor,
)
from analytics_assets.defs.ingest.webhooks import raw_webhook_events, webhook_events_job, webhook_events_sensor

defs = dg.Definitions(
    assets=[
        raw_platform_data, raw_webhook_events, raw_api_audit, raw_recommendation_feedback, raw_snapshot_archive,
        raw_insight_acknowledgements, raw_tracked_events,
    ],
    jobs=[
        webhook_events_job, api_audit_job, recommendation_feedback_job, raw_snapshot_archive_job,
        social_metrics_poll_job, insight_acknowledgements_job, tracked_events_job, tracked_events_dbt_job,
    ],
    schedules=[raw_snapshot_archive_schedule, social_metrics_poll_schedule],
    sensors=[
        webhook_events_sensor, api_audit_sensor, recommendation_feedback_sensor, insight_acknowledgements_sensor,
        tracked_events_sensor, tracked_events_dbt_sensor,
    ],
)
