"""Jobs, schedules and sensors."""


from datetime import timedelta, timezone

import dagster as dg

from analytics_assets.connectors.resources import LinkedInResource, RedditResource, TikTokResource, XResource

MODEL_KEY = dg.AssetKey("engagement_model")
DRIFT_KEY = dg.AssetKey("ml_feature_drift")
# Assets with a trigger of their own (webhook_events_sensor, raw_snapshot_archive_schedule): they are not
# per-partition work, so the pipeline jobs leave them out rather than run them once more per run.
OWN_TRIGGER = dg.AssetSelection.assets("raw_webhook_events", "raw_snapshot_archive")

# The whole graph: what `make demo` and `cycle backfill` run.
full_pipeline_job = dg.define_asset_job(
    "full_pipeline_job",
    selection=dg.AssetSelection.all() - OWN_TRIGGER,
    description="Every asset: raw -> dbt -> attribution / training data -> model -> recommendations -> serving.",
)

# Daily: the new partition through the graph; the champion model is reused (retrained on drift or weekly).
daily_pipeline_job = dg.define_asset_job(
    "daily_pipeline_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(MODEL_KEY) - OWN_TRIGGER,
    description="The new day's partition through raw, dbt, drift and serving, rescored with the champion model.",
)

engagement_model_training_job = dg.define_asset_job(
    "engagement_model_training_job",
    selection=dg.AssetSelection.assets(MODEL_KEY).downstream(),
    description="Retrain the engagement model and refresh what depends on it.",
)

daily_pipeline_schedule = dg.build_schedule_from_partitioned_job(
    daily_pipeline_job,
    hour_of_day=3,
    name="daily_pipeline_schedule",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

engagement_model_weekly_schedule = dg.ScheduleDefinition(
    name="engagement_model_weekly_schedule",
    job=engagement_model_training_job,
    cron_schedule="0 5 * * 1",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.asset_sensor(
    asset_key=DRIFT_KEY,
    job=engagement_model_training_job,
    name="engagement_drift_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a retrain when the drift monitor finds the recent features drifted from the "
    "champion's training data.",
)
def engagement_drift_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    materialization = asset_event.asset_materialization
    metadata = materialization.metadata if materialization else {}
    drift = metadata.get("dataset_drift")
    if drift is None or not drift.value:
        return dg.SkipReason(f"No drift in {materialization.partition if materialization else '?'}")
    days = metadata.get("drifted_days")
    champion = metadata.get("champion_version")
    return dg.RunRequest(
        run_key=f"drift-{asset_event.run_id}-{materialization.partition}",
        tags={
            "cycle/trigger": "feature_drift",
            "cycle/drifted_days": ",".join(days.value) if days else "",
            "cycle/champion_version": str(champion.value) if champion else "",
        },
    )


# Social polling: each run polls the posts that are due (every 2 hours in a post's first 48 hours, every
# 6 hours after: the post registry decides), so the schedule ticks at the shorter interval.
social_metrics_poll_job = dg.define_asset_job(
    "social_metrics_poll_job",
    selection=dg.AssetSelection.assets("raw_social_post_snapshots"),
    description="Poll the due organic posts of every platform with credentials; snapshots are appended.",
)


@dg.schedule(
    cron_schedule="0 */2 * * *",
    job=social_metrics_poll_job,
    name="social_metrics_poll_schedule",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 2 hours: poll posts under 48 hours old polled 2+ hours ago and older posts polled 6+ "
    "hours ago. Runs on the latest daily partition (the current day is not one until it ends); the "
    "snapshots land in the partition of the day they are taken.",
)
def social_metrics_poll_schedule(
    context: dg.ScheduleEvaluationContext,
    linkedin: LinkedInResource,
    x: XResource,
    reddit: RedditResource,
    tiktok: TikTokResource,
):
    configured = [r.platform for r in (linkedin, x, reddit, tiktok) if r.is_configured]
    if not configured:  # the simulator's snapshots come with the daily run
        return dg.SkipReason("No organic platform has credentials: nothing to poll")
    tick = context.scheduled_execution_time.astimezone(timezone.utc)
    partition = (tick.date() - timedelta(days=1)).isoformat()  # the last complete (UTC) day
    return dg.RunRequest(
        run_key=f"social-poll-{tick.isoformat()}", partition_key=partition, tags={"cycle/polled": ",".join(configured)}
    )
