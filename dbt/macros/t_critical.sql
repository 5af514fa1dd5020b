{#- Two-sided 95% critical value of Student's t with `df` degrees of freedom (a SQL expression):
    exact values from the seed t_critical_values_95 for df <= 30 (joined by the caller as `t_table`),
    beyond that the Cornish-Fisher expansion around z = 1.959964, which is within 1e-4 of the exact
    quantile for df > 30. Portable: plain arithmetic. -#}
{% macro cycle_t_critical_95(df, table_value) -%}
  case
    when {{ df }} is null or {{ df }} < 1 then null
    when {{ df }} <= 30 then {{ table_value }}
    else 1.959964
      + (power(1.959964, 3) + 1.959964) / (4.0 * {{ df }})
      + (5 * power(1.959964, 5) + 16 * power(1.959964, 3) + 3 * 1.959964) / (96.0 * power({{ df }}, 2))
  end
{%- endmacro %}
