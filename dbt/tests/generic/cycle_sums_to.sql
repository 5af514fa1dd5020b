{#- Within each group, the column sums to `expected` (a number or a SQL expression constant within the
    group, e.g. another column) give or take `tolerance`. -#}
{% test cycle_sums_to(model, column_name, group_by_columns, expected=1, tolerance=0.000001) %}
select
  {{ group_by_columns | join(', ') }},
  sum({{ column_name }}) as actual_sum,
  max({{ expected }}) as expected_sum
from {{ model }}
group by {{ group_by_columns | join(', ') }}
having abs(sum({{ column_name }}) - max({{ expected }})) > {{ tolerance }}
   or sum({{ column_name }}) is null
{% endtest %}
