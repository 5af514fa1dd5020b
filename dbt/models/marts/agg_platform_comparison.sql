{{ config(materialized='view') }}

-- Ad platforms side by side, per day: spend, revenue (platform-reported conversion value), profit,
-- margin and ROAS in USD.

with campaign_days as (

    select * from {{ ref('fct_campaign_performance') }}

),

platforms as (

    select * from {{ ref('dim_platform') }}

),

per_platform as (

    select
        metric_date,
        platform,
        count(distinct case when spend_usd > 0 or impressions > 0 then campaign_id end) as active_campaigns,
        {{ cycle_exact_sum('spend_usd') }} as spend_usd,
        {{ cycle_exact_sum('conversion_value_usd') }} as revenue_usd,
        {{ cycle_exact_sum('conversions') }} as conversions,
        sum(impressions) as impressions,
        sum(clicks) as clicks

    from campaign_days
    group by metric_date, platform

)

select
    per_platform.metric_date,
    per_platform.platform,
    platforms.display_name,
    {{ dbt.cast('per_platform.active_campaigns', dbt.type_int()) }} as active_campaigns,
    {{ dbt.cast('per_platform.spend_usd', cycle_type_double()) }} as spend_usd,
    {{ dbt.cast('per_platform.revenue_usd', cycle_type_double()) }} as revenue_usd,
    {{ dbt.cast('per_platform.revenue_usd - per_platform.spend_usd', cycle_type_double()) }} as profit_usd,
    {{ cycle_safe_divide('per_platform.revenue_usd - per_platform.spend_usd', 'per_platform.revenue_usd') }} as margin,
    {{ cycle_safe_divide('per_platform.revenue_usd', 'per_platform.spend_usd') }} as roas,
    {{ dbt.cast('per_platform.conversions', cycle_type_double()) }} as conversions,
    {{ cycle_safe_divide('per_platform.spend_usd', 'per_platform.conversions') }} as cpa_usd,
    {{ dbt.cast('per_platform.impressions', dbt.type_bigint()) }} as impressions,
    {{ dbt.cast('per_platform.clicks', dbt.type_bigint()) }} as clicks,
    {{ cycle_safe_divide('per_platform.clicks', 'per_platform.impressions') }} as ctr,
    {{ cycle_safe_divide(
        'per_platform.spend_usd',
        cycle_exact_sum('per_platform.spend_usd', over='partition by per_platform.metric_date')
    ) }} as share_of_spend

from per_platform

left join platforms
    on per_platform.platform = platforms.platform
