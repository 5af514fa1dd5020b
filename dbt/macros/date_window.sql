{#- The Dagster partition window passed as vars `min_date` / `max_date` (ISO dates, inclusive). -#}
{% macro cycle_window_bounds() -%}
  {%- set min_date = var('min_date') | string -%}
  {%- set max_date = var('max_date') | string -%}
  {%- if modules.re.match('^\d{4}-\d{2}-\d{2}$', min_date) is none
        or modules.re.match('^\d{4}-\d{2}-\d{2}$', max_date) is none -%}
    {{ exceptions.raise_compiler_error("vars min_date/max_date must be ISO dates (YYYY-MM-DD), got '" ~ min_date ~ "' / '" ~ max_date ~ "'") }}
  {%- endif -%}
  {%- if min_date > max_date -%}
    {{ exceptions.raise_compiler_error("var min_date (" ~ min_date ~ ") is after max_date (" ~ max_date ~ ")") }}
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
