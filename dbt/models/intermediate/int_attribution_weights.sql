-- Each touchpoint's share of its conversion under every attribution model (one weight column per model).

{%- set double = cycle_type_double() %}

with paths as (

    select * from {{ ref('int_attribution_touchpoints') }}

),

decayed as (

    select
        paths.*,
        -- half the weight per half-life before the conversion, counted from the conversion's nearest touch
        -- (1 for it, so the sum below is at least 1): the normalised weights are the same as counting from the
        -- conversion, but no weight is so small that the exact sum's 18 decimals round it away, and a far
        -- conversion's touches cannot all underflow together
        power(
            {{ dbt.cast('0.5', double) }},
            (days_before_conversion - min(days_before_conversion) over (partition by conversion_id))
                / {{ dbt.cast(var('attribution_half_life_days'), double) }}
        ) as decay_weight

    from paths

),

weighted as (

    select
        decayed.*,

        case when touch_position = 1 then {{ dbt.cast('1', double) }} else {{ dbt.cast('0', double) }} end
            as weight_first_touch,

        case when touch_position = touch_count then {{ dbt.cast('1', double) }} else {{ dbt.cast('0', double) }} end
            as weight_last_touch,

        {{ dbt.cast('1', double) }} / touch_count as weight_linear,

        -- an exact window sum: a float sum follows the order the engine feeds a conversion's touches in
        decay_weight / {{ cycle_exact_sum('decay_weight', over='partition by conversion_id') }} as weight_time_decay,

        -- 40% first, 40% last, 20% shared by the touches in between; 1 touch = 100%, 2 touches = 50/50
        case
            when touch_count = 1 then {{ dbt.cast('1', double) }}
            when touch_count = 2 then {{ dbt.cast('0.5', double) }}
            when touch_position = 1 or touch_position = touch_count then {{ dbt.cast('0.4', double) }}
            else {{ dbt.cast('0.2', double) }} / (touch_count - 2)
        end as weight_position_based

    from decayed

)

select
    conversion_id,
    event_id,
    property_id,
    journey_id,
    user_id,
    converted_at,
    conversion_date,
    conversion_value_usd,
    touched_at,
    channel,
    channel_type,
    utm_source,
    utm_medium,
    utm_campaign,
    touch_position,
    touch_count,
    days_before_conversion,
    weight_first_touch,
    weight_last_touch,
    weight_linear,
    weight_time_decay,
    weight_position_based

from weighted
