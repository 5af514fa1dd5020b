"""Fault injection: the faults Cycle was found to mishandle, in sequence, and what each did to the data.

    make chaos            # or: python -m benchmarks.chaos --posts-per-day 400

Each fault prints lost rows, duplicated rows, stuck runs and wrong answers served, measured against a clean
run of the same seeded days in this same run; the goal for every figure is 0.
- kill -9 during the raw step, and during dbt, then a plain `cycle backfill` of the same days;
- a backfill of days that have not happened;
- 200 random byte flips in a served Parquet file, each followed by the request that reads it;
- forged, oversized and hostile webhook deliveries.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

CYCLE = str(Path(sys.executable).with_name("cycle"))
WINDOW = ("2026-08-03", "2026-08-04")
VOLATILE = {"loaded_at", "quarantined_at", "generated_at"}
SECRET = "chaos-linkedin-secret"


def _env(home: Path, posts: int) -> dict[str, str]:
    env = {**os.environ, "CYCLE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home")}
    env.update({"CYCLE_SIM_POSTS_PER_DAY": str(posts), "CYCLE_SIM_JOURNEYS_PER_DAY": "150"})
    for name in ("CYCLE_WAREHOUSE_PATH", "CYCLE_SERVING_DIR", "CYCLE_API_STORE"):
        env.pop(name, None)
    return env


def _backfill(home: Path, posts: int, *window: str) -> subprocess.CompletedProcess:
    args = [CYCLE, "backfill", "--start", window[0], "--end", window[1]] if window else [CYCLE, "backfill"]
    return subprocess.run(args, env=_env(home, posts), capture_output=True, text=True, timeout=900)


def _kill_during(home: Path, posts: int, marker: str) -> None:
    proc = subprocess.Popen(
        [CYCLE, "backfill", "--start", WINDOW[0], "--end", WINDOW[1]],
        env=_env(home, posts), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    for line in proc.stdout:
        if marker in line:
            time.sleep(3.0 if "dbt" in marker else 0.5)
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def _tables(warehouse: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        out = {}
        for schema, name in names:
            frame = con.execute(f'select * from "{schema}"."{name}"').df()
            out[f"{schema}.{name}"] = frame.drop(columns=[c for c in frame.columns if c in VOLATILE])
        return out
    finally:
        con.close()


def _row_counts(frame: pd.DataFrame) -> pd.Series:
    rows = frame.round(9).astype(str).apply(lambda r: "\x1f".join(r), axis=1) if len(frame) else pd.Series(dtype=str)
    return rows.value_counts()


def _compare(clean: dict[str, pd.DataFrame], got: dict[str, pd.DataFrame]) -> tuple[int, int, int]:
    """(rows lost, rows duplicated, tables whose content differs) against the clean run."""
    lost = dup = wrong = 0
    for name, frame in clean.items():
        mine = got.get(name, frame.iloc[0:0])
        a, b = _row_counts(frame), _row_counts(mine)
        joined = pd.concat([a.rename("clean"), b.rename("got")], axis=1).fillna(0)
        lost += int((joined["clean"] - joined["got"]).clip(lower=0).sum())
        dup += int((joined["got"] - joined["clean"]).clip(lower=0).sum())
        wrong += int(not a.equals(b.reindex(a.index)) or len(a) != len(b))
    return lost, dup, wrong


def _stuck_runs(home: Path) -> int:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        return sum(1 for r in instance.get_runs() if not r.is_finished)


def _byte_flips(serving: Path, flips: int) -> tuple[int, int, int]:
    """(200 with the good answer, refused, 200 with a different answer) over ``flips`` corrupted copies."""
    from analytics_assets.contracts.serving import ACCOUNT_DAILY
    from api.local import local_client

    target = serving / ACCOUNT_DAILY
    good_bytes = target.read_bytes()
    client = local_client(serving, serving.parent / "chaos-api")
    good = client.get("/v1/rollups/daily", params={"limit": 1000}).json()
    rng = random.Random(0)
    same = refused = wrong = 0
    try:
        for _ in range(flips):
            data = bytearray(good_bytes)
            data[rng.randrange(len(data))] ^= rng.randrange(1, 256)
            target.write_bytes(bytes(data))
            fresh = local_client(serving, serving.parent / "chaos-api")
            response = fresh.get("/v1/rollups/daily", params={"limit": 1000})
            if response.status_code != 200:
                refused += 1
            elif response.json() == good:
                same += 1
            else:
                wrong += 1
    finally:
        target.write_bytes(good_bytes)
    return same, refused, wrong


def _hostile_webhooks(tmp: Path) -> tuple[int, int]:
    """(events stored, 5xx answers) for forged, oversized and hostile deliveries."""
    from fastapi.testclient import TestClient

    from analytics_assets.contracts.inbound import WebhookStore
    from api.main import create_app

    store = tmp / "webhooks.sqlite3"
    os.environ["CYCLE_LINKEDIN_CLIENT_SECRET"] = SECRET
    try:
        client = TestClient(create_app(serving_dir=tmp / "no-serving", webhook_store=store))
        body = json.dumps({"type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS", "notifications": []})
        answers = [client.get("/webhooks/linkedin", params={"challengeCode": "hmacsha256=" + body})]
        forged = answers[0].json().get("challengeResponse", "") if answers[0].status_code == 200 else ""
        answers.append(client.post("/webhooks/linkedin", content=body, headers={"X-LI-Signature": forged}))
        answers.append(client.post("/webhooks/linkedin", content=body))  # unsigned
        hostile = ["[" * 5000 + "]" * 5000, '{"n": ' + "9" * 5000 + "}", '{"s": "\\ud800"}']
        for text in hostile:
            signature = hmac.new(SECRET.encode(), ("hmacsha256=" + text).encode(), hashlib.sha256).hexdigest()
            answers.append(client.post("/webhooks/linkedin", content=text, headers={"X-LI-Signature": signature}))
        answers.append(client.post("/webhooks/linkedin", content=b"x" * (4 << 20), headers={"X-LI-Signature": "0" * 64}))
    finally:
        os.environ.pop("CYCLE_LINKEDIN_CLIENT_SECRET", None)
    state = WebhookStore(store).state() if store.exists() else None
    return (state.events if state else 0), sum(1 for a in answers if a.status_code >= 500)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--posts-per-day", type=int, default=400)
    parser.add_argument("--flips", type=int, default=200)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="cycle-chaos-"))
    rows: list[tuple[str, int, int, int, int, str]] = []

    clean_home = root / "clean"
    done = _backfill(clean_home, args.posts_per_day, *WINDOW)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:])
        return 1
    clean = _tables(clean_home / "warehouse.duckdb")

    for fault, marker in (("kill -9 during raw", 'step "raw_platform_data"'), ("kill -9 during dbt", 'step "cycle_dbt_models"')):
        home = root / fault.split()[-1]
        _kill_during(home, args.posts_per_day, marker)
        rerun = _backfill(home, args.posts_per_day, *WINDOW)
        lost, dup, wrong = _compare(clean, _tables(home / "warehouse.duckdb"))
        rows.append((fault, lost, dup, _stuck_runs(home), wrong, f"rerun exit {rerun.returncode}"))

    future = (date.today() + timedelta(days=1)).isoformat()
    refused = _backfill(root / "future", args.posts_per_day, future, future)
    made = (root / "future" / "warehouse.duckdb").exists()
    rows.append(("backfill of tomorrow", 0, 0, 0, int(made), f"exit {refused.returncode}: {refused.stderr.strip()[:70]}"))

    same, refused_flips, wrong = _byte_flips(clean_home / "serving", args.flips)
    rows.append((f"{args.flips} byte flips in a served file", 0, 0, 0, wrong, f"{same} good copy, {refused_flips} refused"))

    stored, errors = _hostile_webhooks(root)
    rows.append(("forged / oversized / hostile webhooks", 0, stored, 0, errors, "stored events / 5xx answers"))

    print(f"\n{'fault':<40} {'lost rows':>9} {'duplicated':>10} {'stuck runs':>10} {'wrong answers':>13}  note")
    for fault, lost, dup, stuck, wrong, note in rows:
        print(f"{fault:<40} {lost:>9} {dup:>10} {stuck:>10} {wrong:>13}  {note}")
    print("goal: every figure 0")
    return 0 if all(r[1] == r[2] == r[3] == r[4] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
