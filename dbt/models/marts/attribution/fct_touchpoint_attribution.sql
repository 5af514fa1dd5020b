{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='conversion_date',
        pre_hook="{{ cycle_delete_window('conversion_date') }}",
        post_hook="update {{ this }} set property_id = 'default' where property_id is null"
    )
}}

{#- post_hook: a warehouse attributed before property_id existed gets the column added empty
    (on_schema_change: sync_all_columns) on the days outside the run's window. Those conversions came from
    raw rows without a property, which staging gives the default property (DEFAULT_WEB_PROPERTY): say so,
    rather than leave them out of every property. A no-op once no row is null. -#}

{%- set attribution_models = ['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based'] -%}
{%- set double = cycle_type_double() -%}

with weighted as (

    select * from {{ ref('int_attribution_weights') }}
    {% if is_incremental() %}
    where {{ cycle_in_window('conversion_date') }}
    {% endif %}

)

{% for attribution_model in attribution_models %}
select
    conversion_id,
    event_id,
    {{ dbt.cast("'" ~ attribution_model ~ "'", dbt.type_string()) }} as attribution_model,
    property_id,
    journey_id,
    user_id,
    touched_at,
    channel,
    channel_type,
    utm_source,
    utm_medium,
    utm_campaign,
    {{ dbt.cast('touch_position', dbt.type_int()) }} as touch_position,
    {{ dbt.cast('touch_count', dbt.type_int()) }} as touch_count,
    days_before_conversion,
    converted_at,
    conversion_date,
    {{ dbt.cast('conversion_value_usd', double) }} as conversion_value_usd,
    weight_{{ attribution_model }} as credit,
    weight_{{ attribution_model }} * conversion_value_usd as value_credit

from weighted
{% if not loop.last %}
union all
{% endif %}
{%- endfor %}
