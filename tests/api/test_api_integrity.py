"""Integrity of the served files: the manifest names each file's size, SHA-256 and row count; the API
serves only bytes that match it (or its last verified copy of the file), never silently different numbers;
/health reports missing, unreadable, mismatched and stale files; the publisher writes checksums that match.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from analytics_assets.contracts.serving import MANIFEST, SERVED_TABLES, SERVING_FILES
from api_serving_data import (
    ALL_MODELS,
    BASE_TIME,
    MODELS,
    NOW,
    api_client,
    build_all,
    manifest_doc,
    parquet_bytes,
    publish,
    publish_bytes,
    published_at,
    to_table,
)

# every file the API serves, in the order /health checks them
DATA_FILES = [name for name in SERVING_FILES if name != MANIFEST]
BOOST = "bst-linkedin-urn:li:organization:1001-1"
CAMPAIGN = "/v1/campaigns/google_ads/go-1110001-0"
# data file -> the (endpoint, params) that read it, so that every row counts: every attribution model, every
# row on one page
READERS = {
    "accounts.parquet": [("/v1/accounts", {})],
    "optimal_hours.parquet": [("/v1/optimal-hours", {"top": 24})],
    "account_daily.parquet": [("/v1/rollups/daily", {"limit": 1000}), ("/v1/platforms/comparison", {})],
    "overview_daily.parquet": [("/v1/overview", {}), ("/v1/overview", {"start": "2024-05-01", "end": "2024-05-20"})],
    "attribution_daily.parquet": [("/v1/attribution", {"model": m}) for m in MODELS],
    "attribution_models.parquet": [*(("/v1/attribution", {"model": m}) for m in ALL_MODELS if m not in MODELS),
                                   ("/v1/attribution/models", {})],
    "campaigns.parquet": [("/v1/campaigns", {"limit": 1000}), (CAMPAIGN, {})],
    "campaign_daily.parquet": [("/v1/campaigns", {"limit": 1000}), (f"{CAMPAIGN}/daily", {"limit": 1000})],
    "top_posts.parquet": [("/v1/posts/top", {"limit": 20})],
    "engagement_heatmap.parquet": [("/v1/engagement/heatmap", {})],
    "boosts.parquet": [("/v1/boosts", {"limit": 1000})],
    "boost_organic_vs_paid.parquet": [(f"/v1/boosts/{BOOST}", {})],
    "recommendations.parquet": [("/v1/recommendations", {"limit": 1000})],
    "recommendation_performance.parquet": [("/v1/recommendations/performance", {})],
    "insights.parquet": [("/v1/insights", {"limit": 1000})],
    "experiments.parquet": [("/v1/experiments", {"limit": 1000})],
    "hook_success.parquet": [("/v1/content/hooks", {"limit": 1000})],
    "content_performance.parquet": [("/v1/content/performance", {"limit": 1000})],
    "anomalies.parquet": [("/v1/anomalies", {"limit": 1000})],
    "forecasts.parquet": [("/v1/forecasts", {"limit": 1000})],
}


def test_every_data_file_has_readers():
    # the operational files (assets, schedules and sensors) are read by /v1/health, and belong to no account
    assert set(READERS) == {t.file for t in SERVED_TABLES} == set(DATA_FILES) - {"asset_status.parquet", "automation_status.parquet"}
    assert set(build_all(1)) == set(DATA_FILES)  # the test data publishes every file


def make_client(serving_dir: Path, tmp_path: Path, **kwargs) -> TestClient:
    """A client with a read key that sees every test account (``api_client``), clock at NOW by default."""
    return api_client(serving_dir, tmp_path, raise_server_exceptions=False, **kwargs)


def answers(client: TestClient, name: str, readers: dict = READERS) -> list[tuple[int, object]]:
    out = []
    for path, params in readers[name]:
        r = client.get(path, params=params)
        out.append((r.status_code, r.json() if r.status_code == 200 else r.text))
    return out


def outcome(got: list[tuple[int, object]], good: list[tuple[int, object]]) -> str:
    """'200-identical' (every request answered the good answer), '200-different' (any 200 that differs),
    '503' (refused, the rest identical), else 'other'."""
    if any(status == 200 and body != want for (status, body), (_, want) in zip(got, good)):
        return "200-different"
    if all(status == 200 for status, _ in got):
        return "200-identical"
    if all(status in (200, 503) for status, _ in got):
        return "503"
    return "other: " + ",".join(str(s) for s, _ in got)


def age(path: Path, seconds: float = 3600) -> None:
    """Date a file back: it was not replaced by a publish under way (no wait for a manifest)."""
    t = time.time() - seconds
    os.utime(path, (t, t))


def check_of(body: dict, name: str) -> dict:
    (check,) = [c for c in body["file_checks"] if c["name"] == name]
    return check


@pytest.fixture
def checked(tmp_path: Path) -> Path:
    """A serving folder with generation 1 and a checksummed manifest (the current format)."""
    d = tmp_path / "serving"
    publish(d, generation=1, checksums=True)
    return d


# -- (a) random byte flips -------------------------------------------------------------------------

FLIPS = 500
# the daily rollups read every row of account_daily (the comparison too, but reading each flip twice only
# doubles the time); every model reads its rows of attribution_daily
FLIP_READERS = {"account_daily.parquet": READERS["account_daily.parquet"][:1],
                "attribution_daily.parquet": READERS["attribution_daily.parquet"]}


@pytest.mark.parametrize("name, flips", [("account_daily.parquet", FLIPS), ("attribution_daily.parquet", 50)])
def test_random_byte_flips_never_serve_different_numbers(tmp_path, name, flips):
    checked = tmp_path / "checked"
    legacy = tmp_path / "legacy"  # the same files under a manifest from before checksums: the fault
    publish(checked, generation=1, checksums=True)
    publish(legacy, generation=1)
    good_bytes = (checked / name).read_bytes()
    (legacy / name).write_bytes(good_bytes)

    clients = contextlib.ExitStack()  # entered: one event loop per client, not one per request
    warm = clients.enter_context(make_client(checked, tmp_path))  # served the good file before the flips
    good = answers(warm, name, FLIP_READERS)
    assert all(status == 200 for status, _ in good)
    # (re)started on the flipped file. No flipped file ever verifies, so it stays without a verified copy
    # of the file all along; and the flipped file is not a publish under way, so no wait for a manifest.
    cold = clients.enter_context(make_client(checked, tmp_path))
    cold.app.state.store.publish_wait_s = 0.0
    unverified = clients.enter_context(make_client(legacy, tmp_path))
    assert answers(unverified, name, FLIP_READERS) == good

    rng = random.Random(20240515)
    tally: dict[str, Counter] = defaultdict(Counter)
    for i in range(flips):
        flipped = bytearray(good_bytes)
        flipped[rng.randrange(len(flipped))] ^= rng.randrange(1, 256)
        for d in (checked, legacy):
            (d / name).write_bytes(bytes(flipped))
        for mode, client in (("warm", warm), ("cold", cold), ("unverified", unverified)):
            tally[mode][outcome(answers(client, name, FLIP_READERS), good)] += 1
        if i % 50 == 0:
            body = warm.get("/v1/health").json()
            assert body["status"] == "degraded" and name in body["detail"]
            assert check_of(body, name)["status"] == "mismatch"

    clients.close()
    print(f"\n{flips} byte flips in {name}: " + "; ".join(f"{m}: {dict(c)}" for m, c in tally.items()))
    for mode in ("warm", "cold"):
        assert tally[mode]["200-different"] == 0, (mode, dict(tally[mode]))
        assert set(tally[mode]) <= {"200-identical", "503"}, (mode, dict(tally[mode]))
    assert tally["cold"]["503"] == flips  # nothing verified to answer from: every flip refused
    assert tally["warm"]["200-identical"] == flips  # answered from the copy verified before the flips
    # the flips matter: without checksums some of them are served as different numbers
    assert tally["unverified"]["200-different"] > 0, dict(tally["unverified"])
    # and a damaged file that cannot be verified is still refused (503), never a crash (500)
    assert set(tally["unverified"]) <= {"200-identical", "200-different", "503"}, dict(tally["unverified"])

    (checked / name).write_bytes(good_bytes)  # repaired: healthy again
    assert warm.get("/v1/health").json()["status"] == "ok"
    assert answers(make_client(checked, tmp_path), name, FLIP_READERS) == good


# -- (b) a valid Parquet file that is not the published one ------------------------------------------


@pytest.mark.parametrize("name", list(READERS))
def test_valid_parquet_not_matching_the_manifest_is_never_served(tmp_path, checked, name):
    warm = make_client(checked, tmp_path)
    good = answers(warm, name)
    other = parquet_bytes(to_table(name, build_all(2)[name]))  # valid, different numbers
    (checked / name).write_bytes(other)
    age(checked / name)
    legacy_dir = tmp_path / "legacy"
    publish(legacy_dir, generation=1)
    (legacy_dir / name).write_bytes(other)
    new_numbers = answers(make_client(legacy_dir, tmp_path), name)  # what serving it unverified would say
    assert all(s == 200 for s, _ in new_numbers) and new_numbers != good

    assert answers(warm, name) == good  # the verified copy, not the new numbers
    cold = make_client(checked, tmp_path)
    for status, detail in answers(cold, name):
        assert status == 503
        assert name in detail and "does not match manifest.json" in detail
    health = warm.get("/v1/health").json()
    assert health["status"] == "degraded" and name in health["detail"]
    assert check_of(health, name)["status"] == "mismatch"


def test_asset_status_not_matching_the_manifest_is_not_reported(tmp_path, checked):
    warm = make_client(checked, tmp_path)
    before = warm.get("/v1/health").json()
    assert before["status"] == "ok"
    (checked / "asset_status.parquet").write_bytes(
        parquet_bytes(to_table("asset_status.parquet", build_all(7)["asset_status.parquet"]))
    )
    age(checked / "asset_status.parquet")
    after = warm.get("/v1/health").json()
    assert after["status"] == "degraded" and after["assets"] == before["assets"]  # run-0001, not run-0007
    cold = make_client(checked, tmp_path).get("/v1/health").json()
    assert cold["status"] == "degraded" and cold["assets"] == []
    assert "asset_status.parquet" in cold["detail"]


def test_new_snapshots_are_picked_up_and_a_bad_publish_keeps_the_previous_good_one(tmp_path, checked):
    name = "account_daily.parquet"
    client = make_client(checked, tmp_path, clock=lambda: NOW)
    gen1 = answers(client, name)
    publish(checked, generation=2, checksums=True)
    gen2 = answers(client, name)
    assert gen2 != gen1 and gen2 == answers(make_client(checked, tmp_path), name)  # manifest changed: re-read

    # a bad publish: generation 3's manifest, but its account_daily file corrupted on the way
    publish(checked, generation=3, checksums=True)
    gen3_good = (checked / name).read_bytes()
    corrupted = bytearray(gen3_good)
    corrupted[len(corrupted) // 2] ^= 0x40
    (checked / name).write_bytes(bytes(corrupted))
    age(checked / name)
    assert answers(client, name) == gen2  # the previous good answer, never the corrupted one
    assert answers(make_client(checked, tmp_path), name)[0][0] == 503
    assert client.get("/v1/health").json()["status"] == "degraded"
    # other files of generation 3 are fine and served
    assert client.get("/v1/optimal-hours", params={"top": 24}).json()["platforms"][0]["model_version"] == "v3"

    (checked / name).write_bytes(gen3_good)  # republished correctly
    gen3 = answers(client, name)
    assert gen3 not in (gen1, gen2) and gen3 == answers(make_client(checked, tmp_path), name)
    assert client.get("/v1/health").json()["status"] == "ok"


def test_a_file_replaced_before_its_manifest_is_served_once_the_manifest_follows(tmp_path, checked):
    """A reader with nothing verified that finds a data file newer than the manifest (a publish under way:
    files first, manifest last) waits briefly for the manifest that names it."""
    name = "account_daily.parquet"
    frames = build_all(2)
    files = {n: parquet_bytes(to_table(n, df)) for n, df in frames.items()}
    publish_bytes(checked, {name: files[name]})  # generation 2's file, generation 1's manifest
    manifest = json.dumps(manifest_doc(frames, published_at(2), files)).encode()
    later = threading.Timer(0.3, lambda: publish_bytes(checked, {n: b for n, b in files.items() if n != name}
                                                       | {"manifest.json": manifest}))
    client = make_client(checked, tmp_path)
    later.start()
    try:
        got = answers(client, name)
    finally:
        later.join()
    assert got[0][0] == 200
    legacy = tmp_path / "legacy"
    publish(legacy, frames, generation=2)
    assert got == answers(make_client(legacy, tmp_path), name)


def test_consistent_while_checksummed_snapshots_are_republished(tmp_path):
    """Like test_api_concurrency, with checksummed manifests: every data response is a 200 that equals
    one published generation, while the files are replaced before their manifest."""
    from test_api_concurrency import KINDS, REQUESTS, observed_views, variant

    serving = tmp_path / "serving"
    serving.mkdir()
    variants = []
    for v in range(6):
        frames = build_all(v)
        files = {n: parquet_bytes(to_table(n, df)) for n, df in frames.items()}
        files["manifest.json"] = json.dumps(manifest_doc(frames, BASE_TIME + timedelta(minutes=v), files)).encode()
        variants.append((files, variant(frames, files, tmp_path / f"reference-{v}")))
    publish_bytes(serving, variants[0][0])

    stop = threading.Event()
    publishes = 0
    failures: list[str] = []
    counts: Counter = Counter()

    def writer() -> None:
        nonlocal publishes
        g = 1
        while not stop.is_set():
            publish_bytes(serving, variants[g % len(variants)][0])
            publishes += 1
            g += 1

    def reader(client: TestClient, worker: int) -> None:
        for i in range(worker, worker + 40):
            kind = KINDS[i % len(KINDS)]
            path, params = REQUESTS[kind]
            r = client.get(path, params=params)
            counts[kind] += 1
            if r.status_code != 200:
                failures.append(f"{kind}: HTTP {r.status_code} {r.text[:300]}")
                continue
            if kind == "assets":
                continue  # /health may be degraded for a moment while the files run ahead of the manifest
            for part, view in observed_views(kind, r.json()).items():
                if view not in [views[part] for _, views in variants]:
                    failures.append(f"{part}: response matches no published snapshot: {str(view)[:300]}")

    with make_client(serving, tmp_path) as client:
        # the writer is a thread of this process, competing with six readers for the GIL (and, in CI, with the
        # other test worker for the cores), so seconds may pass between a publish's files and its manifest; the
        # pipeline's publisher is another process and takes milliseconds. The wait is for a publish under way.
        client.app.state.store.publish_wait_s = 10.0
        w = threading.Thread(target=writer)
        w.start()
        readers = [threading.Thread(target=reader, args=(client, k)) for k in range(6)]
        for t in readers:
            t.start()
        for t in readers:
            t.join()
        stop.set()
        w.join()
    assert not failures, f"{len(failures)} bad responses, first: {failures[:3]}"
    assert set(counts) == set(KINDS)
    assert publishes >= 20, publishes


# -- (c) /health -----------------------------------------------------------------------------------


def test_health_ok_for_a_fresh_consistent_snapshot(tmp_path, checked):
    body = make_client(checked, tmp_path).get("/v1/health").json()
    assert body["status"] == "ok" and body["detail"] is None
    assert body["published_at"] == "2024-05-15T06:01:30Z"
    assert body["age_seconds"] == pytest.approx((NOW - published_at(1).replace(tzinfo=timezone.utc)).total_seconds())
    assert body["max_age_seconds"] == 36 * 3600
    assert [c["name"] for c in body["file_checks"]] == DATA_FILES
    for check in body["file_checks"]:
        data = (checked / check["name"]).read_bytes()
        assert check["status"] == "ok" and check["detail"] is None
        assert check["sha256"] == hashlib.sha256(data).hexdigest() and check["bytes"] == len(data)
        assert check["rows"] == pq.read_metadata(checked / check["name"]).num_rows
    assert body["files"] == {c["name"]: c["rows"] for c in body["file_checks"]}


def test_health_ok_when_a_file_was_never_published(tmp_path):
    """A file neither in the manifest nor on disk (a snapshot from before it existed) is not a fault."""
    serving = tmp_path / "serving"
    frames = {n: df for n, df in build_all(1).items() if n != "boost_organic_vs_paid.parquet"}
    publish(serving, frames, generation=1, checksums=True)
    client = make_client(serving, tmp_path)
    body = client.get("/v1/health").json()
    assert body["status"] == "ok" and body["detail"] is None
    assert check_of(body, "boost_organic_vs_paid.parquet")["status"] == "not_published"
    assert {c["status"] for c in body["file_checks"] if c["name"] != "boost_organic_vs_paid.parquet"} == {"ok"}
    assert client.get(f"/v1/boosts/{BOOST}").status_code == 404  # not published yet
    assert client.get("/v1/boosts").status_code == 200


def test_health_degraded_when_a_listed_file_is_missing(tmp_path, checked):
    (checked / "attribution_daily.parquet").unlink()
    r = make_client(checked, tmp_path).get("/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "degraded" and "attribution_daily.parquet" in body["detail"]
    assert check_of(body, "attribution_daily.parquet")["status"] == "missing"
    assert check_of(body, "optimal_hours.parquet")["status"] == "ok"


def test_health_degraded_when_a_file_does_not_match_the_manifest(tmp_path, checked):
    data = bytearray((checked / "optimal_hours.parquet").read_bytes())
    data[100] ^= 0x01
    (checked / "optimal_hours.parquet").write_bytes(bytes(data))
    age(checked / "optimal_hours.parquet")
    started = time.monotonic()
    body = make_client(checked, tmp_path).get("/v1/health").json()
    assert time.monotonic() - started < 1.5  # a file changed long ago: no wait for a publish under way
    assert body["status"] == "degraded"
    check = check_of(body, "optimal_hours.parquet")
    assert check["status"] == "mismatch" and "sha256" in check["detail"]
    assert "optimal_hours.parquet" in body["detail"]
    assert len(body["assets"]) == 5


def test_health_degraded_when_a_file_is_unreadable(tmp_path, checked):
    (checked / "account_daily.parquet").unlink()
    (checked / "account_daily.parquet").mkdir()  # open() fails with an OSError other than "not found"
    body = make_client(checked, tmp_path).get("/v1/health").json()
    assert body["status"] == "degraded"
    assert check_of(body, "account_daily.parquet")["status"] == "unreadable"


@pytest.mark.parametrize("name", list(READERS))
def test_health_degraded_when_a_served_file_answers_503(tmp_path, name):
    """The fault: /health said ok while an endpoint answered 503 (with a manifest from before checksums)."""
    legacy = tmp_path / "serving"
    publish(legacy, generation=1)
    (legacy / name).write_bytes(b"PAR1 this is not parquet")
    client = make_client(legacy, tmp_path)
    for path, params in READERS[name]:
        assert client.get(path, params=params).status_code == 503, path
    body = client.get("/v1/health").json()
    assert body["status"] == "degraded" and name in body["detail"]
    assert check_of(body, name)["status"] == "unreadable"
    assert client.get("/v1/livez", headers={"Authorization": ""}).json() == {"status": "degraded"}


def test_health_ok_for_a_manifest_from_before_checksums(tmp_path):
    legacy = tmp_path / "serving"
    publish(legacy, generation=1)
    body = make_client(legacy, tmp_path).get("/v1/health").json()
    assert body["status"] == "ok"
    assert {c["status"] for c in body["file_checks"]} == {"unverified"}


@pytest.mark.parametrize(
    "now, max_age, status",
    [
        (published_at(1) + timedelta(hours=35), "default", "ok"),
        (published_at(1) + timedelta(hours=37), "default", "degraded"),
        (published_at(1) + timedelta(minutes=30), timedelta(minutes=20), "degraded"),
        (published_at(1) + timedelta(days=400), None, "ok"),
    ],
)
def test_health_degraded_when_the_snapshot_is_stale(tmp_path, checked, now, max_age, status):
    kwargs = {} if max_age == "default" else {"max_snapshot_age": max_age}
    client = make_client(checked, tmp_path, clock=lambda: now.replace(tzinfo=timezone.utc), **kwargs)
    body = client.get("/v1/health").json()
    assert body["status"] == status
    assert {c["status"] for c in body["file_checks"]} == {"ok"}
    if status == "degraded":
        assert "stale" in body["detail"] and "freshness limit" in body["detail"]
    else:
        assert body["detail"] is None
    assert client.get("/v1/livez", headers={"Authorization": ""}).json() == {"status": status}
    assert client.get("/v1/rollups/daily").status_code == 200  # stale data is still served


def test_manifest_without_published_at_is_degraded(tmp_path, checked):
    doc = json.loads((checked / "manifest.json").read_text())
    del doc["published_at"]
    (checked / "manifest.json").write_text(json.dumps(doc))
    body = make_client(checked, tmp_path).get("/v1/health").json()
    assert body["status"] == "degraded" and "published_at" in body["detail"]


def test_openapi_documents_the_health_checks(tmp_path, checked):
    schemas = make_client(checked, tmp_path).get("/v1/openapi.json").json()["components"]["schemas"]
    health = schemas["HealthResponse"]["properties"]
    assert {"status", "published_at", "files", "assets", "detail", "age_seconds", "max_age_seconds",
            "file_checks"} <= set(health)
    assert set(schemas["ServingFileStatus"]["properties"]["status"]["enum"]) == {
        "ok", "unverified", "not_published", "missing", "unreadable", "mismatch"}


# -- (d) the publisher -----------------------------------------------------------------------------


def _assert_manifest_matches_files(serving: Path) -> dict:
    doc = json.loads((serving / "manifest.json").read_text())
    assert doc["version"] == 2
    for name, entry in doc["files"].items():
        data = (serving / name).read_bytes()
        assert entry["bytes"] == len(data), name
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), name
        assert entry["rows"] == pq.read_metadata(serving / name).num_rows, name
    assert not [p.name for p in serving.iterdir() if p.name.endswith(".tmp")]
    return doc


def test_publish_snapshot_writes_matching_checksums_and_the_manifest_last(tmp_path, monkeypatch):
    import analytics_assets.storage.serving_files as serving_files

    replaced: list[str] = []
    real_replace = os.replace

    def recording_replace(src, dst):
        replaced.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(serving_files.os, "replace", recording_replace)
    frames = build_all(5)
    out = tmp_path / "serving"
    manifest = serving_files.publish_snapshot(out, frames, published_at=NOW)
    assert replaced[-1] == "manifest.json" and sorted(replaced[:-1]) == sorted(frames)
    doc = _assert_manifest_matches_files(out)
    assert set(doc["files"]) == set(frames) == set(DATA_FILES)
    assert {n: f.rows for n, f in manifest.files.items()} == {n: len(df) for n, df in frames.items()}
    assert datetime.fromisoformat(doc["published_at"]) == NOW


def test_serving_snapshot_asset_publishes_checksums_the_api_verifies(tmp_path):
    import dagster as dg

    from analytics_assets.definitions import AUTOMATION_CATALOG, QUALITY_GATE
    from analytics_assets.defs.resources import ServingResource, WarehouseResource
    from analytics_assets.defs.serving.snapshot import serving_snapshot
    from test_api_endpoints import assert_attribution, assert_rollups, expected_attribution, expected_rollups

    frames = build_all(4)
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    try:
        for t in SERVED_TABLES:  # each served file's source table, of the contract's types
            con.execute(f"create schema if not exists {t.source.split('.')[0]}")
            con.register("src", to_table(t.file, frames[t.file]))
            # a platform-wide table (the model's hours) has no account: the publisher repeats it per account
            select = "select distinct * exclude (account_id)" if t.account_join else "select *"
            if t.platform_rows:  # a platform's series has no account: the publisher copies it to each of them
                select = ("select distinct * exclude (series_accounts) replace "
                          "(case when entity_type = 'campaign' then account_id end as account_id)")
            con.execute(f"create table {t.source} as {select} from src")
            con.unregister("src")
    finally:
        con.close()

    serving = tmp_path / "serving"
    started = datetime.now(timezone.utc)
    result = dg.materialize(
        [serving_snapshot],
        resources={
            "warehouse": WarehouseResource(path=str(warehouse), threads=1, memory_limit="256MB"),
            "serving": ServingResource(serving_dir=str(serving)),
            "quality_gate": QUALITY_GATE,  # the real gate: no check has failed in this instance
            "automation_catalog": AUTOMATION_CATALOG,
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    doc = _assert_manifest_matches_files(serving)
    # and the model health file, empty in an instance where no model was trained (no drift report page either)
    assert set(doc["files"]) == set(DATA_FILES) | {"model_health.parquet"}
    assert doc["files"]["model_health.parquet"]["rows"] == 0
    for name, frame in frames.items():
        if name not in ("asset_status.parquet", "automation_status.parquet"):  # from the instance, not the data
            assert doc["files"][name]["rows"] == len(frame), name
    automation = pd.read_parquet(serving / "automation_status.parquet")
    assert set(automation["name"]) == {e.name for e in AUTOMATION_CATALOG.entries}
    assert started <= datetime.fromisoformat(doc["published_at"]) <= datetime.now(timezone.utc)
    (mat,) = result.asset_materializations_for_node("serving_snapshot")
    assert mat.metadata["sha256/account_daily.parquet"].value == doc["files"]["account_daily.parquet"]["sha256"]

    client = make_client(serving, tmp_path, clock=None)  # real clock
    body = client.get("/v1/health").json()
    assert body["status"] == "ok", body["detail"]
    assert {c["status"] for c in body["file_checks"]} == {"ok"}
    rollups = client.get("/v1/rollups/daily", params={"limit": 1000})
    assert rollups.status_code == 200
    assert_rollups(rollups.json()["rows"], expected_rollups(frames["account_daily.parquet"]))
    for model in ("linear", "shapley"):
        assert_attribution(client.get("/v1/attribution", params={"model": model}).json(),
                           expected_attribution(frames, model))
    hours = client.get("/v1/optimal-hours", params={"top": 24}).json()["platforms"]
    assert [p["platform"] for p in hours] == ["linkedin", "reddit", "tiktok", "x"]
    assert all(p["model_version"] == "v4" and len(p["hours"]) == 24 for p in hours)
    for name, readers in READERS.items():
        for path, params in readers:
            assert client.get(path, params=params).status_code == 200, (name, path)
