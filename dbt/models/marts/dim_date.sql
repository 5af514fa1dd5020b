-- The calendar: one row per day from var dim_date_start to var dim_date_end (inclusive), built with
-- dbt's own cross-database date_spine macro (no package).

with spine as (

    {{ dbt.date_spine(
        'day',
        "cast('" ~ var('dim_date_start') ~ "' as date)",
        dbt.dateadd('day', 1, "cast('" ~ var('dim_date_end') ~ "' as date)")
    ) }}

),

days as (

    select cast(date_day as date) as date_day from spine

),

parts as (

    select
        date_day,
        {{ dbt.cast('extract(year from date_day)', dbt.type_int()) }} as year,
        {{ dbt.cast('extract(quarter from date_day)', dbt.type_int()) }} as quarter,
        {{ dbt.cast('extract(month from date_day)', dbt.type_int()) }} as month,
        {{ dbt.cast('extract(day from date_day)', dbt.type_int()) }} as day_of_month,
        {{ dbt.cast(cycle_iso_day_of_week('date_day'), dbt.type_int()) }} as iso_day_of_week

    from days

)

select
    date_day,
    year * 10000 + month * 100 + day_of_month as date_key,
    year,
    quarter,
    month,
    case month
        when 1 then 'January' when 2 then 'February' when 3 then 'March' when 4 then 'April'
        when 5 then 'May' when 6 then 'June' when 7 then 'July' when 8 then 'August'
        when 9 then 'September' when 10 then 'October' when 11 then 'November' else 'December'
    end as month_name,
    day_of_month,
    iso_day_of_week,
    case iso_day_of_week
        when 1 then 'Monday' when 2 then 'Tuesday' when 3 then 'Wednesday' when 4 then 'Thursday'
        when 5 then 'Friday' when 6 then 'Saturday' else 'Sunday'
    end as day_name,
    iso_day_of_week >= 6 as is_weekend,
    cast({{ dbt.dateadd('day', '1 - iso_day_of_week', 'date_day') }} as date) as week_start_date,
    cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start_date,
    cast({{ dbt.date_trunc('quarter', 'date_day') }} as date) as quarter_start_date

from parts
