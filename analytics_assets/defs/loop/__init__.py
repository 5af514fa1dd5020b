"""The closed loop: recommendations with ids, intervals and propensities that users act on."""

import dagster as dg

from analytics_assets.defs.loop.boost_recommendations import boost_recommendation_proposals
from analytics_assets.defs.loop.budget_recommendations import budget_recommendation_proposals
from analytics_assets.defs.loop.content_recommendations import content_recommendation_proposals
from analytics_assets.defs.loop.posting_slots import posting_policy
from analytics_assets.defs.loop.simulated_loop import simulated_loop_job

defs = dg.Definitions(
    assets=[posting_policy, content_recommendation_proposals, boost_recommendation_proposals, budget_recommendation_proposals],
    jobs=[simulated_loop_job],
)
