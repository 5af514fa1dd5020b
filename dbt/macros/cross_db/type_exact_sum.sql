{#- The fixed-point type cycle_exact_sum adds in: 38 digits, 18 of them decimals. DuckDB keeps it in 128-bit
    integers, PostgreSQL and Snowflake in their exact numeric; BigQuery's NUMERIC has only 9 decimals, so
    it gets its BIGNUMERIC (38 decimals). -#}
{% macro cycle_type_exact_sum() -%}
  {{ return(adapter.dispatch('cycle_type_exact_sum', 'cycle')()) }}
{%- endmacro %}

{% macro default__cycle_type_exact_sum() -%}
  {{ return('decimal(38, 18)') }}
{%- endmacro %}

{% macro bigquery__cycle_type_exact_sum() -%}
  {{ return('bignumeric') }}
{%- endmacro %}
