{#- Median aggregate of a numeric expression. -#}
{% macro cycle_median(expr) -%}
  {{ return(adapter.dispatch('cycle_median', 'cycle')(expr)) }}
{%- endmacro %}

{% macro default__cycle_median(expr) -%}
  percentile_cont(0.5) within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__cycle_median(expr) -%}
  median({{ expr }})
{%- endmacro %}

{% macro snowflake__cycle_median(expr) -%}
  median({{ expr }})
{%- endmacro %}

{% macro bigquery__cycle_median(expr) -%}
  {#- BigQuery has no exact median aggregate; 100-quantile approximation -#}
  approx_quantiles({{ expr }}, 100)[offset(50)]
{%- endmacro %}
