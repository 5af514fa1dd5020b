"""The API's inbound store into the warehouse, one way: new rows of one store table -> one raw table.

Shared by ``storage.webhook_events`` (``raw_webhook_events``) and ``storage.api_audit`` (``raw_api_audit``).
Copies the rows not loaded yet (store ``seq`` above the largest ``store_seq`` already in the raw table for
that ``store_id``) in batches, and upserts each batch by the table's key in one transaction, so a rerun, a
crash half-way or a store replaced by a new file (new ``store_id``, ``seq`` from 1 again) never duplicates a row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from analytics_assets.contracts.inbound import InboundStore
from analytics_assets.storage.warehouse import registered, transaction

BATCH_ROWS = 5000


@dataclass(frozen=True)
class StoreCopy:
    loaded: int  # rows written by this copy
    cursor: int  # the store seq the raw table now holds everything through (0: nothing)
    store_id: str | None  # the store copied (None: no store yet)
    loaded_by: Counter[str]  # rows loaded per value of the ``count_by`` column ("none" for NULL)


def ensure_table(con, qualified: str, columns: Mapping[str, str]) -> None:
    con.execute(f"create schema if not exists {qualified.split('.', 1)[0]}")
    cols = ", ".join(f"{c} {t}" for c, t in columns.items())
    con.execute(f"create table if not exists {qualified} ({cols})")


def upsert(con, qualified: str, columns: Mapping[str, str], key: tuple[str, ...], frame: pd.DataFrame) -> None:
    """Replace the rows with the ``key`` values of ``frame`` and insert ``frame``, in one transaction."""
    match = " and ".join(f"t.{c} = k.{c}" for c in key)
    with registered(con, "_inbound_rows", frame), transaction(con):
        con.execute(f"delete from {qualified} t using (select distinct {', '.join(key)} from _inbound_rows) k where {match}")
        select = ", ".join(f"cast({c} as {t}) as {c}" for c, t in columns.items())
        con.execute(f"insert into {qualified} select {select} from _inbound_rows")


def copy_new_rows(
    con,
    store: InboundStore,
    qualified: str,
    columns: Mapping[str, str],
    key: tuple[str, ...],
    batch_rows: int = BATCH_ROWS,
    count_by: str | None = None,
) -> StoreCopy:
    """Load every row of ``store`` past the raw table's cursor into ``qualified``, counting the rows loaded
    per value of the store column ``count_by``."""
    ensure_table(con, qualified, columns)
    state = store.state()
    if state is None:
        return StoreCopy(0, 0, None, Counter())
    (cursor,) = con.execute(
        f"select coalesce(max(store_seq), 0) from {qualified} where store_id = ?", [state.store_id]
    ).fetchall()[0]
    cursor, loaded, loaded_by = int(cursor), 0, Counter[str]()
    while True:
        rows = store.read_after(cursor, batch_rows)
        if not rows:
            break
        frame = pd.DataFrame(rows).rename(columns={"seq": "store_seq"})
        frame["store_id"] = state.store_id
        frame["loaded_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
        frame = frame.drop_duplicates(list(key), keep="last")
        upsert(con, qualified, columns, key, frame)
        if count_by is not None:
            loaded_by.update("none" if r[count_by] is None else str(r[count_by]) for r in rows)
        loaded += len(frame)
        cursor = int(frame["store_seq"].max())
    return StoreCopy(loaded, cursor, state.store_id, loaded_by)
