{%- set archived = cycle_archived_rows(source('raw', 'raw_social_post_snapshots')) %}

with hot as (

    select * from {{ source('raw', 'raw_social_post_snapshots') }}

),

source as (

    select * from hot
    {%- if archived %}

    union all

    -- partitions moved to Parquet by raw_snapshot_archive; a day loaded again since is read from hot
    select archived.*
    from ({{ archived }}) as archived
    where not exists (
        select 1 from hot where hot.partition_date = archived.partition_date
    )
    {%- endif %}

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
        -- what the poll read of the post's identity; null where its payload did not carry it (dim_post keeps
        -- each post's latest non-null value)
        post_url,
        post_excerpt,
        author_name,
        partition_date,
        loaded_at

    from source

)

select
    platform,
    post_id,
    account_id,
    published_at,
    snapshot_at,
    snapshot_date,
    hook_type,
    media_type,
    topic,
    text_length,
    impressions,
    likes,
    comments,
    shares,
    clicks,
    quotes,
    saves,
    -- the one definition of a post's engagements (interactions of every kind, cumulative): the marts and
    -- the Python assets read this column rather than re-adding the counters
    likes + comments + shares + clicks + quotes + saves as engagements,
    post_url,
    post_excerpt,
    author_name,
    partition_date,
    loaded_at

from renamed
