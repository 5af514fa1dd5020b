"""What the Dagster UI tells about each asset besides its data: who answers for it, how fresh it should be,
and where its code is.

* **Owners**, by the asset's group: the role that maintains that stage (ingest and serving, the dbt models,
  the models and statistics). A group not listed here falls to the data engineers, who run the pipeline.
  They are roles, not people: map them to your teams' names here.
* **Freshness**: every asset the daily schedule materializes (``daily_pipeline_job``, 03:00 UTC) should have
  been materialized within the last day, with two hours for a slow run: older warns, older than two days
  (two missed runs) fails. The same limits as the dbt sources' ``freshness:`` (dbt/models/staging/__sources.yml).
  Dagster evaluates the policies itself (the asset's health in the UI); an asset with a policy of its own
  keeps it.
* **Code references**: each asset links the Python function that computes it (dbt models link their SQL
  file too, see ``transform/dbt.py``), as local paths, which the UI shows and opens in an editor.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import dagster as dg
from dagster_shared.record import replace

DATA_ENGINEERING = "team:data-engineering"
ANALYTICS_ENGINEERING = "team:analytics-engineering"
DATA_SCIENCE = "team:data-science"

OWNERS_BY_GROUP: dict[str, str] = {
    "raw": DATA_ENGINEERING,
    "serving": DATA_ENGINEERING,
    "ops": DATA_ENGINEERING,
    "reference": ANALYTICS_ENGINEERING,
    "snapshots": ANALYTICS_ENGINEERING,
    "staging": ANALYTICS_ENGINEERING,
    "intermediate": ANALYTICS_ENGINEERING,
    "marts": ANALYTICS_ENGINEERING,
    "attribution": ANALYTICS_ENGINEERING,
    "ml": DATA_SCIENCE,
    "recommendations": DATA_SCIENCE,
    "boosts": DATA_SCIENCE,
    "insights": DATA_SCIENCE,
}
DEFAULT_OWNER = DATA_ENGINEERING

DAILY_WARN_AFTER = timedelta(hours=26)
DAILY_FAIL_AFTER = timedelta(hours=48)
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=DAILY_FAIL_AFTER, warn_window=DAILY_WARN_AFTER)


def _owned(spec: dg.AssetSpec) -> dg.AssetSpec:
    if spec.owners:  # an asset that names its owners keeps them
        return spec
    return spec.replace_attributes(owners=[OWNERS_BY_GROUP.get(spec.group_name or "", DEFAULT_OWNER)])


def _fresh_daily(spec: dg.AssetSpec) -> dg.AssetSpec:
    return dg.apply_freshness_policy(spec, DAILY_FRESHNESS, overwrite_existing=False)


def describe_assets(defs: dg.Definitions, daily: dg.AssetSelection) -> dg.Definitions:
    """``defs`` with owners on every asset, the daily freshness policy on the assets of ``daily`` and code
    references on every asset definition."""
    with warnings.catch_warnings():
        # Dagster 1.13 marks these APIs preview or beta: a warning per asset at every load would bury the
        # output of every command that loads the definitions
        warnings.simplefilter("ignore", dg.PreviewWarning)
        warnings.simplefilter("ignore", dg.BetaWarning)
        defs = defs.map_asset_specs(func=_owned)
        defs = defs.map_resolved_asset_specs(func=_fresh_daily, selection=daily)
        return replace(defs, assets=dg.with_source_code_references(list(defs.assets or [])))
