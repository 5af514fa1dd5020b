"""Transform: the dbt project (staging, intermediate, marts) as assets with its tests as checks."""

import dagster as dg

from analytics_assets.defs.transform.dbt import cycle_dbt_loop_models, cycle_dbt_models

defs = dg.Definitions(assets=[cycle_dbt_models, cycle_dbt_loop_models])
