"""The closed loop: recommendations with ids, intervals and propensities that users act on."""

import dagster as dg

from analytics_assets.defs.loop.posting_slots import posting_policy

defs = dg.Definitions(assets=[posting_policy])
