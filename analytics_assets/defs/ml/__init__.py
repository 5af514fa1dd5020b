"""ML: the engagement model in MLflow, its drift monitor and live accuracy, and when it retrains (what it
recommends is the posting policy of ``defs/loop``)."""

import dagster as dg

from analytics_assets.defs.ml.assets import engagement_model, ml_feature_drift
from analytics_assets.defs.ml.live_accuracy import ml_champion_live_accuracy
from analytics_assets.defs.ml.automation import (
    engagement_drift_sensor,
    engagement_live_accuracy_sensor,
    engagement_model_training_job,
    engagement_model_weekly_schedule,
    engagement_new_data_sensor,
)

defs = dg.Definitions(
    assets=[engagement_model, ml_feature_drift, ml_champion_live_accuracy],
    jobs=[engagement_model_training_job],
    schedules=[engagement_model_weekly_schedule],
    sensors=[engagement_drift_sensor, engagement_live_accuracy_sensor, engagement_new_data_sensor],
)
