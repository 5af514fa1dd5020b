"""Metric anomalies: the dated anomalies of the daily campaign and organic platform series (method:
``ml/anomalies.py``): spend spikes, conversion-tracking outages, CTR collapses, viral spikes, with the
expected range and the observed value.

Daily partitions: each day is judged against the history before it, read from the warehouse on each run, so
a rerun or a backfill of a day replaces exactly that day's rows with the same ones.
"""


from datetime import timedelta

import dagster as dg
import pandas as pd

from analytics_assets.contracts.warehouse import METRIC_ANOMALIES, table_metadata
from analytics_assets.defs.analysis.daily_series import read_daily_series
from analytics_assets.defs.metadata import markdown_preview, problems_check
from analytics_assets.defs.partitions import WAREHOUSE_POOL, daily_partitions, partition_days
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.storage.warehouse import replace_rows
from ml.anomalies import (
    ANOMALY_COLUMNS,
    KINDS,
    SEVERITIES,
    DetectorConfig,
    campaign_series,
    detect_anomalies,
    platform_series,
    series_days,
)

METRIC_ANOMALY_COLUMNS = {
    "series_id": "VARCHAR",
    "entity_type": "VARCHAR",
    "platform": "VARCHAR",
    "account_id": "VARCHAR",
    "campaign_id": "VARCHAR",
    "metric": "VARCHAR",
    "metric_date": "DATE",
    "kind": "VARCHAR",
    "severity": "VARCHAR",
    "observed": "DOUBLE",
    "expected": "DOUBLE",
    "expected_low": "DOUBLE",
    "expected_high": "DOUBLE",
    "change": "DOUBLE",
    "score": "DOUBLE",
    "history_days": "INTEGER",
}
assert list(METRIC_ANOMALY_COLUMNS) == ANOMALY_COLUMNS  # one shape: the library's rows are the table's

class MetricAnomaliesConfig(dg.Config):
    z_threshold: float = DetectorConfig.z_threshold  # robust z-score a day must pass
    min_change: float = DetectorConfig.min_change  # ... and the factor it must be off by
    window_days: int = DetectorConfig.window_days  # history a day is judged against
    min_history: int = DetectorConfig.min_history  # clean days of history below which a day is not judged


@dg.asset(
    deps=["fct_campaign_performance", "agg_campaign_daily_summary", "agg_platform_daily"],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="insights",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
    metadata=table_metadata(METRIC_ANOMALIES),
    description="The dated anomalies of each always-on campaign's spend (against its budget), clicks (given "
    "impressions) and conversions (given clicks), and of each platform's organic impressions and engagements: "
    "per flagged day the series, the kind (spend_spike, tracking_outage, ctr_collapse, viral_spike, other), the "
    "severity, the observed value and the expected range. Each day is judged against its own series' last "
    "window_days (a robust level and, where it explains the history, a weekday profile; MAD-scaled, never "
    "below the day's counting noise). Writes analysis.metric_anomalies. Method: ml/anomalies.py.",
    check_specs=[
        dg.AssetCheckSpec(
            "anomalies_are_well_formed",
            asset="metric_anomalies",
            description="One row per series and day, a known kind and severity, and every observed value outside "
            "its expected range on the side the kind says",
        )
    ],
)
def metric_anomalies(
    context: dg.AssetExecutionContext, config: MetricAnomaliesConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    days = partition_days(context)
    detector = DetectorConfig(
        z_threshold=config.z_threshold,
        min_change=config.min_change,
        window_days=config.window_days,
        min_history=config.min_history,
    )
    # two windows back: the first day's history, and the history of the days in it (whose flags keep a bad day
    # out of the first day's history), so each day reads the same whether run alone or in a backfill
    read_from = days[0] - timedelta(days=2 * detector.window_days)
    with warehouse.connect() as con:
        campaigns, platforms = read_daily_series(con, read_from, days[-1])
    series = pd.concat([campaign_series(campaigns), platform_series(platforms)], ignore_index=True)
    anomalies = detect_anomalies(series, detector, evaluate_from=days[0])
    anomalies = anomalies[pd.to_datetime(anomalies["metric_date"]) <= pd.Timestamp(days[-1])]
    with warehouse.connect() as con:
        replace_rows(
            con, METRIC_ANOMALIES, METRIC_ANOMALY_COLUMNS, anomalies, "metric_date between ? and ?", [days[0], days[-1]]
        )
    judged = series_days(series, detector, evaluate_from=days[0])
    problems = _malformed(anomalies)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(anomalies),
            "days": f"{days[0]} .. {days[-1]}",
            "series": int(series["series_id"].nunique()) if len(series) else 0,
            "series_days_judged": judged,
            "by_kind": anomalies["kind"].value_counts().to_dict(),
            "by_severity": anomalies["severity"].value_counts().to_dict(),
            "preview": markdown_preview(
                anomalies[["metric_date", "series_id", "kind", "severity", "observed", "expected_low", "expected_high"]]
            ),
        },
        check_results=[problems_check("anomalies_are_well_formed", problems)],
    )


def _malformed(anomalies: pd.DataFrame) -> list[str]:
    """What is wrong with the rows, in words (empty: nothing)."""
    problems = []
    dupes = int(anomalies.duplicated(["series_id", "metric_date"]).sum())
    if dupes:
        problems.append(f"{dupes} series-days twice")
    unknown = sorted(set(anomalies["kind"]) - set(KINDS)) + sorted(set(anomalies["severity"]) - set(SEVERITIES))
    if unknown:
        problems.append(f"unknown kinds or severities {unknown}")
    above = anomalies["observed"] > anomalies["expected_high"]
    below = anomalies["observed"] < anomalies["expected_low"]
    inside = int((~(above | below)).sum())
    if inside:
        problems.append(f"{inside} rows observed inside their expected range")
    rises = anomalies["kind"].isin(["spend_spike", "viral_spike"])
    falls = anomalies["kind"].isin(["tracking_outage", "ctr_collapse"])
    wrong_side = int((rises & ~above).sum() + (falls & ~below).sum())
    if wrong_side:
        problems.append(f"{wrong_side} rows on the other side of their range than their kind says")
    return problems
