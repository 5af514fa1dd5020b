{#- Every row's combination of `columns` (non-null) exists as `to_columns` (default: the same names) in
    `to`: a foreign key of several columns. -#}
{% test cycle_relationships_composite(model, to, columns, to_columns=none) %}
{%- set to_columns = to_columns or columns -%}
select child.*
-- `model` may be a filtered subquery with its own alias (a test's `where`): wrapped so it can be aliased here
from (select * from {{ model }}) as child
where {% for c in columns %}child.{{ c }} is not null{% if not loop.last %} and {% endif %}{% endfor %}
  and not exists (
    select 1
    from {{ to }} as parent
    where {% for c in columns %}parent.{{ to_columns[loop.index0] }} = child.{{ c }}{% if not loop.last %} and {% endif %}{% endfor %}
  )
{% endtest %}
