"""The API keeps answering correctly while the publisher replaces the serving files.

A writer thread republishes every serving file (temp file + os.replace, like `serving_snapshot`)
in a tight loop, each generation with different contents and row counts, while reader threads hit
every endpoint. Every response must be a 200 whose body equals exactly what one published
generation contains: no errors, no rows mixed from two generations, no half-read files.

(Reading the files with DuckDB's `read_parquet(path)` fails this test: DuckDB opens the path again
between binding and executing a query, so it mixes generations or crashes.)
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import defaultdict
from datetime import timedelta

import pandas as pd
from fastapi.testclient import TestClient

from api_serving_data import BASE_TIME, MODELS, build_all, manifest_doc, parquet_bytes, publish_bytes, to_table

MIN_REQUESTS = 200
MIN_PUBLISHES = 100
READERS = 8
DEADLINE_S = 60
VARIANTS = 8


def _num(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, float):
        return round(v, 9)
    return int(v) if hasattr(v, "__int__") and not isinstance(v, str) else v


ROLLUP_COLS = [
    "platform", "channel_type", "posts", "impressions", "engagements", "clicks",
    "avg_engagement_score", "spend_usd", "conversions", "revenue_usd", "ctr", "roas",
]


def expected_views(frames: dict[str, pd.DataFrame]) -> dict:
    """What each endpoint must answer for one published generation, computed from the frames."""
    hours = frames["optimal_hours.parquet"].sort_values(["platform", "rank"])
    daily = frames["platform_daily.parquet"].sort_values(["metric_date", "platform"])
    attribution = frames["attribution.parquet"]
    status = frames["asset_status.parquet"].sort_values("asset_key")
    return {
        "hours": tuple(
            (r.platform, r.rank, r.publish_hour, _num(r.expected_engagement_score),
             _num(r.lift_vs_platform_mean), r.model_version)
            for r in hours.itertuples()
        ),
        "rollups": tuple(
            (r.metric_date.isoformat(), *(_num(getattr(r, c)) if c not in ("platform", "channel_type")
                                          else getattr(r, c) for c in ROLLUP_COLS))
            for r in daily.itertuples()
        ),
        "attribution": {
            m: tuple(
                (r.channel, _num(r.conversions), _num(r.conversion_value), _num(r.share))
                for r in attribution[attribution.model == m]
                .sort_values("conversions", ascending=False).itertuples()
            )
            for m in MODELS
        },
        "assets": tuple((r.asset_key, r.run_id) for r in status.itertuples()),
    }


def observed_view(kind: str, body: dict):
    if kind == "hours":
        return tuple(
            (p["platform"], h["rank"], h["publish_hour"], _num(h["expected_engagement_score"]),
             _num(h["lift_vs_platform_mean"]), p["model_version"])
            for p in body["platforms"] for h in p["hours"]
        )
    if kind == "rollups":
        return tuple((r["metric_date"], *(_num(r[c]) if c not in ("platform", "channel_type") else r[c]
                                          for c in ROLLUP_COLS)) for r in body["rows"])
    if kind == "attribution":
        return tuple((c["channel"], _num(c["conversions"]), _num(c["conversion_value"]), _num(c["share"]))
                     for c in body["channels"])
    return tuple((a["asset_key"], a["run_id"]) for a in body["assets"])


def test_api_is_consistent_while_files_are_republished(serving_dir, make_client):
    # VARIANTS distinct snapshots (different values and row counts), built up front so that the
    # writer only writes files; it cycles through them, so consecutive publishes always differ.
    variants = []
    for v in range(VARIANTS):
        frames = build_all(v)
        files = {name: parquet_bytes(to_table(name, df)) for name, df in frames.items()}
        files["manifest.json"] = json.dumps(manifest_doc(frames, BASE_TIME + timedelta(minutes=v))).encode()
        variants.append((files, expected_views(frames)))
    publish_bytes(serving_dir, variants[0][0])

    publishes = 0
    requests_done = 0
    readers_done = threading.Event()
    lock = threading.Lock()
    failures: list[str] = []
    seen: dict[str, set[int]] = defaultdict(set)

    def writer() -> None:
        nonlocal publishes
        g = 1
        while not readers_done.is_set():
            publish_bytes(serving_dir, variants[g % VARIANTS][0])  # parquet files, then manifest
            with lock:
                publishes += 1
            g += 1

    def matching_variant(kind: str, view, model: str | None) -> int | None:
        for v, (_, views) in enumerate(variants):
            want = views[kind][model] if kind == "attribution" else views[kind]
            if want == view:
                return v
        return None

    def reader(client: TestClient, worker: int) -> None:
        nonlocal requests_done
        i = worker
        deadline = time.monotonic() + DEADLINE_S
        while True:
            with lock:
                if (requests_done >= MIN_REQUESTS and publishes >= MIN_PUBLISHES) or time.monotonic() > deadline:
                    return
                requests_done += 1
            kind = ("hours", "rollups", "attribution", "health")[i % 4]
            model = MODELS[i % len(MODELS)]
            i += 1
            if kind == "hours":
                r = client.get("/optimal-hours", params={"top": 24})
            elif kind == "rollups":
                r = client.get("/rollups/daily")
            elif kind == "attribution":
                r = client.get("/attribution", params={"model": model})
            else:
                r = client.get("/health")
            if r.status_code != 200:
                failures.append(f"{kind}: HTTP {r.status_code} {r.text[:300]}")
                continue
            body = r.json()
            if kind == "health":
                if body["status"] != "ok":
                    failures.append(f"health: {body}")
                    continue
                kind = "assets"
            view = observed_view(kind, body)
            v = matching_variant(kind, view, model)
            if v is None:
                failures.append(f"{kind}: response matches no published snapshot: {str(view)[:300]}")
            else:
                seen[kind].add(v)

    # One client (one event loop, like uvicorn); the sync endpoints run concurrently in its
    # thread pool against the app's single ServingStore.
    with make_client() as client:
        w = threading.Thread(target=writer)
        readers = [threading.Thread(target=reader, args=(client, k)) for k in range(READERS)]
        w.start()
        for t in readers:
            t.start()
        for t in readers:
            t.join()
        readers_done.set()
        w.join()

    assert not failures, f"{len(failures)} bad responses, first: {failures[:3]}"
    assert requests_done >= MIN_REQUESTS
    assert publishes >= MIN_PUBLISHES, f"only {publishes} publishes happened during the reads"
    # The reads really did span many replacements.
    for kind in ("hours", "rollups", "attribution", "assets"):
        assert len(seen[kind]) > 2, (kind, seen[kind])
