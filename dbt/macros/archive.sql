{#- Archived partitions of a raw table (written by the Dagster asset raw_snapshot_archive), as a SELECT
    with the hot table's columns in its order, or '' when there is nothing archived or the adapter cannot
    read the archive. Staging models union it with the hot table so a full refresh keeps archived history.

    Archive root: env var CYCLE_ARCHIVE_DIR, else the `archive` folder beside the DuckDB warehouse file
    (the same rule as analytics_assets.defs.ingest.retention.archive_root). Files:
    <root>/<table>/partition_date=YYYY-MM-DD/part-0.parquet. The partition column is stored inside each
    file, so the folder names are not read as hive partitions. -#}
{% macro cycle_archived_rows(relation) -%}
  {{ return(adapter.dispatch('cycle_archived_rows', 'cycle')(relation)) }}
{%- endmacro %}

{% macro default__cycle_archived_rows(relation) -%}
  {#- only the embedded DuckDB warehouse archives to local Parquet files -#}
  {{ return('') }}
{%- endmacro %}

{% macro duckdb__cycle_archived_rows(relation) -%}
  {%- if not execute -%}
    {{ return('') }}
  {%- endif -%}
  {%- set root = env_var('CYCLE_ARCHIVE_DIR', '') -%}
  {%- if not root -%}
    {%- set found = run_query("select parse_dirpath(path) from duckdb_databases() where database_name = current_database()") -%}
    {%- set db_dir = found.columns[0].values()[0] if found and found.rows | length > 0 else none -%}
    {%- if not db_dir -%}
      {{ return('') }}
    {%- endif -%}
    {%- set root = db_dir ~ '/archive' -%}
  {%- endif -%}
  {%- set pattern = "'" ~ (root ~ '/' ~ relation.identifier ~ '/partition_date=*/*.parquet') | replace("'", "''") ~ "'" -%}
  {%- set files = run_query('select count(*) from glob(' ~ pattern ~ ')') -%}
  {%- if files.columns[0].values()[0] == 0 -%}
    {{ return('') }}
  {%- endif -%}
  {%- set columns = adapter.get_columns_in_relation(relation) -%}
  {%- if columns | length == 0 -%}
    {{ return('') }}
  {%- endif -%}
  {#- a column added to the raw table after a day was archived is in none of that day's files: null there -#}
  {%- set described = run_query('describe select * from read_parquet(' ~ pattern ~ ', union_by_name = true, hive_partitioning = false)') -%}
  {%- set archived = described.columns[0].values() | map('lower') | list -%}
  {%- set select -%}
    select
      {%- for column in columns %}
        {%- if column.name | lower in archived %}
        cast({{ adapter.quote(column.name) }} as {{ column.data_type }}) as {{ adapter.quote(column.name) }}{{ ',' if not loop.last }}
        {%- else %}
        cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}{{ ',' if not loop.last }}
        {%- endif %}
      {%- endfor %}
    from read_parquet({{ pattern }}, union_by_name = true, hive_partitioning = false)
  {%- endset -%}
  {{ return(select) }}
{%- endmacro %}
