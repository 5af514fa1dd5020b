"""What one new day's ``dbt build`` costs as the history grows: the daily schedule's build (every model but the
loop's, with their data tests; the unit tests are left to CI, as the Dagster asset leaves them) of one partition,
the window set the way Dagster sets it (env CYCLE_DBT_MIN_DATE / CYCLE_DBT_MAX_DATE), over warehouses of N days of
simulator history.

    python -m benchmarks.dbt_window                          # 30 and 120 days, 240 posts a day
    python -m benchmarks.dbt_window --days 30 120 --project-dir /tmp/old/dbt --label before

For each N: the raw tables of N + 1 days are loaded from the simulator (cached under --work-dir, shared by
every project version), the first N days are built in one full build, then day N + 1 is built with the window
set, which is what is timed. Printed: the build's wall time and every node's execution time from dbt's
run_results.json, slowest first, with the N-day figures side by side, so what grows with the history shows.
Pass an older copy of the project (``git archive HEAD dbt | tar -x -C /tmp/old``) as --project-dir to compare.
Not a test: its figures depend on the machine and its load (the build runs DuckDB on one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from analytics_assets.defs.transform.dbt_invocation import BUILD_ARGS
from analytics_assets.settings import PROJECT_ROOT
from benchmarks.scale_goals import GOALS, verdict

START = date(2026, 3, 1)
EXCLUDE = "tag:loop"  # what the daily schedule's dbt asset leaves to the loop asset (defs/transform/dbt.py)


def raw_warehouse(work: Path, days: int, posts_per_day: int, seed: int) -> Path:
    """A warehouse file with the raw tables of days START .. START + days (inclusive: the history and the
    new day), built once per (days, volume, seed) and reused."""
    from analytics_assets.sources.parsing.loader import parse_day
    from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
    from analytics_assets.storage.warehouse import connect, replace_partitions

    path = work / f"raw_{days}d_{posts_per_day}p_s{seed}.duckdb"
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    sim = PlatformSimulator(SimulatorConfig(seed=seed, posts_per_day=posts_per_day))
    t0 = time.perf_counter()
    with connect(partial) as con:
        for k in range(days + 1):
            day = START + timedelta(days=k)
            for batch in parse_day(sim.day(day)).values():
                replace_partitions(con, batch.table, batch.rows, batch.quarantine, day, day)
    partial.rename(path)
    print(f"  raw tables of {days + 1} days loaded in {time.perf_counter() - t0:.0f} s", flush=True)
    return path


def dbt_build(project: Path, target: Path, warehouse: Path, window: tuple[date, date] | None) -> tuple[float, list]:
    """One ``dbt build`` (a subprocess, as Dagster runs it); its wall time and run_results' node timings."""
    env = {**os.environ, "CYCLE_WAREHOUSE_PATH": str(warehouse), "CYCLE_DUCKDB_THREADS": "1",
           "DBT_INDIRECT_SELECTION": "cautious"}
    env.pop("CYCLE_DBT_MIN_DATE", None)
    env.pop("CYCLE_DBT_MAX_DATE", None)
    if window:
        env.update(CYCLE_DBT_MIN_DATE=window[0].isoformat(), CYCLE_DBT_MAX_DATE=window[1].isoformat())
    dbt = Path(sys.executable).with_name("dbt")
    cmd = [str(dbt), *BUILD_ARGS, "--project-dir", str(project), "--profiles-dir", str(project),
           "--target-path", str(target), "--exclude", EXCLUDE, "--quiet"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"dbt build failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    results = json.loads((target / "run_results.json").read_text())["results"]
    return wall, [(r["unique_id"], r["execution_time"]) for r in results]


def measure(project: Path, work: Path, days: int, posts_per_day: int, seed: int, label: str, repeats: int = 1) -> dict:
    raw = raw_warehouse(work, days, posts_per_day, seed)
    folder = work / f"{label}_{days}d"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # dbt-duckdb names the database after the file: the same name in every folder keeps one manifest valid
    warehouse = folder / "warehouse.duckdb"
    shutil.copy(raw, warehouse)
    target = work / f"target_{label}"
    history = (START, START + timedelta(days=days - 1))
    new_day = START + timedelta(days=days)
    t_full, _ = dbt_build(project, target, warehouse, history)
    print(f"  {label}, {days} days: history built in {t_full:.0f} s", flush=True)
    # the new day built `repeats` times (a rerun of a window replaces exactly it, so each build does the same
    # work): the median wall time and each node's median, which a shared machine's load spikes move less
    builds = [dbt_build(project, target, warehouse, (new_day, new_day)) for _ in range(repeats)]
    walls = [wall for wall, _ in builds]
    per_node = [dict(nodes) for _, nodes in builds]
    nodes = {node: statistics.median(run.get(node, 0.0) for run in per_node) for node in per_node[0]}
    return {"wall": statistics.median(walls), "walls": walls, "nodes": nodes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, nargs="+", default=[30, 120], help="history lengths to compare")
    ap.add_argument("--posts-per-day", type=int, default=240)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--project-dir", type=Path, default=PROJECT_ROOT / "dbt")
    ap.add_argument("--label", default="current", help="names this project version's folders and figures")
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/cycle_dbt_window"))
    ap.add_argument("--top", type=int, default=25, help="nodes printed")
    ap.add_argument("--repeats", type=int, default=3, help="builds of the new day; medians are printed")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    if any(d < 1 for d in args.days):
        ap.error("--days must be at least 1")
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    if not (args.project_dir / "dbt_project.yml").exists():
        ap.error(f"no dbt_project.yml in {args.project_dir}")
    args.work_dir.mkdir(parents=True, exist_ok=True)

    runs = {}
    for days in args.days:
        runs[days] = measure(args.project_dir.resolve(), args.work_dir, days, args.posts_per_day, args.seed, args.label,
                             args.repeats)

    ordered = sorted(args.days)
    longest = runs[ordered[-1]]["nodes"]
    header = "".join(f"{f'{d} days':>10}" for d in ordered)
    print(f"\n{args.label}: one day's dbt build with the window set ({args.posts_per_day} posts a day)")
    print(f"{f'wall time of the build (s, median of {args.repeats})':<72}" + "".join(f"{runs[d]['wall']:>10.1f}" for d in ordered))
    print(f"{'sum of node times (s)':<72}" + "".join(f"{sum(runs[d]['nodes'].values()):>10.1f}" for d in ordered))
    if len(ordered) > 1:
        short, long_ = ordered[0], ordered[-1]
        ratio = runs[long_]["wall"] / runs[short]["wall"]
        goal = GOALS["new_day_365_vs_30"]
        judged = verdict(ratio <= goal) if (short, long_) == (30, 365) else "judged at 30 and 365 days"
        print(f"{f'{long_} / {short} days of history':<72}{ratio:>9.2f}x   (goal <= {goal}x: {judged})")
    print(f"\n{'node (slowest at ' + str(ordered[-1]) + ' days first)':<72}{header}")
    for node in sorted(longest, key=longest.get, reverse=True)[: args.top]:
        name = node if len(node) <= 70 else node[:67] + "..."
        print(f"{name:<72}" + "".join(f"{runs[d]['nodes'].get(node, float('nan')):>10.2f}" for d in ordered))
    if args.json:
        args.json.write_text(json.dumps({"label": args.label, "posts_per_day": args.posts_per_day, "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
