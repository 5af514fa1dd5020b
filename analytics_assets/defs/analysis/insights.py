"""Insights: the numbers turned into ranked, actionable findings (method: ``ml/insights.py``), and the same
findings per account (``account_insights``: what the API serves, with each insight's acknowledgement).

Unpartitioned: it reads a trailing window of the warehouse (ending at the newest data day) and replaces
``analysis.insights`` on each run, so a finding that no longer holds disappears.
"""


from datetime import timedelta

import dagster as dg
import pandas as pd

from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.contracts.raw import MAX_QUARANTINE_SHARE
from analytics_assets.contracts.warehouse import (
    BOOST_EFFECTIVENESS,
    EXPERIMENT_RESULTS,
    FEATURE_DRIFT_REPORTS,
    INSIGHTS,
    METRIC_ANOMALIES,
    POSTING_SLOTS,
    table_metadata,
)
from analytics_assets.contracts.serving import ACCOUNT_EXPERIMENTS_TABLE, ACCOUNT_INSIGHTS_TABLE
from analytics_assets.defs.ingest.insight_acknowledgements import TABLE as ACK_TABLE, ensure_table as ensure_ack_table
from analytics_assets.storage.warehouse import replace_table
from ml.insights import (
    ACCOUNT_FINDING_COLUMNS,
    DEFAULT_ALPHA,
    DEFAULT_MIN_EFFECT,
    DEFAULT_MIN_N,
    Finding,
    InsightInputs,
    findings_per_account,
    generate_findings,
    quality_findings,
    rank_findings,
)



class InsightsConfig(dg.Config):
    window_days: int = 28  # how far back the findings look, ending at the newest data day
    alpha: float = DEFAULT_ALPHA  # false-discovery rate of each family of segment tests
    min_effect: float = DEFAULT_MIN_EFFECT  # smallest relative lift worth reporting
    min_n: int = DEFAULT_MIN_N  # smallest sample per segment level


def _quality_findings(con, start, end) -> list[Finding]:
    """Quarantine shares, the latest drifted day and the snapshot jumps of the window, as findings."""
    quarantine = con.execute(
        """with q as (select source_table, count(*) as quarantined from raw.raw_quarantine
                      where partition_date between ? and ? group by 1)
           select source_table, quarantined from q order by source_table""",
        [start, end],
    ).df()
    quarantine["loaded"] = [
        con.execute(f"select count(*) from raw.{t} where partition_date between ? and ?", [start, end]).fetchone()[0]
        for t in quarantine["source_table"]
    ]
    drift = con.execute(
        f"""select partition_date, drifted_columns, drift_share from {FEATURE_DRIFT_REPORTS}
           where dataset_drift and partition_date between ? and ? order by partition_date desc limit 1""",
        [start, end],
    ).fetchall()
    flags = con.execute(
        "select count(*), count(distinct post_id) from main.fct_snapshot_delta_flags where snapshot_date between ? and ?",
        [start, end],
    ).fetchone()
    return quality_findings(quarantine, drift[0] if drift else None, flags[0], flags[1], MAX_QUARANTINE_SHARE)


def _window_anomalies(con, start, end) -> pd.DataFrame:
    """The dated anomalies of the window (metric_anomalies; none yet when it has never run)."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema || '.' || table_name = ?", [METRIC_ANOMALIES]
    ).fetchone()[0]
    if not exists:
        return pd.DataFrame()
    return con.execute(
        f"select * from {METRIC_ANOMALIES} where metric_date between ? and ? order by all", [start, end]
    ).df()


@dg.asset(
    deps=[
        "ml_training_dataset",
        "fct_campaign_performance",
        "metric_anomalies",
        "boost_effectiveness",
        "experiment_results",
        "fct_snapshot_delta_flags",
        "ml_feature_drift",
        "ml_posting_slots",
    ],
    group_name="insights",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="Ranked findings with severity, supporting figures and a suggested action: best hours (the posting "
    "policy's, as /v1/optimal-hours and the slot recommendations) and content "
    "types, platform differences, when and what to boost, A/B winners (audiences, budgets, creatives), anomalies "
    "and warnings. Segment effects are Welch tests on log values with Benjamini-Hochberg control, reported only "
    "when significant and at least min_effect; anomalies are the dated ones of metric_anomalies (per campaign or "
    "platform and kind, naming the days and series). Writes analysis.insights.",
    metadata=table_metadata(INSIGHTS),
)
def insights(context: dg.AssetExecutionContext, config: InsightsConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        end = con.execute("select max(published_date) from main.ml_training_dataset").fetchone()[0]
        if end is None:
            raise dg.Failure("ml_training_dataset is empty: materialize the pipeline first")
        start = end - timedelta(days=config.window_days - 1)
        window = [start, end]
        # every input is read in a fixed order (`order by all`): the findings' means, variances and tests are
        # float reductions whose last digits follow the row order, and a table's row order is not part of its
        # content (a rerun of a day rewrites its rows elsewhere), so without it a rerun of the same data could
        # write other figures, or a finding that sits on a threshold could come and go
        inputs = InsightInputs(
            posts=con.execute(
                """select platform, publish_hour, publish_dow, hook_type, media_type, topic, engagement_rate
                   from main.ml_training_dataset where published_date between ? and ? order by all""",
                window,
            ).df(),
            campaign_days=con.execute(
                """select platform, account_id, campaign_id, metric_date, spend_usd, conversion_value_usd as revenue_usd
                   from main.fct_campaign_performance where metric_date between ? and ? and spend_usd > 0
                   order by all""",
                window,
            ).df(),
            boosts=con.execute(
                f"""select e.boost_id, cast(extract(isodow from cast(e.flight_start_at as timestamp)) as bigint) - 1 as flight_start_dow, p.media_type,
                          b.daily_budget_usd, e.relative_lift
                   from {BOOST_EFFECTIVENESS} e
                   join main.dim_post p on p.post_id = e.post_id
                   -- the average daily spend of the flight stands for its budget (spend follows budget)
                   join (select boost_id, spend_usd / nullif(days_active, 0) as daily_budget_usd
                         from main.fct_boost_contribution) b on b.boost_id = e.boost_id
                   where e.status = 'estimated' and e.relative_lift is not null
                     and cast(e.flight_start_at as date) between ? and ?
                   order by all""",
                window,
            ).df(),
            experiments=con.execute(
                f"select * from {EXPERIMENT_RESULTS} where end_date between ? and ? order by all", window
            ).df(),
            metric_anomalies=_window_anomalies(con, start, end),
            posting_slots=con.execute(
                f"""select platform, publish_dow, publish_hour, posterior_mean_log, posterior_sd_log, n_seen_at_hour,
                          model_version from {POSTING_SLOTS} order by all"""
            ).df(),
            extra=_quality_findings(con, start, end),
        )
    table = rank_findings(
        generate_findings(inputs, alpha=config.alpha, min_effect=config.min_effect, min_n=config.min_n)
    ).assign(window_start=start, window_end=end, generated_at=pd.Timestamp.now(tz="UTC").tz_localize(None))
    with warehouse.connect() as con:
        replace_table(con, INSIGHTS, table)
    top = table.head(15)[["rank", "severity", "category", "title", "action"]]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "window": f"{start} .. {end}",
            "by_severity": table["severity"].value_counts().to_dict(),
            "by_category": table["category"].value_counts().to_dict(),
            "inputs": {
                "posts": len(inputs.posts),
                "campaign_days": len(inputs.campaign_days),
                "boosts": len(inputs.boosts),
                "experiments": len(inputs.experiments),
            },
            "top_findings": dg.MetadataValue.md(top.to_markdown(index=False) if len(top) else "(no findings)"),
        }
    )


# the boosts the boost tests of a window pool (as ``insights`` reads them): their accounts hold the boost findings
_BOOSTING_ACCOUNTS_SQL = f"""
select distinct e.platform, e.account_id from {BOOST_EFFECTIVENESS} e
where e.status = 'estimated' and e.relative_lift is not null and e.platform is not null and e.account_id is not null
  and cast(e.flight_start_at as date) between ? and ?
order by all
"""


@dg.asset(
    deps=["insights", "account_experiments", "dim_account", "boost_effectiveness", "raw_insight_acknowledgements"],
    group_name="insights",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    description="The insights per account, as the API serves them (insights.parquet): each finding once per account "
    "it holds for (its account; else every account of its platform; else the accounts it was computed over: an A/B "
    "test's accounts, the boosting accounts of the window, every organic account, or every account for data-quality "
    "warnings; column scope), with a stable insight_id (a hash of what it says and whose it is), the rank within "
    "the account, and acknowledged_at: the first acknowledgement of the insight loaded from the API's store "
    "(raw_insight_acknowledgements). Method: ml.insights.findings_per_account.",
    metadata=table_metadata(ACCOUNT_INSIGHTS_TABLE),
    check_specs=[
        dg.AssetCheckSpec(
            "insight_id_is_unique_and_owned",
            asset="account_insights",
            description="No insight_id twice, and every row has its account",
        )
    ],
)
def account_insights(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        ensure_ack_table(con)
        # fixed orders, as in `insights`: which of two identical findings for an account is kept follows them
        findings = con.execute(f"select * from {INSIGHTS} order by rank").df()
        accounts = con.execute("select platform, account_id, channel_type from main.dim_account order by all").df()
        window = findings[["window_start", "window_end"]].iloc[0].tolist() if len(findings) else None
        boosting = (
            con.execute(_BOOSTING_ACCOUNTS_SQL, [pd.Timestamp(w).date() for w in window]).df()
            if window else pd.DataFrame(columns=["platform", "account_id"])
        )
        owners = con.execute(
            f"select experiment_id, platform, account_id from {ACCOUNT_EXPERIMENTS_TABLE} order by all"
        ).df()
        acks = con.execute(
            # each insight's first acknowledgement (the earlier id on a tie)
            f"""select insight_id, received_at as acknowledged_at, acknowledgement_id
                from (select insight_id, received_at, acknowledgement_id,
                             row_number() over (partition by insight_id order by received_at, acknowledgement_id) as k
                      from {ACK_TABLE}) as acknowledgements
                where k = 1 order by insight_id"""
        ).df()
    table = findings_per_account(findings, accounts, boosting, owners)
    if len(findings):
        meta = findings[["window_start", "window_end", "generated_at"]].iloc[0]
        table = table.assign(window_start=meta["window_start"], window_end=meta["window_end"], generated_at=meta["generated_at"])
    else:
        table = table.assign(window_start=pd.NaT, window_end=pd.NaT, generated_at=pd.NaT)
    table = table.merge(acks, on="insight_id", how="left")
    table["acknowledged_at"] = pd.to_datetime(table["acknowledged_at"])
    table["acknowledgement_id"] = table["acknowledgement_id"].astype(object)
    with warehouse.connect() as con:
        replace_table(con, ACCOUNT_INSIGHTS_TABLE, table)
    dupes = int(table["insight_id"].duplicated().sum())
    unowned = int(table[["platform", "account_id"]].isna().any(axis=1).sum())
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "findings": len(findings),
            "accounts": int(len(table[["platform", "account_id"]].drop_duplicates())),
            "by_scope": table["scope"].value_counts().to_dict(),
            "acknowledged": int(table["acknowledged_at"].notna().sum()),
            "columns": ", ".join([*ACCOUNT_FINDING_COLUMNS, "window_start", "window_end", "generated_at", "acknowledged_at"]),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="insight_id_is_unique_and_owned",
                passed=dupes == 0 and unowned == 0,
                metadata={"duplicate_ids": dupes, "rows_without_account": unowned},
            )
        ],
    )
