{{ config(meta={'dagster': {'ref': {'name': 'agg_channel_attribution_daily'}}}) }}

{#- The served daily credits lose nothing and invent nothing: summed over every conversion day, a
    property's rows of agg_channel_attribution_daily are its rows of agg_channel_attribution, per model and
    channel (and so, summed over properties too, the model's channel totals). A failing row names the
    property, model and channel and both sums. The meta attaches the test to the daily mart in Dagster (an
    asset check of agg_channel_attribution_daily; a singular test of two models has no model of its own). -#}

with daily as (

    select
        account_id as property_id,
        model,
        channel,
        sum(conversions) as conversions,
        sum(conversion_value) as conversion_value

    from {{ ref('agg_channel_attribution_daily') }}
    group by account_id, model, channel

),

totals as (

    select * from {{ ref('agg_channel_attribution') }}

),

compared as (

    select
        coalesce(totals.property_id, daily.property_id) as property_id,
        coalesce(totals.model, daily.model) as model,
        coalesce(totals.channel, daily.channel) as channel,
        totals.conversions as total_conversions,
        daily.conversions as daily_conversions,
        totals.conversion_value as total_conversion_value,
        daily.conversion_value as daily_conversion_value

    from totals

    full outer join daily
        on totals.property_id = daily.property_id
        and totals.model = daily.model
        and totals.channel = daily.channel

)

select *
from compared
where abs(coalesce(total_conversions, 0) - coalesce(daily_conversions, 0)) > 0.000001
    or abs(coalesce(total_conversion_value, 0) - coalesce(daily_conversion_value, 0)) > 0.0001
    or total_conversions is null
    or daily_conversions is null
