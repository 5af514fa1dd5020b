"""The whole graph for one day at volume: ``daily_pipeline_job`` for one simulated day in a temporary home, its
wall seconds, peak memory and each step's seconds (issue 16: the whole graph for one day at 50,000 posts a day
in under 5 minutes, under 4 GB).

    python -m benchmarks.day_graph --posts-per-day 50000
    python -m benchmarks.day_graph --posts-per-day 2000 --history-days 3 --json /tmp/day_graph.json

A fresh home cannot run the daily job as the schedule does: the daily job leaves the engagement model out and
rescores with the champion, so a warm-up comes first (not timed): ``full_pipeline_job`` over ``--warmup-days``
days (3 by default: the model's first training needs posts with a 24 h outcome on two publishing days) at
``--warmup-posts-per-day`` (the project's default volume, 240), which trains and registers the champion; the
benchmark refuses to time a day without one (``--warmup-days 0`` skips the warm-up for a quick check of the
harness: the scoring steps then skip, so that day is not the schedule's). The simulator's world depends on its volume (the same post id is
another post at another volume, and a post is polled for 7 days after it is published), so the warm-up ends 8
days before the first day loaded at the measured volume: no measured-volume day polls a post the warm-up loaded
(mixing them makes lifetime counters go backwards and fails the marts' data tests). A warm-up at the measured
volume is that world's own history and ends the day before (``--warmup-posts-per-day 240 --warmup-days 365``:
a year of history at the default volume, loaded in one range run as ``cycle demo`` loads its days; with
``--history-days 1`` the measured day follows a daily run, as a scheduled day does). Then ``--history-days``
days (0 by default) go through ``daily_pipeline_job`` at the measured volume, not timed. Without history the
measured day is a first day at that volume: every post it polls is new to the warehouse (its daily increments
are whole lifetime counters) and the windowed marts' 8-day lookback finds only the small warm-up; with 7 or more
history days it is a steady-state day (each post's earlier snapshots loaded, a full lookback at volume, a
training set of that size). Then the measured day: ``daily_pipeline_job`` for one partition, timed.

Everything runs as ``cycle backfill`` runs a job: the definitions (``build_defs``) and resources of the embedded
default from the ``CYCLE_*`` settings of the temporary home (one DuckDB thread, 2 GB; only the simulator's posts
a day set here: the other volumes stay at their defaults, as nothing in the settings scales them with the
posts), on the home's Dagster instance (``ensure_dagster_home``: Cycle's ``dagster.yaml``, SQLite storage),
``execute_in_process``. The schedule's runs go through the daemon's run launcher and Dagster's default
multiprocess executor instead, which adds a process start and a definitions load to every step; in process the
job's seconds are the steps' own work and its memory one process and dbt's. The measured day runs in a fresh
process of its own (spawned, as a run worker is), so its peak is that run's alone, not the warm-up's: the
kernel's high-water mark of that process (``VmHWM``), dbt's subprocess (``dbt build`` runs while the run
process waits on it, holding what it holds) sampled every 0.2 s, and the peak of the two at once, which the 4 GB
goal is judged on.

The per-step table comes from the run's event log: each step's STEP_START to its STEP_SUCCESS or STEP_FAILURE,
and beside it the largest sample of the two processes together while the step ran (a process keeps much of what it
freed, so a step's figure includes what the steps before it left; the step where it jumps is the one to look at).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
from datetime import date, timedelta
from pathlib import Path

from benchmarks.scale_goals import GOAL_POSTS_PER_DAY, GOALS, verdict

DAY = date(2026, 5, 4)  # the measured day; the warm-up and history days come before it
_PAGE = os.sysconf("SC_PAGE_SIZE")
WARMUP_DAYS = 3
WARMUP_POSTS_PER_DAY = 240  # the settings' default (CYCLE_SIM_POSTS_PER_DAY)

# where a home's state goes: every one derived from CYCLE_HOME, so nothing outside the temporary home is touched
_PATH_SETTINGS = (
    "CYCLE_WAREHOUSE_PATH", "CYCLE_SERVING_DIR", "CYCLE_ARCHIVE_DIR", "CYCLE_API_STORE", "CYCLE_ACCESS_STORE",
    "CYCLE_MLFLOW_TRACKING_URI", "CYCLE_EVENTS_LANDING_DIR", "CYCLE_ALERT_STORE", "CYCLE_DAGSTER_PG_URL",
)


class JobFailed(RuntimeError):
    """A benchmarked run did not succeed: its figures would describe a partial graph."""


def _hwm_mb() -> float:
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024


def _rss_mb(pid: int | str) -> float:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):  # it ended meanwhile
        return 0.0


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError, ValueError):
                continue
            out += children
            todo += children
    return out


class TreeMemory(threading.Thread):
    """The resident memory of this process's subprocesses (dbt, which runs while the run process waits on it),
    and of this process plus them at once, sampled every ``interval`` seconds. Sampled, because the kernel's
    figure for children (``RUSAGE_CHILDREN``) counts a forked child with every page it shares with this process,
    and a run forks small helpers: it read as large as the run process itself."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval, self.stopped = interval, threading.Event()
        self.children_mb = self.together_mb = 0.0
        self.samples: list[tuple[float, float]] = []  # (epoch seconds, this process plus its children, MB)

    def run(self) -> None:
        me = os.getpid()
        while not self.stopped.wait(self.interval):
            children = sum(_rss_mb(pid) for pid in _descendants(me))
            self.children_mb = max(self.children_mb, children)
            together = children + _rss_mb(me)
            self.together_mb = max(self.together_mb, together)
            self.samples.append((time.time(), together))

    def peak_between(self, start: float, end: float) -> float | None:
        """The largest sample from ``start`` to ``end`` (epoch seconds), None when none fell between."""
        inside = [mb for at, mb in self.samples if start <= at <= end]
        return max(inside) if inside else None

    def __enter__(self) -> TreeMemory:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.join()


def use_home(root: Path, posts_per_day: int) -> None:
    """Point this process's settings at the temporary home, the simulator at ``posts_per_day``."""
    for name in _PATH_SETTINGS:
        os.environ.pop(name, None)
    os.environ["CYCLE_HOME"] = str(root)
    os.environ["DAGSTER_HOME"] = str(root / "dagster_home")
    os.environ["CYCLE_SIM_POSTS_PER_DAY"] = str(posts_per_day)
    # the benchmark's fixed dates are partitions whatever a demo recorded elsewhere (the home is new anyway)
    os.environ["CYCLE_PARTITION_START"] = "2025-01-01"


def step_seconds(instance, run_id: str) -> dict[str, dict]:
    """Each step of the run: its seconds from STEP_START to STEP_SUCCESS or STEP_FAILURE in the event log, and
    how it ended, slowest first. A step that started and never ended (the run died) has no seconds."""
    import dagster as dg

    kinds = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    started: dict[str, float] = {}
    steps: dict[str, dict] = {}
    for entry in instance.all_logs(run_id, of_type=kinds):
        kind, key = entry.dagster_event.event_type, entry.step_key
        if kind == dg.DagsterEventType.STEP_START:
            started[key] = entry.timestamp
        elif key in started:
            began = started.pop(key)
            steps[key] = {
                "seconds": round(entry.timestamp - began, 2),
                "status": "success" if kind == dg.DagsterEventType.STEP_SUCCESS else "failure",
                "started_at": began,
                "ended_at": entry.timestamp,
            }
    steps.update({key: {"seconds": None, "status": "unfinished"} for key in started})
    return dict(sorted(steps.items(), key=lambda kv: -(kv[1]["seconds"] or 0.0)))


def _failures(result) -> str:
    """Each failed step and its error, down to the cause Dagster wrapped (the step's own exception)."""
    out = []
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        error, messages = event.event_specific_data.error, []
        while error is not None:
            messages.append(error.message.strip())
            error = error.cause
        out.append(f"{event.step_key}: " + " <- ".join(messages))
    return "; ".join(out) or "no step failed (the run itself did)"


def time_job(job, instance, day: date, tags: dict[str, str] | None = None) -> dict:
    """``job`` for the partition ``day`` as the schedule requests it (one partition key), timed; raises
    ``JobFailed`` with the failed steps' errors unless the run succeeded."""
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        partition_key=day.isoformat(),
        tags={"cycle/launched_by": "benchmarks.day_graph", **(tags or {})},
        raise_on_error=False,
    )
    seconds = time.perf_counter() - started
    steps = step_seconds(instance, result.run_id)
    if not result.success:
        raise JobFailed(f"{job.name} for {day} failed (run {result.run_id}): {_failures(result)}")
    return {"run_id": result.run_id, "job_seconds": round(seconds, 1), "steps": steps, "result": result}


def _warm_up(root: str, first: str, last: str, posts_per_day: int) -> dict:
    """``full_pipeline_job`` over first..last as one run (as ``cycle demo`` does): the champion model."""
    use_home(Path(root), posts_per_day)
    import dagster as dg

    from analytics_assets.cli import ensure_dagster_home
    from analytics_assets.definitions import build_defs
    from analytics_assets.defs.run_recovery import process_tags

    ensure_dagster_home()
    job = build_defs().resolve_job_def("full_pipeline_job")
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": last,
                "cycle/launched_by": "benchmarks.day_graph warm-up",
                **process_tags(),  # as cycle backfill: the run is released if this process dies
            },
            raise_on_error=False,
        )
    if not result.success:
        raise JobFailed(f"warm-up full_pipeline_job {first} .. {last} failed (run {result.run_id}): {_failures(result)}")
    model = [
        {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("engagement_model")
    ]
    if not model or model[-1].get("skipped") or model[-1].get("model_version") in (None, "None"):
        reason = model[-1].get("skip_reason") if model else "engagement_model was not materialized"
        raise JobFailed(f"the warm-up trained no champion model ({reason}): raise --warmup-days or --warmup-posts-per-day")
    return {
        "run_id": result.run_id,
        "seconds": round(time.perf_counter() - started, 1),
        "model_version": str(model[-1]["model_version"]),
    }


def _daily(root: str, day: str, posts_per_day: int) -> dict:
    """``daily_pipeline_job`` for ``day``, in this (fresh) process: the job's figures, this process's peak and
    its children's."""
    use_home(Path(root), posts_per_day)
    began = time.perf_counter()
    import dagster as dg

    from analytics_assets.cli import ensure_dagster_home
    from analytics_assets.definitions import build_defs
    from analytics_assets.defs.run_recovery import process_tags

    ensure_dagster_home()
    job = build_defs().resolve_job_def("daily_pipeline_job")
    load_seconds = time.perf_counter() - began
    with dg.DagsterInstance.get() as instance, TreeMemory() as memory:
        figures = time_job(job, instance, date.fromisoformat(day), tags=process_tags())
    del figures["result"]
    for step in figures["steps"].values():
        # the run process and its subprocesses while the step ran: which step holds the peak (a process keeps much
        # of what it freed, so a step's figure includes what the steps before it left)
        if step.get("started_at") is not None:
            step["peak_mb"] = memory.peak_between(step["started_at"], step["ended_at"])
    own = _hwm_mb()
    return {
        **figures,
        "definitions_load_seconds": round(load_seconds, 1),
        "run_process_peak_mb": round(own),
        "subprocess_peak_mb": round(memory.children_mb),
        # at least the run process's own peak: a sample can miss it, the kernel's high-water mark cannot
        "peak_mb": round(max(own, memory.together_mb)),
    }


def _child(queue, fn, args, log: str | None) -> None:
    if log:  # the run's event log and dbt's output: thousands of lines a run, kept in the home (--keep)
        with open(log, "ab") as f:
            os.dup2(f.fileno(), 1)
            os.dup2(f.fileno(), 2)
    try:
        queue.put(("ok", fn(*args)))
    except BaseException as exc:  # noqa: BLE001 - the parent re-raises it with the child's traceback
        queue.put(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))


def in_fresh_process(fn, *args, log: Path | None = None):
    """``fn(*args)`` in a spawned process (nothing of this process's memory or imports), its return value back,
    its output appended to ``log`` when given. Not a daemon: the run it executes starts dbt as a subprocess."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, fn, args, str(log) if log else None))
    process.start()
    try:
        outcome = queue.get()  # before join: a large result would block the child's exit
    finally:
        process.join()
    if outcome[0] == "error":
        if outcome[1].startswith("JobFailed"):
            raise JobFailed(outcome[1].removeprefix("JobFailed: "))
        raise RuntimeError(f"{fn.__name__} failed: {outcome[1]}\n{outcome[2]}")
    if process.exitcode:
        raise RuntimeError(f"{fn.__name__}'s process exited with {process.exitcode}")
    return outcome[1]


def run(
    posts_per_day: int,
    root: Path,
    *,
    history_days: int = 0,
    warmup_days: int = WARMUP_DAYS,
    warmup_posts_per_day: int = WARMUP_POSTS_PER_DAY,
    day: date = DAY,
    verbose: bool = False,
    keep_dbt_targets: bool = False,
) -> dict:
    """Warm-up, history, then the measured day (see the module's docstring); the figures."""
    if posts_per_day < 1 or history_days < 0 or warmup_days < 0 or warmup_posts_per_day < 1:
        raise ValueError("posts per day must be at least 1, warm-up and history days at least 0")
    from analytics_assets.sources.simulator.core import MAX_POST_AGE_DAYS

    first_history = day - timedelta(days=history_days)
    # the simulator's world depends on its volume (a post id of one volume is another post in the other), so no
    # day loaded at the measured volume may poll a post the warm-up loaded: a gap longer than a post is polled. At
    # the measured volume the warm-up is that world's history, and the days follow on
    gap = 1 if warmup_posts_per_day == posts_per_day else MAX_POST_AGE_DAYS + 1
    warmup_last = first_history - timedelta(days=gap)
    warmup_first = warmup_last - timedelta(days=warmup_days - 1)
    log = None if verbose else root / "day_graph.log"
    root.mkdir(parents=True, exist_ok=True)
    run_ids = []
    try:
        warmup = None
        if warmup_days:
            warmup = in_fresh_process(
                _warm_up, str(root), warmup_first.isoformat(), warmup_last.isoformat(), warmup_posts_per_day, log=log
            )
            run_ids.append(warmup.pop("run_id"))
            warmup = {"days": f"{warmup_first} .. {warmup_last}", "posts_per_day": warmup_posts_per_day, **warmup}
        history = []
        for k in range(history_days):
            past = first_history + timedelta(days=k)
            figures = in_fresh_process(_daily, str(root), past.isoformat(), posts_per_day, log=log)
            run_ids.append(figures["run_id"])
            history.append({"day": past.isoformat(), "job_seconds": figures["job_seconds"]})
        measured = in_fresh_process(_daily, str(root), day.isoformat(), posts_per_day, log=log)
        run_ids.append(measured["run_id"])
        dbt = dbt_breakdown(measured["run_id"])
    finally:
        if not keep_dbt_targets:
            for run_id in run_ids:  # the project's dbt/target keeps a folder per dbt step of every run
                for target in dbt_targets(run_id):
                    shutil.rmtree(target, ignore_errors=True)
    steps = measured.pop("steps")
    return {
        "day": day.isoformat(),
        "posts_per_day": posts_per_day,
        "executor": "in_process (execute_in_process, as cycle backfill)",
        "duckdb": _duckdb_settings(),
        "warmup": warmup,  # None: no champion model, the scoring steps skip (a check of the harness only)
        "history": history,
        **measured,
        "steps_seconds_sum": round(sum(s["seconds"] or 0.0 for s in steps.values()), 1),
        "steps": steps,
        "dbt": dbt,
    }


def _duckdb_settings() -> dict:
    from analytics_assets.settings import load_settings

    settings = load_settings()
    return {
        "threads": settings.duckdb_threads, "memory_limit": settings.duckdb_memory_limit,
        "dbt_threads": settings.dbt_duckdb_threads,
    }


def dbt_targets(run_id: str) -> list[Path]:
    """The target folders of a run's dbt steps (dagster-dbt names them ``<step>-<run id[:7]>-<hash>``)."""
    from analytics_assets.settings import PROJECT_ROOT

    return sorted((PROJECT_ROOT / "dbt" / "target").glob(f"*-{run_id[:7]}-*"))


def dbt_breakdown(run_id: str, slowest: int = 12) -> dict[str, dict]:
    """Inside each dbt step of the run: dbt's own seconds by resource type (model, test, unit_test; summed over
    the nodes, one thread) and its slowest nodes, from the step's ``run_results.json``."""
    out = {}
    for target in dbt_targets(run_id):
        results_file = target / "run_results.json"
        if not results_file.exists():
            continue
        results = json.loads(results_file.read_text())
        by_type: dict[str, float] = {}
        nodes = []
        for r in results["results"]:
            kind = r["unique_id"].split(".")[0]
            by_type[kind] = by_type.get(kind, 0.0) + r["execution_time"]
            nodes.append((r["unique_id"], r["execution_time"]))
        nodes.sort(key=lambda n: -n[1])
        out[target.name.rsplit("-", 2)[0]] = {
            "dbt_elapsed_seconds": round(results.get("elapsed_time", 0.0), 1),
            "nodes": len(nodes),
            "seconds_by_type": {k: round(v, 1) for k, v in sorted(by_type.items(), key=lambda kv: -kv[1])},
            "slowest_nodes": [{"node": n, "seconds": round(t, 2)} for n, t in nodes[:slowest]],
        }
    return out


def report(figures: dict, top: int | None = None) -> str:
    judged = figures["posts_per_day"] >= GOAL_POSTS_PER_DAY
    goal_s, goal_gb = GOALS["new_day_s"], GOALS["peak_gb"]
    seconds, peak_gb = figures["job_seconds"], figures["peak_mb"] / 1024
    warmup = figures["warmup"]
    before = (
        f"warm-up {warmup['days']} at {warmup['posts_per_day']:,} posts a day" if warmup
        else "no warm-up: NO CHAMPION MODEL, the scoring steps skipped"
    )
    lines = [
        f"daily_pipeline_job for {figures['day']} at {figures['posts_per_day']:,} posts a day "
        f"({len(figures['steps'])} steps, {figures['executor']}; {before}, {len(figures['history'])} history day(s))",
        f"  whole job    {seconds:8.1f} s   (goal < {goal_s:.0f} s at {GOAL_POSTS_PER_DAY:,} posts a day: "
        f"{verdict(seconds < goal_s, judged)})",
        f"  peak RSS     {peak_gb:8.2f} GB  the run process and its subprocesses at once (goal < {goal_gb:.0f} GB "
        f"at {GOAL_POSTS_PER_DAY:,}: {verdict(peak_gb < goal_gb, judged)}); the run process alone "
        f"{figures['run_process_peak_mb'] / 1024:.2f} GB, dbt's subprocess {figures['subprocess_peak_mb'] / 1024:.2f} GB",
        f"  steps' sum   {figures['steps_seconds_sum']:8.1f} s   (the rest: run start, step hand-offs, the end)",
        "",
        f"  {'step':<58} {'seconds':>8} {'share':>6} {'peak GB':>8}",
    ]
    steps = list(figures["steps"].items())
    for key, step in steps[:top] if top else steps:
        s = step["seconds"]
        shown = f"{s:8.1f} {100 * s / seconds:5.1f}%" if s is not None else "       -       "
        peak = step.get("peak_mb")
        shown += f" {peak / 1024:8.2f}" if peak is not None else " " * 9
        lines.append(f"  {key:<58} {shown}" + ("" if step["status"] == "success" else f"  {step['status'].upper()}"))
    if top and len(steps) > top:
        rest = sum(s["seconds"] or 0.0 for _, s in steps[top:])
        lines.append(f"  {f'the other {len(steps) - top} steps':<58} {rest:8.1f} {100 * rest / seconds:5.1f}%")
    for step, dbt in figures.get("dbt", {}).items():
        by_type = ", ".join(f"{k} {v:.1f} s" for k, v in dbt["seconds_by_type"].items())
        lines += ["", f"  inside {step}: dbt {dbt['dbt_elapsed_seconds']:.1f} s, {dbt['nodes']} nodes ({by_type})"]
        lines += [f"    {n['node']:<74} {n['seconds']:7.2f}" for n in dbt["slowest_nodes"][:8]]
    return "\n".join(lines)


def growth(baseline: dict, measured: dict, top: int = 10) -> str:
    """The same day after a short and a long history: the whole job's ratio beside the goal (one new day at 365 days
    of history at most 1.2x the same day at 30 days) and the steps that grew the most, in seconds."""
    goal = GOALS["new_day_365_vs_30"]
    short, long = (len(f["history"]) + _history_of(f) for f in (baseline, measured))
    ratio = measured["job_seconds"] / baseline["job_seconds"]
    lines = [
        f"one new day after {long} days of history against {short} days: {measured['job_seconds']:.1f} s / "
        f"{baseline['job_seconds']:.1f} s = {ratio:.2f}x (goal <= {goal}x: {verdict(ratio <= goal)})",
        f"  {'step':<58} {short:>6} d {long:>6} d {'grew':>7}",
    ]
    keys = set(baseline["steps"]) | set(measured["steps"])
    seconds = {k: ((baseline["steps"].get(k) or {}).get("seconds") or 0.0, (measured["steps"].get(k) or {}).get("seconds") or 0.0) for k in keys}
    for key, (before, after) in sorted(seconds.items(), key=lambda kv: kv[1][0] - kv[1][1])[:top]:
        lines.append(f"  {key:<58} {before:6.1f} s {after:6.1f} s {after - before:+6.1f} s")
    return "\n".join(lines)


def _history_of(figures: dict) -> int:
    """The days of history loaded by the warm-up, where it ran at the measured volume (it is then that history)."""
    warmup = figures.get("warmup") or {}
    if warmup.get("posts_per_day") != figures["posts_per_day"]:
        return 0
    first, last = (date.fromisoformat(d) for d in warmup["days"].split(" .. "))
    return (last - first).days + 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts-per-day", type=int, default=GOAL_POSTS_PER_DAY, help="the measured day's volume")
    parser.add_argument("--history-days", type=int, default=0, help="days before it through the daily job (not timed)")
    parser.add_argument(
        "--warmup-days", type=int, default=WARMUP_DAYS,
        help="days of full_pipeline_job that train the champion (0: none, the scoring steps skip: not the schedule's day)",
    )
    parser.add_argument("--warmup-posts-per-day", type=int, default=WARMUP_POSTS_PER_DAY)
    parser.add_argument("--top", type=int, default=25, help="steps listed, slowest first (0: all); --json has all")
    parser.add_argument(
        "--baseline-warmup-days", type=int,
        help="first the same day after this many warm-up days, then after --warmup-days, and the ratio of the two "
        "(--warmup-posts-per-day 240 --posts-per-day 240 --warmup-days 365 --baseline-warmup-days 30: the goal of "
        "one new day at 365 days of history within 1.2x of 30 days)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home, its log and dbt's target folders")
    parser.add_argument("--verbose", action="store_true", help="the runs' event logs here rather than in the home's log")
    args = parser.parse_args(argv)
    if args.posts_per_day < 1 or args.warmup_posts_per_day < 1 or args.warmup_days < 0 or args.history_days < 0:
        parser.error("--posts-per-day and --warmup-posts-per-day must be at least 1, --warmup-days and --history-days at least 0")
    runs = ([args.baseline_warmup_days] if args.baseline_warmup_days is not None else []) + [args.warmup_days]
    measured = []
    for warmup_days in runs:
        figures = _measure(args, warmup_days)
        if figures is None:
            return 1
        measured.append(figures)
        print(report(figures, args.top or None))
        print(f"  load average at the end: {figures['load_average']} (2 shared cores: the seconds are rough)\n")
    figures = measured[-1]
    if len(measured) == 2:
        figures = {**figures, "baseline": measured[0]}
        print(growth(measured[0], measured[1]))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _measure(args: argparse.Namespace, warmup_days: int) -> dict | None:
    """One home: warm-up, history, the measured day (None, having said why, when a run failed)."""
    root = Path(tempfile.mkdtemp(prefix="cycle_day_graph_"))
    try:
        figures = run(
            args.posts_per_day, root, history_days=args.history_days,
            warmup_days=warmup_days, warmup_posts_per_day=args.warmup_posts_per_day,
            verbose=args.verbose, keep_dbt_targets=args.keep,
        )
    except JobFailed as exc:
        print(f"day_graph: {exc}" + ("" if args.keep else " (--keep keeps the home and its log)"), file=sys.stderr)
        return None
    finally:
        if args.keep:
            print(f"home kept: {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return figures


if __name__ == "__main__":
    sys.exit(main())
