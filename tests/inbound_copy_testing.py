"""What the tests of the assets that copy the API's inbound store share (raw_api_audit, raw_recommendation_feedback):
a temporary CYCLE_HOME, one materialization of a copy asset with its uniqueness check, one sensor evaluation."""

from __future__ import annotations

import dagster as dg

from analytics_assets.defs.resources import WarehouseResource, WebhookStoreResource
from analytics_assets.settings import load_settings


def inbound_env(tmp_path, monkeypatch):
    """A temporary CYCLE_HOME: the store and the warehouse where the settings put them.
    Returns (resources, instance, warehouse path, store path)."""
    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))
    for name in ("CYCLE_API_STORE", "CYCLE_WAREHOUSE_PATH"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    resources = {
        "warehouse": WarehouseResource(path=str(settings.warehouse), memory_limit="512MB"),
        "webhook_store": WebhookStoreResource(path=str(settings.inbound_store)),
    }
    return resources, dg.DagsterInstance.ephemeral(), settings.warehouse, settings.inbound_store


def materialize_copy(asset: dg.AssetsDefinition, resources, instance) -> dict:
    """Materialize a store-copy asset; its check must pass. Returns its materialization metadata."""
    result = dg.materialize([asset], resources=resources, instance=instance)
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.passed, check.metadata
    return result.asset_materializations_for_node(asset.key.to_python_identifier())[0].metadata


def evaluate_sensor(sensor: dg.SensorDefinition, resources, instance):
    with dg.build_sensor_context(instance=instance, resources={"webhook_store": resources["webhook_store"]}) as context:
        return sensor(context)
