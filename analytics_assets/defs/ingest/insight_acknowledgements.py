"""Acknowledgements of insights into the warehouse: the API's store -> ``raw.raw_insight_acknowledgements``.

The API stores each acknowledgement (``POST /v1/insights/{insight_id}/acknowledge``) in its own SQLite store (table
``insight_acknowledgements``, ``contracts.inbound.InsightAcknowledgementStore``) and never opens the warehouse.
``raw_insight_acknowledgements`` copies the ones it has not loaded yet, upserted by ``(store_id, store_seq)`` (a
rerun loads nothing twice; a replaced store is loaded from its start beside the old rows);
``insight_acknowledgements_sensor`` requests a load when the store holds acknowledgements past the last load. The
``account_insights`` asset (defs/analysis/insights.py) joins them to the served insights (``acknowledged_at``).
"""

import dagster as dg

from analytics_assets.contracts.inbound import INSIGHT_ACK_RAW_COLUMNS, InsightAcknowledgementStore
from analytics_assets.contracts.raw import RAW_SCHEMA
from analytics_assets.defs.ingest.inbound_store import store_copy_asset, store_copy_sensor
from analytics_assets.defs.resources import WebhookStoreResource
from analytics_assets.storage import inbound_store
from analytics_assets.storage.inbound_store import StoreCopy

TABLE_NAME = "raw_insight_acknowledgements"
TABLE = f"{RAW_SCHEMA}.{TABLE_NAME}"
RECORD_KEY = ("store_id", "store_seq")
KEY = dg.AssetKey(TABLE_NAME)


def acknowledgement_store(resource: WebhookStoreResource) -> InsightAcknowledgementStore:
    """The acknowledgements table of the API's inbound store (the same file as the webhook events)."""
    return InsightAcknowledgementStore(resource.path)


def ingest(con, store: InsightAcknowledgementStore, batch_rows: int = inbound_store.BATCH_ROWS) -> StoreCopy:
    """Load every acknowledgement of ``store`` past the table's cursor (``loaded_by``: per platform)."""
    return inbound_store.copy_new_rows(
        con, store, TABLE, INSIGHT_ACK_RAW_COLUMNS, RECORD_KEY, batch_rows, count_by="platform"
    )


def ensure_table(con) -> None:
    """The raw table, empty until the first acknowledgement is loaded (readers join it before any exists)."""
    inbound_store.ensure_table(con, TABLE, INSIGHT_ACK_RAW_COLUMNS)


raw_insight_acknowledgements = store_copy_asset(
    name=TABLE_NAME,
    table=TABLE,
    key=RECORD_KEY,
    store=acknowledgement_store,
    copy=ingest,
    what="insight acknowledgements",
    loaded_field="loaded_acknowledgements",
    by_field="loaded_by_platform",
    check_name="acknowledgement_is_loaded_once",
    duplicates_field="duplicate_acknowledgements",
    preview_sql=f"select received_at, insight_id, platform, account_id, workspace_id from {TABLE} "
    "order by received_at desc, store_seq desc limit 5",
    description="Users' acknowledgements of insights from the API's store, one row per acknowledgement stored: the "
    "insight, its account, who acknowledged it (workspace, key id), their note and when.",
)

insight_acknowledgements_job = dg.define_asset_job(
    "insight_acknowledgements_job",
    # and what follows in the same run: the served insights' acknowledged_at and the snapshot
    selection=dg.AssetSelection.assets(KEY).downstream(),
    description="Load new acknowledgements of insights from the API's store into the warehouse, then refresh the "
    "served insights and the snapshot.",
)

insight_acknowledgements_sensor = store_copy_sensor(
    name="insight_acknowledgements_sensor",
    job=insight_acknowledgements_job,
    key=KEY,
    store=acknowledgement_store,
    what="insight acknowledgements",
    run_key_prefix="insight-acknowledgements",
    trigger="insight_acknowledgements",
)
