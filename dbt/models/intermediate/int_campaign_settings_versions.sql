-- Each version of each campaign's settings, derived from the whole daily history: consecutive days with
-- the same settings form one version, which starts on the first of those days. The source of the
-- snapshot snap_campaign_versions: a version is identified by its content and start day, so the same
-- raw history always gives the same versions, however many days one dbt run loads (backfills included).

with campaign_days as (

    select
        stg.platform,
        stg.campaign_id,
        stg.metric_date,
        stg.account_id,
        stg.campaign_name,
        stg.currency,
        stg.campaign_status,
        stg.objective,
        stg.daily_budget,
        stg.bidding_strategy

    from {{ ref('stg_ad_campaign_metrics') }} as stg

),

{%- set w = 'over (partition by platform, campaign_id order by metric_date)' %}

flagged as (

    -- (the window is spelled out in each lag(): Snowflake has no WINDOW clause)
    select
        campaign_days.*,
        case
            when lag(metric_date) {{ w }} is null then 1
            when lag(account_id) {{ w }} is distinct from account_id
                or lag(campaign_name) {{ w }} is distinct from campaign_name
                or lag(currency) {{ w }} is distinct from currency
                or lag(campaign_status) {{ w }} is distinct from campaign_status
                or lag(objective) {{ w }} is distinct from objective
                or lag(daily_budget) {{ w }} is distinct from daily_budget
                or lag(bidding_strategy) {{ w }} is distinct from bidding_strategy
                then 1
            else 0
        end as starts_version

    from campaign_days

),

numbered as (

    select
        flagged.*,
        sum(starts_version) over (
            partition by platform, campaign_id order by metric_date
            rows between unbounded preceding and current row
        ) as version_number

    from flagged

),

versions as (

    select
        platform,
        campaign_id,
        version_number,
        min(metric_date) as valid_from,
        -- every day of a version has the same settings: any() of them
        max(account_id) as account_id,
        max(campaign_name) as campaign_name,
        max(currency) as currency,
        max(campaign_status) as campaign_status,
        max(objective) as objective,
        max(daily_budget) as daily_budget,
        max(bidding_strategy) as bidding_strategy

    from numbered
    group by platform, campaign_id, version_number

)

select
    {{ cycle_surrogate_key([
        'platform', 'campaign_id', 'valid_from', 'account_id', 'campaign_name', 'currency',
        'campaign_status', 'objective', 'daily_budget', 'bidding_strategy'
    ]) }} as campaign_version_id,
    platform,
    campaign_id,
    valid_from,
    {{ dbt.cast('valid_from', dbt.type_timestamp()) }} as version_started_at,
    account_id,
    campaign_name,
    currency,
    campaign_status,
    objective,
    {{ dbt.cast('daily_budget', cycle_type_double()) }} as daily_budget,
    bidding_strategy

from versions
