"""When the engagement model retrains: weekly, and when the drift monitor finds the features moved."""

import dagster as dg

MODEL_KEY = dg.AssetKey("engagement_model")
DRIFT_KEY = dg.AssetKey("ml_feature_drift")

engagement_model_training_job = dg.define_asset_job(
    "engagement_model_training_job",
    selection=dg.AssetSelection.assets(MODEL_KEY).downstream(),
    description="Retrain the engagement model and refresh what depends on it.",
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
