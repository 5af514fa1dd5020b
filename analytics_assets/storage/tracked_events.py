"""Tracked events into the warehouse, one way: the API's store and the landing folder -> the tracked raw tables.

Both paths validate with the same contract (``contracts.events``) and write the same tables
(``raw_tracked_touchpoints``, ``raw_tracked_ai_generations``, ``raw_tracked_experiment_observations``): each a raw
contract's columns plus ``event_id``, ``workspace_id``, ``received_at`` and ``origin``. The staging models read
them beside the simulator's or connector's raw tables.

Idempotent: a row is inserted only when neither its ``event_id`` nor its raw contract's key is in its table
already, so a rerun, an event both sent to the API and landed in a file, or a store replayed from scratch never
duplicates one. Everything of one store batch or one file (rows, the cursor or the file's record, the rejected
rows in ``raw_quarantine``) commits in one transaction. The quarantine is idempotent too: a rejected row (or
file) is quarantined once per file, reason and content, so a file replaced by a new version that still holds
the last version's broken rows quarantines none of them again.

* **The store**: events past ``raw_tracked_event_cursor`` (per ``store_id``, the seq copied through). Their
  workspace is the API key's.
* **Files**: ``*.csv``, ``*.jsonl`` / ``*.ndjson`` (JSON lines) and ``*.parquet``, one event per row, the columns
  named as the event's fields. A file names its workspace by its folder: ``<landing>/<workspace>/<file>``
  (one level; the workspace must exist in the access registry, ``contracts.access``). A touchpoint or
  conversion must name one of that workspace's web properties (``property_id``; omitted: its only one), as
  ``POST /v1/events`` requires of a key's workspace; a row naming another account is quarantined with the
  reason. A file directly in the landing folder names no workspace: it loads (as workspace ``default``,
  unchecked, as before) only in the embedded single-workspace default, where the registry holds no workspace
  but ``default``; once it holds another, such a file is rejected, saying where to put it.
  Each load is recorded in ``raw_tracked_event_files`` (its path in the folder, workspace, size, sha256,
  status, rows accepted and rejected), so a file loads once and a changed file (same name, another sha256)
  is a new load. A file rejected whole (unreadable, not of its format, no such workspace) is recorded
  ``rejected`` with its reason and tried again only once it changes (its size or modification time: touch it
  after creating the workspace). Writers must **write then rename**: names starting with ``.`` or ``_``, or
  ending with ``.tmp`` or ``.part``, are never read (nor are such folders), so a file written as
  ``.events.csv.tmp`` and renamed to ``events.csv`` is only seen whole.

A warehouse error that is not the file's fault (I/O, a lock, a transaction conflict) fails the load with
nothing of that file committed, and ``tracked_events_sensor`` requests it again; a file whose values DuckDB
refuses (a conversion or range error) is the file's fault: rejected, recorded, not retried until it changes.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq
from pydantic import ValidationError

from analytics_assets.contracts.access import DEFAULT_WORKSPACE, AccessRegistry, check_workspace_name
from analytics_assets.contracts.events import (
    TABLE_OF_TYPE,
    TRACKED_TABLES,
    TRACKED_TOUCHPOINTS,
    WEB_PLATFORM,
    TrackedTable,
    assign_property,
    event_from_json,
    parse_event,
    reasons,
    to_row,
)
from analytics_assets.contracts.inbound import TrackedEventStore
from analytics_assets.contracts.raw import DEFAULT_WEB_PROPERTY, QUARANTINE_COLUMNS, QUARANTINE_TABLE, RAW_SCHEMA, TOUCHPOINTS
from analytics_assets.contracts.privacy import USER_TABLES
from analytics_assets.storage.dialect import matches_whole
from analytics_assets.storage.inbound_store import ensure_table
from analytics_assets.storage.tombstones import load_tombstones
from analytics_assets.storage.warehouse import registered, transaction

CURSOR_TABLE = f"{RAW_SCHEMA}.raw_tracked_event_cursor"
CURSOR_COLUMNS = {"store_id": "VARCHAR", "through_seq": "BIGINT", "loaded_at": "TIMESTAMP"}
FILES_TABLE = f"{RAW_SCHEMA}.raw_tracked_event_files"
FILES_COLUMNS = {
    "file_name": "VARCHAR",  # its path in the landing folder: "events.csv" or "<workspace>/events.csv"
    "size_bytes": "BIGINT",
    "sha256": "VARCHAR",
    "format": "VARCHAR",
    "rows_accepted": "BIGINT",  # valid rows stored now
    "rows_duplicate": "BIGINT",  # valid rows already stored (by event_id or the raw key)
    "rows_rejected": "BIGINT",  # invalid rows, each in raw_quarantine with its reasons
    "loaded_at": "TIMESTAMP",
    # added with workspaces (ensure_tables adds them to an older table: its rows read as loaded, unscoped)
    "workspace_id": "VARCHAR",  # the workspace its rows belong to; NULL when the file was rejected before that
    "status": "VARCHAR",  # loaded | rejected (the whole file, for ``reason``)
    "reason": "VARCHAR",
    "fingerprint": "VARCHAR",  # path:size:mtime as the load saw it: a rejected file is tried again once it changes
}
LOADED, REJECTED = "loaded", "rejected"
QUARANTINE = f"{RAW_SCHEMA}.{QUARANTINE_TABLE}"
QUARANTINE_SOURCE = "raw_tracked_events"  # raw_quarantine.source_table of rejected events
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
BATCH_ROWS = 5000


@dataclass
class TrackedLoad:
    """What one load wrote."""

    loaded: Counter[str] = field(default_factory=Counter)  # rows inserted per tracked table
    duplicates: int = 0
    rejected: int = 0  # rows (or whole files) rejected
    quarantined: int = 0  # of them, newly in raw_quarantine (a rejection quarantined before is not again)
    days: set[date] = field(default_factory=set)  # partition days of the rows inserted (dbt must rebuild them)
    cursor: int = 0  # store: the seq copied through
    store_id: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)  # files: their records

    def add(self, other: TrackedLoad) -> None:
        self.loaded.update(other.loaded)
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.quarantined += other.quarantined
        self.days |= other.days
        self.files += other.files


def qualified(table: TrackedTable) -> str:
    return f"{RAW_SCHEMA}.{table.name}"


def ensure_tables(con) -> None:
    for table in TRACKED_TABLES:
        ensure_table(con, qualified(table), table.columns)
    ensure_table(con, CURSOR_TABLE, CURSOR_COLUMNS)
    ensure_table(con, FILES_TABLE, FILES_COLUMNS)
    for column, kind in FILES_COLUMNS.items():  # a warehouse from before a column was added
        con.execute(f"alter table {FILES_TABLE} add column if not exists {column} {kind}")
    ensure_table(con, QUARANTINE, QUARANTINE_COLUMNS)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _insert_counted(con, rows: list[dict[str, Any]], load: TrackedLoad) -> None:
    """Insert the tracked-table ``rows`` (each naming its ``_table``) not stored yet, inside the caller's
    transaction; count the rows inserted, the duplicates and the days they touch."""
    by_table: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_table.setdefault(row["_table"], []).append({k: v for k, v in row.items() if k != "_table"})
    for table in TRACKED_TABLES:
        batch = by_table.get(table.name)
        if not batch:
            continue
        cols = table.columns
        frame = pd.DataFrame(batch).reindex(columns=list(cols))
        before = len(frame)  # a batch's own repeats: the first wins, as it does against the table
        frame = frame.drop_duplicates(["event_id"]).drop_duplicates(list(table.key)).reset_index(drop=True)
        tombstones = load_tombstones(con) if table.raw.name in USER_TABLES else None
        if tombstones is not None:  # an erased person's rows never commit, however late they arrive (contracts.privacy)
            erased = tombstones.erased_rows(frame)
            frame = frame[~erased].reset_index(drop=True)
            before -= int(erased.sum())  # dropped, not duplicates
        name = qualified(table)
        select = ", ".join(f"cast(n.{c} as {t}) as {c}" for c, t in cols.items())
        key_match = " and ".join(f"t.{c} = n.{c}" for c in table.key)
        touches = table.raw.name == TOUCHPOINTS.name
        returned = "partition_date, property_id, journey_id, event_at, event_type" if touches else "partition_date"
        with registered(con, "_tracked_new", frame):
            inserted = con.execute(
                f"""insert into {name} ({', '.join(cols)}) select {select} from _tracked_new n
                    where not exists (select 1 from {name} t where t.event_id = n.event_id or ({key_match}))
                    returning {returned}"""
            ).fetchall()
        load.loaded[table.name] += len(inserted)
        load.duplicates += before - len(inserted)
        load.days |= {r[0] for r in inserted}
        if touches:
            load.days |= _conversion_days(con, [r[1:4] for r in inserted if r[4] == "touchpoint"])


def _conversion_days(con, touches: list[tuple[str | None, str, datetime]]) -> set[date]:
    """The days of the conversions a late touch joins: the same journey's conversions at or after it (in either
    touchpoint table). Their attribution changes, so their partitions must be rebuilt too."""
    if not touches:
        return set()
    tables = [qualified(TRACKED_TOUCHPOINTS)]
    if con.execute(
        "select 1 from information_schema.tables where table_schema = ? and table_name = ?", [RAW_SCHEMA, TOUCHPOINTS.name]
    ).fetchall():
        tables.append(TOUCHPOINTS.qualified_name)
    union = " union all ".join(
        f"select coalesce(property_id, '{DEFAULT_WEB_PROPERTY}') as property_id, journey_id, event_at from {t} "
        "where event_type = 'conversion'"
        for t in tables
    )
    frame = pd.DataFrame(touches, columns=["property_id", "journey_id", "event_at"])
    with registered(con, "_late_touches", frame):
        rows = con.execute(
            f"""select distinct cast(c.event_at as date) from ({union}) c
                join _late_touches t
                  on c.property_id = coalesce(t.property_id, '{DEFAULT_WEB_PROPERTY}')
                 and c.journey_id = t.journey_id and c.event_at >= t.event_at"""
        ).fetchall()
    return {d for (d,) in rows}


def _quarantine(con, rejects: list[dict[str, Any]]) -> int:
    """Quarantine ``rejects`` not quarantined yet: once per scope (each reject's ``_scope``, the prefix of its
    record key, ``<file>:`` or ``<store>:``), reason and payload, so a file's new version that still holds a
    broken row of the last version quarantines it no second time. Returns the rows inserted."""
    if not rejects:
        return 0
    frame = pd.DataFrame(rejects).reindex(columns=[*QUARANTINE_COLUMNS, "_scope"])
    select = ", ".join(f"cast(n.{c} as {t}) as {c}" for c, t in QUARANTINE_COLUMNS.items())
    with registered(con, "_tracked_rejects", frame):
        inserted = con.execute(
            f"""insert into {QUARANTINE} ({', '.join(QUARANTINE_COLUMNS)})
                select {select} from _tracked_rejects n
                where not exists (
                    select 1 from {QUARANTINE} q
                    where q.source_table = n.source_table and q.reason = n.reason and q.payload = n.payload
                      and starts_with(q.record_key, n._scope)
                      and {matches_whole(con, "substr(q.record_key, length(n._scope) + 1)", "[0-9]+")}
                )
                returning 1"""
        ).fetchall()
    return len(inserted)


def _row(event: Any, workspace_id: str | None, received_at: datetime, origin: str, loaded_at: datetime) -> dict[str, Any]:
    table = TABLE_OF_TYPE[event.type]
    return {
        **to_row(event), "_table": table.name, "workspace_id": workspace_id, "received_at": received_at,
        "origin": origin, "loaded_at": loaded_at,
    }


def _reject(scope: str, n: int, why: list[str], payload: Any, now: datetime) -> dict[str, Any]:
    """A quarantine row for record ``n`` of ``scope`` (a file's path or a store's id): record key ``scope:n``."""
    # no partition_date: a rejected event's day is not known for sure, and the per-partition quarantine shares
    # (insights, raw checks) compare a day's quarantined records with the rows of a raw table of that name
    return {
        "source_table": QUARANTINE_SOURCE, "partition_date": None, "platform": None,
        "record_key": f"{scope[:480]}:{n}", "_scope": f"{scope[:480]}:",
        "reason": "; ".join(why)[:2000], "payload": json.dumps(payload, default=str, sort_keys=True),
        "quarantined_at": now,
    }


# ---------------------------------------------------------------------------------------------------
# From the API's store
# ---------------------------------------------------------------------------------------------------


def copy_from_store(con, store: TrackedEventStore, batch_rows: int = BATCH_ROWS) -> TrackedLoad:
    """Load every event of ``store`` past the cursor; one transaction per batch (rows, rejects and cursor)."""
    ensure_tables(con)
    load = TrackedLoad()
    state = store.state()
    if state is None:
        return load
    load.store_id = state.store_id
    (cursor,) = con.execute(
        f"select coalesce(max(through_seq), 0) from {CURSOR_TABLE} where store_id = ?", [state.store_id]
    ).fetchall()[0]
    cursor = int(cursor)
    while True:
        records = store.read_after(cursor, batch_rows)
        if not records:
            break
        now = _now()
        rows, rejects = [], []
        for r in records:
            try:
                event = event_from_json(r["event"])
            except ValidationError as exc:  # stored under an older contract: kept in quarantine, never dropped
                rejects.append(_reject(state.store_id, r["seq"], reasons(exc), r, now))
                continue
            received = datetime.fromisoformat(r["received_at"])
            rows.append(_row(event, r["workspace_id"], received, "api", now))
        cursor = int(records[-1]["seq"])
        with transaction(con):
            _insert_counted(con, rows, load)
            load.quarantined += _quarantine(con, rejects)
            con.execute(f"insert into {CURSOR_TABLE} (store_id, through_seq, loaded_at) values (?, ?, ?)",
                        [state.store_id, cursor, now])
        load.rejected += len(rejects)
    load.cursor = cursor
    return load


# ---------------------------------------------------------------------------------------------------
# From the landing folder
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LandedFile:
    """A file to import: its path, its name in the landing folder and the workspace its folder names."""

    path: Path
    name: str  # "events.csv" (directly in the landing folder) or "<workspace>/events.csv"
    folder: str | None  # the subfolder it is in (the workspace it names); None: directly in the landing folder


@dataclass(frozen=True)
class LandingScope:
    """The workspaces of the access registry and their web properties: whose a landed file's rows are."""

    properties: dict[str, tuple[str, ...]] = field(default_factory=dict)  # workspace -> its web properties

    @property
    def single_default(self) -> bool:
        """The embedded default: no workspace but ``default`` (or no registry yet)."""
        return set(self.properties) <= {DEFAULT_WORKSPACE}

    def resolve(self, file: LandedFile) -> tuple[str, tuple[str, ...] | None] | str:
        """(the file's workspace, the web properties its journey rows may name; None: not checked), or why the
        file cannot be loaded."""
        if file.folder is None:
            if self.single_default:  # the embedded default owns every account: unscoped files load as before
                return DEFAULT_WORKSPACE, None
            return (
                f"a file directly in the landing folder names no workspace, and this deployment has "
                f"{len(self.properties)}: move it to <landing>/<workspace>/{file.name}"
            )
        try:
            check_workspace_name(file.folder)
        except ValueError as exc:
            return f"folder {file.folder!r} is not a workspace: {exc}"
        if file.folder not in self.properties:
            return (
                f"no workspace {file.folder!r} in the access registry: create it (`cycle workspaces create "
                f"{file.folder}`, with its web properties), then touch the file to load it"
            )
        return file.folder, self.properties[file.folder]


def landing_scope(registry: AccessRegistry) -> LandingScope:
    """The registry's workspaces and web properties, read only (no registry yet: the embedded default)."""
    if not registry.exists():
        return LandingScope()
    snapshot = registry.snapshot()
    return LandingScope({
        w: tuple(sorted(a.account_id for a in snapshot.accounts(w) if a.platform == WEB_PLATFORM))
        for w in registry.workspaces()
    })


def _hidden(name: str) -> bool:
    return name.startswith((".", "_")) or name.endswith((".tmp", ".part"))


def is_landed(path: Path) -> bool:
    """Whether ``path`` is a complete file to import (not one being written: see the module docstring)."""
    return path.is_file() and not _hidden(path.name) and path.suffix.lower() in FORMATS


def landed_files(landing: Path) -> list[LandedFile]:
    """The files to import: directly in the landing folder, and one level down, in a workspace's folder."""
    if not landing.is_dir():
        return []
    found: list[LandedFile] = []
    for entry in sorted(landing.iterdir()):
        if is_landed(entry):
            found.append(LandedFile(entry, entry.name, None))
        elif entry.is_dir() and not _hidden(entry.name):
            found += [LandedFile(p, f"{entry.name}/{p.name}", entry.name) for p in sorted(entry.iterdir()) if is_landed(p)]
    return found


def fingerprint(file: LandedFile) -> str:
    """Name, size and modification time: what the sensor compares (cheap; the load compares the sha256)."""
    st = file.path.stat()
    return f"{file.name}:{st.st_size}:{st.st_mtime_ns}"


def _clean(value: Any) -> Any:
    """A file cell as the contract reads it: empty strings and nulls are absent fields."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, float) and value != value:  # a Parquet / pandas null reads as NaN
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


@dataclass(frozen=True)
class Unreadable:
    """A row that is no event at all: why, and what it held (its content, so the quarantine keeps it once)."""

    reason: str
    content: Any


def read_rows(path: Path, fmt: str) -> Iterator[tuple[int, Any]]:
    """(row number from 1, the row as a dict or an ``Unreadable``) of a landed file, read as a stream (a file of
    history may be large). Raises for a file that is not of its format at all (bad UTF-8, a broken footer)."""
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8-sig") as f:
            for n, row in enumerate(csv.DictReader(f), start=1):
                if None in row:  # more cells than the header names
                    yield n, Unreadable("more cells than the header has columns", {"cells": [
                        *(v for k, v in row.items() if k is not None), *row[None]]})
                else:
                    yield n, {k: v for k, v in row.items() if _clean(v) is not None}
    elif fmt == "jsonl":
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line, parse_constant=_no_constant)
                except (ValueError, RecursionError):
                    yield n, Unreadable("not a JSON value", {"line": line.strip()[:2000]})
                    continue
                yield n, {k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else value
    else:
        n = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
            for row in batch.to_pylist():
                n += 1
                yield n, {k: _clean(v) for k, v in row.items() if _clean(v) is not None}


def _sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass(frozen=True)
class _Version:
    """One version of a landed file, as the load read it."""

    file: LandedFile
    fingerprint: str
    size: int
    sha256: str | None  # None: it could not be read at all
    fmt: str


def _record(con, load: TrackedLoad, v: _Version, workspace: str | None, rejected: int, now: datetime,
            reason: str | None = None) -> None:
    record = {
        "file_name": v.file.name, "size_bytes": v.size, "sha256": v.sha256, "format": v.fmt,
        "rows_accepted": sum(load.loaded.values()), "rows_duplicate": load.duplicates, "rows_rejected": rejected,
        "loaded_at": now, "workspace_id": workspace, "status": REJECTED if reason else LOADED, "reason": reason,
        "fingerprint": v.fingerprint,
    }
    con.execute(f"insert into {FILES_TABLE} ({', '.join(FILES_COLUMNS)}) values ({', '.join('?' for _ in FILES_COLUMNS)})",
                [record[c] for c in FILES_COLUMNS])
    load.rejected = rejected
    load.files.append({**{k: value for k, value in record.items() if value is not None}, "loaded_at": now.isoformat()})


def _load_rows(con, v: _Version, workspace: str, properties: tuple[str, ...] | None, now: datetime,
               load: TrackedLoad) -> int:
    """Validate and insert the file's rows in batches (inside the caller's transaction); returns the rows rejected."""
    name, origin, rejected = v.file.name, f"file:{v.file.name}", 0
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []

    def flush() -> None:
        _insert_counted(con, rows, load)
        load.quarantined += _quarantine(con, rejects)
        rows.clear()
        rejects.clear()

    for n, raw in read_rows(v.file.path, v.fmt):
        if isinstance(raw, Unreadable):
            event, why, payload = None, [raw.reason], raw.content
        else:
            (event, why), payload = parse_event(raw), raw
            if event is not None and properties is not None:
                event, why = assign_property(event, properties, workspace)
        if event is None:
            rejects.append(_reject(name, n, why, payload, now))
            rejected += 1
        else:
            rows.append(_row(event, workspace, now, origin, now))
        if len(rows) + len(rejects) >= BATCH_ROWS:
            flush()
    flush()
    return rejected


# DuckDB refusing a value of the file (a number out of a column's range, a text it cannot convert): the file's
# fault, like a malformed row. Any other warehouse error (I/O, a lock, a conflict) is not: it fails the load.
_DATA_ERRORS = (duckdb.DataError, duckdb.InvalidInputException)


def _reject_file(con, v: _Version, workspace: str | None, why: str, now: datetime) -> TrackedLoad:
    """Record ``v`` as rejected whole, with one quarantined row saying why (quarantined once per version)."""
    load = TrackedLoad()
    with transaction(con):
        load.quarantined += _quarantine(con, [_reject(v.file.name, 0, [why], {"file": v.file.name, "sha256": v.sha256}, now)])
        _record(con, load, v, workspace, 1, now, reason=why)
    return load


def _seen(con, v: _Version) -> bool:
    """Whether this version was dealt with: loaded (by content), or rejected as it is now (by fingerprint)."""
    return bool(con.execute(
        f"""select 1 from {FILES_TABLE} where file_name = ? and sha256 = ?
            and (coalesce(status, '{LOADED}') = '{LOADED}' or fingerprint = ?)""",
        [v.file.name, v.sha256, v.fingerprint],
    ).fetchall()) or bool(v.sha256 is None and con.execute(
        f"select 1 from {FILES_TABLE} where file_name = ? and fingerprint = ?", [v.file.name, v.fingerprint]
    ).fetchall())


def load_file(con, file: LandedFile | Path, scope: LandingScope | None = None) -> TrackedLoad:
    """Load one landed file unless this version of it was loaded (or rejected) already: its rows, rejects and
    record in one transaction. A file that cannot be read, is not of its format at all, or names no workspace
    it may load into is recorded as rejected with one quarantined row saying why (nothing of it loaded; a
    corrected or touched file is a new version)."""
    ensure_tables(con)
    if isinstance(file, Path):
        file = LandedFile(file, file.name, None)
    scope = scope or LandingScope()
    fmt, now = FORMATS[file.path.suffix.lower()], _now()
    try:
        stamp = fingerprint(file)
    except FileNotFoundError:  # gone since it was listed (renamed, deleted): nothing to load
        return TrackedLoad()
    try:
        digest, size = _sha256(file.path)
    except FileNotFoundError:
        return TrackedLoad()
    except OSError as exc:  # no permission, an I/O error reading it
        v = _Version(file, stamp, 0, None, fmt)
        if _seen(con, v):
            return TrackedLoad()
        return _reject_file(con, v, None, f"unreadable file: {type(exc).__name__}: {str(exc)[:300]}", now)
    v = _Version(file, stamp, size, digest, fmt)
    if _seen(con, v):
        return TrackedLoad()
    resolved = scope.resolve(file)
    if isinstance(resolved, str):
        return _reject_file(con, v, None, resolved, now)
    workspace, properties = resolved
    load = TrackedLoad()
    try:
        with transaction(con):
            rejected = _load_rows(con, v, workspace, properties, now, load)
            _record(con, load, v, workspace, rejected, now)
        return load
    except (UnicodeDecodeError, csv.Error, OSError, ValueError) as exc:  # pyarrow's errors are ValueError / OSError
        why = f"unreadable {fmt} file: {type(exc).__name__}: {str(exc)[:300]}"
    except _DATA_ERRORS as exc:
        why = f"a value the warehouse refuses: {type(exc).__name__}: {str(exc)[:300]}"
    return _reject_file(con, v, workspace, why, now)


def load_landing(con, landing: Path, scope: LandingScope | None = None) -> TrackedLoad:
    """Load every landed file not loaded yet (by path, workspace folders after the unscoped files' names)."""
    load = TrackedLoad()
    for file in landed_files(landing):
        load.add(load_file(con, file, scope))
    return load
