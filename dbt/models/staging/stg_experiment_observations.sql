with source as (

    select * from {{ source('raw', 'raw_experiment_observations') }}

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
