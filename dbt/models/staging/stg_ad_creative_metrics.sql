with source as (

    select * from {{ source('raw', 'raw_ad_creative_metrics') }}

),

renamed as (

    select
        platform,
        account_id,
        campaign_id,
        ad_id,
        -- the name the advertiser gave the ad (null where the report carries none)
        nullif(trim(ad_name), '') as ad_name,
        lower(creative_format) as creative_format,
        -- the platforms' own format names mapped onto the media types of organic posts
        case
            when upper(creative_format) like '%VIDEO%' then 'video'
            when upper(creative_format) in ('CAROUSEL', 'CAROUSEL_AD') then 'carousel'
            when upper(creative_format) in ('PHOTO', 'SINGLE_IMAGE', 'IMAGE_AD', 'RESPONSIVE_DISPLAY_AD') then 'image'
            when upper(creative_format) in ('RESPONSIVE_SEARCH_AD', 'EXPANDED_TEXT_AD', 'TEXT_AD') then 'text'
            when upper(creative_format) in ('SHARE', 'LINK') then 'link'
            when upper(creative_format) = 'SPONSORED_UPDATE' then 'sponsored_post'
            when creative_format is not null then 'other'
        end as media_type,
        metric_date,
        currency,
        impressions,
        clicks,
        spend,
        conversions,
        conversion_value,
        reach,
        video_p25_views,
        video_p50_views,
        video_p75_views,
        video_p100_views,
        partition_date,
        loaded_at

    from source

)

select * from renamed
