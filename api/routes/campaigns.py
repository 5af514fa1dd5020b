"""``/v1/campaigns``: the workspace's ad campaigns (current settings and lifetime totals), one campaign's
detail and its daily metrics. A campaign of another workspace is answered exactly like one that does not
exist (404), so its existence never leaks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from analytics_assets.contracts.serving import CAMPAIGN_DAILY, CAMPAIGNS
from api.auth import Principal, Reader
from api.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, paginate
from api.routes.common import DATA_ERRORS, EndParam, StartParam, Store, build, check_window, snapshot_tag
from api.schemas import AD_PLATFORMS, Amount, Money, Rate
from api.store import ServingStore

router = APIRouter(tags=["campaigns"])

AdPlatformPath = Annotated[str, Path(pattern="^(" + "|".join(AD_PLATFORMS) + ")$", description="Ad platform.")]
CampaignIdPath = Annotated[str, Path(min_length=1, max_length=200, description="The platform's campaign id.")]


class CampaignTotals(BaseModel):
    first_day: date | None
    last_day: date | None
    spend_usd: Money
    impressions: int
    clicks: int
    conversions: Amount
    conversion_value_usd: Money
    ctr: Rate | None
    cpa_usd: Money | None
    roas: Rate | None


class Campaign(BaseModel):
    platform: str = Field(examples=["meta_ads"])
    account_id: str
    campaign_id: str
    campaign_name: str | None
    campaign_status: str | None
    objective: str | None
    bidding_strategy: str | None
    currency: str | None
    daily_budget: Money | None = Field(description="In the account currency.")
    daily_budget_usd: Money | None
    is_boost: bool | None = Field(description="A campaign that boosts an organic post.")
    settings_since: datetime | None = Field(description="Since when the current settings hold (UTC).")
    totals: CampaignTotals | None = Field(description="Over every served day; null before the first delivery day.")


class CampaignPage(BaseModel):
    items: list[Campaign]
    next_cursor: str | None
    total: int


class CampaignDay(BaseModel):
    metric_date: date
    spend_usd: Money | None
    spend: Money | None = Field(description="In the account currency.")
    impressions: int | None
    clicks: int | None
    conversions: Amount | None
    conversion_value_usd: Money | None
    reach: int | None
    ads_delivering: int | None
    ctr: Rate | None
    cpc_usd: Money | None
    cpa_usd: Money | None
    roas: Rate | None


class CampaignDailyResponse(BaseModel):
    platform: str
    campaign_id: str
    items: list[CampaignDay] = Field(description="Ordered by metric_date.")
    next_cursor: str | None
    total: int


_KEY = """
  AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
  AND (CAST($campaign_id AS VARCHAR) IS NULL OR CAST(campaign_id AS VARCHAR) = CAST($campaign_id AS VARCHAR))
"""

_CAMPAIGNS_SQL = f"""
SELECT CAST(platform AS VARCHAR) AS platform, CAST(account_id AS VARCHAR) AS account_id,
       CAST(campaign_id AS VARCHAR) AS campaign_id, CAST(campaign_name AS VARCHAR) AS campaign_name,
       CAST(campaign_status AS VARCHAR) AS campaign_status, CAST(objective AS VARCHAR) AS objective,
       CAST(bidding_strategy AS VARCHAR) AS bidding_strategy, CAST(currency AS VARCHAR) AS currency,
       CAST(daily_budget AS DOUBLE) AS daily_budget, CAST(daily_budget_usd AS DOUBLE) AS daily_budget_usd,
       CAST(is_boost AS BOOLEAN) AS is_boost, CAST(valid_from AS TIMESTAMP) AS settings_since
FROM src
WHERE campaign_id IS NOT NULL {_KEY}
ORDER BY platform, account_id, campaign_id
"""

_TOTALS_SQL = f"""
WITH t AS (
    SELECT CAST(platform AS VARCHAR) AS platform, CAST(campaign_id AS VARCHAR) AS campaign_id,
           min(CAST(metric_date AS DATE)) AS first_day, max(CAST(metric_date AS DATE)) AS last_day,
           coalesce(sum(CAST(spend_usd AS DOUBLE)), 0) AS spend_usd,
           coalesce(sum(CAST(impressions AS BIGINT)), 0) AS impressions,
           coalesce(sum(CAST(clicks AS BIGINT)), 0) AS clicks,
           coalesce(sum(CAST(conversions AS DOUBLE)), 0) AS conversions,
           coalesce(sum(CAST(conversion_value_usd AS DOUBLE)), 0) AS conversion_value_usd
    FROM src WHERE campaign_id IS NOT NULL {_KEY}
    GROUP BY ALL
)
SELECT *, clicks / nullif(impressions, 0) AS ctr,
       CASE WHEN conversions > 0 THEN spend_usd / conversions END AS cpa_usd,
       CASE WHEN spend_usd > 0 THEN conversion_value_usd / spend_usd END AS roas
FROM t
"""

_DAILY_SQL = f"""
SELECT CAST(metric_date AS DATE) AS metric_date, CAST(spend_usd AS DOUBLE) AS spend_usd,
       CAST(spend AS DOUBLE) AS spend, CAST(impressions AS BIGINT) AS impressions, CAST(clicks AS BIGINT) AS clicks,
       CAST(conversions AS DOUBLE) AS conversions, CAST(conversion_value_usd AS DOUBLE) AS conversion_value_usd,
       CAST(reach AS BIGINT) AS reach, CAST(ads_delivering AS BIGINT) AS ads_delivering,
       CAST(ctr AS DOUBLE) AS ctr, CAST(cpc_usd AS DOUBLE) AS cpc_usd, CAST(cpa_usd AS DOUBLE) AS cpa_usd,
       CAST(roas AS DOUBLE) AS roas
FROM src
WHERE metric_date IS NOT NULL {_KEY}
  AND (CAST($start AS DATE) IS NULL OR CAST(metric_date AS DATE) >= CAST($start AS DATE))
  AND (CAST($end AS DATE) IS NULL OR CAST(metric_date AS DATE) <= CAST($end AS DATE))
ORDER BY metric_date
"""


def _campaigns(store: ServingStore, principal: Principal, platform: str | None, campaign_id: str | None) -> list[Campaign]:
    params = {"platform": platform, "campaign_id": campaign_id}
    rows = store.scoped_query(CAMPAIGNS, principal.accounts, _CAMPAIGNS_SQL, params)
    totals = {
        (t["platform"], t["campaign_id"]): t
        for t in store.scoped_query(CAMPAIGN_DAILY, principal.accounts, _TOTALS_SQL, params)
    }
    out = []
    for row in rows:
        t = totals.get((row["platform"], row["campaign_id"]))
        out.append(build(Campaign, CAMPAIGNS, **row, totals=None if t is None else build(CampaignTotals, CAMPAIGN_DAILY, **_without_key(t))))
    return out


def _without_key(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("platform", "campaign_id")}


def _not_found(platform: str, campaign_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"No campaign {platform}/{campaign_id} in this workspace.")


@router.get("/campaigns", response_model=CampaignPage, responses=DATA_ERRORS, summary="The workspace's ad campaigns")
def list_campaigns(
    store: Store,
    principal: Reader,
    platform: Annotated[str | None, Query(pattern="^(" + "|".join(AD_PLATFORMS) + ")$", description="Ad platform.")] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> CampaignPage:
    """Every campaign of the workspace's ad accounts with its current settings and lifetime totals,
    ordered by platform, account and campaign id."""
    tag = snapshot_tag(store)
    rows = _campaigns(store, principal, platform, None)
    page, next_cursor = paginate(rows, limit, cursor, tag)
    return CampaignPage(items=page, next_cursor=next_cursor, total=len(rows))


@router.get(
    "/campaigns/{platform}/{campaign_id}", response_model=Campaign, responses=DATA_ERRORS, summary="One campaign"
)
def get_campaign(store: Store, principal: Reader, platform: AdPlatformPath, campaign_id: CampaignIdPath) -> Campaign:
    """The campaign's current settings and lifetime totals; 404 when the workspace has no such campaign."""
    rows = _campaigns(store, principal, platform, campaign_id)
    if not rows:
        raise _not_found(platform, campaign_id)
    return rows[0]


@router.get(
    "/campaigns/{platform}/{campaign_id}/daily",
    response_model=CampaignDailyResponse,
    responses=DATA_ERRORS,
    summary="One campaign's daily metrics",
)
def campaign_daily(
    store: Store,
    principal: Reader,
    platform: AdPlatformPath,
    campaign_id: CampaignIdPath,
    start: StartParam = None,
    end: EndParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> CampaignDailyResponse:
    """Spend (USD and account currency), delivery, conversions and ratios per day of `start..end`."""
    check_window(start, end)
    tag = snapshot_tag(store)
    if not store.scoped_query(CAMPAIGNS, principal.accounts, _CAMPAIGNS_SQL, {"platform": platform, "campaign_id": campaign_id}):
        raise _not_found(platform, campaign_id)
    rows = store.scoped_query(
        CAMPAIGN_DAILY, principal.accounts, _DAILY_SQL,
        {"platform": platform, "campaign_id": campaign_id, "start": start, "end": end},
    )
    page, next_cursor = paginate(rows, limit, cursor, tag)
    return CampaignDailyResponse(
        platform=platform, campaign_id=campaign_id, items=[build(CampaignDay, CAMPAIGN_DAILY, **r) for r in page],
        next_cursor=next_cursor, total=len(rows),
    )
