"""``GET /v1/rollups/daily`` and ``GET /v1/platforms/comparison``: the workspace's accounts summed per day
and platform (``account_daily.parquet``), ratios recomputed from the sums."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import Reader
from api.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, paginate
from api.routes.common import DATA_ERRORS, EndParam, PlatformParam, StartParam, Store, build, check_window, snapshot_tag
from api.schemas import Amount, DailyRollup, DailyRollupsResponse, Money, Rate
from analytics_assets.contracts.serving import ACCOUNT_DAILY

router = APIRouter(tags=["analytics"])

_WINDOW = """
      AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
      AND (CAST($start AS DATE) IS NULL OR metric_date >= CAST($start AS DATE))
      AND (CAST($end AS DATE) IS NULL OR metric_date <= CAST($end AS DATE))
"""

_DAILY_SQL = f"""
WITH days AS (
    SELECT
        CAST(metric_date AS DATE) AS metric_date, CAST(platform AS VARCHAR) AS platform,
        CAST(channel_type AS VARCHAR) AS channel_type,
        sum(CAST(posts AS BIGINT)) AS posts, sum(CAST(impressions AS BIGINT)) AS impressions,
        sum(CAST(engagements AS BIGINT)) AS engagements, sum(CAST(clicks AS BIGINT)) AS clicks,
        sum(CAST(engagement_score_sum AS DOUBLE)) AS engagement_score_sum,
        sum(CAST(scored_posts AS BIGINT)) AS scored_posts,
        sum(CAST(spend_usd AS DOUBLE)) AS spend_usd, sum(CAST(conversions AS DOUBLE)) AS conversions,
        sum(CAST(revenue_usd AS DOUBLE)) AS revenue_usd
    FROM src
    WHERE metric_date IS NOT NULL {_WINDOW}
    GROUP BY ALL
)
SELECT metric_date, platform, channel_type, posts, impressions, engagements, clicks,
       engagement_score_sum / nullif(scored_posts, 0) AS avg_engagement_score,
       spend_usd, conversions, revenue_usd,
       clicks / nullif(impressions, 0) AS ctr,
       CASE WHEN spend_usd > 0 THEN revenue_usd / spend_usd END AS roas
FROM days
ORDER BY metric_date, platform, channel_type
"""


@router.get(
    "/rollups/daily",
    response_model=DailyRollupsResponse,
    responses=DATA_ERRORS,
    summary="Daily metrics per platform (organic and paid), summed over the workspace's accounts",
)
def rollups_daily(
    store: Store,
    principal: Reader,
    platform: PlatformParam = None,
    start: StartParam = None,
    end: EndParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> DailyRollupsResponse:
    """One row per day, platform and channel type, filtered by platform and an inclusive date range,
    ordered by `metric_date`, `platform`, `channel_type`; `limit` rows per page."""
    check_window(start, end)
    tag = snapshot_tag(store)
    rows = store.scoped_query(
        ACCOUNT_DAILY, principal.accounts, _DAILY_SQL,
        {"platform": platform.value if platform else None, "start": start, "end": end},
    )
    page, next_cursor = paginate(rows, limit, cursor, tag)
    items = [build(DailyRollup, ACCOUNT_DAILY, **row) for row in page]
    return DailyRollupsResponse(
        platform=platform, start=start, end=end, count=len(items), total=len(rows), rows=items, next_cursor=next_cursor
    )


class PlatformTotals(BaseModel):
    platform: str
    active_days: int = Field(description="Days of the window with delivery on the platform.")
    spend_usd: Money
    revenue_usd: Money = Field(description="Conversion value the platform reports (USD).")
    profit_usd: Money
    roas: Rate | None = Field(description="revenue / spend; null without spend.")
    conversions: Amount
    cpa_usd: Money | None = Field(description="spend / conversions; null without conversions.")
    impressions: int
    clicks: int
    ctr: Rate | None
    share_of_spend: Rate | None = Field(description="The platform's share of the window's paid spend.")


class PlatformComparisonResponse(BaseModel):
    start: date | None
    end: date | None
    platforms: list[PlatformTotals] = Field(description="Paid platforms, highest spend first.")


_COMPARISON_SQL = f"""
WITH totals AS (
    SELECT CAST(platform AS VARCHAR) AS platform,
        count(DISTINCT CASE WHEN spend_usd > 0 OR impressions > 0 THEN metric_date END) AS active_days,
        coalesce(sum(CAST(spend_usd AS DOUBLE)), 0) AS spend_usd,
        coalesce(sum(CAST(revenue_usd AS DOUBLE)), 0) AS revenue_usd,
        coalesce(sum(CAST(conversions AS DOUBLE)), 0) AS conversions,
        coalesce(sum(CAST(impressions AS BIGINT)), 0) AS impressions,
        coalesce(sum(CAST(clicks AS BIGINT)), 0) AS clicks
    FROM src
    WHERE channel_type = 'paid' AND metric_date IS NOT NULL {_WINDOW}
    GROUP BY ALL
)
SELECT platform, active_days, spend_usd, revenue_usd, revenue_usd - spend_usd AS profit_usd,
       CASE WHEN spend_usd > 0 THEN revenue_usd / spend_usd END AS roas, conversions,
       CASE WHEN conversions > 0 THEN spend_usd / conversions END AS cpa_usd, impressions, clicks,
       clicks / nullif(impressions, 0) AS ctr,
       spend_usd / nullif(sum(spend_usd) OVER (), 0) AS share_of_spend
FROM totals
ORDER BY spend_usd DESC, platform
"""


@router.get(
    "/platforms/comparison",
    response_model=PlatformComparisonResponse,
    responses=DATA_ERRORS,
    summary="Paid platforms side by side over a date range",
)
def platform_comparison(
    store: Store, principal: Reader, platform: PlatformParam = None, start: StartParam = None, end: EndParam = None
) -> PlatformComparisonResponse:
    """Spend, revenue, profit, ROAS, conversions, CPA, impressions, clicks, CTR and share of spend per paid
    platform over `start..end` (inclusive; omit either for no bound): sums over the days and the workspace's
    ad accounts, ratios of the sums."""
    check_window(start, end)
    rows = store.scoped_query(
        ACCOUNT_DAILY, principal.accounts, _COMPARISON_SQL,
        {"platform": platform.value if platform else None, "start": start, "end": end},
    )
    return PlatformComparisonResponse(
        start=start, end=end, platforms=[build(PlatformTotals, ACCOUNT_DAILY, **r) for r in rows]
    )
