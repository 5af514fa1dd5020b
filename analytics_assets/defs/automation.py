"""Assets that follow their inputs on their own, and the sensor that makes them do it.

A follower (``FOLLOW_UPSTREAM``) is requested when one of its inputs was materialized since it last ran,
none is being materialized, and it is not running itself: materialize one dbt model from the UI, or retrain
the model, and the recommendations and the serving snapshot catch up without a job. The pipeline jobs
include the followers already, so after a job's run there is nothing left to request.

Dagster's stock ``eager()`` also waits until no input partition is missing; the followers are unpartitioned
children of daily-partitioned assets whose history always has days that were never loaded, so that clause
would keep them from ever firing. ``cycle_automation_sensor`` evaluates the conditions; it runs by default
(Dagster's own default automation sensor is off until someone turns it on in the UI).
"""

import dagster as dg

FOLLOW_UPSTREAM = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())

FOLLOWERS = (
    "ml_posting_slots",
    "posting_hour_recommendations",
    "ml_recommendations",
    "content_recommendation_proposals",
    "boost_recommendation_proposals",
    "budget_recommendation_proposals",
    "stg_recommendation_feedback",
    "fct_recommendations",
    "fct_recommendation_outcomes",
    "agg_recommendation_performance",
    "serving_snapshot",
)

cycle_automation_sensor = dg.AutomationConditionSensorDefinition(
    "cycle_automation_sensor",
    target=dg.AssetSelection.assets(*FOLLOWERS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Requests runs of the assets that follow their inputs (recommendations, serving snapshot).",
)
