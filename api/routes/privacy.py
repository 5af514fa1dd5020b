"""``POST /v1/privacy/erasures``, ``POST /v1/privacy/exports`` and ``GET /v1/privacy/requests/{request_id}``:
GDPR requests for one person, named by their pseudonymous user id (``contracts.privacy``).

An ``admin`` key asks to export or erase the data of one tracked person of its workspace's web properties (its
``web`` accounts). The request lands in the API's store (``contracts.inbound.PrivacyRequestStore``); the pipeline's
``privacy_requests_sensor`` picks it up and ``privacy_request_job`` carries it out (the API never opens the
warehouse). Rules, in the order they are checked:

1. The key: 401 (none, bad, revoked), 403 (no ``admin`` scope), 429 (rate limit), before the body is read.
2. The body: over ``MAX_BODY_BYTES`` 413; not a JSON object ``{"user_id": ...}`` with an id of the documented
   shape (``USER_ID_PATTERN``) 422. Values are never echoed in an answer, and the audit record of the request
   (``api/audit.py``) holds the route template only, so the user id reaches no log.
3. The workspace: without a web property it tracks nobody: 409, nothing stored.
4. Stored: **202** with the request's id (the same request again while it waits: **200** with that request,
   nothing new stored, so retrying is safe); its status (pending, running, done, failed) at
   ``GET /v1/privacy/requests/{request_id}``, which answers only the workspace that asked (any other id is 404)
   and never names the user id. A done export says where its file lies on the pipeline's host
   (``$CYCLE_HOME/privacy/exports/<request_id>.json``); the file itself is not served through the API.

From the moment an erasure is stored, the API's store remembers the person (a hash salted with the store's own
secret, ``contracts.inbound.ErasedSubjects``) and its writers refuse rows naming them: a webhook or tracked event
naming their id is answered 2xx and counted as ``discarded``, never stored (``api/webhooks.py``,
``api/routes/events.py``), and each discard is recorded in ``privacy_discards`` without the id. A done erasure's
rebuild (the marts and served files built from their rows) is a run of ``privacy_rebuild_job`` started by
``privacy_rebuild_sensor`` (``defs/privacy/rebuild.py``).
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from analytics_assets.contracts.inbound import FeedbackStore, PrivacyRequest, PrivacyRequestStore
from analytics_assets.contracts.privacy import REQUEST_ID_PATTERN, USER_ID_PATTERN, WEB_PLATFORM
from api.auth import Principal, require
from api.request_body import read_limited
from api.routes.common import DATA_ERRORS
from api.schemas import ErrorResponse

log = logging.getLogger(__name__)

router = APIRouter(tags=["privacy"])

MAX_BODY_BYTES = 4096  # far above any valid body ({"user_id": 128 characters}, even written as \u escapes)

PrivacyAdmin = Annotated[Principal, Depends(require("admin"))]
RequestIdPath = Annotated[
    str, Path(pattern=REQUEST_ID_PATTERN, description="The request's id: `era_` or `exp_` and 32 lowercase hex digits.")
]


class PrivacyRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(
        pattern=USER_ID_PATTERN, description="The person's pseudonymous id, as the tracking snippet sends it "
        "(`anonymous_id`): 1 to 128 characters, a letter or digit, then letters, digits or `_ . : @ + -`.",
    )


class PrivacyRequestStatus(BaseModel):
    request_id: str
    kind: str = Field(description="erasure or export.")
    status: str = Field(description="pending, running, done or failed (failed ones are retried).")
    requested_at: datetime
    status_at: datetime | None = Field(description="When the status was reached (UTC).")
    property_ids: list[str] = Field(description="The workspace's web properties the request covers.")
    rows: int | None = Field(None, description="Done: rows removed (erasure) or exported (export), in all.")
    items: dict[str, int] | None = Field(
        None, description="Done: rows per table, archived day, file or store table, removed or exported."
    )
    export_path: str | None = Field(None, description="A done export: its file on the pipeline's host.")


PRIVACY_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {"model": PrivacyRequestStatus, "description": "POST: the same request was taken before and is not carried "
          "out yet: that request (nothing new stored). GET: the request's status."},
    401: DATA_ERRORS[401],
    403: {"model": ErrorResponse, "description": "The key lacks the `admin` scope."},
    404: {"model": ErrorResponse, "description": "No such request in this workspace."},
    409: {"model": ErrorResponse, "description": "The workspace has no web property: it tracks nobody."},
    413: {"model": ErrorResponse, "description": f"Body larger than {MAX_BODY_BYTES} bytes; nothing stored."},
    422: {**DATA_ERRORS[422], "description": "A body that is not `{\"user_id\": ...}` with a valid id, or a "
          "malformed request id; nothing stored."},
    429: DATA_ERRORS[429],
    503: {"model": ErrorResponse, "description": "The API's store cannot be read or written now; nothing stored."},
}


def get_privacy_store(request: Request) -> PrivacyRequestStore:
    # the privacy requests live in the API's inbound store, beside the decisions on recommendations
    feedback: FeedbackStore = request.app.state.feedback_store
    return PrivacyRequestStore(feedback.path)


Privacy = Annotated[PrivacyRequestStore, Depends(get_privacy_store)]


def _parse(body: bytes) -> PrivacyRequestBody:
    try:
        return PrivacyRequestBody.model_validate_json(body if body.strip() else b"{}")
    except ValidationError as exc:
        raise RequestValidationError([
            {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"], "input": None}
            for e in exc.errors(include_url=False)
        ]) from None


def _answer(request: PrivacyRequest) -> PrivacyRequestStatus:
    detail = request.detail or {}
    items = detail.get("removed", detail.get("exported")) if request.status == "done" else None
    return PrivacyRequestStatus(
        request_id=request.request_id,
        kind=request.kind,
        status=request.status,
        requested_at=request.requested_at,
        status_at=request.status_at,
        property_ids=list(request.property_ids),
        rows=detail.get("rows_total") if request.status == "done" else None,
        items=items,
        export_path=request.export_path if request.kind == "export" and request.status == "done" else None,
    )


def _unavailable(store: PrivacyRequestStore, exc: Exception) -> HTTPException:
    log.warning("privacy request store %s: %s", store.path, type(exc).__name__)
    return HTTPException(503, "The API's store cannot be read or written now; nothing was stored. Retry later.")


def _submit(store: PrivacyRequestStore, kind: str, user_id: str, properties: list[str], principal: Principal,
            now: datetime) -> tuple[int, PrivacyRequest]:
    waiting = store.open_for(kind, user_id, principal.workspace_id)
    if waiting is not None:  # asked again before it was carried out: the same request, nothing new stored
        return 200, waiting
    return 202, store.submit(
        kind, user_id, properties, workspace_id=principal.workspace_id, key_id=principal.key.key_id, requested_at=now
    )


async def _take(
    request: Request, response: Response, store: PrivacyRequestStore, principal: Principal, kind: str
) -> PrivacyRequestStatus:
    body = _parse(await read_limited(request, MAX_BODY_BYTES, HTTPException))
    properties = sorted(a.account_id for a in principal.accounts if a.platform == WEB_PLATFORM)
    if not properties:
        raise HTTPException(409, "This workspace has no web property, so it tracks nobody; nothing was stored.")
    try:
        response.status_code, taken = await run_in_threadpool(
            _submit, store, kind, body.user_id, properties, principal, request.app.state.now()
        )
    except (sqlite3.Error, OSError) as exc:
        raise _unavailable(store, exc) from None
    return _answer(taken)


@router.post(
    "/privacy/erasures", status_code=202, response_model=PrivacyRequestStatus, responses=PRIVACY_ERRORS,
    summary="Erase one person's data",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": PrivacyRequestBody.model_json_schema()}}}},
)
async def request_erasure(
    request: Request, response: Response, store: Privacy, principal: PrivacyAdmin
) -> PrivacyRequestStatus:
    """Erase every row of the person (tracked events, quarantined records, marts, archive, the API's store) in
    the workspace's web properties, and keep them out of every later load. 202: taken; follow its status."""
    return await _take(request, response, store, principal, "erasure")


@router.post(
    "/privacy/exports", status_code=202, response_model=PrivacyRequestStatus, responses=PRIVACY_ERRORS,
    summary="Export one person's data",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": PrivacyRequestBody.model_json_schema()}}}},
)
async def request_export(
    request: Request, response: Response, store: Privacy, principal: PrivacyAdmin
) -> PrivacyRequestStatus:
    """Write every row of the person in the workspace's web properties to one JSON file on the pipeline's host.
    202: taken; its status says where the file lies once done."""
    return await _take(request, response, store, principal, "export")


@router.get(
    "/privacy/requests/{request_id}", response_model=PrivacyRequestStatus, responses=PRIVACY_ERRORS,
    summary="Status of a privacy request",
)
async def privacy_request_status(
    store: Privacy, principal: PrivacyAdmin, request_id: RequestIdPath
) -> PrivacyRequestStatus:
    """The request's status; what a done request removed or exported, per table and file (never the user id)."""
    try:
        found = await run_in_threadpool(store.get, request_id)
    except (sqlite3.Error, OSError) as exc:
        raise _unavailable(store, exc) from None
    if found is None or found.workspace_id != principal.workspace_id:
        raise HTTPException(404, f"No privacy request {request_id} in this workspace.")
    return _answer(found)


__all__ = ["PrivacyRequestBody", "PrivacyRequestStatus", "router"]
