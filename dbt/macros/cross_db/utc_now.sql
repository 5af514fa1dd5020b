{#- The current time as a naive UTC timestamp (the warehouse stores every timestamp as naive UTC), whatever
    the session's time zone. -#}
{% macro cycle_utc_now() -%}
  {{ return(adapter.dispatch('cycle_utc_now', 'cycle')()) }}
{%- endmacro %}

{% macro default__cycle_utc_now() -%}
  (current_timestamp at time zone 'UTC')
{%- endmacro %}

{% macro snowflake__cycle_utc_now() -%}
  convert_timezone('UTC', current_timestamp())::timestamp_ntz
{%- endmacro %}

{% macro bigquery__cycle_utc_now() -%}
  current_datetime('UTC')
{%- endmacro %}
