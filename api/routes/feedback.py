"""``POST /v1/recommendations/{recommendation_id}/apply`` and ``.../dismiss``: a user's decision on a recommendation.

A key with the ``feedback`` scope records what its workspace did with one of its recommendations. The decision
lands in the API's inbound store (``contracts.inbound.FeedbackStore``), from which ``raw_recommendation_feedback``
copies it into the warehouse; the API never opens the warehouse. Rules, in the order they are checked:

1. The key: 401 (none, bad, revoked), 403 (no ``feedback`` scope), 429 (rate limit), before the body is read.
2. The input: an id that is not ``rec_`` + 24 lowercase hex digits cannot name a recommendation: 422 (it says
   nothing about any recommendation, so it needs no 404). A body over ``MAX_BODY_BYTES``: 413, abandoned as soon
   as it passes the limit. A body that is not a JSON object of the documented fields within their bounds
   (unknown fields included): 422. An empty body is ``{}``. Body values are never echoed in an answer.
3. The recommendation: looked up in the served ``recommendations.parquet`` among the key's workspace's accounts.
   An unknown id and another workspace's id get the same 404, so existence never leaks.
4. A decision taken already (stored since the snapshot, or in the snapshot itself; the first taken wins): the
   same decision again is **200** with that decision, and nothing new is stored, even when the body differs
   (retrying a request is safe; a decision is never edited); the other decision is 409 (``already applied``).
5. Its status now (``contracts.recommendations.served_status`` with the served ``superseded_at`` and
   ``expires_at`` and the API's clock): expired or superseded is 409 with the status and since when.
6. Open: the decision is stored, **201** with its ``feedback_id``. Two requests racing on one recommendation
   store one decision (the store's ``recommendation_id`` is unique): the loser gets 200 or 409 as in 4.

Nothing is stored unless the answer is 201. The audit record of the request (``api/audit.py``) holds the route
template, never the body, so a reason never reaches it.

For the read side, :func:`overlay` (and :func:`current_status` for one row) applies the decisions stored since
the snapshot, and expiry as of now, to served rows.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool

from analytics_assets.contracts.inbound import FeedbackRecord, FeedbackStore, new_feedback_id
from analytics_assets.contracts.recommendations import FEEDBACK_DECISIONS, served_status
from analytics_assets.contracts.serving import RECOMMENDATIONS
from analytics_assets.contracts.text import valid_unicode
from api.auth import Principal, require
from api.request_body import read_limited
from api.routes.common import DATA_ERRORS, Store, build
from api.schemas import ErrorResponse
from api.store import ServingStore

log = logging.getLogger(__name__)

router = APIRouter(tags=["recommendations"])

RECOMMENDATION_ID_PATTERN = r"^rec_[0-9a-f]{24}$"
MAX_REASON_CHARS = 500
MAX_POST_ID_CHARS = 200
MAX_DETAILS_BYTES = 4096  # details as stored: compact JSON, UTF-8
# above any valid body, even one that writes every character as a \u escape (reason 6 KB, post id 2.4 KB,
# details 24 KB), and far below anything that costs memory
MAX_BODY_BYTES = 64 * 1024
DECIDED = {status: decision for decision, status in FEEDBACK_DECISIONS.items()}  # applied -> apply, ...

FeedbackWriter = Annotated[Principal, Depends(require("feedback"))]
RecommendationIdPath = Annotated[
    str,
    Path(pattern=RECOMMENDATION_ID_PATTERN, description="The recommendation's id: `rec_` and 24 lowercase hex digits."),
]


# ---------------------------------------------------------------------------------------------------
# Bodies and answers
# ---------------------------------------------------------------------------------------------------


class DismissRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=MAX_REASON_CHARS, description="Why, in the user's words.")

    _valid_unicode = field_validator("reason")(valid_unicode)


class ApplyRequest(DismissRequest):
    applied_post_id: str | None = Field(
        None, min_length=1, max_length=MAX_POST_ID_CHARS,
        description="The post published for it (a posting slot), as the platform names it.",
    )
    details: dict[str, Any] | None = Field(
        None,
        description=f"What was actually done (budget spent, audience, ...): a JSON object of at most "
        f"{MAX_DETAILS_BYTES} bytes as compact JSON.",
    )

    _valid_post_id = field_validator("applied_post_id")(valid_unicode)

    @field_validator("details")
    @classmethod
    def _bounded_details(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(details_json(value).encode("utf-8")) > MAX_DETAILS_BYTES:
            raise ValueError(f"is larger than {MAX_DETAILS_BYTES} bytes as compact JSON")
        return value


def details_json(details: dict[str, Any]) -> str:
    """``details`` as stored: compact JSON with sorted keys (ValueError when it holds NaN or infinity)."""
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class FeedbackResponse(BaseModel):
    feedback_id: str = Field(description="The decision's id (fb_ and 32 hex digits).")
    recommendation_id: str
    decision: str = Field(description="apply or dismiss.")
    status: str = Field(description="The recommendation's status it gives: applied or dismissed.")
    received_at: datetime | None = Field(description="When the API took the decision (UTC).")
    applied_post_id: str | None = Field(description="The post published for it, as stored with the decision.")


class FeedbackConflict(BaseModel):
    detail: str
    status: str = Field(description="The recommendation's status: applied, dismissed, expired or superseded.")
    since: datetime | None = Field(description="Since when (UTC): the decision, the expiry or the newer run.")


FEEDBACK_ERRORS: dict[int | str, dict[str, Any]] = {
    **DATA_ERRORS,
    200: {"model": FeedbackResponse, "description": "This decision was taken before: the decision as stored then "
          "(nothing new is stored, whatever the body says)."},
    404: {"model": ErrorResponse, "description": "No such recommendation in this workspace (another workspace's "
          "id gets the same answer), or no recommendations published yet."},
    409: {"model": FeedbackConflict, "description": "The other decision was taken already, or the recommendation "
          "expired or was superseded; nothing stored."},
    413: {"model": ErrorResponse, "description": f"Body larger than {MAX_BODY_BYTES} bytes; nothing stored."},
    422: {**DATA_ERRORS[422], "description": "An id that is not `rec_` + 24 hex digits, or a body that is not a JSON "
          "object of the documented fields within their bounds; nothing stored."},
    503: {"model": ErrorResponse, "description": "The recommendations file is unreadable or breaks the contract, or "
          "the API's store cannot be written now; nothing stored."},
}


# ---------------------------------------------------------------------------------------------------
# Decisions on served rows (also for the read side)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A decision on a recommendation, from the inbound store or from the served snapshot."""

    decision: str  # FEEDBACK_DECISIONS keys
    received_at: datetime | None  # UTC
    feedback_id: str | None
    applied_post_id: str | None

    @property
    def status(self) -> str:
        return FEEDBACK_DECISIONS[self.decision]


def _naive_utc(ts: datetime | None) -> datetime | None:
    if ts is None or ts.tzinfo is None:
        return ts
    return ts.astimezone(timezone.utc).replace(tzinfo=None)


def first_decision(row: Mapping[str, Any], stored: FeedbackRecord | None) -> Decision | None:
    """The decision on the served ``row``: the one the snapshot holds (its ``status`` applied or dismissed, with
    ``decided_at``, ``feedback_id``, ``applied_post_id``) or ``stored`` (taken since), whichever came first. Both
    exist only when the store was replaced after the snapshot's decision was loaded."""
    served = None
    if row.get("status") in DECIDED:
        served = Decision(
            DECIDED[row["status"]], row.get("decided_at"), row.get("feedback_id"), row.get("applied_post_id")
        )
    fresh = None if stored is None else Decision(
        stored.decision, stored.received_at, stored.feedback_id, stored.applied_post_id
    )
    if served is None or fresh is None:
        return served or fresh
    if served.received_at is None or fresh.received_at is None:
        return served  # the warehouse's is the older store's
    return served if _naive_utc(served.received_at) <= _naive_utc(fresh.received_at) else fresh


def current_status(row: Mapping[str, Any], stored: FeedbackRecord | None, now: datetime) -> str:
    """The status of the served ``row`` at ``now``: its first decision, else superseded, expired or open."""
    decision = first_decision(row, stored)
    return served_status(
        None if decision is None else decision.decision,
        _naive_utc(row.get("superseded_at")),
        _naive_utc(row.get("expires_at")),
        _naive_utc(now),
    )


def overlay(rows: Iterable[Mapping[str, Any]], feedback: FeedbackStore, now: datetime) -> list[dict[str, Any]]:
    """Served recommendation rows as of ``now``: each with ``status``, ``decided_at``, ``feedback_id`` and
    ``applied_post_id`` from its first decision (stored since the snapshot or in it) and ``status_as_of`` = ``now``.
    A row needs ``recommendation_id``, ``status``, ``superseded_at``, ``expires_at``, ``decided_at``,
    ``feedback_id`` and ``applied_post_id``; one store read for all rows."""
    rows = list(rows)
    stored = feedback.decisions(r["recommendation_id"] for r in rows if r.get("recommendation_id") is not None)
    out = []
    for row in rows:
        record = stored.get(row.get("recommendation_id"))
        decision = first_decision(row, record)
        out.append({
            **row,
            "status": current_status(row, record, now),
            "status_as_of": now,
            "decided_at": None if decision is None else decision.received_at,
            "feedback_id": None if decision is None else decision.feedback_id,
            "applied_post_id": None if decision is None else decision.applied_post_id,
        })
    return out


def get_feedback_store(request: Request) -> FeedbackStore:
    return request.app.state.feedback_store


Feedback = Annotated[FeedbackStore, Depends(get_feedback_store)]


# ---------------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------------


_SERVED_SQL = """
SELECT CAST(recommendation_id AS VARCHAR) AS recommendation_id, CAST(platform AS VARCHAR) AS platform,
       CAST(account_id AS VARCHAR) AS account_id, CAST(status AS VARCHAR) AS status,
       CAST(expires_at AS TIMESTAMP) AS expires_at, CAST(superseded_at AS TIMESTAMP) AS superseded_at,
       CAST(decided_at AS TIMESTAMP) AS decided_at, CAST(feedback_id AS VARCHAR) AS feedback_id,
       CAST(applied_post_id AS VARCHAR) AS applied_post_id
FROM src
WHERE CAST(recommendation_id AS VARCHAR) = CAST($recommendation_id AS VARCHAR)
ORDER BY CAST(last_generated_at AS TIMESTAMP) DESC NULLS LAST
LIMIT 1
"""


async def _body(request: Request) -> bytes:
    """The body, abandoned (413) as soon as it passes ``MAX_BODY_BYTES`` (``read_limited``)."""
    return await read_limited(request, MAX_BODY_BYTES, HTTPException)


def _parse(model: type[DismissRequest], body: bytes) -> DismissRequest:
    """The body as ``model`` (an empty body is ``{}``); 422 listing what is wrong, without echoing any value."""
    try:
        return model.model_validate_json(body if body.strip() else b"{}")
    except ValidationError as exc:
        raise RequestValidationError([
            {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"], "input": None}
            for e in exc.errors(include_url=False)
        ]) from None


def _conflict(recommendation_id: str, status: str, since: datetime | None, wanted: str) -> JSONResponse:
    verb = FEEDBACK_DECISIONS[wanted]
    when = "" if since is None else f" since {_naive_utc(since).isoformat()}Z"
    detail = f"Recommendation {recommendation_id} is already {status}{when}; it cannot be {verb}."
    return JSONResponse(
        status_code=409,
        content=FeedbackConflict(detail=detail, status=status, since=since).model_dump(mode="json"),
    )


def _answer(recommendation_id: str, decision: Decision) -> FeedbackResponse:
    return build(
        FeedbackResponse, RECOMMENDATIONS, feedback_id=decision.feedback_id, recommendation_id=recommendation_id,
        decision=decision.decision, status=decision.status, received_at=decision.received_at,
        applied_post_id=decision.applied_post_id,
    )


def _decide(
    store: ServingStore, feedback: FeedbackStore, principal: Principal, recommendation_id: str, decision: str,
    body: DismissRequest, now: datetime,
) -> tuple[int, FeedbackResponse | JSONResponse]:
    """The answer to a decision on ``recommendation_id`` (rules 3 to 6 of the module docstring), and its status."""
    params = {"recommendation_id": recommendation_id}
    rows = store.scoped_query(RECOMMENDATIONS, principal.accounts, _SERVED_SQL, params)
    if not rows:
        raise HTTPException(404, f"No recommendation {recommendation_id} in this workspace.")
    row = rows[0]
    try:
        return _decide_on(row, feedback, principal, recommendation_id, decision, body, now)
    except (sqlite3.Error, OSError) as exc:  # a full disk, a store locked past its timeout: not the request's fault
        log.warning("recommendation feedback store %s: %s", feedback.path, exc)
        raise HTTPException(
            503, "The API's store cannot be read or written now; nothing was stored. Retry later."
        ) from None


def _decide_on(
    row: dict[str, Any], feedback: FeedbackStore, principal: Principal, recommendation_id: str, decision: str,
    body: DismissRequest, now: datetime,
) -> tuple[int, FeedbackResponse | JSONResponse]:
    prior = first_decision(row, feedback.decision(recommendation_id))
    if prior is not None:
        if prior.decision == decision:
            return 200, _answer(recommendation_id, prior)
        return 409, _conflict(recommendation_id, prior.status, prior.received_at, decision)
    status = current_status(row, None, now)
    if status != "open":
        since = row.get("superseded_at") if status == "superseded" else row.get("expires_at")
        return 409, _conflict(recommendation_id, status, since, decision)
    details = getattr(body, "details", None)
    stored, created = feedback.record(FeedbackRecord(
        feedback_id=new_feedback_id(),
        recommendation_id=recommendation_id,
        decision=decision,
        received_at=now,
        platform=row["platform"],
        account_id=row["account_id"],
        workspace_id=principal.workspace_id,
        key_id=principal.key.key_id,
        reason=body.reason,
        applied_post_id=getattr(body, "applied_post_id", None),
        applied_details=None if details is None else details_json(details),
    ))
    taken = Decision(stored.decision, stored.received_at, stored.feedback_id, stored.applied_post_id)
    if stored.decision != decision:  # another request stored the other decision meanwhile
        return 409, _conflict(recommendation_id, taken.status, taken.received_at, decision)
    return (201 if created else 200), _answer(recommendation_id, taken)


async def _feedback(
    request: Request, response: Response, store: ServingStore, feedback: FeedbackStore, principal: Principal,
    recommendation_id: str, decision: str, model: type[DismissRequest],
) -> FeedbackResponse | JSONResponse:
    body = _parse(model, await _body(request))
    now = request.app.state.now()
    status, answer = await run_in_threadpool(
        _decide, store, feedback, principal, recommendation_id, decision, body, now
    )
    response.status_code = status
    return answer


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    # the body is read by the handler (bounded, after the key is checked), so the schema states it here
    return {"requestBody": {"required": False, "content": {"application/json": {"schema": model.model_json_schema()}}}}


@router.post(
    "/recommendations/{recommendation_id}/apply",
    status_code=201,
    response_model=FeedbackResponse,
    responses=FEEDBACK_ERRORS,
    summary="Record that a recommendation was applied",
    openapi_extra=_body_schema(ApplyRequest),
)
async def apply_recommendation(
    request: Request, response: Response, store: Store, feedback: Feedback, principal: FeedbackWriter,
    recommendation_id: RecommendationIdPath,
) -> FeedbackResponse | JSONResponse:
    """The workspace acted on the recommendation (optionally: why, the post published for it, and what was done).
    201: stored; 200: applied before (the stored decision; nothing new stored); 409: dismissed before, expired
    or superseded."""
    return await _feedback(request, response, store, feedback, principal, recommendation_id, "apply", ApplyRequest)


@router.post(
    "/recommendations/{recommendation_id}/dismiss",
    status_code=201,
    response_model=FeedbackResponse,
    responses=FEEDBACK_ERRORS,
    summary="Dismiss a recommendation",
    openapi_extra=_body_schema(DismissRequest),
)
async def dismiss_recommendation(
    request: Request, response: Response, store: Store, feedback: Feedback, principal: FeedbackWriter,
    recommendation_id: RecommendationIdPath,
) -> FeedbackResponse | JSONResponse:
    """The workspace will not act on the recommendation (optionally: why). 201: stored; 200: dismissed before
    (the stored decision; nothing new stored); 409: applied before, expired or superseded."""
    return await _feedback(request, response, store, feedback, principal, recommendation_id, "dismiss", DismissRequest)


__all__ = [
    "ApplyRequest",
    "Decision",
    "DismissRequest",
    "Feedback",
    "FeedbackConflict",
    "FeedbackResponse",
    "current_status",
    "first_decision",
    "get_feedback_store",
    "overlay",
    "router",
]
