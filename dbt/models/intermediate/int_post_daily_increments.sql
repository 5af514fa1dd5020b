-- What each organic post gained on each day with a snapshot: the growth of its cumulative counters since
-- its previous snapshot day (its first day counts from 0), with the attributes the daily marts group by
-- (the publishing account among them: agg_account_daily serves each account's own rows).
-- Reads the whole of fct_post_metrics_daily (not the partition window): the first day of a window needs
-- the post's counters from before it, so a windowed run gives the same increments as a full one.

with post_days as (

    select * from {{ ref('fct_post_metrics_daily') }}

),

{%- set previous = 'over (partition by platform, post_id order by metric_date)' %}

increments as (

    -- (the window is spelled out in each lag(): Snowflake has no WINDOW clause)
    select
        platform,
        post_id,
        account_id,
        metric_date,
        lag(metric_date) {{ previous }} as previous_metric_date,
        hook_type,
        media_type,
        topic,
        engagement_score,
        impressions,
        engagements,
        clicks,
        impressions - coalesce(lag(impressions) {{ previous }}, 0) as impressions_increment,
        engagements - coalesce(lag(engagements) {{ previous }}, 0) as engagements_increment,
        clicks - coalesce(lag(clicks) {{ previous }}, 0) as clicks_increment

    from post_days

)

select
    platform,
    post_id,
    account_id,
    metric_date,
    previous_metric_date,
    hook_type,
    media_type,
    topic,
    engagement_score,
    impressions,
    engagements,
    clicks,
    {{ dbt.cast('impressions_increment', dbt.type_bigint()) }} as impressions_increment,
    {{ dbt.cast('engagements_increment', dbt.type_bigint()) }} as engagements_increment,
    {{ dbt.cast('clicks_increment', dbt.type_bigint()) }} as clicks_increment

from increments
