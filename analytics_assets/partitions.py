import dagster as dg

# One daily partitioning shared by every daily asset: the day the data describes (UTC).
daily_partitions = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_offset=0)

# Every asset that opens the DuckDB warehouse (dbt included) runs in this pool, limited to one at a
# time in dagster.yaml: DuckDB allows one writing process per file and readers block writers.
WAREHOUSE_POOL = "duckdb_warehouse"
