-- A table rather than the folder's view: each of its 12 data tests evaluated the whole path construction over every
-- journey of the history (0.4-0.6 s apiece at a year, the largest growth of a day's build, benchmarks/dbt_window.py);
-- built once a run, the tests read the table's rows of the run's window (meta test_window) and the attribution
-- comparison reads it without recomputing it.
{{ config(materialized='table') }}

-- Every journey path as the data-driven attribution models (agg_attribution_model_comparison) read it:
-- one row per path and position. A converted path is a conversion's touches (int_attribution_touchpoints:
-- the journey's touches after its previous conversion, up to this one); the touches after a journey's
-- last conversion, or all touches of a journey that never converted, form one open path that ended
-- without conversion (a null). Every path belongs to one web property (property_id): the asset compares
-- the models per property, and a journey is (property_id, journey_id).

with conversions as (

    select * from {{ ref('int_journey_conversions') }}

),

last_conversions as (

    select
        property_id,
        journey_id,
        max(converted_at) as last_converted_at

    from conversions
    group by property_id, journey_id

),

touchpoints as (

    select * from {{ ref('stg_touchpoints') }}
    where event_type = 'touchpoint'

),

converted_paths as (

    select
        property_id,
        conversion_id as path_id,
        channel,
        touch_position as position,
        conversion_date as path_date,
        1 as converted,
        conversion_value_usd as value

    from {{ ref('int_attribution_touchpoints') }}

),

open_touches as (

    select
        touchpoints.property_id,
        touchpoints.journey_id,
        touchpoints.event_id,
        touchpoints.event_at,
        touchpoints.event_date,
        touchpoints.channel

    from touchpoints

    left join last_conversions
        on touchpoints.property_id = last_conversions.property_id
        and touchpoints.journey_id = last_conversions.journey_id

    where last_conversions.last_converted_at is null
        or touchpoints.event_at > last_conversions.last_converted_at

),

open_paths as (

    select
        property_id,
        {{ dbt.concat(['journey_id', "'/open'"]) }} as path_id,
        channel,
        row_number() over (
            partition by property_id, journey_id order by event_at, event_id
        ) as position,
        max(event_date) over (partition by property_id, journey_id) as path_date,
        0 as converted,
        0 as value

    from open_touches

),

paths as (

    select property_id, path_id, channel, position, path_date, converted, value from converted_paths
    union all
    select property_id, path_id, channel, position, path_date, converted, value from open_paths

)

select
    {{ dbt.cast('property_id', dbt.type_string()) }} as property_id,
    {{ dbt.cast('path_id', dbt.type_string()) }} as path_id,
    {{ dbt.cast('channel', dbt.type_string()) }} as channel,
    {{ dbt.cast('position', dbt.type_bigint()) }} as position,
    path_date,
    {{ dbt.cast('converted', dbt.type_int()) }} as converted,
    {{ dbt.cast('value', cycle_type_double()) }} as value

from paths
