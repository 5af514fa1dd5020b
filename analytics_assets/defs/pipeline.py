"""The jobs that run the whole graph, and the automation that spans domains.

Each domain's own triggers live with its assets (``defs/<domain>/``); these are the runs a data engineer
starts from the UI or ``cycle backfill``, and the daily schedule.
"""


import dagster as dg

from analytics_assets.defs.automation import cycle_automation_sensor
from analytics_assets.defs.ml.automation import MODEL_KEY
from analytics_assets.defs.run_recovery import dead_run_sensor

# Assets with a trigger of their own (webhook_events_sensor, api_audit_sensor, recommendation_feedback_sensor,
# insight_acknowledgements_sensor, raw_snapshot_archive_schedule, ops_alerts_sensor): not per-partition work, so the
# pipeline jobs leave them out rather than run them once more per run.
OWN_TRIGGER = dg.AssetSelection.assets("raw_webhook_events", "raw_api_audit", "raw_recommendation_feedback", "raw_insight_acknowledgements", "raw_snapshot_archive", "ops_alerts")
# tracked events (tracked_events_sensor): one asset, three tables, loaded from the API's store and the landing folder
OWN_TRIGGER = OWN_TRIGGER | dg.AssetSelection.assets("raw_tracked_touchpoints", "raw_tracked_ai_generations", "raw_tracked_experiment_observations")
# forecasts: their own daily schedule (forecast_schedule, defs/analysis/forecasts.py), one origin a day
OWN_TRIGGER = OWN_TRIGGER | dg.AssetSelection.assets("metric_forecasts")

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

daily_pipeline_schedule = dg.build_schedule_from_partitioned_job(
    daily_pipeline_job,
    hour_of_day=3,
    name="daily_pipeline_schedule",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


defs = dg.Definitions(
    jobs=[full_pipeline_job, daily_pipeline_job],
    schedules=[daily_pipeline_schedule],
    sensors=[cycle_automation_sensor, dead_run_sensor],
)
