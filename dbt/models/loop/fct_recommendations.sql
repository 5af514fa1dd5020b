-- Every recommendation with its status: the user's decision wins (applied, dismissed), then superseded (a later
-- run dropped it), expired (its slot or window passed), else open. What recommendations.parquet serves; the API
-- applies decisions and expiry that are newer than this table itself (contracts/recommendations.served_status).

{#- ml.ml_recommendations is created by the posting policy's first run: until then (a whole-project dbt build on a
    fresh warehouse) there is no recommendation, and this model is empty rather than failing. #}

with recommendations as (

    {{ cycle_source_or_empty(source('ml', 'ml_recommendations'), {
        'recommendation_id': 'string', 'kind': 'string', 'platform': 'string', 'account_id': 'string',
        'target_type': 'string', 'target_id': 'string', 'action': 'string', 'action_fields': 'string',
        'slot_start': 'timestamp', 'expected_metric': 'string', 'expected_value': 'double',
        'expected_low': 'double', 'expected_high': 'double', 'baseline_value': 'double', 'confidence': 'double',
        'propensity': 'double', 'policy': 'string', 'model_name': 'string', 'model_version': 'string',
        'sample_size': 'bigint', 'evidence': 'string', 'created_at': 'timestamp', 'expires_at': 'timestamp',
        'last_generated_at': 'timestamp', 'superseded_at': 'timestamp'}) }}

),

feedback as (

    select * from {{ ref('stg_recommendation_feedback') }}

),

as_of as (

    select {{ cycle_utc_now() }} as status_as_of

)

select
    recommendations.*,
    case
        when feedback.decision = 'apply' then 'applied'
        when feedback.decision = 'dismiss' then 'dismissed'
        when recommendations.superseded_at is not null then 'superseded'
        when recommendations.expires_at <= as_of.status_as_of then 'expired'
        else 'open'
    end as status,
    as_of.status_as_of,
    feedback.received_at as decided_at,
    feedback.feedback_id,
    feedback.applied_post_id

from recommendations
cross join as_of
left join feedback
    on recommendations.recommendation_id = feedback.recommendation_id
