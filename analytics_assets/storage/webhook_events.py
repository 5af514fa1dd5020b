"""Webhook events into the warehouse: the API's inbound store -> ``raw.raw_webhook_events``, one way.

Copies the events not loaded yet (store ``seq`` above the largest one already in the table for that store)
and upserts them by ``(platform, event_id)``, so a rerun, a crash half-way or a store replayed from scratch
never duplicates an event.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from analytics_assets.contracts.inbound import WebhookStore
from analytics_assets.contracts.raw import RAW_SCHEMA, WEBHOOK_EVENT_COLUMNS as COLUMNS, WEBHOOK_EVENTS_TABLE
from analytics_assets.storage.warehouse import registered, transaction

TABLE = f"{RAW_SCHEMA}.{WEBHOOK_EVENTS_TABLE}"
BATCH_ROWS = 5000


def ensure_table(con) -> None:
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    cols = ", ".join(f"{c} {t}" for c, t in COLUMNS.items())
    con.execute(f"create table if not exists {TABLE} ({cols})")


def upsert_events(con, frame: pd.DataFrame) -> None:
    """Replace the rows of these ``(platform, event_id)`` and insert the batch, in one transaction."""
    with registered(con, "_events", frame), transaction(con):
        con.execute(
            f"""delete from {TABLE} t using (select distinct platform, event_id from _events) e
                where t.platform = e.platform and t.event_id = e.event_id"""
        )
        select = ", ".join(f"cast({c} as {t}) as {c}" for c, t in COLUMNS.items())
        con.execute(f"insert into {TABLE} select {select} from _events")


def ingest(con, store: WebhookStore, batch_rows: int = BATCH_ROWS) -> tuple[int, int, Counter[str], str | None]:
    """Load every event of ``store`` past the table's cursor. Returns (loaded, cursor, per platform, store id)."""
    ensure_table(con)
    state = store.state()
    if state is None:
        return 0, 0, Counter(), None
    (cursor,) = con.execute(
        f"select coalesce(max(store_seq), 0) from {TABLE} where store_id = ?", [state.store_id]
    ).fetchall()[0]
    cursor = int(cursor)
    loaded, per_platform = 0, Counter()
    while True:
        rows = store.read_after(cursor, batch_rows)
        if not rows:
            break
        frame = pd.DataFrame(rows).rename(columns={"seq": "store_seq"})
        frame["store_id"] = state.store_id
        frame["loaded_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
        frame = frame.drop_duplicates(["platform", "event_id"], keep="last")  # the store is unique already
        upsert_events(con, frame)
        loaded += len(frame)
        per_platform.update(frame["platform"].value_counts().to_dict())
        cursor = int(frame["store_seq"].max())
    return loaded, cursor, per_platform, state.store_id
