"""The raw layer's asset checks: each stored window against the pandera row rules, its natural key, its
quarantine share, and whether each of its entities has a source (live mode: an empty table says why)."""

from datetime import date

import dagster as dg
import pandera.pandas as pa

from analytics_assets.contracts.raw import MAX_QUARANTINE_SHARE, RawTable
from analytics_assets.defs.ingest.connector_resources import ENV_VARS
from analytics_assets.defs.resources import WarehouseResource

SOURCE_CHECK = "source_is_configured"


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
        # a warning, never blocking: an absent source is a configuration gap, and an empty table must not stop
        # the graph (downstream runs on what the configured sources gave)
        dg.AssetCheckSpec(
            SOURCE_CHECK,
            asset=key,
            description="Every platform of the table has a source: a connector, or the simulator in simulator "
            "mode (CYCLE_SOURCE_MODE); in live mode an entity without one is empty and this check says what to set",
        ),
    ]


def _connector_settings(platform: str) -> str:
    """The variables that configure ``platform``'s connector (what its ``is_configured`` requires): its token,
    Google's developer token, and the accounts it reads. The README's "Real platforms" lists the alternatives."""
    names = ENV_VARS[platform]
    required = [f for f in names if f in ("access_token", "developer_token") or f.endswith(("_ids", "_urns", "usernames"))]
    return " and ".join(names[f] for f in required)


# why a platform's connector cannot serve a table at all, whatever is configured
UNSERVABLE = {
    ("raw_boosts", "meta_ads"): "a Meta boost promotes a Facebook or Instagram page post, and Cycle tracks no such "
    "organic posts (their count is in the asset's untracked_boosted_posts)",
    ("raw_boosts", "google_ads"): "Google Ads does not promote organic social posts",
}


def missing_source_reason(table: RawTable, unsourced: list[str], connectable: tuple[str, ...]) -> str:
    """Why ``table`` has no rows of ``unsourced`` in live mode, naming what to configure (or why nothing can)."""
    if connectable:
        configurable = [p for p in unsourced if p in connectable]
        reasons = []
        if configurable:
            missing = "; ".join(f"{p}: set {_connector_settings(p)}" for p in configurable)
            reasons.append(
                f"Live mode: no connector for {', '.join(configurable)}, so {table.name} has none of their rows "
                f"({missing}; see the README's Real platforms)"
            )
        for p in unsourced:
            if p not in connectable:
                why = UNSERVABLE.get((table.name, p), "its API reports none")
                reasons.append(f"Live mode: {table.name} has no {p} rows and no connector can give them: {why}")
        return ". ".join(reasons)
    return (
        f"Live mode: Cycle has no live source for {table.name} yet, so it stays empty and nothing downstream of it is "
        "invented; set CYCLE_SOURCE_MODE=simulator to fill it with simulated demo data"
    )


def source_check_result(
    context: dg.AssetExecutionContext, table: RawTable, mode: str, sources: dict[str, list[str]], reason: str | None
) -> list[dg.AssetCheckResult]:
    """WARN when an entity of ``table`` has no source (live mode); ``reason`` names the setting to configure."""
    key = dg.AssetKey(table.name)
    if dg.AssetCheckKey(key, SOURCE_CHECK) not in context.selected_asset_check_keys:
        return []
    return [
        dg.AssetCheckResult(
            asset_key=key,
            check_name=SOURCE_CHECK,
            passed=reason is None,
            severity=dg.AssetCheckSeverity.WARN,
            description=reason,
            metadata={"source_mode": mode, "sources": dg.MetadataValue.json(sources), "reason": reason or ""},
        )
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
