{#
    Content performance per day at a grain (['platform'] for agg_content_performance_daily, ['platform',
    'account_id'] for agg_account_content_performance_daily): for each hook type, media type and topic (long
    format: dimension, dimension_value), what the posts with that attribute gained that day and how they scored.
    One macro, so the platform-wide and the per-account marts count the same way and cover the same days.

    Both are incremental (their config: delete+insert on metric_date, the pre-hook deleting the days this
    writes). A windowed run rewrites its window widened by var post_history_lookback_days (8) on both sides,
    reading only those days of its inputs (plain ranges on metric_date and published_date): after it, the
    days int_post_daily_increments rewrote (the later days whose increments count from the window's); before
    it, the publication days of the posts with a row in the window, whose counts by hook, media type and topic
    follow dim_post's latest attributes, which the window can change (a post is published at most 8 days
    before any of its snapshot days; fct_post_metrics_daily's post_age_hours test fails otherwise). The
    observed range (bounds) is still the whole history's: a scan of one date column.
#}
{% macro cycle_content_performance(grain) %}

{%- set dimensions = ['hook_type', 'media_type', 'topic'] %}
{%- set keys = ['metric_date'] + grain + ['dimension', 'dimension_value'] %}
{%- set lookback = var('post_history_lookback_days') %}

{%- if is_incremental() %}
{%- set window_days = cycle_window_days() %}
{%- set written_days = cycle_window_days(before=lookback, after=lookback) %}
-- incremental run: window '{{ window_days[0] }}' .. '{{ window_days[1] }}', rewriting '{{ written_days[0] }}' .. '{{ written_days[1] }}'
{%- endif %}

with increments as (

    -- the day's growth of each post's cumulative counters (its first day counts from 0)
    select * from {{ ref('int_post_daily_increments') }}
    {% if is_incremental() %}
    where {{ cycle_in_window('metric_date', before=lookback, after=lookback) }}
    {% endif %}

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
    {% if is_incremental() %}
    where {{ cycle_in_window('published_date', before=lookback, after=lookback) }}
    {% endif %}
    group by published_date, {{ grain | join(', ') }}, coalesce({{ dimension }}, 'unknown')
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

bounds as (

    -- the whole history's first and last day, also on a windowed run (increments holds only its days)
    select min(metric_date) as first_day, max(metric_date) as last_day from {{ ref('int_post_daily_increments') }}

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
