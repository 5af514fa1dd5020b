"""The connectors' state in the warehouse: the post registry and the fetch ledger (schema ``raw``).

The registry says which organic posts exist and when each was last polled; the ledger says which ad
days were fetched and whether the platform may still restate them. Both are written in the same
transaction as the rows they describe (``also=`` of ``storage.warehouse``'s writers), so a crash never
leaves the state ahead of or behind the data.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd

from analytics_assets.contracts.raw import RAW_SCHEMA
from analytics_assets.storage.warehouse import registered

REGISTRY = f"{RAW_SCHEMA}.raw_post_registry"
LEDGER = f"{RAW_SCHEMA}.raw_fetch_ledger"


def ensure_state_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    con.execute(
        f"""create table if not exists {REGISTRY} (
              platform varchar, post_id varchar, account_id varchar, published_at timestamp,
              discovered_at timestamp, last_polled_at timestamp, polls integer, deleted_at timestamp)"""
    )
    con.execute(
        f"""create table if not exists {LEDGER} (
              platform varchar, entity varchar, day date, status varchar, requests integer, rows integer,
              quarantined integer, window_start date, window_end date, completed_at timestamp)"""
    )


# ------------------------------------------------------------------------------------------- ledger


def ledger_days(
    con: duckdb.DuckDBPyConnection, platform: str, entity: str, status: str, before: date | None = None
) -> set[date]:
    """Days of ``platform``/``entity`` recorded with ``status`` (only those before ``before`` if given)."""
    sql = f"select day from {LEDGER} where platform = ? and entity = ? and status = ?"
    params: list[object] = [platform, entity, status]
    if before is not None:
        sql += " and day < ?"
        params.append(before)
    return {r[0] for r in con.execute(sql, params).fetchall()}


def write_ledger(con: duckdb.DuckDBPyConnection, ledger: pd.DataFrame) -> None:
    """Replace the ledger rows of the days in ``ledger`` (one platform and entity) with ``ledger``."""
    platform, entity = ledger["platform"].iloc[0], ledger["entity"].iloc[0]
    con.execute(
        f"delete from {LEDGER} where platform = ? and entity = ? and day in (select unnest(?::date[]))",
        [platform, entity, list(ledger["day"])],
    )
    with registered(con, "_ledger", ledger):
        con.execute(f"insert into {LEDGER} select * from _ledger")


# ----------------------------------------------------------------------------------------- registry


def due_posts(
    con: duckdb.DuckDBPyConnection,
    platform: str,
    published_since: datetime,
    early_since: datetime,
    early_polled_before: datetime,
    polled_before: datetime,
) -> pd.DataFrame:
    """Posts of ``platform`` still tracked (published since ``published_since``, not deleted) that are due:
    never polled, or young (published after ``early_since``) and polled before ``early_polled_before``, or
    polled before ``polled_before``."""
    return con.execute(
        f"""select post_id, account_id, published_at from {REGISTRY}
            where platform = ? and deleted_at is null and published_at >= ?
              and (last_polled_at is null
                   or (published_at > ? and last_polled_at <= ?)
                   or last_polled_at <= ?)
            order by published_at""",
        [platform, published_since, early_since, early_polled_before, polled_before],
    ).df()


def register_posts(con: duckdb.DuckDBPyConnection, platform: str, posts: pd.DataFrame, now: datetime) -> int:
    """Add the posts not registered yet; returns how many were new."""
    if posts.empty:
        return 0
    with registered(con, "_found", posts):
        new = con.execute(
            f"""select count(*) from _found f where not exists (
                  select 1 from {REGISTRY} r where r.platform = ? and r.post_id = f.post_id)""",
            [platform],
        ).fetchone()[0]
        con.execute(
            f"""insert into {REGISTRY}
                select ?, f.post_id, f.account_id, f.published_at, ?, null, 0, null from _found f
                where not exists (select 1 from {REGISTRY} r where r.platform = ? and r.post_id = f.post_id)""",
            [platform, now, platform],
        )
    return int(new)


def mark_polled(
    con: duckdb.DuckDBPyConnection, platform: str, now: datetime, answered: list[str], deleted: list[str]
) -> None:
    """Record a poll: ``answered`` posts were polled at ``now``; ``deleted`` ones are gone for good."""
    con.execute(
        f"""update {REGISTRY} set last_polled_at = ?, polls = polls + 1
            where platform = ? and post_id in (select unnest(?::varchar[]))""",
        [now, platform, answered],
    )
    con.execute(
        f"""update {REGISTRY} set deleted_at = ?
            where platform = ? and deleted_at is null and post_id in (select unnest(?::varchar[]))""",
        [now, platform, deleted],
    )
