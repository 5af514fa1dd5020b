-- How each account's recommendations fared, per kind: what users did with them, and whether the outcomes of the
-- applied ones kept the promise (interval coverage, bias) and beat the alternative they were measured against.

with recommendations as (

    select * from {{ ref('fct_recommendations') }}

),

outcomes as (

    select * from {{ ref('fct_recommendation_outcomes') }}
    where outcome_status = 'measured'

),

decisions as (

    select
        platform,
        account_id,
        kind,
        count(*) as recommendations,
        sum(case when status = 'open' then 1 else 0 end) as open_count,
        sum(case when status = 'applied' then 1 else 0 end) as applied_count,
        sum(case when status = 'dismissed' then 1 else 0 end) as dismissed_count,
        sum(case when status = 'expired' then 1 else 0 end) as expired_count,
        sum(case when status = 'superseded' then 1 else 0 end) as superseded_count
    from recommendations
    group by platform, account_id, kind

),

measured as (

    select
        platform,
        account_id,
        kind,
        count(*) as measured_count,
        avg(case when inside_interval then 1.0 else 0.0 end) as interval_coverage,
        {{ cycle_exact_avg('realized_value') }} as mean_realized_value,
        {{ cycle_exact_avg('expected_value') }} as mean_expected_value,
        {{ cycle_exact_avg('baseline_value') }} as mean_baseline_value,
        {{ cycle_exact_avg('abs(error)') }} as mean_absolute_error
    from outcomes
    group by platform, account_id, kind

)

select
    decisions.platform,
    decisions.account_id,
    decisions.kind,
    decisions.recommendations,
    decisions.open_count,
    decisions.applied_count,
    decisions.dismissed_count,
    decisions.expired_count,
    decisions.superseded_count,
    {{ cycle_safe_divide('decisions.applied_count', 'decisions.applied_count + decisions.dismissed_count') }} as adoption_rate,
    coalesce(measured.measured_count, 0) as measured_count,
    measured.interval_coverage,
    measured.mean_realized_value,
    measured.mean_expected_value,
    measured.mean_baseline_value,
    {{ cycle_safe_divide('measured.mean_realized_value', 'measured.mean_expected_value') }} - 1 as bias,
    {{ cycle_safe_divide('measured.mean_realized_value', 'measured.mean_baseline_value') }} - 1 as realized_lift_vs_baseline,
    measured.mean_absolute_error

from decisions
left join measured
    on decisions.platform = measured.platform
    and decisions.account_id = measured.account_id
    and decisions.kind = measured.kind
