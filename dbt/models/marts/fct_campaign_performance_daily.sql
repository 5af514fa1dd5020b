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
        campaign_days.reach

    from campaign_days

    left join currency_rates
        on campaign_days.currency = currency_rates.currency

)

select
    platform,
    account_id,
    campaign_id,
    campaign_name,
    metric_date,
    currency,
    {{ dbt.cast('spend', cycle_type_double()) }} as spend,
    {{ dbt.cast('spend_usd', cycle_type_double()) }} as spend_usd,
    {{ dbt.cast('impressions', dbt.type_bigint()) }} as impressions,
    {{ dbt.cast('clicks', dbt.type_bigint()) }} as clicks,
    {{ dbt.cast('conversions', cycle_type_double()) }} as conversions,
    {{ dbt.cast('conversion_value_usd', cycle_type_double()) }} as conversion_value_usd,
    {{ dbt.cast('reach', dbt.type_bigint()) }} as reach,
    {{ cycle_safe_divide('clicks', 'impressions') }} as ctr,
    {{ cycle_safe_divide('spend_usd', 'clicks') }} as cpc_usd,
    {{ cycle_safe_divide('spend_usd', 'conversions') }} as cpa_usd,
    {{ cycle_safe_divide('conversion_value_usd', 'spend_usd') }} as roas

from converted
