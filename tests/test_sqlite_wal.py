"""Many connections creating one SQLite file at once all get it in WAL mode.

SQLite answers ``database is locked`` at once to the loser of a race to change the journal mode, whatever
the busy timeout (CI saw it in the alert store: 6 threads raising one alert, one lost). Plain
``pragma journal_mode = wal`` fails a few of these rounds; ``use_wal`` must fail none.
"""

from __future__ import annotations

import sqlite3
import threading

from analytics_assets.contracts.sqlite_wal import use_wal


def test_racing_creators_all_switch_the_new_file_to_wal(tmp_path):
    errors: list[BaseException] = []
    for round_ in range(25):
        path = tmp_path / f"store-{round_}.sqlite"
        start = threading.Barrier(12)

        def create() -> None:
            con = sqlite3.connect(path, timeout=5, isolation_level=None)
            try:
                start.wait()
                use_wal(con, 5)
                con.execute("create table if not exists t (x integer)")
            except BaseException as exc:  # collected: an exception in a thread would not fail the test
                errors.append(exc)
            finally:
                con.close()

        threads = [threading.Thread(target=create) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        with sqlite3.connect(path) as con:
            assert con.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert errors == []

