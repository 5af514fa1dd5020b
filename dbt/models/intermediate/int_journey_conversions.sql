-- Conversion events of the user journeys. A journey may convert more than once: each conversion owns the
-- journey's touchpoints after the previous conversion, up to and including its own time. A journey is
-- (property_id, journey_id): each web property's snippet numbers its own journeys, so two properties may
-- use the same journey_id for different users.

with events as (

    select * from {{ ref('stg_touchpoints') }}

),

conversions as (

    select
        event_id as conversion_id,
        property_id,
        journey_id,
        user_id,
        event_at as converted_at,
        event_date as conversion_date,
        conversion_value,
        currency,
        coalesce(conversion_value_usd, 0) as conversion_value_usd,
        lag(event_at) over (
            partition by property_id, journey_id order by event_at, event_id
        ) as previous_converted_at

    from events
    where event_type = 'conversion'

)

select * from conversions
