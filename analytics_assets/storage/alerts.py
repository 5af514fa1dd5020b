"""The alerts Cycle raised: their own store (SQLite), and its copy in the warehouse, ``ops.alerts``.

Why a SQLite store first, not the warehouse: alerts are raised by sensors in the Dagster daemon and by
assets inside runs, at any moment. DuckDB allows one writing process per file and a reader's connection
blocks writers, so a sensor that opened the warehouse would stall or fail a run's write (or be stalled by
it, past its tick's timeout). SQLite in WAL mode with a busy timeout takes short writes from many processes
at once. So every alert is recorded where it is raised, in ``$CYCLE_HOME/ops/alerts.sqlite3``
(``CYCLE_ALERT_STORE``), owned by the alerting code only; the ``ops_alerts`` asset, in the warehouse pool
like every other writer, copies the whole store into ``ops.alerts`` (``write_alerts``): one table
replacement, so a rerun converges and never duplicates a row.

One incident, one alert: ``alert_id`` is the incident's dedup key (``run_failure:<run id>``,
``stale_source:<table>:<newest day>``, ...). ``claim`` either inserts a new incident or counts a re-seen one
(``last_seen_at``, ``occurrences``), in one ``BEGIN IMMEDIATE`` transaction, and tells its caller whether
to deliver: only the process that inserted the incident delivers it, so two processes raising the same
incident at once deliver it once. A delivery that failed is tried again when the incident is seen again,
up to ``MAX_DELIVERY_ATTEMPTS`` posts in all; a delivered one never again.

``seq`` orders the store's changes that matter to the warehouse copy (a new alert, a delivery's outcome;
not a re-sighting, which the next copy carries anyway): ``ops_alerts_sensor`` requests a copy when the
store's high-water mark passes the last copied one. An alert raised with ``wakes_sync=False`` (the failure
of the copy job itself) does not move it, so a failing copy cannot request itself forever.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from analytics_assets.contracts.sqlite_wal import use_wal
from analytics_assets.contracts.warehouse import ALERTS
from analytics_assets.settings import CycleSettings
from analytics_assets.storage.warehouse import replace_table

SEVERITIES = ("critical", "high", "medium", "low")

# delivery_status
PENDING = "pending"  # claimed by a process that is delivering it now
DELIVERED = "delivered"
FAILED = "failed"  # every attempt failed (or none was made: the webhook failed earlier in the same evaluation)
NOT_CONFIGURED = "not_configured"  # no webhook configured when it was raised: recorded only

# posts of one alert in all (each delivery makes at most 3: one try and 2 retries), after which a failed
# alert stays failed; and how long a PENDING claim may last before another process may deliver it (its
# deliverer died between the claim and the outcome)
MAX_DELIVERY_ATTEMPTS = 9
PENDING_EXPIRES = timedelta(minutes=10)

# ops.alerts: column -> DuckDB type
ALERT_COLUMNS = {
    "alert_id": "VARCHAR",
    "kind": "VARCHAR",
    "severity": "VARCHAR",
    "subject": "VARCHAR",
    "message": "VARCHAR",
    "first_seen_at": "TIMESTAMP",
    "last_seen_at": "TIMESTAMP",
    "occurrences": "INTEGER",
    "delivered_at": "TIMESTAMP",
    "delivery_status": "VARCHAR",
    "delivery_attempts": "INTEGER",
    "delivery_error": "VARCHAR",
    "details": "JSON",
}

_SCHEMA = """
create table if not exists alerts (
    alert_id text primary key,
    kind text not null,
    severity text not null,
    subject text not null,
    message text not null,
    details text not null,
    first_seen_at text not null,
    last_seen_at text not null,
    occurrences integer not null,
    delivery_status text not null,
    delivery_attempts integer not null default 0,
    delivered_at text,
    delivery_error text,
    attempted_at text,
    seq integer not null,
    wakes_sync integer not null default 1
);
create index if not exists alerts_seq on alerts (wakes_sync, seq);
create table if not exists meta (key text primary key, value text not null);
"""


def store_path(settings: CycleSettings) -> Path:
    """``CYCLE_ALERT_STORE``, else ``$CYCLE_HOME/ops/alerts.sqlite3``."""
    return (settings.alert_store or settings.cycle_home / "ops" / "alerts.sqlite3").expanduser().resolve()


def _ts(at: datetime) -> str:
    """UTC, naive, to the microsecond: sorts as text and casts to a DuckDB TIMESTAMP."""
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at.isoformat(sep=" ", timespec="microseconds")


@dataclass(frozen=True)
class Alert:
    alert_id: str
    kind: str
    severity: str
    subject: str
    message: str
    at: datetime
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"Unknown alert severity {self.severity!r}; one of {SEVERITIES}")
        if not self.alert_id:
            raise ValueError("An alert needs a dedup key")

    def details_json(self) -> str:
        return json.dumps(dict(self.details), sort_keys=True, default=str)


@dataclass(frozen=True)
class Claim:
    """What ``claim`` decided: ``new`` incident or not, and whether the caller must deliver it now."""

    alert_id: str
    new: bool
    deliver: bool
    occurrences: int
    delivery_status: str


@dataclass(frozen=True)
class StoreState:
    store_id: str
    high_water: int  # the newest seq of an alert that wakes the warehouse copy
    alerts: int


class AlertStore:
    """The alerts' SQLite file; every method opens a connection, does one short thing and closes it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # ------------------------------------------------------------------------------------- plumbing

    @contextlib.contextmanager
    def _connect(self, create: bool = True) -> Iterator[sqlite3.Connection]:
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise FileNotFoundError(self.path)
        con = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        try:
            con.row_factory = sqlite3.Row
            con.execute("pragma busy_timeout = 30000")
            if create:
                use_wal(con, 30)
                con.executescript(_SCHEMA)
                if con.execute("select 1 from meta where key = 'store_id'").fetchone() is None:
                    con.execute("insert or ignore into meta (key, value) values ('store_id', ?)", [uuid.uuid4().hex])
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: the write lock is taken at once, so a read-then-write is atomic."""
        with self._connect() as con:
            con.execute("begin immediate")
            try:
                yield con
            except BaseException:
                con.execute("rollback")
                raise
            con.execute("commit")

    @staticmethod
    def _next_seq(con: sqlite3.Connection) -> int:
        return int(con.execute("select coalesce(max(seq), 0) + 1 from alerts").fetchone()[0])

    # --------------------------------------------------------------------------------------- writes

    def claim(self, alert: Alert, deliverable: bool, wakes_sync: bool = True, now: datetime | None = None) -> Claim:
        """Record ``alert``: a new incident is inserted (to deliver if ``deliverable``); a known one gets
        ``last_seen_at`` and one more occurrence, and is delivered again only if its last delivery failed
        (or its deliverer vanished) and attempts remain."""
        now = now or datetime.now(timezone.utc)
        seen = _ts(now)
        with self._write() as con:
            row = con.execute(
                "select occurrences, delivery_status, delivery_attempts, attempted_at from alerts where alert_id = ?",
                [alert.alert_id],
            ).fetchone()
            if row is None:
                status = PENDING if deliverable else NOT_CONFIGURED
                con.execute(
                    """insert into alerts (alert_id, kind, severity, subject, message, details, first_seen_at,
                           last_seen_at, occurrences, delivery_status, attempted_at, seq, wakes_sync)
                       values (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)""",
                    [
                        alert.alert_id, alert.kind, alert.severity, alert.subject, alert.message,
                        alert.details_json(), _ts(alert.at), seen, status, _ts(now) if deliverable else None,
                        self._next_seq(con), int(wakes_sync),
                    ],
                )
                return Claim(alert.alert_id, new=True, deliver=deliverable, occurrences=1, delivery_status=status)
            status, attempts, attempted_at = row["delivery_status"], int(row["delivery_attempts"]), row["attempted_at"]
            abandoned = status == PENDING and (attempted_at is None or attempted_at < _ts(now - PENDING_EXPIRES))
            retry = deliverable and attempts < MAX_DELIVERY_ATTEMPTS and (status == FAILED or abandoned)
            occurrences = int(row["occurrences"]) + 1
            con.execute(
                """update alerts set last_seen_at = max(last_seen_at, ?), occurrences = ?,
                       delivery_status = ?, attempted_at = ? where alert_id = ?""",
                [seen, occurrences, PENDING if retry else status, _ts(now) if retry else attempted_at, alert.alert_id],
            )
            return Claim(
                alert.alert_id, new=False, deliver=retry, occurrences=occurrences,
                delivery_status=PENDING if retry else status,
            )

    def record_delivery(self, alert_id: str, delivered: bool, attempts: int, error: str | None, at: datetime | None = None) -> None:
        """The outcome of a delivery ``claim`` asked for."""
        at = at or datetime.now(timezone.utc)
        with self._write() as con:
            con.execute(
                """update alerts set delivery_status = ?, delivered_at = ?, delivery_attempts = delivery_attempts + ?,
                       delivery_error = ?, seq = ? where alert_id = ?""",
                [DELIVERED if delivered else FAILED, _ts(at) if delivered else None, attempts,
                 None if delivered else (error or "unknown error")[:2000], self._next_seq(con), alert_id],
            )

    # ---------------------------------------------------------------------------------------- reads

    def get(self, alert_id: str) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        with self._connect(create=False) as con:
            row = con.execute("select * from alerts where alert_id = ?", [alert_id]).fetchone()
        return dict(row) if row is not None else None

    def known(self, alert_ids: Sequence[str]) -> set[str]:
        """Which of ``alert_ids`` are recorded already."""
        if not alert_ids or not self.path.exists():
            return set()
        with self._connect(create=False) as con:
            found = set()
            for start in range(0, len(alert_ids), 500):
                chunk = list(alert_ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                found |= {r[0] for r in con.execute(f"select alert_id from alerts where alert_id in ({marks})", chunk)}
        return found

    def _state(self, con: sqlite3.Connection) -> StoreState:
        store_id = con.execute("select value from meta where key = 'store_id'").fetchone()
        high, count = con.execute(
            "select coalesce(max(case when wakes_sync = 1 then seq end), 0), count(*) from alerts"
        ).fetchone()
        return StoreState(store_id[0] if store_id else "", int(high), int(count))

    def state(self) -> StoreState | None:
        """The store's id and high-water mark; None while no alert was ever recorded (no file)."""
        if not self.path.exists():
            return None
        with self._connect(create=False) as con:
            return self._state(con)

    def snapshot(self) -> tuple[pd.DataFrame, StoreState | None]:
        """Every alert (the columns of ``ops.alerts``) and the state they were read at, in one read."""
        if not self.path.exists():
            return pd.DataFrame({c: pd.Series(dtype="object") for c in ALERT_COLUMNS}), None
        with self._connect(create=False) as con:
            con.execute("begin")
            try:
                rows = con.execute(f"select {', '.join(ALERT_COLUMNS)} from alerts order by first_seen_at, alert_id").fetchall()
                state = self._state(con)
            finally:
                con.execute("rollback")
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(ALERT_COLUMNS), dtype="object")
        return frame, state


def write_alerts(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> None:
    """``ops.alerts`` becomes exactly ``frame`` (``AlertStore.snapshot``), in one transaction."""
    replace_table(con, ALERTS, frame[list(ALERT_COLUMNS)], casts=ALERT_COLUMNS)
