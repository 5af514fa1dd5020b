-- One row per account and day, from the first to the last day with data: the additive daily totals behind
-- the dashboard overview, per account (published as overview_daily.parquet; the API sums a workspace's
-- accounts for any date range). Every account has a row on every day of the range, zeros when it had no
-- activity, so any set of accounts sums to the same days as agg_overview_daily (which is this table summed
-- over accounts, plus the AI calls that belong to no account).

with account_days as (

    select * from {{ ref('agg_account_daily') }}

),

accounts as (

    -- the overview's measures come from social and ad accounts only
    select platform, account_id
    from {{ ref('dim_account') }}
    where channel_type in ('organic', 'paid')

),

posts as (

    select published_date, platform, account_id, count(*) as posts_published
    from {{ ref('dim_post') }}
    group by published_date, platform, account_id

),

ai_days as (

    -- the calls whose post (and through it account) is known; the others are added back in agg_overview_daily
    select
        generated_date,
        platform,
        account_id,
        count(*) as ai_calls,
        {{ cycle_exact_sum('cost_usd') }} as ai_cost_usd,
        sum(total_tokens) as ai_tokens

    from {{ ref('int_ai_generation_accounts') }}
    where is_attributed
    group by generated_date, platform, account_id

),

bounds as (

    select min(metric_date) as first_day, max(metric_date) as last_day
    from account_days

),

days as (

    select dim_date.date_day
    from {{ ref('dim_date') }} as dim_date
    inner join bounds
        on dim_date.date_day between bounds.first_day and bounds.last_day

),

grid as (

    select days.date_day, accounts.platform, accounts.account_id
    from days
    cross join accounts

),

by_account_day as (

    select
        metric_date,
        platform,
        account_id,
        {{ cycle_exact_sum("case when channel_type = 'paid' then spend_usd else 0 end") }} as spend_usd,
        {{ cycle_exact_sum("case when channel_type = 'paid' then revenue_usd else 0 end") }} as revenue_usd,
        {{ cycle_exact_sum("case when channel_type = 'paid' then conversions else 0 end") }} as paid_conversions,
        sum(case when channel_type = 'paid' then impressions else 0 end) as paid_impressions,
        sum(case when channel_type = 'paid' then clicks else 0 end) as paid_clicks,
        sum(case when channel_type = 'organic' then impressions else 0 end) as organic_impressions,
        sum(case when channel_type = 'organic' then engagements else 0 end) as organic_engagements

    from account_days
    group by metric_date, platform, account_id

)

select
    grid.date_day as metric_date,
    {{ dbt.cast('grid.platform', dbt.type_string()) }} as platform,
    {{ dbt.cast('grid.account_id', dbt.type_string()) }} as account_id,
    {{ dbt.cast('coalesce(by_account_day.spend_usd, 0)', cycle_type_double()) }} as spend_usd,
    {{ dbt.cast('coalesce(by_account_day.revenue_usd, 0)', cycle_type_double()) }} as revenue_usd,
    {{ dbt.cast('coalesce(by_account_day.paid_conversions, 0)', cycle_type_double()) }} as paid_conversions,
    {{ dbt.cast('coalesce(by_account_day.paid_impressions, 0)', dbt.type_bigint()) }} as paid_impressions,
    {{ dbt.cast('coalesce(by_account_day.paid_clicks, 0)', dbt.type_bigint()) }} as paid_clicks,
    {{ dbt.cast('coalesce(by_account_day.organic_impressions, 0)', dbt.type_bigint()) }} as organic_impressions,
    {{ dbt.cast('coalesce(by_account_day.organic_engagements, 0)', dbt.type_bigint()) }} as organic_engagements,
    {{ dbt.cast('coalesce(posts.posts_published, 0)', dbt.type_bigint()) }} as posts_published,
    {{ dbt.cast('coalesce(ai_days.ai_calls, 0)', dbt.type_bigint()) }} as ai_calls,
    {{ dbt.cast('coalesce(ai_days.ai_cost_usd, 0)', cycle_type_double()) }} as ai_cost_usd,
    {{ dbt.cast('coalesce(ai_days.ai_tokens, 0)', dbt.type_bigint()) }} as ai_tokens

from grid

left join by_account_day
    on grid.date_day = by_account_day.metric_date
    and grid.platform = by_account_day.platform
    and grid.account_id = by_account_day.account_id

left join posts
    on grid.date_day = posts.published_date
    and grid.platform = posts.platform
    and grid.account_id = posts.account_id

left join ai_days
    on grid.date_day = ai_days.generated_date
    and grid.platform = ai_days.platform
    and grid.account_id = ai_days.account_id
