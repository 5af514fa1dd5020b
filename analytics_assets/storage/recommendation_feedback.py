"""Users' decisions on recommendations into the warehouse: the API's inbound store -> ``raw.raw_recommendation_feedback``.

Copies the decisions not loaded yet and upserts them by ``(store_id, store_seq)`` (``storage.inbound_store``): a
rerun loads nothing twice, and a replaced store (new ``store_id``) is loaded from its start, beside the rows of the
old one. The store keeps one decision per recommendation; across stores there may be more, and
``stg_recommendation_feedback`` keeps the first.
"""

from __future__ import annotations

from analytics_assets.contracts.inbound import FeedbackStore
from analytics_assets.contracts.raw import RAW_SCHEMA
from analytics_assets.contracts.recommendations import FEEDBACK_COLUMNS as COLUMNS, FEEDBACK_TABLE
from analytics_assets.storage import inbound_store
from analytics_assets.storage.inbound_store import StoreCopy

TABLE = f"{RAW_SCHEMA}.{FEEDBACK_TABLE}"
KEY = ("store_id", "store_seq")


def ingest(con, store: FeedbackStore, batch_rows: int = inbound_store.BATCH_ROWS) -> StoreCopy:
    """Load every decision of ``store`` past the table's cursor (``loaded_by``: per decision)."""
    return inbound_store.copy_new_rows(con, store, TABLE, COLUMNS, KEY, batch_rows, count_by="decision")
