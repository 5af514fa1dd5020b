"""The ``cycle`` command line: backfills through the same jobs and instance the UI uses."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from analytics_assets.settings import SettingsError, load_settings, use_dagster_home


def ensure_dagster_home() -> Path:
    """Use $DAGSTER_HOME (default data/dagster_home), creating it with Cycle's instance settings."""
    home = load_settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copy(Path(__file__).resolve().parents[1] / "dagster.yaml", config)
    use_dagster_home(home)
    return home


def last_complete_day() -> date:
    """The newest daily partition: a day is a partition once it has ended (UTC)."""
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def resolve_window(days: int | None, start: date | None, end: date | None) -> tuple[date, date]:
    """The inclusive window to run, refused with a clear message when it has no partitions: nothing is
    ever simulated or fetched for a day that has not ended, nor before the partitions start."""
    from analytics_assets.defs.partitions import daily_partitions

    if days is not None and (start or end):
        raise SystemExit("cycle: give either --days or --start/--end")
    last = last_complete_day()
    if start or end:
        if not (start and end):
            raise SystemExit("cycle: --start and --end go together")
        if start > end:
            raise SystemExit(f"cycle: --start {start} is after --end {end}")
    else:
        n = 30 if days is None else days
        if n < 1:
            raise SystemExit(f"cycle: --days must be at least 1 (got {n})")
        start, end = last - timedelta(days=n - 1), last
    if end > last:
        raise SystemExit(
            f"cycle: --end {end} has not happened yet: the last complete day (UTC) is {last}, the newest partition"
        )
    first = date.fromisoformat(daily_partitions.get_first_partition_key())
    if start < first:
        raise SystemExit(f"cycle: partitions start at {first} (CYCLE_PARTITION_START); --start {start} is before them")
    return start, end


def _terminate_on_sigterm() -> None:
    """SIGTERM ends a CLI run the way Ctrl-C does, so its run is marked and its slots released."""

    def interrupt(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def _release_own_runs(instance, why: str) -> None:
    """Mark this process's unfinished runs canceled and free what they hold (Ctrl-C, SIGTERM, a crash)."""
    import dagster as dg

    from analytics_assets.defs.run_recovery import RUN_PID_TAG, UNFINISHED

    mine = dg.RunsFilter(statuses=UNFINISHED, tags={RUN_PID_TAG: str(os.getpid())})
    for run in instance.get_runs(filters=mine):
        instance.report_run_canceled(run, message=f"cycle backfill stopped: {why}")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        print(f"run {run.run_id}: CANCELED ({why}); its pool slots are released", file=sys.stderr)


def doctor() -> list[str]:
    """Find runs whose process is gone and release what they hold; returns what was done."""
    ensure_dagster_home()
    import dagster as dg

    from analytics_assets.defs.run_recovery import recover_dead_runs

    with dg.DagsterInstance.get() as instance:
        return [str(r) for r in recover_dead_runs(instance)]


def backfill(start: date, end: date, job_name: str = "full_pipeline_job") -> bool:
    """Run ``job_name`` over the partitions start..end as one run on the shared instance, as a UI
    backfill of the same range does (every daily asset has a single-run backfill policy). Runs left behind
    by a killed process are released first, so they never block this one."""
    ensure_dagster_home()
    import dagster as dg

    from analytics_assets.definitions import defs
    from analytics_assets.defs.run_recovery import process_tags, recover_dead_runs

    job = defs.resolve_job_def(job_name)
    _terminate_on_sigterm()
    with dg.DagsterInstance.get() as instance:
        for released in recover_dead_runs(instance):
            print(f"cycle: released {released}", file=sys.stderr)
        try:
            result = job.execute_in_process(
                instance=instance,
                tags={
                    "dagster/asset_partition_range_start": start.isoformat(),
                    "dagster/asset_partition_range_end": end.isoformat(),
                    "cycle/launched_by": "cycle backfill",
                    **process_tags(),
                },
                raise_on_error=False,
            )
        except BaseException as exc:  # Ctrl-C, SIGTERM, a crash: the run must not stay "Starting" forever
            _release_own_runs(instance, type(exc).__name__ + (f": {exc}" if str(exc) else ""))
            raise
        print(f"run {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'} ({start} .. {end}, {job_name})")
        return result.success


def summary() -> str:
    """Rows per table, the top recommendations, and where to look next."""
    import duckdb

    settings = load_settings()
    path = settings.warehouse
    if not path.exists():
        return f"No warehouse at {path} yet: run `make demo` or `cycle backfill`."
    lines = [f"Warehouse: {path}"]
    con = duckdb.connect(str(path), read_only=True, config={"threads": 1})
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables order by table_schema, table_name"
        ).fetchall()
        lines.append("Rows per table:")
        for schema, name in tables:
            n = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
            lines.append(f"  {schema}.{name:<40} {n:>10,}")
        if ("ml", "posting_hour_recommendations") in tables:
            lines.append("Best posting hours (UTC) by platform, champion model:")
            for platform, hour, score, lift in con.execute(
                "select platform, publish_hour, expected_engagement_score, lift_vs_platform_mean "
                "from ml.posting_hour_recommendations where rank <= 3 order by platform, rank"
            ).fetchall():
                lines.append(f"  {platform:<9} {hour:02d}:00  expected score {score:7.1f}  ({lift:+.0%} vs platform mean)")
    finally:
        con.close()
    lines += [
        f"Serving copy for the API: {settings.serving}",
        "UI:  make dev  -> http://127.0.0.1:3000  (asset graph, partitions, schedules, sensors)",
        "API: make api  -> http://127.0.0.1:8000/v1/docs  (every /v1 route needs a key: `cycle keys create`)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cycle", description="Cycle: closed-loop social and ads analytics")
    sub = parser.add_subparsers(dest="command", required=True)
    bf = sub.add_parser("backfill", help="materialize daily partitions through the asset graph")
    bf.add_argument("--days", type=int, help="the last N complete days (default 30)")
    bf.add_argument("--start", type=date.fromisoformat, help="first day, YYYY-MM-DD")
    bf.add_argument("--end", type=date.fromisoformat, help="last day, YYYY-MM-DD (inclusive)")
    bf.add_argument(
        "--job",
        default="full_pipeline_job",
        choices=["full_pipeline_job", "daily_pipeline_job"],
        help="full_pipeline_job also retrains the model (default)",
    )
    sub.add_parser("summary", help="print rows per table, the top recommendations and where things are")
    sub.add_parser("doctor", help="mark failed the runs whose process is gone and release the pool slots they hold")
    demo = sub.add_parser("demo", help="backfill the last N days on the embedded default, then summarize")
    demo.add_argument("--days", type=int, default=30)
    from analytics_assets.cli import access as access_cli
    from ml.attribution import cli as attribution_cli  # numpy/pandas/scipy only, no Dagster

    access_cli.add_arguments(sub)
    from analytics_assets.cli import loop as loop_cli

    loop_cli.add_arguments(sub)
    from analytics_assets.cli import privacy as privacy_cli

    privacy_cli.add_arguments(sub)

    attribution_cli.add_arguments(
        sub.add_parser("attribution", help="credit channels under every attribution model from a paths CSV")
    )
    args = parser.parse_args(argv)

    if args.command == "attribution":
        return attribution_cli.run(args)
    try:
        if args.command in ("workspaces", "keys"):
            return access_cli.run(args)
        if args.command == "loop":
            return loop_cli.run(args)
        if args.command == "privacy":
            return privacy_cli.run(args)
        return _run(args)
    except SettingsError as exc:  # a bad CYCLE_* value: say which, no traceback
        raise SystemExit(f"cycle: {exc}") from None


def _run(args: argparse.Namespace) -> int:
    if args.command == "summary":
        print(summary())
        return 0
    if args.command == "doctor":
        done = doctor()
        print("\n".join(done) if done else "cycle doctor: no dead run holds anything")
        return 0
    if args.command == "demo":
        start, end = resolve_window(args.days, None, None)
        ok = backfill(start, end)
        print(summary())
        if ok:
            from analytics_assets.cli.access import bootstrap_default_workspace

            print("\n".join(bootstrap_default_workspace()))
        return 0 if ok else 1
    start, end = resolve_window(args.days, args.start, args.end)
    return 0 if backfill(start, end, args.job) else 1


if __name__ == "__main__":
    sys.exit(main())
