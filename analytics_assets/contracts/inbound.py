"""The API's own append-only store: a small SQLite database in WAL mode, with three tables.

The API never opens the DuckDB warehouse. What it takes in lands here, and Dagster assets copy new rows
into the warehouse past a cursor (``seq``), so data only ever flows one way: API -> API store -> warehouse.

* ``webhook_events`` (:class:`WebhookStore`): verified platform webhook events, one row per platform event,
  copied by ``raw_webhook_events``. Deduplicated: ``(platform, event_id)`` is unique and inserts are
  ``INSERT OR IGNORE``, so a redelivered event is stored once.
* ``api_audit`` (:class:`AuditStore`): one :class:`AuditRecord` per HTTP request the API answered (who,
  which route template, status, size, duration), copied by ``raw_api_audit``. Nothing secret: no key, no
  header, no query string, no body.
* ``recommendation_feedback`` (:class:`FeedbackStore`): one :class:`FeedbackRecord` per decision a user took
  on a recommendation through the API (apply, dismiss), copied by ``raw_recommendation_feedback``. One
  decision per recommendation: ``recommendation_id`` is unique and the first stored wins, so two requests
  racing to apply and dismiss the same recommendation store exactly one decision.

The tables share the file, its ``store_id`` and these rules:

* Append-only: triggers refuse UPDATE and DELETE, so a stored row can never be lost or altered.
* Atomic per call: all rows of one ``append`` are stored in one transaction, or none.
* ``store_id`` (random, written when the file is created) tells readers when the file was replaced,
  so a cursor from an older file is never applied to a new one.

No dagster or FastAPI imports: the Dagster side reads the store with these same classes.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from analytics_assets.contracts.recommendations import FEEDBACK_COLUMNS, FEEDBACK_DECISIONS

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
create table if not exists api_audit (
    seq            integer primary key autoincrement,
    requested_at   text not null,
    key_id         text,
    workspace_id   text,
    method         text not null,
    route          text,
    status         integer,
    response_bytes integer not null,
    duration_ms    real not null,
    client_addr    text
);
create trigger if not exists api_audit_no_update before update on api_audit
begin select raise(abort, 'api_audit is append-only'); end;
create trigger if not exists api_audit_no_delete before delete on api_audit
begin select raise(abort, 'api_audit is append-only'); end;
create table if not exists recommendation_feedback (
    seq                integer primary key autoincrement,
    feedback_id        text not null unique,
    recommendation_id  text not null unique,
    decision           text not null check (decision in (%s)),
    reason             text,
    applied_post_id    text,
    applied_details    text,
    platform           text,
    account_id         text,
    workspace_id       text,
    key_id             text,
    received_at        text not null
);
create trigger if not exists recommendation_feedback_no_update before update on recommendation_feedback
begin select raise(abort, 'recommendation_feedback is append-only'); end;
create trigger if not exists recommendation_feedback_no_delete before delete on recommendation_feedback
begin select raise(abort, 'recommendation_feedback is append-only'); end;
""" % ", ".join(f"'{d}'" for d in FEEDBACK_DECISIONS)

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

AUDIT_COLUMNS = (
    "seq",
    "requested_at",
    "key_id",
    "workspace_id",
    "method",
    "route",
    "status",
    "response_bytes",
    "duration_ms",
    "client_addr",
)

# FEEDBACK_COLUMNS as the store keeps them: its own ``seq``; the copy into the warehouse adds store_id,
# store_seq (this seq) and loaded_at
FEEDBACK_STORE_COLUMNS = ("seq", *(c for c in FEEDBACK_COLUMNS if c not in ("store_id", "store_seq", "loaded_at")))


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
class AuditRecord:
    """One HTTP request the API answered. Nothing secret: no key, header, query string or body."""

    requested_at: datetime  # when the request arrived (UTC; a naive value is taken as UTC)
    method: str
    route: str | None  # the route template (``/v1/campaigns/{campaign_id}``); None when no route matched
    status: int | None  # the HTTP status sent; None when no response was started (client gone)
    response_bytes: int  # body bytes sent
    duration_ms: float  # from the request's arrival to the last byte handed to the server
    client_addr: str | None = None  # the client's address as the server saw it (no port)
    key_id: str | None = None  # the API key that authenticated the request (its public id); None: none/bad
    workspace_id: str | None = None  # that key's workspace


@dataclass(frozen=True)
class FeedbackRecord:
    """A user's decision on one recommendation (``FEEDBACK_COLUMNS``), as the API stores it."""

    feedback_id: str  # fb_<32 hex> (new_feedback_id), returned to the caller
    recommendation_id: str
    decision: str  # FEEDBACK_DECISIONS keys
    received_at: datetime  # when the API took the decision (UTC; a naive value is taken as UTC)
    platform: str | None = None  # the recommendation's account, as served when the decision was taken
    account_id: str | None = None
    workspace_id: str | None = None  # who decided: the key's workspace and public key id
    key_id: str | None = None
    reason: str | None = None  # the user's words
    applied_post_id: str | None = None  # apply: the post published for it, if any
    applied_details: str | None = None  # apply: what was done, as a JSON object's text
    seq: int | None = None  # the store's, once stored


def new_feedback_id() -> str:
    return "fb_" + uuid.uuid4().hex


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
    high_water_mark: int  # largest seq stored in the table (0 when empty)
    events: int  # rows in the table


def _utc_iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return ts.isoformat(timespec="microseconds")


class InboundStore:
    """One table of the API's store. Connections are opened per call and closed at once, so an instance
    may be shared by threads. Subclasses name their ``TABLE`` and ``COLUMNS`` and add ``append``."""

    TABLE: ClassVar[str]
    COLUMNS: ClassVar[tuple[str, ...]]

    def __init__(self, path: Path | str, timeout_s: float = 10.0):
        self.path = Path(path)
        self.timeout_s = timeout_s

    # -- connections ----------------------------------------------------------------------------

    def _open(self, create: bool) -> sqlite3.Connection:
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        else:  # readers never create the file: a missing store simply has no rows yet
            uri = "file:" + urllib.parse.quote(str(self.path.resolve())) + "?mode=rw"
            con = sqlite3.connect(uri, uri=True, timeout=self.timeout_s, isolation_level=None)
        con.execute(f"pragma busy_timeout = {int(self.timeout_s * 1000)}")
        return con

    def _create(self, con: sqlite3.Connection) -> None:
        # WAL: the API appends while the Dagster assets read; FULL sync because a 200 tells the
        # platform the event is safe and it will not send it again.
        con.execute("pragma journal_mode = wal")
        con.execute("pragma synchronous = full")
        con.executescript(_SCHEMA)  # every table, whichever class creates the file: one schema
        con.execute("insert or ignore into store_info (key, value) values ('store_id', ?)", [uuid.uuid4().hex])

    def exists(self) -> bool:
        return self.path.exists()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A connection to the store (created if need be) inside one ``begin immediate`` transaction: the write
        lock is taken first, so what the block reads no other writer changes before it commits; committed when
        the block ends, rolled back on any error."""
        con = self._open(create=True)
        try:
            self._create(con)
            con.execute("begin immediate")
            try:
                yield con
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
        finally:
            con.close()

    def _insert(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``sql`` once per row in one transaction (all rows or none); returns the rows stored."""
        with self._writing() as con:
            return sum(con.execute(sql, row).rowcount for row in rows)

    # -- reading --------------------------------------------------------------------------------

    def _has_table(self, con: sqlite3.Connection) -> bool:
        tables = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
        return {"store_info", self.TABLE} <= tables

    def state(self) -> StoreState | None:
        """The store's identity and this table's high-water mark; None while nothing was ever stored."""
        if not self.exists():
            return None
        con = self._open(create=False)
        try:
            if not self._has_table(con):
                return None
            (store_id,) = con.execute("select value from store_info where key = 'store_id'").fetchone()
            hwm, n = con.execute(f"select coalesce(max(seq), 0), count(*) from {self.TABLE}").fetchone()
        finally:
            con.close()
        return StoreState(store_id=store_id, high_water_mark=int(hwm), events=int(n))

    def read_after(self, seq: int, limit: int = 5000) -> list[dict[str, Any]]:
        """Rows with ``seq`` greater than ``seq``, oldest first, at most ``limit`` of them."""
        if not self.exists():
            return []
        con = self._open(create=False)
        try:
            if not self._has_table(con):  # a store created before this table existed
                return []
            con.row_factory = sqlite3.Row
            rows = con.execute(
                f"select {', '.join(self.COLUMNS)} from {self.TABLE} where seq > ? order by seq limit ?",
                [int(seq), int(limit)],
            ).fetchall()
        finally:
            con.close()
        return [dict(r) for r in rows]


class WebhookStore(InboundStore):
    """Append and read webhook events."""

    TABLE = "webhook_events"
    COLUMNS = EVENT_COLUMNS

    def append(self, events: Iterable[WebhookEvent], delivery_id: str, received_at: datetime | None = None) -> AppendResult:
        """Store the events of one delivery in one transaction; events already stored are skipped."""
        events = list(events)
        received = _utc_iso(received_at or datetime.now(timezone.utc))
        for e in events:
            if e.platform not in PLATFORMS:
                raise ValueError(f"unknown webhook platform {e.platform!r}; expected one of {PLATFORMS}")
        stored = self._insert(
            """insert or ignore into webhook_events
               (platform, event_id, delivery_id, received_at, object, field, action,
                account_id, post_id, entity_id, event_time, payload)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
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
                ]
                for e in events
            ],
        )
        return AppendResult(received=len(events), stored=stored)


class AuditStore(InboundStore):
    """Append and read the API's audit records (``api_audit``), in the same file as the webhook events."""

    TABLE = "api_audit"
    COLUMNS = AUDIT_COLUMNS

    def append(self, records: Iterable[AuditRecord]) -> int:
        """Store ``records`` in one transaction (all or none); returns how many were stored."""
        records = list(records)
        if not records:
            return 0
        return self._insert(
            """insert into api_audit
               (requested_at, key_id, workspace_id, method, route, status, response_bytes, duration_ms, client_addr)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                [
                    _utc_iso(r.requested_at),
                    r.key_id,
                    r.workspace_id,
                    r.method,
                    r.route,
                    r.status,
                    int(r.response_bytes),
                    float(r.duration_ms),
                    r.client_addr,
                ]
                for r in records
            ],
        )


class FeedbackStore(InboundStore):
    """Store and read users' decisions on recommendations (``recommendation_feedback``), one per recommendation."""

    TABLE = "recommendation_feedback"
    COLUMNS = FEEDBACK_STORE_COLUMNS
    _FIELDS = FEEDBACK_STORE_COLUMNS[1:]  # what a record brings; seq is the store's
    _LOOKUP_BATCH = 500  # ids per query: far below SQLite's limit on bound parameters

    def record(self, feedback: FeedbackRecord) -> tuple[FeedbackRecord, bool]:
        """Store ``feedback`` unless its recommendation holds a decision already. Returns the stored record
        (this one, or the decision stored first, which this call leaves as it is) and whether it was stored
        now. One transaction: of two calls racing on one recommendation, exactly one stores its record and
        both return that record."""
        if feedback.decision not in FEEDBACK_DECISIONS:
            raise ValueError(f"unknown decision {feedback.decision!r}; expected one of {tuple(FEEDBACK_DECISIONS)}")
        row = {f: getattr(feedback, f) for f in self._FIELDS}
        row["received_at"] = _utc_iso(feedback.received_at)
        lookup = f"select {', '.join(self.COLUMNS)} from {self.TABLE} where recommendation_id = ?"
        with self._writing() as con:  # the write lock before the read: no other writer between the two
            stored = con.execute(lookup, [feedback.recommendation_id]).fetchone()
            created = stored is None
            if created:  # (the unique recommendation_id stands behind this, should a writer ever skip the lock)
                con.execute(
                    f"insert into {self.TABLE} ({', '.join(self._FIELDS)}) "
                    f"values ({', '.join('?' for _ in self._FIELDS)})",
                    [row[f] for f in self._FIELDS],
                )
                stored = con.execute(lookup, [feedback.recommendation_id]).fetchone()
        return self._record(dict(zip(self.COLUMNS, stored))), created

    def decisions(self, recommendation_ids: Iterable[str]) -> dict[str, FeedbackRecord]:
        """The stored decision of each of ``recommendation_ids`` that has one (id -> record)."""
        ids = sorted({str(i) for i in recommendation_ids})
        if not ids or not self.exists():
            return {}
        con = self._open(create=False)
        try:
            if not self._has_table(con):  # a store created before this table existed
                return {}
            found = {}
            for start in range(0, len(ids), self._LOOKUP_BATCH):
                batch = ids[start : start + self._LOOKUP_BATCH]
                for values in con.execute(
                    f"select {', '.join(self.COLUMNS)} from {self.TABLE} "
                    f"where recommendation_id in ({', '.join('?' for _ in batch)})",
                    batch,
                ):
                    record = self._record(dict(zip(self.COLUMNS, values)))
                    found[record.recommendation_id] = record
        finally:
            con.close()
        return found

    def decision(self, recommendation_id: str) -> FeedbackRecord | None:
        """The stored decision on ``recommendation_id``, if any."""
        return self.decisions([recommendation_id]).get(recommendation_id)

    @staticmethod
    def _record(row: dict[str, Any]) -> FeedbackRecord:
        received = datetime.fromisoformat(row.pop("received_at")).replace(tzinfo=timezone.utc)
        return FeedbackRecord(received_at=received, **row)


__all__ = [
    "AUDIT_COLUMNS",
    "EVENT_COLUMNS",
    "FEEDBACK_STORE_COLUMNS",
    "PLATFORMS",
    "AppendResult",
    "AuditRecord",
    "AuditStore",
    "FeedbackRecord",
    "FeedbackStore",
    "InboundStore",
    "StoreState",
    "WebhookEvent",
    "WebhookStore",
    "new_feedback_id",
]
