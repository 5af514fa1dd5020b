"""The posting policy as assets: when to post, from the champion model and the outcomes since it was trained.

One computation (``ml.posting_policy``) writes three tables, so they always agree:
- ``ml_posting_slots``: every platform's weekday x hour slots with their posterior, interval and propensity;
- ``posting_hour_recommendations``: the hours ranked per platform (``/v1/optimal-hours``, the insights);
- ``ml_recommendations``: for each account and each of the next days, the hour of each post it will publish;
  and, as the one writer of that table, the latest proposals of the kinds computed by their own assets
  (``content_recommendation_proposals``, ``boost_recommendation_proposals``, ``budget_recommendation_proposals``),
  each kind merged on its own.

In ``ml_recommendations``, one recommendation per planned post (``posting_slot`` when the policy took the best hour, ``exploration``
when it drew a Thompson sample), with its promise (the outcome of a post in that slot, with a 90% interval),
the propensity of its hour, and the evidence it rests on. Written with ``storage.recommendations``: a rerun on
the same inputs makes the same ids and changes no promise.
"""

import json
from datetime import date, datetime, time, timedelta, timezone

import dagster as dg
import numpy as np
import pandas as pd

from analytics_assets.contracts.recommendations import INTERVAL_LEVEL, RECOMMENDATIONS_TABLE, recommendation_id
from analytics_assets.contracts.warehouse import (
    BOOST_RECOMMENDATION_PROPOSALS,
    BUDGET_RECOMMENDATION_PROPOSALS,
    CONTENT_RECOMMENDATION_PROPOSALS,
    POSTING_HOUR_RECOMMENDATIONS,
    POSTING_SLOTS,
    table_metadata,
)
from analytics_assets.defs.automation import FOLLOW_UPSTREAM
from analytics_assets.defs.ml.assets import ENOUGH_DATA_CHECK, TRAINING_TABLE, champion_model, engagement_model
from analytics_assets.defs.loop.proposals import contract_violations, merge_proposals
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.quality_gate import QualityGateResource
from analytics_assets.defs.resources import MlflowResource, WarehouseResource
from analytics_assets.storage.recommendations import ensure_table, merge_generation
from analytics_assets.storage.warehouse import replace_tables

SLOT_KINDS = ("posting_slot", "exploration")
LOOKBACK_DAYS = 28  # recent posts: each platform's content mix and each account's posting rate
HORIZON_DAYS = 7  # days planned ahead, from the day after the newest post
EXPECTED_METRIC = "engagement_score_7d"  # the post's engagement score once 7 days old
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _evidence(row, model_name: str, version: str, rmse_log: float, fresh_window_days: int) -> str:
    chosen = (
        f"the best hour of that weekday (greedy, {row.p_greedy:.0%} of the non-exploring posts)"
        if row.policy == "greedy"
        else f"exploration: a Thompson sample, this hour being the best with posterior probability {row.p_thompson:.1%}"
    )
    fresh = (
        f"{row.n_fresh} recent posts at this hour (the last {fresh_window_days} days, and any since it was trained), "
        f"{row.fresh_residual_mean:+.2f} against it on average (log scale), moved the estimate"
        if row.n_fresh
        else "no recent post at this hour"
    )
    return (
        f"{model_name} v{version} (holdout RMSE {rmse_log:.3f} on log1p engagement score) scored this slot over "
        f"{row.content_posts} recent {row.platform} posts; it saw {row.n_seen_at_hour} posts at this hour "
        f"({row.n_seen} on this weekday); {fresh}. "
        f"Chosen as {chosen}."
    )


def slot_recommendations(
    plan: pd.DataFrame, model_name: str, version: str, rmse_log: float, fresh_window_days: int
) -> pd.DataFrame:
    """Contract rows (every column but the generation columns) for the planned posts of ``plan``."""
    rows = []
    for row in plan.itertuples(index=False):
        kind = "exploration" if row.policy == "thompson" else "posting_slot"
        slot_start = datetime.combine(row.day, time(int(row.publish_hour)))
        target_id = f"{row.day.isoformat()}#{int(row.post_number)}"
        fields = {
            "slot_start": slot_start.isoformat(),
            "publish_date": row.day.isoformat(),
            "publish_dow": int(row.publish_dow),
            "publish_hour": int(row.publish_hour),
            "post_number": int(row.post_number),
            "rank_in_day": int(row.rank_in_day),
        }
        rows.append(
            {
                "recommendation_id": recommendation_id(
                    kind, row.platform, row.account_id, "slot", target_id, slot_start.isoformat()
                ),
                "kind": kind,
                "platform": row.platform,
                "account_id": row.account_id,
                "target_type": "slot",
                "target_id": target_id,
                "action": f"Publish post {int(row.post_number) + 1} of {WEEKDAYS[row.day.weekday()]} "
                f"{row.day.isoformat()} at {int(row.publish_hour):02d}:00 UTC",
                "action_fields": json.dumps(fields, sort_keys=True),
                "slot_start": slot_start,
                "expected_metric": EXPECTED_METRIC,
                "expected_value": float(row.expected_value),
                "expected_low": float(row.expected_low),
                "expected_high": float(row.expected_high),
                "baseline_value": float(row.baseline_value),
                "confidence": float(row.confidence),
                "propensity": float(row.propensity),
                "policy": row.policy,
                "model_name": model_name,
                "model_version": str(version),
                "sample_size": int(row.n_seen_at_hour + row.n_fresh),
                "evidence": _evidence(row, model_name, str(version), rmse_log, fresh_window_days),
                "expires_at": slot_start + timedelta(hours=1),
            }
        )
    return pd.DataFrame(rows)


SLOT_TABLE = POSTING_SLOTS
HOURS_TABLE = POSTING_HOUR_RECOMMENDATIONS
SLOT_COLUMNS_KEPT = [
    "platform", "publish_dow", "publish_hour", "rank_in_day", "expected_value", "expected_low", "expected_high",
    "baseline_value", "confidence", "p_greedy", "p_thompson", "propensity", "prior_mean_log", "posterior_mean_log",
    "posterior_sd_log", "predictive_sd_log", "content_sd_log", "content_posts", "n_seen", "n_seen_at_hour", "n_fresh",
    "fresh_residual_mean",
]


# the column types of the slot and hour tables, for the empty tables written while there is no champion (the
# insights, the serving snapshot and the dbt loop models read them whether or not a model exists yet)
SLOT_TYPES = {
    **{c: "DOUBLE" for c in SLOT_COLUMNS_KEPT},
    **{c: "BIGINT" for c in ("publish_dow", "publish_hour", "rank_in_day", "content_posts", "n_seen", "n_seen_at_hour", "n_fresh")},
    "platform": "VARCHAR",
}
HOUR_TYPES = {
    "platform": "VARCHAR", "rank": "BIGINT", "publish_hour": "BIGINT", "expected_engagement_score": "DOUBLE",
    "lift_vs_platform_mean": "DOUBLE",
}
PROVENANCE_TYPES = {"model_name": "VARCHAR", "model_version": "VARCHAR", "generated_at": "TIMESTAMP"}


def _empty(types: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in types})


def _merge_other_kinds(con, generated_at: datetime) -> dict[str, tuple | None]:
    """The kinds proposed by their own assets, each merged with its own run's replaces_from."""
    return {
        kind: merge_proposals(con, table, (kind,), generated_at)
        for kind, table in (
            ("content", CONTENT_RECOMMENDATION_PROPOSALS),
            ("boost", BOOST_RECOMMENDATION_PROPOSALS),
            ("budget", BUDGET_RECOMMENDATION_PROPOSALS),
        )
    }


def _other_kinds_metadata(other_kinds: dict[str, tuple | None]) -> dict[str, object]:
    return {
        kind: "no proposals yet"
        if found is None
        else {"proposed": found[0], "created": found[1].created, "confirmed": found[1].confirmed, "superseded": found[1].superseded}
        for kind, found in other_kinds.items()
    }


def without_champion(warehouse: WarehouseResource, model_name: str, reason: str):
    """The posting policy's results while no engagement model has been trained (a new deployment's first days):
    empty slot and hour tables and no posting-slot recommendation, each materialization saying why, while the
    content and boost proposals are merged as always.

    Why no fallback from the engagement heatmap's observed means: at this point there are fewer posts with an
    outcome than the model needs (50 over two days), spread over 7 x 24 slots per platform, so nearly every slot
    rests on zero or one post. A "best hour" from such means is noise, and an interval wide enough to be honest
    would bracket every hour: a promise nobody can act on, which would then be scored in the loop's calibration
    as if it had been one. An explicit "not yet, and why" lets a user post as they do (that is the data the model
    needs) and is replaced by real recommendations on the first run after the model's first training."""
    generated_at = datetime.now(timezone.utc).replace(tzinfo=None)
    with warehouse.connect() as con:
        replace_tables(
            con,
            {SLOT_TABLE: _empty({**SLOT_TYPES, **PROVENANCE_TYPES}), HOURS_TABLE: _empty({**HOUR_TYPES, **PROVENANCE_TYPES})},
            {SLOT_TABLE: {**SLOT_TYPES, **PROVENANCE_TYPES}, HOURS_TABLE: {**HOUR_TYPES, **PROVENANCE_TYPES}},
        )
        ensure_table(con)  # posting-slot kinds untouched: without a model there were never any to supersede
        other_kinds = _merge_other_kinds(con, generated_at)
        total = con.execute(f"select count(*) from {RECOMMENDATIONS_TABLE}").fetchone()[0]
        current = con.execute(f"select * from {RECOMMENDATIONS_TABLE} where superseded_at is null").df()
    skipped = {"skipped": True, "skip_reason": reason, "model_name": model_name, "model_version": None}
    yield dg.MaterializeResult(asset_key="ml_posting_slots", metadata={"dagster/row_count": 0, **skipped})
    yield dg.MaterializeResult(asset_key="posting_hour_recommendations", metadata={"dagster/row_count": 0, **skipped})
    yield dg.MaterializeResult(
        asset_key="ml_recommendations",
        metadata={
            "dagster/row_count": int(total),
            "proposed": 0,
            **skipped,
            "other_kinds": _other_kinds_metadata(other_kinds),
            "interval_level": INTERVAL_LEVEL,
        },
    )
    yield _contract_check(current)


def _contract_check(current: pd.DataFrame) -> dg.AssetCheckResult:
    """The current recommendations, every kind, against the recommendation contract."""
    violations = contract_violations(current)
    return dg.AssetCheckResult(
        asset_key="ml_recommendations",
        check_name="current_recommendations_pass_the_contract",
        passed=not any(violations.values()),
        metadata={"current": len(current), "by_kind": current["kind"].value_counts().to_dict(), **violations},
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "ml_posting_slots",
            deps=["ml_training_dataset", engagement_model],
            group_name="recommendations",
            kinds={"pytorch", "duckdb"},
            metadata=table_metadata(SLOT_TABLE),
            automation_condition=FOLLOW_UPSTREAM,
            description="Every platform's 168 weekday x hour slots: the champion model's score over the recent "
            "content mix, its posterior after the outcomes since training, the 90% interval of a post's outcome "
            "there, and the probability with which the posting policy picks it (greedy and Thompson parts).",
        ),
        dg.AssetSpec(
            "posting_hour_recommendations",
            deps=["ml_posting_slots"],
            group_name="recommendations",
            kinds={"duckdb"},
            metadata=table_metadata(HOURS_TABLE),
            automation_condition=FOLLOW_UPSTREAM,
            description="The 24 hours of each platform ranked by the slots' posterior mean over the weekdays: the "
            "answer that the slot recommendations, the insights and /v1/optimal-hours share.",
        ),
        dg.AssetSpec(
            "ml_recommendations",
            deps=[
                "ml_posting_slots", "dim_post", "content_recommendation_proposals", "boost_recommendation_proposals",
                "budget_recommendation_proposals",
            ],
            group_name="recommendations",
            kinds={"duckdb"},
            metadata=table_metadata(RECOMMENDATIONS_TABLE),
            automation_condition=FOLLOW_UPSTREAM,
            description=f"Every kind of recommendation in one table: posting-slot and exploration recommendations for "
            f"every account's posts of the next {HORIZON_DAYS} days, one per planned post, and the latest content, "
            "boost and budget proposals, each with the 90% interval of its outcome, its propensity and evidence. Ids are stable: "
            "a rerun on the same inputs makes the same ones and changes no promise.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "current_recommendations_pass_the_contract",
            asset="ml_recommendations",
            description="Every current recommendation of every kind: its interval brackets its expected value, its "
            "propensity is in (0, 1], its kind, target type and policy are known, it has an account and evidence",
        )
    ],
    pool=WAREHOUSE_POOL,
    can_subset=False,  # one computation: the three tables always come from the same posterior
)
def posting_policy(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    mlflow_store: MlflowResource,
    quality_gate: QualityGateResource,
):
    quality_gate.require_open(context, "no recommendation was made", dg.AssetKey("ml_posting_slots"))
    from ml.posting_policy import (
        PolicyConfig,
        fresh_since,
        hour_probabilities,
        plan_posts,
        posts_per_day,
        predict_log,
        rank_hours,
        score_slots,
        slot_posteriors,
    )

    champion = champion_model(mlflow_store)
    if champion is None:
        reason = (
            f"no posting-slot recommendation yet: no {mlflow_store.model_name} model has been trained (the engagement "
            "model trains once there are enough posts with a day-old outcome; see its "
            f"`{ENOUGH_DATA_CHECK}` check)"
        )
        context.log.warning(reason)
        yield from without_champion(warehouse, mlflow_store.model_name, reason)
        return
    metrics = champion.metrics
    trained_from = date.fromisoformat(str(metrics.get("model_data_start_date", metrics["train_start_date"])))
    trained_to = date.fromisoformat(str(metrics.get("model_data_end_date", metrics["train_end_date"])))
    rmse_log = float(metrics["rmse_log"])
    config = PolicyConfig()
    with warehouse.connect() as con:
        newest = con.execute(f"select max(published_date) from {TRAINING_TABLE}").fetchone()[0]
        if newest is None:  # a champion without posts: a warehouse rebuilt while MLflow was kept
            raise dg.Failure(f"{TRAINING_TABLE} is empty: nothing to recommend from.")
        since = newest - timedelta(days=LOOKBACK_DAYS - 1)
        recent = con.execute(f"select * from {TRAINING_TABLE} where published_date >= ?", [since]).df()
        seen = con.execute(
            f"select platform, publish_dow, publish_hour from {TRAINING_TABLE} where published_date between ? and ?",
            [trained_from, trained_to],
        ).df()
        fresh = con.execute(
            f"select * from {TRAINING_TABLE} where published_date > ?", [fresh_since(trained_to, newest, config)]
        ).df()
        latest_post_day = con.execute("select max(published_date) from main.dim_post").fetchone()[0]
        account_posts = con.execute(
            "select platform, account_id from main.dim_post where published_date >= ? and account_id is not null",
            [since],
        ).df()
    slots = score_slots(champion.model, champion.spec, recent, config)
    fresh_log = predict_log(champion.model, champion.spec, fresh) if len(fresh) else np.array([])
    probabilities = hour_probabilities(slot_posteriors(slots, seen, fresh, fresh_log, rmse_log, config), config)
    generated_at = datetime.now(timezone.utc).replace(tzinfo=None)
    provenance = {"model_name": mlflow_store.model_name, "model_version": str(champion.version), "generated_at": generated_at}
    slot_table = probabilities[SLOT_COLUMNS_KEPT].assign(**provenance)
    hours = rank_hours(probabilities).assign(**provenance)
    # the plan starts the day after the newest data (posts of the last day are in dim_post, not yet old enough
    # for the training set)
    last_day = max(newest, latest_post_day or newest)
    days = [last_day + timedelta(days=i) for i in range(1, HORIZON_DAYS + 1)]
    plan = plan_posts(probabilities, posts_per_day(account_posts, LOOKBACK_DAYS, config), days, config)
    proposed = slot_recommendations(plan, mlflow_store.model_name, champion.version, rmse_log, config.fresh_window_days)
    with warehouse.connect() as con:
        replace_tables(con, {SLOT_TABLE: slot_table, HOURS_TABLE: hours})
        merged = merge_generation(con, proposed, SLOT_KINDS, generated_at, datetime.combine(days[0], time()))
        other_kinds = _merge_other_kinds(con, generated_at)
        total = con.execute(f"select count(*) from {RECOMMENDATIONS_TABLE}").fetchone()[0]
        current = con.execute(f"select * from {RECOMMENDATIONS_TABLE} where superseded_at is null").df()
    best = probabilities[probabilities["rank_in_day"] == 1]
    top_hours = hours[hours["rank"] == 1].set_index("platform")["publish_hour"]
    yield dg.MaterializeResult(
        asset_key="ml_posting_slots",
        metadata={
            "dagster/row_count": len(slot_table),
            "model_version": str(champion.version),
            "posts_updating_the_posteriors": len(fresh),
            "exploration_share": config.exploration_share,
            "best_hour_by_platform_and_weekday": {
                platform: {WEEKDAYS[int(r.publish_dow)]: int(r.publish_hour) for r in grp.itertuples()}
                for platform, grp in best.groupby("platform")
            },
        },
    )
    yield dg.MaterializeResult(
        asset_key="posting_hour_recommendations",
        metadata={
            "dagster/row_count": len(hours),
            "model_version": str(champion.version),
            "best_hour_by_platform": {p: int(h) for p, h in top_hours.items()},
            "preview": dg.MetadataValue.md(hours[hours["rank"] <= 3].to_markdown(index=False)),
        },
    )
    yield dg.MaterializeResult(
        asset_key="ml_recommendations",
        metadata={
            "dagster/row_count": int(total),
            "proposed": len(proposed),
            "created": merged.created,
            "confirmed": merged.confirmed,
            "superseded": merged.superseded,
            "explored": int((proposed["kind"] == "exploration").sum()) if len(proposed) else 0,
            "other_kinds": _other_kinds_metadata(other_kinds),
            "interval_level": INTERVAL_LEVEL,
            "plan_days": f"{days[0].isoformat()}..{days[-1].isoformat()}",
            "preview": dg.MetadataValue.md(
                proposed.head(10)[
                    ["kind", "platform", "account_id", "action", "expected_value", "expected_low", "expected_high", "propensity"]
                ].to_markdown(index=False)
            )
            if len(proposed)
            else None,
        },
    )
    yield _contract_check(current)
