"""Fill a DuckDB file's raw tables from the simulator, outside Dagster (dbt development, notebooks).

    python -m analytics_assets.simulator.dev_warehouse --path data/dev.duckdb --end 2026-11-20 --days 10
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta

from analytics_assets.ingest.loader import parse_day
from analytics_assets.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.warehouse import connect, replace_partitions


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", required=True)
    ap.add_argument("--end", type=date.fromisoformat, default=date.today() - timedelta(days=1))
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--posts-per-day", type=int, default=240)
    ap.add_argument("--malformed-rate", type=float, default=0.0)
    args = ap.parse_args(argv)
    sim = PlatformSimulator(
        SimulatorConfig(seed=args.seed, posts_per_day=args.posts_per_day, malformed_rate=args.malformed_rate)
    )
    with connect(args.path) as con:
        for k in range(args.days - 1, -1, -1):
            day = args.end - timedelta(days=k)
            for batch in parse_day(sim.day(day)).values():
                replace_partitions(con, batch.table, batch.rows, batch.quarantine, day, day)
            print(f"{day}: loaded")


if __name__ == "__main__":
    main()
