"""`cycle summary`'s warehouse lines (``cli/summary.py``): the quarantine share counts every raw table against the
quarantine, and a warehouse another process holds is one line of the summary, not a traceback. The same lines
on PostgreSQL: tests/test_postgres_warehouse.py."""

from __future__ import annotations

import subprocess
import sys

from analytics_assets.cli.summary import quarantine_lines, table_rows
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.storage import warehouse


def _warehouse_with_quarantine(path) -> None:
    with warehouse.connect(path) as con:
        con.execute("create schema raw")
        con.execute("create table raw.raw_quarantine (source_table varchar, reason varchar)")
        con.execute("insert into raw.raw_quarantine values ('raw_posts', 'bad'), ('raw_posts', 'bad'), "
                    "('raw_ads', 'bad')")
        con.execute("create table raw.raw_posts as select range as id from range(12)")
        con.execute("create table raw.raw_ads as select range as id from range(5)")


def test_quarantine_share_counts_every_raw_table(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    resource = WarehouseResource(path=str(path))
    assert quarantine_lines(resource) == []  # no warehouse yet
    _warehouse_with_quarantine(path)
    assert quarantine_lines(resource) == ["Quarantine: 3 of 20 raw records (15.00%): raw_posts 2, raw_ads 1"]


def test_a_warehouse_another_process_holds_is_one_line(tmp_path, monkeypatch):
    path = tmp_path / "warehouse.duckdb"
    _warehouse_with_quarantine(path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "time.sleep(120)", str(path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        (line,) = quarantine_lines(WarehouseResource(path=str(path)))
        assert line.startswith(f"Warehouse {path} cannot be read now: ") and "lock" in line
        monkeypatch.delenv("CYCLE_WAREHOUSE_ENGINE", raising=False)
        monkeypatch.setenv("CYCLE_WAREHOUSE_PATH", str(path))
        rows = table_rows()
        assert rows[:2] == [f"Warehouse: {path}", "Rows per table:"] and "cannot be read now" in rows[2]
    finally:
        holder.kill()
        holder.wait()
    assert quarantine_lines(WarehouseResource(path=str(path)))[0].startswith("Quarantine: 3 of 20")
