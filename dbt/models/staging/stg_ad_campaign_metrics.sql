with source as (

    select * from {{ source('raw', 'raw_ad_campaign_metrics') }}

),

renamed as (

    select
        platform,
        account_id,
        campaign_id,
        campaign_name,
        metric_date,
        currency,
        impressions,
        clicks,
        spend,
        conversions,
        conversion_value,
        reach,
        -- the campaign's settings that day; native vocabularies normalised to lower case, and the
        -- status to Cycle's own (active, paused, removed) across platforms
        case
            when upper(campaign_status) in ('ENABLED', 'ACTIVE') then 'active'
            when upper(campaign_status) in ('PAUSED', 'CAMPAIGN_PAUSED', 'ADSET_PAUSED') then 'paused'
            when upper(campaign_status) in ('REMOVED', 'DELETED', 'ARCHIVED', 'CANCELED', 'COMPLETED') then 'removed'
            when campaign_status is not null then 'other'
        end as campaign_status,
        campaign_status as campaign_status_native,
        lower(objective) as objective,
        daily_budget,
        lower(bidding_strategy) as bidding_strategy,
        partition_date,
        loaded_at

    from source

)

select * from renamed
