{#- A double-precision float. dbt.type_float() renders `float`, which DuckDB reads as a 4-byte REAL, so
    DuckDB gets an explicit `double`; every other adapter keeps dbt's own float (8 bytes there). -#}
{% macro cycle_type_double() -%}
  {{ return(adapter.dispatch('cycle_type_double', 'cycle')()) }}
{%- endmacro %}

{% macro default__cycle_type_double() -%}
  {{ return(dbt.type_float()) }}
{%- endmacro %}

{% macro duckdb__cycle_type_double() -%}
  {{ return('double') }}
{%- endmacro %}
