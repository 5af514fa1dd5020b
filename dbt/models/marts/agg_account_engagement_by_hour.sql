-- Engagement by publication slot per account: one row per platform x account x publish day of week x
-- publish hour, from each post's latest snapshot (the serving file engagement_heatmap.parquet). Sums and
-- counts, not means: the API averages over any set of accounts as sum / count (a median cannot be
-- combined that way, so agg_engagement_by_hour keeps its own, platform-wide).

with posts as (

    select * from {{ ref('dim_post') }}

)

select
    {{ dbt.cast('platform', dbt.type_string()) }} as platform,
    {{ dbt.cast('account_id', dbt.type_string()) }} as account_id,
    publish_dow,
    publish_hour,
    {{ dbt.cast('count(*)', dbt.type_int()) }} as posts,
    {{ dbt.cast('count(engagement_score)', dbt.type_int()) }} as scored_posts,
    {{ cycle_exact_sum('engagement_score') }} as engagement_score_sum,
    {{ dbt.cast('count(engagement_rate)', dbt.type_int()) }} as rated_posts,
    {{ cycle_exact_sum('engagement_rate') }} as engagement_rate_sum

from posts
group by platform, account_id, publish_dow, publish_hour
