{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='metric_date',
        pre_hook="{{ cycle_delete_window('metric_date') }}"
    )
}}

-- ads whose campaign day is missing are held back (fct_held_back_rows): it shares their day, so the
-- window that loads it rebuilds them
with ad_days as (

    select * from {{ ref('int_ad_creative_metrics_with_parents') }}
    {% if is_incremental() %}
    where {{ cycle_in_window('metric_date') }}
    {% endif %}

),

currency_rates as (

    select * from {{ ref('currency_rates_usd') }}

),

converted as (

    select
        ad_days.platform,
        ad_days.account_id,
        ad_days.campaign_id,
        ad_days.ad_id,
        ad_days.ad_name,
        ad_days.creative_format,
        ad_days.media_type,
        ad_days.metric_date,
        ad_days.currency,
        ad_days.spend,
        ad_days.spend * currency_rates.usd_per_unit as spend_usd,
        ad_days.impressions,
        ad_days.clicks,
        ad_days.conversions,
        ad_days.conversion_value * currency_rates.usd_per_unit as conversion_value_usd,
        ad_days.reach,
        ad_days.video_p25_views,
        ad_days.video_p50_views,
        ad_days.video_p75_views,
        ad_days.video_p100_views

    from ad_days

    left join currency_rates
        on ad_days.currency = currency_rates.currency

)

select
    platform,
    account_id,
    campaign_id,
    ad_id,
    ad_name,
    creative_format,
    media_type,
    metric_date,
    currency,
    {{ cycle_delivery_measures() }},
    {{ cycle_video_quartile_views() }},
    -- shares of impressions, as Google Ads reports them (videoQuartileP25Rate..P100Rate)
    {{ cycle_safe_divide('video_p25_views', 'impressions') }} as video_p25_rate,
    {{ cycle_safe_divide('video_p100_views', 'impressions') }} as video_completion_rate,
    {{ cycle_delivery_ratios() }}

from converted
