-- The 24 hours of a UTC day: what an hour of publication (fct_post_metrics_daily.publish_hour) means
-- for a dashboard (period of day, business hours).

with hours as (

    {{ dbt.generate_series(24) }}

),

numbered as (

    select {{ dbt.cast('generated_number - 1', dbt.type_int()) }} as hour_of_day from hours

)

select
    hour_of_day,
    {{ dbt.concat([
        "case when hour_of_day < 10 then '0' else '' end",
        dbt.cast('hour_of_day', dbt.type_string()),
        "':00'"
    ]) }} as hour_label,
    case
        when hour_of_day < 6 then 'night'
        when hour_of_day < 12 then 'morning'
        when hour_of_day < 17 then 'afternoon'
        when hour_of_day < 21 then 'evening'
        else 'night'
    end as period_of_day,
    hour_of_day >= {{ var('business_hours_start') }}
        and hour_of_day < {{ var('business_hours_end') }} as is_business_hours

from numbered
