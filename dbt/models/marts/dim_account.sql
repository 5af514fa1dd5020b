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

-- the name the platform shows for the account (X or TikTok username, Reddit author; Reddit keys accounts by the
-- author's fullname t2_..., which no one recognizes): the name on its newest post that carried one, so a renamed
-- account shows its current name
named_posts as (

    select
        platform,
        account_id,
        author_name,
        row_number() over (
            partition by platform, account_id
            order by latest_metric_date desc nulls last, first_metric_date desc nulls last, post_id desc
        ) as name_rank

    from posts
    where author_name is not null

),

account_names as (

    select platform, account_id, author_name as account_name
    from named_posts
    where name_rank = 1

),

organic_accounts as (

    select
        posts.platform,
        posts.account_id,
        max(account_names.account_name) as account_name,
        'organic' as channel_type,
        min(posts.first_metric_date) as first_seen_date,
        max(posts.latest_metric_date) as last_seen_date,
        count(*) as posts,
        {{ dbt.cast('null', dbt.type_bigint()) }} as campaigns

    from posts

    left join account_names
        on posts.platform = account_names.platform
        and posts.account_id = account_names.account_id

    group by posts.platform, posts.account_id

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
        {{ dbt.cast('null', dbt.type_string()) }} as account_name,
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
        {{ dbt.cast('null', dbt.type_string()) }} as account_name,
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
    {{ dbt.cast('account_name', dbt.type_string()) }} as account_name,
    {{ dbt.cast('channel_type', dbt.type_string()) }} as channel_type,
    first_seen_date,
    last_seen_date,
    {{ dbt.cast('posts', dbt.type_bigint()) }} as posts,
    {{ dbt.cast('campaigns', dbt.type_bigint()) }} as campaigns

from unioned
