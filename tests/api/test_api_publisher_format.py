"""Files shaped the way analytics_assets/defs/serving/snapshot.py really writes them: warehouse tables read
with DuckDB's `.df()` and saved with `DataFrame.to_parquet` (so DATE columns arrive as timestamps,
NULL-only columns have Arrow type `null`, the manifest's published_at carries "+00:00")."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from api_serving_data import build_all

CONTRACT_SQL = {
    "asset_status.parquet": """select asset_key::VARCHAR asset_key,
        last_materialized_at::TIMESTAMP last_materialized_at, last_partition::VARCHAR last_partition,
        run_id::VARCHAR run_id from src""",
    "optimal_hours.parquet": """select platform::VARCHAR platform, rank::INTEGER rank,
        publish_hour::INTEGER publish_hour, expected_engagement_score::DOUBLE expected_engagement_score,
        lift_vs_platform_mean::DOUBLE lift_vs_platform_mean, model_name::VARCHAR model_name,
        model_version::VARCHAR model_version, generated_at::TIMESTAMP generated_at
        from src order by platform, rank""",
    "platform_daily.parquet": """select metric_date::DATE metric_date, platform::VARCHAR platform,
        channel_type::VARCHAR channel_type, posts::INTEGER posts, impressions::BIGINT impressions,
        engagements::BIGINT engagements, clicks::BIGINT clicks,
        avg_engagement_score::DOUBLE avg_engagement_score, spend_usd::DOUBLE spend_usd,
        -- organic rows have no conversions in the dbt mart
        case when channel_type = 'organic' then null else conversions end::DOUBLE conversions,
        case when channel_type = 'organic' then null else revenue_usd end::DOUBLE revenue_usd,
        ctr::DOUBLE ctr, roas::DOUBLE roas from src order by metric_date, platform""",
    "attribution.parquet": """select model::VARCHAR model, channel::VARCHAR channel,
        conversions::DOUBLE conversions, conversion_value::DOUBLE conversion_value, share::DOUBLE share
        from src order by model, conversions desc""",
}


def publish_like_serving_snapshot(out: Path, frames: dict[str, pd.DataFrame]) -> None:
    con = duckdb.connect(":memory:")
    for name, sql in CONTRACT_SQL.items():
        con.register("src", frames[name])
        frame = con.execute(sql).df()
        con.unregister("src")
        if name == "asset_status.parquet":  # serving.py builds this one in pandas from Python objects
            frame["last_partition"] = None
        tmp = out / f".{name}.{os.getpid()}.tmp"
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, out / name)
    con.close()
    manifest = {"published_at": "2024-05-15T06:01:30.123456+00:00",
                "files": {n: {"rows": len(f)} for n, f in frames.items()}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))


def test_serves_files_written_like_the_real_publisher(make_client, serving_dir):
    import pyarrow.parquet as pq

    frames = build_all(3)
    publish_like_serving_snapshot(serving_dir, frames)
    schema = pq.read_schema(serving_dir / "platform_daily.parquet")
    assert str(schema.field("metric_date").type).startswith("timestamp")  # not date32: the API must cope
    assert str(pq.read_schema(serving_dir / "asset_status.parquet").field("last_partition").type) == "null"

    c = make_client()
    health = c.get("/health").json()
    assert health["status"] == "ok" and health["published_at"] == "2024-05-15T06:01:30.123456Z"
    assert len(health["assets"]) == 5 and all(a["last_partition"] is None for a in health["assets"])

    rollups = c.get("/rollups/daily", params={"start": "2024-05-02", "end": "2024-05-03"}).json()
    assert rollups["count"] == 2 * 7
    assert [r["metric_date"] for r in rollups["rows"]] == ["2024-05-02"] * 7 + ["2024-05-03"] * 7
    organic = [r for r in rollups["rows"] if r["channel_type"] == "organic"]
    assert organic and all(r["conversions"] is None and r["revenue_usd"] is None for r in organic)

    hours = c.get("/optimal-hours", params={"platform": "reddit", "top": 2}).json()
    assert [h["rank"] for h in hours["platforms"][0]["hours"]] == [1, 2]
    assert hours["platforms"][0]["model_version"] == "v3"

    attribution = c.get("/attribution", params={"model": "time_decay"}).json()
    assert len(attribution["channels"]) == 7
    assert attribution["total_conversions"] == pytest.approx(103.0)


def test_empty_asset_status_from_a_fresh_instance(make_client, serving_dir, publish_files):
    publish_files()
    # serving.py with no materializations yet: an empty frame with object columns.
    empty = pd.DataFrame([], columns=["asset_key", "last_materialized_at", "last_partition", "run_id"])
    empty.to_parquet(serving_dir / "asset_status.parquet", index=False)
    body = make_client().get("/health").json()
    assert body["status"] == "ok" and body["assets"] == []


def test_timezone_aware_timestamps_are_reported_in_utc(make_client, serving_dir, publish_files):
    frames = publish_files()
    hours = frames["optimal_hours.parquet"].copy()
    # 08:01 in UTC+2 is 06:01 UTC
    hours["generated_at"] = (hours["generated_at"] + pd.Timedelta(hours=2)).dt.tz_localize("Etc/GMT-2")
    hours.to_parquet(serving_dir / "optimal_hours.parquet", index=False)
    body = make_client().get("/optimal-hours", params={"platform": "x", "top": 1}).json()
    assert body["platforms"][0]["generated_at"] == "2024-05-15T06:01:00Z"
