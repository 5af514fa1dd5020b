{#- Continuous percentile (0 < p < 1) aggregate of a numeric expression, interpolated like
    percentile_cont. -#}
{% macro cycle_percentile(expr, p) -%}
  {{ return(adapter.dispatch('cycle_percentile', 'cycle')(expr, p)) }}
{%- endmacro %}

{% macro default__cycle_percentile(expr, p) -%}
  percentile_cont({{ p }}) within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__cycle_percentile(expr, p) -%}
  quantile_cont({{ expr }}, {{ p }})
{%- endmacro %}

{% macro bigquery__cycle_percentile(expr, p) -%}
  {#- BigQuery has no percentile aggregate; 1000-quantile approximation -#}
  approx_quantiles({{ expr }}, 1000)[offset({{ (p * 1000) | int }})]
{%- endmacro %}
