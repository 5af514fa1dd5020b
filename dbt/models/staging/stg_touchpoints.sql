-- The journeys' events of both sources (cycle_with_tracked_events): the simulator's or a connector's
-- (raw_touchpoints) and the tracked ones (raw_tracked_touchpoints); event_id stays unique.

with source as (

    {{ cycle_with_tracked_events(
        'raw_touchpoints', 'raw_tracked_touchpoints',
        {
            'property_id': 'string', 'event_id': 'string', 'journey_id': 'string', 'user_id': 'string',
            'event_at': 'timestamp', 'event_type': 'string', 'utm_source': 'string', 'utm_medium': 'string',
            'utm_campaign': 'string', 'utm_content': 'string', 'conversion_value': 'double', 'currency': 'string'
        },
        happened_at='event_at', keys=['event_id']
    ) }}

),

channel_mapping as (

    select * from {{ ref('utm_channel_mapping') }}

),

currency_rates as (

    select * from {{ ref('currency_rates_usd') }}

),

renamed as (

    select
        -- the web property the journey was tracked on; rows without one (loaded before the column
        -- existed, or from a snippet that sets none) belong to the deployment's default property
        -- (DEFAULT_WEB_PROPERTY in analytics_assets/contracts/raw.py)
        {{ dbt.cast("coalesce(source.property_id, 'default')", dbt.type_string()) }} as property_id,
        source.event_id,
        source.journey_id,
        source.user_id,
        source.event_at,
        cast(source.event_at as date) as event_date,
        source.event_type,
        source.utm_source,
        source.utm_medium,
        source.utm_campaign,
        source.utm_content,
        case
            when source.event_type <> 'touchpoint' then null
            else coalesce(channel_mapping.channel, 'other')
        end as channel,
        case
            when source.event_type <> 'touchpoint' then null
            else coalesce(channel_mapping.channel_type, 'other')
        end as channel_type,
        source.conversion_value,
        source.currency,
        source.conversion_value * currency_rates.usd_per_unit as conversion_value_usd,
        source.partition_date,
        source.loaded_at

    from source

    left join channel_mapping
        on lower(trim(source.utm_source)) = channel_mapping.utm_source
        and lower(trim(source.utm_medium)) = channel_mapping.utm_medium

    left join currency_rates
        on source.currency = currency_rates.currency

)

select * from renamed
