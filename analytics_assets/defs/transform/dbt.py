"""The dbt project as Dagster assets: staging, marts, attribution and the ML training dataset.

Each partition window reaches dbt as the env vars ``CYCLE_DBT_MIN_DATE``/``CYCLE_DBT_MAX_DATE`` (what the
vars ``min_date``/``max_date`` give a hand-run ``dbt build``); incremental models replace exactly those days
(delete+insert on the date key), and a backfill runs as one dbt invocation. dbt data tests become Dagster
asset checks, each described in words (``dbt_checks``); each built table's materialization carries its row
count and column types. How each invocation is prepared (environment, target folder, partial parse, table
metadata) is ``dbt_invocation``.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from analytics_assets.defs.automation import FOLLOW_UPSTREAM
from analytics_assets.defs.partitions import WAREHOUSE_POOL, daily_partitions
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.defs.transform.dbt_checks import describe_test
from analytics_assets.defs.transform.dbt_invocation import DBT_PROJECT_DIR, run_dbt_build

# The manifest is prepared by `make install` / `make dev` (dbt parse), never at import time.
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class CycleDbtTranslator(DagsterDbtTranslator):
    """Sources map onto the raw assets by table name; models are keyed by name, grouped by folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        return dg.AssetKey(dbt_resource_props["name"])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        if dbt_resource_props["resource_type"] == "snapshot":
            return "snapshots"  # histories (dim_campaign's source), beside the marts they feed
        fqn = dbt_resource_props.get("fqn", [])
        folder = fqn[-2] if len(fqn) >= 3 else "dbt"
        return folder if folder in ("staging", "intermediate", "attribution") else "marts"

    def get_asset_check_spec(
        self, asset_spec: dg.AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        # the generated name is cut short: the description says what the test checks
        return spec._replace(description=describe_test(manifest["nodes"][unique_id]))


# checks from the data tests; each model's page links its SQL file (the "code references" of the UI)
TRANSLATOR_SETTINGS = DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=True)
dbt_translator = CycleDbtTranslator(settings=TRANSLATOR_SETTINGS)


# the closed loop's models (models/loop) read what the ML assets write, so they are an asset of their own
# downstream of them, unpartitioned: a recommendation's status and outcome are not a day's data
LOOP_SELECTION = "tag:loop"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=dbt_translator,
    exclude=LOOP_SELECTION,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def cycle_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    yield from run_dbt_build(context, dbt, warehouse)


class CycleLoopDbtTranslator(CycleDbtTranslator):
    """The loop models follow their inputs (new recommendations, new decisions) on their own."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "recommendations"

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        return FOLLOW_UPSTREAM


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=CycleLoopDbtTranslator(settings=TRANSLATOR_SETTINGS),
    select=LOOP_SELECTION,
    name="cycle_dbt_loop_models",
    pool=WAREHOUSE_POOL,
)
def cycle_dbt_loop_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    yield from run_dbt_build(context, dbt, warehouse)
