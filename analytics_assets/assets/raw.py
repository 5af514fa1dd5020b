"""Raw assets: one table per source entity, one partition per day, validated on the way in.

One multi-asset fetches each day once for every entity (a platform poll returns them together) and
can be subset to any of them. Re-materializing a partition replaces exactly that day, quarantine
included, so reruns and backfills never duplicate or lose a row.

A platform with credentials is read through its connector (``analytics_assets/connectors``) instead of
the simulator: ad platforms re-read their restatement window and replace only their own rows of it,
social polls append snapshots to the day they are taken. A connector that fails fails the run after
everything fetched so far is committed, so the rerun resumes where it stopped.
"""


from collections import Counter
from datetime import date, timedelta

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from analytics_assets.connectors.resources import (
    GoogleAdsResource,
    LinkedInAdsResource,
    LinkedInResource,
    MetaAdsResource,
    PlatformResource,
    RedditResource,
    TikTokResource,
    XResource,
)
from analytics_assets.connectors.sync import PlatformReport, poll_social, sync_ads
from analytics_assets.ingest.loader import LoadBatch, parse_day
from analytics_assets.ingest.tables import (
    AD_CAMPAIGN_METRICS,
    AD_PLATFORMS,
    ORGANIC_PLATFORMS,
    QUARANTINE_TABLE,
    RAW_SCHEMA,
    RAW_TABLES,
    SOCIAL_POST_SNAPSHOTS,
    RawTable,
)
from analytics_assets.partitions import WAREHOUSE_POOL, daily_partitions, partition_days
from analytics_assets.resources import SimulatorResource, WarehouseResource
from analytics_assets.warehouse import replace_partitions, replace_platform_days

# Above this share of quarantined records a partition is suspicious: warn, but keep what is valid.
MAX_QUARANTINE_SHARE = 0.05

_DESCRIPTIONS = {
    "raw_social_post_snapshots": "Organic post metric snapshots (LinkedIn, X, Reddit, TikTok) polled that day.",
    "raw_ad_campaign_metrics": "Daily campaign metrics from Google Ads, Meta Ads and LinkedIn Ads, in account currency.",
    "raw_boosts": "Daily paid delivery of boosted organic posts (post promoted as an ad campaign).",
    "raw_touchpoints": "Tracked touchpoint and conversion events of journeys that ended that day.",
    "raw_ai_generations": "AI caption-generation calls with token usage, latency and cost.",
    "raw_experiment_observations": "A/B test exposures of that day (boost timing, budget, targeting, creative) "
    "with each unit's outcome and the design the test was planned with.",
    "raw_ad_creative_metrics": "Daily ad-level (creative) metrics from Google Ads, Meta Ads and LinkedIn Ads, "
    "in account currency, with video quartile views where the platform reports them.",
}


def _checks_for(table: RawTable) -> list[dg.AssetCheckSpec]:
    key = dg.AssetKey(table.name)
    return [
        dg.AssetCheckSpec("rows_match_schema", asset=key, description="Stored rows pass the pandera row rules"),
        dg.AssetCheckSpec("natural_key_is_unique", asset=key, description=f"No duplicate {table.key}"),
        dg.AssetCheckSpec(
            "quarantine_share_is_low",
            asset=key,
            description=f"At most {MAX_QUARANTINE_SHARE:.0%} of the records were quarantined",
        ),
    ]


RAW_ASSET_SPECS = [
    dg.AssetSpec(
        key=name,
        description=_DESCRIPTIONS[name],
        group_name="raw",
        kinds={"duckdb", "python"},
        partitions_def=daily_partitions,
        metadata={"table": f"{RAW_SCHEMA}.{name}", "dagster/table_name": f"{RAW_SCHEMA}.{name}"},
        skippable=True,
    )
    for name in RAW_TABLES
]



def _check_results(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    table: RawTable,
    start: date,
    end: date,
    loaded: int,
    quarantined: int,
) -> list[dg.AssetCheckResult]:
    key = dg.AssetKey(table.name)
    selected = context.selected_asset_check_keys
    results = []
    with warehouse.connect() as con:
        stored = con.execute(
            f"select * from {table.qualified_name} where {table.partition_column} between ? and ?", [start, end]
        ).df()
        dupes = con.execute(
            f"""select count(*) from (
                  select {", ".join(table.key)} from {table.qualified_name}
                  where {table.partition_column} between ? and ?
                  group by all having count(*) > 1)""",
            [start, end],
        ).fetchone()[0]
    if dg.AssetCheckKey(key, "rows_match_schema") in selected:
        frame = stored.copy()  # every column: dataframe-wide checks read columns beyond the typed ones
        for col in frame.select_dtypes(include=["datetime64"]):
            frame[col] = frame[col].astype("datetime64[ns]")
        for col, spec in table.row_schema.columns.items():  # DuckDB hands back numpy dtypes
            if str(spec.dtype) == "Int64":
                frame[col] = frame[col].astype("Int64")
            elif str(spec.dtype) == "str":
                frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
        try:
            table.row_schema.validate(frame, lazy=True)
            failures = 0
            sample = ""
        except pa.errors.SchemaErrors as exc:
            failures = len(exc.failure_cases)
            sample = exc.failure_cases.head(10).to_markdown()
        results.append(
            dg.AssetCheckResult(
                asset_key=key,
                check_name="rows_match_schema",
                passed=failures == 0,
                metadata={"rows_checked": len(frame), "failures": failures, **({"sample": dg.MetadataValue.md(sample)} if sample else {})},
            )
        )
    if dg.AssetCheckKey(key, "natural_key_is_unique") in selected:
        results.append(
            dg.AssetCheckResult(
                asset_key=key, check_name="natural_key_is_unique", passed=dupes == 0, metadata={"duplicate_keys": int(dupes)}
            )
        )
    if dg.AssetCheckKey(key, "quarantine_share_is_low") in selected:
        share = quarantined / max(loaded + quarantined, 1)
        results.append(
            dg.AssetCheckResult(
                asset_key=key,
                check_name="quarantine_share_is_low",
                passed=share <= MAX_QUARANTINE_SHARE,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"quarantined": quarantined, "quarantine_share": float(share)},
            )
        )
    return results


def _store_simulated_platforms(con, table: RawTable, batch: LoadBatch, connected: list[str], day: date) -> LoadBatch:
    """Write the simulator's rows of the platforms without a connector, leaving the connectors' rows."""
    rows = batch.rows[~batch.rows["platform"].isin(connected)] if len(batch.rows) else batch.rows
    quarantine = batch.quarantine[~batch.quarantine["platform"].isin(connected)] if len(batch.quarantine) else batch.quarantine
    simulated = [p for p in (ORGANIC_PLATFORMS if table is SOCIAL_POST_SNAPSHOTS else AD_PLATFORMS) if p not in connected]
    replace_platform_days(con, table, simulated, rows, quarantine, [day])
    return LoadBatch(table, rows, quarantine)


def _sync_connectors(
    context: dg.AssetExecutionContext, con, tables: list[RawTable], connectors: dict[str, PlatformResource], days: list[date]
) -> dict[str, PlatformReport]:
    """Ads: re-read the restatement window and the run's unfinished days. Social: poll the due posts, only
    when the run reaches the latest partition (a live API cannot give a past day's snapshots)."""
    names = {t.name for t in tables}
    reports: dict[str, PlatformReport] = {}
    for platform, resource in connectors.items():
        if platform in AD_PLATFORMS and AD_CAMPAIGN_METRICS.name in names:
            reports[platform] = sync_ads(con, resource, days, context.log)
        elif platform in ORGANIC_PLATFORMS and SOCIAL_POST_SNAPSHOTS.name in names:
            if days[-1] >= resource.now().date() - timedelta(days=1):
                reports[platform] = poll_social(con, resource, context.log)
            else:
                context.log.info(f"{platform}: window ends {days[-1]}; past snapshots cannot be polled, nothing to do")
    return reports


@dg.multi_asset(
    name="raw_platform_data",
    specs=RAW_ASSET_SPECS,
    check_specs=[c for t in RAW_TABLES.values() for c in _checks_for(t)],
    can_subset=True,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def raw_platform_data(
    context: dg.AssetExecutionContext,
    simulator: SimulatorResource,
    warehouse: WarehouseResource,
    linkedin: LinkedInResource,
    x: XResource,
    reddit: RedditResource,
    tiktok: TikTokResource,
    google_ads: GoogleAdsResource,
    meta_ads: MetaAdsResource,
    linkedin_ads: LinkedInAdsResource,
):
    """Fetch each day of the partition window from the source, validate, quarantine, load. A platform
    with credentials is read through its connector; the simulator serves every other one."""
    selected = {k.to_user_string() for k in context.selected_asset_keys}
    tables = [t for name, t in RAW_TABLES.items() if name in selected]
    sim = simulator.simulator()
    days = partition_days(context)
    platforms = [linkedin, x, reddit, tiktok, google_ads, meta_ads, linkedin_ads]
    connectors: dict[str, PlatformResource] = {r.platform: r for r in platforms if r.is_configured}
    served = {
        SOCIAL_POST_SNAPSHOTS.name: [p for p in ORGANIC_PLATFORMS if p in connectors],
        AD_CAMPAIGN_METRICS.name: [p for p in AD_PLATFORMS if p in connectors],
    }
    loaded: Counter[str] = Counter()
    quarantined: Counter[str] = Counter()
    per_platform: dict[str, Counter[str]] = {t.name: Counter() for t in tables}
    reasons: dict[str, Counter[str]] = {t.name: Counter() for t in tables}
    previews: dict[str, pd.DataFrame] = {}
    everything = {SOCIAL_POST_SNAPSHOTS.name: ORGANIC_PLATFORMS, AD_CAMPAIGN_METRICS.name: AD_PLATFORMS}
    simulated = [t for t in tables if t.name not in everything or set(served[t.name]) != set(everything[t.name])]
    with warehouse.connect() as con:
        for day in days if simulated else []:  # nothing to simulate when connectors serve every table
            batches = parse_day(sim.day(day))
            for table in simulated:
                batch = batches[table.name]
                if served.get(table.name):
                    batch = _store_simulated_platforms(con, table, batch, served[table.name], day)
                else:
                    replace_partitions(con, table, batch.rows, batch.quarantine, day, day)
                loaded[table.name] += len(batch.rows)
                quarantined[table.name] += batch.quarantined
                if "platform" in batch.rows:
                    per_platform[table.name].update(batch.rows["platform"].value_counts().to_dict())
                reasons[table.name].update(batch.quarantine["reason"].str.split(":").str[0].value_counts().to_dict())
                previews.setdefault(table.name, batch.rows.head(5))
            context.log.info(f"{day}: " + ", ".join(f"{t.name}={len(batches[t.name].rows)}" for t in simulated))
        reports = _sync_connectors(context, con, tables, connectors, days)
    windows = {t.name: (days[0], days[-1]) for t in tables}
    for report in reports.values():
        name = SOCIAL_POST_SNAPSHOTS.name if report.platform in ORGANIC_PLATFORMS else AD_CAMPAIGN_METRICS.name
        loaded[name] += report.rows
        quarantined[name] += report.quarantined
        per_platform[name][report.platform] += report.rows
        if report.preview is not None and len(report.preview):
            previews.setdefault(name, report.preview)
        if "polled_at" in report.details:  # snapshots land on the day they were taken
            polled_day = date.fromisoformat(report.details["polled_at"][:10])
            windows[name] = (windows[name][0], max(windows[name][1], polled_day))
    failed = {p: r.error for p, r in reports.items() if r.error}
    if failed:
        # what was fetched is committed (and in the ledger); the rerun resumes from there
        raise dg.Failure(
            description="Platform connectors failed: " + "; ".join(failed.values()),
            metadata={p: dg.MetadataValue.json(r.metadata()) for p, r in reports.items()},
        )
    for table in tables:
        name = table.name
        start, end = windows[name]
        table_reports = {p: r.metadata() for p, r in reports.items() if p in served.get(name, [])}
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": loaded[name],
                "quarantined_records": quarantined[name],
                "days": len(days),
                "rows_by_platform": dict(per_platform[name]) or None,
                "quarantine_reasons": dict(reasons[name].most_common(10)) or None,
                "quarantine_table": f"{RAW_SCHEMA}.{QUARANTINE_TABLE}",
                "preview": dg.MetadataValue.md(previews[name].to_markdown(index=False)) if name in previews else None,
                **(
                    {
                        "connectors": dg.MetadataValue.json(table_reports),
                        "simulated_platforms": [
                            p for p in (ORGANIC_PLATFORMS if name == SOCIAL_POST_SNAPSHOTS.name else AD_PLATFORMS)
                            if p not in connectors
                        ],
                    }
                    if table_reports
                    else {}
                ),
            },
        )
        yield from _check_results(context, warehouse, table, start, end, loaded[name], quarantined[name])
