-- Engagement by publication slot, one row per platform x publish day of week x publish hour, from each
-- post's latest snapshot.

with posts as (

    select * from {{ ref('dim_post') }}

)

select
    platform,
    publish_dow,
    publish_hour,
    {{ dbt.cast('count(*)', dbt.type_int()) }} as posts,
    {{ cycle_exact_avg('engagement_score') }} as avg_engagement_score,
    {{ dbt.cast(cycle_median('engagement_score'), cycle_type_double()) }} as median_engagement_score,
    {{ cycle_exact_avg('engagement_rate') }} as avg_engagement_rate

from posts
group by platform, publish_dow, publish_hour
