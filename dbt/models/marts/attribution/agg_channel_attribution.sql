-- Conversions and revenue credited to each channel under each attribution model, per web property: each
-- property's shares are its own (a workspace sees only its properties' conversions).

with credits as (

    select * from {{ ref('fct_touchpoint_attribution') }}

),

by_channel as (

    select
        property_id,
        attribution_model as model,
        channel,
        {{ cycle_exact_sum('credit') }} as conversions,
        {{ cycle_exact_sum('value_credit') }} as conversion_value

    from credits
    group by property_id, attribution_model, channel

)

select
    {{ dbt.cast('property_id', dbt.type_string()) }} as property_id,
    {{ dbt.cast('model', dbt.type_string()) }} as model,
    {{ dbt.cast('channel', dbt.type_string()) }} as channel,
    {{ dbt.cast('conversions', cycle_type_double()) }} as conversions,
    {{ dbt.cast('conversion_value', cycle_type_double()) }} as conversion_value,
    {{ cycle_safe_divide('conversions', cycle_exact_sum('conversions', over='partition by property_id, model')) }} as share

from by_channel
