{#- Every row of the model is a failure: for a model listing things that need attention (held-back rows),
    whose count a warn-severity test surfaces (a WARN asset check in Dagster). -#}
{% test cycle_has_no_rows(model) %}
select *
from {{ model }}
{% endtest %}
