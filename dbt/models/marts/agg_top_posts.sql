-- a table, not a view: its five data tests and the serving snapshot each read it, and as a view each of them
-- ranked every post of dim_post again (five tests 1.2 s at 30 days of history, 5.5 s at 180)
{{ config(materialized='table') }}

-- The best posts of each account by engagement score at their latest snapshot: the top
-- var('top_posts_per_account', 20) of every (platform, account_id). Ranked per account, not overall: the
-- API answers a workspace with the best of its own accounts, and the top n over any set of accounts
-- (n <= the per-account limit) is the top n of the union of their rows.

{%- set per_account = var('top_posts_per_account', 20) %}

with posts as (

    select * from {{ ref('dim_post') }}
    -- a handful of impressions makes an extreme score out of one like
    where engagement_score is not null
        and impressions >= {{ var('top_posts_min_impressions') }}

),

platforms as (

    select * from {{ ref('dim_platform') }}

),

ranked as (

    select
        posts.*,
        row_number() over (
            partition by platform, account_id order by engagement_score desc nulls last, engagements desc nulls last, post_id
        ) as post_rank

    from posts

)

select
    ranked.platform,
    ranked.account_id,
    {{ dbt.cast('ranked.post_rank', dbt.type_int()) }} as post_rank,
    platforms.display_name as platform_name,
    ranked.post_id,
    ranked.published_at,
    ranked.hook_type,
    ranked.media_type,
    ranked.topic,
    ranked.engagement_score,
    ranked.engagement_rate,
    ranked.impressions,
    ranked.engagements,
    ranked.post_age_hours,
    ranked.is_boosted,
    ranked.post_url,
    ranked.post_excerpt,
    ranked.author_name

from ranked

left join platforms
    on ranked.platform = platforms.platform

where ranked.post_rank <= {{ per_account }}
