-- One row per day from the first to the last day with data: the additive daily totals behind the
-- dashboard overview (agg_overview_windows) and the API's /overview for any date range (published as
-- overview_daily.parquet). Days without data inside the range are zeros, not gaps.

with platform_days as (

    select * from {{ ref('agg_platform_daily') }}

),

posts as (

    select published_date, count(*) as posts_published
    from {{ ref('dim_post') }}
    group by published_date

),

ai_days as (

    select
        generated_date,
        count(*) as ai_calls,
        sum(cost_usd) as ai_cost_usd,
        sum(total_tokens) as ai_tokens

    from {{ ref('stg_ai_generations') }}
    group by generated_date

),

bounds as (

    select min(metric_date) as first_day, max(metric_date) as last_day
    from platform_days

),

days as (

    select dim_date.date_day
    from {{ ref('dim_date') }} as dim_date
    inner join bounds
        on dim_date.date_day between bounds.first_day and bounds.last_day

),

by_day as (

    select
        metric_date,
        sum(case when channel_type = 'paid' then spend_usd else 0 end) as spend_usd,
        sum(case when channel_type = 'paid' then revenue_usd else 0 end) as revenue_usd,
        sum(case when channel_type = 'paid' then conversions else 0 end) as paid_conversions,
        sum(case when channel_type = 'paid' then impressions else 0 end) as paid_impressions,
        sum(case when channel_type = 'paid' then clicks else 0 end) as paid_clicks,
        sum(case when channel_type = 'organic' then impressions else 0 end) as organic_impressions,
        sum(case when channel_type = 'organic' then engagements else 0 end) as organic_engagements

    from platform_days
    group by metric_date

)

select
    days.date_day as metric_date,
    {{ dbt.cast('coalesce(by_day.spend_usd, 0)', cycle_type_double()) }} as spend_usd,
    {{ dbt.cast('coalesce(by_day.revenue_usd, 0)', cycle_type_double()) }} as revenue_usd,
    {{ dbt.cast('coalesce(by_day.paid_conversions, 0)', cycle_type_double()) }} as paid_conversions,
    {{ dbt.cast('coalesce(by_day.paid_impressions, 0)', dbt.type_bigint()) }} as paid_impressions,
    {{ dbt.cast('coalesce(by_day.paid_clicks, 0)', dbt.type_bigint()) }} as paid_clicks,
    {{ dbt.cast('coalesce(by_day.organic_impressions, 0)', dbt.type_bigint()) }} as organic_impressions,
    {{ dbt.cast('coalesce(by_day.organic_engagements, 0)', dbt.type_bigint()) }} as organic_engagements,
    {{ dbt.cast('coalesce(posts.posts_published, 0)', dbt.type_bigint()) }} as posts_published,
    {{ dbt.cast('coalesce(ai_days.ai_calls, 0)', dbt.type_bigint()) }} as ai_calls,
    {{ dbt.cast('coalesce(ai_days.ai_cost_usd, 0)', cycle_type_double()) }} as ai_cost_usd,
    {{ dbt.cast('coalesce(ai_days.ai_tokens, 0)', dbt.type_bigint()) }} as ai_tokens

from days

left join by_day
    on days.date_day = by_day.metric_date

left join posts
    on days.date_day = posts.published_date

left join ai_days
    on days.date_day = ai_days.generated_date
