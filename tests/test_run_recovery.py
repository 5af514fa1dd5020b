"""A run killed at any point never blocks the next one: ``kill -9`` during the raw step and during dbt,
then a plain ``cycle backfill`` completes with no manual step and the warehouse equals a clean run's; its
dbt child dies with it; Ctrl-C and SIGTERM end a run as canceled with its pool slots released."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from analytics_assets import cli
from analytics_assets.defs.run_recovery import RUN_PID_TAG, process_alive, recover_dead_runs
from cycle_testing import CYCLE, cycle_env
from warehouse_state import table_fingerprints

pytestmark = pytest.mark.slow

WINDOW = ["--start", "2026-08-03", "--end", "2026-08-04"]
RAW_STEP = 'Started execution of step "raw_platform_data"'
DBT_STEP = 'Started execution of step "cycle_dbt_models"'
POOL = "duckdb_warehouse"


def _env(home: Path) -> dict[str, str]:
    return cycle_env(home, posts_per_day=400, journeys_per_day=150)


def _backfill(home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CYCLE, "backfill", *WINDOW], env=_env(home), capture_output=True, text=True, timeout=600)


def _start_until(home: Path, marker: str, delay: float = 0.0) -> subprocess.Popen:
    """Start a backfill and return once its event log shows ``marker`` (plus ``delay`` seconds). The terminal
    gets one line per finished step; the full log's path is its first line."""
    proc = subprocess.Popen(
        [CYCLE, "backfill", *WINDOW], env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    log = None
    for line in proc.stdout:
        if found := re.search(r"full log in (\S+)", line):
            log = Path(found.group(1))
            break
    if log is None:
        pytest.fail("the backfill printed no log path")
    # the terminal output is a few dozen lines at most: nothing blocks on the pipe while the log is watched
    deadline = time.monotonic() + 300
    seen, offset = "", 0
    while marker not in seen:
        if log.exists():
            with log.open(errors="replace") as f:
                f.seek(offset)
                chunk = f.read()
                offset = f.tell()
            seen = seen[-len(marker):] + chunk
            if marker in seen:
                break
        if proc.poll() is not None:
            pytest.fail(f"the backfill ended before {marker!r}")
        assert time.monotonic() < deadline, f"{marker!r} never appeared"
        time.sleep(0.1)
    time.sleep(delay)
    return proc


def _dbt_processes(home: Path) -> list[int]:
    """dbt processes working on this home's warehouse."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"dbt" in cmdline and b"build" in cmdline and str(home).encode() in environ:
            found.append(int(entry.name))
    return found


def _runs(home: Path) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        return list(instance.get_runs())


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("clean")
    result = _backfill(home)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return table_fingerprints(home / "warehouse.duckdb")


@pytest.mark.parametrize("marker, delay", [(RAW_STEP, 0.5), (DBT_STEP, 2.0)], ids=["mid-raw", "mid-dbt"])
def test_a_killed_run_blocks_nothing_and_the_rerun_equals_a_clean_run(tmp_path, clean, marker, delay):
    victim = _start_until(tmp_path, marker)
    children: list[int] = []
    deadline = time.monotonic() + 120
    while marker == DBT_STEP and not children and time.monotonic() < deadline:  # dbt starts after its setup
        time.sleep(0.2)
        children = _dbt_processes(tmp_path)
    time.sleep(delay)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    if marker == DBT_STEP:
        assert children, "dbt was running when the run was killed"
        deadline = time.monotonic() + 10
        while any(process_alive(p) for p in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(process_alive(p) for p in children), "dbt outlived the run that started it"
    [dead] = _runs(tmp_path)
    assert dead.status == dg.DagsterRunStatus.STARTED  # what a killed process leaves behind

    rerun = _backfill(tmp_path)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert f"released run {dead.run_id}" in rerun.stderr
    statuses = {r.run_id: r.status for r in _runs(tmp_path)}
    assert statuses.pop(dead.run_id) == dg.DagsterRunStatus.FAILURE
    assert list(statuses.values()) == [dg.DagsterRunStatus.SUCCESS]
    assert table_fingerprints(tmp_path / "warehouse.duckdb") == clean


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_ends_canceled_and_releases_its_slots(tmp_path, signum):
    victim = _start_until(tmp_path, RAW_STEP, 0.5)
    victim.send_signal(signum)
    victim.wait(timeout=60)
    assert victim.returncode != 0
    [run] = _runs(tmp_path)
    assert run.is_finished and not run.is_success, run.status
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        storage = instance.event_log_storage
        held = [s.run_id for key in storage.get_concurrency_keys() for s in storage.get_concurrency_info(key).claimed_slots]
        assert held == []
        assert recover_dead_runs(instance) == []  # nothing left for the doctor


def test_the_doctor_releases_a_dead_run_and_slots_held_by_a_finished_one(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(POOL, 1)
        # a run whose process is gone: a pid that cannot exist on Linux (above pid_max)
        dead = instance.create_run_for_job(
            _job("g"), status=dg.DagsterRunStatus.STARTED, tags={RUN_PID_TAG: "99999999", "cycle/host": os.uname().nodename}
        )
        assert storage.claim_concurrency_slot(POOL, dead.run_id, "raw_platform_data").is_claimed
        # a finished run that could not release its slot (its storage was full when it ended)
        finished = instance.create_run_for_job(_job("h"))
        instance.report_run_failed(finished, message="disk full")
        # a live run (this process) is left alone
        alive = instance.create_run_for_job(
            _job("k"), status=dg.DagsterRunStatus.STARTED, tags={RUN_PID_TAG: str(os.getpid()), "cycle/host": os.uname().nodename}
        )

        released = recover_dead_runs(instance)
        assert [r.run_id for r in released] == [dead.run_id]
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
        assert storage.get_concurrency_info(POOL).claimed_slots == []
        assert storage.claim_concurrency_slot(POOL, finished.run_id, "x").is_claimed
        assert [r.run_id for r in recover_dead_runs(instance)] == [finished.run_id]
        assert storage.get_concurrency_info(POOL).claimed_slots == []


def _job(name: str) -> dg.JobDefinition:
    return dg.GraphDefinition(name, node_defs=[]).to_job()


def test_backfill_windows_that_have_no_partitions_are_refused(monkeypatch):
    last = cli.last_complete_day()
    tomorrow = last + timedelta(days=2)
    for days, start, end, says in [
        (0, None, None, "--days must be at least 1 (got 0)"),
        (-3, None, None, "--days must be at least 1"),
        (None, last, tomorrow, "has not happened yet"),
        (None, date(2027, 1, 1), date(2027, 1, 2), "has not happened yet"),
        (None, date(2024, 12, 30), date(2025, 1, 2), "partitions start at 2025-01-01"),
        (2, last, last, "either --days or --start/--end"),
    ]:
        with pytest.raises(SystemExit, match=re.escape(says)):
            cli.resolve_window(days, start, end)
    assert cli.resolve_window(None, None, None) == (last - timedelta(days=29), last)
    assert cli.resolve_window(1, None, None) == (last, last)
    assert cli.resolve_window(None, last, last) == (last, last)


def test_a_run_on_a_full_disk_fails_and_releases_its_slot(tmp_path, monkeypatch):
    """A write that hits ENOSPC fails the run (the day's previous rows intact), frees the pool slot it held, and
    the next run, with space again, completes. The raw step is the writer that fails, and the steps after it
    never start, so the runs here are the raw assets alone (the whole graph would add minutes and test nothing
    more)."""
    from cycle_testing import new_home

    from analytics_assets.defs.ingest import raw
    from analytics_assets.storage import warehouse

    home = new_home(tmp_path)
    instance = home.instance
    storage = instance.event_log_storage
    storage.set_concurrency_slots(POOL, 1)  # Cycle's pool, as analytics_assets/dagster.yaml sets it
    small = {"posts_per_day": 160, "journeys_per_day": 100, "malformed_rate": 0.0}
    day = date(2026, 10, 12)
    raw_only = dg.define_asset_job("raw_only", selection=dg.AssetSelection.groups("raw"))

    def run_raw():
        defs = dg.Definitions.merge(home.defs(**small), dg.Definitions(jobs=[raw_only]))
        return defs.resolve_job_def("raw_only").execute_in_process(
            instance=instance,
            tags={"dagster/asset_partition_range_start": day.isoformat(), "dagster/asset_partition_range_end": day.isoformat()},
            raise_on_error=False,
        )

    assert run_raw().success
    before = home.query("select count(*) as n from raw.raw_social_post_snapshots")["n"].item()
    held_at_failure = []

    def full_disk(*args, **kwargs):
        held_at_failure.extend(s.run_id for s in storage.get_concurrency_info(POOL).claimed_slots)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(raw, "replace_partitions", full_disk)
    result = run_raw()
    assert not result.success
    assert "No space left on device" in str([e.event_specific_data.error for e in result.all_events if e.is_step_failure])
    assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.FAILURE
    assert held_at_failure == [result.run_id]  # the failing write held the pool's one slot ...
    assert storage.get_concurrency_info(POOL).claimed_slots == []  # ... and the failed run gave it back
    assert home.query("select count(*) as n from raw.raw_social_post_snapshots")["n"].item() == before
    monkeypatch.setattr(raw, "replace_partitions", warehouse.replace_partitions)
    assert run_raw().success
    assert home.query("select count(*) as n from raw.raw_social_post_snapshots")["n"].item() == before
