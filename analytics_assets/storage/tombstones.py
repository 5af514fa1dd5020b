"""Tombstones of erased people (``contracts.privacy``): what every raw load and the archive consult.

An erasure leaves ``(property_id, subject, subject_hash)`` in ``raw.raw_privacy_tombstones`` for the person and
each of their journeys (the hash salted with the installation's secret in ``raw.raw_privacy_salt``). The raw writers (``storage.warehouse``) call
:func:`drop_tombstoned` inside their transaction, after their insert: rows of a tombstoned person, and the
quarantined native records naming them, never commit, so a rerun or a backfill (the simulator regenerates the
same journeys) never restores them. :class:`Tombstones` applies the same rule to a frame (an archived day).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
import pandas as pd

from analytics_assets.contracts.privacy import (
    AUDIT_COLUMNS,
    PAYLOAD_JOURNEY_KEY,
    PAYLOAD_USER_KEYS,
    SALT_COLUMNS,
    TOMBSTONE_COLUMNS,
    USER_TABLES,
    audit_qualified,
    property_of,
    salt_qualified,
    tombstones_qualified,
    user_hash,
)
from analytics_assets.contracts.raw import DEFAULT_WEB_PROPERTY, QUARANTINE_TABLE, RAW_SCHEMA
from analytics_assets.storage.dialect import ensure_json_text, json_text, sha256_hex


def _exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".", 1)
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
        ).fetchall()[0][0]
    )


def ensure_privacy_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    for qualified, columns in (
        (tombstones_qualified(), TOMBSTONE_COLUMNS),
        (salt_qualified(), SALT_COLUMNS),
        (audit_qualified(), AUDIT_COLUMNS),
    ):
        con.execute(f"create table if not exists {qualified} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
    ensure_json_text(con)  # what reads a quarantined payload's keys on PostgreSQL


def installation_salt(con: duckdb.DuckDBPyConnection) -> str:
    """The secret salt of ``user_hash``, created (random, 32 bytes) the first time it is asked for."""
    ensure_privacy_tables(con)
    found = con.execute(f"select salt from {salt_qualified()} order by created_at limit 1").fetchall()
    if found:
        return found[0][0]
    salt = secrets.token_hex(32)
    con.execute(f"insert into {salt_qualified()} values (?, ?)", [salt, datetime.now(timezone.utc).replace(tzinfo=None)])
    return salt


def _payload_sql(con, alias: str, keys: tuple[str, ...]) -> str:
    return "coalesce(" + ", ".join(json_text(con, f"{alias}.payload", k) for k in keys) + ")"


def _payload_property_sql(con, alias: str) -> str:
    return f"coalesce({json_text(con, f'{alias}.payload', 'property_id')}, '{DEFAULT_WEB_PROPERTY}')"


def _erased_sql(con, tomb: str, property_sql: str, user_sql: str, journey_sql: str) -> str:
    """Whether a row (its property, user id and journey id as SQL) names a tombstoned person or journey; the
    first parameter is the salt."""
    user_hash_sql = sha256_hex(con, f"s.salt || ':' || {user_sql}")
    journey_hash_sql = sha256_hex(con, f"s.salt || ':' || {journey_sql}")
    return f"""exists (select 1 from {tomb} x, (select cast(? as varchar) as salt) s where x.property_id = {property_sql} and (
                 (x.subject = 'user' and x.subject_hash = {user_hash_sql})
                 or (x.subject = 'journey' and x.subject_hash = {journey_hash_sql})))"""


def drop_tombstoned(con: duckdb.DuckDBPyConnection, table_name: str) -> tuple[int, int]:
    """Delete the rows of ``table_name`` (one of ``USER_TABLES``; any other is left alone) that name a tombstoned
    person or journey, and the quarantined records of that table that do. Returns (rows, quarantined records)
    deleted. Meant to run inside the writer's transaction: nothing of an erased person commits."""
    if table_name not in USER_TABLES or not _exists(con, tombstones_qualified()):
        return 0, 0
    if not con.execute(f"select count(*) from {tombstones_qualified()}").fetchall()[0][0]:
        return 0, 0
    salt = installation_salt(con)
    tomb = tombstones_qualified()
    (rows,) = con.execute(
        f"delete from {RAW_SCHEMA}.{table_name} t where "
        + _erased_sql(con, tomb, f"coalesce(t.property_id, '{DEFAULT_WEB_PROPERTY}')", "t.user_id", "t.journey_id"),
        [salt],
    ).fetchall()[0]
    quarantined = 0
    if _exists(con, f"{RAW_SCHEMA}.{QUARANTINE_TABLE}"):
        (quarantined,) = con.execute(
            f"delete from {RAW_SCHEMA}.{QUARANTINE_TABLE} q where q.source_table = ? and "
            + _erased_sql(
                con,
                tomb,
                _payload_property_sql(con, "q"),
                _payload_sql(con, "q", PAYLOAD_USER_KEYS),
                _payload_sql(con, "q", (PAYLOAD_JOURNEY_KEY,)),
            ),
            [table_name, salt],
        ).fetchall()[0]
    return int(rows), int(quarantined)


@dataclass(frozen=True)
class Tombstones:
    """The erased people and journeys, to filter a frame of a user table (an archived day)."""

    salt: str
    erased: frozenset[tuple[str, str, str]]  # (property_id, subject, subject_hash)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(sorted(self.erased), columns=["property_id", "subject", "subject_hash"])

    def erased_rows(self, frame: pd.DataFrame) -> pd.Series:
        """True for each row of ``frame`` (``user_id``/``journey_id``, optional ``property_id``) that names an
        erased person or journey."""
        if not self.erased or frame.empty:
            return pd.Series(False, index=frame.index)
        none = pd.Series(None, index=frame.index, dtype=object)
        properties = frame["property_id"] if "property_id" in frame else none
        users = frame["user_id"] if "user_id" in frame else none
        journeys = frame["journey_id"] if "journey_id" in frame else none

        def erased(prop: object, subject: str, value: object) -> bool:
            return value is not None and value == value and (
                property_of(prop), subject, user_hash(self.salt, str(value))
            ) in self.erased

        return pd.Series(
            [erased(p, "user", u) or erased(p, "journey", j) for p, u, j in zip(properties, users, journeys)],
            index=frame.index,
        )


def load_tombstones(con: duckdb.DuckDBPyConnection) -> Tombstones | None:
    """The tombstones of the warehouse; None while nobody was erased."""
    if not _exists(con, tombstones_qualified()):
        return None
    erased = con.execute(f"select distinct property_id, subject, subject_hash from {tombstones_qualified()}").fetchall()
    if not erased:
        return None
    return Tombstones(installation_salt(con), frozenset((p, s, h) for p, s, h in erased))
