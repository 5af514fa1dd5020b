{#
    Content performance per day at a grain (['platform'] for agg_content_performance_daily, ['platform',
    'account_id'] for agg_account_content_performance_daily): for each hook type, media type and topic (long
    format: dimension, dimension_value), what the posts with that attribute gained that day and how they scored.
    One macro, so the platform-wide and the per-account marts count the same way and cover the same days.
#}
{% macro cycle_content_performance(grain) %}

{%- set dimensions = ['hook_type', 'media_type', 'topic'] %}
{%- set keys = ['metric_date'] + grain + ['dimension', 'dimension_value'] %}

with increments as (

    -- the day's growth of each post's cumulative counters (its first day counts from 0)
    select * from {{ ref('int_post_daily_increments') }}

),

activity as (

    {% for dimension in dimensions %}
    select
        metric_date,
        {{ grain | join(', ') }},
        '{{ dimension }}' as dimension,
        coalesce({{ dimension }}, 'unknown') as dimension_value,
        count(*) as posts_active,
        sum(impressions_increment) as impressions,
        sum(engagements_increment) as engagements,
        {{ cycle_exact_avg('engagement_score') }} as avg_engagement_score
    from increments
    group by metric_date, {{ grain | join(', ') }}, coalesce({{ dimension }}, 'unknown')
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

published as (

    {% for dimension in dimensions %}
    select
        published_date as metric_date,
        {{ grain | join(', ') }},
        '{{ dimension }}' as dimension,
        coalesce({{ dimension }}, 'unknown') as dimension_value,
        count(*) as posts_published
    from {{ ref('dim_post') }}
    group by published_date, {{ grain | join(', ') }}, coalesce({{ dimension }}, 'unknown')
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

bounds as (

    select min(metric_date) as first_day, max(metric_date) as last_day from increments

),

joined as (

    select
        {% for key in keys %}
        coalesce(activity.{{ key }}, published.{{ key }}) as {{ key }},
        {% endfor %}
        coalesce(published.posts_published, 0) as posts_published,
        coalesce(activity.posts_active, 0) as posts_active,
        coalesce(activity.impressions, 0) as impressions,
        coalesce(activity.engagements, 0) as engagements,
        activity.avg_engagement_score

    from activity

    full outer join published
        on {% for key in keys %}activity.{{ key }} = published.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}

)

select
    joined.metric_date,
    {% for column in grain + ['dimension', 'dimension_value'] %}
    {{ dbt.cast('joined.' ~ column, dbt.type_string()) }} as {{ column }},
    {% endfor %}
    {{ dbt.cast('joined.posts_published', dbt.type_int()) }} as posts_published,
    {{ dbt.cast('joined.posts_active', dbt.type_int()) }} as posts_active,
    {{ dbt.cast('joined.impressions', dbt.type_bigint()) }} as impressions,
    {{ dbt.cast('joined.engagements', dbt.type_bigint()) }} as engagements,
    {{ cycle_safe_divide('joined.engagements', 'joined.impressions') }} as engagement_rate,
    {{ dbt.cast('joined.avg_engagement_score', cycle_type_double()) }} as avg_engagement_score

from joined

-- posts published before the first polled day are outside the observed range
inner join bounds
    on joined.metric_date between bounds.first_day and bounds.last_day

{% endmacro %}
