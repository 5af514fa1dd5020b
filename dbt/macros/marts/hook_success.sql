{#
    Which hook templates engage best within each group of `grain` (every post for agg_hook_success; each
    publishing account's own posts for agg_account_hook_success), with the uncertainty that makes a ranking
    fair: each hook's mean engagement rate with its 95% t confidence interval, ranked by the interval's lower
    bound, and only when enough posts used it (var hook_min_posts), so a hook used twice cannot top the list
    by luck. `lift_column` names the hook's lift over the group's mean rate. One macro, so both marts take the
    same sample and rank the same way.
#}
{% macro cycle_hook_success(grain, lift_column) %}

{%- set group_by = grain | join(', ') %}
{%- set rank_partition = [] %}
{%- for column in grain %}{% do rank_partition.append('bounded.' ~ column) %}{% endfor %}

with posts as (

    select * from {{ ref('dim_post') }}
    -- a post's rate settles once it is some hours old; the newest posts would only add noise
    where engagement_rate is not null
        and post_age_hours >= {{ var('hook_min_post_age_hours') }}

),

t_table as (

    select * from {{ ref('t_critical_values_95') }}

),

overall as (

    select
        {% for column in grain %}{{ column }}, {% endfor %}
        {{ cycle_exact_avg('engagement_rate') }} as overall_engagement_rate
    from posts
    {% if grain %}group by {{ group_by }}{% endif %}

),

by_hook as (

    select
        {% for column in grain %}{{ column }}, {% endfor %}
        coalesce(hook_type, 'unknown') as hook_type,
        count(*) as posts,
        {{ cycle_exact_avg('engagement_rate') }} as mean_engagement_rate,
        {{ cycle_exact_stddev_samp('engagement_rate') }} as sd_engagement_rate,
        {{ cycle_exact_avg('engagement_score') }} as mean_engagement_score

    from posts
    group by {% for column in grain %}{{ column }}, {% endfor %}coalesce(hook_type, 'unknown')

),

intervals as (

    select
        by_hook.*,
        by_hook.sd_engagement_rate / sqrt(by_hook.posts) as standard_error,
        {{ cycle_t_critical_95('by_hook.posts - 1', 't_table.t_critical') }} as t_critical

    from by_hook

    left join t_table
        on t_table.df = by_hook.posts - 1

),

bounded as (

    select
        intervals.*,
        mean_engagement_rate - t_critical * standard_error as ci_lower,
        mean_engagement_rate + t_critical * standard_error as ci_upper,
        posts < {{ var('hook_min_posts') }} as insufficient_sample

    from intervals

)

select
    {% for column in grain %}
    {{ dbt.cast('bounded.' ~ column, dbt.type_string()) }} as {{ column }},
    {% endfor %}
    {{ dbt.cast('bounded.hook_type', dbt.type_string()) }} as hook_type,
    {{ dbt.cast('bounded.posts', dbt.type_bigint()) }} as posts,
    {{ dbt.cast('bounded.mean_engagement_rate', cycle_type_double()) }} as mean_engagement_rate,
    {{ dbt.cast('bounded.sd_engagement_rate', cycle_type_double()) }} as sd_engagement_rate,
    {{ dbt.cast('bounded.standard_error', cycle_type_double()) }} as standard_error,
    {{ dbt.cast('bounded.t_critical', cycle_type_double()) }} as t_critical,
    {{ dbt.cast('bounded.ci_lower', cycle_type_double()) }} as ci_lower,
    {{ dbt.cast('bounded.ci_upper', cycle_type_double()) }} as ci_upper,
    {{ dbt.cast('bounded.mean_engagement_score', cycle_type_double()) }} as mean_engagement_score,
    {{ cycle_safe_divide('bounded.mean_engagement_rate', 'overall.overall_engagement_rate') }} - 1 as {{ lift_column }},
    bounded.insufficient_sample,
    case
        when not bounded.insufficient_sample and bounded.ci_lower is not null then
            {{ dbt.cast(
                'row_number() over (' ~ ('partition by ' ~ (rank_partition | join(', ')) if grain else '')
                ~ ' order by case when not bounded.insufficient_sample and bounded.ci_lower is not null then 0 else 1 end, bounded.ci_lower desc nulls last, bounded.mean_engagement_rate desc nulls last, bounded.hook_type)',
                dbt.type_int()
            ) }}
    end as hook_rank

from bounded

{% if grain %}
inner join overall
    on {% for column in grain %}bounded.{{ column }} = overall.{{ column }}{% if not loop.last %} and {% endif %}{% endfor %}
{% else %}
cross join overall
{% endif %}

{% endmacro %}
