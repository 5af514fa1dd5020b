"""The installed `cycle` command backfills partitions through the graph on the shared instance, running it
twice changes nothing, and it is quiet: one line per step on the terminal, the summary last, the full event
log in a file under the Cycle home, and no reference-leak report from DuckDB's bindings (nanobind) at exit."""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from cycle_testing import CYCLE, cycle_env
from warehouse_state import table_fingerprints

pytestmark = pytest.mark.slow


def _cycle(args: list[str], home: Path) -> subprocess.CompletedProcess:
    env = cycle_env(home, posts_per_day=160, journeys_per_day=120)
    return subprocess.run([CYCLE, *args], env=env, capture_output=True, text=True, timeout=600)


def _log_file(result: subprocess.CompletedProcess) -> Path:
    """The log path the command printed once (its first line)."""
    match = re.search(r"^cycle: full log in (\S+)$", result.stdout, re.MULTILINE)
    assert match, result.stdout[:2000]
    return Path(match.group(1))


def test_demo_is_quiet_then_a_backfill_of_its_window_changes_nothing(tmp_path, monkeypatch):
    demo = _cycle(["demo", "--days", "2"], tmp_path)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    terminal = (demo.stdout + demo.stderr).splitlines()
    assert len(terminal) < 100, "\n".join(terminal)
    assert "DEBUG" not in demo.stdout + demo.stderr and "START sql" not in demo.stdout  # no event log, no dbt lines
    assert "nanobind" not in demo.stdout + demo.stderr  # the exit is clean (analysis/daily_series.py says why)
    # one progress line per step, then the run's outcome, then the summary with the API key last
    steps = [line for line in terminal if re.match(r"^\[\s*\d+/\d+\] ok ", line)]
    assert any("cycle_dbt_models" in line for line in steps) and any("serving_snapshot" in line for line in steps)
    summary = demo.stdout[demo.stdout.index("== Summary"):]
    for section in ("ROAS", "Open recommendations", "Top insights", "Attribution (", "Quarantine: "):
        assert section in summary, summary
    assert demo.stdout.rstrip().splitlines()[-1].startswith("  curl -H 'Authorization: Bearer cyk_")
    # the terminal's quiet, the file is not: Dagster's whole event log and dbt's own lines
    log = _log_file(demo)
    assert log.parent == tmp_path / "logs"
    text = log.read_text()
    assert "STEP_SUCCESS" in text and "DEBUG" in text and "START sql table model" in text

    # the demo's first day is this home's first partition, so the UI shows its partitions filled
    window = re.search(r"over (\d{4}-\d\d-\d\d) \.\. (\d{4}-\d\d-\d\d)", demo.stdout)
    start, end = window.group(1), window.group(2)
    assert (tmp_path / "partition_start").read_text().strip() == start
    assert date.fromisoformat(end) > date.fromisoformat(start)

    warehouse = tmp_path / "warehouse.duckdb"
    before = table_fingerprints(warehouse)
    assert before["raw.raw_social_post_snapshots"][0] > 0
    assert before["ml.posting_hour_recommendations"][0] == 4 * 24

    second = _cycle(["backfill", "--start", start, "--end", end], tmp_path)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "SUCCESS" in second.stdout
    assert _log_file(second) != log and len(second.stdout.splitlines()) < 40
    after = table_fingerprints(warehouse)
    assert after == before

    # both runs are in the instance the UI reads (DAGSTER_HOME), with the range the UI would show
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
    assert len(runs) == 2
    assert all(r.tags.get("dagster/asset_partition_range_start") == start for r in runs)
    assert all(r.is_success for r in runs)


def test_backfill_rejects_a_reversed_range(tmp_path):
    result = _cycle(["backfill", "--start", "2026-08-05", "--end", "2026-08-01"], tmp_path)
    assert result.returncode != 0
    assert "is after --end" in result.stderr
