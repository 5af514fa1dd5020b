{#- Every row of the model is covered by exactly one version of a type-2 dimension `to`: the version with
    the same key `columns` whose [valid_from, valid_to) contains the row's `date_column` (valid_to null =
    still current). Rows matched by no version or by several fail. -#}
{% test cycle_scd_covers_date(model, to, columns, date_column, valid_from='valid_from', valid_to='valid_to') %}
-- the model through a CTE: windowed (a `where` config), it is a subquery with its own alias
with child_rows as (
    select * from {{ model }}
)
select child.*
from child_rows as child
where (
    select count(*)
    from {{ to }} as parent
    where {% for c in columns %}parent.{{ c }} = child.{{ c }} and {% endfor %}parent.{{ valid_from }} <= child.{{ date_column }}
      and (parent.{{ valid_to }} is null or child.{{ date_column }} < parent.{{ valid_to }})
  ) <> 1
{% endtest %}
