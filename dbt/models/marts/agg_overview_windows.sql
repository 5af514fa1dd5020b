-- The dashboard overview: for each window ending at the latest day with data (24 hours = that day, 7,
-- 30 and 90 days; var overview_windows) every overview metric, the same metric over the previous window
-- of equal length, and the change. api/overview.py computes the same for any date range from
-- agg_overview_daily; a test holds the two to the same numbers.

{%- set windows = var('overview_windows') %}
{%- set additive = [
    'spend_usd', 'revenue_usd', 'paid_conversions', 'paid_impressions', 'paid_clicks',
    'organic_impressions', 'organic_engagements', 'posts_published', 'ai_calls', 'ai_cost_usd'
] %}
{#- the float ones are added exactly (cycle_exact_sum: in any order the same sums); the counts are integers #}
{%- set float_columns = ['spend_usd', 'revenue_usd', 'paid_conversions', 'ai_cost_usd'] %}
{#- metric name -> expression over the window's sums (ratios of sums, never means of daily ratios) #}
{%- set metrics = [
    ('spend_usd', 'spend_usd'),
    ('revenue_usd', 'revenue_usd'),
    ('profit_usd', 'revenue_usd - spend_usd'),
    ('margin', cycle_safe_divide('revenue_usd - spend_usd', 'revenue_usd')),
    ('roas', cycle_safe_divide('revenue_usd', 'spend_usd')),
    ('paid_conversions', 'paid_conversions'),
    ('cpa_usd', cycle_safe_divide('spend_usd', 'paid_conversions')),
    ('paid_impressions', 'paid_impressions'),
    ('paid_clicks', 'paid_clicks'),
    ('ctr', cycle_safe_divide('paid_clicks', 'paid_impressions')),
    ('organic_impressions', 'organic_impressions'),
    ('organic_engagements', 'organic_engagements'),
    ('organic_engagement_rate', cycle_safe_divide('organic_engagements', 'organic_impressions')),
    ('posts_published', 'posts_published'),
    ('ai_calls', 'ai_calls'),
    ('ai_cost_usd', 'ai_cost_usd'),
] %}

with daily as (

    select * from {{ ref('agg_overview_daily') }}

),

latest as (

    select max(metric_date) as latest_day from daily

),

windows as (

    {% for window_name, window_days in windows %}
    select
        '{{ window_name }}' as window_name,
        {{ loop.index }} as window_order,
        {{ window_days }} as window_days,
        cast({{ dbt.dateadd('day', 1 - window_days, 'latest_day') }} as date) as current_start,
        latest_day as current_end,
        cast({{ dbt.dateadd('day', 1 - 2 * window_days, 'latest_day') }} as date) as previous_start,
        cast({{ dbt.dateadd('day', -window_days, 'latest_day') }} as date) as previous_end
    from latest
    where latest_day is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

periods as (

    select window_name, 'current' as period, current_start as period_start, current_end as period_end
    from windows
    union all
    select window_name, 'previous' as period, previous_start as period_start, previous_end as period_end
    from windows

),

sums as (

    select
        periods.window_name,
        periods.period,
        count(daily.metric_date) as days_with_data,
        {% for column in additive %}
        {%- if column in float_columns %}
        {{ cycle_exact_sum('daily.' ~ column) }} as {{ column }}{% if not loop.last %},{% endif %}
        {%- else %}
        sum(daily.{{ column }}) as {{ column }}{% if not loop.last %},{% endif %}
        {%- endif %}
        {% endfor %}

    from periods

    left join daily
        on daily.metric_date between periods.period_start and periods.period_end

    group by periods.window_name, periods.period

),

metric_rows as (

    {% for metric, expression in metrics %}
    select
        window_name,
        period,
        days_with_data,
        '{{ metric }}' as metric,
        {{ loop.index }} as metric_order,
        -- a window without any day of data has no value (not 0)
        case when days_with_data > 0 then {{ dbt.cast(expression, cycle_type_double()) }} end as metric_value
    from sums
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    windows.window_name,
    windows.window_order,
    windows.window_days,
    windows.current_start,
    windows.current_end,
    windows.previous_start,
    windows.previous_end,
    current_rows.metric,
    current_rows.metric_order,
    current_rows.days_with_data as current_days_with_data,
    previous_rows.days_with_data as previous_days_with_data,
    current_rows.metric_value as current_value,
    previous_rows.metric_value as previous_value,
    current_rows.metric_value - previous_rows.metric_value as change,
    case
        when previous_rows.metric_value is null or previous_rows.metric_value = 0 then null
        else (current_rows.metric_value - previous_rows.metric_value) / abs(previous_rows.metric_value)
    end as change_pct

from windows

inner join metric_rows as current_rows
    on windows.window_name = current_rows.window_name
    and current_rows.period = 'current'

inner join metric_rows as previous_rows
    on current_rows.window_name = previous_rows.window_name
    and current_rows.metric = previous_rows.metric
    and previous_rows.period = 'previous'
