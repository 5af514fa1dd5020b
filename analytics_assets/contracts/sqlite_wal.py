"""Switching a shared SQLite file to write-ahead logging without losing a race.

The API's store, the access registry and the alert store are SQLite files that several threads and
processes open at once. WAL lets readers run beside the one writer, and the mode is stored in the file,
so it has to be set once, by whoever creates it. SQLite does not call the busy handler for a change of
journal mode: when two connections create the file at the same moment, the loser gets
``database is locked`` at once, whatever ``busy_timeout`` says. ``use_wal`` reads the mode first (the
common case, no lock needed beyond a shared one) and retries the change until the timeout.
"""

from __future__ import annotations

import random
import sqlite3
import time


def use_wal(con: sqlite3.Connection, timeout_s: float) -> None:
    """Put ``con``'s database in WAL mode, waiting up to ``timeout_s`` for a concurrent creator."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if str(con.execute("pragma journal_mode").fetchone()[0]).lower() == "wal":
                return
            con.execute("pragma journal_mode = wal")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))  # jittered, so racing creators do not retry in step
