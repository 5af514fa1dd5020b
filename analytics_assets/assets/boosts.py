"""Boost assets: what each boost added to its post's organic reach (against the post's counterfactual),
and the calls of the A/B tests run on boosts.

Both recompute from the whole warehouse (a boost's lift needs its comparables' full week, an experiment
all of its units), so they are unpartitioned and replace their tables on each run.
"""

import dagster as dg
import numpy as np
import pandas as pd

from analytics_assets.partitions import WAREHOUSE_POOL
from analytics_assets.resources import WarehouseResource

BOOST_EFFECTIVENESS_TABLE = "main.boost_effectiveness"
BOOST_TRAJECTORY_TABLE = "main.boost_counterfactual_trajectory"
EXPERIMENT_RESULTS_TABLE = "main.experiment_results"


def _replace_table(con, table: str, frame: pd.DataFrame) -> None:
    con.register("_frame", frame)
    try:
        con.execute(f"create or replace table {table} as select * from _frame")
    finally:
        con.unregister("_frame")


def _md(frame: pd.DataFrame, n: int = 10) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.head(n).to_markdown(index=False) if len(frame) else "(no rows)")


# ----------------------------------------------------------------------------------- boost effectiveness


class BoostEffectivenessConfig(dg.Config):
    value_per_engagement_usd: float = 3.0  # what one engagement is worth to the business (ROI, score)
    confidence: float = 0.90
    n_comparables: int = 39
    publish_window_days: float = 7.0


_BOOST_DESCRIPTION = """Per boost: the boosted post's counterfactual organic-only engagement trajectory from its
own pre-boost history and the nearest comparable unboosted posts (same platform, published within a week,
closest pre-boost level and growth), the organic lift at its latest snapshot with a 90% split-conformal
interval, paid + organic incremental engagements, cost per incremental engagement, ROI at a configurable
value per engagement, and an effectiveness score = 100 * x / (1 + x), x = max(0, (paid engagements + lift
lower bound) * value per engagement / spend): 50 breaks even in the pessimistic case. Writes
main.boost_effectiveness and main.boost_counterfactual_trajectory. Method: ml/boost_lift.py."""


@dg.asset(
    deps=["fct_boost_contribution", "stg_social_post_snapshots"],
    group_name="boosts",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
    description=_BOOST_DESCRIPTION,
    check_specs=[
        dg.AssetCheckSpec(
            "every_boost_is_assessed",
            asset="boost_effectiveness",
            description="One row per boost of fct_boost_contribution, estimated or with the reason it is not",
        ),
        dg.AssetCheckSpec(
            "intervals_bracket_estimates",
            asset="boost_effectiveness",
            description="lift_low <= lift <= lift_high and the score within 0..100 on every estimated boost",
        ),
    ],
)
def boost_effectiveness(
    context: dg.AssetExecutionContext, config: BoostEffectivenessConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from ml.boost_lift import ESTIMATED, LiftConfig, estimate_boost_lift

    lift_config = LiftConfig(
        n_comparables=config.n_comparables,
        confidence=config.confidence,
        publish_window_days=config.publish_window_days,
        value_per_engagement_usd=config.value_per_engagement_usd,
    )
    with warehouse.connect() as con:
        boosts = con.execute(
            """select boost_id, post_id, organic_platform as platform, start_date, end_date, spend_usd,
                      paid_engagements
               from main.fct_boost_contribution order by boost_id"""
        ).df()
        snapshots = con.execute(
            """select platform, post_id, published_at, snapshot_at,
                      likes + comments + shares + clicks + quotes + saves as engagements
               from main.stg_social_post_snapshots
               where platform in (select distinct organic_platform from main.fct_boost_contribution)"""
        ).df()
    effectiveness, trajectory = estimate_boost_lift(snapshots, boosts, lift_config)
    with warehouse.connect() as con:
        con.execute("begin transaction")
        _replace_table(con, BOOST_EFFECTIVENESS_TABLE, effectiveness)
        _replace_table(con, BOOST_TRAJECTORY_TABLE, trajectory)
        con.execute("commit")

    estimated = effectiveness[effectiveness["status"] == ESTIMATED]
    bad_intervals = int(
        (
            (estimated["organic_lift_low"] > estimated["organic_lift"] + 1e-9)
            | (estimated["organic_lift"] > estimated["organic_lift_high"] + 1e-9)
            | ~estimated["effectiveness_score"].between(0, 100)
        ).sum()
    )
    missing = sorted(set(boosts["boost_id"]) - set(effectiveness["boost_id"]))
    preview_cols = ["boost_id", "status", "organic_lift", "organic_lift_low", "organic_lift_high", "roi", "effectiveness_score"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(effectiveness),
            "estimated_boosts": len(estimated),
            "status_counts": effectiveness["status"].value_counts().to_dict(),
            "significant_lift_share": float(estimated["significant"].mean()) if len(estimated) else None,
            "total_organic_lift": float(estimated["organic_lift"].sum()) if len(estimated) else None,
            "median_effectiveness_score": float(estimated["effectiveness_score"].median()) if len(estimated) else None,
            "value_per_engagement_usd": config.value_per_engagement_usd,
            "trajectory_rows": len(trajectory),
            "preview": _md(estimated.sort_values("effectiveness_score", ascending=False)[preview_cols]),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="every_boost_is_assessed",
                passed=not missing and len(effectiveness) == len(boosts),
                metadata={"boosts": len(boosts), "rows": len(effectiveness), "missing": missing[:20]},
            ),
            dg.AssetCheckResult(
                check_name="intervals_bracket_estimates",
                passed=bad_intervals == 0,
                metadata={"estimated": len(estimated), "violations": bad_intervals},
            ),
        ],
    )


# ------------------------------------------------------------------------------------ experiment results


class ExperimentResultsConfig(dg.Config):
    # fixed_horizon: call only at the planned sample; sequential: mSPRT, valid at every daily look
    decision_rule: str = "fixed_horizon"


RESULT_COLUMNS = [
    "experiment_id",
    "experiment_name",
    "factor",
    "metric",
    "metric_kind",
    "control_variant",
    "treatment_variant",
    "start_date",
    "end_date",
    "decision_rule",
    "test",
    "alpha",
    "mde",
    "required_n_per_arm",
    "n_control",
    "n_treatment",
    "n_tested_per_arm",
    "control_mean",
    "treatment_mean",
    "effect",
    "ci_low",
    "ci_high",
    "p_value",
    "always_valid_p_value",
    "always_valid_ci_low",
    "always_valid_ci_high",
    "status",
    "winner",
    "reason",
]


def experiment_results_frame(observations: pd.DataFrame, rule: str) -> pd.DataFrame:
    """One row per experiment: the test, effect, interval, p-value, required sample and the call.

    ``observations``: the rows of stg_experiment_observations. Each day's close is a look of the
    sequential test; the fixed-horizon call uses the first planned units of each arm in exposure order.
    """
    from ml.experiments import Design, decide

    rows = []
    obs = observations.sort_values(["experiment_id", "exposed_at", "unit_id"], kind="stable")
    for exp_id, g in obs.groupby("experiment_id", sort=True):
        first = g.iloc[0]
        design = Design(
            metric_kind=first["metric_kind"],
            baseline_mean=float(first["baseline_mean"]),
            mde=float(first["mde"]),
            baseline_sd=float(first["baseline_sd"]),
            alpha=float(first["alpha"]),
            power=float(first["power"]),
        )
        control, treatment = g[g["variant_role"] == "control"], g[g["variant_role"] == "treatment"]
        row = {
            "experiment_id": exp_id,
            "experiment_name": first["experiment_name"],
            "factor": first["factor"],
            "metric": first["metric"],
            "metric_kind": design.metric_kind,
            "control_variant": control["variant"].iloc[0] if len(control) else None,
            "treatment_variant": treatment["variant"].iloc[0] if len(treatment) else None,
            "start_date": first["start_date"],
            "end_date": first["end_date"],
            "decision_rule": rule,
            "test": "two_proportion_z" if design.metric_kind == "binary" else "welch_t",
            "alpha": design.alpha,
            "mde": design.mde,
            "required_n_per_arm": design.required_n_per_arm,
            "n_control": len(control),
            "n_treatment": len(treatment),
        }
        if min(len(control), len(treatment)) < 2:
            rows.append({**row, "status": "running", "reason": "fewer than 2 units in an arm"})
            continue
        days = sorted(set(pd.to_datetime(g["exposed_at"]).dt.date))
        c_days = pd.to_datetime(control["exposed_at"]).dt.date.to_numpy()
        t_days = pd.to_datetime(treatment["exposed_at"]).dt.date.to_numpy()
        looks = [(int((c_days <= d).sum()), int((t_days <= d).sum())) for d in days]
        looks = [lk for lk in looks if min(lk) >= 2]
        decision = decide(
            control["value"].to_numpy(float),
            treatment["value"].to_numpy(float),
            design,
            rule=rule,  # type: ignore[arg-type]
            looks=looks,
            names=(row["control_variant"], row["treatment_variant"]),
        )
        r = decision.result
        sequential = rule == "sequential"
        rows.append(
            {
                **row,
                "n_tested_per_arm": min(r.n_control, r.n_treatment),
                "control_mean": r.control_mean,
                "treatment_mean": r.treatment_mean,
                "effect": r.effect,
                "ci_low": decision.always_valid_ci[0] if sequential else r.ci_low,
                "ci_high": decision.always_valid_ci[1] if sequential else r.ci_high,
                "p_value": decision.always_valid_p_value if sequential else r.p_value,
                "always_valid_p_value": decision.always_valid_p_value,
                "always_valid_ci_low": decision.always_valid_ci[0],
                "always_valid_ci_high": decision.always_valid_ci[1],
                "status": decision.status,
                "winner": decision.winner,
                "reason": decision.reason,
            }
        )
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    for col in ("n_tested_per_arm",):
        frame[col] = frame[col].astype("Int64")
    return frame


@dg.asset(
    deps=["stg_experiment_observations"],
    group_name="boosts",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="Per A/B test of boosts (timing, budget, targeting, creative): two-proportion z-test or Welch's "
    "t-test with the confidence interval of treatment - control, p-value, the planned sample per arm for the "
    "design's MDE and power, and the call: running / inconclusive / winner. The default fixed-horizon rule names "
    "no winner before the planned sample and tests exactly that sample (no peeking); the sequential rule uses "
    "the always-valid mSPRT p-value over daily looks. Method: ml/experiments.py.",
    check_specs=[
        dg.AssetCheckSpec(
            "winner_only_when_significant",
            asset="experiment_results",
            description="Every declared winner has p < alpha and reached the planned sample (fixed horizon)",
        )
    ],
)
def experiment_results(
    context: dg.AssetExecutionContext, config: ExperimentResultsConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    if config.decision_rule not in ("fixed_horizon", "sequential"):
        raise dg.Failure(f"decision_rule must be fixed_horizon or sequential, got {config.decision_rule!r}")
    with warehouse.connect() as con:
        observations = con.execute(
            """select experiment_id, experiment_name, factor, start_date, end_date, metric, metric_kind,
                      baseline_mean, baseline_sd, mde, alpha, power, variant, variant_role, unit_id,
                      exposed_at, value
               from main.stg_experiment_observations"""
        ).df()
    results = experiment_results_frame(observations, config.decision_rule)
    with warehouse.connect() as con:
        _replace_table(con, EXPERIMENT_RESULTS_TABLE, results)
    winners = results[results["status"] == "winner"]
    unjustified = winners[
        (winners["p_value"] >= winners["alpha"])
        | (
            (winners["decision_rule"] == "fixed_horizon")
            & (np.minimum(winners["n_control"], winners["n_treatment"]) < winners["required_n_per_arm"])
        )
    ]
    preview_cols = ["experiment_id", "test", "n_control", "required_n_per_arm", "effect", "ci_low", "ci_high", "p_value", "status", "winner"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(results),
            "decision_rule": config.decision_rule,
            "status_counts": results["status"].value_counts().to_dict(),
            "preview": _md(results[preview_cols], 20),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="winner_only_when_significant",
                passed=unjustified.empty,
                metadata={"winners": len(winners), "unjustified": unjustified["experiment_id"].tolist()},
            )
        ],
    )
