with source as (

    select * from {{ source('raw', 'raw_ai_generations') }}

),

renamed as (

    select
        generation_id,
        generated_at,
        cast(generated_at as date) as generated_date,
        model,
        platform,
        post_id,
        status,
        prompt_tokens,
        completion_tokens,
        prompt_tokens + completion_tokens as total_tokens,
        latency_ms,
        cost_usd,
        partition_date,
        loaded_at

    from source

)

select * from renamed
