"""Realistic serving files for the API tests, following the "Serving files" contract exactly,
published the way the `serving_snapshot` asset publishes them (temp file in the same folder, then
os.replace; manifest last). Deterministic per `generation`."""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ORGANIC = ["linkedin", "x", "reddit", "tiktok"]
PAID = ["google_ads", "meta_ads", "linkedin_ads"]
CHANNELS = [
    "linkedin_organic", "x_organic", "reddit_organic", "tiktok_organic",
    "google_ads", "meta_ads", "linkedin_ads",
]
MODELS = ["first_touch", "last_touch", "linear", "time_decay", "position_based"]
ASSETS = [
    ("raw_social_post_snapshots", "2024-05-14"),
    ("raw_ad_campaign_daily", "2024-05-14"),
    ("fct_post_metrics_daily", None),
    ("optimal_hours_model", None),
    ("serving_snapshot", None),
]

# Arrow types matching the contract's SQL types (INTEGER=int32, BIGINT=int64, TIMESTAMP=naive UTC).
SCHEMAS = {
    "asset_status.parquet": pa.schema([
        ("asset_key", pa.string()),
        ("last_materialized_at", pa.timestamp("us")),
        ("last_partition", pa.string()),
        ("run_id", pa.string()),
    ]),
    "optimal_hours.parquet": pa.schema([
        ("platform", pa.string()),
        ("rank", pa.int32()),
        ("publish_hour", pa.int32()),
        ("expected_engagement_score", pa.float64()),
        ("lift_vs_platform_mean", pa.float64()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("generated_at", pa.timestamp("us")),
    ]),
    "platform_daily.parquet": pa.schema([
        ("metric_date", pa.date32()),
        ("platform", pa.string()),
        ("channel_type", pa.string()),
        ("posts", pa.int32()),
        ("impressions", pa.int64()),
        ("engagements", pa.int64()),
        ("clicks", pa.int64()),
        ("avg_engagement_score", pa.float64()),
        ("spend_usd", pa.float64()),
        ("conversions", pa.float64()),
        ("revenue_usd", pa.float64()),
        ("ctr", pa.float64()),
        ("roas", pa.float64()),
    ]),
    "attribution.parquet": pa.schema([
        ("model", pa.string()),
        ("channel", pa.string()),
        ("conversions", pa.float64()),
        ("conversion_value", pa.float64()),
        ("share", pa.float64()),
    ]),
}

FIRST_DAY = date(2024, 5, 1)
BASE_TIME = datetime(2024, 5, 15, 6, 0, 0)
NOW = (BASE_TIME + timedelta(hours=2)).replace(tzinfo=timezone.utc)  # "now" for /health's freshness check


# -- builders (deterministic per generation) ------------------------------------------------------


def build_asset_status(generation: int = 1) -> pd.DataFrame:
    at = BASE_TIME + timedelta(minutes=generation)
    return pd.DataFrame(
        [
            {
                "asset_key": key,
                "last_materialized_at": at - timedelta(minutes=5 * i),
                "last_partition": partition,
                "run_id": f"run-{generation:04d}",
            }
            for i, (key, partition) in enumerate(reversed(ASSETS))
        ]
    )


def build_optimal_hours(generation: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(1000 + generation)
    rows = []
    for p_idx, platform in enumerate(ORGANIC):
        peak = (9 + 4 * p_idx + generation) % 24
        base = 40.0 + 15 * p_idx
        scores = [
            base * (1 + 0.35 * math.cos(2 * math.pi * (h - peak) / 24)) + rng.uniform(0, 1)
            for h in range(24)
        ]
        mean = sum(scores) / 24
        order = sorted(range(24), key=lambda h: -scores[h])
        for rank, hour in enumerate(order, start=1):
            rows.append(
                {
                    "platform": platform,
                    "rank": rank,
                    "publish_hour": hour,
                    "expected_engagement_score": scores[hour],
                    "lift_vs_platform_mean": scores[hour] / mean - 1,
                    "model_name": "engagement_score_gbm",
                    "model_version": f"v{generation}",
                    "generated_at": BASE_TIME + timedelta(minutes=generation),
                }
            )
    # Stored in no particular order: the API must rank, not rely on file order.
    return pd.DataFrame(rows).sample(frac=1, random_state=generation).reset_index(drop=True)


def build_platform_daily(generation: int = 1, n_days: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(2000 + generation)
    rows = []
    for d in range(n_days):
        day = FIRST_DAY + timedelta(days=d)
        for platform in ORGANIC:
            impressions = int(rng.integers(2_000, 50_000))
            engagements = int(impressions * rng.uniform(0.01, 0.08))
            clicks = int(engagements * rng.uniform(0.1, 0.5))
            conversions = float(rng.integers(0, 6))
            rows.append(
                {
                    "metric_date": day, "platform": platform, "channel_type": "organic",
                    "posts": int(rng.integers(1, 12)), "impressions": impressions,
                    "engagements": engagements, "clicks": clicks,
                    "avg_engagement_score": float(rng.uniform(20, 400)), "spend_usd": 0.0,
                    "conversions": conversions, "revenue_usd": conversions * 49.0,
                    "ctr": clicks / impressions, "roas": None,
                }
            )
        for platform in PAID:
            impressions = int(rng.integers(5_000, 80_000))
            clicks = int(impressions * rng.uniform(0.005, 0.03))
            # linkedin_ads is paused on the first day: no spend, so no ROAS.
            spend = 0.0 if (platform == "linkedin_ads" and d == 0) else round(float(rng.uniform(50, 900)), 2)
            conversions = round(float(rng.uniform(0, 30)), 2)
            revenue = round(conversions * 55.0, 2)
            rows.append(
                {
                    "metric_date": day, "platform": platform, "channel_type": "paid",
                    "posts": int(rng.integers(1, 5)), "impressions": impressions,
                    "engagements": int(clicks * 1.3), "clicks": clicks,
                    "avg_engagement_score": None, "spend_usd": spend,
                    "conversions": conversions, "revenue_usd": revenue,
                    "ctr": clicks / impressions, "roas": (revenue / spend) if spend else None,
                }
            )
    return pd.DataFrame(rows).sample(frac=1, random_state=generation).reset_index(drop=True)


def build_attribution(generation: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(3000 + generation)
    total = 100.0 + generation  # distinct per generation
    rows = []
    for model in MODELS:
        weights = rng.dirichlet(np.ones(len(CHANNELS)))
        for channel, w in zip(CHANNELS, weights):
            rows.append(
                {
                    "model": model, "channel": channel, "conversions": float(total * w),
                    "conversion_value": float(total * w * 61.5), "share": float(w),
                }
            )
    return pd.DataFrame(rows).sample(frac=1, random_state=generation).reset_index(drop=True)


def build_all(generation: int = 1) -> dict[str, pd.DataFrame]:
    return {
        "asset_status.parquet": build_asset_status(generation),
        "optimal_hours.parquet": build_optimal_hours(generation),
        "platform_daily.parquet": build_platform_daily(generation, n_days=10 + generation % 7),
        "attribution.parquet": build_attribution(generation),
    }


# -- publishing -----------------------------------------------------------------------------------


def atomic_write_bytes(path: Path, writer) -> None:
    """Write through `writer(tmp_path)` then os.replace onto `path`, like the publisher does."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def to_table(name: str, df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, schema=SCHEMAS[name], preserve_index=False)


def manifest_doc(frames: dict[str, pd.DataFrame], published_at: datetime,
                 files: dict[str, bytes] | None = None) -> dict:
    """The manifest of ``frames``; with ``files`` (name -> published bytes) also each file's size and
    SHA-256, as the ``serving_snapshot`` asset writes them (otherwise a manifest from before checksums)."""
    doc = {
        "published_at": published_at.isoformat() + "Z",
        "files": {name: {"rows": len(df)} for name, df in frames.items()},
    }
    if files is not None:
        for name, entry in doc["files"].items():
            entry.update({"bytes": len(files[name]), "sha256": hashlib.sha256(files[name]).hexdigest()})
    return doc


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def publish_bytes(serving_dir: Path, files: dict[str, bytes]) -> None:
    """Atomically publish ready-made file contents (file name -> bytes), in the given order."""
    for name, data in files.items():
        atomic_write_bytes(serving_dir / name, lambda tmp, b=data: tmp.write_bytes(b))


def publish_tables(serving_dir: Path, tables: dict[str, pa.Table], manifest: dict | None) -> None:
    """Atomically publish Arrow tables (file name -> table), then the manifest if given."""
    serving_dir.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        atomic_write_bytes(serving_dir / name, lambda tmp, t=table: pq.write_table(t, tmp))
    if manifest is not None:
        payload = json.dumps(manifest)
        atomic_write_bytes(serving_dir / "manifest.json", lambda tmp: tmp.write_text(payload))


def published_at(generation: int) -> datetime:
    return BASE_TIME + timedelta(minutes=generation, seconds=30)


def publish(serving_dir: Path, frames: dict[str, pd.DataFrame] | None = None, *, generation: int = 1,
            manifest: bool = True, checksums: bool = False) -> dict[str, pd.DataFrame]:
    """Publish serving files (all four by default), manifest last. Returns what was written. With
    ``checksums`` the manifest names each file's size and SHA-256 (the current format)."""
    frames = build_all(generation) if frames is None else frames
    tables = {name: to_table(name, df) for name, df in frames.items()}
    if not checksums:
        doc = manifest_doc(frames, published_at(generation)) if manifest else None
        publish_tables(serving_dir, tables, doc)
        return frames
    files = {name: parquet_bytes(table) for name, table in tables.items()}
    serving_dir.mkdir(parents=True, exist_ok=True)
    publish_bytes(serving_dir, files)
    if manifest:
        doc = manifest_doc(frames, published_at(generation), files)
        publish_bytes(serving_dir, {"manifest.json": json.dumps(doc).encode()})
    return frames
