{#- The partition window (ISO dates, inclusive), from the first of:
    1. vars `min_date` / `max_date` (`dbt build --vars '{min_date: ..., max_date: ...}'`, unit test overrides);
    2. env vars CYCLE_DBT_MIN_DATE / CYCLE_DBT_MAX_DATE: how Dagster passes each partition's window, since
       any change of --vars makes dbt re-parse the whole project while these are only read at execution;
    3. the whole history.
    A bound missing from the source that gives the window is open. -#}
{% macro cycle_window_bounds() -%}
  {%- set min_date = var('min_date', none) -%}
  {%- set max_date = var('max_date', none) -%}
  {#- never while parsing: an env var read then is recorded in the manifest, and a new value re-parses
      every model that read it -#}
  {%- if min_date is none and max_date is none and execute -%}
    {%- set min_date = env_var('CYCLE_DBT_MIN_DATE', '') or none -%}
    {%- set max_date = env_var('CYCLE_DBT_MAX_DATE', '') or none -%}
  {%- endif -%}
  {%- set min_date = (min_date if min_date is not none else '1900-01-01') | string -%}
  {%- set max_date = (max_date if max_date is not none else '9999-12-31') | string -%}
  {%- if modules.re.match('^\d{4}-\d{2}-\d{2}$', min_date) is none
        or modules.re.match('^\d{4}-\d{2}-\d{2}$', max_date) is none -%}
    {{ exceptions.raise_compiler_error("the window (vars min_date/max_date or env CYCLE_DBT_MIN_DATE/CYCLE_DBT_MAX_DATE) must be ISO dates (YYYY-MM-DD), got '" ~ min_date ~ "' / '" ~ max_date ~ "'") }}
  {%- endif -%}
  {%- if min_date > max_date -%}
    {{ exceptions.raise_compiler_error("window start min_date (" ~ min_date ~ ") is after max_date (" ~ max_date ~ ")") }}
  {%- endif -%}
  {{ return((min_date, max_date)) }}
{%- endmacro %}

{#- Whether a partition window is set (either bound, from the vars or, at execution, the env vars): false
    on a full build over the whole history. -#}
{% macro cycle_window_is_set() -%}
  {%- if var('min_date', none) is not none or var('max_date', none) is not none -%}
    {{ return(true) }}
  {%- endif -%}
  {%- if execute -%}
    {{ return((env_var('CYCLE_DBT_MIN_DATE', '') or env_var('CYCLE_DBT_MAX_DATE', '')) | length > 0) }}
  {%- endif -%}
  {{ return(false) }}
{%- endmacro %}

{#- The window's first and last day (ISO), widened by `before` days at its start and `after` days at its end
    (the days a model reads, or rewrites, around the window); an open bound stays open. -#}
{% macro cycle_window_days(before=0, after=0) -%}
  {%- set bounds = cycle_window_bounds() -%}
  {%- set day = modules.datetime.timedelta(days=1) -%}
  {%- set first = bounds[0] -%}
  {%- set last = bounds[1] -%}
  {%- if first != '1900-01-01' and before -%}
    {%- set first = (modules.datetime.date.fromisoformat(first) - day * (before | int)).isoformat() -%}
  {%- endif -%}
  {%- if last != '9999-12-31' and after -%}
    {%- set last = (modules.datetime.date.fromisoformat(last) + day * (after | int)).isoformat() -%}
  {%- endif -%}
  {{ return((first, last)) }}
{%- endmacro %}

{#- SQL predicate: `column` (a DATE) lies in the partition window, widened by `before` / `after` days. -#}
{% macro cycle_in_window(column, before=0, after=0) -%}
  {%- set bounds = cycle_window_days(before, after) -%}
  ({{ column }} >= cast('{{ bounds[0] }}' as date) and {{ column }} <= cast('{{ bounds[1] }}' as date))
{%- endmacro %}

{#- SQL predicate: the TIMESTAMP `column` falls on a day of the partition window, widened by `before` / `after`
    days. The same rows as cycle_in_window on cast(column as date), written as a range on the column itself so
    that the database can use it to skip storage (DuckDB prunes row groups by their min/max on a plain column;
    it does not for a range of cast(... as date), which it evaluates on every row). An open bound adds no
    condition. -#}
{% macro cycle_timestamp_in_window(column, before=0, after=0) -%}
  {%- set bounds = cycle_window_days(before, after) -%}
  {%- set conditions = [] -%}
  {%- if bounds[0] != '1900-01-01' -%}
    {%- do conditions.append(column ~ " >= cast('" ~ bounds[0] ~ " 00:00:00' as " ~ dbt.type_timestamp() ~ ")") -%}
  {%- endif -%}
  {%- if bounds[1] != '9999-12-31' -%}
    {%- set next_day = (modules.datetime.date.fromisoformat(bounds[1]) + modules.datetime.timedelta(days=1)).isoformat() -%}
    {%- do conditions.append(column ~ " < cast('" ~ next_day ~ " 00:00:00' as " ~ dbt.type_timestamp() ~ ")") -%}
  {%- endif -%}
  ({{ conditions | join(' and ') if conditions else '1 = 1' }})
{%- endmacro %}

{#- pre_hook for the incremental daily facts: on an incremental run, delete every row of the window (widened by
    `before` / `after` days, for a model that rewrites the days around it) first, so those days are replaced
    exactly (delete+insert alone only deletes days that still have rows). -#}
{% macro cycle_delete_window(column, before=0, after=0) -%}
  {%- if is_incremental() -%}
    delete from {{ this }} where {{ cycle_in_window(column, before, after) }}
  {%- endif -%}
{%- endmacro %}
