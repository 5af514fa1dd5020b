"""``/v1/insights``: Cycle's ranked findings for the workspace's accounts, and ``POST .../acknowledge``.

A finding is served once per account it holds for (``ml.insights.findings_per_account``: its account, its
platform's accounts, or the accounts it was computed over; ``scope`` says which), each with a stable
``insight_id`` (a hash of what it says and whose it is), so a workspace reads only its own accounts' rows.

Acknowledging (scope ``feedback``) records that the workspace took note of an insight. Rules, in order:

1. The key: 401 / 403 (no ``feedback`` scope) / 429, before the body is read.
2. The input: an id that is not ``ins_`` + 24 lowercase hex digits: 422. A body over ``MAX_BODY_BYTES``: 413. A
   body that is not a JSON object of the documented fields (an optional ``note``): 422. An empty body is ``{}``.
   Nothing of the body is echoed.
3. The insight: looked up among the workspace's rows of ``insights.parquet``; unknown and another workspace's id
   get the same 404.
4. Acknowledged already (in the API's store, or in the snapshot): **200** with that acknowledgement; nothing new is
   stored. Otherwise it is stored (``contracts.inbound.InsightAcknowledgementStore``): **201**. Two racing requests
   store one (the store's ``insight_id`` is unique); the other gets 200.
5. The store cannot be written: 503, nothing stored.

The ``insight_acknowledgements_sensor`` loads the store into ``raw.raw_insight_acknowledgements`` and the
``account_insights`` asset joins it, so the next snapshot serves ``acknowledged_at``; until then the read routes
apply the store's acknowledgements to the served rows (:func:`overlay`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool

from analytics_assets.contracts.inbound import (
    InsightAcknowledgement,
    InsightAcknowledgementStore,
    new_acknowledgement_id,
)
from analytics_assets.contracts.serving import INSIGHTS
from analytics_assets.contracts.text import valid_unicode
from api.auth import Principal, Reader, require
from api.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, paginate
from api.request_body import read_limited
from api.routes.common import DATA_ERRORS, PlatformParam, Store, build, snapshot_tag
from api.schemas import ErrorResponse, Rate
from api.store import ServingStore

log = logging.getLogger(__name__)

router = APIRouter(tags=["insights"])

INSIGHT_ID_PATTERN = r"^ins_[0-9a-f]{24}$"
MAX_NOTE_CHARS = 500
MAX_BODY_BYTES = 16 * 1024  # above any valid body (a 500-character note written as \u escapes is 3 KB)

Severity = Literal["critical", "high", "medium", "low"]
Category = Literal[
    "posting_time", "posting_day", "content", "platform", "boost_timing", "boost_budget", "boost_content",
    "audience", "creative", "anomaly", "warning",
]
Scope = Literal["account", "platform", "experiment", "boosting_accounts", "organic_accounts", "all_accounts"]

InsightIdPath = Annotated[
    str, Path(pattern=INSIGHT_ID_PATTERN, description="The insight's id: `ins_` and 24 lowercase hex digits.")
]
AccountParam = Annotated[str | None, Query(min_length=1, max_length=200, description="Only this account's.")]
FeedbackWriter = Annotated[Principal, Depends(require("feedback"))]


class Insight(BaseModel):
    insight_id: str = Field(description="Stable id: a hash of what the finding says and whose it is.",
                            examples=["ins_3f9a0c1d2e4b5a6978c0d1e2"])
    platform: str = Field(examples=["linkedin"])
    account_id: str = Field(examples=["urn:li:organization:1001"])
    rank: int = Field(description="Order among the account's insights (1 = first: most severe, then largest effect).")
    finding_rank: int = Field(description="The finding's rank over all findings of the run.")
    scope: Scope = Field(description="Why it is this account's: the account itself, its platform, an A/B test it "
                         "boosted during, the boosting accounts, every organic account, or every account.")
    category: str = Field(examples=["posting_time"])
    subject: str = Field(examples=["linkedin posts at 09:00 UTC"])
    severity: Severity
    title: str = Field(examples=["linkedin posts published at 09:00 UTC are expected to engage +31% more than at "
                                 "the average hour"])
    action: str = Field(examples=["Schedule linkedin posts in this hour (+31% expected engagement)."])
    metric: str = Field(examples=["Expected engagement score"])
    effect: Rate | None = Field(description="Relative effect against the baseline (0.25 = +25%).", examples=[0.31])
    ci_low: Rate | None
    ci_high: Rate | None
    p_value: float | None = Field(description="Two-sided p-value of the test, when the finding is a test.")
    q_value: float | None = Field(description="Benjamini-Hochberg adjusted p-value across the run's tests.")
    n: int | None = Field(description="Sample size behind the finding.")
    evidence: dict[str, Any] = Field(description="Supporting figures (test, means, sample sizes...).")
    window_start: date | None = Field(description="First day of the data window the findings read.")
    window_end: date | None
    generated_at: datetime | None = Field(description="When the findings were computed (UTC).")
    acknowledged_at: datetime | None = Field(description="When the workspace acknowledged it (UTC); null: not yet.")


class InsightPage(BaseModel):
    items: list[Insight]
    next_cursor: str | None
    total: int


class AcknowledgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=MAX_NOTE_CHARS, description="What the workspace makes of it.")

    _valid_unicode = field_validator("note")(valid_unicode)


class AcknowledgementResponse(BaseModel):
    acknowledgement_id: str | None = Field(description="The acknowledgement's id (ack_ and 32 hex digits).",
                                           examples=["ack_0f1e2d3c4b5a69788796a5b4c3d2e1f0"])
    insight_id: str
    acknowledged_at: datetime | None = Field(description="When the API took it (UTC).")


ACK_ERRORS: dict[int | str, dict[str, Any]] = {
    **DATA_ERRORS,
    200: {"model": AcknowledgementResponse, "description": "Acknowledged before: that acknowledgement (nothing new "
          "is stored, whatever the body says)."},
    404: {"model": ErrorResponse, "description": "No such insight in this workspace (another workspace's id gets the "
          "same answer), or no insights published yet."},
    413: {"model": ErrorResponse, "description": f"Body larger than {MAX_BODY_BYTES} bytes; nothing stored."},
    422: {**DATA_ERRORS[422], "description": "An id that is not `ins_` + 24 hex digits, or a body that is not a JSON "
          "object with at most a `note` of up to 500 characters; nothing stored."},
    503: {"model": ErrorResponse, "description": "The insights file is unreadable or breaks the contract, or the "
          "API's store cannot be written now; nothing stored."},
}


def get_acknowledgement_store(request: Request) -> InsightAcknowledgementStore:
    return request.app.state.insight_acknowledgements


Acknowledgements = Annotated[InsightAcknowledgementStore, Depends(get_acknowledgement_store)]


# ---------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------


_COLUMNS = ", ".join(Insight.model_fields)
_INSIGHTS_SQL = f"""
SELECT {_COLUMNS}, acknowledgement_id FROM src
WHERE (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
  AND (CAST($account AS VARCHAR) IS NULL OR account_id = CAST($account AS VARCHAR))
  AND (CAST($severity AS VARCHAR) IS NULL OR severity = CAST($severity AS VARCHAR))
  AND (CAST($category AS VARCHAR) IS NULL OR category = CAST($category AS VARCHAR))
  AND (CAST($insight_id AS VARCHAR) IS NULL OR insight_id = CAST($insight_id AS VARCHAR))
ORDER BY platform, account_id, rank, insight_id
"""


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def overlay(rows: Iterable[Mapping[str, Any]], acks: InsightAcknowledgementStore | None) -> list[dict[str, Any]]:
    """Served insight rows with the acknowledgements stored since the snapshot: each row's ``acknowledged_at`` and
    ``acknowledgement_id`` are the first acknowledgement's (the snapshot's or the store's). One store read."""
    rows = [dict(r) for r in rows]
    if acks is None or not rows:
        return rows
    stored = acks.acknowledgements(r["insight_id"] for r in rows)
    for row in rows:
        ack = stored.get(row["insight_id"])
        served = _utc(row.get("acknowledged_at"))
        if ack is not None and (served is None or ack.received_at < served):
            row["acknowledged_at"], row["acknowledgement_id"] = ack.received_at, ack.acknowledgement_id
    return rows


def _insight(row: Mapping[str, Any]) -> Insight:
    data = {k: v for k, v in row.items() if k in Insight.model_fields}
    evidence = data.get("evidence")
    try:
        data["evidence"] = json.loads(evidence) if isinstance(evidence, str) else (evidence or {})
    except ValueError:
        data["evidence"] = None  # build() reports the file as breaking the contract
    return build(Insight, INSIGHTS, **data)


def _rows(store: ServingStore, principal: Principal, **filters: Any) -> list[dict[str, Any]]:
    params = {"platform": None, "account": None, "severity": None, "category": None, "insight_id": None, **filters}
    return store.scoped_query(INSIGHTS, principal.accounts, _INSIGHTS_SQL, params)


@router.get("/insights", response_model=InsightPage, responses=DATA_ERRORS, summary="The workspace's insights")
def list_insights(
    store: Store,
    principal: Reader,
    platform: PlatformParam = None,
    account: AccountParam = None,
    severity: Annotated[Severity | None, Query(description="Only findings of this severity.")] = None,
    category: Annotated[Category | None, Query(description="Only findings of this kind.")] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
    acknowledgements: Annotated[InsightAcknowledgementStore | None, Depends(get_acknowledgement_store)] = None,
) -> InsightPage:
    """Ranked findings with severity, supporting figures and a suggested action, per account of the workspace
    (by platform, account, then the account's rank), each with when it was acknowledged."""
    tag = snapshot_tag(store)
    rows = _rows(store, principal, platform=platform.value if platform else None, account=account,
                 severity=severity, category=category)
    page, next_cursor = paginate(rows, limit, cursor, tag)
    items = [_insight(r) for r in overlay(page, acknowledgements)]
    return InsightPage(items=items, next_cursor=next_cursor, total=len(rows))


@router.get("/insights/{insight_id}", response_model=Insight, responses=DATA_ERRORS, summary="One insight")
def get_insight(
    store: Store,
    principal: Reader,
    insight_id: InsightIdPath,
    acknowledgements: Annotated[InsightAcknowledgementStore | None, Depends(get_acknowledgement_store)] = None,
) -> Insight:
    """One insight of the workspace; 404 when the workspace has none of that id."""
    rows = _rows(store, principal, insight_id=insight_id)
    if not rows:
        raise HTTPException(status_code=404, detail=f"No insight {insight_id} in this workspace.")
    return _insight(overlay(rows[:1], acknowledgements)[0])


# ---------------------------------------------------------------------------------------------------
# Acknowledging
# ---------------------------------------------------------------------------------------------------


def _parse(body: bytes) -> AcknowledgeRequest:
    try:
        return AcknowledgeRequest.model_validate_json(body if body.strip() else b"{}")
    except ValidationError as exc:
        raise RequestValidationError([
            {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"], "input": None}
            for e in exc.errors(include_url=False)
        ]) from None


def _acknowledge(
    store: ServingStore, acks: InsightAcknowledgementStore, principal: Principal, insight_id: str,
    body: AcknowledgeRequest, now: datetime,
) -> tuple[int, AcknowledgementResponse]:
    rows = _rows(store, principal, insight_id=insight_id)
    if not rows:
        raise HTTPException(404, f"No insight {insight_id} in this workspace.")
    row = rows[0]
    try:
        (current,) = overlay([row], acks)
        if current.get("acknowledged_at") is not None:
            return 200, build(AcknowledgementResponse, INSIGHTS, insight_id=insight_id,
                              acknowledgement_id=current.get("acknowledgement_id"),
                              acknowledged_at=_utc(current["acknowledged_at"]))
        stored, created = acks.record(InsightAcknowledgement(
            acknowledgement_id=new_acknowledgement_id(), insight_id=insight_id, platform=row["platform"],
            account_id=row["account_id"], received_at=now, workspace_id=principal.workspace_id,
            key_id=principal.key.key_id, note=body.note,
        ))
    except (sqlite3.Error, OSError) as exc:  # a full disk, a store locked past its timeout: not the request's fault
        log.warning("insight acknowledgement store %s: %s", acks.path, exc)
        raise HTTPException(503, "The API's store cannot be read or written now; nothing was stored. Retry later.") from None
    answer = AcknowledgementResponse(
        acknowledgement_id=stored.acknowledgement_id, insight_id=insight_id, acknowledged_at=stored.received_at
    )
    return (201 if created else 200), answer


@router.post(
    "/insights/{insight_id}/acknowledge",
    status_code=201,
    response_model=AcknowledgementResponse,
    responses=ACK_ERRORS,
    summary="Acknowledge an insight",
    openapi_extra={"requestBody": {"required": False, "content": {
        "application/json": {"schema": AcknowledgeRequest.model_json_schema()}}}},
)
async def acknowledge_insight(
    request: Request, response: Response, store: Store, acks: Acknowledgements, principal: FeedbackWriter,
    insight_id: InsightIdPath,
) -> AcknowledgementResponse:
    """The workspace took note of the insight (optionally: a note). 201: stored; 200: acknowledged before (that
    acknowledgement; nothing new stored)."""
    body = _parse(await read_limited(request, MAX_BODY_BYTES, HTTPException))
    now = request.app.state.now()
    status, answer = await run_in_threadpool(_acknowledge, store, acks, principal, insight_id, body, now)
    response.status_code = status
    return answer


__all__ = ["AcknowledgeRequest", "AcknowledgementResponse", "Insight", "InsightPage", "overlay", "router"]
