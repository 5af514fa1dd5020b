-- What each organic post gained on each day with a snapshot: the growth of its cumulative counters since
-- its previous snapshot day, with the attributes the daily marts group by (the publishing account among
-- them: agg_account_daily serves each account's own rows).
-- A post's first day with a snapshot counts from 0 only when that day's first snapshot is its first poll
-- (taken within post_first_poll_max_hours of publication): its counters are then growth since publication.
-- A post first seen later (published before the warehouse's first day, or first synced days after it went
-- out) counts from the day's first snapshot: its counters from before are history the warehouse never saw,
-- and booking them on that day made a false spike (LinkedIn 10.4M impressions on the first day of a
-- three-day warehouse against 1.3M on the next).
-- Reads the whole of fct_post_metrics_daily (not the partition window): the first day of a window needs
-- the post's counters from before it, so a windowed run gives the same increments as a full one.

with post_days as (

    select * from {{ ref('fct_post_metrics_daily') }}

),

snapshots as (

    select * from {{ ref('stg_social_post_snapshots') }}

),

day_openings as (

    -- each post's first snapshot of each day: the counters it had when the day's polls began
    select
        platform,
        post_id,
        snapshot_date,
        snapshot_at as opening_snapshot_at,
        impressions as opening_impressions,
        engagements as opening_engagements,
        clicks as opening_clicks
    from (
        select
            platform,
            post_id,
            snapshot_date,
            snapshot_at,
            impressions,
            engagements,
            clicks,
            row_number() over (partition by platform, post_id, snapshot_date order by snapshot_at) as opening_rank
        from snapshots
    ) as ranked
    where opening_rank = 1

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

    from post_days

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
