"""The embedded default's Dagster storage (analytics_assets/cli/dagster_storage.py): the same SQLite files as
Dagster's default, the event log's connections kept open. Runs recorded by one instance are seen by another
(the webserver, the daemon, another process's run) and by Dagster's default storage on the same folder; the
open shards stay bounded; a wipe starts clean; a forked child does not reuse its parent's connections."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from analytics_assets.cli.instance import ensure_instance_config
from analytics_assets.settings import load_settings
from analytics_assets.cli.dagster_storage import MAX_OPEN_SHARDS, PooledSqliteEventLogStorage


@dg.asset
def upstream() -> int:
    return 1


@dg.asset(check_specs=[dg.AssetCheckSpec("is_positive", asset="downstream")])
def downstream(upstream: int):
    yield dg.Output(upstream + 1)
    yield dg.AssetCheckResult(passed=upstream + 1 > 0, check_name="is_positive")


JOB = dg.define_asset_job("storage_probe", selection=[upstream, downstream])
DEFS = dg.Definitions(assets=[upstream, downstream], jobs=[JOB])


def _run(instance: dg.DagsterInstance) -> str:
    result = DEFS.resolve_job_def("storage_probe").execute_in_process(instance=instance)
    assert result.success
    return result.run_id


@pytest.fixture
def dagster_home(tmp_path, monkeypatch) -> Path:
    """A home whose dagster.yaml is the one `make` and `cycle` write, found through DAGSTER_HOME."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("CYCLE_DAGSTER_PG_URL", raising=False)
    ensure_instance_config(home, load_settings())
    return home


def test_runs_land_where_dagsters_default_keeps_them_and_every_instance_reads_them(dagster_home):
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        first = _run(instance)
        second = _run(instance)
        # the run's shard and the index stay open between events
        assert {first, second, "index"} >= set(instance.event_log_storage.open_shards) >= {"index"}
    assert (dagster_home / "history" / "runs" / f"{first}.db").exists()
    assert (dagster_home / "history" / "runs.db").exists()

    # Dagster's own default storage on the same folder (an instance without Cycle's file) sees both runs
    (dagster_home / "dagster.yaml").rename(dagster_home / "cycle.yaml")
    with dg.DagsterInstance.from_config(str(dagster_home)) as default:
        assert not isinstance(default.event_log_storage, PooledSqliteEventLogStorage)
        assert {r.run_id for r in default.get_runs()} == {first, second}
        checks = default.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("downstream"), "is_positive"), limit=10
        )
        assert len(checks) == 2
        third = _run(default)  # and what it writes, Cycle's storage reads
    (dagster_home / "cycle.yaml").rename(dagster_home / "dagster.yaml")
    with dg.DagsterInstance.get() as instance:
        record = instance.get_latest_materialization_event(dg.AssetKey("downstream"))
        assert record is not None and record.run_id == third


def test_the_file_names_its_own_folder_and_a_moved_home_is_rewritten(dagster_home, tmp_path, monkeypatch):
    with dg.DagsterInstance.get() as instance:
        run_id = _run(instance)
    # a tool that loads the folder's file without DAGSTER_HOME pointing there finds the same runs
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        assert [r.run_id for r in instance.get_runs()] == [run_id]
    # the home moved: its file is rewritten to name the new folder, whose runs it then reads
    moved = tmp_path / "moved_home"
    dagster_home.rename(moved)
    ensure_instance_config(moved, load_settings())
    with dg.DagsterInstance.from_config(str(moved)) as instance:
        assert [r.run_id for r in instance.get_runs()] == [run_id]
        assert instance.event_log_storage._base_dir.startswith(str(moved.resolve()))


def test_a_run_in_another_process_is_seen_while_this_one_holds_its_connections(dagster_home):
    with dg.DagsterInstance.get() as instance:
        mine = _run(instance)
        # another process (a run worker, the daemon) writes the same files meanwhile
        script = textwrap.dedent(
            f"""
            import dagster as dg, sys
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from test_dagster_sqlite_storage import DEFS
            with dg.DagsterInstance.get() as instance:
                result = DEFS.resolve_job_def("storage_probe").execute_in_process(instance=instance)
                print(result.run_id)
            """
        )
        child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=os.environ, timeout=120)
        assert child.returncode == 0, child.stderr[-3000:]
        theirs = child.stdout.strip().splitlines()[-1]
        assert {r.run_id for r in instance.get_runs()} == {mine, theirs}
        assert instance.get_latest_materialization_event(dg.AssetKey("downstream")).run_id == theirs
        # this instance still writes through its open connections (no stale or locked database)
        again = _run(instance)
        assert instance.get_latest_materialization_event(dg.AssetKey("downstream")).run_id == again
        assert len(instance.all_logs(theirs)) > 0


def test_open_shards_stay_bounded_and_old_runs_stay_readable(dagster_home):
    with dg.DagsterInstance.get() as instance:
        runs = [_run(instance) for _ in range(MAX_OPEN_SHARDS + 2)]
        storage = instance.event_log_storage
        assert len(storage.open_shards) <= MAX_OPEN_SHARDS
        assert runs[0] not in storage.open_shards
        for run_id in runs:  # a closed shard reopens on demand
            assert any(e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.RUN_SUCCESS for e in instance.all_logs(run_id))
        assert len(storage.open_shards) <= MAX_OPEN_SHARDS


def test_a_wipe_closes_the_connections_and_the_next_run_starts_clean(dagster_home):
    with dg.DagsterInstance.get() as instance:
        old = _run(instance)
        instance.wipe()
        assert old not in instance.event_log_storage.open_shards  # (the index is emptied, not deleted)
        assert not (dagster_home / "history" / "runs" / f"{old}.db").exists()
        new = _run(instance)
        assert instance.get_latest_materialization_event(dg.AssetKey("downstream")).run_id == new
        assert instance.all_logs(old) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_opens_its_own_connections(dagster_home):
    with dg.DagsterInstance.get() as instance:
        _run(instance)
        parents = dict(instance.event_log_storage._engines)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: a run through the inherited instance, then report what it connected with
            try:
                _run(instance)
                reused = any(instance.event_log_storage._engines.get(k) is v for k, v in parents.items())
                os.write(write, b"reused" if reused else b"own")
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        assert os.read(read, 16) == b"own"
        # the parent's connections still work after the child exited
        last = _run(instance)
        assert instance.get_latest_materialization_event(dg.AssetKey("downstream")).run_id == last
