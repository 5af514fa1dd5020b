"""``/v1/boosts``: what paying to boost an organic post did. For each boost: the organic lift against a
counterfactual of comparable unboosted posts (with its interval), the paid delivery, the incremental
engagements and their cost, and the split of reach and conversions between organic and paid.

A boost of a post Cycle does not track organically (a Meta ad promoting a Facebook page post or Instagram media,
status ``organic_untracked``) is listed with its paid side (spend, paid engagements; its split has the paid
delivery, journeys and conversions) and null organic figures: nothing organic was measured. It belongs to the ad
account that paid for it (``platform`` = the ad platform), the only account of it a workspace can own."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from analytics_assets.contracts.serving import BOOST_SPLIT, BOOSTS
from api.auth import Reader
from api.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, paginate
from api.routes.common import DATA_ERRORS, OrganicPlatformParam, Store, build, snapshot_tag
from api.schemas import Amount, Money, Rate

router = APIRouter(tags=["boosts"])

BoostStatus = Literal["estimated", "no_pre_boost_history", "no_flight_data", "too_few_comparables", "organic_untracked"]


class Boost(BaseModel):
    boost_id: str
    platform: str = Field(
        description="The platform of the account the boost belongs to: the boosted post's organic platform, or the "
        "ad platform that paid for it when Cycle does not track the post (status organic_untracked)."
    )
    account_id: str
    post_id: str
    published_at: datetime | None
    flight_start_at: datetime | None
    flight_end_at: datetime | None
    status: str = Field(
        description="'estimated', or why no estimate: no_pre_boost_history, no_flight_data, too_few_comparables, "
        "organic_untracked (the post is on a platform Cycle does not track: paid side only, organic figures null)."
    )
    flight_complete: bool | None
    n_comparables: int | None = Field(description="Unboosted posts the counterfactual is built from.")
    observed_engagements: Amount | None
    counterfactual_engagements: Amount | None = Field(description="Organic engagements expected without the boost.")
    counterfactual_low: Amount | None
    counterfactual_high: Amount | None
    organic_lift: Amount | None = Field(description="Observed minus counterfactual organic engagements.")
    organic_lift_low: Amount | None
    organic_lift_high: Amount | None
    relative_lift: Rate | None
    significant: bool | None = Field(description="The lift's interval excludes 0.")
    paid_engagements: Amount | None
    incremental_engagements: Amount | None
    incremental_engagements_low: Amount | None
    incremental_engagements_high: Amount | None
    spend_usd: Money | None
    cost_per_incremental_engagement_usd: Money | None
    incremental_value_usd: Money | None
    roi: Rate | None
    effectiveness_score: Amount | None


class BoostPage(BaseModel):
    items: list[Boost]
    next_cursor: str | None
    total: int


class BoostSplit(BaseModel):
    ad_platform: str | None
    campaign_id: str | None
    start_date: date | None
    end_date: date | None
    spend_usd: Money | None
    paid_impressions: int | None
    paid_engagements: Amount | None
    organic_engagements: Amount | None
    paid_share: Rate | None
    organic_share: Rate | None
    reached_journeys: int | None
    incremental_reach_journeys: int | None
    incremental_reach_share: Rate | None
    overlap_share: Rate | None
    converted_journeys: int | None
    paid_only_conversions: int | None
    organic_only_conversions: int | None
    overlap_conversions: int | None
    conversion_value_usd: Money | None


class BoostDetail(Boost):
    organic_vs_paid: BoostSplit | None = Field(description="Null when the boost has no delivery split yet.")


_COLUMNS = ", ".join(f"{name}" for name in Boost.model_fields)
_BOOSTS_SQL = f"""
SELECT {_COLUMNS} FROM src
WHERE boost_id IS NOT NULL
  AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
  AND (CAST($status AS VARCHAR) IS NULL OR status = CAST($status AS VARCHAR))
  AND (CAST($boost_id AS VARCHAR) IS NULL OR boost_id = CAST($boost_id AS VARCHAR))
ORDER BY flight_start_at DESC NULLS LAST, boost_id
"""
_SPLIT_SQL = f"SELECT {', '.join(BoostSplit.model_fields)} FROM src WHERE boost_id = $boost_id"


@router.get("/boosts", response_model=BoostPage, responses=DATA_ERRORS, summary="The workspace's boosted posts")
def list_boosts(
    store: Store,
    principal: Reader,
    platform: OrganicPlatformParam = None,
    status: Annotated[BoostStatus | None, Query(description="Only boosts in this state.")] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> BoostPage:
    """Every boost of the workspace's posts with its measured effect, newest flight first; and the boosts its ad
    accounts ran on posts Cycle does not track (status organic_untracked), with their paid side."""
    tag = snapshot_tag(store)
    rows = store.scoped_query(
        BOOSTS, principal.accounts, _BOOSTS_SQL,
        {"platform": platform.value if platform else None, "status": status, "boost_id": None},
    )
    page, next_cursor = paginate(rows, limit, cursor, tag)
    return BoostPage(items=[build(Boost, BOOSTS, **r) for r in page], next_cursor=next_cursor, total=len(rows))


@router.get("/boosts/{boost_id}", response_model=BoostDetail, responses=DATA_ERRORS, summary="One boost")
def get_boost(
    store: Store,
    principal: Reader,
    boost_id: Annotated[str, Path(min_length=1, max_length=200, description="The boost's id.")],
) -> BoostDetail:
    """The boost's measured effect and its organic-versus-paid split; 404 when the workspace has no such boost."""
    rows = store.scoped_query(
        BOOSTS, principal.accounts, _BOOSTS_SQL, {"platform": None, "status": None, "boost_id": boost_id}
    )
    if not rows:
        raise HTTPException(status_code=404, detail=f"No boost {boost_id} in this workspace.")
    split = store.scoped_query(BOOST_SPLIT, principal.accounts, _SPLIT_SQL, {"boost_id": boost_id})
    return build(
        BoostDetail, BOOSTS, **rows[0], organic_vs_paid=build(BoostSplit, BOOST_SPLIT, **split[0]) if split else None
    )
