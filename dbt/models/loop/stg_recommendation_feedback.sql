-- Users' decisions on recommendations, one row per recommendation: its first decision. The API's store keeps one
-- decision per recommendation; a store replaced by a new file (new store_id) may hold another for the same one.
-- The first received wins, then the first loaded (the older store), as the API decides it
-- (api/routes/feedback.py, first_decision).

{#- raw_recommendation_feedback is created by its first load, a sensor run once the API has stored a decision:
    until then no decision exists and the model is empty rather than failing. #}

with source as (

    {{ cycle_source_or_empty(source('raw', 'raw_recommendation_feedback'), {
        'feedback_id': 'string', 'recommendation_id': 'string', 'decision': 'string', 'reason': 'string',
        'applied_post_id': 'string', 'applied_details': 'string', 'platform': 'string', 'account_id': 'string',
        'workspace_id': 'string', 'key_id': 'string', 'received_at': 'timestamp', 'store_id': 'string',
        'store_seq': 'bigint', 'loaded_at': 'timestamp'}) }}

),

ranked as (

    select
        source.*,
        row_number() over (
            partition by recommendation_id
            order by received_at, loaded_at, store_seq, feedback_id
        ) as decision_rank,
        count(*) over (partition by recommendation_id) as decisions_stored

    from source

)

select
    feedback_id,
    recommendation_id,
    decision,
    -- the status a decision gives (contracts/recommendations.py, FEEDBACK_DECISIONS)
    case decision
        when 'apply' then 'applied'
        when 'dismiss' then 'dismissed'
    end as status,
    reason,
    applied_post_id,
    applied_details,
    platform,
    account_id,
    workspace_id,
    key_id,
    received_at,
    decisions_stored,
    store_id,
    store_seq,
    loaded_at

from ranked
where decision_rank = 1
