"""The API's own append-only store: a small SQLite database in WAL mode, with these tables.

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
* ``insight_acknowledgements`` (:class:`InsightAcknowledgementStore`): one acknowledgement per insight, the first
  stored wins (the same rule, :class:`FirstWinsStore`), copied by ``raw_insight_acknowledgements``.
* ``privacy_requests`` and ``privacy_request_events`` (:class:`PrivacyRequestStore`): GDPR export and erasure
  requests and their status; the erasure of a person is the store's one deletion path (recorded in
  ``privacy_store_erasures``).
* ``privacy_erased_subjects`` and ``privacy_discards`` (:class:`ErasedSubjects`): whom the store was asked to erase
  (a hash salted with the store's own secret, never the id) and what its writers discarded for naming them since:
  from the moment an erasure is taken, every writer of a table that can name a person (``PRIVACY_SEARCHED_TABLES``)
  checks its rows inside its own transaction and stores none that names an erased person.

The tables share the file, its ``store_id`` and these rules:

* Append-only: triggers refuse UPDATE and DELETE, so a stored row can never be lost or altered.
* Atomic per call: all rows of one ``append`` are stored in one transaction, or none.
* ``store_id`` (random, written when the file is created) tells readers when the file was replaced,
  so a cursor from an older file is never applied to a new one.

No dagster or FastAPI imports: the Dagster side reads the store with these same classes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import sqlite3
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from analytics_assets.contracts.privacy import (
    FAILED as _PRIVACY_FAILED,
    PENDING as _PRIVACY_PENDING,
    REQUEST_KINDS as _PRIVACY_KINDS,
    REQUEST_STATUSES as _PRIVACY_STATUSES,
    check_request_id as _check_privacy_request_id,
    check_user_id as _check_privacy_user_id,
    new_request_id as _new_privacy_request_id,
)
from analytics_assets.contracts.recommendations import FEEDBACK_COLUMNS, FEEDBACK_DECISIONS
from analytics_assets.contracts.sqlite_wal import use_wal

PLATFORMS = ("meta", "linkedin")

def _append_only_trigger(table: str, verb: str, if_not_exists: bool = True) -> str:
    """The trigger refusing every ``verb`` (update or delete) on ``table``: the store's tables are append-only, and
    only a privacy erasure lifts the delete trigger, inside its own transaction (``PrivacyRequestStore._lifting``)."""
    exists = "if not exists " if if_not_exists else ""
    return (
        f"create trigger {exists}{table}_no_{verb} before {verb} on {table} "
        f"begin select raise(abort, '{table} is append-only'); end;\n"
    )


def _append_only(*tables: str) -> str:
    """The update and delete triggers of each of ``tables``, to run after the script creating them."""
    return "".join(_append_only_trigger(t, verb) for t in tables for verb in ("update", "delete"))


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
    discarded: int = 0  # naming an erased person (ErasedSubjects): never stored

    @property
    def duplicates(self) -> int:
        return self.received - self.stored - self.discarded


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
        use_wal(con, self.timeout_s)
        con.execute("pragma synchronous = full")
        # every table, whichever class creates the file: one schema
        con.executescript(_SCHEMA + _append_only("webhook_events", "api_audit", "recommendation_feedback"))
        con.executescript(_ERASED_SCHEMA + _append_only(ERASED_SUBJECTS_TABLE, PRIVACY_DISCARDS_TABLE))
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
        sql = """insert or ignore into webhook_events
               (platform, event_id, delivery_id, received_at, object, field, action,
                account_id, post_id, entity_id, event_time, payload)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
        rows = [
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
        ]
        with self._writing() as con:
            # the payload is what erase_naming searches: a row it would erase is never stored
            erased = ErasedSubjects.matcher(con)
            kept, discards = ErasedSubjects.split(rows, lambda row: erased.naming(row[-1]))
            ErasedSubjects.record_discards(con, self.TABLE, discards)
            stored = sum(con.execute(sql, row).rowcount for row in kept)
        return AppendResult(received=len(events), stored=stored, discarded=len(rows) - len(kept))


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


class FirstWinsStore(InboundStore):
    """A table with at most one row per ``KEY`` value (a recommendation's decision, an insight's acknowledgement):
    the first stored wins, and storing again returns it. Subclasses name ``KEY`` and the frozen dataclass of a
    row, ``RECORD`` (its fields: the columns, ``received_at`` a UTC datetime)."""

    KEY: ClassVar[str]
    RECORD: ClassVar[type]
    _LOOKUP_BATCH = 500  # keys per query: far below SQLite's limit on bound parameters

    def _from_row(self, row: dict[str, Any]) -> Any:
        received = datetime.fromisoformat(row.pop("received_at")).replace(tzinfo=timezone.utc)
        return self.RECORD(received_at=received, **row)

    def _store_first(self, record: Any) -> tuple[Any, bool]:
        """Store ``record`` unless its key holds a row already. Returns the stored record (this one, or the one
        stored first, which this call leaves as it is) and whether it was stored now. One transaction: of two
        calls racing on one key, exactly one stores its record and both return that record."""
        fields = self.COLUMNS[1:]  # what a record brings; seq is the store's
        row = {f: getattr(record, f) for f in fields}
        row["received_at"] = _utc_iso(record.received_at)
        lookup = f"select {', '.join(self.COLUMNS)} from {self.TABLE} where {self.KEY} = ?"
        key = getattr(record, self.KEY)
        with self._writing() as con:  # the write lock before the read: no other writer between the two
            stored = con.execute(lookup, [key]).fetchone()
            created = stored is None
            if created:  # (the unique key stands behind this, should a writer ever skip the lock)
                row = self._admit(con, row)
                con.execute(
                    f"insert into {self.TABLE} ({', '.join(fields)}) values ({', '.join('?' for _ in fields)})",
                    [row[f] for f in fields],
                )
                stored = con.execute(lookup, [key]).fetchone()
        return self._from_row(dict(zip(self.COLUMNS, stored))), created

    def _admit(self, con: sqlite3.Connection, row: dict[str, Any]) -> dict[str, Any]:
        """The row as it is stored, inside the storing transaction (a subclass removes what must not be kept)."""
        return row

    def _stored_for(self, keys: Iterable[str]) -> dict[str, Any]:
        """The stored record of each of ``keys`` that has one (key -> record)."""
        wanted = sorted({str(k) for k in keys})
        if not wanted or not self.exists():
            return {}
        con = self._open(create=False)
        try:
            if not self._has_table(con):  # a store created before this table existed
                return {}
            found = {}
            for start in range(0, len(wanted), self._LOOKUP_BATCH):
                batch = wanted[start : start + self._LOOKUP_BATCH]
                for values in con.execute(
                    f"select {', '.join(self.COLUMNS)} from {self.TABLE} "
                    f"where {self.KEY} in ({', '.join('?' for _ in batch)})",
                    batch,
                ):
                    record = self._from_row(dict(zip(self.COLUMNS, values)))
                    found[getattr(record, self.KEY)] = record
        finally:
            con.close()
        return found


class FeedbackStore(FirstWinsStore):
    """Store and read users' decisions on recommendations (``recommendation_feedback``), one per recommendation."""

    TABLE = "recommendation_feedback"
    COLUMNS = FEEDBACK_STORE_COLUMNS
    KEY = "recommendation_id"
    RECORD = FeedbackRecord

    def record(self, feedback: FeedbackRecord) -> tuple[FeedbackRecord, bool]:
        """Store ``feedback`` unless its recommendation holds a decision already (``FirstWinsStore``)."""
        if feedback.decision not in FEEDBACK_DECISIONS:
            raise ValueError(f"unknown decision {feedback.decision!r}; expected one of {tuple(FEEDBACK_DECISIONS)}")
        return self._store_first(feedback)

    def _admit(self, con: sqlite3.Connection, row: dict[str, Any]) -> dict[str, Any]:
        # the decision is kept (it names a recommendation, nobody); the user's words lose an erased person's id
        erased = ErasedSubjects.matcher(con)
        scrubbed = {c: erased.scrub(row.get(c)) for c in PRIVACY_SEARCHED_TABLES[self.TABLE]}
        erasures = {request_id for _, request_id in scrubbed.values() if request_id is not None}
        if not erasures:
            return row
        ErasedSubjects.record_discards(
            con, self.TABLE, [Discard(min(erasures), row.get("workspace_id"), row.get("key_id"))]
        )
        return {**row, **{c: text for c, (text, _) in scrubbed.items()}}

    def decisions(self, recommendation_ids: Iterable[str]) -> dict[str, FeedbackRecord]:
        """The stored decision of each of ``recommendation_ids`` that has one (id -> record)."""
        return self._stored_for(recommendation_ids)

    def decision(self, recommendation_id: str) -> FeedbackRecord | None:
        """The stored decision on ``recommendation_id``, if any."""
        return self.decisions([recommendation_id]).get(recommendation_id)


# ---------------------------------------------------------------------------------------------------
# Acknowledgements of insights (POST /v1/insights/{insight_id}/acknowledge)
# ---------------------------------------------------------------------------------------------------

INSIGHT_ACK_TABLE = "insight_acknowledgements"
# as the store keeps them; the copy into raw.raw_insight_acknowledgements adds store_id, store_seq (this seq)
# and loaded_at (INSIGHT_ACK_RAW_COLUMNS)
INSIGHT_ACK_COLUMNS = (
    "seq", "acknowledgement_id", "insight_id", "platform", "account_id", "workspace_id", "key_id", "note", "received_at",
)
INSIGHT_ACK_RAW_COLUMNS = {
    "store_id": "VARCHAR",
    "store_seq": "BIGINT",
    "acknowledgement_id": "VARCHAR",
    "insight_id": "VARCHAR",
    "platform": "VARCHAR",
    "account_id": "VARCHAR",
    "workspace_id": "VARCHAR",
    "key_id": "VARCHAR",
    "note": "VARCHAR",
    "received_at": "TIMESTAMP",
    "loaded_at": "TIMESTAMP",
}
_INSIGHT_ACK_SCHEMA = f"""
create table if not exists {INSIGHT_ACK_TABLE} (
    seq                 integer primary key autoincrement,
    acknowledgement_id  text not null unique,
    insight_id          text not null unique,
    platform            text not null,
    account_id          text not null,
    workspace_id        text,
    key_id              text,
    note                text,
    received_at         text not null
);
"""


@dataclass(frozen=True)
class InsightAcknowledgement:
    """A workspace saw an insight (one of its accounts' rows of the served insights) and took note of it."""

    acknowledgement_id: str  # ack_<32 hex> (new_acknowledgement_id), returned to the caller
    insight_id: str  # the served insight (ins_<24 hex>): one account's finding
    platform: str  # the insight's account, as served when it was acknowledged
    account_id: str
    received_at: datetime  # when the API took it (UTC; a naive value is taken as UTC)
    workspace_id: str | None = None  # who: the key's workspace and public key id
    key_id: str | None = None
    note: str | None = None  # the user's words
    seq: int | None = None  # the store's, once stored


def new_acknowledgement_id() -> str:
    return "ack_" + uuid.uuid4().hex


class InsightAcknowledgementStore(FirstWinsStore):
    """Store and read acknowledgements of insights (``insight_acknowledgements``), one per insight: the first
    stored wins, and acknowledging again returns it (the store's ``insight_id`` is unique)."""

    TABLE = INSIGHT_ACK_TABLE
    COLUMNS = INSIGHT_ACK_COLUMNS
    KEY = "insight_id"
    RECORD = InsightAcknowledgement

    def _create(self, con: sqlite3.Connection) -> None:
        super()._create(con)
        # beside the shared tables, in the same file
        con.executescript(_INSIGHT_ACK_SCHEMA + _append_only(INSIGHT_ACK_TABLE))

    def record(self, ack: InsightAcknowledgement) -> tuple[InsightAcknowledgement, bool]:
        """Store ``ack`` unless its insight was acknowledged already (``FirstWinsStore``)."""
        return self._store_first(ack)

    def acknowledgements(self, insight_ids: Iterable[str]) -> dict[str, InsightAcknowledgement]:
        """The stored acknowledgement of each of ``insight_ids`` that has one (id -> acknowledgement)."""
        return self._stored_for(insight_ids)


# ---------------------------------------------------------------------------------------------------
# Privacy (GDPR) requests: export or erase one person's data (POST /v1/privacy/exports, .../erasures)
# ---------------------------------------------------------------------------------------------------


PRIVACY_REQUEST_TABLE = "privacy_requests"
PRIVACY_REQUEST_COLUMNS = (
    "seq", "request_id", "kind", "user_id", "workspace_id", "property_ids", "key_id", "requested_at",
)
# the tables of the API's store whose rows can name a person: (table, the columns searched for the user id)
PRIVACY_SEARCHED_TABLES = {
    "webhook_events": ("payload",), "recommendation_feedback": ("reason", "applied_details"),
    "tracked_events": ("event",),  # a tracked event names its visitor (user_id) in its JSON
}
_PRIVACY_SCHEMA = f"""
create table if not exists {PRIVACY_REQUEST_TABLE} (
    seq           integer primary key autoincrement,
    request_id    text not null unique,
    kind          text not null check (kind in ({", ".join(f"'{k}'" for k in _PRIVACY_KINDS)})),
    user_id       text not null,
    workspace_id  text,
    property_ids  text not null,
    key_id        text,
    requested_at  text not null
);
create table if not exists privacy_request_events (
    seq          integer primary key autoincrement,
    request_id   text not null,
    status       text not null check (status in ({", ".join(f"'{s}'" for s in _PRIVACY_STATUSES)})),
    at           text not null,
    detail       text,
    export_path  text
);
create table if not exists privacy_store_erasures (
    seq         integer primary key autoincrement,
    request_id  text not null,
    table_name  text not null,
    rows        integer not null,
    at          text not null
);
"""


@dataclass(frozen=True)
class PrivacyRequest:
    """A request to export or erase one person's data (``contracts.privacy``), with its newest status."""

    request_id: str  # era_/exp_ + 32 hex (contracts.privacy.new_request_id)
    kind: str  # erasure or export
    user_id: str  # the pseudonymous id; once an erasure is done, replaced by "sha256:" + its salted hash
    property_ids: tuple[str, ...]  # the web properties it covers (the workspace's, when it was taken)
    requested_at: datetime
    workspace_id: str | None = None
    key_id: str | None = None
    status: str = _PRIVACY_PENDING
    status_at: datetime | None = None
    detail: dict[str, Any] | None = None  # done: counts per table and file; failed: the error
    export_path: str | None = None
    attempts: int = 0  # runs that failed so far
    seq: int | None = None


class PrivacyRequestStore(InboundStore):
    """Take privacy requests and keep their status (``privacy_requests`` + ``privacy_request_events``, both
    append-only), and the one deletion path of the API's store: rows that name an erased person are removed in a
    transaction that lifts the append-only trigger for that statement only and records what it removed
    (``privacy_store_erasures``)."""

    TABLE = PRIVACY_REQUEST_TABLE
    COLUMNS = PRIVACY_REQUEST_COLUMNS

    def _create(self, con: sqlite3.Connection) -> None:
        super()._create(con)
        # beside the shared tables, in the same file
        con.executescript(_PRIVACY_SCHEMA + _append_only(PRIVACY_REQUEST_TABLE, "privacy_request_events"))

    def submit(
        self,
        kind: str,
        user_id: str,
        property_ids: Iterable[str],
        *,
        workspace_id: str | None = None,
        key_id: str | None = None,
        requested_at: datetime | None = None,
    ) -> PrivacyRequest:
        """Store a new request (ValueError on a bad kind, user id or an empty set of properties)."""
        _check_privacy_user_id(user_id)
        request_id = _new_privacy_request_id(kind)
        properties = sorted({str(p) for p in property_ids})
        if not properties:
            raise ValueError("a privacy request covers at least one web property")
        at = requested_at or datetime.now(timezone.utc)
        with self._writing() as con:
            con.execute(
                f"insert into {self.TABLE} (request_id, kind, user_id, workspace_id, property_ids, key_id, requested_at) "
                "values (?, ?, ?, ?, ?, ?, ?)",
                [request_id, kind, user_id, workspace_id, json.dumps(properties), key_id, _utc_iso(at)],
            )
            if kind == "erasure":  # from now on no writer of the store takes a row naming them
                ErasedSubjects.remember(con, user_id, request_id)
        found = self.get(request_id)
        assert found is not None
        return found

    def mark(
        self,
        request_id: str,
        status: str,
        detail: dict[str, Any] | None = None,
        export_path: str | None = None,
        redact_user_as: str | None = None,
    ) -> None:
        """Append a status to ``request_id``. ``redact_user_as`` (a done erasure): the request's user id is
        replaced by that salted hash in the same transaction, so the store no longer holds the id in clear."""
        if status not in _PRIVACY_STATUSES:
            raise ValueError(f"unknown privacy request status {status!r}")
        with self._writing() as con:
            con.execute(
                "insert into privacy_request_events (request_id, status, at, detail, export_path) values (?, ?, ?, ?, ?)",
                [request_id, status, _utc_iso(datetime.now(timezone.utc)),
                 None if detail is None else json.dumps(detail, sort_keys=True, default=str), export_path],
            )
            if redact_user_as is not None:  # this request and the workspace's other ones of the person (exports)
                # (an erasure taken before the store had a door: remembered now, while the id is still here)
                (user_id,) = con.execute(f"select user_id from {self.TABLE} where request_id = ?", [request_id]).fetchone()
                if not user_id.startswith("sha256:"):
                    ErasedSubjects.remember(con, user_id, request_id)
                con.execute("pragma secure_delete = on")  # the old values' bytes are zeroed, not left in free pages
                self._lifting(con, self.TABLE, "update", lambda: con.execute(
                    f"update {self.TABLE} set user_id = ? where (user_id, coalesce(workspace_id, '')) = "
                    f"(select user_id, coalesce(workspace_id, '') from {self.TABLE} where request_id = ?)",
                    ["sha256:" + redact_user_as, request_id],
                ))
        if redact_user_as is not None:
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Move the write-ahead log into the database file and empty it, so no earlier version of a changed row
        stays in the log."""
        con = self._open(create=False)
        try:
            con.execute("pragma wal_checkpoint(truncate)")
        finally:
            con.close()

    def open_for(self, kind: str, user_id: str, workspace_id: str | None) -> PrivacyRequest | None:
        """The newest request of ``kind`` for ``user_id`` from ``workspace_id`` not carried out yet (pending or
        running), if any: a retried request is answered with it rather than taken twice."""
        mine = [
            r for r in self._requests("kind = ? and user_id = ?", [kind, _check_privacy_user_id(user_id)])
            if r.workspace_id == workspace_id and r.status in (_PRIVACY_PENDING, "running")
        ]
        return mine[-1] if mine else None

    def of_user(self, user_id: str) -> list[PrivacyRequest]:
        """Every request naming ``user_id`` (in clear: not yet redacted by a done erasure)."""
        return self._requests("user_id = ?", [_check_privacy_user_id(user_id)])

    # -- reading --------------------------------------------------------------------------------

    def _requests(self, where: str, params: Sequence[Any]) -> list[PrivacyRequest]:
        if not self.exists():
            return []
        con = self._open(create=False)
        try:
            if not self._has_table(con):
                return []
            rows = con.execute(
                f"select {', '.join(self.COLUMNS)} from {self.TABLE} where {where} order by seq", list(params)
            ).fetchall()
            out = []
            for values in rows:
                row = dict(zip(self.COLUMNS, values))
                events = con.execute(
                    "select status, at, detail, export_path from privacy_request_events where request_id = ? order by seq",
                    [row["request_id"]],
                ).fetchall()
                out.append(self._request(row, events))
        finally:
            con.close()
        return out

    @staticmethod
    def _request(row: dict[str, Any], events: list[tuple]) -> PrivacyRequest:
        status, status_at, detail, export_path = (events[-1] if events else (_PRIVACY_PENDING, None, None, None))
        return PrivacyRequest(
            request_id=row["request_id"],
            kind=row["kind"],
            user_id=row["user_id"],
            property_ids=tuple(json.loads(row["property_ids"])),
            requested_at=datetime.fromisoformat(row["requested_at"]).replace(tzinfo=timezone.utc),
            workspace_id=row["workspace_id"],
            key_id=row["key_id"],
            status=status,
            status_at=None if status_at is None else datetime.fromisoformat(status_at).replace(tzinfo=timezone.utc),
            detail=None if detail is None else json.loads(detail),
            export_path=export_path,
            attempts=sum(1 for e in events if e[0] == _PRIVACY_FAILED),
            seq=row["seq"],
        )

    def get(self, request_id: str) -> PrivacyRequest | None:
        """The request with its newest status; None for an unknown or malformed id."""
        try:
            _check_privacy_request_id(request_id)
        except ValueError:
            return None
        found = self._requests("request_id = ?", [request_id])
        return found[0] if found else None

    def erasures_after(self, seq: int) -> list[PrivacyRequest]:
        """The erasure requests stored past ``seq``, oldest first (``privacy_rebuild_sensor``'s cursor)."""
        return self._requests("kind = 'erasure' and seq > ?", [int(seq)])

    def open_requests(self, max_attempts: int = 3) -> list[PrivacyRequest]:
        """Requests not done yet, oldest first: pending ones and failed ones with attempts left."""
        return [
            r for r in self._requests("true", [])
            if r.status == _PRIVACY_PENDING or (r.status == _PRIVACY_FAILED and r.attempts < max_attempts)
        ]

    # -- the rows that name a person ------------------------------------------------------------

    @staticmethod
    def _names(text: str | None, user_id: str) -> bool:
        """Whether ``text`` holds ``user_id`` as a whole token (not as a part of a longer id)."""
        if not text:
            return False
        edge = r"A-Za-z0-9_.:@+\-"
        return re.search(rf"(?<![{edge}]){re.escape(user_id)}(?![{edge}])", text) is not None

    def naming(self, user_id: str) -> dict[str, list[dict[str, Any]]]:
        """The rows of the searched tables (``PRIVACY_SEARCHED_TABLES``) that name ``user_id``: table -> rows."""
        _check_privacy_user_id(user_id)
        if not self.exists():
            return {}
        con = self._open(create=False)
        try:
            con.row_factory = sqlite3.Row
            tables = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
            found: dict[str, list[dict[str, Any]]] = {}
            for table, columns in PRIVACY_SEARCHED_TABLES.items():
                if table not in tables:
                    continue
                # instr narrows in SQL, the token match decides (anon_1 must not match anon_12)
                rows = con.execute(
                    f"select * from {table} where " + " or ".join(f"instr(coalesce({c}, ''), ?) > 0" for c in columns),
                    [user_id] * len(columns),
                ).fetchall()
                hits = [dict(r) for r in rows if any(self._names(r[c], user_id) for c in columns)]
                if hits:
                    found[table] = hits
        finally:
            con.close()
        return found

    @staticmethod
    def _lifting(con: sqlite3.Connection, table: str, verb: str, change: Any) -> None:
        """Run ``change`` with ``table``'s append-only ``verb`` trigger lifted, inside the caller's transaction:
        the trigger is back before the commit (SQLite DDL is transactional), and any error rolls all back."""
        trigger = f"{table}_no_{verb}"
        con.execute(f"drop trigger if exists {trigger}")
        change()
        con.execute(_append_only_trigger(table, verb, if_not_exists=False))

    def erase_naming(self, user_id: str, request_id: str) -> dict[str, int]:
        """Delete every row of the searched tables that names ``user_id``, in one transaction recorded in
        ``privacy_store_erasures``; returns the rows removed per table (none found: nothing is written)."""
        found = self.naming(user_id)
        removed: dict[str, int] = {}
        if not found:
            return removed
        now = _utc_iso(datetime.now(timezone.utc))
        with self._writing() as con:
            con.execute("pragma secure_delete = on")  # the deleted rows' bytes are zeroed, not left in free pages
            for table, rows in found.items():
                seqs = [r["seq"] for r in rows]
                counted: list[int] = []
                self._lifting(con, table, "delete", lambda: counted.append(con.execute(
                    f"delete from {table} where seq in ({', '.join('?' for _ in seqs)})", seqs
                ).rowcount))
                removed[table] = counted[0]
                con.execute(
                    "insert into privacy_store_erasures (request_id, table_name, rows, at) values (?, ?, ?, ?)",
                    [request_id, table, counted[0], now],
                )
        self._checkpoint()
        return removed



# ---------------------------------------------------------------------------------------------------
# Erased people at the store's door: whom the store was asked to erase, and what it discarded since
# ---------------------------------------------------------------------------------------------------

ERASED_SUBJECTS_TABLE = "privacy_erased_subjects"
PRIVACY_DISCARDS_TABLE = "privacy_discards"
ERASED_MARK = "[erased]"  # what an erased person's id becomes in the words of a decision that is kept
_STORE_SALT_KEY = "privacy_salt"  # store_info: the secret salt of the store's subject hashes
# a whole id is a maximal run of these (the edges of PrivacyRequestStore._names): anon_1 is not in anon_12
_ID_TOKEN = re.compile(r"[A-Za-z0-9_.:@+\-]+")
_MAX_ID_CHARS = 128  # contracts.privacy's user ids: a longer run is no one's id
_ERASED_SCHEMA = f"""
create table if not exists {ERASED_SUBJECTS_TABLE} (
    seq           integer primary key autoincrement,
    subject_hash  text not null unique,
    request_id    text not null,
    at            text not null
);
create table if not exists {PRIVACY_DISCARDS_TABLE} (
    seq           integer primary key autoincrement,
    at            text not null,
    source        text not null,
    request_id    text not null,
    workspace_id  text,
    key_id        text,
    items         integer not null
);
"""


@dataclass(frozen=True)
class Discard:
    """One row not stored (or stored without the person's id) because it named an erased person."""

    request_id: str  # the erasure that keeps them out
    workspace_id: str | None = None
    key_id: str | None = None


class ErasedMatcher:
    """The erased people of a store as of one transaction: finds them in a row's text, by whole id."""

    def __init__(self, salt: str | None, erasures: Mapping[str, str]):
        self._salt = salt
        self._erasures = erasures  # subject hash -> the erasure's request id

    def _erasure_of(self, token: str) -> str | None:
        if len(token) > _MAX_ID_CHARS or not token[0].isalnum():  # an id starts with a letter or digit
            return None
        return self._erasures.get(ErasedSubjects.subject_hash(self._salt or "", token))

    def naming(self, text: str | None) -> str | None:
        """The erasure of a person ``text`` names, if any."""
        if not text or not self._erasures:
            return None
        for token in set(_ID_TOKEN.findall(text)):
            found = self._erasure_of(token)
            if found is not None:
                return found
        return None

    def scrub(self, text: str | None) -> tuple[str | None, str | None]:
        """``text`` with each erased person's id replaced by ``ERASED_MARK``, and an erasure it named (or None)."""
        found = self.naming(text)
        if found is None or text is None:
            return text, None
        return _ID_TOKEN.sub(lambda m: ERASED_MARK if self._erasure_of(m.group()) else m.group(), text), found


class ErasedSubjects:
    """``privacy_erased_subjects``: one row per person the store was asked to erase, from the moment the erasure is
    taken, as ``sha256(salt:user_id)`` with a salt of the store's own (``store_info``): the API checks payloads
    against it without the warehouse (whose salt it never sees) and without keeping the id. ``privacy_discards``:
    the audit of what was not stored because of it (source table, the erasure's request id, rows; never the id).
    Both append-only. Every method runs inside the caller's write transaction."""

    @staticmethod
    def subject_hash(salt: str, user_id: str) -> str:
        return hashlib.sha256(f"{salt}:{user_id}".encode()).hexdigest()

    @staticmethod
    def _salt(con: sqlite3.Connection, create: bool) -> str | None:
        found = con.execute("select value from store_info where key = ?", [_STORE_SALT_KEY]).fetchone()
        if found is not None or not create:
            return None if found is None else found[0]
        salt = secrets.token_hex(32)
        con.execute("insert into store_info (key, value) values (?, ?)", [_STORE_SALT_KEY, salt])
        return salt

    @classmethod
    def remember(cls, con: sqlite3.Connection, user_id: str, request_id: str) -> None:
        salt = cls._salt(con, create=True)
        assert salt is not None
        con.execute(
            f"insert or ignore into {ERASED_SUBJECTS_TABLE} (subject_hash, request_id, at) values (?, ?, ?)",
            [cls.subject_hash(salt, user_id), request_id, _utc_iso(datetime.now(timezone.utc))],
        )

    @classmethod
    def matcher(cls, con: sqlite3.Connection) -> ErasedMatcher:
        salt = cls._salt(con, create=False)
        erasures = dict(con.execute(f"select subject_hash, request_id from {ERASED_SUBJECTS_TABLE}").fetchall())
        return ErasedMatcher(salt, erasures if salt is not None else {})

    @staticmethod
    def split(rows: Sequence[Any], naming: Any, who: Discard | None = None) -> tuple[list[Any], list[Discard]]:
        """``rows`` without those ``naming(row)`` finds an erasure in, and a ``Discard`` for each of those."""
        kept, discards = [], []
        for row in rows:
            request_id = naming(row)
            if request_id is None:
                kept.append(row)
            else:
                discards.append(Discard(request_id, who.workspace_id if who else None, who.key_id if who else None))
        return kept, discards

    @staticmethod
    def record_discards(con: sqlite3.Connection, source: str, discards: Iterable[Discard]) -> None:
        counts: dict[Discard, int] = {}
        for d in discards:
            counts[d] = counts.get(d, 0) + 1
        at = _utc_iso(datetime.now(timezone.utc))
        for d, n in counts.items():
            con.execute(
                f"insert into {PRIVACY_DISCARDS_TABLE} (at, source, request_id, workspace_id, key_id, items) "
                "values (?, ?, ?, ?, ?, ?)",
                [at, source, d.request_id, d.workspace_id, d.key_id, n],
            )


# ---------------------------------------------------------------------------------------------------
# Tracked events (POST /v1/events): touchpoints, conversions, AI generations, experiment exposures
# ---------------------------------------------------------------------------------------------------

TRACKED_EVENTS_TABLE = "tracked_events"
TRACKED_EVENT_COLUMNS = ("seq", "workspace_id", "event_id", "type", "key_id", "received_at", "event")
_TRACKED_EVENTS_SCHEMA = f"""
create table if not exists {TRACKED_EVENTS_TABLE} (
    seq           integer primary key autoincrement,
    workspace_id  text not null,
    event_id      text not null,
    type          text not null,
    key_id        text,
    received_at   text not null,
    event         text not null,
    unique (workspace_id, event_id)
);
"""


@dataclass(frozen=True)
class TrackedEventRecord:
    """One validated tracked event (``contracts.events``) as the API stores it."""

    event_id: str  # chosen by the sender: unique per workspace
    type: str  # contracts.events.EVENT_TYPES
    event: str  # the validated event as compact JSON (contracts.events.event_json)


STORED, DUPLICATE, DISCARDED = "stored", "duplicate", "discarded"  # TrackedEventStore.append_checked


class TrackedEventStore(InboundStore):
    """Append and read tracked events (``tracked_events``), copied into the warehouse by ``raw_tracked_events``.
    Idempotent: ``(workspace_id, event_id)`` is unique and inserts are ``INSERT OR IGNORE``, so a resent event
    (or one twice in a batch) is stored once; a batch is stored in one transaction, all or none."""

    TABLE = TRACKED_EVENTS_TABLE
    COLUMNS = TRACKED_EVENT_COLUMNS

    def _create(self, con: sqlite3.Connection) -> None:
        super()._create(con)
        # beside the shared tables, in the same file
        con.executescript(_TRACKED_EVENTS_SCHEMA + _append_only(TRACKED_EVENTS_TABLE))

    def append(
        self, events: Iterable[TrackedEventRecord], workspace_id: str, key_id: str | None = None,
        received_at: datetime | None = None,
    ) -> list[bool]:
        """Store ``events`` in one transaction; returns, per event, whether it was stored now (False: a duplicate
        of one stored before or earlier in the batch, or an event naming an erased person)."""
        return [outcome == STORED for outcome in self.append_checked(events, workspace_id, key_id, received_at)]

    def append_checked(
        self, events: Iterable[TrackedEventRecord], workspace_id: str, key_id: str | None = None,
        received_at: datetime | None = None,
    ) -> list[str]:
        """Store ``events`` in one transaction; returns, per event, ``STORED`` (now), ``DUPLICATE`` (stored before
        or earlier in the batch) or ``DISCARDED`` (it names a person the store was asked to erase: not stored,
        counted in ``privacy_discards``)."""
        events = list(events)
        if not events:
            return []
        if not workspace_id:
            raise ValueError("a tracked event belongs to a workspace")
        received = _utc_iso(received_at or datetime.now(timezone.utc))
        sql = f"""insert or ignore into {TRACKED_EVENTS_TABLE}
                  (workspace_id, event_id, type, key_id, received_at, event) values (?, ?, ?, ?, ?, ?)"""
        with self._writing() as con:
            erased = ErasedSubjects.matcher(con)
            outcomes, discards = [], []
            for e in events:
                request_id = erased.naming(e.event)
                if request_id is not None:
                    outcomes.append(DISCARDED)
                    discards.append(Discard(request_id, workspace_id, key_id))
                    continue
                stored = con.execute(sql, [workspace_id, e.event_id, e.type, key_id, received, e.event]).rowcount == 1
                outcomes.append(STORED if stored else DUPLICATE)
            ErasedSubjects.record_discards(con, self.TABLE, discards)
            return outcomes

__all__ = [
    "AUDIT_COLUMNS",
    "EVENT_COLUMNS",
    "FEEDBACK_STORE_COLUMNS",
    "INSIGHT_ACK_COLUMNS",
    "INSIGHT_ACK_RAW_COLUMNS",
    "PLATFORMS",
    "PRIVACY_REQUEST_COLUMNS",
    "PRIVACY_SEARCHED_TABLES",
    "AppendResult",
    "AuditRecord",
    "AuditStore",
    "DISCARDED",
    "DUPLICATE",
    "Discard",
    "ERASED_MARK",
    "ERASED_SUBJECTS_TABLE",
    "ErasedMatcher",
    "ErasedSubjects",
    "PRIVACY_DISCARDS_TABLE",
    "STORED",
    "FeedbackRecord",
    "FeedbackStore",
    "FirstWinsStore",
    "InboundStore",
    "InsightAcknowledgement",
    "InsightAcknowledgementStore",
    "PrivacyRequest",
    "PrivacyRequestStore",
    "StoreState",
    "TRACKED_EVENT_COLUMNS",
    "TrackedEventRecord",
    "TrackedEventStore",
    "WebhookEvent",
    "WebhookStore",
    "new_acknowledgement_id",
    "new_feedback_id",
]
