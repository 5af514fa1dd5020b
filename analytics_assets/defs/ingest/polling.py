"""Polling the organic platforms with credentials, on their own clock (the simulator needs none)."""

from datetime import timedelta, timezone

import dagster as dg

from analytics_assets.defs.ingest.connector_resources import LinkedInResource, RedditResource, TikTokResource, XResource

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
