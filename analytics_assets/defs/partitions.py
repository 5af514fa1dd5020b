from datetime import date, timedelta

import dagster as dg

from analytics_assets.settings import load_settings

# One daily partitioning shared by every daily asset: the day the data describes (UTC). It starts at
# CYCLE_PARTITION_START and ends with the last complete day (end_offset=0: a day becomes a partition once it
# has ended), so neither the UI nor `cycle backfill` can ask for a day that has not happened.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=load_settings().partition_start.isoformat(), end_offset=0
)

# Every asset that opens the DuckDB warehouse (dbt included) runs in this pool, limited to one at a
# time in dagster.yaml: DuckDB allows one writing process per file and readers block writers.
WAREHOUSE_POOL = "duckdb_warehouse"


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The days of the run's partition window (one day, or a whole single-run backfill range)."""
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date()
    return [start + timedelta(days=k) for k in range((end - start).days)]
