"""Insights: the numbers turned into ranked, actionable findings (method: ``ml/insights.py``).

Unpartitioned: it reads a trailing window of the warehouse (ending at the newest data day) and replaces
``main.insights`` on each run, so a finding that no longer holds disappears.
"""


from datetime import timedelta

import dagster as dg
import pandas as pd

from analytics_assets.partitions import WAREHOUSE_POOL
from analytics_assets.resources import WarehouseResource
from ml.insights import DEFAULT_ALPHA, DEFAULT_MIN_EFFECT, DEFAULT_MIN_N, Finding, InsightInputs, generate_findings, rank_findings

INSIGHTS_TABLE = "main.insights"
MAX_QUARANTINE_SHARE = 0.05


class InsightsConfig(dg.Config):
    window_days: int = 28  # how far back the findings look, ending at the newest data day
    alpha: float = DEFAULT_ALPHA  # false-discovery rate of each family of segment tests
    min_effect: float = DEFAULT_MIN_EFFECT  # smallest relative lift worth reporting
    min_n: int = DEFAULT_MIN_N  # smallest sample per segment level


def _quality_warnings(con, start, end) -> list[Finding]:
    """Data-quality warnings: quarantine share per raw table, feature drift, snapshot jumps awaiting review."""
    findings = []
    shares = con.execute(
        """with q as (select source_table, count(*) as quarantined from raw.raw_quarantine
                      where partition_date between ? and ? group by 1)
           select source_table, quarantined from q""",
        [start, end],
    ).df()
    for r in shares.itertuples(index=False):
        loaded = con.execute(
            f"select count(*) from raw.{r.source_table} where partition_date between ? and ?", [start, end]
        ).fetchone()[0]
        share = r.quarantined / max(loaded + r.quarantined, 1)
        if share > MAX_QUARANTINE_SHARE:
            findings.append(
                Finding(
                    category="warning",
                    subject=f"quarantine {r.source_table}",
                    title=f"{share:.1%} of {r.source_table} records were quarantined",
                    action="Read raw.raw_quarantine's reasons: a source changed its payload or sends bad data.",
                    severity="high",
                    metric="quarantine share",
                    effect=float(share),
                    n=int(loaded + r.quarantined),
                    evidence={"quarantined": int(r.quarantined), "loaded": int(loaded)},
                )
            )
    drift = con.execute(
        """select partition_date, drifted_columns, drift_share from main.ml_feature_drift_reports
           where dataset_drift and partition_date between ? and ? order by partition_date desc limit 1""",
        [start, end],
    ).fetchall()
    if drift:
        day, columns, share = drift[0]
        findings.append(
            Finding(
                category="warning",
                subject="feature drift",
                title=f"Posting behaviour drifted on {day}: {columns}",
                action="The engagement model is retrained on drift; check the new champion's recommendations.",
                severity="medium",
                metric="drift share",
                effect=float(share),
                evidence={"day": str(day), "drifted_columns": columns},
            )
        )
    flags = con.execute(
        "select count(*), count(distinct post_id) from main.fct_snapshot_delta_flags where snapshot_date between ? and ?",
        [start, end],
    ).fetchone()
    if flags[0]:
        findings.append(
            Finding(
                category="anomaly",
                subject="snapshot jumps",
                title=f"{flags[0]} metric jumps above 1000% between snapshots on {flags[1]} posts await review",
                action="Review main.fct_snapshot_delta_flags: a viral post, or a platform restating its counters.",
                severity="medium",
                metric="flagged deltas",
                n=int(flags[0]),
                evidence={"posts": int(flags[1])},
            )
        )
    return findings


@dg.asset(
    deps=[
        "ml_training_dataset",
        "fct_campaign_performance",
        "agg_platform_daily",
        "boost_effectiveness",
        "experiment_results",
        "fct_snapshot_delta_flags",
        "ml_feature_drift",
    ],
    group_name="insights",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="Ranked findings with severity, supporting figures and a suggested action: best hours and content "
    "types, platform differences, when and what to boost, A/B winners (audiences, budgets, creatives), anomalies "
    "and warnings. Segment effects are Welch tests on log values with Benjamini-Hochberg control, reported only "
    "when significant and at least min_effect; anomalies are robust z-scores. Writes main.insights.",
)
def insights(context: dg.AssetExecutionContext, config: InsightsConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        end = con.execute("select max(published_date) from main.ml_training_dataset").fetchone()[0]
        if end is None:
            raise dg.Failure("ml_training_dataset is empty: materialize the pipeline first")
        start = end - timedelta(days=config.window_days - 1)
        window = [start, end]
        inputs = InsightInputs(
            posts=con.execute(
                """select platform, publish_hour, publish_dow, hook_type, media_type, topic, engagement_rate
                   from main.ml_training_dataset where published_date between ? and ?""",
                window,
            ).df(),
            campaign_days=con.execute(
                """select platform, campaign_id, metric_date, spend_usd, conversion_value_usd as revenue_usd
                   from main.fct_campaign_performance where metric_date between ? and ? and spend_usd > 0""",
                window,
            ).df(),
            boosts=con.execute(
                """select e.boost_id, isodow(e.flight_start_at) - 1 as flight_start_dow, p.media_type,
                          b.daily_budget_usd, e.relative_lift
                   from main.boost_effectiveness e
                   join main.dim_post p on p.post_id = e.post_id
                   -- the average daily spend of the flight stands for its budget (spend follows budget)
                   join (select boost_id, spend_usd / nullif(days_active, 0) as daily_budget_usd
                         from main.fct_boost_contribution) b on b.boost_id = e.boost_id
                   where e.status = 'estimated' and e.relative_lift is not null
                     and cast(e.flight_start_at as date) between ? and ?""",
                window,
            ).df(),
            experiments=con.execute("select * from main.experiment_results where end_date between ? and ?", window).df(),
            platform_daily=con.execute(
                """select metric_date, platform, impressions from main.agg_platform_daily
                   where channel_type = 'organic' and metric_date between ? and ?""",
                [start - timedelta(days=14), end],
            ).df(),
            extra=_quality_warnings(con, start, end),
        )
    table = rank_findings(
        generate_findings(inputs, alpha=config.alpha, min_effect=config.min_effect, min_n=config.min_n)
    ).assign(window_start=start, window_end=end, generated_at=pd.Timestamp.now(tz="UTC").tz_localize(None))
    with warehouse.connect() as con:
        con.register("_insights", table)
        try:
            con.execute(f"create or replace table {INSIGHTS_TABLE} as select * from _insights")
        finally:
            con.unregister("_insights")
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
