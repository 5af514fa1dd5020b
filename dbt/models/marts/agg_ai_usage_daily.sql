{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='generated_date',
        pre_hook="{{ cycle_delete_window('generated_date') }}"
    )
}}

-- AI content generator usage per day and model: calls, outcomes, tokens, cost and latency percentiles.
-- Everything of a day comes from that day's calls, so an incremental run replaces exactly its window.

with generations as (

    select * from {{ ref('stg_ai_generations') }}
    {% if is_incremental() %}
    where {{ cycle_in_window('generated_date') }}
    {% endif %}

)

select
    generated_date,
    {{ dbt.cast('model', dbt.type_string()) }} as model,
    {{ dbt.cast('count(*)', dbt.type_bigint()) }} as calls,
    {{ dbt.cast("sum(case when status = 'succeeded' then 1 else 0 end)", dbt.type_bigint()) }} as succeeded,
    {{ dbt.cast("sum(case when status = 'failed' then 1 else 0 end)", dbt.type_bigint()) }} as failed,
    {{ dbt.cast("sum(case when status = 'filtered' then 1 else 0 end)", dbt.type_bigint()) }} as filtered,
    {{ cycle_safe_divide("sum(case when status <> 'succeeded' then 1 else 0 end)", 'count(*)') }} as failure_rate,
    {{ dbt.cast('sum(case when post_id is not null then 1 else 0 end)', dbt.type_bigint()) }} as posts_published,
    {{ dbt.cast('sum(prompt_tokens)', dbt.type_bigint()) }} as prompt_tokens,
    {{ dbt.cast('sum(completion_tokens)', dbt.type_bigint()) }} as completion_tokens,
    {{ dbt.cast('sum(total_tokens)', dbt.type_bigint()) }} as total_tokens,
    {{ cycle_exact_sum('cost_usd') }} as cost_usd,
    {{ cycle_safe_divide(cycle_exact_sum('cost_usd'), "sum(case when status = 'succeeded' then 1 else 0 end)") }} as cost_per_success_usd,
    {{ dbt.cast(cycle_median('latency_ms'), cycle_type_double()) }} as latency_p50_ms,
    {{ dbt.cast(cycle_percentile('latency_ms', 0.95), cycle_type_double()) }} as latency_p95_ms,
    {{ dbt.cast('max(latency_ms)', cycle_type_double()) }} as latency_max_ms

from generations
group by generated_date, model
