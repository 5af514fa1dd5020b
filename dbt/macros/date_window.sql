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

{#- SQL predicate: `column` (a DATE) lies in the partition window. -#}
{% macro cycle_in_window(column) -%}
  {%- set bounds = cycle_window_bounds() -%}
  ({{ column }} >= cast('{{ bounds[0] }}' as date) and {{ column }} <= cast('{{ bounds[1] }}' as date))
{%- endmacro %}

{#- pre_hook for the incremental daily facts: on an incremental run, delete every row of the window first,
    so the window's days are replaced exactly (delete+insert alone only deletes days that still have rows). -#}
{% macro cycle_delete_window(column) -%}
  {%- if is_incremental() -%}
    delete from {{ this }} where {{ cycle_in_window(column) }}
  {%- endif -%}
{%- endmacro %}
