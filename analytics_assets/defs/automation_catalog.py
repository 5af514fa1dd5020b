"""The schedules and sensors of the code, and their state in the instance, for the serving snapshot.

A run knows only its own job, not the code location's schedules and sensors (``context.repository_def`` is
unset in a run launched from ``cycle backfill``), so the catalog is taken from the definitions when they are
built (``definitions.py``), like the quality gate's checks, and read against the instance when the snapshot
is published: /v1/health then tells a paused schedule or a sensor whose last tick failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

import dagster as dg
import pandas as pd
from dagster._core.scheduler.instigation import InstigatorStatus

from analytics_assets.defs.partitions import daily_partitions

AUTOMATION_COLUMNS = ["name", "kind", "status", "cron_schedule", "last_tick_at", "last_tick_status"]


def _cron(schedule) -> str | list[str] | None:
    """A schedule's cron; a schedule built from a partitioned job (``build_schedule_from_partitioned_job``) is
    resolved by Dagster later, and fires on its partitions' cadence."""
    cron = getattr(schedule, "cron_schedule", None)
    if cron is None and hasattr(schedule, "hour_of_day"):
        # the job's partitions are resolved with the definitions: Cycle has one, the daily partitions
        partitions = getattr(schedule.job, "partitions_def", None) or daily_partitions
        cron = partitions.get_cron_schedule(schedule.minute_of_hour, schedule.hour_of_day)
    return cron


class AutomationEntry(dg.Config):
    name: str
    kind: str  # schedule | sensor
    cron_schedule: str | None = None
    running_by_default: bool = False


class AutomationCatalogResource(dg.ConfigurableResource):
    """Every schedule and sensor of the code."""

    entries: list[AutomationEntry] = []

    @classmethod
    def for_definitions(cls, definitions: Iterable[dg.Definitions]) -> AutomationCatalogResource:
        entries: list[AutomationEntry] = []
        for d in definitions:
            for schedule in d.schedules or []:
                cron = _cron(schedule)
                entries.append(AutomationEntry(
                    name=schedule.name, kind="schedule",
                    cron_schedule=cron if isinstance(cron, str) or cron is None else "; ".join(cron),
                    running_by_default=schedule.default_status == dg.DefaultScheduleStatus.RUNNING,
                ))
            for sensor in d.sensors or []:
                entries.append(AutomationEntry(
                    name=sensor.name, kind="sensor",
                    running_by_default=sensor.default_status == dg.DefaultSensorStatus.RUNNING,
                ))
        return cls(entries=sorted(entries, key=lambda e: (e.kind, e.name)))

    def status(self, instance: dg.DagsterInstance) -> pd.DataFrame:
        """Each entry: running or stopped (as toggled in the UI, else its default) and its last tick."""
        # an ephemeral instance (in-process tests) has no schedule storage: every entry at its default
        has_storage = getattr(instance, "schedule_storage", True) is not None
        states = {state.instigator_name: state for state in instance.all_instigator_state()} if has_storage else {}
        rows = []
        for entry in self.entries:
            name, kind, cron, running_by_default = entry.name, entry.kind, entry.cron_schedule, entry.running_by_default
            state = states.get(name)
            if state is not None and state.status != InstigatorStatus.DECLARED_IN_CODE:
                running = state.status == InstigatorStatus.RUNNING
            else:
                running = bool(running_by_default)
            tick = None
            if state is not None:
                ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
                tick = ticks[0] if ticks else None
            rows.append({
                "name": name,
                "kind": kind,
                "status": "running" if running else "stopped",
                "cron_schedule": cron,
                "last_tick_at": None if tick is None else datetime.fromtimestamp(tick.timestamp, timezone.utc).replace(tzinfo=None),
                "last_tick_status": None if tick is None else str(tick.status.value).lower(),
            })
        frame = pd.DataFrame(rows, columns=AUTOMATION_COLUMNS)
        frame["cron_schedule"] = frame["cron_schedule"].astype("string")
        frame["last_tick_at"] = pd.to_datetime(frame["last_tick_at"])
        return frame
