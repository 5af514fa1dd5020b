"""Dagster's own storage on PostgreSQL (issue 16, item 5): with ``CYCLE_DAGSTER_PG_URL`` set, the instance that
``cycle``, ``make dev`` and the daemon load keeps its runs, event logs and the warehouse pool's claims in
PostgreSQL, so the webserver, the daemon and runs on other machines share one instance. Shown on a server of
the test's own (127.0.0.1, deleted afterwards): a raw partition materializes through the pool, every record of
it is in PostgreSQL and none in SQLite files, a dead run's claim is released there, and the ``cycle`` command
reads the same instance. A file and a setting that disagree are refused with what to do.

Without PostgreSQL server binaries the PostgreSQL test is skipped on a developer machine and fails under CI."""

from __future__ import annotations

import os
import subprocess
from datetime import date

import dagster as dg
import psycopg2
import pytest
import yaml

from analytics_assets.cli.instance import PG_URL_ENV, ensure_instance_config
from analytics_assets.defs.ingest.raw import raw_platform_data
from analytics_assets.defs.resources import default_resources
from analytics_assets.defs.run_recovery import RUN_HOST_TAG, RUN_PID_TAG, recover_dead_runs
from analytics_assets.settings import SettingsError, load_settings
from cycle_testing import CYCLE, CycleHome
from postgres_testing import server_for_module

DAY = date(2026, 6, 3)
SIM = {"seed": 4, "posts_per_day": 20, "journeys_per_day": 5, "malformed_rate": 0.0}
POOL = "duckdb_warehouse"


@pytest.fixture(scope="module")
def server():
    yield from server_for_module("dagster")


def _env(monkeypatch, root, url: str | None) -> None:
    monkeypatch.setenv("CYCLE_HOME", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    monkeypatch.delenv("CYCLE_WAREHOUSE_PATH", raising=False)
    if url is None:
        monkeypatch.delenv(PG_URL_ENV, raising=False)
    else:
        monkeypatch.setenv(PG_URL_ENV, url)


def _rows(url: str, sql: str) -> list[tuple]:
    with psycopg2.connect(url.replace("+psycopg2", "")) as con, con.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_runs_events_and_pool_claims_live_in_postgres(server, tmp_path, monkeypatch):
    url = f"postgresql+psycopg2://{server.user}@{server.host}:{server.port}/{server.dbname}"
    root = tmp_path / "home"
    _env(monkeypatch, root, url)
    from analytics_assets.cli import ensure_dagster_home

    home = ensure_dagster_home()
    text = (home / "dagster.yaml").read_text()
    config = yaml.safe_load(text)
    assert config["storage"] == {"postgres": {"postgres_url": {"env": PG_URL_ENV}}}
    assert str(server.port) not in text  # the URL stays in the environment
    assert config["concurrency"]["pools"]["default_limit"] == 1  # Cycle's own settings are kept

    with dg.DagsterInstance.get() as instance:
        assert {type(s).__name__ for s in (instance.run_storage, instance.event_log_storage, instance.schedule_storage)} == {
            "PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"
        }
        cycle_home = CycleHome(root=root, instance=instance)
        result = dg.materialize(
            [raw_platform_data],
            resources={**default_resources(), **cycle_home.resources(**SIM)},
            instance=instance,
            partition_key=DAY.isoformat(),
        )
        assert result.success
        # the pool the warehouse writers share is enforced from PostgreSQL: limit 1, nothing left claimed
        info = instance.event_log_storage.get_concurrency_info(POOL)
        assert info.slot_count == 1 and info.claimed_slots == [] and info.pending_steps == []

        # a run whose process died holding the pool is released in PostgreSQL, as on SQLite
        dead = instance.create_run_for_job(
            dg.GraphDefinition("dead_run", node_defs=[]).to_job(),
            status=dg.DagsterRunStatus.STARTED,
            tags={RUN_PID_TAG: "99999999", RUN_HOST_TAG: os.uname().nodename},
        )
        assert instance.event_log_storage.claim_concurrency_slot(POOL, dead.run_id, "raw_platform_data").is_claimed
        assert _rows(url, f"select count(*) from concurrency_slots where run_id = '{dead.run_id}'") == [(1,)]
        assert [r.run_id for r in recover_dead_runs(instance)] == [dead.run_id]
        assert _rows(url, f"select count(*) from concurrency_slots where run_id = '{dead.run_id}'") == [(0,)]

    # every record is in PostgreSQL: the run, its materializations (one per raw table), the pool's limit
    (status,) = _rows(url, f"select status from runs where run_id = '{result.run_id}'")
    assert status == ("SUCCESS",)
    materialized = _rows(
        url,
        "select distinct asset_key from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' "
        f"and run_id = '{result.run_id}'",
    )
    assert {key for (key,) in materialized} >= {'["raw_social_post_snapshots"]', '["raw_boosts"]', '["raw_touchpoints"]'}
    assert _rows(url, f'select "limit" from concurrency_limits where concurrency_key = \'{POOL}\'') == [(1,)]
    # and nothing went to SQLite files in the Dagster home
    assert not list(home.rglob("*.db"))
    # the warehouse itself stays DuckDB: only Dagster's bookkeeping moved
    assert cycle_home.query("select count(*) as n from raw.raw_social_post_snapshots").n[0] > 0

    # the `cycle` command loads the same instance (a new process, the URL from its environment)
    doctor = subprocess.run([CYCLE, "doctor"], env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert doctor.returncode == 0, doctor.stderr
    assert "no dead run holds anything" in doctor.stdout


def test_a_home_and_a_setting_that_disagree_are_refused(tmp_path, monkeypatch):
    root = tmp_path / "home"
    _env(monkeypatch, root, None)
    home = root / "dagster_home"
    path = ensure_instance_config(home, load_settings())
    # the embedded default: SQLite in the home (tests/test_dagster_sqlite_storage.py)
    assert yaml.safe_load(path.read_text())["storage"]["custom"]["class"] == "CycleSqliteStorage"

    # the variable set on a home whose runs are in SQLite: refused, not switched behind the user's back
    monkeypatch.setenv(PG_URL_ENV, "postgresql+psycopg2://cycle:secret@db.internal:5432/dagster")
    with pytest.raises(SettingsError, match=f"{PG_URL_ENV} is set, but .* keeps Dagster's runs in sqlite"):
        ensure_instance_config(home, load_settings())
    # --refresh switches it, and the password is never written
    ensure_instance_config(home, load_settings(), refresh=True)
    assert "secret" not in path.read_text() and "postgres" in yaml.safe_load(path.read_text())["storage"]
    assert ensure_instance_config(home, load_settings()) == path  # now they agree

    # the file reads the variable, which is gone: refused with its name
    monkeypatch.delenv(PG_URL_ENV)
    with pytest.raises(SettingsError, match=f"PostgreSQL at {PG_URL_ENV}, which is not set"):
        ensure_instance_config(home, load_settings())

    # not a PostgreSQL URL: one line at startup
    for wrong in ("mysql://cycle@db/dagster", "postgresql://cycle@db/dagster"):  # the second: psycopg 3's scheme
        monkeypatch.setenv(PG_URL_ENV, wrong)
        with pytest.raises(SettingsError, match="must be a PostgreSQL URL with its driver: postgresql\\+psycopg2://"):
            load_settings()


def test_the_module_writes_the_file_make_dev_uses(tmp_path, monkeypatch):
    from analytics_assets.cli import instance as dagster_instance

    _env(monkeypatch, tmp_path / "home", None)
    assert dagster_instance.main([]) == 0
    written = tmp_path / "home" / "dagster_home" / "dagster.yaml"
    base = yaml.safe_load((dagster_instance.BASE_CONFIG).read_text())
    home = str((tmp_path / "home" / "dagster_home").resolve())
    sqlite = {"custom": {"module": dagster_instance.SQLITE_MODULE, "class": "CycleSqliteStorage", "config": {"base_dir": home}}}
    assert yaml.safe_load(written.read_text()) == {**base, "storage": sqlite}
    monkeypatch.setenv(PG_URL_ENV, "postgresql+psycopg2://cycle@127.0.0.1:5432/dagster")
    assert dagster_instance.main([]) == 2  # disagrees with the file: says so, exit 2
    assert dagster_instance.main(["--refresh"]) == 0
    assert yaml.safe_load(written.read_text()) == {**base, "storage": {"postgres": {"postgres_url": {"env": PG_URL_ENV}}}}
