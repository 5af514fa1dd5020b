"""Load benchmark of the API's main read routes: the real server under a real load generator.

    make bench-api            # or: python -m benchmarks.api_load --run-time 30 --rate 1000

Goal: p99 under 20 ms at 1,000 requests/s on the demo's data, and flat as history grows from 30 days to 3
years. For each snapshot, the demo's 30 days (``$CYCLE_SERVING_DIR``, from ``make demo``) and the same data
extended to 3 years (each account's daily rows repeated with shifted dates, published by the pipeline's own
publisher with a correct manifest), the API is started with uvicorn on 127.0.0.1 and driven by Locust at a
fixed mean rate (Poisson arrivals from 100 users) over optimal-hours, rollups/daily, overview, attribution,
campaigns and boosts, twice: with the response cache (``CYCLE_API_CACHE_MB``, the default) and without it (0),
the baseline. Each run starts with one request per URL (the files are loaded; with the cache, the answers
stored), then measures. Printed per endpoint: requests, throughput, p50/p95/p99 (Locust's, 1 ms resolution);
then the goal, the baseline and p99 3y / p99 30d.

One uvicorn worker, as ``make api`` runs it: answering from memory it needs about 0.4 of a core at 1,000
requests/s, which leaves the other core to the load generator (Locust, about 0.3 of a core) and the rest. A
second worker gives the same p99 from the cache and a little more throughput without it, but holds a second
copy of the snapshot and of the cache, and doubles each key's rate limit (counted per process). ``--workers``
changes it.

The server is what ``make api`` runs, with every request authenticated, scoped, rate limited (a limit high
enough not to refuse the load) and audited into a temporary store. Nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

GOAL_P99_MS = 20.0
GOAL_RATE = 1000
ENDPOINTS = ("optimal-hours", "rollups/daily", "overview", "attribution", "campaigns", "boosts")
LOCUST_ENV = "CYCLE_BENCH_LOCUST_URLS"  # set for the Locust process: this file is then its locustfile
HISTORY_DAYS = 3 * 365
HIGH_RATE_LIMIT = "10000000/minute;1000000/second"  # counted on every request, never reached


# ------------------------------------------------------------------------------------------- snapshots


def required_files() -> tuple[str, ...]:
    from analytics_assets.contracts.serving import (
        ACCOUNT_DAILY, ACCOUNTS, ATTRIBUTION_DAILY, ATTRIBUTION_MODELS, BOOSTS, CAMPAIGN_DAILY, CAMPAIGNS, MANIFEST,
        OPTIMAL_HOURS, OVERVIEW_DAILY,
    )

    return (MANIFEST, ACCOUNTS, OPTIMAL_HOURS, ACCOUNT_DAILY, OVERVIEW_DAILY, ATTRIBUTION_DAILY, ATTRIBUTION_MODELS,
            CAMPAIGNS, CAMPAIGN_DAILY, BOOSTS)


def check_snapshot(serving: Path) -> None:
    """The demo's snapshot must be there, in the current format, with checksums (the cache needs them)."""
    from analytics_assets.contracts.serving import MANIFEST, parse_manifest

    missing = [name for name in required_files() if not (serving / name).is_file()]
    if missing:
        raise SystemExit(
            f"bench-api: {serving} lacks {', '.join(missing)}: run `make demo` first (it publishes the 30-day "
            "snapshot this benchmark serves), or pass --serving DIR"
        )
    manifest = parse_manifest((serving / MANIFEST).read_bytes())
    unverifiable = [n for n in required_files()[1:] if n not in manifest.files or not manifest.files[n].verifiable]
    if unverifiable:
        raise SystemExit(f"bench-api: {serving}/{MANIFEST} names no checksum for {', '.join(unverifiable)}: run `make demo`")


def _day_columns(frame) -> list[str]:
    return [c for c in ("metric_date", "conversion_date") if c in frame.columns]


def extend_history(src: Path, out: Path, days: int = HISTORY_DAYS) -> dict[str, int]:
    """Publish into ``out`` the snapshot of ``src`` with ``days`` of history: every file with one row per day
    (and account) gets its block of days repeated back in time, dates shifted by the block's length, up to
    ``days`` days ending on the snapshot's last day; the accounts' first day moves back accordingly; the
    other files are kept. Published with the pipeline's publisher: data files first, manifest (rows, bytes,
    SHA-256) last. Returns the rows per file."""
    import pandas as pd

    from analytics_assets.contracts.serving import ACCOUNTS, MANIFEST, SERVED_TABLES, parse_manifest
    from analytics_assets.storage.serving_files import publish_snapshot

    manifest = parse_manifest((src / MANIFEST).read_bytes())
    frames: dict[str, pd.DataFrame] = {}
    shift = timedelta(0)
    per_account = {t.file for t in SERVED_TABLES}  # the model health file is global, not a series of days
    for name in manifest.files:
        if not name.endswith(".parquet"):
            continue  # the drift report page: no route under load reads it
        frame = pd.read_parquet(src / name)
        columns = _day_columns(frame) if name in per_account else []
        if columns and frame[columns[0]].notna().any():
            day = pd.to_datetime(frame[columns[0]])
            first, last = day.min(), day.max()
            span = (last - first).days + 1
            blocks = math.ceil(days / span)
            copies = []
            for k in range(blocks):
                copy = frame.copy()
                for column in columns:
                    copy[column] = pd.to_datetime(copy[column]) - pd.Timedelta(days=span * k)
                copies.append(copy)
            extended = pd.concat(copies, ignore_index=True)
            extended = extended[pd.to_datetime(extended[columns[0]]) > last - pd.Timedelta(days=days)]
            frame = extended.sort_values(columns[0], kind="stable").reset_index(drop=True)
            shift = max(shift, timedelta(days=days - span))
        frames[name] = frame
    if ACCOUNTS in frames and "first_seen_date" in frames[ACCOUNTS].columns:
        accounts = frames[ACCOUNTS].copy()
        accounts["first_seen_date"] = pd.to_datetime(accounts["first_seen_date"]) - shift
        frames[ACCOUNTS] = accounts
    published = manifest.published_at or datetime.now(timezone.utc)
    publish_snapshot(out, frames, published_at=published)
    return {name: len(frame) for name, frame in frames.items()}


def last_day(serving: Path) -> date:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from analytics_assets.contracts.serving import ACCOUNT_DAILY

    value = pc.max(pq.read_table(serving / ACCOUNT_DAILY, columns=["metric_date"]).column(0)).as_py()
    return value.date() if isinstance(value, datetime) else value


def history_days(serving: Path) -> int:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from analytics_assets.contracts.serving import ACCOUNT_DAILY

    column = pq.read_table(serving / ACCOUNT_DAILY, columns=["metric_date"]).column(0)
    return (pc.max(column).as_py() - pc.min(column).as_py()).days + 1


def urls_for(serving: Path) -> dict[str, list[str]]:
    """What a dashboard asks for: the default views, the last 7 and 30 days, per platform and model."""
    end = last_day(serving)
    d7, d30 = (end - timedelta(days=6)).isoformat(), (end - timedelta(days=29)).isoformat()
    e = end.isoformat()
    organic = ("linkedin", "x", "reddit", "tiktok")
    paid = ("google_ads", "meta_ads", "linkedin_ads")
    rule_based = ("first_touch", "last_touch", "linear", "time_decay", "position_based")
    return {
        "optimal-hours": ["/v1/optimal-hours", "/v1/optimal-hours?top=5"] + [f"/v1/optimal-hours?platform={p}" for p in organic],
        "rollups/daily": ["/v1/rollups/daily", f"/v1/rollups/daily?start={d30}&end={e}", f"/v1/rollups/daily?start={d7}&end={e}"]
        + [f"/v1/rollups/daily?platform={p}&start={d30}&end={e}" for p in (*organic, *paid)],
        "overview": ["/v1/overview", f"/v1/overview?start={d30}&end={e}", f"/v1/overview?start={d7}&end={e}"],
        "attribution": [f"/v1/attribution?model={m}" for m in (*rule_based, "markov", "shapley")]
        + [f"/v1/attribution?model={m}&start={d30}&end={e}" for m in rule_based],
        "campaigns": ["/v1/campaigns", "/v1/campaigns?limit=20"] + [f"/v1/campaigns?platform={p}" for p in paid],
        "boosts": ["/v1/boosts", "/v1/boosts?status=estimated", "/v1/boosts?limit=20"] + [f"/v1/boosts?platform={p}" for p in organic],
    }


def make_key(serving: Path, registry: Path) -> str:
    """A read key of a workspace that owns every account of the snapshot."""
    from analytics_assets.contracts.access import AccessRegistry, grant_served_accounts

    reg = AccessRegistry(registry)
    grant_served_accounts(reg, serving, "bench")
    return reg.create_key("bench", "bench-api", ["read"]).token


# ------------------------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    base: str
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # graceful: the audit writer flushes
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(serving: Path, state: Path, cache_mb: float, workers: int) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CYCLE_")}
    env.update({
        "CYCLE_HOME": str(state),
        "CYCLE_SERVING_DIR": str(serving),
        "CYCLE_ACCESS_STORE": str(state / "access.sqlite3"),
        "CYCLE_API_STORE": str(state / f"api-{port}.sqlite3"),  # audit records of this run
        "CYCLE_API_RATE_LIMIT": HIGH_RATE_LIMIT,
        "CYCLE_API_CACHE_MB": str(cache_mb),
        "CYCLE_DUCKDB_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    })
    log = state / f"uvicorn-{port}.log"
    cmd = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1])
    server = Server(proc, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench-api: uvicorn exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(server.base + "/v1/livez", timeout=2) as r:
                if r.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    server.stop()
    raise SystemExit(f"bench-api: the API did not answer within 90 s:\n{log.read_text()[-2000:]}")


def warm_up(server: Server, key: str, urls: dict[str, list[str]]) -> None:
    """Every URL once (the files are verified and loaded; with the cache on, every answer is stored)."""
    for url in (u for group in urls.values() for u in group):
        request = urllib.request.Request(server.base + url, headers={"Authorization": f"Bearer {key}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                r.read()
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"bench-api: {url} answered {exc.code}: {exc.read()[:300]!r}") from None


# ------------------------------------------------------------------------------------------- load


@dataclass
class Row:
    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float


def run_locust(server: Server, key: str, urls: dict[str, list[str]], work: Path, label: str, args) -> dict[str, Row]:
    locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or shutil.which("locust")
    urls_file = work / f"urls-{label}.json"
    urls_file.write_text(json.dumps({"key": key, "urls": urls, "rate_per_user": args.rate / args.users}))
    prefix = work / f"locust-{label}"
    env = {**os.environ, LOCUST_ENV: str(urls_file)}
    cmd = [locust, "-f", str(Path(__file__).resolve()), "--headless", "--host", server.base,
           "--users", str(args.users), "--spawn-rate", str(args.users / args.spawn_s), "--run-time", f"{args.run_time}s",
           "--reset-stats", "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.run_time + args.spawn_s + 120)
    stats = Path(f"{prefix}_stats.csv")
    if not stats.is_file():
        raise SystemExit(f"bench-api: locust wrote no statistics (exit {done.returncode}):\n{done.stderr[-3000:]}")
    rows: dict[str, Row] = {}
    with open(stats, newline="") as fh:
        for rec in csv.DictReader(fh):
            name = rec["Name"]
            rows[name] = Row(name, int(rec["Request Count"]), int(rec["Failure Count"]), float(rec["Requests/s"]),
                             float(rec["50%"]), float(rec["95%"]), float(rec["99%"]))
    return rows


def locust_available() -> bool:
    return bool(shutil.which("locust", path=str(Path(sys.executable).parent)) or shutil.which("locust"))


# ------------------------------------------------------------------------------------------- report


def print_run(title: str, rows: dict[str, Row]) -> None:
    print(f"\n{title}")
    print(f"  {'endpoint':<16}{'requests':>9}{'fail':>6}{'req/s':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}")
    for name in (*ENDPOINTS, "Aggregated"):
        r = rows.get(name)
        if r is None:
            continue
        label = "all" if name == "Aggregated" else name
        print(f"  {label:<16}{r.requests:>9}{r.failures:>6}{r.rps:>9.0f}{r.p50:>8.0f}{r.p95:>8.0f}{r.p99:>8.0f}")


def main(argv: list[str] | None = None) -> int:
    from analytics_assets.settings import load_settings

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--serving", type=Path, default=None, help="the 30-day snapshot (default $CYCLE_SERVING_DIR)")
    ap.add_argument("--rate", type=float, default=GOAL_RATE, help="target requests/s over all endpoints")
    ap.add_argument("--users", type=int, default=100, help="Locust users (connections), each at rate/users req/s")
    ap.add_argument("--spawn-s", type=float, default=2.0, help="seconds over which the users start")
    ap.add_argument("--run-time", type=int, default=30, help="seconds of measured load per run")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers (see the module docstring)")
    ap.add_argument("--cache-mb", type=float, default=64.0, help="response cache of the cached runs")
    ap.add_argument("--history", choices=("both", "30d", "3y"), default="both")
    ap.add_argument("--no-baseline", action="store_true", help="skip the runs without the response cache")
    ap.add_argument("--keep", type=Path, default=None, help="keep the snapshots, logs and CSVs in this folder")
    args = ap.parse_args(argv)

    if not locust_available():
        raise SystemExit("bench-api: the load generator `locust` is not installed: `make install` (test extras) "
                         "or `pip install locust==2.47.0`")
    serving = (args.serving or load_settings().serving).resolve()
    check_snapshot(serving)

    work = Path(tempfile.mkdtemp(prefix="cycle-bench-api-")) if args.keep is None else args.keep.resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        snapshots: dict[str, Path] = {}
        if args.history in ("both", "30d"):
            snapshots["30d"] = serving
        if args.history in ("both", "3y"):
            long = work / "serving-3y"
            if long.exists():
                shutil.rmtree(long)
            extend_history(serving, long)
            snapshots["3y"] = long
        modes = [("cache", args.cache_mb)] + ([] if args.no_baseline else [("no cache", 0.0)])
        print(f"bench-api: {args.rate:.0f} req/s target from {args.users} Locust users for {args.run_time} s per run, "
              f"{args.workers} uvicorn worker(s) on 127.0.0.1, {os.cpu_count()} cores; goal p99 < {GOAL_P99_MS:.0f} ms")
        results: dict[tuple[str, str], dict[str, Row]] = {}
        for label, snap in snapshots.items():
            state = work / f"state-{label}"
            state.mkdir(exist_ok=True)
            key = make_key(snap, state / "access.sqlite3")
            urls = urls_for(snap)
            for mode, cache_mb in modes:
                server = start_server(snap, state, cache_mb, args.workers)
                try:
                    warm_up(server, key, urls)
                    rows = run_locust(server, key, urls, work, f"{label}-{mode.replace(' ', '-')}", args)
                finally:
                    server.stop()
                results[(label, mode)] = rows
                print_run(f"{label} history ({history_days(snap)} days), {mode}:", rows)

        print("\nsummary (all endpoints together)")
        print(f"  {'':<10}" + "".join(f"{label + ' p50/p95/p99 ms, req/s':>34}" for label in snapshots))
        for mode, _ in modes:
            cells = []
            for label in snapshots:
                r = results[(label, mode)].get("Aggregated")
                cells.append(f"{r.p50:.0f}/{r.p95:.0f}/{r.p99:.0f}, {r.rps:.0f}" if r else "-")
            print(f"  {mode:<10}" + "".join(f"{c:>34}" for c in cells))
        ok = True
        for label in snapshots:
            r = results[(label, "cache")].get("Aggregated")
            worst = max((results[(label, "cache")][n].p99 for n in ENDPOINTS if n in results[(label, "cache")]), default=math.inf)
            met = r is not None and r.p99 < GOAL_P99_MS and worst < GOAL_P99_MS and r.failures == 0 and r.rps >= 0.95 * args.rate
            ok &= met
            print(f"  goal, {label}: p99 {r.p99:.0f} ms (worst endpoint {worst:.0f} ms) at {r.rps:.0f} req/s, "
                  f"{r.failures} failures: {'met' if met else 'MISSED'} (p99 < {GOAL_P99_MS:.0f} ms at {args.rate:.0f} req/s)")
        if "30d" in snapshots and "3y" in snapshots:
            for mode, _ in modes:
                a, b = results[("30d", mode)]["Aggregated"], results[("3y", mode)]["Aggregated"]
                print(f"  flat as history grows, {mode}: p99 3y / p99 30d = {b.p99:.0f} / {a.p99:.0f} ms = "
                      f"{b.p99 / max(a.p99, 1.0):.2f}x")
        print(f"  ({time.monotonic() - started:.0f} s in all; files in {work})" if args.keep else
              f"  ({time.monotonic() - started:.0f} s in all)")
        return 0 if ok else 1
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------------------------------- locustfile

if os.environ.get(LOCUST_ENV):  # imported by Locust as its locustfile (see run_locust)
    import random

    from locust import FastHttpUser, task

    _PLAN = json.loads(Path(os.environ[LOCUST_ENV]).read_text())

    class ApiReader(FastHttpUser):
        """One dashboard client: requests as a Poisson process of rate/users per second (so all users together
        are one of ``rate`` per second, bursts included, as independent clients send them; Locust starts its
        users in batches, which would otherwise fire in step), each to an endpoint at random, one of its URLs
        at random. A user whose answer comes late catches up at once: the mean rate holds."""

        rate = float(_PLAN["rate_per_user"])
        headers = {"Authorization": f"Bearer {_PLAN['key']}"}

        def on_start(self) -> None:
            self._next = time.monotonic() + random.expovariate(self.rate)
            time.sleep(self._next - time.monotonic())  # gevent's sleep (Locust patches the standard library)

        def wait_time(self) -> float:
            self._next += random.expovariate(self.rate)
            return max(0.0, self._next - time.monotonic())

        @task
        def read(self) -> None:
            endpoint = random.choice(ENDPOINTS)
            self.client.get(random.choice(_PLAN["urls"][endpoint]), name=endpoint, headers=self.headers)


if __name__ == "__main__":
    raise SystemExit(main())
