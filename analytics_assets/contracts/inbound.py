"""The API's own store of verified webhook events: a small append-only SQLite database in WAL mode.

The API never opens the DuckDB warehouse. What the webhook endpoints accept lands here, one row per
platform event, and the ``raw_webhook_events`` Dagster asset copies new rows into the warehouse past
a cursor (``seq``), so data only ever flows one way: platform -> API store -> warehouse.

* Append-only: triggers refuse UPDATE and DELETE, so an accepted event can never be lost or altered.
* Deduplicated: ``(platform, event_id)`` is unique and inserts are ``INSERT OR IGNORE``, so a
  redelivered event is stored once.
* Atomic per delivery: all events of one request are stored in one transaction, or none.
* ``store_id`` (random, written when the file is created) tells readers when the file was replaced,
  so a cursor from an older file is never applied to a new one.

No dagster or FastAPI imports: the Dagster side reads the store with this same class.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PLATFORMS = ("meta", "linkedin")

_SCHEMA = """
create table if not exists store_info (
    key   text primary key,
    value text not null
);
create table if not exists webhook_events (
    seq          integer primary key autoincrement,
    platform     text not null,
    event_id     text not null,
    delivery_id  text not null,
    received_at  text not null,
    object       text,
    field        text,
    action       text,
    account_id   text,
    post_id      text,
    entity_id    text,
    event_time   text,
    payload      text not null,
    unique (platform, event_id)
);
create trigger if not exists webhook_events_no_update before update on webhook_events
begin select raise(abort, 'webhook_events is append-only'); end;
create trigger if not exists webhook_events_no_delete before delete on webhook_events
begin select raise(abort, 'webhook_events is append-only'); end;
"""

EVENT_COLUMNS = (
    "seq",
    "platform",
    "event_id",
    "delivery_id",
    "received_at",
    "object",
    "field",
    "action",
    "account_id",
    "post_id",
    "entity_id",
    "event_time",
    "payload",
)


@dataclass(frozen=True)
class WebhookEvent:
    """One platform event, parsed out of a verified delivery."""

    platform: str
    event_id: str  # the platform's id of the event (or a content hash where it has none)
    payload: dict[str, Any]  # the event in the platform's own delivery shape
    object: str | None = None  # what kind of thing changed (Meta `object`, LinkedIn notification `type`)
    field: str | None = None  # which part of it (Meta change `field`, LinkedIn `action`)
    action: str | None = None  # what happened (Meta `verb`/`item`, LinkedIn `action`)
    account_id: str | None = None  # page / organization the event belongs to
    post_id: str | None = None
    entity_id: str | None = None  # the most specific id the event names (comment, reaction, post)
    event_time: datetime | None = None  # when it happened on the platform (UTC)


@dataclass(frozen=True)
class AppendResult:
    received: int
    stored: int

    @property
    def duplicates(self) -> int:
        return self.received - self.stored


@dataclass(frozen=True)
class StoreState:
    store_id: str
    high_water_mark: int  # largest seq stored (0 when empty)
    events: int


def _utc_iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return ts.isoformat(timespec="microseconds")


class WebhookStore:
    """Append and read webhook events. Connections are opened per call and closed at once."""

    def __init__(self, path: Path | str, timeout_s: float = 10.0):
        self.path = Path(path)
        self.timeout_s = timeout_s

    # -- connections ----------------------------------------------------------------------------

    def _open(self, create: bool) -> sqlite3.Connection:
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        else:  # readers never create the file: a missing store simply has no events yet
            uri = "file:" + urllib.parse.quote(str(self.path.resolve())) + "?mode=rw"
            con = sqlite3.connect(uri, uri=True, timeout=self.timeout_s, isolation_level=None)
        con.execute(f"pragma busy_timeout = {int(self.timeout_s * 1000)}")
        return con

    def _create(self, con: sqlite3.Connection) -> None:
        # WAL: the API appends while the Dagster asset reads; FULL sync because a 200 tells the
        # platform the event is safe and it will not send it again.
        con.execute("pragma journal_mode = wal")
        con.execute("pragma synchronous = full")
        con.executescript(_SCHEMA)
        con.execute("insert or ignore into store_info (key, value) values ('store_id', ?)", [uuid.uuid4().hex])

    def exists(self) -> bool:
        return self.path.exists()

    # -- writing --------------------------------------------------------------------------------

    def append(self, events: Iterable[WebhookEvent], delivery_id: str, received_at: datetime | None = None) -> AppendResult:
        """Store the events of one delivery in one transaction; events already stored are skipped."""
        events = list(events)
        received = _utc_iso(received_at or datetime.now(timezone.utc))
        con = self._open(create=True)
        try:
            self._create(con)
            con.execute("begin immediate")
            try:
                stored = 0
                for e in events:
                    if e.platform not in PLATFORMS:
                        raise ValueError(f"unknown webhook platform {e.platform!r}; expected one of {PLATFORMS}")
                    cur = con.execute(
                        """insert or ignore into webhook_events
                           (platform, event_id, delivery_id, received_at, object, field, action,
                            account_id, post_id, entity_id, event_time, payload)
                           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                        [
                            e.platform,
                            e.event_id,
                            delivery_id,
                            received,
                            e.object,
                            e.field,
                            e.action,
                            e.account_id,
                            e.post_id,
                            e.entity_id,
                            _utc_iso(e.event_time),
                            json.dumps(e.payload, sort_keys=True, separators=(",", ":")),
                        ],
                    )
                    stored += cur.rowcount
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
        finally:
            con.close()
        return AppendResult(received=len(events), stored=stored)

    # -- reading --------------------------------------------------------------------------------

    def state(self) -> StoreState | None:
        """The store's identity and high-water mark; None while nothing was ever stored."""
        if not self.exists():
            return None
        con = self._open(create=False)
        try:
            tables = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
            if not {"store_info", "webhook_events"} <= tables:
                return None
            (store_id,) = con.execute("select value from store_info where key = 'store_id'").fetchone()
            hwm, n = con.execute("select coalesce(max(seq), 0), count(*) from webhook_events").fetchone()
        finally:
            con.close()
        return StoreState(store_id=store_id, high_water_mark=int(hwm), events=int(n))

    def read_after(self, seq: int, limit: int = 5000) -> list[dict[str, Any]]:
        """Events with ``seq`` greater than ``seq``, oldest first, at most ``limit`` of them."""
        if not self.exists():
            return []
        con = self._open(create=False)
        try:
            con.row_factory = sqlite3.Row
            rows = con.execute(
                f"select {', '.join(EVENT_COLUMNS)} from webhook_events where seq > ? order by seq limit ?",
                [int(seq), int(limit)],
            ).fetchall()
        finally:
            con.close()
        return [dict(r) for r in rows]


__all__ = [
    "EVENT_COLUMNS",
    "PLATFORMS",
    "AppendResult",
    "StoreState",
    "WebhookEvent",
    "WebhookStore",
]
