"""The ``cycle`` command line: backfills through the same jobs and instance the UI uses."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from analytics_assets.settings import SettingsError, load_settings, use_dagster_home


def ensure_dagster_home() -> Path:
    """Use $DAGSTER_HOME (default data/dagster_home), creating it with Cycle's instance settings."""
    from analytics_assets.cli.instance import ensure_instance_config

    settings = load_settings()
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    ensure_instance_config(home, settings)  # SQLite files here, or PostgreSQL with CYCLE_DAGSTER_PG_URL
    use_dagster_home(home)
    return home


def last_complete_day() -> date:
    """The newest daily partition: a day is a partition once it has ended (UTC)."""
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def resolve_window(days: int | None, start: date | None, end: date | None) -> tuple[date, date]:
    """The inclusive window to run, refused with a clear message when it has no partitions: nothing is
    ever simulated or fetched for a day that has not ended, nor before the partitions start."""
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
    # the partitions' first day, read as defs.partitions will (not imported here: the definitions must load
    # after record_data_start). A home whose demo recorded its start lets a backfill move it earlier.
    from analytics_assets.settings import DEFAULT_PARTITION_START, recorded_partition_start

    settings = load_settings()
    first, why = settings.partition_start, "CYCLE_PARTITION_START"
    if first is None and recorded_partition_start(settings) is None:
        first, why = DEFAULT_PARTITION_START, "the default; set CYCLE_PARTITION_START to go earlier"
    if first is not None and start < first:
        raise SystemExit(f"cycle: partitions start at {first} ({why}); --start {start} is before them")
    return start, end


def record_data_start(day: date, *, create: bool) -> date | None:
    """Move this home's recorded first partition (``defs.partitions.first_partition_day``) to ``day`` when
    ``day`` is earlier; with ``create``, record ``day`` when nothing is recorded yet. Called before the
    definitions load, so this process's partitions include ``day``; an explicit CYCLE_PARTITION_START is
    left as set. Returns the recorded first day, or None when none is recorded."""
    from analytics_assets.settings import recorded_partition_start

    settings = load_settings()
    if settings.partition_start is not None:
        return None
    recorded = recorded_partition_start(settings)
    if recorded is None and not create:
        return None
    first = day if recorded is None else min(recorded, day)
    if first != recorded:
        marker = settings.partition_start_marker
        marker.parent.mkdir(parents=True, exist_ok=True)
        staged = marker.with_name(marker.name + ".tmp")
        staged.write_text(first.isoformat() + "\n")
        staged.replace(marker)  # atomic: a code server loading the definitions never reads half a date
    return first


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


def backfill(start: date, end: date, job_name: str = "full_pipeline_job", *, command: str = "backfill") -> bool:
    """Run ``job_name`` over the partitions start..end as one run on the shared instance, as a UI
    backfill of the same range does (every daily asset has a single-run backfill policy). Runs left behind
    by a killed process are released first, so they never block this one.

    The terminal shows one line per step; the full event log, dbt's output and every warning go to a log
    file under the Cycle home (``progress.QuietRun``), whose path is printed first and again on failure."""
    from analytics_assets.cli.progress import QuietRun, StepMonitor, elapsed_since

    ensure_dagster_home()
    began = time.monotonic()
    with QuietRun(command) as quiet:
        with quiet.redirected():
            import dagster as dg

            from analytics_assets.definitions import defs
            from analytics_assets.defs.run_recovery import process_tags, recover_dead_runs

            job = defs.resolve_job_def(job_name)
        steps = len(job.graph.node_dict)
        quiet.console.print(f"cycle: {job_name} over {start} .. {end} ({steps} steps)")
        _terminate_on_sigterm()
        with dg.DagsterInstance.get() as instance:
            for released in recover_dead_runs(instance):
                quiet.errors.print(f"cycle: released {released}")
            run_id = str(uuid.uuid4())  # known before the run starts, so the monitor can follow its events
            try:
                with StepMonitor(instance, run_id, steps, quiet), quiet.redirected():
                    result = job.execute_in_process(
                        instance=instance,
                        run_id=run_id,
                        tags={
                            "dagster/asset_partition_range_start": start.isoformat(),
                            "dagster/asset_partition_range_end": end.isoformat(),
                            "cycle/launched_by": f"cycle {command}",
                            **process_tags(),
                        },
                        raise_on_error=False,
                    )
            except BaseException as exc:  # Ctrl-C, SIGTERM, a crash: the run must not stay "Starting" forever
                _release_own_runs(instance, type(exc).__name__ + (f": {exc}" if str(exc) else ""))
                quiet.errors.print(f"cycle: the run stopped ({type(exc).__name__}); its event log: {quiet.path}")
                raise
        success, run_id = result.success, result.run_id
        outcome = "SUCCESS" if success else "FAILURE"
        line = f"run {run_id}: {outcome} ({start} .. {end}, {job_name}) in {elapsed_since(began)}"
        quiet.note(line)
        quiet.console.print(line)
        if not success:
            quiet.errors.print(f"cycle: the run failed; its full event log: {quiet.path}")
        return success


def summary(tables: bool = False) -> str:
    """Spend and ROAS, recommendations, insights, attribution and the quarantine share (``cli.summary``);
    with ``tables``, the rows of every warehouse table first."""
    from analytics_assets.cli.summary import summary_lines, table_rows

    return "\n".join((table_rows() if tables else []) + summary_lines())


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
    sm = sub.add_parser("summary", help="print spend and ROAS, recommendations, insights, attribution and quality")
    sm.add_argument("--tables", action="store_true", help="also print the rows of every warehouse table")
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
        print(summary(tables=args.tables))
        return 0
    if args.command == "doctor":
        done = doctor()
        print("\n".join(done) if done else "cycle doctor: no dead run holds anything")
        return 0
    if args.command == "demo":
        start, end = resolve_window(args.days, None, None)
        # a fresh home's partitions start with the demo's first day, so the UI shows them filled; a home that
        # already holds data keeps the start it was loaded under (its earlier days stay partitions)
        record_data_start(start, create=not load_settings().warehouse.exists())
        ok = backfill(start, end, command="demo")
        lines = summary().splitlines()
        if ok:
            from analytics_assets.cli.access import bootstrap_default_workspace

            lines += bootstrap_default_workspace()  # the API key comes last: what the reader needs next
        print("\n".join(lines))
        return 0 if ok else 1
    start, end = resolve_window(args.days, args.start, args.end)
    record_data_start(start, create=False)
    return 0 if backfill(start, end, args.job) else 1


def entry() -> None:
    """The installed ``cycle`` command: ``main``, then an exit without the interpreter's teardown once the
    command has finished and everything is written.

    Why: in a process that has run the asset graph, namespaces that Dagster's records keep for good (they copy
    the globals of the module that first builds one, ``dagster_shared.record``) still reference DuckDB's module
    at teardown, and nanobind, DuckDB's binding layer, then prints a ~45-line reference-leak report of DuckDB's
    type constants at exit, under the summary, reading like a crash. The handles that were really held past
    their use are fixed where they were made (``defs/ingest/raw_checks.py``, ``defs/analysis/daily_series.py``);
    what remains is module-level memory the OS takes back in any case. The exit handlers, logging and standard
    streams are flushed first, so nothing is lost; an uncaught exception still takes the ordinary way out,
    with its traceback."""
    import atexit
    import logging

    try:
        code = main()
    except SystemExit as exc:  # raise SystemExit("cycle: ...") prints its message and exits 1, as Python does
        code = exc.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()  # what the interpreter would run at exit: the progress display, Dagster's handlers
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if code is None else int(code))


if __name__ == "__main__":
    entry()
