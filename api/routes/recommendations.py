"""``GET /v1/recommendations``: what each account should do next, with the promise it rests on and its status.

Rows come from the served ``recommendations.parquet`` (contracts/recommendations.py), scoped to the key's
accounts. The status is computed per request (``api.routes.feedback.overlay``): a decision the API stored after the
snapshot was published, and an expiry that passed since, show at once. So these answers depend on the API's
own store and the clock as well as the snapshot, and are never served from the response cache.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from analytics_assets.contracts.inbound import FeedbackStore
from analytics_assets.contracts.recommendations import KINDS, STATUSES
from analytics_assets.contracts.serving import RECOMMENDATION_PERFORMANCE, RECOMMENDATIONS
from api.auth import Reader
from api.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, paginate
from api.routes.common import DATA_ERRORS, OrganicPlatformParam, Store, build, snapshot_tag
from api.routes.feedback import RECOMMENDATION_ID_PATTERN, Feedback, overlay
from api.schemas import Amount, Rate

router = APIRouter(tags=["recommendations"])

Kind = Literal[KINDS]  # type: ignore[valid-type]
Status = Literal[STATUSES]  # type: ignore[valid-type]


class Recommendation(BaseModel):
    recommendation_id: str
    kind: Kind = Field(description="posting_slot (the best hour), exploration (an hour the model is unsure of), "
                       "content, boost or budget.")
    status: Status = Field(description="open, applied, dismissed, expired or superseded (a newer run replaced it).")
    platform: str
    account_id: str
    target_type: str = Field(description="slot, post, campaign or content.")
    target_id: str | None
    action: str = Field(description="The action in words.")
    action_fields: dict[str, Any] = Field(description="The action as fields (for a slot: slot_start, publish_hour...).")
    slot_start: datetime | None = Field(description="Posting slots: the hour to publish in (UTC).")
    expected_metric: str = Field(description="What the expected effect measures.")
    expected_value: Amount
    expected_low: Amount = Field(description="Lower bound of the 90% interval of the outcome.")
    expected_high: Amount = Field(description="Upper bound of the 90% interval of the outcome.")
    baseline_value: Amount | None = Field(description="Expected outcome of the alternative (the average hour, ...).")
    confidence: Rate | None = Field(description="Probability that the action beats the baseline.")
    propensity: Rate = Field(description="Probability with which the policy chose this action.")
    policy: str = Field(description="greedy, thompson or ranked.")
    model_name: str | None
    model_version: str | None
    sample_size: int | None = Field(description="Observations behind the expectation.")
    evidence: str = Field(description="What the recommendation rests on, in words.")
    created_at: datetime
    expires_at: datetime | None
    superseded_at: datetime | None
    decided_at: datetime | None = Field(description="When the decision was taken (null: none).")
    feedback_id: str | None
    applied_post_id: str | None


class RecommendationPage(BaseModel):
    items: list[Recommendation]
    next_cursor: str | None
    total: int


_FIELDS = [name for name in Recommendation.model_fields if name != "action_fields"]
_SQL = f"""
SELECT {', '.join(_FIELDS)}, action_fields
FROM src
WHERE recommendation_id IS NOT NULL
  AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
  AND (CAST($account_id AS VARCHAR) IS NULL OR account_id = CAST($account_id AS VARCHAR))
  AND (CAST($kind AS VARCHAR) IS NULL OR kind = CAST($kind AS VARCHAR))
  AND (CAST($recommendation_id AS VARCHAR) IS NULL OR recommendation_id = CAST($recommendation_id AS VARCHAR))
ORDER BY slot_start NULLS LAST, created_at, recommendation_id
"""


def _current(rows: list[dict[str, Any]], request: Request, feedback: FeedbackStore) -> list[dict[str, Any]]:
    """The rows as of now: decisions stored since the snapshot and expiry by the API's clock (``overlay``)."""
    now = request.app.state.now().astimezone(timezone.utc).replace(tzinfo=None)
    current = overlay(rows, feedback, now)
    for row in current:
        row.pop("status_as_of", None)
        row["action_fields"] = json.loads(row["action_fields"]) if row["action_fields"] else {}
    return current


def _query(store, principal, **filters: Any) -> list[dict[str, Any]]:
    params = {"platform": None, "account_id": None, "kind": None, "recommendation_id": None, **filters}
    return store.scoped_query(RECOMMENDATIONS, principal.accounts, _SQL, params)


@router.get(
    "/recommendations", response_model=RecommendationPage, responses=DATA_ERRORS,
    summary="Recommendations for the workspace's accounts",
)
def list_recommendations(
    request: Request,
    store: Store,
    principal: Reader,
    feedback: Feedback,
    status: Annotated[Status | None, Query(description="Only recommendations in this status now.")] = None,
    kind: Annotated[Kind | None, Query(description="Only this kind.")] = None,
    platform: OrganicPlatformParam = None,
    account_id: Annotated[str | None, Query(max_length=200, description="Only this account's.")] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> RecommendationPage:
    """Every recommendation made for the workspace's accounts, soonest slot first, with its expected effect,
    90% interval, propensity, evidence and current status. `status=open` lists what can still be acted on."""
    tag = snapshot_tag(store)
    rows = _current(
        _query(store, principal, platform=platform.value if platform else None, account_id=account_id, kind=kind),
        request,
        feedback,
    )
    if status is not None:
        rows = [r for r in rows if r["status"] == status]
    page, next_cursor = paginate(rows, limit, cursor, tag)
    return RecommendationPage(
        items=[build(Recommendation, RECOMMENDATIONS, **r) for r in page], next_cursor=next_cursor, total=len(rows)
    )


class KindPerformance(BaseModel):
    platform: str
    account_id: str
    kind: Kind
    recommendations: int
    open_count: int
    applied_count: int
    dismissed_count: int
    expired_count: int
    superseded_count: int
    adoption_rate: Rate | None = Field(description="Applied over applied plus dismissed.")
    measured_count: int = Field(description="Applied recommendations whose outcome is measured.")
    interval_coverage: Rate | None = Field(description="Share of outcomes inside their promised 90% interval.")
    mean_realized_value: Amount | None
    mean_expected_value: Amount | None
    mean_baseline_value: Amount | None
    bias: Rate | None = Field(description="Mean realized over mean expected, minus 1.")
    realized_lift_vs_baseline: Rate | None = Field(description="What following them gained over the alternative.")
    mean_absolute_error: Amount | None


class PerformanceResponse(BaseModel):
    items: list[KindPerformance]


_PERFORMANCE_SQL = f"""
SELECT {', '.join(KindPerformance.model_fields)} FROM src
WHERE (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
ORDER BY platform, account_id, kind
"""


@router.get(
    "/recommendations/performance", response_model=PerformanceResponse, responses=DATA_ERRORS,
    summary="What came of the recommendations, per account and kind",
)
def recommendation_performance(store: Store, principal: Reader, platform: OrganicPlatformParam = None) -> PerformanceResponse:
    """Per account and kind: what users did with the recommendations, and whether the applied ones kept their
    promise (the share of outcomes inside the 90% interval, the bias) and beat the alternative."""
    rows = store.scoped_query(
        RECOMMENDATION_PERFORMANCE, principal.accounts, _PERFORMANCE_SQL, {"platform": platform.value if platform else None}
    )
    return PerformanceResponse(items=[build(KindPerformance, RECOMMENDATION_PERFORMANCE, **r) for r in rows])


@router.get(
    "/recommendations/{recommendation_id}", response_model=Recommendation, responses=DATA_ERRORS,
    summary="One recommendation",
)
def get_recommendation(
    request: Request,
    store: Store,
    principal: Reader,
    feedback: Feedback,
    recommendation_id: Annotated[str, Path(max_length=64, description="rec_ followed by 24 hex digits.")],
) -> Recommendation:
    """One recommendation of the workspace with its current status (404 for an id of another workspace)."""
    valid = re.fullmatch(RECOMMENDATION_ID_PATTERN, recommendation_id) is not None
    rows = _query(store, principal, recommendation_id=recommendation_id) if valid else []
    if not rows:
        raise HTTPException(status_code=404, detail="recommendation not found")
    return build(Recommendation, RECOMMENDATIONS, **_current(rows, request, feedback)[0])
