"""When the engagement model retrains: weekly, once per behaviour shift the drift monitor finds, when the
champion's error on the posts it never saw reaches +50% of its holdout error, and when 1,000 such posts arrived.

The last two read the latest ``ml_champion_live_accuracy`` materialization's metadata from the instance (never
the warehouse, which a run may be writing) and request one retrain per champion version and trigger: their
run keys, remembered in the sensor's cursor (and deduplicated by the daemon too).
"""

import json
from datetime import date

import dagster as dg

from ml.drift import DRIFT_ONSET_TAG, drift_retrain_decision
from ml.governance import NEW_POSTS_RETRAIN_THRESHOLD, RETRAIN_ERROR_RATIO

MODEL_KEY = dg.AssetKey("engagement_model")
DRIFT_KEY = dg.AssetKey("ml_feature_drift")
LIVE_ACCURACY_KEY = dg.AssetKey("ml_champion_live_accuracy")
REMEMBERED_RUN_KEYS = 100  # run keys a retrain sensor's cursor keeps: far more than champion versions a year

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
    description="Requests one retrain per behaviour shift: when the drift monitor finds the latest posts drifted "
    "from the champion's reference and the shifted posts have outcomes to learn from (run key per champion).",
)
def engagement_drift_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    materialization = asset_event.asset_materialization
    metadata = {key: value.value for key, value in (materialization.metadata if materialization else {}).items()}
    partition = materialization.partition if materialization else "?"
    # the latest evaluated day decides: a window whose earlier days drifted but whose newest no longer does has
    # settled (materializations written before latest_dataset_drift existed only carry dataset_drift)
    drifted = metadata.get("latest_dataset_drift", metadata.get("dataset_drift"))
    onset, trainable = metadata.get("drift_onset"), metadata.get("trainable_through")
    decision = drift_retrain_decision(
        bool(drifted),
        date.fromisoformat(onset) if onset else None,
        date.fromisoformat(trainable) if trainable else None,
        metadata.get("champion_version"),
    )
    if decision.run_key is None:
        return dg.SkipReason(f"{decision.reason} in {partition}")
    return dg.RunRequest(
        run_key=decision.run_key,
        tags={
            "cycle/trigger": "feature_drift",
            "cycle/drifted_days": ",".join(metadata.get("drifted_days") or []),
            "cycle/champion_version": str(metadata["champion_version"]),
            DRIFT_ONSET_TAG: onset,
        },
    )


def _latest_record(instance: dg.DagsterInstance, key: dg.AssetKey):
    records = instance.fetch_materializations(key, limit=1).records
    return records[0] if records else None


def _live_accuracy(context: dg.SensorEvaluationContext) -> dict | dg.SkipReason:
    """The metadata values of the latest live-accuracy evaluation, or why there is nothing to act on."""
    record = _latest_record(context.instance, LIVE_ACCURACY_KEY)
    if record is None:
        return dg.SkipReason("ml_champion_live_accuracy has not been materialized yet")
    model = _latest_record(context.instance, MODEL_KEY)
    if model is not None and model.storage_id > record.storage_id:
        # the champion may have changed since: its figures describe a model that may no longer serve
        return dg.SkipReason("The model was retrained after the latest live-accuracy evaluation: waiting for the next")
    metadata = {key: value.value for key, value in record.asset_materialization.metadata.items()}
    if metadata.get("champion_version") is None:
        return dg.SkipReason("No champion was evaluated")
    return metadata


def _request_once(context: dg.SensorEvaluationContext, run_key: str, tags: dict[str, str]):
    requested = json.loads(context.cursor) if context.cursor else []
    if run_key in requested:
        return dg.SkipReason(f"Retrain {run_key} was requested already")
    context.update_cursor(json.dumps((requested + [run_key])[-REMEMBERED_RUN_KEYS:]))
    return dg.RunRequest(run_key=run_key, tags=tags)


@dg.sensor(
    job=engagement_model_training_job,
    name="engagement_live_accuracy_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"Requests a retrain when the champion's log-scale RMSE on the realized posts it never saw reaches "
    f"{RETRAIN_ERROR_RATIO:.0%} of its holdout RMSE (once per champion version).",
)
def engagement_live_accuracy_sensor(context: dg.SensorEvaluationContext):
    live = _live_accuracy(context)
    if isinstance(live, dg.SkipReason):
        return live
    version, ratio = live["champion_version"], live.get("error_ratio")
    if ratio is None or ratio < RETRAIN_ERROR_RATIO:
        shown = "not computed" if ratio is None else f"{ratio:.2f}"
        return dg.SkipReason(f"Champion v{version}: error ratio {shown}, retrain at {RETRAIN_ERROR_RATIO}")
    return _request_once(
        context,
        f"live-accuracy-v{version}",
        {"cycle/trigger": "live_accuracy", "cycle/champion_version": str(version), "cycle/error_ratio": f"{ratio:.3f}"},
    )


@dg.sensor(
    job=engagement_model_training_job,
    name="engagement_new_data_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"Requests a retrain each time another {NEW_POSTS_RETRAIN_THRESHOLD:,} posts with outcomes have "
    "arrived since the champion's training data (once per champion version and threshold crossing).",
)
def engagement_new_data_sensor(context: dg.SensorEvaluationContext):
    live = _live_accuracy(context)
    if isinstance(live, dg.SkipReason):
        return live
    version, posts = live["champion_version"], int(live.get("posts_since_training") or 0)
    crossings = posts // NEW_POSTS_RETRAIN_THRESHOLD
    if crossings == 0:
        return dg.SkipReason(f"Champion v{version}: {posts} new posts, retrain at {NEW_POSTS_RETRAIN_THRESHOLD}")
    # a kept challenger leaves the same champion: the next crossing (2,000 posts, ...) asks again
    return _request_once(
        context,
        f"new-posts-v{version}-{crossings * NEW_POSTS_RETRAIN_THRESHOLD}",
        {"cycle/trigger": "new_posts", "cycle/champion_version": str(version), "cycle/posts_since_training": str(posts)},
    )
