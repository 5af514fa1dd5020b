"""``cycle loop --weeks N``: the closed loop in the simulator, week by week through the real graph.

The same jobs as ``cycle backfill`` on the same instance and home (``defs/loop/simulated_loop.py`` says what a
week does). The simulated account decides through the published serving snapshot and the API's inbound store,
as the API records decisions: the loop's weeks are in the past, where the API's wall clock would call every
recommendation expired (the end-to-end test goes through the API's routes with a simulated clock instead).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path

from analytics_assets.settings import load_settings


def add_arguments(sub: argparse._SubParsersAction) -> None:
    loop = sub.add_parser(
        "loop", help="run the closed loop in the simulator: recommend -> act -> measure -> retrain, week by week"
    )
    loop.add_argument("--weeks", type=int, default=8, help="weeks of simulated time (the first one builds the history)")
    loop.add_argument("--adoption", type=float, default=0.5, help="share of the open recommendations applied (0..1)")
    loop.add_argument("--dismissal", type=float, default=0.0, help="share of them dismissed (0..1)")
    loop.add_argument("--shift-week", type=int, help="week from whose first day every platform's peak hour moves")
    loop.add_argument("--shift-hours", type=int, default=4, help="by how many hours the peaks move (default 4)")
    loop.add_argument("--seed", type=int, help="simulator seed (default CYCLE_SIM_SEED)")
    loop.add_argument("--posts-per-day", type=int, help="posts a day over all platforms (default CYCLE_SIM_POSTS_PER_DAY)")
    loop.add_argument("--start", type=date.fromisoformat, help="first day (default: the loop ends with the last complete day)")


def actions_dir() -> Path:
    """The simulated account's actions log: durable, beside the rest of the home (the default simulator reads it)."""
    return load_settings().cycle_home / "simulator" / "actions"


def run(args: argparse.Namespace) -> int:
    from analytics_assets.cli import ensure_dagster_home, last_complete_day, record_data_start
    from analytics_assets.defs.loop.simulated_loop import LoopSettings, format_table, format_week, recorded_start, run_loop

    settings_ = load_settings()
    directory = actions_dir()
    last = last_complete_day()
    start = args.start or recorded_start(directory) or last - timedelta(days=7 * args.weeks - 1)
    try:
        loop = LoopSettings(
            start=start,
            weeks=args.weeks,
            seed=settings_.sim_seed if args.seed is None else args.seed,
            posts_per_day=settings_.sim_posts_per_day if args.posts_per_day is None else args.posts_per_day,
            adoption=args.adoption,
            dismissal=args.dismissal,
            shift_week=args.shift_week,
            shift_hours=args.shift_hours,
        )
        loop.simulator_config(directory)  # the shares are checked here, before anything runs
    except ValueError as exc:
        raise SystemExit(f"cycle loop: {exc}") from None
    end = loop.week_days(loop.weeks)[1]
    if end > last:
        raise SystemExit(f"cycle loop: the loop would end on {end}, after the last complete day {last}; give --start or fewer --weeks")
    record_data_start(loop.start, create=False)
    from analytics_assets.defs.partitions import daily_partitions

    first = date.fromisoformat(daily_partitions.get_first_partition_key())
    if loop.start < first:  # the definitions loaded (above) before the recorded start moved to the loop's
        raise SystemExit(f"cycle loop: partitions start at {first} in this process; the home now records "
                         f"{loop.start}: run the same command again")
    ensure_dagster_home()
    import dagster as dg

    from analytics_assets.definitions import defs
    from analytics_assets.defs.loop.simulated_loop import StoreRecommendations
    from analytics_assets.defs.resources import default_resources

    resources = default_resources()
    store = resources["webhook_store"]
    print(
        f"cycle loop: {loop.weeks} weeks from {loop.start} (seed {loop.seed}, {loop.posts_per_day} posts a day, "
        f"adoption {loop.adoption:.0%}"
        + (f", peaks move {loop.shift_hours:+d} h from week {loop.shift_week}" if loop.shift_week else "")
        + f"); actions log {directory}",
        flush=True,
    )
    with dg.DagsterInstance.get() as instance:
        try:
            reports = run_loop(
                loop,
                instance=instance,
                resolve_job=defs.resolve_job_def,
                feedback_sensor=defs.resolve_sensor_def("recommendation_feedback_sensor"),
                resources=resources,
                actions_dir=directory,
                warehouse=settings_.warehouse,
                gateway=lambda week: StoreRecommendations(settings_.serving, Path(store.path)),
                echo=lambda report: print(format_week(report), flush=True),
            )
        except (ValueError, dg.Failure) as exc:
            print(f"cycle loop: {getattr(exc, 'description', None) or exc}", file=sys.stderr)
            return 1
    print(format_table(reports))
    return 0
