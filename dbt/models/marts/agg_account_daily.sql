{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='metric_date',
        pre_hook="{{ cycle_delete_window('metric_date', after=var('post_history_lookback_days')) }}"
    )
}}

-- One row per day, platform and account, organic and paid side by side (the serving file
-- account_daily.parquet). Every column is a sum or a count, never a ratio or a mean: the API answers a
-- workspace by summing the rows of its accounts, and agg_platform_daily is this table summed over accounts,
-- so both compute their ratios from these sums (one source of truth for the daily numbers).
-- Organic impressions / engagements / clicks are the day's growth of the posts' cumulative counters.
-- Incremental: a day's rows come from that day's rows of its inputs alone, so a windowed run reads its days
-- (a plain range on metric_date) and rewrites them; the days it rewrites are the window and the
-- post_history_lookback_days after it, the days int_post_daily_increments rewrites (a rerun of an older day
-- changes the increments of the later days that count from it).

with post_increments as (

    -- each post's growth of its cumulative counters on each day with a snapshot, with its account
    select * from {{ ref('int_post_daily_increments') }}
    {% if is_incremental() %}
    where {{ cycle_in_window('metric_date', after=var('post_history_lookback_days')) }}
    {% endif %}

),

campaign_days as (

    select * from {{ ref('fct_campaign_performance') }}
    {% if is_incremental() %}
    where {{ cycle_in_window('metric_date', after=var('post_history_lookback_days')) }}
    {% endif %}

),

organic as (

    select
        metric_date,
        platform,
        account_id,
        'organic' as channel_type,
        count(*) as posts,
        sum(impressions_increment) as impressions,
        sum(engagements_increment) as engagements,
        sum(clicks_increment) as clicks,
        -- the mean score of any set of accounts is sum / count over their rows (avg() skips nulls: so does this)
        {{ cycle_exact_sum('engagement_score') }} as engagement_score_sum,
        count(engagement_score) as scored_posts,
        0 as spend_usd,
        {{ dbt.cast('null', cycle_type_double()) }} as conversions,
        {{ dbt.cast('null', cycle_type_double()) }} as revenue_usd

    from post_increments
    group by metric_date, platform, account_id

),

paid as (

    select
        metric_date,
        platform,
        account_id,
        'paid' as channel_type,
        -- a campaign belongs to one account on a day, so the accounts' counts add up to the platform's
        count(distinct case when spend > 0 or impressions > 0 then campaign_id end) as posts,
        sum(impressions) as impressions,
        sum(clicks) as engagements,
        sum(clicks) as clicks,
        {{ dbt.cast('null', cycle_type_double()) }} as engagement_score_sum,
        0 as scored_posts,
        {{ cycle_exact_sum('spend_usd') }} as spend_usd,
        {{ cycle_exact_sum('conversions') }} as conversions,
        {{ cycle_exact_sum('conversion_value_usd') }} as revenue_usd

    from campaign_days
    group by metric_date, platform, account_id

),

unioned as (

    select * from organic
    union all
    select * from paid

)

select
    metric_date,
    {{ dbt.cast('platform', dbt.type_string()) }} as platform,
    {{ dbt.cast('account_id', dbt.type_string()) }} as account_id,
    {{ dbt.cast('channel_type', dbt.type_string()) }} as channel_type,
    {{ dbt.cast('posts', dbt.type_int()) }} as posts,
    {{ dbt.cast('impressions', dbt.type_bigint()) }} as impressions,
    {{ dbt.cast('engagements', dbt.type_bigint()) }} as engagements,
    {{ dbt.cast('clicks', dbt.type_bigint()) }} as clicks,
    {{ dbt.cast('engagement_score_sum', cycle_type_double()) }} as engagement_score_sum,
    {{ dbt.cast('scored_posts', dbt.type_int()) }} as scored_posts,
    {{ dbt.cast('spend_usd', cycle_type_double()) }} as spend_usd,
    {{ dbt.cast('conversions', cycle_type_double()) }} as conversions,
    {{ dbt.cast('revenue_usd', cycle_type_double()) }} as revenue_usd

from unioned
