"""Cursor pagination for every list route.

A cursor is opaque to clients: base64url of ``<offset>:<snapshot>``, where ``snapshot`` names the served
snapshot the first page came from (its ``published_at``). Pages are slices of a fully ordered result, so
walking the cursors returns every row exactly once. A cursor from an older snapshot is refused (422) instead
of silently skipping or repeating rows of the new one: the client starts again without a cursor.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

T = TypeVar("T")

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100

LimitParam = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1..{MAX_LIMIT} (default {DEFAULT_LIMIT}).")
]
CursorParam = Annotated[
    str | None,
    Query(max_length=200, description="`next_cursor` of the previous page; omit for the first page."),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    total: int = Field(description="Rows in the whole result (every page).")


def _bad_cursor(msg: str, cursor: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("query", "cursor"), "msg": msg, "input": cursor}])


def encode_cursor(offset: int, snapshot: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{snapshot}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, snapshot: str) -> int:
    """The offset a cursor points at (0 without one); 422 for a malformed cursor or one of another snapshot."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        offset_text, _, origin = raw.partition(":")
        offset = int(offset_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _bad_cursor("cursor is not a cursor this API issued; omit it to start from the first page", cursor) from None
    if offset < 0 or offset > 10**9:
        raise _bad_cursor("cursor is out of range; omit it to start from the first page", cursor)
    if origin != snapshot:
        raise _bad_cursor(
            "cursor belongs to an earlier published snapshot (the data changed since); omit it to start again", cursor
        )
    return offset


def paginate(rows: Sequence[T], limit: int, cursor: str | None, snapshot: str) -> tuple[list[T], str | None]:
    """The page of ``rows`` at ``cursor`` and the cursor of the next page (None after the last)."""
    offset = decode_cursor(cursor, snapshot)
    page = list(rows[offset : offset + limit])
    end = offset + len(page)
    return page, (encode_cursor(end, snapshot) if end < len(rows) else None)
