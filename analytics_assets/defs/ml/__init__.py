"""ML: the engagement model in MLflow, its drift monitor, its recommendations and when it retrains."""

import dagster as dg

from analytics_assets.defs.ml.assets import engagement_model, ml_feature_drift, posting_hour_recommendations
from analytics_assets.defs.ml.automation import (
    engagement_drift_sensor,
    engagement_model_training_job,
    engagement_model_weekly_schedule,
)

defs = dg.Definitions(
    assets=[engagement_model, ml_feature_drift, posting_hour_recommendations],
    jobs=[engagement_model_training_job],
    schedules=[engagement_model_weekly_schedule],
    sensors=[engagement_drift_sensor],
)
