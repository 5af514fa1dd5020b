"""API audit records into the warehouse: the API's store -> ``raw.raw_api_audit``, one way.

The API appends one audit record per HTTP request to its own SQLite store (``api/audit.py``, table
``api_audit`` beside the webhook events) and never opens the warehouse. ``raw_api_audit`` copies the
records it has not loaded yet (``storage.api_audit``), keyed by ``(store_id, store_seq)``;
``api_audit_sensor`` requests a load when the store holds records past the last load (both built by
``defs.ingest.inbound_store``).
"""

import dagster as dg

from analytics_assets.contracts.inbound import AuditStore
from analytics_assets.contracts.raw import API_AUDIT_TABLE
from analytics_assets.defs.ingest.inbound_store import store_copy_asset, store_copy_sensor
from analytics_assets.defs.resources import WebhookStoreResource
from analytics_assets.storage.api_audit import KEY as RECORD_KEY, TABLE, ingest

TABLE_NAME = API_AUDIT_TABLE
KEY = dg.AssetKey(TABLE_NAME)


def audit_store(resource: WebhookStoreResource) -> AuditStore:
    """The audit table of the API's inbound store (the same file as the webhook events)."""
    return AuditStore(resource.path)


raw_api_audit = store_copy_asset(
    name=TABLE_NAME,
    table=TABLE,
    key=RECORD_KEY,
    store=audit_store,
    copy=ingest,
    what="API audit records",
    loaded_field="loaded_records",
    by_field="loaded_by_status",
    check_name="record_is_unique",
    duplicates_field="duplicate_records",
    preview_sql=f"select requested_at, key_id, workspace_id, method, route, status, duration_ms from {TABLE} "
    "order by requested_at desc, store_seq desc limit 5",
    description="The API's audit records from its store, one row per HTTP request answered: key id, workspace, "
    "method, route template, status, response bytes, duration and client address (nothing secret).",
)

api_audit_job = dg.define_asset_job(
    "api_audit_job",
    selection=dg.AssetSelection.assets(KEY),
    description="Load new API audit records from the API's store into the warehouse.",
)

api_audit_sensor = store_copy_sensor(
    name="api_audit_sensor",
    job=api_audit_job,
    key=KEY,
    store=audit_store,
    what="API audit records",
    run_key_prefix="api-audit",
    trigger="api_audit",
)
