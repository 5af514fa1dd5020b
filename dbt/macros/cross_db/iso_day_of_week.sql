{#- ISO day of week of a date/timestamp expression: 1 = Monday .. 7 = Sunday. -#}
{% macro cycle_iso_day_of_week(expr) -%}
  {{ return(adapter.dispatch('cycle_iso_day_of_week', 'cycle')(expr)) }}
{%- endmacro %}

{% macro default__cycle_iso_day_of_week(expr) -%}
  extract(isodow from {{ expr }})
{%- endmacro %}

{% macro duckdb__cycle_iso_day_of_week(expr) -%}
  isodow({{ expr }})
{%- endmacro %}

{% macro snowflake__cycle_iso_day_of_week(expr) -%}
  dayofweekiso({{ expr }})
{%- endmacro %}

{% macro bigquery__cycle_iso_day_of_week(expr) -%}
  {#- BigQuery: 1 = Sunday .. 7 = Saturday -#}
  (mod(extract(dayofweek from {{ expr }}) + 5, 7) + 1)
{%- endmacro %}
