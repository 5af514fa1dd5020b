"""The ``cycle`` command line: backfills through the same jobs and instance the UI uses."""

from __future__ import annotations

import argparse
import shutil
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
        shutil.copy(Path(__file__).with_name("dagster.yaml"), config)
    use_dagster_home(home)
    return home


def resolve_window(days: int | None, start: date | None, end: date | None) -> tuple[date, date]:
    if start or end:
        if not (start and end):
            raise SystemExit("cycle: --start and --end go together")
        if start > end:
            raise SystemExit(f"cycle: --start {start} is after --end {end}")
        return start, end
    last = datetime.now(timezone.utc).date() - timedelta(days=1)  # the last complete day
    n = days or 30
    if n < 1:
        raise SystemExit("cycle: --days must be at least 1")
    return last - timedelta(days=n - 1), last


def backfill(start: date, end: date, job_name: str = "full_pipeline_job") -> bool:
    """Run ``job_name`` over the partitions start..end as one run on the shared instance, as a UI
    backfill of the same range does (every daily asset has a single-run backfill policy)."""
    ensure_dagster_home()
    import dagster as dg

    from analytics_assets.definitions import defs
    from analytics_assets.defs.partitions import daily_partitions

    first = daily_partitions.get_first_partition_key()
    if start.isoformat() < first:
        raise SystemExit(f"cycle: partitions start at {first}")
    job = defs.resolve_job_def(job_name)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
                "cycle/launched_by": "cycle backfill",
            },
            raise_on_error=False,
        )
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
        "API: make api  -> http://127.0.0.1:8000/docs  (e.g. curl 'http://127.0.0.1:8000/optimal-hours?platform=linkedin')",
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
    demo = sub.add_parser("demo", help="backfill the last N days on the embedded default, then summarize")
    demo.add_argument("--days", type=int, default=30)
    from ml.attribution import cli as attribution_cli  # numpy/pandas/scipy only, no Dagster

    attribution_cli.add_arguments(
        sub.add_parser("attribution", help="credit channels under every attribution model from a paths CSV")
    )
    args = parser.parse_args(argv)

    if args.command == "attribution":
        return attribution_cli.run(args)
    try:
        return _run(args)
    except SettingsError as exc:  # a bad CYCLE_* value: say which, no traceback
        raise SystemExit(f"cycle: {exc}") from None


def _run(args: argparse.Namespace) -> int:
    if args.command == "summary":
        print(summary())
        return 0
    if args.command == "demo":
        start, end = resolve_window(args.days, None, None)
        ok = backfill(start, end)
        print(summary())
        return 0 if ok else 1
    start, end = resolve_window(args.days, args.start, args.end)
    return 0 if backfill(start, end, args.job) else 1


if __name__ == "__main__":
    sys.exit(main())
