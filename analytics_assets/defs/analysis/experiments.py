"""The calls of the A/B tests run on boosts (timing, budget, targeting, creative): method in ``ml/experiments.py``;
and the accounts each belongs to (``account_experiments``, what the API serves).

Unpartitioned: an experiment's call needs all of its units, so the table is replaced on each run.
"""

import dagster as dg
import numpy as np

from analytics_assets.contracts.serving import ACCOUNT_EXPERIMENTS_TABLE
from analytics_assets.contracts.warehouse import BOOST_EFFECTIVENESS, EXPERIMENT_RESULTS, table_metadata
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


# ---------------------------------------------------------------------------------------- ownership

# The experimentation platform's export names no account: its A/B tests are run on the organisation's boosts
# (timing, budget, targeting, creative), and its units are anonymous. An experiment therefore belongs to the
# accounts whose boosts it ran on: those with a boost in flight during the experiment (a flight that starts on
# or before its end_date and ends on or after its start_date; a flight without an end counts on its start day).
# An experiment during which no account boosted belongs to no account and is not served.
ACCOUNT_EXPERIMENTS_SQL = f"""
with flights as (
    select platform, account_id, boost_id,
           cast(flight_start_at as date) as flight_start,
           cast(coalesce(flight_end_at, flight_start_at) as date) as flight_end
    from {BOOST_EFFECTIVENESS}
    where flight_start_at is not null and platform is not null and account_id is not null
),
owners as (
    select e.experiment_id, f.platform, f.account_id, count(distinct f.boost_id) as boosts_in_window
    from {EXPERIMENT_RESULTS} e
    join flights f on f.flight_start <= e.end_date and f.flight_end >= e.start_date
    group by e.experiment_id, f.platform, f.account_id
)
select o.platform, o.account_id, o.boosts_in_window,
       count(*) over (partition by o.experiment_id) as accounts_in_experiment, e.*
from owners o
join {EXPERIMENT_RESULTS} e using (experiment_id)
order by o.platform, o.account_id, e.start_date, e.experiment_id
"""


@dg.asset(
    deps=["experiment_results", "boost_effectiveness"],
    group_name="boosts",
    metadata=table_metadata(ACCOUNT_EXPERIMENTS_TABLE),
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    description="The A/B tests' calls (experiment_results) per account they belong to: the accounts with a boost "
    "in flight during the experiment (the export names no account; its tests run on the accounts' boosts). One "
    "row per experiment and account, with boosts_in_window (that account's boosts in the window) and "
    "accounts_in_experiment. Served as experiments.parquet (GET /v1/experiments).",
    check_specs=[
        dg.AssetCheckSpec(
            "one_row_per_experiment_and_account",
            asset="account_experiments",
            description="No (experiment_id, platform, account_id) twice, and every row has its account",
        )
    ],
)
def account_experiments(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        frame = con.execute(ACCOUNT_EXPERIMENTS_SQL).df()
        replace_table(con, ACCOUNT_EXPERIMENTS_TABLE, frame)
        (experiments,) = con.execute(f"select count(*) from {EXPERIMENT_RESULTS}").fetchone()
    dupes = int(frame.duplicated(["experiment_id", "platform", "account_id"]).sum())
    nulls = int(frame[["platform", "account_id"]].isna().any(axis=1).sum())
    served = frame["experiment_id"].nunique()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "experiments": int(experiments),
            "experiments_with_accounts": int(served),
            "experiments_without_accounts": int(experiments) - int(served),
            "accounts": int(len(frame[["platform", "account_id"]].drop_duplicates())),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="one_row_per_experiment_and_account",
                passed=dupes == 0 and nulls == 0,
                metadata={"duplicates": dupes, "rows_without_account": nulls},
            )
        ],
    )
