-- The latest snapshot of each post on each UTC day: the day's closing value of its cumulative counters.

with snapshots as (

    select * from {{ ref('stg_social_post_snapshots') }}

),

ranked as (

    select
        snapshots.*,
        row_number() over (
            partition by platform, post_id, snapshot_date
            order by snapshot_at desc nulls last
        ) as snapshot_rank,
        count(*) over (
            partition by platform, post_id, snapshot_date
        ) as snapshots_that_day

    from snapshots

)

select
    platform,
    post_id,
    account_id,
    snapshot_date,
    snapshot_at,
    snapshots_that_day,
    published_at,
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
    engagements

from ranked
where snapshot_rank = 1
