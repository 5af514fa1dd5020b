-- fct_post_metrics_daily and the snapshots are read through ref() where they are read (twice each), not
-- through import CTEs: DuckDB materializes a CTE read more than once, a copy of every row before the work

with boosts as (

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
        platform,
        post_id,
        max(case when post_url is not null then snapshot_at end) as post_url_at,
        max(case when post_excerpt is not null then snapshot_at end) as post_excerpt_at,
        max(case when author_name is not null then snapshot_at end) as author_name_at

    from {{ ref('stg_social_post_snapshots') }}
    where post_url is not null or post_excerpt is not null or author_name is not null
    group by platform, post_id

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

    group by identity_times.platform, identity_times.post_id

),

-- each post's span of days: its latest day (the row served), its first, and how many it had. An aggregate
-- and a join back on fct_post_metrics_daily's unique key (platform, post_id, metric_date; the day compared with
-- `>=` in `latest`, which matches only the latest day) instead of row_number() and two windows: the key has no
-- ties (its test), so the join finds the one row the rank found; a duplicated key would come through twice and
-- fail this model's unique test, where the rank picked one row at random
spans as (

    select
        platform,
        post_id,
        max(metric_date) as latest_metric_date,
        min(metric_date) as first_metric_date,
        count(*) as days_observed

    from {{ ref('fct_post_metrics_daily') }}
    group by platform, post_id

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
