-- Rows held back from the facts because a parent row from another raw source is missing (quarantined or
-- not loaded): one row per child row and missing parent, with the reason. The relationships are listed
-- once, in macros/held_back.sql, which also builds the intermediate models that keep the other rows, so
-- every child row is either there or here. Rebuilt whole on every run (the current state, never a log):
-- a row leaves this table with the first build after its parent arrives, and its fact takes it back.

{%- set columns = [
    'child_model', 'child_table', 'kept_in', 'child_platform', 'child_id', 'child_date',
    'parent', 'parent_table', 'parent_platform', 'parent_id', 'parent_date', 'partition_date'
] %}

with held as (

    {{ cycle_held_back_rows() | indent(4) }}

),

-- the parent's quarantined records, when its key could still be read: a parent of one day matches its
-- partition, a post any partition
quarantine as (

    select source_table, platform, record_key, partition_date, reason
    from {{ source('raw', 'raw_quarantine') }}
    where record_key is not null

),

explained as (

    select
        {% for column in columns -%}
        held.{{ column }},
        {% endfor -%}
        min(quarantine.reason) as quarantine_reason

    from held

    left join quarantine
        on quarantine.source_table = held.parent_table
        and quarantine.platform = held.parent_platform
        and quarantine.record_key = held.parent_id
        and (held.parent_date is null or quarantine.partition_date = held.parent_date)

    group by {% for column in columns %}held.{{ column }}{% if not loop.last %}, {% endif %}{% endfor %}

)

select
    {{ columns | join(',\n    ') }},
    quarantine_reason,
    {{ dbt.concat([
        "'parent '", 'parent', "' '", 'parent_id', "' ('", 'parent_platform', "')'",
        "case when parent_date is null then '' else " ~ dbt.concat(["' on '", dbt.cast('parent_date', dbt.type_string())]) ~ " end",
        "' not in '", 'parent_table',
        "case when quarantine_reason is null then ' (quarantined or not loaded)' else "
            ~ dbt.concat(["' (quarantined: '", 'quarantine_reason', "')'"]) ~ " end"
    ]) }} as reason

from explained
