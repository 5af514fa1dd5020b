"""Cycle's Dagster definitions: each stage's definitions (``defs/<domain>``) merged with the resources.

Data flows one way: ingest (sources -> raw) -> transform (dbt) -> ml, loop (recommendations) and analysis ->
serving (-> the API).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph

from analytics_assets.defs import alerts, analysis, ingest, loop, ml, pipeline, privacy, serving, transform
from analytics_assets.defs.automation_catalog import AutomationCatalogResource
from analytics_assets.defs.catalog import describe_assets
from analytics_assets.defs.quality_gate import QualityGateResource
from analytics_assets.defs.resources import default_resources

DOMAINS = (
    ingest.defs, transform.defs, ml.defs, loop.defs, analysis.defs, serving.defs, pipeline.defs, alerts.defs, privacy.defs,
)
# the checks that stand before each gated asset, from the whole graph (a job's run knows only its own assets)
QUALITY_GATE = QualityGateResource.for_graph(AssetGraph.from_assets([a for d in DOMAINS for a in d.assets or []]))
# the schedules and sensors of all domains (a run knows only its own job), for /v1/health
AUTOMATION_CATALOG = AutomationCatalogResource.for_definitions(DOMAINS)


def build_defs(resources: dict[str, Any] | None = None) -> dg.Definitions:
    # owners, the daily assets' freshness policy and code references, as the UI shows them (defs/catalog.py)
    return describe_assets(_merged(resources), daily=pipeline.daily_pipeline_job.selection)


def _merged(resources: dict[str, Any] | None) -> dg.Definitions:
    return dg.Definitions.merge(
        *DOMAINS,
        dg.Definitions(
            resources={
                **default_resources(),
                "quality_gate": QUALITY_GATE,
                "automation_catalog": AUTOMATION_CATALOG,
                **(resources or {}),
            }
        ),
    )


defs = build_defs()
