"""Tracked events into the warehouse, one way: the API's store and the landing folder -> the tracked raw tables.

Both paths validate with the same contract (``contracts.events``) and write the same tables
(``raw_tracked_touchpoints``, ``raw_tracked_ai_generations``, ``raw_tracked_experiment_observations``): each a raw
contract's columns plus ``event_id``, ``workspace_id``, ``received_at`` and ``origin``. The staging models read
them beside the simulator's or connector's raw tables.

Idempotent: a row is inserted only when neither its ``event_id`` nor its raw contract's key is in its table
already, so a rerun, an event both sent to the API and landed in a file, or a store replayed from scratch never
duplicates one. Everything of one store batch or one file (rows, the cursor or the file's record, the rejected
rows in ``raw_quarantine``) commits in one transaction.

* **The store**: events past ``raw_tracked_event_cursor`` (per ``store_id``, the seq copied through).
* **Files**: ``*.csv``, ``*.jsonl`` / ``*.ndjson`` (JSON lines) and ``*.parquet`` in the landing folder, one event
  per row, the columns named as the event's fields. Each load is recorded in ``raw_tracked_event_files`` (name,
  size, sha256, rows accepted and rejected), so a file loads once and a changed file (same name, another
  sha256) is a new load. Rejected rows go to ``raw_quarantine`` with their reasons. Writers must **write then
  rename**: names starting with ``.`` or ``_``, or ending with ``.tmp`` or ``.part``, are never read, so a
  file written as ``.events.csv.tmp`` and renamed to ``events.csv`` is only seen whole.
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

import pandas as pd
import pyarrow.parquet as pq
from pydantic import ValidationError

from analytics_assets.contracts.events import (
    TABLE_OF_TYPE,
    TRACKED_TABLES,
    TRACKED_TOUCHPOINTS,
    TrackedTable,
    event_from_json,
    parse_event,
    reasons,
    to_row,
)
from analytics_assets.contracts.inbound import TrackedEventStore
from analytics_assets.contracts.raw import DEFAULT_WEB_PROPERTY, QUARANTINE_COLUMNS, QUARANTINE_TABLE, RAW_SCHEMA, TOUCHPOINTS
from analytics_assets.storage.inbound_store import ensure_table
from analytics_assets.storage.warehouse import registered, transaction

CURSOR_TABLE = f"{RAW_SCHEMA}.raw_tracked_event_cursor"
CURSOR_COLUMNS = {"store_id": "VARCHAR", "through_seq": "BIGINT", "loaded_at": "TIMESTAMP"}
FILES_TABLE = f"{RAW_SCHEMA}.raw_tracked_event_files"
FILES_COLUMNS = {
    "file_name": "VARCHAR",
    "size_bytes": "BIGINT",
    "sha256": "VARCHAR",
    "format": "VARCHAR",
    "rows_accepted": "BIGINT",  # valid rows stored now
    "rows_duplicate": "BIGINT",  # valid rows already stored (by event_id or the raw key)
    "rows_rejected": "BIGINT",  # invalid rows, each in raw_quarantine with its reasons
    "loaded_at": "TIMESTAMP",
}
QUARANTINE = f"{RAW_SCHEMA}.{QUARANTINE_TABLE}"
QUARANTINE_SOURCE = "raw_tracked_events"  # raw_quarantine.source_table of rejected events
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
BATCH_ROWS = 5000


@dataclass
class TrackedLoad:
    """What one load wrote."""

    loaded: Counter[str] = field(default_factory=Counter)  # rows inserted per tracked table
    duplicates: int = 0
    rejected: int = 0
    days: set[date] = field(default_factory=set)  # partition days of the rows inserted (dbt must rebuild them)
    cursor: int = 0  # store: the seq copied through
    store_id: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)  # files: their records

    def add(self, other: TrackedLoad) -> None:
        self.loaded.update(other.loaded)
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.days |= other.days
        self.files += other.files


def qualified(table: TrackedTable) -> str:
    return f"{RAW_SCHEMA}.{table.name}"


def ensure_tables(con) -> None:
    for table in TRACKED_TABLES:
        ensure_table(con, qualified(table), table.columns)
    ensure_table(con, CURSOR_TABLE, CURSOR_COLUMNS)
    ensure_table(con, FILES_TABLE, FILES_COLUMNS)
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


def _quarantine(con, rejects: list[dict[str, Any]]) -> None:
    if not rejects:
        return
    frame = pd.DataFrame(rejects).reindex(columns=list(QUARANTINE_COLUMNS))
    select = ", ".join(f"cast({c} as {t}) as {c}" for c, t in QUARANTINE_COLUMNS.items())
    with registered(con, "_tracked_rejects", frame):
        con.execute(f"insert into {QUARANTINE} ({', '.join(QUARANTINE_COLUMNS)}) select {select} from _tracked_rejects")


def _row(event: Any, workspace_id: str | None, received_at: datetime, origin: str, loaded_at: datetime) -> dict[str, Any]:
    table = TABLE_OF_TYPE[event.type]
    return {
        **to_row(event), "_table": table.name, "workspace_id": workspace_id, "received_at": received_at,
        "origin": origin, "loaded_at": loaded_at,
    }


def _reject(record_key: str, why: list[str], payload: Any, now: datetime) -> dict[str, Any]:
    # no partition_date: a rejected event's day is not known for sure, and the per-partition quarantine shares
    # (insights, raw checks) compare a day's quarantined records with the rows of a raw table of that name
    return {
        "source_table": QUARANTINE_SOURCE, "partition_date": None, "platform": None, "record_key": record_key[:500],
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
                rejects.append(_reject(f"{state.store_id}:{r['seq']}", reasons(exc), r, now))
                continue
            received = datetime.fromisoformat(r["received_at"])
            rows.append(_row(event, r["workspace_id"], received, "api", now))
        cursor = int(records[-1]["seq"])
        with transaction(con):
            _insert_counted(con, rows, load)
            _quarantine(con, rejects)
            con.execute(f"insert into {CURSOR_TABLE} (store_id, through_seq, loaded_at) values (?, ?, ?)",
                        [state.store_id, cursor, now])
        load.rejected += len(rejects)
    load.cursor = cursor
    return load


# ---------------------------------------------------------------------------------------------------
# From the landing folder
# ---------------------------------------------------------------------------------------------------


def is_landed(path: Path) -> bool:
    """Whether ``path`` is a complete file to import (not one being written: see the module docstring)."""
    name = path.name
    return (
        path.is_file() and not name.startswith((".", "_")) and not name.endswith((".tmp", ".part"))
        and path.suffix.lower() in FORMATS
    )


def landed_files(landing: Path) -> list[Path]:
    if not landing.is_dir():
        return []
    return sorted(p for p in landing.iterdir() if is_landed(p))


def fingerprint(path: Path) -> str:
    """Name, size and modification time: what the sensor compares (cheap; the load compares the sha256)."""
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


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


def read_rows(path: Path, fmt: str) -> Iterator[tuple[int, Any]]:
    """(row number from 1, the row as a dict or an error text) of a landed file, read as a stream (a file of
    history may be large). Raises for a file that is not of its format at all (bad UTF-8, a broken footer)."""
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8-sig") as f:
            for n, row in enumerate(csv.DictReader(f), start=1):
                if None in row:  # more cells than the header names
                    yield n, "more cells than the header has columns"
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
                    yield n, "not a JSON value"
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


def _record(con, load: TrackedLoad, path: Path, size: int, digest: str, fmt: str, rejected: int, now: datetime) -> None:
    record = {
        "file_name": path.name, "size_bytes": size, "sha256": digest, "format": fmt,
        "rows_accepted": sum(load.loaded.values()), "rows_duplicate": load.duplicates, "rows_rejected": rejected,
        "loaded_at": now,
    }
    con.execute(f"insert into {FILES_TABLE} ({', '.join(FILES_COLUMNS)}) values ({', '.join('?' for _ in FILES_COLUMNS)})",
                [record[c] for c in FILES_COLUMNS])
    load.rejected = rejected
    load.files.append({**record, "loaded_at": now.isoformat()})


def _load_rows(con, path: Path, fmt: str, now: datetime, load: TrackedLoad) -> int:
    """Validate and insert the file's rows in batches (inside the caller's transaction); returns the rows rejected."""
    origin, rejected = f"file:{path.name}", 0
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []

    def flush() -> None:
        _insert_counted(con, rows, load)
        _quarantine(con, rejects)
        rows.clear()
        rejects.clear()

    for n, raw in read_rows(path, fmt):
        event, why = (None, [raw]) if isinstance(raw, str) else parse_event(raw)
        if event is None:
            rejects.append(_reject(f"{path.name}:{n}", why, raw if not isinstance(raw, str) else {"row": n}, now))
            rejected += 1
        else:
            rows.append(_row(event, None, now, origin, now))
        if len(rows) + len(rejects) >= BATCH_ROWS:
            flush()
    flush()
    return rejected


def load_file(con, path: Path) -> TrackedLoad:
    """Load one landed file unless a file of that name and sha256 was loaded already: its rows, rejects and record
    in one transaction. A file that is not of its format at all is recorded with one quarantined row saying why
    (nothing of it loaded; a corrected file has another sha256 and loads)."""
    ensure_tables(con)
    digest, size = _sha256(path)
    seen = con.execute(f"select 1 from {FILES_TABLE} where file_name = ? and sha256 = ?", [path.name, digest]).fetchall()
    if seen:
        return TrackedLoad()
    fmt = FORMATS[path.suffix.lower()]
    now = _now()
    load = TrackedLoad()
    try:
        with transaction(con):
            rejected = _load_rows(con, path, fmt, now, load)
            _record(con, load, path, size, digest, fmt, rejected, now)
        return load
    except (UnicodeDecodeError, csv.Error, OSError, ValueError) as exc:  # pyarrow's errors are ValueError / OSError
        why = f"unreadable {fmt} file: {type(exc).__name__}: {str(exc)[:300]}"
    load = TrackedLoad()
    with transaction(con):
        _quarantine(con, [_reject(f"{path.name}:0", [why], {"file": path.name, "sha256": digest}, now)])
        _record(con, load, path, size, digest, fmt, 1, now)
    return load


def load_landing(con, landing: Path) -> TrackedLoad:
    """Load every landed file not loaded yet (oldest name first)."""
    load = TrackedLoad()
    for path in landed_files(landing):
        load.add(load_file(con, path))
    return load
