-- Rule-based attribution credit per conversion day, web property and channel: what the API serves
-- (attribution_daily.parquet), so any date range of a property's credits is a sum of these rows. Every
-- served row carries the account it belongs to: tracked journeys belong to a web property, the account
-- (platform 'web' = WEB_PLATFORM of analytics_assets/contracts/serving.py, account_id = the property id).

with credits as (

    select * from {{ ref('fct_touchpoint_attribution') }}

),

by_day as (

    select
        conversion_date,
        property_id,
        attribution_model,
        channel,
        {{ cycle_exact_sum('credit') }} as conversions,
        {{ cycle_exact_sum('value_credit') }} as conversion_value

    from credits
    group by conversion_date, property_id, attribution_model, channel

)

select
    conversion_date,
    {{ dbt.cast("'web'", dbt.type_string()) }} as platform,
    {{ dbt.cast('property_id', dbt.type_string()) }} as account_id,
    {{ dbt.cast('attribution_model', dbt.type_string()) }} as model,
    {{ dbt.cast('channel', dbt.type_string()) }} as channel,
    {{ dbt.cast('conversions', cycle_type_double()) }} as conversions,
    {{ dbt.cast('conversion_value', cycle_type_double()) }} as conversion_value

from by_day
