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
        partition_date,
        loaded_at

    from source

)

select * from renamed
