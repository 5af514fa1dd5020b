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

ranked as (

    select
        post_days.*,
        row_number() over (
            partition by platform, post_id order by metric_date desc
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
    coalesce(boosts.boosts, 0) > 0 as is_boosted

from ranked

left join boosts
    on ranked.platform = boosts.platform
    and ranked.post_id = boosts.post_id

where ranked.recency_rank = 1
