{#- Rows that need a parent row from another raw source before they may enter the facts. Quarantine keeps a
    malformed record out of its raw table; the rows of other sources that point at it would otherwise reach
    the facts without their parent (and fail the relationships tests: one bad record would stop the run).
    Such a row is held back instead: the intermediate model that feeds the facts keeps only the rows whose
    parents are all present (cycle_rows_with_parents) and fct_held_back_rows lists every other one with the
    parent it waits for (cycle_held_back_rows). Both sides are built from the one list below, so a row is
    always in exactly one of them. Nothing is stored: every build re-evaluates the rule, so a held row is
    released by the first build after its parent arrives.

    Each relationship: the child staging model and its raw table, the intermediate model keeping its rows
    (kept_in), the child's own key (platform, id, date columns), the parent (a name for messages, its
    staging model and raw table), `keys` = [child column, parent column] pairs that must match, and the
    child columns holding the parent's platform, id and (for a parent of one day) date. A child whose
    parent key has a null column needs no parent (as in dbt's relationships test).

    `exempt` (optional): [child column, values]: a child row whose column holds one of the values needs no
    such parent, because that parent can never arrive. The one use: a boost of a Facebook page post or of
    Instagram media (a Meta ad promoting a published post). Cycle polls no organic Facebook/Instagram posts,
    so holding such a boost until its post's snapshots arrive would hold it forever (and keep the
    held_back_rows_waiting_for_a_parent WARN on for nothing); it enters the facts paid side only, its
    organic side null. A boost of a tracked platform whose post is missing is still held back. -#}

{#- The organic platforms whose boosted posts Cycle does not track (contracts.raw.UNTRACKED_BOOST_PLATFORMS,
    kept equal by tests/connectors/test_meta_boosts.py): their boosts have no organic snapshots. -#}
{% macro cycle_untracked_boost_platforms() -%}
  {{ return(['facebook', 'instagram']) }}
{%- endmacro %}

{#- SQL predicate: the boost row `alias` promotes a post Cycle does not track organically. -#}
{% macro cycle_is_untracked_boost(alias=none) -%}
  {%- set column = (alias ~ '.' if alias else '') ~ 'organic_platform' -%}
  {{ column }} in ({% for platform in cycle_untracked_boost_platforms() %}{{ dbt.string_literal(platform) }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{% macro cycle_parent_relationships() -%}
  {{ return([
    {
      'child': 'stg_boosts', 'child_table': 'raw_boosts', 'kept_in': 'int_boosts_with_parents',
      'child_platform': 'ad_platform', 'child_id': 'boost_id', 'child_date': 'boost_date',
      'parent': 'campaign', 'parent_model': 'stg_ad_campaign_metrics', 'parent_table': 'raw_ad_campaign_metrics',
      'keys': [['ad_platform', 'platform'], ['campaign_id', 'campaign_id'], ['boost_date', 'metric_date']],
      'parent_platform': 'ad_platform', 'parent_id': 'campaign_id', 'parent_date': 'boost_date',
    },
    {
      'child': 'stg_boosts', 'child_table': 'raw_boosts', 'kept_in': 'int_boosts_with_parents',
      'child_platform': 'ad_platform', 'child_id': 'boost_id', 'child_date': 'boost_date',
      'parent': 'post', 'parent_model': 'stg_social_post_snapshots', 'parent_table': 'raw_social_post_snapshots',
      'keys': [['organic_platform', 'platform'], ['post_id', 'post_id']],
      'parent_platform': 'organic_platform', 'parent_id': 'post_id', 'parent_date': none,
      'exempt': ['organic_platform', cycle_untracked_boost_platforms()],
    },
    {
      'child': 'stg_ad_creative_metrics', 'child_table': 'raw_ad_creative_metrics',
      'kept_in': 'int_ad_creative_metrics_with_parents',
      'child_platform': 'platform', 'child_id': 'ad_id', 'child_date': 'metric_date',
      'parent': 'campaign', 'parent_model': 'stg_ad_campaign_metrics', 'parent_table': 'raw_ad_campaign_metrics',
      'keys': [['platform', 'platform'], ['campaign_id', 'campaign_id'], ['metric_date', 'metric_date']],
      'parent_platform': 'platform', 'parent_id': 'campaign_id', 'parent_date': 'metric_date',
    },
  ]) }}
{%- endmacro %}

{#- SQL predicate: the row `child_alias` of relationship `rel`'s child has its parent (or needs none). -#}
{% macro cycle_has_parent(rel, child_alias='child') -%}
  (
    {%- if rel.get('exempt') %}
    {{ child_alias }}.{{ rel['exempt'][0] }} in ({% for value in rel['exempt'][1] %}{{ dbt.string_literal(value) }}{% if not loop.last %}, {% endif %}{% endfor %}) or
    {%- endif %}
    {%- for pair in rel['keys'] %}
    {{ child_alias }}.{{ pair[0] }} is null or
    {%- endfor %}
    exists (
      select 1
      from {{ ref(rel['parent_model']) }} as parent
      where {% for pair in rel['keys'] -%}
        parent.{{ pair[1] }} = {{ child_alias }}.{{ pair[0] }}{% if not loop.last %} and {% endif %}
      {%- endfor %}
    )
  )
{%- endmacro %}

{#- The rows of staging model `child` whose parents are all present: what the facts may read. -#}
{% macro cycle_rows_with_parents(child) -%}
  {%- set relationships = cycle_parent_relationships() | selectattr('child', 'equalto', child) | list -%}
  {%- if relationships | length == 0 -%}
    {{ exceptions.raise_compiler_error("cycle_rows_with_parents: no parent relationship of '" ~ child ~ "' in cycle_parent_relationships()") }}
  {%- endif -%}
select child.*
from {{ ref(child) }} as child
where
  {%- for rel in relationships %}
  {{ cycle_has_parent(rel) }}{% if not loop.last %} and{% endif %}
  {%- endfor %}
{%- endmacro %}

{#- One SELECT per relationship (union all), one row per child row and missing parent, with the columns of
    fct_held_back_rows before the quarantine lookup: child_model, child_table, kept_in, child_platform,
    child_id, child_date, parent, parent_table, parent_platform, parent_id, parent_date, partition_date. -#}
{% macro cycle_held_back_rows() -%}
  {%- for rel in cycle_parent_relationships() %}
select
    {{ dbt.string_literal(rel['child']) }} as child_model,
    {{ dbt.string_literal(rel['child_table']) }} as child_table,
    {{ dbt.string_literal(rel['kept_in']) }} as kept_in,
    {{ dbt.cast('child.' ~ rel['child_platform'], dbt.type_string()) }} as child_platform,
    {{ dbt.cast('child.' ~ rel['child_id'], dbt.type_string()) }} as child_id,
    child.{{ rel['child_date'] }} as child_date,
    {{ dbt.string_literal(rel['parent']) }} as parent,
    {{ dbt.string_literal(rel['parent_table']) }} as parent_table,
    {{ dbt.cast('child.' ~ rel['parent_platform'], dbt.type_string()) }} as parent_platform,
    {{ dbt.cast('child.' ~ rel['parent_id'], dbt.type_string()) }} as parent_id,
    {% if rel['parent_date'] %}child.{{ rel['parent_date'] }}{% else %}cast(null as date){% endif %} as parent_date,
    child.partition_date
from {{ ref(rel['child']) }} as child
where not {{ cycle_has_parent(rel) }}
{% if not loop.last %}
union all
{% endif %}
  {%- endfor %}
{%- endmacro %}
