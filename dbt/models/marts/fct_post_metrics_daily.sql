{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='metric_date',
        pre_hook="{{ cycle_delete_window('metric_date') }}"
    )
}}

with snapshots as (

    select * from {{ ref('int_post_snapshots_latest_daily') }}
    {% if is_incremental() %}
    where {{ cycle_in_window('snapshot_date') }}
    {% endif %}

),

weights as (

    select * from {{ ref('platform_engagement_weights') }}

),

interactions as (

    select
        snapshots.platform,
        snapshots.post_id,
        snapshots.snapshot_date as metric_date,
        snapshots.snapshot_at,
        snapshots.account_id,
        snapshots.published_at,
        snapshots.hook_type,
        snapshots.media_type,
        snapshots.topic,
        snapshots.text_length,
        snapshots.impressions,
        snapshots.likes,
        snapshots.comments,
        snapshots.shares,
        snapshots.clicks,
        snapshots.quotes,
        snapshots.saves,
        snapshots.engagements,
        snapshots.likes * weights.likes
            + snapshots.comments * weights.comments
            + snapshots.shares * weights.shares
            + snapshots.clicks * weights.clicks
            + snapshots.quotes * weights.quotes
            + snapshots.saves * weights.saves as weighted_interactions

    from snapshots

    left join weights
        on snapshots.platform = weights.platform

)

select
    platform,
    post_id,
    metric_date,
    snapshot_at,
    account_id,
    published_at,
    cast(published_at as date) as published_date,
    {{ dbt.cast('extract(hour from published_at)', dbt.type_int()) }} as publish_hour,
    {{ dbt.cast(cycle_iso_day_of_week('published_at') ~ ' - 1', dbt.type_int()) }} as publish_dow,
    hook_type,
    media_type,
    topic,
    text_length,
    {{ dbt.cast(dbt.datediff('published_at', 'snapshot_at', 'second'), cycle_type_double()) }} / 3600.0
        as post_age_hours,
    {{ dbt.cast('impressions', dbt.type_bigint()) }} as impressions,
    {{ dbt.cast('likes', dbt.type_bigint()) }} as likes,
    {{ dbt.cast('comments', dbt.type_bigint()) }} as comments,
    {{ dbt.cast('shares', dbt.type_bigint()) }} as shares,
    {{ dbt.cast('clicks', dbt.type_bigint()) }} as clicks,
    {{ dbt.cast('quotes', dbt.type_bigint()) }} as quotes,
    {{ dbt.cast('saves', dbt.type_bigint()) }} as saves,
    {{ dbt.cast('engagements', dbt.type_bigint()) }} as engagements,
    {{ cycle_safe_divide('engagements', 'impressions') }} as engagement_rate,
    case
        when impressions > 0
            then least(
                {{ dbt.cast('1000', cycle_type_double()) }},
                {{ dbt.cast('weighted_interactions', cycle_type_double()) }} * 10000 / impressions
            )
    end as engagement_score

from interactions
