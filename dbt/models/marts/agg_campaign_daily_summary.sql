{{ config(materialized='view') }}

-- One row per campaign and day for the campaign dashboard: the day's metrics with the settings the
-- campaign had that day (the dim_campaign version valid on metric_date) and budget pacing.

with campaign_days as (

    select * from {{ ref('fct_campaign_performance') }}

),

versions as (

    select * from {{ ref('dim_campaign') }}

),

platforms as (

    select * from {{ ref('dim_platform') }}

)

select
    campaign_days.metric_date,
    campaign_days.platform,
    platforms.display_name as platform_name,
    campaign_days.campaign_id,
    versions.campaign_version_id,
    coalesce(versions.campaign_name, campaign_days.campaign_name) as campaign_name,
    versions.campaign_status,
    versions.objective,
    versions.bidding_strategy,
    coalesce(versions.is_boost, false) as is_boost,
    versions.daily_budget_usd,
    campaign_days.spend_usd,
    {{ cycle_safe_divide('campaign_days.spend_usd', 'versions.daily_budget_usd') }} as budget_utilization,
    campaign_days.conversion_value_usd as revenue_usd,
    {{ dbt.cast('campaign_days.conversion_value_usd - campaign_days.spend_usd', cycle_type_double()) }} as profit_usd,
    campaign_days.roas,
    campaign_days.impressions,
    campaign_days.clicks,
    campaign_days.ctr,
    campaign_days.cpc_usd,
    campaign_days.conversions,
    campaign_days.cpa_usd,
    campaign_days.reach,
    campaign_days.frequency,
    campaign_days.ads,
    campaign_days.ads_delivering,
    campaign_days.video_p25_views,
    campaign_days.video_p100_views,
    {{ cycle_safe_divide('campaign_days.video_p100_views', 'campaign_days.video_p25_views') }} as video_completion_of_starts

from campaign_days

left join versions
    on campaign_days.platform = versions.platform
    and campaign_days.campaign_id = versions.campaign_id
    and versions.valid_from <= campaign_days.metric_date
    and (versions.valid_to is null or campaign_days.metric_date < versions.valid_to)

left join platforms
    on campaign_days.platform = platforms.platform
