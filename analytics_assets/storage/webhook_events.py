"""Webhook events into the warehouse: the API's inbound store -> ``raw.raw_webhook_events``, one way.

Copies the events not loaded yet (store ``seq`` above the largest one already in the table for that store)
and upserts them by ``(platform, event_id)``, so a rerun, a crash half-way or a store replayed from scratch
never duplicates an event (``storage.inbound_store``).
"""

from __future__ import annotations

from collections import Counter

from analytics_assets.contracts.inbound import WebhookStore
from analytics_assets.contracts.raw import RAW_SCHEMA, WEBHOOK_EVENT_COLUMNS as COLUMNS, WEBHOOK_EVENTS_TABLE
from analytics_assets.storage import inbound_store
from analytics_assets.storage.inbound_store import StoreCopy

TABLE = f"{RAW_SCHEMA}.{WEBHOOK_EVENTS_TABLE}"
KEY = ("platform", "event_id")
BATCH_ROWS = inbound_store.BATCH_ROWS


def copy(con, store: WebhookStore, batch_rows: int = BATCH_ROWS) -> StoreCopy:
    """Load every event of ``store`` past the table's cursor (``loaded_by``: per platform)."""
    return inbound_store.copy_new_rows(con, store, TABLE, COLUMNS, KEY, batch_rows, count_by="platform")


def ingest(con, store: WebhookStore, batch_rows: int = BATCH_ROWS) -> tuple[int, int, Counter[str], str | None]:
    """``copy`` as (loaded, cursor, per platform, store id)."""
    result = copy(con, store, batch_rows)
    return result.loaded, result.cursor, result.loaded_by, result.store_id
