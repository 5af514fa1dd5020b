"""Runs whose process is gone: found, marked failed, and made to let go of the warehouse pool.

A run killed with ``kill -9``, by the OOM killer or a lost machine cannot record its own end. Dagster then
keeps it STARTED, and with it its claim on the ``duckdb_warehouse`` pool, whose limit of one makes every
later run wait forever ("Step blocked by limit for pool duckdb_warehouse"). A run that could record its
failure but not release its slot (a full disk under Dagster's storage) blocks the pool the same way.

``recover_dead_runs`` finds both: a run that is not finished and whose process (recorded as a run tag by
``cycle backfill``, or in the "Started process for run (pid: N)" event the run worker writes when the daemon
launches it) no longer exists on this machine is marked failed; every slot or pending claim held by a
finished run is freed. ``cycle backfill`` runs it before it starts, ``cycle doctor`` on demand, and
``dead_run_sensor`` every minute under the daemon, so no manual step is ever needed.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import dagster as dg
from dagster._core.events import DagsterEventType

RUN_PID_TAG = "cycle/pid"
RUN_HOST_TAG = "cycle/host"
UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


@dataclass(frozen=True)
class Released:
    run_id: str
    job_name: str
    reason: str

    def __str__(self) -> str:
        return f"run {self.run_id} ({self.job_name}): {self.reason}"


def process_tags() -> dict[str, str]:
    """The tags that let a later process tell whether this one is still running."""
    return {RUN_PID_TAG: str(os.getpid()), RUN_HOST_TAG: socket.gethostname()}


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only existence and permission are checked
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped by its parent) holds nothing any more
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def run_process(instance: dg.DagsterInstance, run: dg.DagsterRun) -> tuple[str, int] | None:
    """(host, pid) of the process executing ``run``, where it was recorded."""
    if RUN_PID_TAG in run.tags:
        return run.tags.get(RUN_HOST_TAG, socket.gethostname()), int(run.tags[RUN_PID_TAG])
    for record in instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ENGINE_EVENT).records:
        event = record.event_log_entry.dagster_event
        pid = event.engine_event_data.metadata.get("pid") if event and event.engine_event_data else None
        if pid is not None:
            return socket.gethostname(), int(pid.value)
    return None


def recover_dead_runs(instance: dg.DagsterInstance) -> list[Released]:
    """Mark failed every unfinished run whose process is gone; free every pool claim of a finished run."""
    released: list[Released] = []
    here = socket.gethostname()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED)):
        located = run_process(instance, run)
        if located is None or located[0] != here or process_alive(located[1]):
            continue  # still running, launched elsewhere, or not started yet (the start timeout covers that)
        reason = f"its process {located[1]} is gone (killed or crashed); marked failed, pool slots released"
        instance.report_run_failed(run, message=f"Run process {located[1]} on {here} no longer exists: {reason}.")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(Released(run.run_id, run.job_name, reason))
    storage = instance.event_log_storage
    for pool in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(pool)
        holders = {s.run_id for s in info.claimed_slots} | {s.run_id for s in info.pending_steps}
        for run_id in sorted(holders):
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                storage.free_concurrency_slots_for_run(run_id)
                status = run.status.value if run else "deleted"
                released.append(Released(run_id, run.job_name if run else "?", f"{status} but held pool {pool}; released"))
    return released


@dg.sensor(
    name="dead_run_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks failed the runs whose process is gone and frees the pool slots that finished runs "
    "still hold, so a killed run never blocks the warehouse pool.",
)
def dead_run_sensor(context: dg.SensorEvaluationContext):
    released = recover_dead_runs(context.instance)
    for item in released:
        context.log.warning(str(item))
    return dg.SkipReason("; ".join(map(str, released)) or "No dead run holds anything")
