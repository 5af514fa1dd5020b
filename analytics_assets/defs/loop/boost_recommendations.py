"""Boost recommendations: which recent organic posts to boost, for how much and how long (``ml.boost_policy``).

The past boosts assessed by ``boost_effectiveness`` (those that started in the last ``response_window_days``) say
how a boost of each platform responds (paid engagements per dollar, organic lift per engagement the post had);
``fct_boost_organic_vs_paid`` says what an engagement of a boosted post was worth in tracked conversion value.
Every post of the last ``max_age_hours`` that is not boosted yet gets a projection of its incremental
engagements at the suggested budget and duration, with a 90% interval, and the cost per incremental engagement
and ROI that follow; per account, the best by expected ROI that pay back are recommended (kind ``boost``, target
the post). The action key carries the budget, the duration and the first day of the flight: a rerun on the same
data makes the same ids.

Writes ``ml.boost_recommendation_proposals``; the posting policy's ``ml_recommendations`` step merges them.
"""

import json
from datetime import datetime, timedelta, timezone

import dagster as dg
import pandas as pd

from analytics_assets.contracts.recommendations import INTERVAL_LEVEL, recommendation_id
from analytics_assets.contracts.warehouse import BOOST_EFFECTIVENESS, BOOST_RECOMMENDATION_PROPOSALS, table_metadata
from analytics_assets.defs.automation import FOLLOW_UPSTREAM
from analytics_assets.defs.loop.proposals import (
    PROPOSAL_COLUMNS,
    contract_check_result,
    contract_check_spec,
    write_proposals,
)
from analytics_assets.defs.metadata import markdown_preview
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.resources import WarehouseResource

BOOST_KINDS = ("boost",)
VALID_HOURS = 48  # a boost recommendation is for a post still early in its life: act within two days
EXPECTED_METRIC = "incremental_engagements_7d"  # paid + organic lift by the post's 7-day age (ml.boost_lift)


class BoostRecommendationConfig(dg.Config):
    # what one engagement is worth where no conversion value is tracked for a platform's boosted posts
    fallback_value_per_engagement_usd: float = 3.0
    max_age_hours: float = 36.0
    top_per_account: int = 3
    # the past boosts a projection learns from: those whose flight started in this many days before the data's now.
    # How a platform's boosts respond drifts (prices, audiences), and the read stays the same size however long the
    # history (at 50,000 posts a day, every boost ever assessed made the step grow by half a minute a day)
    response_window_days: int = 90


def _money(x) -> str:
    return "n/a" if x is None or pd.isna(x) else f"${x:,.2f}"


def _evidence(row) -> str:
    if row.value_source == "tracked":
        value = (
            f"Value per engagement {_money(row.value_per_engagement_usd)}: conversion value tracked on the journeys of "
            f"this platform's boosted posts (fct_boost_organic_vs_paid) per engagement they drew."
        )
    else:
        value = (
            f"No conversion value is tracked for {row.platform}'s boosted posts: ROI uses the configured "
            f"{_money(row.value_per_engagement_usd)} per engagement, an assumption."
        )
    pool = f"{row.n_boosts} past {row.platform} boosts" + (f" of {row.media_type} posts" if row.response_pool == "media" else "")
    return (
        f"Projected from {pool} assessed against their counterfactual (boost_effectiveness): paid engagements per "
        f"dollar and organic lift per engagement the post had, applied to this post's {row.current_engagements:.0f} "
        f"engagements at {row.age_hours:.0f} h; 90% split-conformal interval over those boosts. Budget and duration: "
        f"median of {row.boosts_behind_flight} {row.flight_basis}. ROI {row.roi:+.2f} [{row.roi_low:+.2f}, "
        f"{row.roi_high:+.2f}], cost per incremental engagement {_money(row.cost_per_incremental_engagement_usd)} "
        f"[{_money(row.cost_per_incremental_engagement_low_usd)}, {_money(row.cost_per_incremental_engagement_high_usd)}]. "
        f"{value}"
    )


def boost_recommendations(projections: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """Contract rows (every column but the generation columns) for the recommended projections of
    ``ml.boost_policy.project_boosts``; ``as_of`` is the data's now (the newest snapshot)."""
    from ml.boost_policy import METHOD

    start_day = (pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)).date()  # flights start at midnight UTC
    chosen = projections[projections["recommended"].astype(bool)]
    rows = []
    for row in chosen.itertuples(index=False):
        end_day = start_day + timedelta(days=int(row.duration_days) - 1)
        fields = {
            "budget_usd": round(float(row.budget_usd), 2),
            "duration_days": int(row.duration_days),
            "start_date": start_day.isoformat(),
            "end_date": end_day.isoformat(),
            "rank": int(row.rank),
            "roi": row.roi,
            "roi_low": row.roi_low,
            "roi_high": row.roi_high,
            "cost_per_incremental_engagement_usd": row.cost_per_incremental_engagement_usd,
            "cost_per_incremental_engagement_low_usd": row.cost_per_incremental_engagement_low_usd,
            "cost_per_incremental_engagement_high_usd": row.cost_per_incremental_engagement_high_usd,
            "value_per_engagement_usd": row.value_per_engagement_usd,
            "value_source": row.value_source,
        }
        fields = {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in fields.items()}
        action_key = f"budget={float(row.budget_usd):.2f};days={int(row.duration_days)};start={start_day.isoformat()}"
        rows.append(
            {
                "recommendation_id": recommendation_id("boost", row.platform, row.account_id, "post", row.post_id, action_key),
                "kind": "boost",
                "platform": row.platform,
                "account_id": row.account_id,
                "target_type": "post",
                "target_id": row.post_id,
                "action": f"Boost post {row.post_id} with {_money(row.budget_usd)} over {int(row.duration_days)} days "
                f"({start_day.isoformat()}..{end_day.isoformat()})",
                "action_fields": json.dumps(fields, sort_keys=True),
                "slot_start": None,
                "expected_metric": EXPECTED_METRIC,
                "expected_value": float(row.incremental_engagements),
                "expected_low": float(row.incremental_engagements_low),
                "expected_high": float(row.incremental_engagements_high),
                "baseline_value": 0.0,  # without the boost, no incremental engagement
                "confidence": float(row.confidence),
                "propensity": 1.0,  # ranked and deterministic
                "policy": "ranked",
                "model_name": METHOD,
                "model_version": f"{row.n_boosts} boosts",
                "sample_size": int(row.n_boosts),
                "evidence": _evidence(row),
                "expires_at": pd.Timestamp(as_of).to_pydatetime() + timedelta(hours=VALID_HOURS),
            }
        )
    return pd.DataFrame(rows, columns=list(PROPOSAL_COLUMNS))


@dg.asset(
    deps=["boost_effectiveness", "fct_boost_organic_vs_paid", "dim_post"],
    group_name="recommendations",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
    metadata=table_metadata(BOOST_RECOMMENDATION_PROPOSALS),
    automation_condition=FOLLOW_UPSTREAM,
    description="Boost recommendations of the latest data: recent organic posts not boosted yet, projected from the "
    "past boosts' paid engagements per dollar and organic lift (boost_effectiveness) at the budget and duration of "
    "the boosts that worked, with 90% intervals of the incremental engagements, cost per incremental engagement "
    "and ROI at the conversion value tracked per engagement (fct_boost_organic_vs_paid; the configured value only "
    "where none is tracked, as the evidence says). Merged into ml_recommendations (kind boost). Method: "
    "ml/boost_policy.py.",
    check_specs=[contract_check_spec("boost_recommendation_proposals")],
)
def boost_recommendation_proposals(
    context: dg.AssetExecutionContext, config: BoostRecommendationConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from ml.boost_policy import (
        BoostPolicyConfig,
        boost_candidates,
        boost_responses,
        project_boosts,
        suggest_flights,
        value_per_engagement,
    )

    policy = BoostPolicyConfig(
        interval_level=INTERVAL_LEVEL,
        max_age_hours=config.max_age_hours,
        top_per_account=config.top_per_account,
        fallback_value_per_engagement_usd=config.fallback_value_per_engagement_usd,
    )
    with warehouse.connect() as con:
        as_of = con.execute("select max(latest_snapshot_at) from main.dim_post").fetchone()[0]
        if as_of is None:
            raise dg.Failure("main.dim_post is empty: no post to boost.")
        schema, name = BOOST_EFFECTIVENESS.split(".")
        if not con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
        ).fetchone()[0]:
            raise dg.Failure(f"{BOOST_EFFECTIVENESS} does not exist yet: materialize `boost_effectiveness` first.")
        since = pd.Timestamp(as_of) - pd.Timedelta(days=config.response_window_days)
        effectiveness = con.execute(f"select * from {BOOST_EFFECTIVENESS} where flight_start_at >= ?", [since]).df()
        media = con.execute(
            "select platform, post_id, media_type from main.dim_post where post_id in "
            f"(select post_id from {BOOST_EFFECTIVENESS} where flight_start_at >= ?)",
            [since],
        ).df()
        # boosts of posts Cycle does not track (Meta boosts of Facebook/Instagram posts) have no organic side: the
        # value of an engagement is learnt from measured boosts only (their rows belong to an ad platform anyway)
        organic_vs_paid = con.execute(
            "select platform, conversion_value_usd, paid_engagements, organic_engagements "
            "from main.fct_boost_organic_vs_paid where is_organic_tracked"
        ).df()
        recent = con.execute(
            """select platform, post_id, account_id, media_type, published_at, engagements, is_boosted
               from main.dim_post where published_at >= ?""",
            [pd.Timestamp(as_of) - pd.Timedelta(hours=config.max_age_hours)],
        ).df()
    responses = boost_responses(effectiveness, media)
    values = value_per_engagement(organic_vs_paid, responses["platform"], policy)
    flights = suggest_flights(responses, values, policy)
    candidates = boost_candidates(
        recent, recent[["platform", "post_id", "engagements"]], recent.loc[recent["is_boosted"].astype(bool), "post_id"], as_of, policy
    )
    projections = project_boosts(candidates, responses, values, flights, policy)
    proposed = boost_recommendations(projections, as_of)
    proposed_at = datetime.now(timezone.utc).replace(tzinfo=None)
    with warehouse.connect() as con:
        write_proposals(con, BOOST_RECOMMENDATION_PROPOSALS, proposed, proposed_at, pd.Timestamp(as_of).to_pydatetime())
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(proposed),
            "assessed_boosts": len(responses),
            "response_window": f"boosts started since {since:%Y-%m-%d %H:%M} ({config.response_window_days} days)",
            "candidates": len(candidates),
            "projected": len(projections),
            "as_of": str(as_of),
            "value_per_engagement": {
                r.platform: f"{r.value_per_engagement_usd:.4f} USD ({r.value_source})" for r in values.itertuples()
            },
            "suggested_flight": {
                r.platform: f"{r.budget_usd:.0f} USD over {r.duration_days} days" for r in flights.itertuples()
            },
            "preview": markdown_preview(
                projections.head(10)[
                    ["platform", "account_id", "post_id", "budget_usd", "incremental_engagements",
                     "incremental_engagements_low", "incremental_engagements_high", "roi", "recommended"]
                ]
            ),
        },
        check_results=[contract_check_result(proposed)],
    )
