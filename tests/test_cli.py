"""The installed `cycle` command backfills partitions through the graph on the shared instance, and
running it twice changes nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dagster as dg
import pytest

from cycle_testing import CYCLE, cycle_env
from warehouse_state import table_fingerprints

pytestmark = pytest.mark.slow


def _cycle(args: list[str], home: Path) -> subprocess.CompletedProcess:
    env = cycle_env(home, posts_per_day=160, journeys_per_day=120)
    return subprocess.run([CYCLE, *args], env=env, capture_output=True, text=True, timeout=600)


def test_backfill_twice_changes_nothing_and_shows_in_run_history(tmp_path, monkeypatch):
    args = ["backfill", "--start", "2026-08-01", "--end", "2026-08-02"]
    first = _cycle(args, tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "SUCCESS" in first.stdout
    warehouse = tmp_path / "warehouse.duckdb"
    before = table_fingerprints(warehouse)
    assert before["raw.raw_social_post_snapshots"][0] > 0
    assert before["ml.posting_hour_recommendations"][0] == 4 * 24

    second = _cycle(args, tmp_path)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    after = table_fingerprints(warehouse)
    assert after == before

    # both runs are in the instance the UI reads (DAGSTER_HOME), with the range the UI would show
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
    assert len(runs) == 2
    assert all(r.tags.get("dagster/asset_partition_range_start") == "2026-08-01" for r in runs)
    assert all(r.is_success for r in runs)


def test_backfill_rejects_a_reversed_range(tmp_path):
    result = _cycle(["backfill", "--start", "2026-08-05", "--end", "2026-08-01"], tmp_path)
    assert result.returncode != 0
    assert "is after --end" in result.stderr
