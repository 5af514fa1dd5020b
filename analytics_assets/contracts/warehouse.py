"""Where each stage writes in the warehouse: dbt owns ``main``; tables computed in Python live in the
schema of the stage that writes them, never among dbt's models.

- ``raw``: the ingest layer (``contracts.raw``), written by the raw assets and sensors.
- ``main``: dbt's staging, intermediate and mart models (``dbt/profiles.yml``).
- ``ml``: what the ML assets compute from the marts (recommendations, drift reports).
- ``analysis``: what the analysis assets compute (attribution comparison, boost lift, experiments, insights).
- ``ops``: the platform's own operations (the alerts it raised, copied from their SQLite store).
"""

DBT_SCHEMA = "main"
ML_SCHEMA = "ml"
ANALYSIS_SCHEMA = "analysis"
OPS_SCHEMA = "ops"

POSTING_HOUR_RECOMMENDATIONS = f"{ML_SCHEMA}.posting_hour_recommendations"
POSTING_SLOTS = f"{ML_SCHEMA}.ml_posting_slots"  # every weekday x hour slot's posterior (ml.posting_policy)
FEATURE_DRIFT_REPORTS = f"{ML_SCHEMA}.ml_feature_drift_reports"
CHAMPION_LIVE_ACCURACY = f"{ML_SCHEMA}.champion_live_accuracy"
# this run's content and boost recommendations (contract rows), merged into ml.ml_recommendations by the posting
# policy's ml_recommendations step (storage.recommendations.merge_generation)
CONTENT_RECOMMENDATION_PROPOSALS = f"{ML_SCHEMA}.content_recommendation_proposals"
BOOST_RECOMMENDATION_PROPOSALS = f"{ML_SCHEMA}.boost_recommendation_proposals"
BUDGET_RECOMMENDATION_PROPOSALS = f"{ML_SCHEMA}.budget_recommendation_proposals"  # ml.budget

ATTRIBUTION_MODEL_COMPARISON = f"{ANALYSIS_SCHEMA}.agg_attribution_model_comparison"
BOOST_EFFECTIVENESS = f"{ANALYSIS_SCHEMA}.boost_effectiveness"
BOOST_COUNTERFACTUAL_TRAJECTORY = f"{ANALYSIS_SCHEMA}.boost_counterfactual_trajectory"
# each estimated boost's input fingerprint (analysis.boost_reuse): a boost whose inputs did not change keeps its rows
BOOST_EFFECTIVENESS_INPUTS = f"{ANALYSIS_SCHEMA}.boost_effectiveness_inputs"
EXPERIMENT_RESULTS = f"{ANALYSIS_SCHEMA}.experiment_results"
# each experiment's input fingerprint (its observations, the rule, the method): an unchanged experiment keeps its row
EXPERIMENT_RESULTS_INPUTS = f"{ANALYSIS_SCHEMA}.experiment_results_inputs"
INSIGHTS = f"{ANALYSIS_SCHEMA}.insights"
# the dated anomalies of the daily campaign and platform series (ml.anomalies), one row per series and flagged day
METRIC_ANOMALIES = f"{ANALYSIS_SCHEMA}.metric_anomalies"
# 7-day forecasts of the daily campaign and platform series with 80%/95% intervals (ml.forecasting), one row per
# series, forecast origin and day ahead (horizon 1..7)
METRIC_FORECASTS = f"{ANALYSIS_SCHEMA}.metric_forecasts"

ALERTS = f"{OPS_SCHEMA}.alerts"


def table_metadata(qualified: str) -> dict[str, str]:
    """Asset metadata naming the table an asset writes (the UI links the asset to it)."""
    return {"table": qualified, "dagster/table_name": qualified}
