"""One person's data in the warehouse and the archive: find it (export), erase it, and audit both.

What names a person (``contracts.privacy``): rows of the raw user tables (``raw_touchpoints``) with their user id
in one of the request's web properties; the quarantined native records of those tables whose payload names them
(``anonymous_id``/``user_id``); any text the platforms or the API's users sent that holds the id as a whole token
(webhook payloads, decisions' reasons, other quarantined payloads); every other table of the warehouse with a
``user_id`` column, or a ``journey_id`` of one of their journeys (marts such as ``fct_touchpoint_attribution``,
restricted to the request's properties where the table has a ``property_id``); and the archived days of the user
tables. :func:`find_person` and :func:`erase_person` walk exactly the same places, so an export holds exactly the
rows an erasure removes.

Views are not walked: they hold nothing of their own (dbt rebuilds what reads them). The erasure deletes inside
one warehouse transaction with its tombstone (``storage.tombstones``), then rewrites the archived days.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from analytics_assets.contracts.privacy import (
    PAYLOAD_USER_KEYS,
    TOMBSTONES_TABLE,
    AUDIT_TABLE,
    SALT_TABLE,
    USER_TABLES,
    audit_qualified,
    check_user_id,
    tombstones_qualified,
    user_hash,
)
from analytics_assets.contracts.raw import DEFAULT_WEB_PROPERTY, QUARANTINE_TABLE, RAW_SCHEMA, RAW_TABLES
from analytics_assets.storage.dialect import json_text, matches
from analytics_assets.storage.archive import archived_days, erase_from_archived_day, read_archived_day
from analytics_assets.storage.tombstones import ensure_privacy_tables, installation_salt, load_tombstones
from analytics_assets.storage.warehouse import transaction

# free text that can hold a user id: (schema, table) -> columns (the copies of the API's store, and quarantined
# native records; a quarantined record of a user table is matched by its payload's keys as well)
TEXT_TABLES = {
    (RAW_SCHEMA, "raw_webhook_events"): ("payload",),
    (RAW_SCHEMA, "raw_recommendation_feedback"): ("reason", "applied_details"),
    (RAW_SCHEMA, QUARANTINE_TABLE): ("payload",),
}
_OWN_TABLES = {TOMBSTONES_TABLE, AUDIT_TABLE, SALT_TABLE}
_TOKEN_EDGE = "[^A-Za-z0-9_.:@+-]"


@dataclass(frozen=True)
class Person:
    """One pseudonymous user id within the web properties of the request's workspace."""

    user_id: str
    property_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        check_user_id(self.user_id)
        if not self.property_ids:
            raise ValueError("a person is looked for in at least one web property")

    @property
    def token_pattern(self) -> str:
        """The RE2 pattern of the id as a whole token (``anon_1`` does not match inside ``anon_12``)."""
        return f"(^|{_TOKEN_EDGE}){re.escape(self.user_id)}($|{_TOKEN_EDGE})"


@dataclass
class PersonData:
    """Where a person's rows are: ``rows`` per place (``schema.table`` or ``archive/<table>/<day>``)."""

    rows: dict[str, pd.DataFrame] = field(default_factory=dict)
    journeys: list[str] = field(default_factory=list)
    days: list[date] = field(default_factory=list)  # the partitions their hot rows were filed under

    def counts(self) -> dict[str, int]:
        return {place: len(frame) for place, frame in sorted(self.rows.items()) if len(frame)}

    def records(self) -> dict[str, list[dict[str, Any]]]:
        """Every row as JSON-ready records (ISO times, nulls as None)."""
        return {
            place: json.loads(frame.to_json(orient="records", date_format="iso", date_unit="us"))
            for place, frame in sorted(self.rows.items())
            if len(frame)
        }


def _base_tables(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in con.execute(
        """select c.table_schema, c.table_name, c.column_name from information_schema.columns c
           join information_schema.tables t using (table_catalog, table_schema, table_name)
           where t.table_type = 'BASE TABLE' and c.table_catalog = current_database()
           order by c.table_schema, c.table_name, c.ordinal_position"""
    ).fetchall():
        found.setdefault((schema, table), []).append(column)
    return found


_ANY = "(select unnest(?::varchar[]))"  # "x in _ANY" with one list parameter


def _places(con: duckdb.DuckDBPyConnection, person: Person, journeys: list[str]) -> dict[str, tuple[str, list[Any]]]:
    """Every warehouse place that can name ``person``: ``schema.table`` -> (where clause, its parameters)."""
    tables = _base_tables(con)
    props = list(person.property_ids)
    places: dict[str, tuple[str, list[Any]]] = {}
    for name in USER_TABLES:
        if (RAW_SCHEMA, name) in tables:
            places[f"{RAW_SCHEMA}.{name}"] = (
                f"user_id = ? and coalesce(property_id, '{DEFAULT_WEB_PROPERTY}') in {_ANY}",
                [person.user_id, props],
            )
    for (schema, name), columns in TEXT_TABLES.items():
        if (schema, name) not in tables:
            continue
        present = [c for c in columns if c in tables[(schema, name)]]
        text = " or ".join(matches(con, f"coalesce({c}, '')", "?") for c in present)
        params: list[Any] = [person.token_pattern] * len(present)
        if name == QUARANTINE_TABLE:
            # a user table's record names them by its user keys or by one of their journeys (a record is often
            # quarantined for a missing user id), in one of the properties
            keys = ", ".join(json_text(con, "payload", k) for k in PAYLOAD_USER_KEYS)
            journey = json_text(con, "payload", "journey_id")
            prop = f"coalesce({json_text(con, 'payload', 'property_id')}, '{DEFAULT_WEB_PROPERTY}')"
            text = (
                f"(source_table in {_ANY} and (coalesce({keys}) = ? or {journey} in {_ANY}) and {prop} in {_ANY}) "
                f"or (source_table not in {_ANY} and ({text}))"
            )
            params = [list(USER_TABLES), person.user_id, journeys, props, list(USER_TABLES), *params]
        places[f"{schema}.{name}"] = (text, params)
    for (schema, name), columns in tables.items():
        qualified = f"{schema}.{name}"
        if qualified in places or name in _OWN_TABLES or not ({"user_id", "journey_id"} & set(columns)):
            continue
        match, params = [], []
        if "user_id" in columns:
            match.append("user_id = ?")
            params.append(person.user_id)
        if "journey_id" in columns and journeys:
            match.append(f"journey_id in {_ANY}")
            params.append(journeys)
        if not match:
            continue
        where = "(" + " or ".join(match) + ")"
        if "property_id" in columns:
            where += f" and coalesce(property_id, '{DEFAULT_WEB_PROPERTY}') in {_ANY}"
            params.append(props)
        places[qualified] = (where, params)
    return places


def _archived(root: Path, person: Person) -> dict[str, pd.DataFrame]:
    found = {}
    for name in USER_TABLES:
        for day in archived_days(name, root):
            frame = read_archived_day(name, day, root)
            props = frame["property_id"].fillna(DEFAULT_WEB_PROPERTY) if "property_id" in frame else DEFAULT_WEB_PROPERTY
            mine = frame[(frame["user_id"] == person.user_id) & pd.Series(props, index=frame.index).isin(person.property_ids)]
            if len(mine):
                found[f"archive/{name}/partition_date={day.isoformat()}"] = mine.reset_index(drop=True)
    return found


def _journeys_and_days(frames: list[pd.DataFrame]) -> tuple[list[str], list[date]]:
    journeys: set[str] = set()
    days: set[date] = set()
    for frame in frames:
        if "journey_id" in frame:
            journeys.update(str(j) for j in frame["journey_id"].dropna())
        # the partitions the rows were filed under: what the incremental models key their days by (a journey
        # and its conversion are filed under the day it ended), never the earlier days its touches fell on
        if "partition_date" in frame:
            days.update(pd.to_datetime(frame["partition_date"].dropna()).dt.date)
    return sorted(journeys), sorted(days)


def find_person(con: duckdb.DuckDBPyConnection, archive: Path, person: Person) -> PersonData:
    """Every row of ``person`` in the warehouse and the archive (what an export writes, an erasure removes)."""
    hot = {}
    places = _places(con, person, [])
    for qualified in (f"{RAW_SCHEMA}.{name}" for name in USER_TABLES):
        if qualified in places:
            where, params = places[qualified]
            hot[qualified] = con.execute(f"select * from {qualified} where {where}", params).df()
    archived = _archived(archive, person)
    journeys, _ = _journeys_and_days([*hot.values(), *archived.values()])
    # only the hot days can be rebuilt by dbt (staging reads the hot tables): an archived day's marts keep their
    # rows and lose the person's by the direct delete
    _, days = _journeys_and_days(list(hot.values()))
    data = PersonData(journeys=journeys, days=days)
    for qualified, (where, params) in _places(con, person, journeys).items():
        frame = hot.get(qualified)
        if frame is None:
            frame = con.execute(f"select * from {qualified} where {where}", params).df()
        if len(frame):
            data.rows[qualified] = frame
    data.rows.update(archived)
    return data


@dataclass(frozen=True)
class Erasure:
    user_hash: str  # salted: what the tombstone and the audit keep
    removed: dict[str, int]  # place -> rows removed (only places that held some)
    journeys: int
    days: list[date]  # the partitions the removed hot rows were filed under: what dbt must rebuild
    tombstoned: bool  # whether this call left a new tombstone (False: the person was erased before)

    @property
    def rows_total(self) -> int:
        return sum(self.removed.values())


def erase_person(
    con: duckdb.DuckDBPyConnection,
    archive: Path,
    person: Person,
    *,
    request_id: str,
    workspace_id: str | None,
    requested_at: datetime,
) -> Erasure:
    """Tombstone ``person`` and delete every row of theirs (``find_person``'s places) in one transaction, then
    rewrite the archived days that held them. Idempotent: erasing again removes nothing and leaves the same state."""
    ensure_privacy_tables(con)  # first: with them, on PostgreSQL, the function find_person reads payloads with
    found = find_person(con, archive, person)
    salt = installation_salt(con)
    hashed = user_hash(salt, person.user_id)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    removed: dict[str, int] = {}
    with transaction(con):
        (before,) = con.execute(
            f"select count(*) from {tombstones_qualified()} where subject = 'user' and subject_hash = ? "
            "and property_id in (select unnest(?::varchar[]))",
            [hashed, list(person.property_ids)],
        ).fetchall()[0]
        naive = requested_at.astimezone(timezone.utc).replace(tzinfo=None) if requested_at.tzinfo else requested_at
        subjects = [("user", hashed)] + [("journey", user_hash(salt, j)) for j in found.journeys]
        for prop in person.property_ids:
            for subject, subject_hash in subjects:
                con.execute(
                    f"""insert into {tombstones_qualified()} select ?, ?, ?, ?, ?, ?, ?
                        where not exists (select 1 from {tombstones_qualified()}
                                          where property_id = ? and subject = ? and subject_hash = ?)""",
                    [prop, subject, subject_hash, request_id, workspace_id, naive, now, prop, subject, subject_hash],
                )
        for qualified, (where, params) in _places(con, person, found.journeys).items():
            (n,) = con.execute(f"delete from {qualified} where {where}", params).fetchall()[0]
            if n:
                removed[qualified] = int(n)
    tombstones = load_tombstones(con)
    assert tombstones is not None  # written above
    for name in USER_TABLES:
        for day in archived_days(name, archive):
            n = erase_from_archived_day(RAW_TABLES[name], archive, day, tombstones)
            if n:
                removed[f"archive/{name}/partition_date={day.isoformat()}"] = n
    return Erasure(
        user_hash=hashed,
        removed=dict(sorted(removed.items())),
        journeys=len(found.journeys),
        days=found.days,
        tombstoned=before < len(person.property_ids),
    )


def record_audit(
    con: duckdb.DuckDBPyConnection,
    *,
    request_id: str,
    kind: str,
    workspace_id: str | None,
    property_ids: tuple[str, ...],
    hashed_user: str,
    requested_at: datetime,
    items: dict[str, int],
    export_path: str | None = None,
    run_id: str | None = None,
) -> None:
    """One audit row per request (a rerun replaces its own row): what was removed or exported, never the id."""
    ensure_privacy_tables(con)
    naive = requested_at.astimezone(timezone.utc).replace(tzinfo=None) if requested_at.tzinfo else requested_at
    with transaction(con):
        con.execute(f"delete from {audit_qualified()} where request_id = ?", [request_id])
        con.execute(
            f"insert into {audit_qualified()} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                request_id, kind, workspace_id, json.dumps(sorted(property_ids)), hashed_user, naive,
                datetime.now(timezone.utc).replace(tzinfo=None), json.dumps(items, sort_keys=True),
                int(sum(items.values())), export_path, run_id,
            ],
        )


def hashed(con: duckdb.DuckDBPyConnection, user_id: str) -> str:
    """``user_id``'s salted hash in this warehouse (the salt is created on first use)."""
    ensure_privacy_tables(con)
    return user_hash(installation_salt(con), check_user_id(user_id))


def write_export(path: Path, document: dict[str, Any]) -> Path:
    """Write ``document`` as JSON to ``path`` atomically (a temporary file renamed into place), readable by
    its owner only: a reader never finds half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=1, sort_keys=True, default=str)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

