"""Files shaped the way analytics_assets/defs/serving/snapshot.py really writes them: warehouse tables read
with DuckDB's `.df()` and saved with `DataFrame.to_parquet` (so DATE columns arrive as timestamps,
NULL-only columns have Arrow type `null`, the manifest's published_at carries "+00:00")."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from analytics_assets.contracts.serving import SERVED_TABLES
from analytics_assets.definitions import AUTOMATION_CATALOG
from analytics_assets.storage.serving_files import publish_snapshot
from api_serving_data import SCHEMAS, build_all

_DUCKDB_TYPES = {"string": "VARCHAR", "int32": "INTEGER", "int64": "BIGINT", "double": "DOUBLE", "bool": "BOOLEAN",
                 "date32[day]": "DATE", "timestamp[us]": "TIMESTAMP"}
# each data file as a warehouse table of the contract's column types, selected by the publisher's query
CONTRACT_SQL = {
    t.file: "select " + ", ".join(f"{f.name}::{_DUCKDB_TYPES[str(f.type)]} {f.name}" for f in SCHEMAS[t.file])
    + f" from src order by {t.order_by}"
    for t in SERVED_TABLES
}
PUBLISHED_AT = datetime(2024, 5, 15, 6, 1, 30, 123456, tzinfo=timezone.utc)


def publish_like_serving_snapshot(out: Path, frames: dict[str, pd.DataFrame]) -> None:
    """What the serving_snapshot asset does: each table read with DuckDB's `.df()`, published with
    `publish_snapshot` (DataFrame.to_parquet, the manifest with checksums last)."""
    con = duckdb.connect(":memory:")
    tables = {}
    for name, sql in CONTRACT_SQL.items():
        con.register("src", frames[name])
        tables[name] = con.execute(sql).df()
        con.unregister("src")
    con.close()
    # serving.py builds the asset status in pandas from Python objects (no partitions: a null column)
    status = frames["asset_status.parquet"].copy()
    tables["asset_status.parquet"] = pd.DataFrame(
        [{**r, "last_partition": None} for r in status.to_dict("records")],
        columns=["asset_key", "last_materialized_at", "last_partition", "run_id"],
    )
    # the schedules and sensors as AutomationCatalogResource.status() builds them: nothing ticked yet
    with dg.instance_for_test() as instance:
        tables["automation_status.parquet"] = AUTOMATION_CATALOG.status(instance)
    publish_snapshot(out, tables, published_at=PUBLISHED_AT)


def test_serves_files_written_like_the_real_publisher(make_client, serving_dir):
    import pyarrow.parquet as pq

    from test_api_endpoints import assert_attribution, assert_rollups, expected_attribution, expected_rollups

    frames = build_all(3)
    publish_like_serving_snapshot(serving_dir, frames)
    schema = pq.read_schema(serving_dir / "account_daily.parquet")
    assert str(schema.field("metric_date").type).startswith("timestamp")  # not date32: the API must cope
    assert str(pq.read_schema(serving_dir / "boost_organic_vs_paid.parquet").field("start_date").type).startswith(
        "timestamp")
    assert str(pq.read_schema(serving_dir / "asset_status.parquet").field("last_partition").type) == "null"
    assert json.loads((serving_dir / "manifest.json").read_text())["published_at"] == "2024-05-15T06:01:30.123456+00:00"

    c = make_client()
    health = c.get("/v1/health").json()
    assert health["status"] == "ok" and health["published_at"] == "2024-05-15T06:01:30.123456Z"
    assert {f["status"] for f in health["file_checks"]} == {"ok"}
    assert len(health["assets"]) == 5 and all(a["last_partition"] is None for a in health["assets"])

    rollups = c.get("/v1/rollups/daily", params={"start": "2024-05-02", "end": "2024-05-03"}).json()
    assert rollups["count"] == 2 * 7
    assert [r["metric_date"] for r in rollups["rows"]] == ["2024-05-02"] * 7 + ["2024-05-03"] * 7
    organic = [r for r in rollups["rows"] if r["channel_type"] == "organic"]
    assert organic and all(r["conversions"] is None and r["revenue_usd"] is None for r in organic)
    assert_rollups(rollups["rows"],
                   expected_rollups(frames["account_daily.parquet"], start=date(2024, 5, 2), end=date(2024, 5, 3)))

    hours = c.get("/v1/optimal-hours", params={"platform": "reddit", "top": 2}).json()
    assert [h["rank"] for h in hours["platforms"][0]["hours"]] == [1, 2]
    assert hours["platforms"][0]["model_version"] == "v3"
    assert hours["platforms"][0]["generated_at"] == "2024-05-15T06:03:00Z"

    for model in ("time_decay", "markov"):
        attribution = c.get("/v1/attribution", params={"model": model}).json()
        assert len(attribution["channels"]) == 7
        assert_attribution(attribution, expected_attribution(frames, model))
    models = c.get("/v1/attribution/models").json()
    assert (models["window_start"], models["window_end"]) == ("2024-05-01", "2024-05-13")

    accounts = c.get("/v1/accounts").json()["accounts"]
    assert len(accounts) == 16 and {(a["first_seen_date"], a["last_seen_date"]) for a in accounts} == {
        ("2024-05-01", "2024-05-13")}
    overview = c.get("/v1/overview").json()
    assert (overview["start"], overview["end"]) == ("2024-05-07", "2024-05-13")
    assert overview["current_days_with_data"] == 7
    campaigns = c.get("/v1/campaigns").json()
    assert campaigns["total"] == 12 and campaigns["items"][0]["settings_since"] == "2024-04-25T06:00:00Z"
    assert campaigns["items"][0]["totals"]["first_day"] == "2024-05-01"
    one = campaigns["items"][0]
    daily = c.get(f"/v1/campaigns/{one['platform']}/{one['campaign_id']}/daily").json()
    assert [d["metric_date"] for d in daily["items"]][:2] == ["2024-05-01", "2024-05-02"] and daily["total"] == 13
    top = c.get("/v1/posts/top", params={"limit": 3}).json()["items"]
    assert [p["rank"] for p in top] == [1, 2, 3] and top[0]["published_at"].endswith("Z")
    heatmap = c.get("/v1/engagement/heatmap", params={"platform": "x"}).json()["cells"]
    assert len(heatmap) == 7 * 8
    boosts = c.get("/v1/boosts").json()
    assert boosts["total"] == 12 and all(b["flight_start_at"].endswith("Z") for b in boosts["items"])
    boost = c.get(f"/v1/boosts/{boosts['items'][0]['boost_id']}").json()
    assert boost["organic_vs_paid"]["start_date"] == boosts["items"][0]["flight_start_at"][:10]


def test_empty_asset_status_from_a_fresh_instance(make_client, serving_dir, publish_files):
    publish_files()
    # serving.py with no materializations yet: an empty frame with object columns.
    empty = pd.DataFrame([], columns=["asset_key", "last_materialized_at", "last_partition", "run_id"])
    empty.to_parquet(serving_dir / "asset_status.parquet", index=False)
    body = make_client().get("/v1/health").json()
    assert body["status"] == "ok" and body["assets"] == []


def test_timezone_aware_timestamps_are_reported_in_utc(make_client, serving_dir, publish_files):
    frames = publish_files()
    hours = frames["optimal_hours.parquet"].copy()
    # 08:01 in UTC+2 is 06:01 UTC
    hours["generated_at"] = (hours["generated_at"] + pd.Timedelta(hours=2)).dt.tz_localize("Etc/GMT-2")
    hours.to_parquet(serving_dir / "optimal_hours.parquet", index=False)
    body = make_client().get("/v1/optimal-hours", params={"platform": "x", "top": 1}).json()
    assert body["platforms"][0]["generated_at"] == "2024-05-15T06:01:00Z"
