{#- The combination of the given columns is unique across the model's rows. -#}
{% test cycle_unique_combination_of_columns(model, combination_of_columns) %}
select
  {{ combination_of_columns | join(', ') }},
  count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
