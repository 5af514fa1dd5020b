"""``GET /v1/content/hooks`` and ``GET /v1/content/performance``: which hook templates engage best on each of the
workspace's accounts (with the confidence interval that makes the ranking fair), and what each hook type, media
type and topic gained per day and account. Both are served at the account grain (``agg_account_hook_success``,
``agg_account_content_performance_daily``), so a workspace reads only its own accounts' posts."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from analytics_assets.contracts.serving import CONTENT_PERFORMANCE, HOOK_SUCCESS
from api.auth import Reader
from api.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, paginate
from api.routes.common import DATA_ERRORS, EndParam, OrganicPlatformParam, StartParam, Store, build, check_window, snapshot_tag
from api.schemas import Amount, Rate

router = APIRouter(tags=["content"])

AccountParam = Annotated[str | None, Query(min_length=1, max_length=200, description="Only this account's.")]
Dimension = Literal["hook_type", "media_type", "topic"]


class HookSuccess(BaseModel):
    platform: str = Field(examples=["linkedin"])
    account_id: str = Field(examples=["urn:li:organization:1001"])
    hook_type: str = Field(description="Hook template ('unknown' when the post has none recorded).", examples=["question"])
    posts: int = Field(description="The account's posts with a settled engagement rate that used the hook.")
    mean_engagement_rate: Rate | None = Field(examples=[0.0412])
    ci_lower: Rate | None = Field(description="Lower bound of the mean rate's 95% t interval (null for one post).")
    ci_upper: Rate | None
    mean_engagement_score: Amount | None = Field(description="Mean engagement score, 0..1000.")
    lift_vs_account_posts: Rate | None = Field(description="Mean rate / the account's mean rate - 1.")
    insufficient_sample: bool = Field(description="Too few posts to rank (see hook_rank).")
    hook_rank: int | None = Field(description="Rank within the account by ci_lower (1 = best); null when too few posts.")


class HookSuccessPage(BaseModel):
    items: list[HookSuccess]
    next_cursor: str | None
    total: int


class ContentDay(BaseModel):
    metric_date: date
    platform: str = Field(examples=["linkedin"])
    account_id: str = Field(examples=["urn:li:organization:1001"])
    dimension: Dimension
    dimension_value: str = Field(examples=["question"])
    posts_published: int | None = Field(description="The account's posts with this value published that day.")
    posts_active: int | None = Field(description="Its posts with this value and a snapshot that day.")
    impressions: int | None = Field(description="The day's growth of those posts' impressions.")
    engagements: int | None = Field(description="The day's growth of those posts' engagements.")
    engagement_rate: Rate | None = Field(description="engagements / impressions of the day.")
    avg_engagement_score: Amount | None = Field(description="Mean engagement score of the active posts, 0..1000.")


class ContentDayPage(BaseModel):
    items: list[ContentDay]
    next_cursor: str | None
    total: int


_HOOKS_SQL = f"""
SELECT {', '.join(HookSuccess.model_fields)} FROM src
WHERE hook_type IS NOT NULL
  AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
  AND (CAST($account AS VARCHAR) IS NULL OR account_id = CAST($account AS VARCHAR))
ORDER BY platform, account_id, hook_rank NULLS LAST, hook_type
"""

_PERFORMANCE_SQL = f"""
SELECT {', '.join(ContentDay.model_fields)} FROM src
WHERE metric_date IS NOT NULL
  AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
  AND (CAST($account AS VARCHAR) IS NULL OR account_id = CAST($account AS VARCHAR))
  AND (CAST($dimension AS VARCHAR) IS NULL OR dimension = CAST($dimension AS VARCHAR))
  AND (CAST($start AS DATE) IS NULL OR metric_date >= CAST($start AS DATE))
  AND (CAST($end AS DATE) IS NULL OR metric_date <= CAST($end AS DATE))
ORDER BY metric_date, platform, account_id, dimension, dimension_value
"""


@router.get("/content/hooks", response_model=HookSuccessPage, responses=DATA_ERRORS,
            summary="Engagement by hook template per account")
def hook_success(
    store: Store,
    principal: Reader,
    platform: OrganicPlatformParam = None,
    account: AccountParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> HookSuccessPage:
    """Each of the workspace's accounts' hook templates: mean engagement rate with its 95% interval, ranked within
    the account by the interval's lower bound (by platform, account, then rank)."""
    tag = snapshot_tag(store)
    rows = store.scoped_query(HOOK_SUCCESS, principal.accounts, _HOOKS_SQL,
                              {"platform": platform.value if platform else None, "account": account})
    page, next_cursor = paginate(rows, limit, cursor, tag)
    return HookSuccessPage(items=[build(HookSuccess, HOOK_SUCCESS, **r) for r in page], next_cursor=next_cursor,
                           total=len(rows))


@router.get("/content/performance", response_model=ContentDayPage, responses=DATA_ERRORS,
            summary="Content performance per day and account")
def content_performance(
    store: Store,
    principal: Reader,
    platform: OrganicPlatformParam = None,
    account: AccountParam = None,
    dimension: Annotated[Dimension | None, Query(description="Only this breakdown: hook_type, media_type or topic.")] = None,
    start: StartParam = None,
    end: EndParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> ContentDayPage:
    """Per day, account and content attribute (hook type, media type, topic): posts published and active, the
    day's impressions and engagements, engagement rate and mean score (by day, platform, account, attribute)."""
    check_window(start, end)
    tag = snapshot_tag(store)
    rows = store.scoped_query(
        CONTENT_PERFORMANCE, principal.accounts, _PERFORMANCE_SQL,
        {"platform": platform.value if platform else None, "account": account, "dimension": dimension,
         "start": start, "end": end},
    )
    page, next_cursor = paginate(rows, limit, cursor, tag)
    return ContentDayPage(items=[build(ContentDay, CONTENT_PERFORMANCE, **r) for r in page], next_cursor=next_cursor,
                          total=len(rows))


__all__ = ["ContentDay", "ContentDayPage", "HookSuccess", "HookSuccessPage", "router"]
