{#- Rows where the boolean SQL expression is not true (false or null) fail. -#}
{% test cycle_expression_is_true(model, expression) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
