{#- numerator / denominator as a double, null when the denominator is null or 0 (never a division error,
    never integer division). -#}
{% macro cycle_safe_divide(numerator, denominator) -%}
  case
    when ({{ denominator }}) is null or ({{ denominator }}) = 0 then null
    else {{ dbt.cast(numerator, cycle_type_double()) }} / ({{ denominator }})
  end
{%- endmacro %}
