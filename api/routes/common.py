"""What every v1 route module shares: the store dependency, query parameter types, error responses."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ValidationError

from api.schemas import ErrorResponse, OrganicPlatform, Platform, ValidationErrorResponse, strict_iso_date
from api.store import ServingFileInvalid, ServingFileMissing, ServingStore

M = TypeVar("M", bound=BaseModel)

# the earliest and latest days a date parameter accepts: outside them window arithmetic (the previous
# window of a range) would leave the calendar; no marketing data is older or newer
MIN_DAY = date(1970, 1, 1)
MAX_DAY = date(9000, 12, 31)

DATA_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing, invalid or revoked API key."},
    403: {"model": ErrorResponse, "description": "The key lacks the route's scope."},
    404: {"model": ErrorResponse, "description": "Not found in this workspace, or nothing published yet."},
    422: {"model": ValidationErrorResponse, "description": "Invalid parameter; the message lists valid values."},
    429: {"model": ErrorResponse, "description": "Rate limit exceeded; see `Retry-After`."},
    503: {"model": ErrorResponse, "description": "A serving file is unreadable or breaks the contract."},
}


def get_store(request: Request) -> ServingStore:
    return request.app.state.store


Store = Annotated[ServingStore, Depends(get_store)]


def _bounded_day(value: Any) -> Any:
    day = strict_iso_date(value)
    if isinstance(day, date) and not MIN_DAY <= day <= MAX_DAY:
        raise ValueError(f"'{day.isoformat()}' is outside {MIN_DAY.isoformat()}..{MAX_DAY.isoformat()}")
    return day


Day = Annotated[date | None, BeforeValidator(_bounded_day)]

PlatformParam = Annotated[
    Platform | None, Query(description="Filter on one platform (organic or ad). Omit for all platforms.")
]
OrganicPlatformParam = Annotated[
    OrganicPlatform | None,
    Query(description="Organic platform (linkedin, x, reddit, tiktok). Omit for all of them."),
]
# the years MIN_DAY..MAX_DAY, stated in the schema (the validator above enforces it with a clearer message)
DAY_PATTERN = r"^(19[7-9][0-9]|[2-8][0-9]{3}|9000)-[0-9]{2}-[0-9]{2}$"

StartParam = Annotated[
    Day,
    Query(description="First day to include (YYYY-MM-DD, inclusive, 1970-01-01..9000-12-31). Omit for no lower bound.",
          examples=["2024-03-01"], json_schema_extra={"pattern": DAY_PATTERN}),
]
EndParam = Annotated[
    Day,
    Query(description="Last day to include (YYYY-MM-DD, inclusive, 1970-01-01..9000-12-31). Omit for no upper bound.",
          examples=["2024-03-31"], json_schema_extra={"pattern": DAY_PATTERN}),
]


def issue(field: str, msg: str, value: Any) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("query", field), "msg": msg, "input": value}])


def check_window(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and start > end:
        raise issue("start", f"start ({start.isoformat()}) must be on or before end ({end.isoformat()})", start.isoformat())


def build(schema: type[M], source: str, /, **data: Any) -> M:
    """Validate data read from a serving file; a contract break is the file's fault, not a 500."""
    try:
        return schema(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ServingFileInvalid(source, f"{where}: {first.get('msg')}") from None


def snapshot_tag(store: ServingStore) -> str:
    """Names the published snapshot (for cursors): its publication time."""
    try:
        published = store.manifest().published_at
    except (ServingFileMissing, ServingFileInvalid):
        return "unpublished"
    return "unpublished" if published is None else published.strftime("%Y%m%dT%H%M%S%f")
