{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='metric_date',
        pre_hook="{{ cycle_delete_window('metric_date') }}"
    )
}}

with ad_days as (

    select * from {{ ref('stg_ad_creative_metrics') }}
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
    creative_format,
    media_type,
    metric_date,
    currency,
    {{ dbt.cast('spend', cycle_type_double()) }} as spend,
    {{ dbt.cast('spend_usd', cycle_type_double()) }} as spend_usd,
    {{ dbt.cast('impressions', dbt.type_bigint()) }} as impressions,
    {{ dbt.cast('clicks', dbt.type_bigint()) }} as clicks,
    {{ dbt.cast('conversions', cycle_type_double()) }} as conversions,
    {{ dbt.cast('conversion_value_usd', cycle_type_double()) }} as conversion_value_usd,
    {{ dbt.cast('reach', dbt.type_bigint()) }} as reach,
    {{ cycle_safe_divide('impressions', 'reach') }} as frequency,
    {{ dbt.cast('video_p25_views', dbt.type_bigint()) }} as video_p25_views,
    {{ dbt.cast('video_p50_views', dbt.type_bigint()) }} as video_p50_views,
    {{ dbt.cast('video_p75_views', dbt.type_bigint()) }} as video_p75_views,
    {{ dbt.cast('video_p100_views', dbt.type_bigint()) }} as video_p100_views,
    -- shares of impressions, as Google Ads reports them (videoQuartileP25Rate..P100Rate)
    {{ cycle_safe_divide('video_p25_views', 'impressions') }} as video_p25_rate,
    {{ cycle_safe_divide('video_p100_views', 'impressions') }} as video_completion_rate,
    {{ cycle_safe_divide('clicks', 'impressions') }} as ctr,
    {{ cycle_safe_divide('spend_usd', 'clicks') }} as cpc_usd,
    {{ cycle_safe_divide('spend_usd', 'conversions') }} as cpa_usd,
    {{ cycle_safe_divide('conversion_value_usd', 'spend_usd') }} as roas

from converted
