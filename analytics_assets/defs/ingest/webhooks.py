"""Webhook events into the warehouse: the API's store -> ``raw.raw_webhook_events``, one way.

The API verifies and appends platform notifications to its own SQLite store and never opens the
warehouse. ``raw_webhook_events`` copies the events it has not loaded yet (``storage.webhook_events``);
``webhook_events_sensor`` requests a load when the store holds events past the last load
(both built by ``defs.ingest.inbound_store``).
"""

import dagster as dg

from analytics_assets.contracts.raw import WEBHOOK_EVENTS_TABLE
from analytics_assets.defs.ingest.inbound_store import store_copy_asset, store_copy_sensor
from analytics_assets.defs.resources import WebhookStoreResource
from analytics_assets.storage.webhook_events import KEY as EVENT_KEY, TABLE, copy

TABLE_NAME = WEBHOOK_EVENTS_TABLE
KEY = dg.AssetKey(TABLE_NAME)

raw_webhook_events = store_copy_asset(
    name=TABLE_NAME,
    table=TABLE,
    key=EVENT_KEY,
    store=WebhookStoreResource.store,
    copy=copy,
    what="webhook events",
    loaded_field="loaded_events",
    by_field="rows_by_platform",
    check_name="event_is_unique",
    duplicates_field="duplicate_events",
    preview_sql=f"select platform, event_id, object, field, action, entity_id, event_time from {TABLE} "
    "order by received_at desc, store_seq desc limit 5",
    description="Verified Meta and LinkedIn webhook events from the API's store, one row per platform event, "
    "with the event's JSON and its parsed ids and time.",
)

webhook_events_job = dg.define_asset_job(
    "webhook_events_job",
    selection=dg.AssetSelection.assets(KEY),
    description="Load new webhook events from the API's store into the warehouse.",
)

webhook_events_sensor = store_copy_sensor(
    name="webhook_events_sensor",
    job=webhook_events_job,
    key=KEY,
    store=WebhookStoreResource.store,
    what="webhook events",
    run_key_prefix="webhooks",
    trigger="webhook_events",
)
