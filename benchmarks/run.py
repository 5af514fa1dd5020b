"""Speed figures of the ingestion path, each printed as a ratio against a baseline run in this process.

    make benchmark            # or: python -m benchmarks.run --posts-per-day 4000

A ratio (not seconds) survives a slower or busier machine: the baseline is the least work the same
step could do on the same rows (copying the native frame; a bare DuckDB insert of the same rows).
Targets: parsing+validation at most 80x a plain copy+numeric coercion (pandera's per-value dtype checks
dominate); a partition replace at most 3x
a bare insert of the same rows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from analytics_assets.sources.parsing.loader import parse_day
from analytics_assets.sources.parsing.parsers import SOCIAL_MAPPINGS, parse_records
from analytics_assets.contracts.raw import SOCIAL_POST_SNAPSHOTS
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.storage.warehouse import connect, ensure_raw_tables, replace_partitions

TARGETS = {"parse_vs_copy": 80.0, "replace_vs_insert": 3.0}


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts-per-day", type=int, default=2000)
    args = ap.parse_args(argv)
    day = date(2026, 6, 1)
    sim_day = PlatformSimulator(SimulatorConfig(posts_per_day=args.posts_per_day)).day(day)
    native = sim_day.social_posts["x"]
    rows = len(native)

    def baseline_parse():
        copy = native.copy()
        for col in copy.columns:
            if col.startswith("public_metrics."):
                copy[col] = pd.to_numeric(copy[col], errors="coerce")

    t_base = _best(baseline_parse)
    t_parse = _best(lambda: parse_records(native, SOCIAL_MAPPINGS["x"]))

    batch = parse_day(sim_day)[SOCIAL_POST_SNAPSHOTS.name]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        with connect(path) as con:
            ensure_raw_tables(con, [SOCIAL_POST_SNAPSHOTS])
            con.execute("create table bare as select * from raw.raw_social_post_snapshots limit 0")

            def bare_insert():
                con.execute("delete from bare")
                con.register("_b", batch.rows)
                con.execute("insert into bare by name select * from _b")
                con.unregister("_b")

            t_insert = _best(bare_insert)
            t_replace = _best(lambda: replace_partitions(con, SOCIAL_POST_SNAPSHOTS, batch.rows, batch.quarantine, day, day))
            stored = con.execute("select count(*) from raw.raw_social_post_snapshots").fetchone()[0]
    assert stored == len(batch.rows), "replace must leave exactly one copy of the day"

    figures = {"parse_vs_copy": t_parse / t_base, "replace_vs_insert": t_replace / t_insert}
    print(f"rows: {rows:,} native X snapshots; {len(batch.rows):,} canonical snapshots for the replace")
    ok = True
    for name, ratio in figures.items():
        status = "ok" if ratio <= TARGETS[name] else "OVER TARGET"
        ok &= ratio <= TARGETS[name]
        print(f"{name:<20} {ratio:8.2f}x baseline   (target <= {TARGETS[name]:.0f}x)  {status}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
