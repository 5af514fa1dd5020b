"""The raw layer's asset checks: each stored window against the pandera row rules, its natural key and its
quarantine share."""

from datetime import date

import dagster as dg
import pandera.pandas as pa

from analytics_assets.contracts.raw import MAX_QUARANTINE_SHARE, RawTable
from analytics_assets.defs.resources import WarehouseResource


def check_specs_for(table: RawTable) -> list[dg.AssetCheckSpec]:
    key = dg.AssetKey(table.name)
    return [
        # blocking: rows that break the contract or duplicate a key never flow downstream (defs/quality_gate.py)
        dg.AssetCheckSpec(
            "rows_match_schema", asset=key, blocking=True, description="Stored rows pass the pandera row rules"
        ),
        dg.AssetCheckSpec("natural_key_is_unique", asset=key, blocking=True, description=f"No duplicate {table.key}"),
        dg.AssetCheckSpec(
            "quarantine_share_is_low",
            asset=key,
            description=f"At most {MAX_QUARANTINE_SHARE:.0%} of the records were quarantined",
        ),
    ]


def check_results(
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
