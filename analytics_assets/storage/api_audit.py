"""API audit records into the warehouse: the API's inbound store -> ``raw.raw_api_audit``, one way.

Copies the records not loaded yet and upserts them by ``(store_id, store_seq)`` (``storage.inbound_store``):
a rerun loads nothing twice, and a replaced store (new ``store_id``) is loaded from its start, beside the
rows of the old one.
"""

from __future__ import annotations

from analytics_assets.contracts.inbound import AuditStore
from analytics_assets.contracts.raw import API_AUDIT_COLUMNS as COLUMNS, API_AUDIT_TABLE, RAW_SCHEMA
from analytics_assets.storage import inbound_store
from analytics_assets.storage.inbound_store import StoreCopy

TABLE = f"{RAW_SCHEMA}.{API_AUDIT_TABLE}"
KEY = ("store_id", "store_seq")


def ingest(con, store: AuditStore, batch_rows: int = inbound_store.BATCH_ROWS) -> StoreCopy:
    """Load every audit record of ``store`` past the table's cursor (``loaded_by``: per HTTP status)."""
    return inbound_store.copy_new_rows(con, store, TABLE, COLUMNS, KEY, batch_rows, count_by="status")
