"""Cycle's Dagster definitions: each stage's definitions (``defs/<domain>``) merged with the resources.

Data flows one way: ingest (sources -> raw) -> transform (dbt) -> ml and analysis -> serving (-> the API).
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from analytics_assets.defs import analysis, ingest, ml, pipeline, serving, transform
from analytics_assets.defs.resources import default_resources


def build_defs(resources: dict[str, Any] | None = None) -> dg.Definitions:
    return dg.Definitions.merge(
        ingest.defs,
        transform.defs,
        ml.defs,
        analysis.defs,
        serving.defs,
        pipeline.defs,
        dg.Definitions(resources={**default_resources(), **(resources or {})}),
    )


defs = build_defs()
