"""Alerts that reach someone: what Cycle watches, how an alert is delivered, and where it is recorded.

Sources, each a sensor running by default:

- ``run_failure_alert_sensor``: every failed run of every job of this code location, one alert per run
  (high), naming the job, the failed steps and the error;
- ``stale_source_alert_sensor``: each raw table (``contracts.raw.RAW_TABLES``) whose newest loaded day is
  more than ``FRESHNESS_DAYS`` (default ``DEFAULT_FRESHNESS_DAYS``) behind the last complete day, read
  from the Dagster instance's materializations of the raw asset, never from the warehouse; one alert per
  table and newest day (a table never loaded is not stale, it has not started);
- ``failed_check_alert_sensor``: each failed evaluation of an asset check of severity ERROR (the blocking
  kind), from the instance's check execution records, one alert per evaluation;
- ``feature_drift_alert_sensor``: ``ml_feature_drift`` materializations whose ``dataset_drift`` is true, one
  alert per drifted day (``drifted_days``, else the materialization's partition).

Anything else calls ``raise_alert(kind, severity, subject, message, details, dedup_key)`` (degraded model
accuracy, critical anomalies: an asset that finds one calls it with a key naming the incident, e.g.
``f"model_accuracy:{model_version}"``); it records, deduplicates and delivers exactly as the sensors do,
never raises for a delivery failure, and writes only the alerts' SQLite store, so it is safe inside a
run that holds the warehouse.

Delivery: ``CYCLE_ALERT_WEBHOOK_URL`` (unset: alerts are only recorded) receives a Slack-compatible POST
(``{"text": ..., "blocks": [...]}``: severity, subject, what happened, when, and the run id or the alert's
key) with a ``CYCLE_ALERT_TIMEOUT_SECONDS`` timeout, tried at most 3 times (2 retries, backoff 0.5 s then
1 s; a 4xx other than 429 is not retried). A failure is recorded on the alert (``delivery_status`` =
``failed``, the error, the attempts) and logged; the alert is delivered again when its incident is seen
again. Within one sensor evaluation, after a delivery failed, the later alerts are recorded as failed
without trying, so a webhook that hangs cannot push a tick past its timeout.

Recording (``storage.alerts``): sensors and runs write the alerts' own SQLite file, never DuckDB, which
takes one writing process and whose readers block writers (a sensor must not stall a run's writes, nor a
run a sensor); one incident is one row (``alert_id`` = its dedup key), re-sightings update
``last_seen_at``/``occurrences`` without a second delivery. ``ops_alerts``, a small unpartitioned asset in
the warehouse pool, copies the store into ``ops.alerts``; ``ops_alerts_sensor`` requests it (``ops_alerts_job``)
when the store has changed since the last copy, so it needs no pipeline run. The copy is queued behind any
run holding the warehouse: the alert itself was delivered already, only its warehouse record waits.
"""

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import dagster as dg
import httpx

from analytics_assets.contracts.raw import RAW_TABLES
from analytics_assets.contracts.warehouse import ALERTS, table_metadata
from analytics_assets.defs.metadata import store_cursor
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.settings import CycleSettings, load_settings
from analytics_assets.storage.alerts import SEVERITIES, Alert, AlertStore, store_path, write_alerts

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------------ delivery

RETRIES = 2  # after the first attempt
BACKOFF_SECONDS = 0.5  # before retry k (0-based): BACKOFF_SECONDS * 2**k
_ICONS = {"critical": ":rotating_light:", "high": ":red_circle:", "medium": ":large_orange_circle:", "low": ":large_blue_circle:"}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> str:
    """Slack's mrkdwn reserves &, < and >."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _when(at: datetime) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def reference_of(alert: Alert) -> str:
    """What to look at: the run, or the alert's own key."""
    run_id = alert.details.get("run_id")
    return f"run {run_id}" if run_id else f"alert {alert.alert_id}"


def slack_payload(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message (``text`` is the notification's fallback, ``blocks`` the layout)."""
    severity = alert.severity.upper()
    reference = reference_of(alert)
    fields = [
        ("Severity", severity),
        ("Kind", alert.kind),
        ("Subject", alert.subject),
        ("When", _when(alert.at)),
        ("Reference", reference),
    ]
    url = alert.details.get("url")
    return {
        "text": _cut(f"[{severity}] {alert.subject}: {alert.message} ({_when(alert.at)}, {reference})", 3000),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": _cut(f"{severity} {alert.kind}: {alert.subject}", 150), "emoji": True},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"{_ICONS[alert.severity]} {_mrkdwn(alert.message)}", 3000)}},
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": _cut(f"*{k}*\n{_mrkdwn(str(v))}", 2000)} for k, v in fields],
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": _cut(
                            f"Cycle alert `{_mrkdwn(alert.alert_id)}`" + (f" · <{url}|open>" if url else ""), 3000
                        ),
                    }
                ],
            },
        ],
    }


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    attempts: int
    error: str | None = None


@dataclass(frozen=True)
class AlertOutcome:
    alert_id: str
    new: bool  # a new incident (False: seen before, only counted)
    occurrences: int
    delivery_status: str  # storage.alerts: delivered, failed, not_configured, pending
    delivered: bool  # delivered by this call
    error: str | None = None


class Dispatcher:
    """Records and delivers alerts for one evaluation (a sensor tick, an asset's step).

    After a delivery fails, the later alerts of the same dispatcher are recorded as failed without a try
    (they are tried again when their incident is seen again): a webhook that hangs costs one alert's
    timeouts per evaluation, not every alert's."""

    def __init__(self, settings: CycleSettings | None = None, log: logging.Logger | None = None):
        settings = settings or load_settings()
        self.store = AlertStore(store_path(settings))
        self.url = CycleSettings.secret(settings.alert_webhook_url)
        self.timeout = settings.alert_timeout_seconds
        self.log = log or logger
        self._failed: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def send(self, alert: Alert) -> Delivery:
        if not self.url:
            return Delivery(False, 0, "no webhook configured")
        if self._failed is not None:
            return Delivery(False, 0, f"not attempted: the webhook failed earlier in this evaluation ({self._failed})")
        payload = json.dumps(slack_payload(alert), default=str)
        error = "not attempted"
        attempts = 0
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            for attempt in range(1 + RETRIES):
                if attempt:
                    time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
                attempts += 1
                try:
                    response = client.post(self.url, content=payload, headers={"Content-Type": "application/json"})
                except httpx.HTTPError as exc:  # refused, timed out, reset: worth another try
                    error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    continue
                if response.is_success:
                    return Delivery(True, attempts)
                error = f"HTTP {response.status_code}: {_cut(response.text.strip(), 300)}"
                if response.status_code < 500 and response.status_code != 429:
                    break  # the webhook refuses this message: retrying sends the same refusal
        self._failed = error
        return Delivery(False, attempts, error)

    def raise_alert(self, alert: Alert, wakes_sync: bool = True) -> AlertOutcome:
        claim = self.store.claim(alert, deliverable=self.configured, wakes_sync=wakes_sync)
        if not claim.deliver:
            return AlertOutcome(alert.alert_id, claim.new, claim.occurrences, claim.delivery_status, delivered=False)
        try:
            delivery = self.send(alert)
        except Exception as exc:  # never into the run: whatever went wrong is the alert's delivery error
            delivery = Delivery(False, 0, f"{type(exc).__name__}: {exc}")
        self.store.record_delivery(alert.alert_id, delivery.delivered, delivery.attempts, delivery.error)
        if not delivery.delivered:
            self.log.warning(f"Alert {alert.alert_id} recorded but not delivered: {delivery.error}")
        return AlertOutcome(
            alert.alert_id, claim.new, claim.occurrences, "delivered" if delivery.delivered else "failed",
            delivered=delivery.delivered, error=delivery.error,
        )


def raise_alert(
    kind: str,
    severity: str,
    subject: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    dedup_key: str | None = None,
    *,
    at: datetime | None = None,
    wakes_sync: bool = True,
    dispatcher: Dispatcher | None = None,
    log: logging.Logger | None = None,
) -> AlertOutcome:
    """Record an alert and, the first time its incident is seen, deliver it.

    ``kind`` names what is watched (``model_accuracy``, ``anomaly``...), ``severity`` is one of
    ``critical``/``high``/``medium``/``low``, ``subject`` what it is about (a job, a table, a model),
    ``message`` what happened, in a sentence. ``dedup_key`` identifies the incident (default
    ``kind:subject``): raising the same key again only updates ``last_seen_at``/``occurrences``. ``details``
    (JSON-able) are stored with it; a ``run_id`` there is shown as the alert's reference, a ``url`` as its
    link. Delivery failures are recorded, never raised; the store being unwritable is an error."""
    if severity not in SEVERITIES:
        raise ValueError(f"Unknown alert severity {severity!r}; one of {SEVERITIES}")
    alert = Alert(
        alert_id=dedup_key or f"{kind}:{subject}",
        kind=kind,
        severity=severity,
        subject=subject,
        message=message,
        at=at or datetime.now(timezone.utc),
        details=dict(details or {}),
    )
    return (dispatcher or Dispatcher(log=log)).raise_alert(alert, wakes_sync=wakes_sync)


def _summary(outcomes: list[AlertOutcome], what: str) -> str:
    if not outcomes:
        return f"No {what}"
    new = [o for o in outcomes if o.new]
    failed = [o for o in outcomes if o.delivery_status == "failed"]
    text = f"{len(outcomes)} {what} ({len(new)} new, {sum(o.delivered for o in outcomes)} delivered"
    return text + (f", {len(failed)} not delivered)" if failed else ")")


# ---------------------------------------------------------------------------------- the copy job

OPS_ALERTS_KEY = dg.AssetKey("ops_alerts")
OPS_ALERTS_JOB = "ops_alerts_job"


@dg.asset(
    key=OPS_ALERTS_KEY,
    group_name="ops",
    kinds={"duckdb", "sqlite"},
    pool=WAREHOUSE_POOL,
    metadata=table_metadata(ALERTS),
    description="Every alert Cycle raised (failed runs, stale sources, failed checks, drift...), one row per "
    "incident with its occurrences and delivery, copied from the alerts' SQLite store.",
)
def ops_alerts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = AlertStore(store_path(load_settings()))
    frame, state = store.snapshot()
    with warehouse.connect() as con:
        write_alerts(con, frame)
    context.log.info(f"Copied {len(frame)} alerts from {store.path} into {ALERTS}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "store_path": str(store.path),
            "store_id": state.store_id if state else "",
            "synced_through_seq": state.high_water if state else 0,
            "by_severity": frame["severity"].value_counts().to_dict() if len(frame) else None,
            "by_delivery_status": frame["delivery_status"].value_counts().to_dict() if len(frame) else None,
        }
    )


ops_alerts_job = dg.define_asset_job(
    OPS_ALERTS_JOB, selection=dg.AssetSelection.assets(OPS_ALERTS_KEY), description="Copy the alerts into ops.alerts."
)


def last_synced(instance: dg.DagsterInstance) -> tuple[str, int] | None:
    return store_cursor(instance, OPS_ALERTS_KEY, "synced_through_seq")


@dg.sensor(
    name="ops_alerts_sensor",
    job=ops_alerts_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a copy of the alerts into ops.alerts when the store changed since the last copy.",
)
def ops_alerts_sensor(context: dg.SensorEvaluationContext):
    state = AlertStore(store_path(load_settings())).state()
    if state is None or state.high_water == 0:
        return dg.SkipReason("No alert recorded yet")
    last = last_synced(context.instance)
    if last is not None and last[0] == state.store_id and last[1] >= state.high_water:
        return dg.SkipReason(f"ops.alerts holds every change of the {state.alerts} alerts (through seq {last[1]})")
    return dg.RunRequest(
        run_key=f"alerts-{state.store_id}-{state.high_water}",
        tags={"cycle/trigger": "alerts", "cycle/alert_seq": str(state.high_water)},
    )


# ------------------------------------------------------------------------------------ failed runs


def _error_summary(error: Any) -> str:
    """The innermost error's first lines (the user's exception, not Dagster's wrapper)."""
    chain = []
    while error is not None:
        chain.append(error)
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    if not chain:
        return ""
    message = (chain[-1].message or "").strip()
    return _cut(" ".join(message.splitlines()[:3]), 500)


def run_failure_alert(context: dg.RunFailureSensorContext) -> Alert:
    run = context.dagster_run
    steps = context.get_step_failure_events()
    failed = [e.step_key for e in steps if e.step_key]
    errors = {e.step_key: _error_summary(e.event_specific_data.error) for e in steps if e.event_specific_data}
    error = next((v for v in errors.values() if v), "") or (context.failure_event.message or "").strip()
    record = context.instance.get_run_record_by_id(run.run_id)
    at = record.end_time if record and record.end_time else time.time()
    partition = run.tags.get("dagster/partition") or (
        f"{run.tags['dagster/asset_partition_range_start']}..{run.tags['dagster/asset_partition_range_end']}"
        if "dagster/asset_partition_range_start" in run.tags
        else None
    )
    where = f" ({partition})" if partition else ""
    steps_text = ", ".join(failed) if failed else "no step (the run failed outside its steps)"
    return Alert(
        alert_id=f"run_failure:{run.run_id}",
        kind="run_failure",
        severity="high",
        subject=f"job {run.job_name}",
        message=f"Run {run.run_id} of {run.job_name}{where} failed. Failed steps: {steps_text}. Error: {error or 'unknown'}",
        at=datetime.fromtimestamp(at, timezone.utc),
        details={
            "run_id": run.run_id,
            "job_name": run.job_name,
            "partition": partition,
            "failed_steps": failed,
            "errors": errors,
            "run_failure": (context.failure_event.message or "").strip(),
        },
    )


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One high alert per failed run of any job: the job, the failed steps and the error.",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext):
    alert = run_failure_alert(context)
    # the copy job's own failure is recorded and delivered but does not request another copy
    outcome = Dispatcher(log=context.log).raise_alert(alert, wakes_sync=context.dagster_run.job_name != OPS_ALERTS_JOB)
    context.log.info(_summary([outcome], f"alert for run {context.dagster_run.run_id}"))


# ---------------------------------------------------------------------------------- stale sources

DEFAULT_FRESHNESS_DAYS = 2
# days a raw table's newest loaded day may lag the last complete day before it is stale (default above)
FRESHNESS_DAYS: dict[str, int] = {name: DEFAULT_FRESHNESS_DAYS for name in RAW_TABLES}


@dataclass(frozen=True)
class Freshness:
    table: str
    newest: date | None  # None: never loaded
    last_complete: date
    limit_days: int
    run_id: str | None = None

    @property
    def days_behind(self) -> int | None:
        return (self.last_complete - self.newest).days if self.newest else None

    @property
    def stale(self) -> bool:
        return self.newest is not None and self.days_behind > self.limit_days


def _day(partition: str | None) -> date | None:
    try:
        return date.fromisoformat(partition) if partition else None
    except ValueError:
        return None


def raw_freshness(instance: dg.DagsterInstance, today: date | None = None) -> list[Freshness]:
    """Each raw table's newest loaded day, from the instance's materializations of its asset: the latest
    event's partition, or where that is old (an old day reloaded last) the newest materialized partition."""
    today = today or datetime.now(timezone.utc).date()
    last_complete = today - timedelta(days=1)
    out = []
    for name in RAW_TABLES:
        key = dg.AssetKey(name)
        limit = FRESHNESS_DAYS.get(name, DEFAULT_FRESHNESS_DAYS)
        event = instance.get_latest_materialization_event(key)
        newest = _day(event.asset_materialization.partition) if event and event.asset_materialization else None
        run_id = event.run_id if event else None
        if event is not None and (newest is None or (last_complete - newest).days > limit):
            days = [d for d in map(_day, instance.get_materialized_partitions(key)) if d is not None]
            if days and (newest is None or max(days) > newest):
                newest, run_id = max(days), None
        out.append(Freshness(name, newest, last_complete, limit, run_id))
    return out


def stale_source_alert(f: Freshness) -> Alert:
    return Alert(
        alert_id=f"stale_source:{f.table}:{f.newest}",
        kind="stale_source",
        severity="medium",
        subject=f"raw table {f.table}",
        message=f"{f.table} is stale: its newest loaded day is {f.newest}, {f.days_behind} days behind the last "
        f"complete day {f.last_complete} (limit {f.limit_days}).",
        at=datetime.now(timezone.utc),
        details={
            "table": f.table,
            "newest_partition": str(f.newest),
            "last_complete_day": str(f.last_complete),
            "days_behind": f.days_behind,
            "limit_days": f.limit_days,
            "last_run_id": f.run_id,
        },
    )


@dg.sensor(
    name="stale_source_alert_sensor",
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts (once per table and newest day) when a raw table's newest loaded day is more than its "
    "freshness limit behind the last complete day.",
)
def stale_source_alert_sensor(context: dg.SensorEvaluationContext):
    dispatcher = Dispatcher(log=context.log)
    freshness = raw_freshness(context.instance)
    outcomes = [dispatcher.raise_alert(stale_source_alert(f)) for f in freshness if f.stale]
    never = [f.table for f in freshness if f.newest is None]
    note = f"; never loaded: {', '.join(never)}" if never else ""
    return dg.SkipReason(_summary(outcomes, "stale raw tables") + note)


# ---------------------------------------------------------------------------------- failed checks

LOOKBACK = timedelta(days=1)  # what a cursor-less first evaluation looks back over
CHECK_OVERLAP_SECONDS = 120  # evaluations written late (another run's clock) are still seen
CHECK_HISTORY = 25  # evaluations read per changed check


def _load_cursor(cursor: str | None) -> dict[str, Any]:
    try:
        return json.loads(cursor) if cursor else {}
    except ValueError:
        return {}


def failed_check_alerts(
    instance: dg.DagsterInstance, check_keys: list[dg.AssetCheckKey], since: float
) -> tuple[list[Alert], float]:
    """Alerts for the failed ERROR evaluations completed after ``since`` (a timestamp), and the newest
    evaluation time seen. One query for the latest execution of every check; the history only of checks
    whose latest execution is newer or still in progress (an earlier failure may sit under it)."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status

    storage = instance.event_log_storage
    latest = storage.get_latest_asset_check_execution_by_key(check_keys) if check_keys else {}
    newest = since
    alerts = []
    for key, record in latest.items():
        evaluated = record.event.timestamp if record.event else record.create_timestamp
        if record.status != Status.PLANNED and evaluated <= since:
            continue
        for rec in storage.get_asset_check_execution_history(key, limit=CHECK_HISTORY, status={Status.FAILED}):
            if rec.event is None or rec.event.timestamp <= since:
                continue
            evaluation = rec.event.dagster_event.event_specific_data if rec.event.dagster_event else None
            if evaluation is None or evaluation.passed or evaluation.severity != dg.AssetCheckSeverity.ERROR:
                continue
            newest = max(newest, rec.event.timestamp)
            partition = rec.partition or evaluation.partition
            name = f"{key.asset_key.to_user_string()}:{key.name}"
            where = f" for partition {partition}" if partition else ""
            why = f": {evaluation.description}" if evaluation.description else ""
            alerts.append(
                Alert(
                    alert_id=f"check_failed:{name}:{rec.run_id}" + (f":{partition}" if partition else ""),
                    kind="check_failed",
                    severity="high",
                    subject=f"check {name}",
                    message=f"Blocking check {key.name} on {key.asset_key.to_user_string()} failed{where} in run "
                    f"{rec.run_id}{why}",
                    at=datetime.fromtimestamp(rec.event.timestamp, timezone.utc),
                    details={
                        "run_id": rec.run_id,
                        "asset": key.asset_key.to_user_string(),
                        "check": key.name,
                        "partition": partition,
                        "blocking": evaluation.blocking,
                        "metadata": {k: str(v.value) for k, v in evaluation.metadata.items()},
                    },
                )
            )
    return alerts, newest


@dg.sensor(
    name="failed_check_alert_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One alert per failed evaluation of an ERROR-severity (blocking) asset check.",
)
def failed_check_alert_sensor(context: dg.SensorEvaluationContext):
    if context.repository_def is None:
        return dg.SkipReason("No definitions to read the asset checks from")
    check_keys = sorted(context.repository_def.asset_graph.asset_check_keys, key=str)
    cursor = _load_cursor(context.cursor)
    since = float(cursor.get("evaluated_after", time.time() - LOOKBACK.total_seconds()))
    alerts, newest = failed_check_alerts(context.instance, check_keys, since - CHECK_OVERLAP_SECONDS)
    dispatcher = Dispatcher(log=context.log)
    known = dispatcher.store.known([a.alert_id for a in alerts])  # the overlap's evaluations, seen already
    outcomes = [dispatcher.raise_alert(a) for a in alerts if a.alert_id not in known]
    context.update_cursor(json.dumps({"evaluated_after": max(since, newest)}))
    return dg.SkipReason(_summary(outcomes, "failed blocking check evaluations"))


# ------------------------------------------------------------------------------------------ drift

DRIFT_KEY = dg.AssetKey("ml_feature_drift")  # defs/ml/automation.py's; not imported: ml's assets may raise alerts


def drift_alerts(record: Any) -> list[Alert]:
    materialization = record.asset_materialization
    metadata = materialization.metadata if materialization else {}
    drift = metadata.get("dataset_drift")
    if drift is None or not drift.value:
        return []
    drifted = metadata.get("drifted_days")
    days = list(drifted.value) if drifted and drifted.value else [materialization.partition or "unpartitioned"]
    share = metadata.get("latest_drift_share")
    columns = metadata.get("latest_drifted_columns")
    champion = metadata.get("champion_version")
    return [
        Alert(
            alert_id=f"feature_drift:{day}",
            kind="feature_drift",
            severity="medium",
            subject=f"ml_feature_drift {day}",
            message=f"The engagement features of {day} drifted from the champion model's training data"
            + (f" (model version {champion.value})" if champion and champion.value else "")
            + (f"; latest drifted columns: {columns.value}" if columns and columns.value else "")
            + ". A retrain is requested by engagement_drift_sensor.",
            at=datetime.fromtimestamp(record.timestamp, timezone.utc),
            details={
                "run_id": record.run_id,
                "partition": day,
                "materialized_partition": materialization.partition,
                "latest_drift_share": share.value if share else None,
                "latest_drifted_columns": columns.value if columns else None,
                "champion_version": champion.value if champion else None,
            },
        )
        for day in days
    ]


@dg.sensor(
    name="feature_drift_alert_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One alert per drifted day reported by ml_feature_drift (dataset_drift true).",
)
def feature_drift_alert_sensor(context: dg.SensorEvaluationContext):
    after = _load_cursor(context.cursor).get("storage_id")
    records_filter = dg.AssetRecordsFilter(
        asset_key=DRIFT_KEY,
        after_storage_id=int(after) if after is not None else None,
        after_timestamp=None if after is not None else time.time() - LOOKBACK.total_seconds(),
    )
    dispatcher = Dispatcher(log=context.log)
    outcomes: list[AlertOutcome] = []
    result = context.instance.fetch_materializations(records_filter, limit=200, ascending=True)
    for record in result.records:
        outcomes += [dispatcher.raise_alert(a) for a in drift_alerts(record)]
        after = record.storage_id
    if after is not None:
        context.update_cursor(json.dumps({"storage_id": after}))
    return dg.SkipReason(_summary(outcomes, "drifted days"))


defs = dg.Definitions(
    assets=[ops_alerts],
    jobs=[ops_alerts_job],
    sensors=[
        run_failure_alert_sensor,
        stale_source_alert_sensor,
        failed_check_alert_sensor,
        feature_drift_alert_sensor,
        ops_alerts_sensor,
    ],
)
