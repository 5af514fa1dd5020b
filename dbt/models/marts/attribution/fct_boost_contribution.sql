-- What each boost bought: its paid delivery next to the boosted post's organic engagement growth over the
-- boost's flight. Boost days whose campaign day or post is missing are held back (fct_held_back_rows).
-- A boost of a post Cycle does not track (a Facebook/Instagram post a Meta ad promotes) has no snapshots:
-- its organic side is unknown, null rather than 0 (0 would claim the post drew no organic engagement).

with boost_days as (

    select * from {{ ref('int_boosts_with_parents') }}

),

currency_rates as (

    select * from {{ ref('currency_rates_usd') }}

),

post_days as (

    select platform, post_id, metric_date, engagements
    from {{ ref('fct_post_metrics_daily') }}

),

boosts as (

    select
        boost_days.boost_id,
        min(boost_days.post_id) as post_id,
        min(boost_days.organic_platform) as organic_platform,
        min(boost_days.ad_platform) as ad_platform,
        min(boost_days.campaign_id) as campaign_id,
        min(boost_days.start_date) as start_date,
        max(boost_days.end_date) as end_date,
        count(distinct boost_days.boost_date) as days_active,
        {{ cycle_exact_sum('boost_days.spend * currency_rates.usd_per_unit') }} as spend_usd,
        sum(boost_days.paid_impressions) as paid_impressions,
        sum(boost_days.paid_engagements) as paid_engagements

    from boost_days

    left join currency_rates
        on boost_days.currency = currency_rates.currency

    group by boost_days.boost_id

),

-- the post's cumulative engagements just before the flight (its last snapshot day before start_date)...
before_flight as (

    select boost_id, engagements
    from (
        select
            boosts.boost_id,
            post_days.engagements,
            row_number() over (
                partition by boosts.boost_id order by post_days.metric_date desc nulls last
            ) as recency_rank
        from boosts
        inner join post_days
            on post_days.platform = boosts.organic_platform
            and post_days.post_id = boosts.post_id
            and post_days.metric_date < boosts.start_date
    ) ranked
    where recency_rank = 1

),

-- ... and at the end of it (its last snapshot day up to end_date, within the flight)
end_of_flight as (

    select boost_id, engagements
    from (
        select
            boosts.boost_id,
            post_days.engagements,
            row_number() over (
                partition by boosts.boost_id order by post_days.metric_date desc nulls last
            ) as recency_rank
        from boosts
        inner join post_days
            on post_days.platform = boosts.organic_platform
            and post_days.post_id = boosts.post_id
            and post_days.metric_date >= boosts.start_date
            and post_days.metric_date <= boosts.end_date
    ) ranked
    where recency_rank = 1

),

contribution as (

    select
        boosts.boost_id,
        boosts.post_id,
        boosts.organic_platform,
        boosts.ad_platform,
        boosts.campaign_id,
        boosts.start_date,
        boosts.end_date,
        boosts.days_active,
        boosts.spend_usd,
        boosts.paid_impressions,
        boosts.paid_engagements,
        not ({{ cycle_is_untracked_boost('boosts') }}) as is_organic_tracked,
        case
            when {{ cycle_is_untracked_boost('boosts') }} then null
            when end_of_flight.engagements is null then 0
            else end_of_flight.engagements - coalesce(before_flight.engagements, 0)
        end as organic_engagements

    from boosts

    left join before_flight
        on boosts.boost_id = before_flight.boost_id

    left join end_of_flight
        on boosts.boost_id = end_of_flight.boost_id

)

select
    boost_id,
    post_id,
    organic_platform,
    ad_platform,
    campaign_id,
    start_date,
    end_date,
    {{ dbt.cast('days_active', dbt.type_int()) }} as days_active,
    {{ dbt.cast('spend_usd', cycle_type_double()) }} as spend_usd,
    {{ dbt.cast('paid_impressions', dbt.type_bigint()) }} as paid_impressions,
    {{ dbt.cast('paid_engagements', dbt.type_bigint()) }} as paid_engagements,
    is_organic_tracked,
    {{ dbt.cast('organic_engagements', dbt.type_bigint()) }} as organic_engagements,
    {{ dbt.cast('paid_engagements + organic_engagements', dbt.type_bigint()) }} as total_engagements,
    {{ cycle_safe_divide('paid_engagements', 'paid_engagements + organic_engagements') }} as paid_share,
    {{ cycle_safe_divide('organic_engagements', 'paid_engagements + organic_engagements') }} as organic_share,
    {{ cycle_safe_divide('spend_usd', 'paid_engagements') }} as cost_per_paid_engagement_usd

from contribution
