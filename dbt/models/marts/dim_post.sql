with post_days as (

    select * from {{ ref('fct_post_metrics_daily') }}

),

boosts as (

    select
        organic_platform as platform,
        post_id,
        count(distinct boost_id) as boosts

    from {{ ref('stg_boosts') }}
    group by organic_platform, post_id

),

-- each post's identity as its platform shows it: per column, the latest snapshot that carried a value (a
-- poll whose payload lacked it, or a day archived before it was collected, does not erase it)
identity_readings as (

    select
        platform,
        post_id,
        post_url,
        post_excerpt,
        author_name,
        row_number() over (
            partition by platform, post_id
            order by case when post_url is null then 1 else 0 end, snapshot_at desc nulls last
        ) as url_rank,
        row_number() over (
            partition by platform, post_id
            order by case when post_excerpt is null then 1 else 0 end, snapshot_at desc nulls last
        ) as excerpt_rank,
        row_number() over (
            partition by platform, post_id
            order by case when author_name is null then 1 else 0 end, snapshot_at desc nulls last
        ) as author_rank

    from {{ ref('stg_social_post_snapshots') }}
    where post_url is not null or post_excerpt is not null or author_name is not null

),

identity as (

    select
        platform,
        post_id,
        max(case when url_rank = 1 then post_url end) as post_url,
        max(case when excerpt_rank = 1 then post_excerpt end) as post_excerpt,
        max(case when author_rank = 1 then author_name end) as author_name

    from identity_readings
    group by platform, post_id

),

ranked as (

    select
        post_days.*,
        row_number() over (
            partition by platform, post_id order by metric_date desc nulls last
        ) as recency_rank,
        min(metric_date) over (partition by platform, post_id) as first_metric_date,
        count(*) over (partition by platform, post_id) as days_observed

    from post_days

)

select
    ranked.platform,
    ranked.post_id,
    ranked.account_id,
    ranked.published_at,
    ranked.published_date,
    ranked.publish_hour,
    ranked.publish_dow,
    ranked.hook_type,
    ranked.media_type,
    ranked.topic,
    ranked.text_length,
    ranked.first_metric_date,
    ranked.metric_date as latest_metric_date,
    ranked.snapshot_at as latest_snapshot_at,
    ranked.days_observed,
    ranked.post_age_hours,
    ranked.impressions,
    ranked.likes,
    ranked.comments,
    ranked.shares,
    ranked.clicks,
    ranked.quotes,
    ranked.saves,
    ranked.engagements,
    ranked.engagement_rate,
    ranked.engagement_score,
    coalesce(boosts.boosts, 0) > 0 as is_boosted,
    identity.post_url,
    identity.post_excerpt,
    identity.author_name

from ranked

left join boosts
    on ranked.platform = boosts.platform
    and ranked.post_id = boosts.post_id

left join identity
    on ranked.platform = identity.platform
    and ranked.post_id = identity.post_id

where ranked.recency_rank = 1
