"""Serving: the snapshot of Parquet files (with a manifest) that the API reads, published atomically."""

import dagster as dg

from analytics_assets.defs.serving.snapshot import serving_snapshot

defs = dg.Definitions(assets=[serving_snapshot])
