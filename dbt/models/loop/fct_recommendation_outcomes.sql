-- What came of each applied recommendation, against what it promised.
-- posting_slot, exploration, content: the engagement score of the post the user published for it (applied_post_id)
--   once that post is var('recommendation_outcome_min_age_hours') old, against the promised score and interval;
--   until then the outcome is awaiting_data, and an apply without a post id has none to measure (no_post).
-- boost: the incremental engagements (paid + organic lift against the counterfactual) that boost_effectiveness
--   estimated for the latest boost of the recommended post (target_id), once that post has been evaluated at that
--   age; until then (no boost of it yet, or not estimated, or too young) awaiting_data.
-- budget: the campaign's (target_id) mean conversions a day over var('budget_outcome_days') days that start
--   var('budget_outcome_settle_days') days after the decision (the carryover of the old budget has faded by then),
--   against the promised conversions a day at the new budget; awaiting_data until every one of those days is in.
--   The interval is that of one realized day: a mean of several days falls inside it more often than a day does.

{#- analysis.boost_effectiveness is created by the boost_effectiveness asset: until it exists no boost outcome can
    be measured, and applied boosts stay awaiting_data. #}

with applied as (

    select * from {{ ref('fct_recommendations') }}
    where status = 'applied'

),

posts as (

    select post_id, platform, published_at, post_age_hours, engagement_score, hook_type, media_type, topic
    from {{ ref('dim_post') }}

),

boost_effectiveness as (

    {{ cycle_source_or_empty(source('analysis', 'boost_effectiveness'), {
        'boost_id': 'string', 'platform': 'string', 'post_id': 'string', 'flight_start_at': 'timestamp',
        'status': 'string', 'evaluation_age_hours': 'bigint', 'incremental_engagements': 'double',
        'incremental_engagements_low': 'double', 'incremental_engagements_high': 'double'}) }}

),

-- the days after a budget decision that tell what the new budget brought (see the header)
budget_days as (

    select
        applied.recommendation_id,
        count(*) as days_in,
        {{ cycle_exact_avg('campaigns.conversions') }} as conversions_per_day

    from applied
    inner join {{ ref('fct_campaign_performance') }} as campaigns
        on applied.platform = campaigns.platform
        and applied.account_id = campaigns.account_id
        and applied.target_id = campaigns.campaign_id
        and campaigns.metric_date > {{ dbt.dateadd('day', var('budget_outcome_settle_days'), 'cast(applied.decided_at as date)') }}
        and campaigns.metric_date <= {{ dbt.dateadd('day', var('budget_outcome_settle_days') + var('budget_outcome_days'), 'cast(applied.decided_at as date)') }}
    where applied.kind = 'budget'
    group by applied.recommendation_id

),

-- a post is boosted once in practice; should it be boosted again, the latest boost is the one the advice led to
latest_boosts as (

    select
        boost_id,
        platform,
        post_id,
        status as boost_status,
        evaluation_age_hours,
        incremental_engagements,
        row_number() over (partition by platform, post_id order by flight_start_at desc nulls last, boost_id desc nulls last) as boost_rank

    from boost_effectiveness

),

joined as (

    select
        applied.recommendation_id,
        applied.kind,
        applied.platform,
        applied.account_id,
        applied.target_id,
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
        case when applied.kind = 'boost' then applied.target_id else applied.applied_post_id end as outcome_post_id,
        posts.published_at as post_published_at,
        posts.post_age_hours,
        posts.hook_type,
        posts.media_type,
        posts.topic,
        latest_boosts.boost_id,
        case
            when applied.kind = 'budget' then
                case when budget_days.days_in >= {{ var('budget_outcome_days') }} then 'measured' else 'awaiting_data' end
            when applied.kind = 'boost' then
                case
                    when latest_boosts.boost_status = 'estimated'
                        and latest_boosts.evaluation_age_hours >= {{ var('recommendation_outcome_min_age_hours') }}
                        then 'measured'
                    else 'awaiting_data'
                end
            when applied.applied_post_id is null then 'no_post'
            when posts.post_id is null
                or posts.post_age_hours < {{ var('recommendation_outcome_min_age_hours') }}
                or posts.engagement_score is null then 'awaiting_data'
            else 'measured'
        end as outcome_status,
        case
            when applied.kind = 'budget' then budget_days.conversions_per_day
            when applied.kind = 'boost' then latest_boosts.incremental_engagements
            else posts.engagement_score
        end as outcome_value

    from applied
    left join posts
        on applied.platform = posts.platform
        and posts.post_id = case when applied.kind = 'boost' then applied.target_id else applied.applied_post_id end
    left join latest_boosts
        on applied.kind = 'boost'
        and latest_boosts.platform = applied.platform
        and latest_boosts.post_id = applied.target_id
        and latest_boosts.boost_rank = 1
    left join budget_days
        on applied.recommendation_id = budget_days.recommendation_id

)

select
    recommendation_id,
    kind,
    platform,
    account_id,
    target_id,
    policy,
    propensity,
    model_version,
    slot_start,
    decided_at,
    applied_post_id,
    outcome_post_id,
    post_published_at,
    -- published within the recommended hour: the slot was followed, not only acknowledged
    case
        when slot_start is null or post_published_at is null then null
        else post_published_at >= slot_start and post_published_at < {{ dbt.dateadd('hour', 1, 'slot_start') }}
    end as published_in_slot,
    -- the post published for a content recommendation uses the recommended level ('<platform>:<account>:<factor>=<level>')
    case
        when kind <> 'content' or post_published_at is null then null
        else target_id in (
            {{ dbt.concat(['platform', "':'", 'account_id', "':hook_type='", 'hook_type']) }},
            {{ dbt.concat(['platform', "':'", 'account_id', "':media_type='", 'media_type']) }},
            {{ dbt.concat(['platform', "':'", 'account_id', "':topic='", 'topic']) }}
        )
    end as used_recommended_content,
    boost_id,
    expected_metric,
    expected_value,
    expected_low,
    expected_high,
    baseline_value,
    outcome_status,
    case when outcome_status = 'measured' then outcome_value end as realized_value,
    case
        when outcome_status = 'measured' then outcome_value between expected_low and expected_high
    end as inside_interval,
    case when outcome_status = 'measured' then outcome_value - expected_value end as error

from joined
