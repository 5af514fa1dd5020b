-- What came of each applied recommendation, against what it promised. A posting slot's outcome is the engagement
-- score of the post the user published for it (applied_post_id) once that post is a week old; until then the
-- outcome is awaiting_data, and an apply without a post id has none to measure (no_post).

with applied as (

    select * from {{ ref('fct_recommendations') }}
    where status = 'applied'

),

posts as (

    select post_id, platform, published_at, post_age_hours, engagement_score
    from {{ ref('dim_post') }}

),

joined as (

    select
        applied.recommendation_id,
        applied.kind,
        applied.platform,
        applied.account_id,
        applied.policy,
        applied.propensity,
        applied.model_version,
        applied.slot_start,
        applied.decided_at,
        applied.applied_post_id,
        applied.expected_metric,
        applied.expected_value,
        applied.expected_low,
        applied.expected_high,
        applied.baseline_value,
        posts.published_at as post_published_at,
        posts.post_age_hours,
        case
            when applied.applied_post_id is null then 'no_post'
            when posts.post_id is null
                or posts.post_age_hours < {{ var('recommendation_outcome_min_age_hours') }}
                or posts.engagement_score is null then 'awaiting_data'
            else 'measured'
        end as outcome_status,
        posts.engagement_score

    from applied
    left join posts
        on applied.platform = posts.platform
        and applied.applied_post_id = posts.post_id

)

select
    recommendation_id,
    kind,
    platform,
    account_id,
    policy,
    propensity,
    model_version,
    slot_start,
    decided_at,
    applied_post_id,
    post_published_at,
    -- published within the recommended hour: the slot was followed, not only acknowledged
    case
        when slot_start is null or post_published_at is null then null
        else post_published_at >= slot_start and post_published_at < {{ dbt.dateadd('hour', 1, 'slot_start') }}
    end as published_in_slot,
    expected_metric,
    expected_value,
    expected_low,
    expected_high,
    baseline_value,
    outcome_status,
    case when outcome_status = 'measured' then engagement_score end as realized_value,
    case
        when outcome_status = 'measured' then engagement_score between expected_low and expected_high
    end as inside_interval,
    case when outcome_status = 'measured' then engagement_score - expected_value end as error

from joined
