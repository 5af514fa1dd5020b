"""The API keeps answering correctly while the publisher replaces the serving files.

A writer thread republishes every serving file (temp file + os.replace, like `serving_snapshot`)
in a tight loop, each generation with different contents and row counts, while reader threads hit
every endpoint. Every response must be a 200 whose body equals exactly what one published
generation contains: no errors, no rows mixed from two generations, no half-read files. (A route that
reads two files, like /v1/campaigns, may answer each file's part from two consecutive generations, a
publish having happened between its reads; each part is still one generation's.)

(Reading the files with DuckDB's `read_parquet(path)` fails this test: DuckDB opens the path again
between binding and executing a query, so it mixes generations or crashes.)
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api_serving_data import ALL_MODELS, BASE_TIME, api_client, build_all, manifest_doc, parquet_bytes, publish_bytes, to_table
from test_api_endpoints import ROLLUP_COLUMNS, expected_attribution, expected_rollups

ROLLUP_VIEW = ["metric_date", "platform", "channel_type", *ROLLUP_COLUMNS]

MIN_REQUESTS = 200
MIN_PUBLISHES = 100
READERS = 8
DEADLINE_S = 60
VARIANTS = 8


# kind of request -> (path, params): every route that reads a serving file, every attribution model
REQUESTS = {
    "hours": ("/v1/optimal-hours", {"top": 24}),
    "rollups": ("/v1/rollups/daily", {"limit": 1000}),
    **{f"attribution:{m}": ("/v1/attribution", {"model": m}) for m in ALL_MODELS},
    "assets": ("/v1/health", {}),
    "accounts": ("/v1/accounts", {}),
    "overview": ("/v1/overview", {}),
    "comparison": ("/v1/platforms/comparison", {}),
    "models": ("/v1/attribution/models", {}),
    "campaigns": ("/v1/campaigns", {"limit": 1000}),
    "posts": ("/v1/posts/top", {"limit": 20}),
    "heatmap": ("/v1/engagement/heatmap", {}),
    "boosts": ("/v1/boosts", {"limit": 1000}),
}
KINDS = list(REQUESTS)
# /v1/campaigns reads two files (the campaigns, then their daily metrics for the totals): each part must be
# one published generation's, but the two parts may be of two consecutive ones (a publish between the reads)
PARTS = [*KINDS, "campaigns.totals"]
# kinds whose answer is computed here from the frames; the others are compared with the answer of a client
# over the same generation published on its own, where no file is ever replaced
COMPUTED = {"hours", "rollups", "assets", *(k for k in KINDS if k.startswith("attribution:"))}


def _r(v, digits: int):
    return None if v is None else round(float(v), digits)


def expected_views(frames: dict[str, pd.DataFrame]) -> dict:
    """What the COMPUTED kinds must answer for one published generation, computed from the frames (rounded
    like the API: scores, counts and money to 2 decimals, rates to 4)."""
    hours = frames["optimal_hours.parquet"].drop_duplicates(["platform", "rank"]).sort_values(["platform", "rank"])
    status = frames["asset_status.parquet"].sort_values("asset_key")
    views = {
        "hours": tuple(
            (r.platform, r.rank, r.publish_hour, _r(r.expected_engagement_score, 2),
             _r(r.lift_vs_platform_mean, 4), r.model_version)
            for r in hours.itertuples()
        ),
        "rollups": tuple(
            tuple(row[c] if ROLLUP_COLUMNS.get(c) is None else _r(row[c], ROLLUP_COLUMNS[c]) for c in ROLLUP_VIEW)
            for row in expected_rollups(frames["account_daily.parquet"])
        ),
        "assets": tuple((r.asset_key, r.run_id) for r in status.itertuples()),
    }
    for m in ALL_MODELS:
        want = expected_attribution(frames, m)
        views[f"attribution:{m}"] = tuple(
            (channel, _r(conversions, 2), _r(value, 2), _r(share, 4)) for channel, conversions, value, share in want["channels"]
        )
    return views


def reference_views(files: dict[str, bytes], folder: Path) -> dict:
    """The other kinds' answers over one generation's ``files`` published in ``folder`` on their own."""
    folder.mkdir(parents=True, exist_ok=True)
    publish_bytes(folder, files)
    client = api_client(folder)
    views = {}
    for kind in KINDS:
        if kind not in COMPUTED:
            path, params = REQUESTS[kind]
            r = client.get(path, params=params)
            assert r.status_code == 200, (kind, r.text)
            views.update(observed_views(kind, r.json()))
    return views


def variant(frames: dict[str, pd.DataFrame], files: dict[str, bytes], folder: Path) -> dict:
    """Every kind's answer for one published generation."""
    return {**expected_views(frames), **reference_views(files, folder)}


def observed_views(kind: str, body: dict) -> dict:
    """part -> its view of one response (one part per kind, but two for /v1/campaigns)."""
    if kind == "campaigns":
        settings = [{k: v for k, v in c.items() if k != "totals"} for c in body["items"]]
        totals = [(c["platform"], c["campaign_id"], c["totals"]) for c in body["items"]]
        body = {**body, "items": settings}
        return {kind: json.dumps(body, sort_keys=True), "campaigns.totals": json.dumps(totals, sort_keys=True)}
    return {kind: observed_view(kind, body)}


def observed_view(kind: str, body: dict):
    if kind == "hours":
        return tuple(
            (p["platform"], h["rank"], h["publish_hour"], h["expected_engagement_score"],
             h["lift_vs_platform_mean"], p["model_version"])
            for p in body["platforms"] for h in p["hours"]
        )
    if kind == "rollups":
        assert body["next_cursor"] is None
        return tuple(tuple(r[c] for c in ROLLUP_VIEW) for r in body["rows"])
    if kind.startswith("attribution:"):
        return tuple((c["channel"], c["conversions"], c["conversion_value"], c["share"]) for c in body["channels"])
    if kind == "assets":
        return tuple((a["asset_key"], a["run_id"]) for a in body["assets"])
    return json.dumps(body, sort_keys=True)


@pytest.mark.parametrize("checksums", [True, False], ids=["manifest-with-checksums", "manifest-before-checksums"])
def test_api_is_consistent_while_files_are_republished(serving_dir, make_client, tmp_path, checksums):
    # VARIANTS distinct snapshots (different values and row counts), built up front so that the
    # writer only writes files; it cycles through them, so consecutive publishes always differ.
    # With checksums (what serving_snapshot writes) the overview's two files are pinned to one snapshot;
    # a manifest from before checksums cannot pin them, and the overview leaves its attributed part out.
    variants = []
    for v in range(VARIANTS):
        frames = build_all(v)
        files = {name: parquet_bytes(to_table(name, df)) for name, df in frames.items()}
        doc = manifest_doc(frames, BASE_TIME + timedelta(minutes=v), files if checksums else None)
        files["manifest.json"] = json.dumps(doc).encode()
        variants.append((files, variant(frames, files, tmp_path / f"reference-{v}")))
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

    def matching_variant(kind: str, view) -> int | None:
        for v, (_, views) in enumerate(variants):
            if views[kind] == view:
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
            kind = KINDS[i % len(KINDS)]
            i += 1
            path, params = REQUESTS[kind]
            r = client.get(path, params=params)
            if r.status_code != 200:
                failures.append(f"{kind}: HTTP {r.status_code} {r.text[:300]}")
                continue
            body = r.json()
            if kind == "assets" and body["status"] != "ok":
                failures.append(f"health: {body}")
                continue
            for part, view in observed_views(kind, body).items():
                v = matching_variant(part, view)
                if v is None:
                    failures.append(f"{part}: response matches no published snapshot: {str(view)[:300]}")
                else:
                    seen[part].add(v)

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

    kinds = Counter(f.split(":")[0] for f in failures)
    assert not failures, f"{len(failures)} bad responses ({dict(kinds)}), first: {failures[:3]}"
    assert requests_done >= MIN_REQUESTS
    assert publishes >= MIN_PUBLISHES, f"only {publishes} publishes happened during the reads"
    assert set(seen) == set(PARTS)  # every route was read, and answered from published snapshots
    # The reads really did span many replacements. (Not asserted with checksums: under a writer that never stops,
    # a file on disk rarely matches the manifest of the moment, and the store answers from its last verified copy
    # rather than wait, so a route may serve one generation throughout; every answer above was still one
    # published snapshot's, which is the point.)
    if not checksums:
        attribution = set().union(*(seen[k] for k in KINDS if k.startswith("attribution:")))
        for kind, variants_seen in [*((k, seen[k]) for k in ("hours", "rollups", "assets")), ("attribution", attribution)]:
            assert len(variants_seen) > 2, (kind, variants_seen)
