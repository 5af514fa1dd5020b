-- The training set of the engagement model (contract: ml library), one row per post at its latest snapshot.
-- Only posts old enough for their counters to be meaningful (var ml_min_post_age_hours, default 24h).

with posts as (

    select * from {{ ref('dim_post') }}

)

select
    {{ dbt.cast('post_id', dbt.type_string()) }} as post_id,
    {{ dbt.cast('platform', dbt.type_string()) }} as platform,
    {{ dbt.cast('published_at', dbt.type_timestamp()) }} as published_at,
    published_date,
    {{ dbt.cast('publish_hour', dbt.type_int()) }} as publish_hour,
    {{ dbt.cast('publish_dow', dbt.type_int()) }} as publish_dow,
    {{ dbt.cast("coalesce(hook_type, 'unknown')", dbt.type_string()) }} as hook_type,
    {{ dbt.cast("coalesce(media_type, 'unknown')", dbt.type_string()) }} as media_type,
    {{ dbt.cast("coalesce(topic, 'unknown')", dbt.type_string()) }} as topic,
    {{ dbt.cast('text_length', dbt.type_int()) }} as text_length,
    {{ dbt.cast('impressions', dbt.type_bigint()) }} as impressions,
    {{ dbt.cast('engagements', dbt.type_bigint()) }} as engagements,
    {{ dbt.cast('engagement_rate', cycle_type_double()) }} as engagement_rate,
    {{ dbt.cast('engagement_score', cycle_type_double()) }} as engagement_score,
    {{ dbt.cast('post_age_hours', cycle_type_double()) }} as post_age_hours

from posts
where post_age_hours >= {{ var('ml_min_post_age_hours') }}
    -- the target must exist: a post without impressions has no engagement score
    and engagement_score is not null
