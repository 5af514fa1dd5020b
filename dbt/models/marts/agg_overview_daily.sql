-- One row per day from the first to the last day with data: the additive daily totals behind the
-- dashboard overview (agg_overview_windows). agg_overview_account_daily summed over the accounts (one
-- source of truth), plus the AI generator calls that belong to no account (no post, or a post the
-- warehouse has not seen): they cannot be served per account, but they were made and paid for, so the
-- totals keep them. Days without data inside the range are zeros, not gaps.

with account_days as (

    select * from {{ ref('agg_overview_account_daily') }}

),

by_day as (

    select
        metric_date,
        {{ cycle_exact_sum('spend_usd') }} as spend_usd,
        {{ cycle_exact_sum('revenue_usd') }} as revenue_usd,
        {{ cycle_exact_sum('paid_conversions') }} as paid_conversions,
        sum(paid_impressions) as paid_impressions,
        sum(paid_clicks) as paid_clicks,
        sum(organic_impressions) as organic_impressions,
        sum(organic_engagements) as organic_engagements,
        sum(posts_published) as posts_published,
        sum(ai_calls) as ai_calls,
        {{ cycle_exact_sum('ai_cost_usd') }} as ai_cost_usd,
        sum(ai_tokens) as ai_tokens

    from account_days
    group by metric_date

),

unattributed_ai as (

    select
        generated_date,
        count(*) as ai_calls,
        {{ cycle_exact_sum('cost_usd') }} as ai_cost_usd,
        sum(total_tokens) as ai_tokens

    from {{ ref('int_ai_generation_accounts') }}
    where not is_attributed
    group by generated_date

)

select
    by_day.metric_date,
    {{ dbt.cast('by_day.spend_usd', cycle_type_double()) }} as spend_usd,
    {{ dbt.cast('by_day.revenue_usd', cycle_type_double()) }} as revenue_usd,
    {{ dbt.cast('by_day.paid_conversions', cycle_type_double()) }} as paid_conversions,
    {{ dbt.cast('by_day.paid_impressions', dbt.type_bigint()) }} as paid_impressions,
    {{ dbt.cast('by_day.paid_clicks', dbt.type_bigint()) }} as paid_clicks,
    {{ dbt.cast('by_day.organic_impressions', dbt.type_bigint()) }} as organic_impressions,
    {{ dbt.cast('by_day.organic_engagements', dbt.type_bigint()) }} as organic_engagements,
    {{ dbt.cast('by_day.posts_published', dbt.type_bigint()) }} as posts_published,
    {{ dbt.cast('by_day.ai_calls + coalesce(unattributed_ai.ai_calls, 0)', dbt.type_bigint()) }} as ai_calls,
    {{ dbt.cast('by_day.ai_cost_usd + coalesce(unattributed_ai.ai_cost_usd, 0)', cycle_type_double()) }} as ai_cost_usd,
    {{ dbt.cast('by_day.ai_tokens + coalesce(unattributed_ai.ai_tokens, 0)', dbt.type_bigint()) }} as ai_tokens

from by_day

left join unattributed_ai
    on by_day.metric_date = unattributed_ai.generated_date
