{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='metric_date',
        pre_hook=[
            "{{ cycle_delete_window('metric_date', after=var('post_history_lookback_days')) }}",
            "{{ cycle_postgres_hash_joins() }}"
        ]
    )
}}

-- What each organic post gained on each day with a snapshot: the growth of its cumulative counters since
-- its previous snapshot day, with the attributes the daily marts group by (the publishing account among
-- them: agg_account_daily serves each account's own rows).
-- A post's first day with a snapshot counts from 0 only when that day's first snapshot is its first poll
-- (taken within post_first_poll_max_hours of publication): its counters are then growth since publication.
-- A post first seen later (published before the warehouse's first day, or first synced days after it went
-- out) counts from the day's first snapshot: its counters from before are history the warehouse never saw,
-- and booking them on that day made a false spike (LinkedIn 10.4M impressions on the first day of a
-- three-day warehouse against 1.3M on the next).

-- Incremental, so that a new day costs the same however long the history (as a view it read the whole of
-- fct_post_metrics_daily for every day's run). A day's increment counts from the post's previous snapshot
-- day, so a windowed run reads the window plus var post_history_lookback_days (8) of days before it: the
-- pollers stop 168 hours after publication (a few minutes late), so a post's previous snapshot day is at
-- most 7 days back. The same bound forward: a day's increment depends on the days before it, so a run
-- rewrites its window and the lookback's days after it (none yet on the daily run; on a backfill or a rerun
-- of an older day, the later days that counted from it), and a full build and a day-by-day build agree.
-- A post seen again further apart than the lookback (a platform polled past the tracking horizon, or a
-- connector's tracking_horizon_hours raised above the var) would count from the wrong day in a windowed run;
-- such a snapshot is older than the lookback, which fct_post_metrics_daily's post_age_hours test fails on
-- (a gap of more than N days means an age of more than N days), rather than this model silently
-- differing from a full build: raise the var with the horizon.
-- The ranges are plain ranges on the columns read (metric_date, snapshot_at), which DuckDB turns into
-- row-group skipping on the scans.

-- Only a post's first day reads an opening (every later day counts from the previous day's close), so only
-- that day's is found: each post's first day, the earliest snapshot time on it (an aggregate), then that
-- snapshot's counters (a join on the snapshots' unique key); a row_number() over every snapshot, partitioned
-- by post and day, of which one row a post was read, sorted them all.
-- The models are read through ref() where they are read (each twice), not through import CTEs: DuckDB
-- materializes a CTE read more than once, a copy of every snapshot before the work.
{%- set lookback = var('post_history_lookback_days') %}

with first_post_days as (

    select
        platform,
        post_id,
        min(metric_date) as metric_date

    from {{ ref('fct_post_metrics_daily') }}
    {%- if is_incremental() %}
    where {{ cycle_in_window('metric_date', before=lookback, after=lookback) }}
    {%- endif %}
    group by platform, post_id

),

opening_times as (

    select
        snapshots.platform,
        snapshots.post_id,
        snapshots.snapshot_date,
        min(snapshots.snapshot_at) as opening_snapshot_at

    from {{ ref('stg_social_post_snapshots') }} as snapshots

    inner join first_post_days
        on snapshots.platform = first_post_days.platform
        and snapshots.post_id = first_post_days.post_id
        and snapshots.snapshot_date = first_post_days.metric_date

    {%- if is_incremental() %}
    where {{ cycle_timestamp_in_window('snapshots.snapshot_at', before=lookback, after=lookback) }}
    {%- endif %}
    group by snapshots.platform, snapshots.post_id, snapshots.snapshot_date

),

day_openings as (

    -- each post's first snapshot of its first day: the counters it had when its first day's polls began.
    -- (platform, post_id, snapshot_at) is unique (stg_social_post_snapshots' test), so the join finds one
    -- reading; the min()s keep it one row a post, deterministic, were a reading ever duplicated
    select
        opening_times.platform,
        opening_times.post_id,
        opening_times.snapshot_date,
        opening_times.opening_snapshot_at,
        min(snapshots.impressions) as opening_impressions,
        min(snapshots.engagements) as opening_engagements,
        min(snapshots.clicks) as opening_clicks

    from opening_times

    inner join {{ ref('stg_social_post_snapshots') }} as snapshots
        on opening_times.platform = snapshots.platform
        and opening_times.post_id = snapshots.post_id
        and opening_times.opening_snapshot_at = snapshots.snapshot_at
    {%- if is_incremental() %}
    where {{ cycle_timestamp_in_window('snapshots.snapshot_at', before=lookback, after=lookback) }}
    {%- endif %}

    group by
        opening_times.platform,
        opening_times.post_id,
        opening_times.snapshot_date,
        opening_times.opening_snapshot_at

),

{%- set previous = 'over (partition by platform, post_id order by metric_date)' %}

with_previous as (

    -- (the window is spelled out in each lag(): Snowflake has no WINDOW clause)
    select
        post_days.platform,
        post_days.post_id,
        post_days.account_id,
        post_days.metric_date,
        post_days.published_at,
        lag(post_days.metric_date) {{ previous }} as previous_metric_date,
        post_days.hook_type,
        post_days.media_type,
        post_days.topic,
        post_days.engagement_score,
        post_days.impressions,
        post_days.engagements,
        post_days.clicks,
        lag(post_days.impressions) {{ previous }} as previous_impressions,
        lag(post_days.engagements) {{ previous }} as previous_engagements,
        lag(post_days.clicks) {{ previous }} as previous_clicks

    from {{ ref('fct_post_metrics_daily') }} as post_days
    {%- if is_incremental() %}
    where {{ cycle_in_window('post_days.metric_date', before=lookback, after=lookback) }}
    {%- endif %}

),

first_days as (

    -- on a post's first day with a snapshot: how old it was at the day's first snapshot, and that snapshot's counters
    select
        with_previous.*,
        case
            when with_previous.previous_metric_date is null
                then {{ dbt.datediff('with_previous.published_at', 'day_openings.opening_snapshot_at', 'second') }} / 3600.0
        end as first_seen_age_hours,
        day_openings.opening_impressions,
        day_openings.opening_engagements,
        day_openings.opening_clicks

    from with_previous

    left join day_openings
        on with_previous.platform = day_openings.platform
        and with_previous.post_id = day_openings.post_id
        and with_previous.metric_date = day_openings.snapshot_date

),

baselines as (

    -- what each day's growth counts from: the previous snapshot day's closing counters; on the post's first
    -- day 0 when that day's first snapshot was its first poll, else the counters of that first snapshot
    select
        first_days.*,
{%- for counter in ['impressions', 'engagements', 'clicks'] %}
        case
            when previous_metric_date is not null then previous_{{ counter }}
            when first_seen_age_hours <= {{ var('post_first_poll_max_hours', 6) }} then 0
            else coalesce(opening_{{ counter }}, {{ counter }})
        end as baseline_{{ counter }}{{ ',' if not loop.last }}
{%- endfor %}

    from first_days

)

select
    platform,
    post_id,
    account_id,
    metric_date,
    previous_metric_date,
    {{ dbt.cast('first_seen_age_hours', cycle_type_double()) }} as first_seen_age_hours,
    hook_type,
    media_type,
    topic,
    engagement_score,
    impressions,
    engagements,
    clicks,
    {{ dbt.cast('impressions - baseline_impressions', dbt.type_bigint()) }} as impressions_increment,
    {{ dbt.cast('engagements - baseline_engagements', dbt.type_bigint()) }} as engagements_increment,
    {{ dbt.cast('clicks - baseline_clicks', dbt.type_bigint()) }} as clicks_increment

from baselines
{%- if is_incremental() %}

-- the days this run rewrites (the lookback's days before the window only gave the previous days)
where {{ cycle_in_window('metric_date', after=lookback) }}
{%- endif %}
