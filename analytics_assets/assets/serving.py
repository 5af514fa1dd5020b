"""Publish the tables the API serves as Parquet files, so the API never opens the warehouse.

Each file is written under a temporary name in the serving folder, then moved over the old one with
``os.replace`` (atomic on one filesystem): a reader sees the old file or the new one, never half of one.
"""


import json
import os
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pandas as pd

from analytics_assets.partitions import WAREHOUSE_POOL
from analytics_assets.resources import ServingResource, WarehouseResource

SERVED_TABLES = {
    "optimal_hours.parquet": "select * from main.posting_hour_recommendations order by platform, rank",
    "platform_daily.parquet": "select * from main.agg_platform_daily order by metric_date, platform",
    "attribution.parquet": "select * from main.agg_channel_attribution order by model, conversions desc",
    # daily totals behind GET /overview (api/overview.py computes any date range from them)
    "overview_daily.parquet": "select * from main.agg_overview_daily order by metric_date",
}


def publish(target: Path, write: Callable[[Path], object]) -> None:
    """Write through a unique temporary name in the same folder, then move it over ``target``."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    write(tmp)
    os.replace(tmp, target)


def publish_parquet(frame: pd.DataFrame, target: Path) -> None:
    publish(target, lambda tmp: frame.to_parquet(tmp, index=False))


def publish_json(payload: dict, target: Path) -> None:
    publish(target, lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=str)))


def asset_status(instance: dg.DagsterInstance, keys: list[dg.AssetKey]) -> pd.DataFrame:
    rows = []
    for key in sorted(keys, key=lambda k: k.to_user_string()):
        event = instance.get_latest_materialization_event(key)
        if event is None:
            continue
        rows.append(
            {
                "asset_key": key.to_user_string(),
                "last_materialized_at": datetime.fromtimestamp(event.timestamp, timezone.utc).replace(tzinfo=None),
                "last_partition": event.asset_materialization.partition if event.asset_materialization else None,
                "run_id": event.run_id,
            }
        )
    return pd.DataFrame(rows, columns=["asset_key", "last_materialized_at", "last_partition", "run_id"])


@dg.asset(
    deps=["posting_hour_recommendations", "agg_platform_daily", "agg_channel_attribution", "agg_overview_daily"],
    group_name="serving",
    kinds={"parquet"},
    pool=WAREHOUSE_POOL,
    automation_condition=dg.AutomationCondition.eager(),
    description="Parquet copies of the served tables plus the assets' last materializations, for the API.",
)
def serving_snapshot(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, serving: ServingResource
) -> dg.MaterializeResult:
    out = serving.path
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with warehouse.connect() as con:
        frames = {name: con.execute(sql).df() for name, sql in SERVED_TABLES.items()}
    for name, frame in frames.items():
        publish_parquet(frame, out / name)
        counts[name] = len(frame)
    status = asset_status(context.instance, list(context.instance.get_asset_keys()))
    publish_parquet(status, out / "asset_status.parquet")
    counts["asset_status.parquet"] = len(status)
    published_at = datetime.now(timezone.utc)
    publish_json(
        {"published_at": published_at.isoformat(), "files": {n: {"rows": c} for n, c in counts.items()}},
        out / "manifest.json",
    )
    return dg.MaterializeResult(
        metadata={"serving_dir": str(out), **{f"rows/{n}": c for n, c in counts.items()}, "published_at": published_at.isoformat()}
    )
