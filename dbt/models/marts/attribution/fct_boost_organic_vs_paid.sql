-- Organic versus paid per boost: the boosted post's organic engagement growth next to the boost's paid
-- delivery (from fct_boost_contribution), and the tracked journeys each side reached: journeys with an
-- organic touch of the post (utm_content = post id), with a paid touch of the boost (utm_campaign = its
-- campaign id), with both (overlap), and those only the ad reached (incremental reach). Each boost belongs
-- to the boosted post's account (platform = the post's platform): a workspace sees the boosts of its posts.
-- A boost of a post Cycle does not track (a Facebook/Instagram post a Meta ad promotes) has no post in
-- dim_post: it belongs to the ad account that paid for it (platform = the ad platform, account_id = the
-- campaign's account), so it is still served to exactly one workspace.

with boosts as (

    select * from {{ ref('fct_boost_contribution') }}

),

touchpoints as (

    select * from {{ ref('stg_touchpoints') }}

),

posts as (

    select platform, post_id, account_id from {{ ref('dim_post') }}

),

-- a campaign belongs to one ad account (min() only makes the grain explicit)
ad_accounts as (

    select platform, campaign_id, min(account_id) as account_id
    from {{ ref('stg_ad_campaign_metrics') }}
    group by platform, campaign_id

),

paid_touches as (

    select
        boosts.boost_id,
        touchpoints.journey_id,
        min(touchpoints.event_at) as first_touch_at

    from boosts

    inner join touchpoints
        on touchpoints.utm_campaign = boosts.campaign_id
        and touchpoints.channel = boosts.ad_platform
        and touchpoints.event_type = 'touchpoint'

    group by boosts.boost_id, touchpoints.journey_id

),

organic_touches as (

    select
        boosts.boost_id,
        touchpoints.journey_id,
        min(touchpoints.event_at) as first_touch_at

    from boosts

    inner join touchpoints
        on touchpoints.utm_content = boosts.post_id
        and touchpoints.channel_type = 'organic'
        and touchpoints.event_type = 'touchpoint'

    group by boosts.boost_id, touchpoints.journey_id

),

journeys as (

    select
        coalesce(paid_touches.boost_id, organic_touches.boost_id) as boost_id,
        coalesce(paid_touches.journey_id, organic_touches.journey_id) as journey_id,
        case when paid_touches.journey_id is null then 0 else 1 end as has_paid,
        case when organic_touches.journey_id is null then 0 else 1 end as has_organic,
        case
            when paid_touches.first_touch_at is null then organic_touches.first_touch_at
            when organic_touches.first_touch_at is null then paid_touches.first_touch_at
            when paid_touches.first_touch_at <= organic_touches.first_touch_at then paid_touches.first_touch_at
            else organic_touches.first_touch_at
        end as first_touch_at

    from paid_touches

    full outer join organic_touches
        on paid_touches.boost_id = organic_touches.boost_id
        and paid_touches.journey_id = organic_touches.journey_id

),

conversions as (

    select journey_id, event_at as converted_at, conversion_value_usd
    from touchpoints
    where event_type = 'conversion'

),

-- a journey counts as converted for a boost when it converted after its first touch of that boost
journey_outcomes as (

    select
        journeys.boost_id,
        journeys.journey_id,
        journeys.has_paid,
        journeys.has_organic,
        max(case when conversions.journey_id is null then 0 else 1 end) as converted,
        coalesce({{ cycle_exact_sum('conversions.conversion_value_usd') }}, 0) as conversion_value_usd

    from journeys

    left join conversions
        on conversions.journey_id = journeys.journey_id
        and conversions.converted_at >= journeys.first_touch_at

    group by journeys.boost_id, journeys.journey_id, journeys.has_paid, journeys.has_organic

),

per_boost as (

    select
        boost_id,
        sum(has_organic) as organic_journeys,
        sum(has_paid) as paid_journeys,
        sum(has_paid * has_organic) as overlap_journeys,
        count(*) as reached_journeys,
        sum(has_organic * (1 - has_paid)) as organic_only_journeys,
        sum(has_paid * (1 - has_organic)) as paid_only_journeys,
        sum(converted) as converted_journeys,
        sum(converted * has_paid * (1 - has_organic)) as paid_only_conversions,
        sum(converted * has_organic * (1 - has_paid)) as organic_only_conversions,
        sum(converted * has_paid * has_organic) as overlap_conversions,
        {{ cycle_exact_sum('conversion_value_usd') }} as conversion_value_usd

    from journey_outcomes

    group by boost_id

)

select
    boosts.boost_id,
    {{ dbt.cast('case when boosts.is_organic_tracked then boosts.organic_platform else boosts.ad_platform end', dbt.type_string()) }} as platform,
    {{ dbt.cast('case when boosts.is_organic_tracked then posts.account_id else ad_accounts.account_id end', dbt.type_string()) }} as account_id,
    boosts.post_id,
    boosts.organic_platform,
    boosts.ad_platform,
    boosts.campaign_id,
    boosts.start_date,
    boosts.end_date,
    boosts.is_organic_tracked,
    boosts.spend_usd,
    boosts.paid_impressions,
    boosts.paid_engagements,
    boosts.organic_engagements,
    boosts.paid_share,
    boosts.organic_share,
    {{ dbt.cast('coalesce(per_boost.organic_journeys, 0)', dbt.type_bigint()) }} as organic_journeys,
    {{ dbt.cast('coalesce(per_boost.paid_journeys, 0)', dbt.type_bigint()) }} as paid_journeys,
    {{ dbt.cast('coalesce(per_boost.overlap_journeys, 0)', dbt.type_bigint()) }} as overlap_journeys,
    {{ dbt.cast('coalesce(per_boost.reached_journeys, 0)', dbt.type_bigint()) }} as reached_journeys,
    {{ dbt.cast('coalesce(per_boost.organic_only_journeys, 0)', dbt.type_bigint()) }} as organic_only_journeys,
    {{ dbt.cast('coalesce(per_boost.paid_only_journeys, 0)', dbt.type_bigint()) }} as incremental_reach_journeys,
    {{ cycle_safe_divide('per_boost.paid_only_journeys', 'per_boost.paid_journeys') }} as incremental_reach_share,
    {{ cycle_safe_divide('per_boost.overlap_journeys', 'per_boost.reached_journeys') }} as overlap_share,
    {{ dbt.cast('coalesce(per_boost.converted_journeys, 0)', dbt.type_bigint()) }} as converted_journeys,
    {{ dbt.cast('coalesce(per_boost.paid_only_conversions, 0)', dbt.type_bigint()) }} as paid_only_conversions,
    {{ dbt.cast('coalesce(per_boost.organic_only_conversions, 0)', dbt.type_bigint()) }} as organic_only_conversions,
    {{ dbt.cast('coalesce(per_boost.overlap_conversions, 0)', dbt.type_bigint()) }} as overlap_conversions,
    {{ dbt.cast('coalesce(per_boost.conversion_value_usd, 0)', cycle_type_double()) }} as conversion_value_usd

from boosts

left join per_boost
    on boosts.boost_id = per_boost.boost_id

left join posts
    on boosts.organic_platform = posts.platform
    and boosts.post_id = posts.post_id

left join ad_accounts
    on boosts.ad_platform = ad_accounts.platform
    and boosts.campaign_id = ad_accounts.campaign_id
