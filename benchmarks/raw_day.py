"""One raw partition at volume: ``raw_platform_data`` materializes one simulated day in a temporary home, and
each step's seconds and peak resident memory are reported (issue 16: memory that follows the chunk, not the day).

    python -m benchmarks.raw_day --posts-per-day 50000            # the default chunk size (CYCLE_SIM_RAW_CHUNK_ROWS)
    python -m benchmarks.raw_day --posts-per-day 50000 --chunk-rows 50000
    /usr/bin/time -v python -m benchmarks.raw_day --posts-per-day 10000 --no-step-peaks  # the max RSS, independently

The asset runs as Dagster runs it (``dg.materialize``, every raw table and check selected, one DuckDB thread);
the steps are measured by wrapping the functions it calls, so the figures describe that very run. Each step's
figures are its own (``StepMeter``): a step nested in another, as the streamed chunks' simulation and parse are in
the write that consumes them, and pandera in the parse, counts for itself and not for the enclosing one.

* ``simulate``: the simulator producing native records (``PlatformSimulator.day``, or each chunk it streams);
* ``parse``: native records to canonical rows and quarantine (``parse_day``, ``parse_entity``), pandera apart;
* ``validate``: pandera's ``DataFrameSchema.validate``, wherever it runs (in the parse and in the checks);
* ``write``: the partition's replacement in DuckDB (delete the day, insert the rows, quarantine, tombstones);
* ``checks``: the raw asset checks (``check_results``) over the stored day.

A step's peak is the process's highest resident memory while that step ran (the kernel's high-water mark,
``VmHWM``, reset as the step starts: Linux ``/proc/self/clear_refs``), so it includes whatever the run holds
from before; ``max_rss_mb`` is the whole process's peak: the highest of the steps' and of the gaps between them.
Resetting the mark also lowers what ``ru_maxrss`` and ``/usr/bin/time`` report afterwards, so with
``--no-step-peaks`` nothing is reset (no step peaks) and ``max_rss_mb`` is ``ru_maxrss``, for a cross-check.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import re
import resource
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

from benchmarks.scale_goals import GOAL_POSTS_PER_DAY, GOALS, verdict

DAY = date(2026, 5, 4)


def _hwm_mb() -> float:
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024


def _reset_hwm() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


class StepMeter:
    """Seconds and peak RSS per step, each step's own: a step measured inside another (pandera inside the parse,
    the simulation and the parse of a streamed chunk inside the write that consumes it) counts for itself only,
    so the steps' seconds add up to the measured time."""

    def __init__(self, peaks: bool = True) -> None:
        self.peaks = peaks
        self.overall_mb = 0.0
        self.seconds: dict[str, float] = defaultdict(float)
        self.peak_mb: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.stack: list[list] = []  # [step, started, seconds in nested steps, own peak so far]

    def _mark(self) -> float:
        """The high-water mark since the last reset, then reset (0 without step peaks)."""
        if not self.peaks:
            return 0.0
        hwm = _hwm_mb()
        _reset_hwm()
        self.overall_mb = max(self.overall_mb, hwm)
        return hwm

    def _enter(self, step: str) -> None:
        hwm = self._mark()
        if self.stack:  # what the enclosing step reached before this one began
            self.stack[-1][3] = max(self.stack[-1][3], hwm)
        self.stack.append([step, time.perf_counter(), 0.0, 0.0])

    def _exit(self) -> None:
        step, started, nested, peak = self.stack.pop()
        elapsed = time.perf_counter() - started
        self.seconds[step] += elapsed - nested
        self.calls[step] += 1
        self.peak_mb[step] = max(self.peak_mb[step], peak, self._mark())
        if self.stack:
            self.stack[-1][2] += elapsed

    def wrap(self, owner: object, name: str, step: str) -> None:
        """Measure ``owner.name`` as ``step`` (a generator: each item it produces)."""
        original = getattr(owner, name)
        if isinstance(inspect.getattr_static(owner, name), staticmethod):
            original = inspect.getattr_static(owner, name).__func__
        meter = self

        if inspect.isgeneratorfunction(original):

            @functools.wraps(original)
            def measured(*args, **kwargs):
                items = original(*args, **kwargs)
                while True:
                    meter._enter(step)
                    try:
                        item = next(items)
                    except StopIteration:
                        return
                    finally:
                        meter._exit()
                    yield item

        else:

            @functools.wraps(original)
            def measured(*args, **kwargs):
                meter._enter(step)
                try:
                    return original(*args, **kwargs)
                finally:
                    meter._exit()

        setattr(owner, name, measured)


def run(posts_per_day: int, chunk_rows: int | None, root: Path, step_peaks: bool = True) -> dict:
    os.environ.setdefault("CYCLE_PARTITION_START", "2025-01-01")
    os.environ["CYCLE_HOME"] = str(root)  # never the default home's data
    os.environ["DAGSTER_HOME"] = str(root / "dagster_home")
    import dagster as dg
    import pandera.pandas as pa

    from analytics_assets.cli.instance import sqlite_storage_yaml
    from analytics_assets.defs.ingest import raw
    from analytics_assets.defs.resources import SimulatorResource, WarehouseResource, default_resources
    from analytics_assets.sources.simulator import core

    meter = StepMeter(step_peaks)
    # the functions the asset calls, under the names it calls them by (a name this version lacks is skipped)
    for owner, name, step in [
        (core.PlatformSimulator, "day", "simulate"),
        (core.PlatformSimulator, "day_chunks", "simulate"),
        (raw, "parse_day", "parse"),
        (raw, "parse_entity", "parse"),
        (pa.DataFrameSchema, "validate", "validate"),
        (raw, "replace_partitions", "write"),
        (raw, "replace_platform_days", "write"),
        (raw, "replace_partitions_streamed", "write"),
        (raw, "replace_platform_days_streamed", "write"),
        (raw, "check_results", "checks"),
    ]:
        if hasattr(owner, name):
            meter.wrap(owner, name, step)

    dagster_home = root / "dagster_home"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text(sqlite_storage_yaml(dagster_home))
    instance = dg.DagsterInstance.local_temp(str(dagster_home))
    chunk = {"raw_chunk_rows": chunk_rows} if chunk_rows else {}
    resources = {
        **default_resources(),
        "warehouse": WarehouseResource(path=str(root / "warehouse.duckdb"), threads=1, memory_limit="1GB"),
        "simulator": SimulatorResource(seed=11, posts_per_day=posts_per_day, malformed_rate=0.0, **chunk),
    }
    started = time.perf_counter()
    result = dg.materialize(
        [raw.raw_platform_data], partition_key=DAY.isoformat(), resources=resources, instance=instance, raise_on_error=False
    )
    seconds = time.perf_counter() - started
    if not result.success:
        raise SystemExit([str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure])
    rows = {
        m.asset_key.to_user_string(): m.metadata["dagster/row_count"].value
        for m in result.asset_materializations_for_node("raw_platform_data")
    }
    return {
        "posts_per_day": posts_per_day,
        "chunk_rows": chunk_rows or "default",
        "total_seconds": round(seconds, 1),
        "max_rss_mb": round(
            max(meter.overall_mb, _hwm_mb()) if step_peaks else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ),
        "steps": {
            s: {"seconds": round(meter.seconds[s], 1), "calls": meter.calls[s]}
            | ({"peak_rss_mb": round(meter.peak_mb[s])} if step_peaks else {})
            for s in ("simulate", "parse", "validate", "write", "checks")
            if meter.calls[s]
        },
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts-per-day", type=int, default=10_000)
    parser.add_argument("--chunk-rows", type=int, default=None, help="SimulatorResource.raw_chunk_rows (default: its own)")
    parser.add_argument("--no-step-peaks", action="store_true", help="no per-step peaks: max_rss_mb is ru_maxrss")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cycle_raw_day_") as tmp:
        figures = run(args.posts_per_day, args.chunk_rows, Path(tmp), not args.no_step_peaks)
    print(json.dumps(figures, indent=2))
    # issue 16's goal is stated for 50,000 posts a day; a smaller day says so rather than passing it
    peak_gb = figures["max_rss_mb"] / 1024
    judged = args.posts_per_day >= GOAL_POSTS_PER_DAY
    print(f"peak RSS {peak_gb:.2f} GB at {args.posts_per_day:,} posts a day "
          f"(goal < {GOALS['peak_gb']:.0f} GB at {GOAL_POSTS_PER_DAY:,}: {verdict(peak_gb < GOALS['peak_gb'], judged)}; before streaming: 10.4 GB at 50,000, "
          f"2.36 GB at 10,000, measured on the development machine)")


if __name__ == "__main__":
    main()
