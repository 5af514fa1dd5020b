"""``GET /v1/optimal-hours``: the engagement model's best publishing hours per organic platform.

The model is fitted per platform, so every account of a platform gets the same hours: the workspace sees
the platforms it has an account on. (The closed-loop recommendations with ids, intervals and status replace
this list under ``/v1/recommendations``.)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.auth import Reader
from api.routes.common import DATA_ERRORS, OrganicPlatformParam, Store, build
from api.schemas import HourRecommendation, OptimalHoursResponse, PlatformOptimalHours
from analytics_assets.contracts.serving import OPTIMAL_HOURS

router = APIRouter(tags=["recommendations"])

TopParam = Annotated[
    int, Query(ge=1, le=24, description="How many of the best hours to return per platform (1..24).")
]

# one row per (platform, rank): the accounts of a platform share the platform's model output
_SQL = """
SELECT platform, rank, publish_hour, expected_engagement_score, lift_vs_platform_mean,
       model_name, model_version, generated_at
FROM (
    SELECT
        CAST(platform AS VARCHAR)                  AS platform,
        CAST(rank AS INTEGER)                      AS rank,
        CAST(publish_hour AS INTEGER)              AS publish_hour,
        CAST(expected_engagement_score AS DOUBLE)  AS expected_engagement_score,
        CAST(lift_vs_platform_mean AS DOUBLE)      AS lift_vs_platform_mean,
        CAST(model_name AS VARCHAR)                AS model_name,
        CAST(model_version AS VARCHAR)             AS model_version,
        CAST(generated_at AS TIMESTAMP)            AS generated_at,
        row_number() OVER (PARTITION BY platform, rank ORDER BY account_id) AS copy
    FROM src
    WHERE platform IS NOT NULL AND rank IS NOT NULL AND publish_hour IS NOT NULL
      AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
)
WHERE copy = 1
QUALIFY row_number() OVER (PARTITION BY platform ORDER BY rank, publish_hour) <= $top
ORDER BY platform, rank, publish_hour
"""


@router.get(
    "/optimal-hours",
    response_model=OptimalHoursResponse,
    responses=DATA_ERRORS,
    summary="Best UTC publishing hours per organic platform",
)
def optimal_hours(
    store: Store, principal: Reader, platform: OrganicPlatformParam = None, top: TopParam = 3
) -> OptimalHoursResponse:
    """The `top` hours with the highest expected engagement score, per platform the workspace has an
    account on, with their lift over the platform mean and the model that produced them."""
    rows = store.scoped_query(
        OPTIMAL_HOURS, principal.accounts, _SQL, {"platform": platform.value if platform else None, "top": top}
    )
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["platform"], []).append(row)
    platforms = [
        build(
            PlatformOptimalHours,
            OPTIMAL_HOURS,
            platform=name,
            model_name=items[0]["model_name"],
            model_version=items[0]["model_version"],
            generated_at=items[0]["generated_at"],
            hours=[
                build(
                    HourRecommendation,
                    OPTIMAL_HOURS,
                    rank=r["rank"],
                    publish_hour=r["publish_hour"],
                    expected_engagement_score=r["expected_engagement_score"],
                    lift_vs_platform_mean=r["lift_vs_platform_mean"],
                )
                for r in items
            ],
        )
        for name, items in grouped.items()
    ]
    return OptimalHoursResponse(platform=platform, top=top, platforms=platforms)
