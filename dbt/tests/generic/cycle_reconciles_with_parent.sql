{#- The model's rows, summed per `keys`, equal the `parent` row with the same keys for each of `measures`
    (within `tolerance`), and every parent row with activity has child rows. Days on which a record of
    one of `quarantine_tables` was quarantined for the same platform are skipped: a quarantined record
    is a known, reported gap (raw.raw_quarantine), not a reconciliation error. When the model's tests are
    windowed (meta test_window, macros/test_window.sql), the parent is read over the same window: its rows of
    other days have no child rows in the windowed model and are no error. -#}
{% test cycle_reconciles_with_parent(model, parent, keys, measures, tolerance=0.005, date_column='metric_date', quarantine_tables=[]) %}
with children as (
  select {{ keys | join(', ') }}{% for m in measures %}, sum({{ m }}) as {{ m }}{% endfor %}
  from {{ model }}
  group by {{ keys | join(', ') }}
),
{%- set window = cycle_model_test_window() %}
parents as (
  select {{ keys | join(', ') }}{% for m in measures %}, {{ m }}{% endfor %}
  from {{ parent }}
  {%- if window %}
  where {{ window }}
  {%- endif %}
),
{%- if quarantine_tables %}
gaps as (
  select distinct platform, partition_date
  from {{ source('raw', 'raw_quarantine') }}
  where source_table in ('{{ quarantine_tables | join("', '") }}')
),
{%- endif %}
compared as (
  select
    {% for k in keys %}coalesce(parents.{{ k }}, children.{{ k }}) as {{ k }},{% endfor %}
    {% for m in measures %}
    parents.{{ m }} as parent_{{ m }},
    children.{{ m }} as children_{{ m }}{% if not loop.last %},{% endif %}
    {% endfor %}
  from parents
  full outer join children
    on {% for k in keys %}parents.{{ k }} = children.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
)
select compared.*
from compared
where (
    {% for m in measures %}
    abs(coalesce(parent_{{ m }}, 0) - coalesce(children_{{ m }}, 0)) > {{ tolerance }}{% if not loop.last %} or{% endif %}
    {% endfor %}
  )
  {%- if quarantine_tables %}
  and not exists (
    select 1 from gaps
    where gaps.platform = compared.platform and gaps.partition_date = compared.{{ date_column }}
  )
  {%- endif %}
{% endtest %}
