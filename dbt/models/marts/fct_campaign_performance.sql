{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='metric_date',
        pre_hook="{{ cycle_delete_window('metric_date') }}"
    )
}}

with campaign_days as (

    select * from {{ ref('stg_ad_campaign_metrics') }}
    {% if is_incremental() %}
    where {{ cycle_in_window('metric_date') }}
    {% endif %}

),

-- video quartiles exist only at ad level: the campaign's are the sum over its ads (same day, so an
-- incremental run only needs the window's ads)
creative_days as (

    select
        platform,
        campaign_id,
        metric_date,
        count(*) as ads,
        sum(case when impressions > 0 then 1 else 0 end) as ads_delivering,
        sum(video_p25_views) as video_p25_views,
        sum(video_p50_views) as video_p50_views,
        sum(video_p75_views) as video_p75_views,
        sum(video_p100_views) as video_p100_views

    from {{ ref('stg_ad_creative_metrics') }}
    {% if is_incremental() %}
    where {{ cycle_in_window('metric_date') }}
    {% endif %}
    group by platform, campaign_id, metric_date

),

currency_rates as (

    select * from {{ ref('currency_rates_usd') }}

),

converted as (

    select
        campaign_days.platform,
        campaign_days.account_id,
        campaign_days.campaign_id,
        campaign_days.campaign_name,
        campaign_days.metric_date,
        campaign_days.currency,
        campaign_days.spend,
        campaign_days.spend * currency_rates.usd_per_unit as spend_usd,
        campaign_days.impressions,
        campaign_days.clicks,
        campaign_days.conversions,
        campaign_days.conversion_value * currency_rates.usd_per_unit as conversion_value_usd,
        campaign_days.reach,
        creative_days.ads,
        creative_days.ads_delivering,
        creative_days.video_p25_views,
        creative_days.video_p50_views,
        creative_days.video_p75_views,
        creative_days.video_p100_views

    from campaign_days

    left join currency_rates
        on campaign_days.currency = currency_rates.currency

    left join creative_days
        on campaign_days.platform = creative_days.platform
        and campaign_days.campaign_id = creative_days.campaign_id
        and campaign_days.metric_date = creative_days.metric_date

)

select
    platform,
    account_id,
    campaign_id,
    campaign_name,
    metric_date,
    currency,
    {{ cycle_delivery_measures() }},
    {{ dbt.cast('coalesce(ads, 0)', dbt.type_int()) }} as ads,
    {{ dbt.cast('coalesce(ads_delivering, 0)', dbt.type_int()) }} as ads_delivering,
    {{ cycle_video_quartile_views() }},
    {{ cycle_delivery_ratios() }}

from converted
