{{ config(materialized='view') }}

-- The best posts by engagement score at their latest snapshot: the top 10 over all organic platforms
-- (scope 'all') and the top 10 of each platform (scope = the platform).

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
            order by engagement_score desc, engagements desc, platform, post_id
        ) as rank_all,
        row_number() over (
            partition by platform order by engagement_score desc, engagements desc, post_id
        ) as rank_platform

    from posts

),

scoped as (

    select 'all' as scope, rank_all as post_rank, ranked.* from ranked where rank_all <= 10
    union all
    select platform as scope, rank_platform as post_rank, ranked.* from ranked where rank_platform <= 10

)

select
    {{ dbt.cast('scoped.scope', dbt.type_string()) }} as scope,
    {{ dbt.cast('scoped.post_rank', dbt.type_int()) }} as post_rank,
    scoped.platform,
    platforms.display_name as platform_name,
    scoped.post_id,
    scoped.account_id,
    scoped.published_at,
    scoped.hook_type,
    scoped.media_type,
    scoped.topic,
    scoped.engagement_score,
    scoped.engagement_rate,
    scoped.impressions,
    scoped.engagements,
    scoped.post_age_hours,
    scoped.is_boosted

from scoped

left join platforms
    on scoped.platform = platforms.platform
