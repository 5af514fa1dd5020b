-- One row per day and platform, organic and paid side by side (the serving file platform_daily.parquet).
-- Organic impressions / engagements / clicks are the day's growth of the posts' cumulative counters.

with post_increments as (

    -- each post's growth of its cumulative counters on each day with a snapshot
    select * from {{ ref('int_post_daily_increments') }}

),

campaign_days as (

    select * from {{ ref('fct_campaign_performance') }}

),

organic as (

    select
        metric_date,
        platform,
        'organic' as channel_type,
        count(*) as posts,
        sum(impressions_increment) as impressions,
        sum(engagements_increment) as engagements,
        sum(clicks_increment) as clicks,
        avg(engagement_score) as avg_engagement_score,
        0 as spend_usd,
        {{ dbt.cast('null', cycle_type_double()) }} as conversions,
        {{ dbt.cast('null', cycle_type_double()) }} as revenue_usd

    from post_increments
    group by metric_date, platform

),

paid as (

    select
        metric_date,
        platform,
        'paid' as channel_type,
        count(distinct case when spend > 0 or impressions > 0 then campaign_id end) as posts,
        sum(impressions) as impressions,
        sum(clicks) as engagements,
        sum(clicks) as clicks,
        {{ dbt.cast('null', cycle_type_double()) }} as avg_engagement_score,
        sum(spend_usd) as spend_usd,
        sum(conversions) as conversions,
        sum(conversion_value_usd) as revenue_usd

    from campaign_days
    group by metric_date, platform

),

unioned as (

    select * from organic
    union all
    select * from paid

)

select
    metric_date,
    {{ dbt.cast('platform', dbt.type_string()) }} as platform,
    {{ dbt.cast('channel_type', dbt.type_string()) }} as channel_type,
    {{ dbt.cast('posts', dbt.type_int()) }} as posts,
    {{ dbt.cast('impressions', dbt.type_bigint()) }} as impressions,
    {{ dbt.cast('engagements', dbt.type_bigint()) }} as engagements,
    {{ dbt.cast('clicks', dbt.type_bigint()) }} as clicks,
    {{ dbt.cast('avg_engagement_score', cycle_type_double()) }} as avg_engagement_score,
    {{ dbt.cast('spend_usd', cycle_type_double()) }} as spend_usd,
    {{ dbt.cast('conversions', cycle_type_double()) }} as conversions,
    {{ dbt.cast('revenue_usd', cycle_type_double()) }} as revenue_usd,
    {{ cycle_safe_divide('clicks', 'impressions') }} as ctr,
    {{ cycle_safe_divide('revenue_usd', 'spend_usd') }} as roas

from unioned
