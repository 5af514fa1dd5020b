{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['platform', 'post_id'],
        pre_hook="{{ cycle_delete_vanished_posts() }}"
    )
}}

-- Incremental on the post: a windowed run recomputes only the posts it can change, those with a row of
-- fct_post_metrics_daily in the window and those whose stored span of days meets it (a rerun of a day can
-- move a post's first or latest day off it), and keeps every other post's row as it was. Their history is
-- read over the window widened by var post_history_lookback_days (8) on both sides, as plain ranges on
-- metric_date and snapshot_at that reach the scans: a post's snapshot days lie within 8 days of its
-- publication (the pollers' 168-hour tracking horizon), so that range holds all of them; a post seen again
-- later than that would be recomputed from part of its history, and fct_post_metrics_daily's post_age_hours
-- test fails on such a snapshot instead. A post not rebuilt whose boosted flag no longer matches the boosts (a
-- boost of an older post added, or removed by a restated day) keeps its stored row with the flag set anew; a
-- post no longer in fct_post_metrics_daily at all (its days rebuilt without it) is deleted by the pre-hook
-- (macros/marts/dim_post.sql).
{%- set lookback = var('post_history_lookback_days') %}
{%- set window_days = cycle_window_days() %}

-- fct_post_metrics_daily and the snapshots are read through ref() where they are read (twice each), not
-- through import CTEs: DuckDB materializes a CTE read more than once, a copy of every row before the work

with
{%- if is_incremental() %}

posts_to_build as (

    select platform, post_id
    from {{ ref('fct_post_metrics_daily') }}
    where {{ cycle_in_window('metric_date') }}

    union

    select platform, post_id
    from {{ this }}
    where first_metric_date <= cast('{{ window_days[1] }}' as date)
        and latest_metric_date >= cast('{{ window_days[0] }}' as date)

),
{%- endif %}

boosts as (

    -- every boost of every post (the boosts table is small: one row a boost and day)
    select
        organic_platform as platform,
        post_id,
        count(distinct boost_id) as boosts

    from {{ ref('stg_boosts') }}
    group by organic_platform, post_id

),

-- each post's identity as its platform shows it: per column, the latest snapshot that carried a value (a
-- poll whose payload lacked it, or a day archived before it was collected, does not erase it).
-- Set-based rather than a row_number() per column (three sorts of every snapshot): one aggregate finds the
-- time of each column's latest non-null reading, one join back on the post reads the values at those times.
-- (platform, post_id, snapshot_at) is the snapshots' unique key, so each time is one reading and this picks
-- what the ranks picked; were a time ever duplicated, max() picks one value deterministically.
identity_times as (

    select
        snapshots.platform,
        snapshots.post_id,
        max(case when snapshots.post_url is not null then snapshots.snapshot_at end) as post_url_at,
        max(case when snapshots.post_excerpt is not null then snapshots.snapshot_at end) as post_excerpt_at,
        max(case when snapshots.author_name is not null then snapshots.snapshot_at end) as author_name_at

    from {{ ref('stg_social_post_snapshots') }} as snapshots
    where (snapshots.post_url is not null or snapshots.post_excerpt is not null or snapshots.author_name is not null)
    {%- if is_incremental() %}
        and {{ cycle_timestamp_in_window('snapshots.snapshot_at', before=lookback, after=lookback) }}
    {%- endif %}
    group by snapshots.platform, snapshots.post_id

),

identity as (

    select
        identity_times.platform,
        identity_times.post_id,
        max(case when snapshots.snapshot_at = identity_times.post_url_at then snapshots.post_url end) as post_url,
        max(case when snapshots.snapshot_at = identity_times.post_excerpt_at then snapshots.post_excerpt end)
            as post_excerpt,
        max(case when snapshots.snapshot_at = identity_times.author_name_at then snapshots.author_name end)
            as author_name

    from identity_times

    inner join {{ ref('stg_social_post_snapshots') }} as snapshots
        on identity_times.platform = snapshots.platform
        and identity_times.post_id = snapshots.post_id
        -- a column never carried has a null time, which matches nothing
        and snapshots.snapshot_at in (
            identity_times.post_url_at, identity_times.post_excerpt_at, identity_times.author_name_at
        )
    {%- if is_incremental() %}

    where {{ cycle_timestamp_in_window('snapshots.snapshot_at', before=lookback, after=lookback) }}
    {%- endif %}

    group by identity_times.platform, identity_times.post_id

),

-- each post's span of days: its latest day (the row served), its first, and how many it had. An aggregate
-- and a join back on fct_post_metrics_daily's unique key (platform, post_id, metric_date; the day compared with
-- `>=` in `latest`, which matches only the latest day) instead of row_number() and two windows: the key has no
-- ties (its test), so the join finds the one row the rank found; a duplicated key would come through twice and
-- fail this model's unique test, where the rank picked one row at random
spans as (

    select
        post_days.platform,
        post_days.post_id,
        max(post_days.metric_date) as latest_metric_date,
        min(post_days.metric_date) as first_metric_date,
        count(*) as days_observed

    from {{ ref('fct_post_metrics_daily') }} as post_days
    {%- if is_incremental() %}
    where {{ cycle_in_window('post_days.metric_date', before=lookback, after=lookback) }}
    {%- endif %}
    group by post_days.platform, post_days.post_id

),

latest as (

    select
        post_days.*,
        spans.first_metric_date,
        spans.days_observed

    from {{ ref('fct_post_metrics_daily') }} as post_days

    inner join spans
        on post_days.platform = spans.platform
        and post_days.post_id = spans.post_id
        -- `>=` rather than `=`: the same rows (no day is after the latest), but PostgreSQL cannot estimate an
        -- equality on an aggregate and guessed 1 row, made that the outer side of the left joins below and
        -- ran the identity aggregate once per post in a nested loop (on the tests' three days over 5 minutes,
        -- and 26 s with these joins moved onto spans, which it reordered back); an inequality it estimates as
        -- a third of the candidates, so it hashes the joins: 0.33 s (EXPLAIN ANALYZE, PostgreSQL 15)
        and post_days.metric_date >= spans.latest_metric_date
    {%- if is_incremental() %}

    where {{ cycle_in_window('post_days.metric_date', before=lookback, after=lookback) }}
    {%- endif %}

)

select
    latest.platform,
    latest.post_id,
    latest.account_id,
    latest.published_at,
    latest.published_date,
    latest.publish_hour,
    latest.publish_dow,
    latest.hook_type,
    latest.media_type,
    latest.topic,
    latest.text_length,
    latest.first_metric_date,
    latest.metric_date as latest_metric_date,
    latest.snapshot_at as latest_snapshot_at,
    latest.days_observed,
    latest.post_age_hours,
    latest.impressions,
    latest.likes,
    latest.comments,
    latest.shares,
    latest.clicks,
    latest.quotes,
    latest.saves,
    latest.engagements,
    latest.engagement_rate,
    latest.engagement_score,
    coalesce(boosts.boosts, 0) > 0 as is_boosted,
    identity.post_url,
    identity.post_excerpt,
    identity.author_name

from latest

left join boosts
    on latest.platform = boosts.platform
    and latest.post_id = boosts.post_id

left join identity
    on latest.platform = identity.platform
    and latest.post_id = identity.post_id
{%- if is_incremental() %}

-- the posts this run rebuilds (the ranges above hold their whole history, and part of some others'). Their
-- semi-join comes last, not inside the aggregates: joined to the spans, PostgreSQL estimated one row, made it
-- the outer side of the left joins and ran the identity aggregate once per post in a nested loop (minutes on
-- the tests' three days; the `>=` in latest is there for the same reason)
where exists (
    select 1
    from posts_to_build
    where posts_to_build.platform = latest.platform
        and posts_to_build.post_id = latest.post_id
)

union all

-- a post this run does not rebuild (no row in the window) whose boosted flag no longer matches the boosts: its
-- stored row with the flag set from them. A boost of an older post added in the window marks it; a boost
-- removed by a restated day of boosts unmarks it, whatever day that boost had (the removed row names no post
-- any more, so no window could find it). The boosts are small; of dim_post this reads two key columns and the
-- flag, and rewrites only the rows whose flag changes.
select
{%- for column in ['platform', 'post_id', 'account_id', 'published_at', 'published_date', 'publish_hour',
                   'publish_dow', 'hook_type', 'media_type', 'topic', 'text_length', 'first_metric_date',
                   'latest_metric_date', 'latest_snapshot_at', 'days_observed', 'post_age_hours', 'impressions',
                   'likes', 'comments', 'shares', 'clicks', 'quotes', 'saves', 'engagements', 'engagement_rate',
                   'engagement_score'] %}
    stored.{{ column }},
{%- endfor %}
    coalesce(boosts.boosts, 0) > 0 as is_boosted,
    stored.post_url,
    stored.post_excerpt,
    stored.author_name

from {{ this }} as stored

left join boosts
    on stored.platform = boosts.platform
    and stored.post_id = boosts.post_id

where stored.is_boosted <> (coalesce(boosts.boosts, 0) > 0)
    and not exists (
        select 1
        from posts_to_build
        where posts_to_build.platform = stored.platform
            and posts_to_build.post_id = stored.post_id
    )
{%- endif %}
