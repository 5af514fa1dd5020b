-- Calls to the AI content generator from both sources (cycle_with_tracked_events): the simulator's or a
-- connector's (raw_ai_generations) and the tracked ones (raw_tracked_ai_generations; generation_id is the
-- event's event_id).

with source as (

    {{ cycle_with_tracked_events(
        'raw_ai_generations', 'raw_tracked_ai_generations',
        {
            'generation_id': 'string', 'generated_at': 'timestamp', 'model': 'string', 'platform': 'string',
            'post_id': 'string', 'status': 'string', 'prompt_tokens': 'bigint', 'completion_tokens': 'bigint',
            'latency_ms': 'bigint', 'cost_usd': 'double'
        },
        happened_at='generated_at', keys=['generation_id']
    ) }}

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
