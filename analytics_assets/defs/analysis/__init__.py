"""Analysis: attribution models side by side, boost lift, experiment decisions and ranked insights."""

import dagster as dg

from analytics_assets.defs.analysis.anomalies import metric_anomalies
from analytics_assets.defs.analysis.attribution import agg_attribution_model_comparison
from analytics_assets.defs.analysis.boosts import boost_effectiveness
from analytics_assets.defs.analysis.experiments import account_experiments, experiment_results
from analytics_assets.defs.analysis.forecasts import forecast_job, forecast_schedule, metric_forecasts
from analytics_assets.defs.analysis.insights import account_insights, insights

defs = dg.Definitions(
    assets=[
        agg_attribution_model_comparison, boost_effectiveness, experiment_results, insights, account_experiments,
        account_insights, metric_anomalies, metric_forecasts,
    ],
    jobs=[forecast_job],
    schedules=[forecast_schedule],
)
