{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='metric_date',
        pre_hook="{{ cycle_delete_window('metric_date', after=var('post_history_lookback_days')) }}"
    )
}}

-- One row per day and platform, organic and paid side by side: agg_account_daily summed over the
-- platform's accounts (one source of truth: the served per-account rows and these totals cannot disagree).
-- The ratios are recomputed from the sums, never averaged over accounts.
-- Incremental: a windowed run rewrites the days agg_account_daily rewrote (its window and the
-- post_history_lookback_days after it), reading only those days of it.

with account_days as (

    select * from {{ ref('agg_account_daily') }}
    {% if is_incremental() %}
    where {{ cycle_in_window('metric_date', after=var('post_history_lookback_days')) }}
    {% endif %}

),

by_platform as (

    select
        metric_date,
        platform,
        channel_type,
        sum(posts) as posts,
        sum(impressions) as impressions,
        sum(engagements) as engagements,
        sum(clicks) as clicks,
        {{ cycle_exact_sum('engagement_score_sum') }} as engagement_score_sum,
        sum(scored_posts) as scored_posts,
        {{ cycle_exact_sum('spend_usd') }} as spend_usd,
        {{ cycle_exact_sum('conversions') }} as conversions,
        {{ cycle_exact_sum('revenue_usd') }} as revenue_usd

    from account_days
    group by metric_date, platform, channel_type

)

select
    metric_date,
    {{ dbt.cast('platform', dbt.type_string()) }} as platform,
    {{ dbt.cast('channel_type', dbt.type_string()) }} as channel_type,
    {{ dbt.cast('posts', dbt.type_int()) }} as posts,
    {{ dbt.cast('impressions', dbt.type_bigint()) }} as impressions,
    {{ dbt.cast('engagements', dbt.type_bigint()) }} as engagements,
    {{ dbt.cast('clicks', dbt.type_bigint()) }} as clicks,
    -- the mean score of the day's scored posts (null for paid rows: no score, no scored post)
    {{ cycle_safe_divide('engagement_score_sum', 'scored_posts') }} as avg_engagement_score,
    {{ dbt.cast('spend_usd', cycle_type_double()) }} as spend_usd,
    {{ dbt.cast('conversions', cycle_type_double()) }} as conversions,
    {{ dbt.cast('revenue_usd', cycle_type_double()) }} as revenue_usd,
    {{ cycle_safe_divide('clicks', 'impressions') }} as ctr,
    {{ cycle_safe_divide('revenue_usd', 'spend_usd') }} as roas

from by_platform
