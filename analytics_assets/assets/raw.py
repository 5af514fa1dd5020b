"""Raw assets: one table per source entity, one partition per day, validated on the way in.

One multi-asset fetches each day once for every entity (a platform poll returns them together) and
can be subset to any of them. Re-materializing a partition replaces exactly that day, quarantine
included, so reruns and backfills never duplicate or lose a row.
"""


from collections import Counter
from datetime import date

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from analytics_assets.ingest.loader import parse_day
from analytics_assets.ingest.tables import QUARANTINE_TABLE, RAW_SCHEMA, RAW_TABLES, RawTable
from analytics_assets.partitions import WAREHOUSE_POOL, daily_partitions, partition_days
from analytics_assets.resources import SimulatorResource, WarehouseResource
from analytics_assets.warehouse import replace_partitions

# Above this share of quarantined records a partition is suspicious: warn, but keep what is valid.
MAX_QUARANTINE_SHARE = 0.05

_DESCRIPTIONS = {
    "raw_social_post_snapshots": "Organic post metric snapshots (LinkedIn, X, Reddit, TikTok) polled that day.",
    "raw_ad_campaign_metrics": "Daily campaign metrics from Google Ads, Meta Ads and LinkedIn Ads, in account currency.",
    "raw_boosts": "Daily paid delivery of boosted organic posts (post promoted as an ad campaign).",
    "raw_touchpoints": "Tracked touchpoint and conversion events of journeys that ended that day.",
    "raw_ai_generations": "AI caption-generation calls with token usage, latency and cost.",
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


@dg.multi_asset(
    name="raw_platform_data",
    specs=RAW_ASSET_SPECS,
    check_specs=[c for t in RAW_TABLES.values() for c in _checks_for(t)],
    can_subset=True,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def raw_platform_data(context: dg.AssetExecutionContext, simulator: SimulatorResource, warehouse: WarehouseResource):
    """Fetch each day of the partition window from the source, validate, quarantine, load."""
    selected = {k.to_user_string() for k in context.selected_asset_keys}
    tables = [t for name, t in RAW_TABLES.items() if name in selected]
    sim = simulator.simulator()
    days = partition_days(context)
    loaded: Counter[str] = Counter()
    quarantined: Counter[str] = Counter()
    per_platform: dict[str, Counter[str]] = {t.name: Counter() for t in tables}
    reasons: dict[str, Counter[str]] = {t.name: Counter() for t in tables}
    previews: dict[str, pd.DataFrame] = {}
    with warehouse.connect() as con:
        for day in days:
            batches = parse_day(sim.day(day))
            for table in tables:
                batch = batches[table.name]
                replace_partitions(con, table, batch.rows, batch.quarantine, day, day)
                loaded[table.name] += len(batch.rows)
                quarantined[table.name] += batch.quarantined
                if "platform" in batch.rows:
                    per_platform[table.name].update(batch.rows["platform"].value_counts().to_dict())
                reasons[table.name].update(batch.quarantine["reason"].str.split(":").str[0].value_counts().to_dict())
                previews.setdefault(table.name, batch.rows.head(5))
            context.log.info(f"{day}: " + ", ".join(f"{t.name}={len(batches[t.name].rows)}" for t in tables))
    start, end = days[0], days[-1]
    for table in tables:
        name = table.name
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
            },
        )
        yield from _check_results(context, warehouse, table, start, end, loaded[name], quarantined[name])
