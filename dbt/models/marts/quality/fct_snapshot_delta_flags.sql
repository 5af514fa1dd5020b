{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='snapshot_date',
        pre_hook="{{ cycle_delete_window('snapshot_date') }}"
    )
}}

-- Each snapshot compared with the previous snapshot of the same post, metric by metric: a counter that
-- rises by more than snapshot_delta_flag_ratio (10 = 1000%) from a previous value of at least
-- snapshot_delta_min_previous is flagged for review. The snapshots themselves stay where they are.
-- Review decisions live in the seed snapshot_delta_reviews; a flag without one is pending (the warn
-- test snapshot_delta_flags_pending_review counts them). They are not joined in here because an
-- incremental run only rewrites its window, so a decision on an older flag would never show.

{%- set metrics = ['impressions', 'likes', 'comments', 'shares', 'clicks', 'quotes', 'saves'] %}
{%- set ratio = var('snapshot_delta_flag_ratio') %}
{%- set min_previous = var('snapshot_delta_min_previous') %}

{%- set lookback = var('snapshot_delta_lookback_days') %}

with snapshots as (

    select
        platform,
        post_id,
        snapshot_at,
        snapshot_date,
        {{ metrics | join(',\n        ') }}
    from {{ ref('stg_social_post_snapshots') }}
    {% if is_incremental() %}
    -- the window's snapshots: a range on snapshot_at itself (not on snapshot_date, a cast of it), so the raw
    -- table's scan can skip the other days
    where {{ cycle_timestamp_in_window('snapshot_at') }}

    union all

    -- and the predecessor of each post's first one: the post's latest snapshot in the lookback days before the
    -- window. Only that one row a post, found by an aggregate and a join on the key, rather than every snapshot
    -- of the lookback through the window functions below (a week of every post's readings at volume)
    select
        history.platform,
        history.post_id,
        history.snapshot_at,
        history.snapshot_date,
        {% for metric in metrics %}history.{{ metric }}{{ ',' if not loop.last }}
        {% endfor %}
    from {{ ref('stg_social_post_snapshots') }} as history
    inner join (
        select platform, post_id, max(snapshot_at) as snapshot_at
        from {{ ref('stg_social_post_snapshots') }}
        where {{ cycle_timestamp_in_window('snapshot_at', before=lookback) }}
          and not {{ cycle_timestamp_in_window('snapshot_at') }}
        group by platform, post_id
    ) as latest_before
        on latest_before.platform = history.platform
        and latest_before.post_id = history.post_id
        and latest_before.snapshot_at = history.snapshot_at
    where {{ cycle_timestamp_in_window('history.snapshot_at', before=lookback) }}
    {% endif %}

),

paired as (

    select
        snapshots.*,
        lag(snapshot_at) over (partition by platform, post_id order by snapshot_at) as previous_snapshot_at
        {%- for metric in metrics %},
        lag({{ metric }}) over (partition by platform, post_id order by snapshot_at) as previous_{{ metric }}
        {%- endfor %}
    from snapshots

),

deltas as (

    {%- for metric in metrics %}
    select
        platform,
        post_id,
        snapshot_at,
        snapshot_date,
        previous_snapshot_at,
        '{{ metric }}' as metric,
        previous_{{ metric }} as previous_value,
        {{ metric }} as current_value
    from paired
    where previous_snapshot_at is not null
      and previous_{{ metric }} >= {{ min_previous }}
      and {{ metric }} - previous_{{ metric }} > {{ ratio }} * previous_{{ metric }}
      {%- if is_incremental() %}
      and {{ cycle_in_window('snapshot_date') }}
      {%- endif %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}

)

select
    deltas.platform,
    deltas.post_id,
    deltas.snapshot_at,
    deltas.snapshot_date,
    deltas.previous_snapshot_at,
    deltas.metric,
    {{ dbt.cast('deltas.previous_value', dbt.type_bigint()) }} as previous_value,
    {{ dbt.cast('deltas.current_value', dbt.type_bigint()) }} as current_value,
    {{ cycle_safe_divide('deltas.current_value - deltas.previous_value', 'deltas.previous_value') }} as relative_delta,
    {{ dbt.cast(dbt.datediff('deltas.previous_snapshot_at', 'deltas.snapshot_at', 'second'), cycle_type_double()) }} / 3600.0
        as hours_since_previous,
    {{ dbt.cast(ratio, cycle_type_double()) }} as flag_ratio,
    {{ dbt.cast(min_previous, dbt.type_bigint()) }} as min_previous_value

from deltas
