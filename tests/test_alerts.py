"""Alerts reach someone: each source raises one alert per incident, delivered once to a Slack-compatible
webhook (a local receiver here), recorded in the alerts' store and copied into ``ops.alerts``; a webhook
that is down or refuses is recorded, never raised."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from analytics_assets.contracts.raw import RAW_TABLES
from analytics_assets.contracts.warehouse import ALERTS
from analytics_assets.defs import alerts
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.settings import load_settings
from analytics_assets.storage.alerts import AlertStore, store_path


class Receiver(ThreadingHTTPServer):
    """Records every POST body; answers ``status``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts: list[dict] = []
        self.status = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/alerts"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.posts.append(json.loads(body))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def closed_url() -> str:
    """A port on 127.0.0.1 that nothing listens on: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/alerts"


@pytest.fixture
def home(tmp_path, monkeypatch, receiver) -> Path:
    """A Cycle home whose alerts go to the receiver; retries back off in milliseconds."""
    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))
    monkeypatch.setenv("CYCLE_ALERT_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("CYCLE_ALERT_TIMEOUT_SECONDS", "2")
    monkeypatch.delenv("CYCLE_ALERT_STORE", raising=False)
    monkeypatch.setattr(alerts, "BACKOFF_SECONDS", 0.01)
    return tmp_path


@pytest.fixture
def instance(home) -> Iterator[dg.DagsterInstance]:
    (home / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(home / "dagster_home")) as instance:
        yield instance


def _store() -> AlertStore:
    return AlertStore(store_path(load_settings()))


def _days_ago(days: int) -> str:
    return (datetime.now(timezone.utc).date() - timedelta(days=days)).isoformat()


# ------------------------------------------------------------------------------------------ failed runs


@dg.op
def explode() -> None:
    raise RuntimeError("the upstream API answered 503")


@dg.op
def fine() -> int:
    return 1


@dg.job
def tiny_job() -> None:
    explode()
    fine()


def _failure_context(instance: dg.DagsterInstance) -> dg.RunFailureSensorContext:
    job = dg.Definitions(jobs=[tiny_job], sensors=[alerts.run_failure_alert_sensor]).resolve_job_def("tiny_job")
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = result.get_run_failure_event()
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_event=failure, dagster_instance=instance, dagster_run=run
    ).for_run_failure()


def test_a_failed_run_delivers_one_alert_naming_job_steps_and_error(instance, receiver):
    context = _failure_context(instance)
    run_id = context.dagster_run.run_id
    alerts.run_failure_alert_sensor(context)

    assert len(receiver.posts) == 1
    post = receiver.posts[0]
    assert set(post) == {"text", "blocks"}
    assert "[HIGH]" in post["text"] and "tiny_job" in post["text"] and run_id in post["text"]
    blocks = json.dumps(post["blocks"])
    for expected in ("HIGH", "run_failure", "job tiny_job", "explode", "the upstream API answered 503", run_id, "UTC"):
        assert expected in blocks, expected
    assert "fine" not in json.dumps(post["blocks"][1])  # only the failed step is named

    alerts.run_failure_alert_sensor(context)  # the same run evaluated again: the same incident
    assert len(receiver.posts) == 1
    row = _store().get(f"run_failure:{run_id}")
    assert row["occurrences"] == 2 and row["delivery_status"] == "delivered" and row["delivery_attempts"] == 1
    assert row["severity"] == "high" and json.loads(row["details"])["failed_steps"] == ["explode"]


def test_the_copy_jobs_own_failure_does_not_request_another_copy(instance):
    state = lambda: _store().state()  # noqa: E731
    alerts.raise_alert("probe", "low", "probe", "a probe", dedup_key="probe:1")
    before = state().high_water
    alerts.raise_alert("run_failure", "high", "job ops_alerts_job", "the copy failed", dedup_key="run_failure:x", wakes_sync=False)
    assert state().high_water == before and state().alerts == 2


# --------------------------------------------------------------------------------------- stale sources

STALE, FRESH = list(RAW_TABLES)[:2]


def _loaded(instance: dg.DagsterInstance, table: str, day: str) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=table, partition=day))


def test_a_stale_source_delivers_one_alert_and_a_fresh_one_none(instance, receiver):
    _loaded(instance, STALE, "2025-01-05")
    _loaded(instance, FRESH, _days_ago(1))  # the last complete day
    context = dg.build_sensor_context(instance=instance)

    skip = alerts.stale_source_alert_sensor(context)
    assert len(receiver.posts) == 1, receiver.posts
    text = receiver.posts[0]["text"]
    assert STALE in text and "2025-01-05" in text and "[MEDIUM]" in text and FRESH not in text
    assert "1 stale raw tables (1 new, 1 delivered)" in skip.skip_message

    alerts.stale_source_alert_sensor(dg.build_sensor_context(instance=instance))
    assert len(receiver.posts) == 1
    row = _store().get(f"stale_source:{STALE}:2025-01-05")
    assert row["occurrences"] == 2 and row["delivery_status"] == "delivered"

    # a newer day loaded but still stale: a new incident, one more alert
    _loaded(instance, STALE, "2025-02-01")
    alerts.stale_source_alert_sensor(dg.build_sensor_context(instance=instance))
    assert len(receiver.posts) == 2 and "2025-02-01" in receiver.posts[1]["text"]


def test_fresh_sources_and_sources_never_loaded_deliver_nothing(instance, receiver):
    limit = alerts.FRESHNESS_DAYS[STALE]
    _loaded(instance, STALE, _days_ago(1 + limit))  # exactly at its limit
    _loaded(instance, FRESH, _days_ago(1))
    alerts.stale_source_alert_sensor(dg.build_sensor_context(instance=instance))
    assert receiver.posts == []
    assert _store().state() is None  # nothing recorded either


def test_the_newest_loaded_day_counts_even_when_an_old_day_was_reloaded_last(instance, receiver):
    _loaded(instance, STALE, _days_ago(1))
    _loaded(instance, STALE, "2025-01-05")  # a backfill of an old day, after the fresh one
    alerts.stale_source_alert_sensor(dg.build_sensor_context(instance=instance))
    assert receiver.posts == []


# ------------------------------------------------------------------------------------ delivery failures


def test_a_webhook_that_is_down_is_recorded_as_a_failed_delivery_and_the_sensor_does_not_raise(
    instance, receiver, closed_url, monkeypatch
):
    monkeypatch.setenv("CYCLE_ALERT_WEBHOOK_URL", closed_url)
    _loaded(instance, STALE, "2025-01-05")
    _loaded(instance, FRESH, "2025-01-06")

    skip = alerts.stale_source_alert_sensor(dg.build_sensor_context(instance=instance))
    assert "2 not delivered" in skip.skip_message
    first, second = (_store().get(f"stale_source:{t}:{d}") for t, d in ((STALE, "2025-01-05"), (FRESH, "2025-01-06")))
    failed = [r for r in (first, second) if r["delivery_attempts"] == 3]
    assert len(failed) == 1  # one try and 2 retries; then the rest of the tick does not try again
    assert "ConnectError" in failed[0]["delivery_error"]
    assert {first["delivery_status"], second["delivery_status"]} == {"failed"} and not first["delivered_at"]
    skipped = first if first is not failed[0] else second
    assert skipped["delivery_attempts"] == 0 and "not attempted" in skipped["delivery_error"]

    # the webhook is back: the incidents, seen again, are delivered once each, then never again
    monkeypatch.setenv("CYCLE_ALERT_WEBHOOK_URL", receiver.url)
    alerts.stale_source_alert_sensor(dg.build_sensor_context(instance=instance))
    alerts.stale_source_alert_sensor(dg.build_sensor_context(instance=instance))
    assert len(receiver.posts) == 2
    assert _store().get(f"stale_source:{STALE}:2025-01-05")["delivery_status"] == "delivered"


def test_a_failed_run_alert_survives_a_webhook_that_is_down(instance, closed_url, monkeypatch):
    monkeypatch.setenv("CYCLE_ALERT_WEBHOOK_URL", closed_url)
    context = _failure_context(instance)
    alerts.run_failure_alert_sensor(context)  # no exception
    row = _store().get(f"run_failure:{context.dagster_run.run_id}")
    assert row["delivery_status"] == "failed" and row["delivery_attempts"] == 3


def test_server_errors_are_retried_twice_and_refusals_not_at_all(home, receiver):
    receiver.status = 500
    outcome = alerts.raise_alert("probe", "low", "probe", "first", dedup_key="probe:500")
    assert not outcome.delivered and outcome.error.startswith("HTTP 500") and len(receiver.posts) == 3
    receiver.status = 400
    outcome = alerts.raise_alert("probe", "low", "probe", "second", dedup_key="probe:400")
    assert not outcome.delivered and len(receiver.posts) == 4


def test_without_a_webhook_alerts_are_only_recorded(home, receiver, monkeypatch):
    monkeypatch.delenv("CYCLE_ALERT_WEBHOOK_URL")
    outcome = alerts.raise_alert("anomaly", "critical", "revenue", "revenue fell 90%", {"metric": "revenue"}, "anomaly:revenue:1")
    again = alerts.raise_alert("anomaly", "critical", "revenue", "revenue fell 90%", {"metric": "revenue"}, "anomaly:revenue:1")
    assert receiver.posts == []
    assert (outcome.new, outcome.delivery_status, again.new, again.occurrences) == (True, "not_configured", False, 2)
    with pytest.raises(ValueError, match="severity"):
        alerts.raise_alert("anomaly", "urgent", "revenue", "?")


def test_one_incident_raised_at_once_by_many_threads_is_delivered_once(home, receiver):
    outcomes = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(alerts.raise_alert("probe", "low", "race", "same", dedup_key="probe:race")))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(receiver.posts) == 1 and sum(o.new for o in outcomes) == 1
    assert _store().get("probe:race")["occurrences"] == 6


# ------------------------------------------------------------------------------- checks and drift


@dg.asset(
    check_specs=[
        dg.AssetCheckSpec("rows_present", asset="checked_table", blocking=True),
        dg.AssetCheckSpec("rows_plausible", asset="checked_table"),
    ]
)
def checked_table():
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(check_name="rows_present", passed=False, description="0 rows loaded")
    yield dg.AssetCheckResult(check_name="rows_plausible", passed=False, severity=dg.AssetCheckSeverity.WARN)


def test_a_failed_blocking_check_delivers_one_alert(instance, receiver):
    checks_defs = dg.Definitions(assets=[checked_table], sensors=[alerts.failed_check_alert_sensor])
    result = dg.materialize([checked_table], instance=instance, raise_on_error=False)
    context = dg.build_sensor_context(instance=instance, definitions=checks_defs)
    alerts.failed_check_alert_sensor(context)
    assert len(receiver.posts) == 1  # the WARN check failed too, but it does not block
    text = receiver.posts[0]["text"]
    assert "rows_present" in text and "checked_table" in text and "0 rows loaded" in text and result.run_id in text

    alerts.failed_check_alert_sensor(dg.build_sensor_context(instance=instance, definitions=checks_defs))  # no cursor
    alerts.failed_check_alert_sensor(context)  # with the cursor the first evaluation left
    assert len(receiver.posts) == 1


def test_a_drifted_partition_delivers_one_alert(instance, receiver):
    def drift(day: str, drifted: bool) -> None:
        metadata = {"dataset_drift": drifted, "drifted_days": [day] if drifted else [], "champion_version": "3"}
        instance.report_runless_asset_event(dg.AssetMaterialization("ml_feature_drift", partition=day, metadata=metadata))

    drift("2026-01-02", True)
    drift("2026-01-03", False)
    context = dg.build_sensor_context(instance=instance)
    alerts.feature_drift_alert_sensor(context)
    assert len(receiver.posts) == 1 and "2026-01-02" in receiver.posts[0]["text"]
    drift("2026-01-02", True)  # rematerialized, still drifted: the same incident
    alerts.feature_drift_alert_sensor(context)
    alerts.feature_drift_alert_sensor(dg.build_sensor_context(instance=instance))
    assert len(receiver.posts) == 1


# ----------------------------------------------------------------------------------------- ops.alerts


def test_alerts_are_copied_into_the_warehouse_by_the_ops_alerts_asset(instance, receiver, home):
    alerts.run_failure_alert_sensor(_failure_context(instance))
    alerts.raise_alert("anomaly", "critical", "revenue", "revenue fell 90%", {"metric": "revenue"}, "anomaly:revenue:1")

    requested = alerts.ops_alerts_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(requested, dg.RunRequest)

    warehouse = home / "warehouse.duckdb"
    resources = {"warehouse": WarehouseResource(path=str(warehouse))}
    assert dg.materialize([alerts.ops_alerts], resources=resources, instance=instance).success
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            f"select alert_id, kind, severity, occurrences, delivery_status, delivered_at, details->>'$.job_name' as job "
            f"from {ALERTS} order by kind"
        ).fetchall()
        types = dict(con.execute(f"select column_name, data_type from information_schema.columns where table_schema || '.' || table_name = '{ALERTS}'").fetchall())
    finally:
        con.close()
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [("anomaly", "critical", 1, "delivered"), ("run_failure", "high", 1, "delivered")]
    assert rows[1][0].startswith("run_failure:") and rows[1][5] is not None and rows[1][6] == "tiny_job"
    assert types["first_seen_at"] == "TIMESTAMP" and types["details"] == "JSON" and types["occurrences"] == "INTEGER"

    skipped = alerts.ops_alerts_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(skipped, dg.SkipReason)  # nothing new since the copy

    # an empty store still gives the table (the pipeline jobs copy before any alert exists)
    empty = home / "empty.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CYCLE_ALERT_STORE", str(home / "none" / "alerts.sqlite3"))
        assert dg.materialize([alerts.ops_alerts], resources={"warehouse": WarehouseResource(path=str(empty))}, instance=instance).success
    assert not (home / "none").exists()
    con = duckdb.connect(str(empty), read_only=True)
    try:
        assert con.execute(f"select count(*) from {ALERTS}").fetchone()[0] == 0
    finally:
        con.close()


def test_the_payload_is_slack_compatible():
    from analytics_assets.storage.alerts import Alert

    alert = Alert("run_failure:abc", "run_failure", "high", "job <x>", "a & b " + "x" * 5000,
                  datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), {"run_id": "abc", "url": "http://127.0.0.1/runs/abc"})
    payload = alerts.slack_payload(alert)
    header, section, fields, context = payload["blocks"]
    assert header["type"] == "header" and len(header["text"]["text"]) <= 150
    assert len(section["text"]["text"]) <= 3000 and "a &amp; b" in section["text"]["text"]
    assert [f["text"].split("\n")[0] for f in fields["fields"]] == ["*Severity*", "*Kind*", "*Subject*", "*When*", "*Reference*"]
    assert "2026-01-02 03:04:05 UTC" in json.dumps(fields) and "run abc" in json.dumps(fields) and "job &lt;x&gt;" in json.dumps(fields)
    assert "<http://127.0.0.1/runs/abc|open>" in context["elements"][0]["text"]
    assert len(payload["text"]) <= 3000


def test_the_alert_sensors_are_registered_and_running_by_default():
    from analytics_assets.definitions import defs

    for name in ("run_failure_alert_sensor", "stale_source_alert_sensor", "failed_check_alert_sensor", "feature_drift_alert_sensor", "ops_alerts_sensor"):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING, name
    defs.resolve_job_def("ops_alerts_job")
    assert set(alerts.FRESHNESS_DAYS) == set(RAW_TABLES)
