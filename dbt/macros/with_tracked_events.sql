{#- The rows of a raw source table and of its tracked-events twin, the same columns: the simulator's or a
    connector's table, and the events sent to POST /v1/events or landed as files (analytics_assets/contracts/
    events.py). A tracked row is filed under the day it happened (happened_at). One whose keys the source table
    holds too is left out, so the source's row wins and the keys stay unique.

    columns: the shared columns' names and types (string, timestamp, bigint, double, date), partition_date and
    loaded_at aside. The tracked table is created by the first tracked-events load: until then it holds no rows
    (cycle_source_or_empty), and a date column of that empty stand-in is read back as a date. -#}
{% macro cycle_with_tracked_events(raw_table, tracked_table, columns, happened_at, keys) -%}
{%- set tracked_columns = {} -%}
{%- for name, type in columns.items() -%}
    {%- do tracked_columns.update({name: 'timestamp' if type == 'date' else type}) -%}
{%- endfor -%}
{%- do tracked_columns.update({'loaded_at': 'timestamp'}) -%}
    select
    {%- for name in columns %}
        {{ name }},
    {%- endfor %}
        partition_date,
        loaded_at
    from {{ source('raw', raw_table) }}

    union all

    select
    {%- for name, type in columns.items() %}
        {% if type == 'date' %}cast({{ name }} as date) as {{ name }}{% else %}{{ name }}{% endif %},
    {%- endfor %}
        cast({{ happened_at }} as date) as partition_date,
        loaded_at
    from (
        {{ cycle_source_or_empty(source('raw', tracked_table), tracked_columns) }}
    ) as tracked
    where not exists (
        select 1
        from {{ source('raw', raw_table) }} as source_rows
        where {% for key in keys %}source_rows.{{ key }} = tracked.{{ key }}{{ " and " if not loop.last }}{% endfor %}
    )
{%- endmacro %}
