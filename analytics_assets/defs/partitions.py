from datetime import date, timedelta

import dagster as dg

from analytics_assets.settings import DEFAULT_PARTITION_START, CycleSettings, load_settings, recorded_partition_start


def first_partition_day(settings: CycleSettings | None = None) -> date:
    """The first daily partition: ``CYCLE_PARTITION_START`` when set; else the first day ``cycle demo``
    loaded into this home (``$CYCLE_HOME/partition_start``, moved earlier by a later backfill or loop that
    starts before it: ``cli.record_data_start``), so the demo's partitions read as filled rather than 30 of
    ~700; else ``DEFAULT_PARTITION_START``. Read once, when the definitions load."""
    settings = settings or load_settings()
    if settings.partition_start is not None:
        return settings.partition_start
    return recorded_partition_start(settings) or DEFAULT_PARTITION_START


# One daily partitioning shared by every daily asset: the day the data describes (UTC). It starts at
# first_partition_day() and ends with the last complete day (end_offset=0: a day becomes a partition once it
# has ended), so neither the UI nor `cycle backfill` can ask for a day that has not happened.
daily_partitions = dg.DailyPartitionsDefinition(start_date=first_partition_day().isoformat(), end_offset=0)

# Every asset that opens the DuckDB warehouse (dbt included) runs in this pool, limited to one at a
# time in dagster.yaml: DuckDB allows one writing process per file and readers block writers.
WAREHOUSE_POOL = "duckdb_warehouse"


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The days of the run's partition window (one day, or a whole single-run backfill range)."""
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date()
    return [start + timedelta(days=k) for k in range((end - start).days)]
