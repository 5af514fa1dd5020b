with source as (

    select * from {{ source('raw', 'raw_boosts') }}

),

renamed as (

    select
        boost_id,
        organic_platform,
        post_id,
        ad_platform,
        campaign_id,
        boost_date,
        start_date,
        end_date,
        currency,
        daily_budget,
        spend,
        paid_impressions,
        paid_engagements,
        paid_clicks,
        partition_date,
        loaded_at

    from source

)

select * from renamed
