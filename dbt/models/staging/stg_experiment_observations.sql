-- A/B test exposures from both sources (cycle_with_tracked_events): the simulator's or a connector's
-- (raw_experiment_observations) and the tracked ones (raw_tracked_experiment_observations); one row per
-- experiment and unit.

with source as (

    {{ cycle_with_tracked_events(
        'raw_experiment_observations', 'raw_tracked_experiment_observations',
        {
            'experiment_id': 'string', 'experiment_name': 'string', 'factor': 'string', 'start_date': 'date',
            'end_date': 'date', 'metric': 'string', 'metric_kind': 'string', 'baseline_mean': 'double',
            'baseline_sd': 'double', 'mde': 'double', 'alpha': 'double', 'power': 'double', 'variant': 'string',
            'variant_role': 'string', 'unit_id': 'string', 'exposed_at': 'timestamp', 'value': 'double'
        },
        happened_at='exposed_at', keys=['experiment_id', 'unit_id']
    ) }}

),

renamed as (

    select
        experiment_id,
        experiment_name,
        factor,
        start_date,
        end_date,
        metric,
        metric_kind,
        baseline_mean,
        baseline_sd,
        mde,
        alpha,
        power,
        variant,
        variant_role,
        unit_id,
        exposed_at,
        cast(exposed_at as date) as exposure_date,
        value,
        partition_date,
        loaded_at

    from source

)

select * from renamed
