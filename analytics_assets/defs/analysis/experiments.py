"""The calls of the A/B tests run on boosts (timing, budget, targeting, creative): method in ``ml/experiments.py``;
and the accounts each belongs to (``account_experiments``, what the API serves).

Unpartitioned: an experiment's call needs all of its units, so the table is replaced on each run. An experiment
whose inputs are those of the last run keeps its row: its observations (a count and an order-free sum of their
rows' hashes, one aggregate in the warehouse), the decision rule and the method's code are fingerprinted, and
only the experiments whose fingerprint moved are read and called again. A finished experiment's observations stop
changing, so a run's cost follows the running experiments, not the history (a year of the simulator's
experiments took 5 s a run, against 0.6 s at a month); a restated day changes the fingerprint of every experiment
it holds units of.
"""

import hashlib

import dagster as dg
import numpy as np
import pandas as pd

import ml.experiments
from analytics_assets.contracts.serving import ACCOUNT_EXPERIMENTS_TABLE
from analytics_assets.contracts.warehouse import (
    BOOST_EFFECTIVENESS,
    EXPERIMENT_RESULTS,
    EXPERIMENT_RESULTS_INPUTS,
    table_metadata,
)
from analytics_assets.defs.analysis.input_fingerprints import method_key
from analytics_assets.defs.metadata import markdown_preview
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.storage.dialect import row_hash
from analytics_assets.storage.warehouse import registered, replace_table, replace_tables, table_exists
from ml.experiments import experiment_results_frame

# what the call reads of each observation (stg_experiment_observations)
OBSERVATION_COLUMNS = [
    "experiment_id", "experiment_name", "factor", "start_date", "end_date", "metric", "metric_kind", "baseline_mean",
    "baseline_sd", "mde", "alpha", "power", "variant", "variant_role", "unit_id", "exposed_at", "value",
]


class ExperimentResultsConfig(dg.Config):
    # fixed_horizon: call only at the planned sample; sequential: mSPRT, valid at every daily look
    decision_rule: str = "fixed_horizon"
    # keep the rows of experiments whose inputs did not change since the last run (false: call every one again)
    reuse_unchanged: bool = True


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
        fingerprints = _input_fingerprints(con, config.decision_rule)
        kept = _kept_results(con, fingerprints) if config.reuse_unchanged else pd.DataFrame()
        changed = sorted(set(fingerprints["experiment_id"]) - set(kept.get("experiment_id", [])))
        with registered(con, "_changed_experiments", pd.DataFrame({"experiment_id": pd.Series(changed, dtype=object)})):
            observations = con.execute(
                f"""select {", ".join(OBSERVATION_COLUMNS)} from main.stg_experiment_observations
                    where experiment_id in (select experiment_id from _changed_experiments)"""
            ).df()
    called = experiment_results_frame(observations, config.decision_rule)
    results = called if kept.empty else _stacked(kept, called)
    with warehouse.connect() as con:
        replace_tables(
            con,
            {EXPERIMENT_RESULTS: results, EXPERIMENT_RESULTS_INPUTS: fingerprints},
            {EXPERIMENT_RESULTS_INPUTS: {"experiment_id": "varchar", "input_fingerprint": "varchar"}},
        )
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
            # called by this run (new observations, or a new rule or method), and kept from the last
            "experiments_called_this_run": len(called),
            "experiments_kept_unchanged": len(kept),
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


def _input_fingerprints(con, rule: str) -> pd.DataFrame:
    """Each experiment's input fingerprint: its observations' count and order-free hash sum, the rule, the method."""
    method = method_key(ml.experiments, rule)
    summaries = con.execute(
        f"""select experiment_id, count(*) as n, sum({row_hash(con, OBSERVATION_COLUMNS)}) as h
            from main.stg_experiment_observations group by experiment_id order by experiment_id"""
    ).fetchall()
    return pd.DataFrame(
        {
            "experiment_id": pd.Series([e for e, _, _ in summaries], dtype=object),
            "input_fingerprint": pd.Series(
                [hashlib.sha256(f"{method}|{n}|{h}".encode()).hexdigest() for _, n, h in summaries], dtype=object
            ),
        }
    )


def _kept_results(con, fingerprints: pd.DataFrame) -> pd.DataFrame:
    """The last run's rows of the experiments whose stored fingerprint is theirs now (empty: none, or no last run)."""
    if not (table_exists(con, EXPERIMENT_RESULTS_INPUTS) and table_exists(con, EXPERIMENT_RESULTS)):
        return pd.DataFrame()
    with registered(con, "_current_experiment_inputs", fingerprints):
        return con.execute(
            f"""select r.* from {EXPERIMENT_RESULTS} r
                join {EXPERIMENT_RESULTS_INPUTS} s using (experiment_id)
                join _current_experiment_inputs c on c.experiment_id = s.experiment_id
                     and c.input_fingerprint = s.input_fingerprint
                order by r.experiment_id"""
        ).df()


def _stacked(kept: pd.DataFrame, called: pd.DataFrame) -> pd.DataFrame:
    """The kept rows and this run's, one table in experiment order, with the columns of a run that calls every one."""
    if called.empty:
        return kept
    # an all-null kept column takes the call's dtype where it can hold a null (a float, a time, text)
    nullable = {c: called[c].dtype for c in called.columns if c in kept and kept[c].isna().all() and called[c].dtype.kind in "fOmM"}
    both = pd.concat([kept.astype(nullable), called], ignore_index=True)
    return both.sort_values("experiment_id", kind="stable").reset_index(drop=True)[list(called.columns)]


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
