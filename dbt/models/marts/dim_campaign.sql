-- Campaigns with the history of their settings (type 2): one row per version, valid on
-- [valid_from, valid_to), from the snapshot snap_campaign_versions (see its description for why the
-- snapshot holds versions rather than states).

with versions as (

    -- versions the raw history still gives; invalidated ones stay only in the snapshot (audit)
    select * from {{ ref('snap_campaign_versions') }}
    where dbt_valid_to is null

),

boost_campaigns as (

    select distinct ad_platform as platform, campaign_id
    from {{ ref('stg_boosts') }}

),

currency_rates as (

    select * from {{ ref('currency_rates_usd') }}

),

ordered as (

    select
        versions.*,
        lead(valid_from) over (partition by platform, campaign_id order by valid_from) as next_valid_from,
        row_number() over (partition by platform, campaign_id order by valid_from) as version_number

    from versions

)

select
    ordered.campaign_version_id,
    ordered.platform,
    ordered.campaign_id,
    ordered.version_number,
    ordered.valid_from,
    ordered.next_valid_from as valid_to,
    ordered.next_valid_from is null as is_current,
    ordered.account_id,
    ordered.campaign_name,
    ordered.currency,
    ordered.campaign_status,
    ordered.objective,
    ordered.bidding_strategy,
    ordered.daily_budget,
    {{ dbt.cast('ordered.daily_budget * currency_rates.usd_per_unit', cycle_type_double()) }} as daily_budget_usd,
    boost_campaigns.campaign_id is not null as is_boost

from ordered

left join currency_rates
    on ordered.currency = currency_rates.currency

left join boost_campaigns
    on ordered.platform = boost_campaigns.platform
    and ordered.campaign_id = boost_campaigns.campaign_id
