"""The calls of the A/B tests run on boosts (timing, budget, targeting, creative): method in ``ml/experiments.py``.

Unpartitioned: an experiment's call needs all of its units, so the table is replaced on each run.
"""

import dagster as dg
import numpy as np

from analytics_assets.contracts.warehouse import EXPERIMENT_RESULTS, table_metadata
from analytics_assets.defs.metadata import markdown_preview
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.storage.warehouse import replace_table
from ml.experiments import experiment_results_frame


class ExperimentResultsConfig(dg.Config):
    # fixed_horizon: call only at the planned sample; sequential: mSPRT, valid at every daily look
    decision_rule: str = "fixed_horizon"


@dg.asset(
    deps=["stg_experiment_observations"],
    group_name="boosts",
    metadata=table_metadata(EXPERIMENT_RESULTS),
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
        replace_table(con, EXPERIMENT_RESULTS, results)
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
            "preview": markdown_preview(results[preview_cols], 20),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="winner_only_when_significant",
                passed=unjustified.empty,
                metadata={"winners": len(winners), "unjustified": unjustified["experiment_id"].tolist()},
            )
        ],
    )
