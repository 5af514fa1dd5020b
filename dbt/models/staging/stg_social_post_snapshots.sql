with source as (

    select * from {{ source('raw', 'raw_social_post_snapshots') }}

),

renamed as (

    select
        platform,
        post_id,
        account_id,
        published_at,
        snapshot_at,
        cast(snapshot_at as date) as snapshot_date,
        hook_type,
        media_type,
        topic,
        text_length,
        impressions,
        likes,
        comments,
        -- metrics a platform does not report arrive as null: count them as 0 interactions
        coalesce(shares, 0) as shares,
        coalesce(clicks, 0) as clicks,
        coalesce(quotes, 0) as quotes,
        coalesce(saves, 0) as saves,
        partition_date,
        loaded_at

    from source

)

select * from renamed
