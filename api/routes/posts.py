"""``GET /v1/posts/top`` and ``GET /v1/engagement/heatmap``: the workspace's best organic posts, and its
engagement by weekday and hour of publication."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from analytics_assets.contracts.serving import ENGAGEMENT_HEATMAP, TOP_POSTS
from api.auth import Reader
from api.routes.common import DATA_ERRORS, OrganicPlatformParam, Store, build
from api.schemas import Amount, Rate

router = APIRouter(tags=["content"])


class TopPost(BaseModel):
    rank: int = Field(description="1 = the highest engagement score among the workspace's posts.")
    platform: str
    account_id: str
    post_id: str
    published_at: datetime | None
    hook_type: str | None
    media_type: str | None
    topic: str | None
    engagement_score: Amount | None
    engagement_rate: Rate | None
    impressions: int | None
    engagements: int | None
    is_boosted: bool | None
    post_url: str | None = Field(
        description="The post's permalink on its platform (https); null when no poll carried what it needs."
    )
    post_excerpt: str | None = Field(
        description="At most 280 characters of the post's text, whitespace collapsed (LinkedIn commentary, X text, "
        "Reddit title, TikTok description)."
    )
    author_name: str | None = Field(
        description="The account's name as the platform shows it (X and TikTok username, Reddit author); null for LinkedIn."
    )


class TopPostsResponse(BaseModel):
    platform: str | None
    items: list[TopPost]


# each account's top posts are served; the workspace's top N are the best N of their union
_TOP_SQL = """
SELECT CAST(platform AS VARCHAR) AS platform, CAST(account_id AS VARCHAR) AS account_id,
       CAST(post_id AS VARCHAR) AS post_id, CAST(published_at AS TIMESTAMP) AS published_at,
       CAST(hook_type AS VARCHAR) AS hook_type, CAST(media_type AS VARCHAR) AS media_type,
       CAST(topic AS VARCHAR) AS topic, CAST(engagement_score AS DOUBLE) AS engagement_score,
       CAST(engagement_rate AS DOUBLE) AS engagement_rate, CAST(impressions AS BIGINT) AS impressions,
       CAST(engagements AS BIGINT) AS engagements, CAST(is_boosted AS BOOLEAN) AS is_boosted,
       CAST(post_url AS VARCHAR) AS post_url, CAST(post_excerpt AS VARCHAR) AS post_excerpt,
       CAST(author_name AS VARCHAR) AS author_name
-- a snapshot published before posts had an identity has not got its columns: they read as null
FROM (
    SELECT * FROM src
    UNION ALL BY NAME
    SELECT CAST(NULL AS VARCHAR) AS post_url, CAST(NULL AS VARCHAR) AS post_excerpt, CAST(NULL AS VARCHAR) AS author_name
    WHERE false
) AS src
WHERE post_id IS NOT NULL
  AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
QUALIFY row_number() OVER (PARTITION BY platform, post_id ORDER BY engagement_score DESC NULLS LAST) = 1
ORDER BY engagement_score DESC NULLS LAST, platform, post_id
LIMIT $limit
"""


@router.get("/posts/top", response_model=TopPostsResponse, responses=DATA_ERRORS, summary="The workspace's top posts")
def top_posts(
    store: Store,
    principal: Reader,
    platform: OrganicPlatformParam = None,
    limit: Annotated[int, Query(ge=1, le=20, description="How many posts (1..20).")] = 10,
) -> TopPostsResponse:
    """The posts with the highest engagement score, on one platform or all."""
    rows = store.scoped_query(
        TOP_POSTS, principal.accounts, _TOP_SQL, {"platform": platform.value if platform else None, "limit": limit}
    )
    return TopPostsResponse(
        platform=platform.value if platform else None,
        items=[build(TopPost, TOP_POSTS, rank=i, **r) for i, r in enumerate(rows, start=1)],
    )


class HeatmapCell(BaseModel):
    platform: str
    publish_dow: int = Field(description="Day of week of publication, 0 = Sunday .. 6 = Saturday (UTC).")
    publish_hour: int = Field(description="UTC hour of publication, 0..23.")
    posts: int
    avg_engagement_score: Amount | None
    avg_engagement_rate: Rate | None


class HeatmapResponse(BaseModel):
    platform: str | None
    cells: list[HeatmapCell] = Field(description="Ordered by platform, weekday, hour; cells without posts are absent.")


_HEATMAP_SQL = """
WITH cells AS (
    SELECT CAST(platform AS VARCHAR) AS platform, CAST(publish_dow AS INTEGER) AS publish_dow,
           CAST(publish_hour AS INTEGER) AS publish_hour, sum(CAST(posts AS BIGINT)) AS posts,
           sum(CAST(scored_posts AS BIGINT)) AS scored_posts, sum(CAST(engagement_score_sum AS DOUBLE)) AS score_sum,
           sum(CAST(rated_posts AS BIGINT)) AS rated_posts, sum(CAST(engagement_rate_sum AS DOUBLE)) AS rate_sum
    FROM src
    WHERE publish_dow IS NOT NULL AND publish_hour IS NOT NULL
      AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
    GROUP BY ALL
)
-- a post without a score (or without impressions, so without a rate) counts in posts, not in the means
SELECT platform, publish_dow, publish_hour, posts,
       score_sum / nullif(scored_posts, 0) AS avg_engagement_score, rate_sum / nullif(rated_posts, 0) AS avg_engagement_rate
FROM cells WHERE posts > 0
ORDER BY platform, publish_dow, publish_hour
"""


@router.get(
    "/engagement/heatmap", response_model=HeatmapResponse, responses=DATA_ERRORS,
    summary="Engagement by weekday and hour of publication",
)
def heatmap(store: Store, principal: Reader, platform: OrganicPlatformParam = None) -> HeatmapResponse:
    """Posts and their mean engagement score and rate per platform, weekday and UTC hour of publication,
    over the workspace's organic accounts."""
    rows = store.scoped_query(
        ENGAGEMENT_HEATMAP, principal.accounts, _HEATMAP_SQL, {"platform": platform.value if platform else None}
    )
    return HeatmapResponse(
        platform=platform.value if platform else None, cells=[build(HeatmapCell, ENGAGEMENT_HEATMAP, **r) for r in rows]
    )
