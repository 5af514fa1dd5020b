"""The dbt project as Dagster assets: staging, marts, attribution and the ML training dataset.

Each partition window reaches dbt as the vars ``min_date``/``max_date``; incremental models replace
exactly those days (delete+insert on the date key), and a backfill runs as one dbt invocation.
dbt data tests become Dagster asset checks.
"""


import json
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from analytics_assets.partitions import WAREHOUSE_POOL, daily_partitions
from analytics_assets.resources import WarehouseResource
from analytics_assets.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"

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


dbt_translator = CycleDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_vars(context: dg.AssetExecutionContext) -> dict[str, str]:
    window = context.partition_time_window
    return {"min_date": window.start.date().isoformat(), "max_date": (window.end.date() - timedelta(days=1)).isoformat()}


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=dbt_translator,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def cycle_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    # dbt runs in a subprocess that reads the warehouse path from the profile's env var
    os.environ["CYCLE_WAREHOUSE_PATH"] = warehouse.path
    os.environ["CYCLE_DUCKDB_THREADS"] = str(warehouse.threads)
    os.environ["CYCLE_DUCKDB_MEMORY_LIMIT"] = warehouse.memory_limit
    # a subset run (UI selection, partial backfill) only runs tests whose every parent is built in it: a
    # relationship test from an unselected fact to a selected dimension would read a missing table
    os.environ.setdefault("DBT_INDIRECT_SELECTION", "cautious")
    args = ["build", "--vars", json.dumps(dbt_vars(context))]
    yield from dbt.cli(args, context=context).stream()
