"""Users' decisions on recommendations into the warehouse: the API's store -> ``raw.raw_recommendation_feedback``.

The API stores each decision (``POST /v1/recommendations/{id}/apply`` or ``.../dismiss``) in its own SQLite store
(table ``recommendation_feedback`` beside the webhook events and audit records) and never opens the warehouse.
``raw_recommendation_feedback`` copies the decisions it has not loaded yet (``storage.recommendation_feedback``),
keyed by ``(store_id, store_seq)``; ``recommendation_feedback_sensor`` requests a load when the store holds
decisions past the last load (both built by ``defs.ingest.inbound_store``). The loop's dbt models
(``stg_recommendation_feedback`` -> ``fct_recommendations``) read the raw table.
"""

import dagster as dg

from analytics_assets.contracts.inbound import FeedbackStore
from analytics_assets.contracts.recommendations import FEEDBACK_TABLE
from analytics_assets.defs.ingest.inbound_store import store_copy_asset, store_copy_sensor
from analytics_assets.defs.resources import WebhookStoreResource
from analytics_assets.storage.recommendation_feedback import KEY as RECORD_KEY, TABLE, ingest

TABLE_NAME = FEEDBACK_TABLE
KEY = dg.AssetKey(TABLE_NAME)


def feedback_store(resource: WebhookStoreResource) -> FeedbackStore:
    """The feedback table of the API's inbound store (the same file as the webhook events)."""
    return FeedbackStore(resource.path)


raw_recommendation_feedback = store_copy_asset(
    name=TABLE_NAME,
    table=TABLE,
    key=RECORD_KEY,
    store=feedback_store,
    copy=ingest,
    what="recommendation decisions",
    loaded_field="loaded_decisions",
    by_field="loaded_by_decision",
    check_name="decision_is_loaded_once",
    duplicates_field="duplicate_decisions",
    preview_sql=f"select received_at, recommendation_id, decision, platform, account_id, workspace_id from {TABLE} "
    "order by received_at desc, store_seq desc limit 5",
    description="Users' decisions on recommendations (apply, dismiss) from the API's store, one row per decision "
    "stored: the recommendation, its account, who decided (workspace, key id), the reason, and for an applied one "
    "the post published for it and what was done.",
)

recommendation_feedback_job = dg.define_asset_job(
    "recommendation_feedback_job",
    # and what follows from them in the same run: the loop models (status, outcomes) and the served snapshot, so
    # the status users read follows a decision without waiting for the automation sensor
    selection=dg.AssetSelection.assets(KEY).downstream(),
    description="Load new decisions on recommendations from the API's store into the warehouse, then refresh "
    "the recommendations' status and outcomes and the served snapshot.",
)

recommendation_feedback_sensor = store_copy_sensor(
    name="recommendation_feedback_sensor",
    job=recommendation_feedback_job,
    key=KEY,
    store=feedback_store,
    what="recommendation decisions",
    run_key_prefix="recommendation-feedback",
    trigger="recommendation_feedback",
)
