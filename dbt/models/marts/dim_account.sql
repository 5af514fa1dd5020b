-- Every connected account seen in the data, one row per (platform, account_id): the unit a workspace owns
-- (contracts/access.py) and the key every served row carries. One branch per kind of account: organic
-- publishing accounts, ad accounts, and the web properties tracked journeys belong to.

with posts as (

    select * from {{ ref('dim_post') }}

),

campaign_versions as (

    -- every version of every campaign: an account named only by an older version is still an account
    select * from {{ ref('dim_campaign') }}

),

campaign_days as (

    select * from {{ ref('fct_campaign_performance') }}

),

touchpoints as (

    select * from {{ ref('stg_touchpoints') }}

),

organic_accounts as (

    select
        platform,
        account_id,
        'organic' as channel_type,
        min(first_metric_date) as first_seen_date,
        max(latest_metric_date) as last_seen_date,
        count(*) as posts,
        {{ dbt.cast('null', dbt.type_bigint()) }} as campaigns

    from posts
    group by platform, account_id

),

-- the days an ad account delivered (or reported a zero day): its campaigns' facts
ad_account_days as (

    select
        platform,
        account_id,
        min(metric_date) as first_metric_date,
        max(metric_date) as last_metric_date

    from campaign_days
    group by platform, account_id

),

ad_accounts as (

    select
        campaign_versions.platform,
        campaign_versions.account_id,
        'paid' as channel_type,
        -- a version starts on the first day it was observed: the earliest is the account's first day
        min(coalesce(ad_account_days.first_metric_date, campaign_versions.valid_from)) as first_seen_date,
        max(coalesce(ad_account_days.last_metric_date, campaign_versions.valid_from)) as last_seen_date,
        {{ dbt.cast('null', dbt.type_bigint()) }} as posts,
        count(distinct campaign_versions.campaign_id) as campaigns

    from campaign_versions

    left join ad_account_days
        on campaign_versions.platform = ad_account_days.platform
        and campaign_versions.account_id = ad_account_days.account_id

    group by campaign_versions.platform, campaign_versions.account_id

),

-- a tracked site or app: its journeys' touches and conversions are attributed per property
web_properties as (

    select
        'web' as platform,
        property_id as account_id,
        'web' as channel_type,
        min(event_date) as first_seen_date,
        max(event_date) as last_seen_date,
        {{ dbt.cast('null', dbt.type_bigint()) }} as posts,
        {{ dbt.cast('null', dbt.type_bigint()) }} as campaigns

    from touchpoints
    group by property_id

),

unioned as (

    select * from organic_accounts
    union all
    select * from ad_accounts
    union all
    select * from web_properties

)

select
    {{ dbt.cast('platform', dbt.type_string()) }} as platform,
    {{ dbt.cast('account_id', dbt.type_string()) }} as account_id,
    {{ dbt.cast('channel_type', dbt.type_string()) }} as channel_type,
    first_seen_date,
    last_seen_date,
    {{ dbt.cast('posts', dbt.type_bigint()) }} as posts,
    {{ dbt.cast('campaigns', dbt.type_bigint()) }} as campaigns

from unioned
