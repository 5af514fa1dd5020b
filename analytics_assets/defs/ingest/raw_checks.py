"""The raw layer's asset checks: each stored day against the pandera row rules, its natural key and its
quarantine share, one result per partition; and whether each of the table's entities has a source (live mode:
an empty table says why)."""

import warnings
from collections.abc import Iterator
from datetime import date
from functools import cache

import dagster as dg
import pandas as pd
import pandera.pandas as pa
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationTargetMaterializationData
from dagster._core.storage.event_log.base import AssetRecordsFilter

from analytics_assets.contracts.raw import MAX_QUARANTINE_SHARE, QUARANTINE_TABLE, RAW_SCHEMA, RawTable
from analytics_assets.defs.ingest.connector_resources import ENV_VARS
from analytics_assets.defs.partitions import daily_partitions
from analytics_assets.defs.resources import WarehouseResource

SOURCE_CHECK = "source_is_configured"
DATA_CHECKS = ("rows_match_schema", "natural_key_is_unique", "quarantine_share_is_low")


def check_specs_for(table: RawTable) -> tuple[dg.AssetCheckSpec, ...]:
    """The table's checks. The data checks are partitioned like the table: each day's result says whether that
    day's stored rows pass, and the UI shows it on that partition. ``source_is_configured`` is not: it reports
    the run's source configuration, not a day's rows."""
    return _check_specs(table.name, table.key)


@cache
def _check_specs(name: str, natural_key: tuple[str, ...]) -> tuple[dg.AssetCheckSpec, ...]:
    key = dg.AssetKey(name)
    with warnings.catch_warnings():
        # Dagster 1.13 marks partitioned check specs preview: one warning per spec at every load would bury the
        # output of every command that loads the definitions
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return (
            # blocking: rows that break the contract or duplicate a key never flow downstream (defs/quality_gate.py)
            dg.AssetCheckSpec(
                "rows_match_schema",
                asset=key,
                blocking=True,
                description="The partition's stored rows pass the pandera row rules",
                partitions_def=daily_partitions,
            ),
            dg.AssetCheckSpec(
                "natural_key_is_unique",
                asset=key,
                blocking=True,
                description=f"No {natural_key} of the partition is stored twice (within the run's days)",
                partitions_def=daily_partitions,
            ),
            dg.AssetCheckSpec(
                "quarantine_share_is_low",
                asset=key,
                description=f"At most {MAX_QUARANTINE_SHARE:.0%} of the partition's records were quarantined",
                partitions_def=daily_partitions,
            ),
            # a warning, never blocking: an absent source is a configuration gap, and an empty table must not stop
            # the graph (downstream runs on what the configured sources gave)
            dg.AssetCheckSpec(
                SOURCE_CHECK,
                asset=key,
                description="Every platform of the table has a source: a connector, or the simulator in simulator "
                "mode (CYCLE_SOURCE_MODE); in live mode an entity without one is empty and this check says what to "
                "set",
            ),
        )


def _connector_settings(platform: str) -> str:
    """The variables that configure ``platform``'s connector (what its ``is_configured`` requires): its token,
    Google's developer token, and the accounts it reads. The README's "Real platforms" lists the alternatives."""
    names = ENV_VARS[platform]
    required = [f for f in names if f in ("access_token", "developer_token") or f.endswith(("_ids", "_urns", "usernames"))]
    return " and ".join(names[f] for f in required)


# why a platform's connector cannot serve a table at all, whatever is configured
UNSERVABLE = {
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


def _typed(stored: pd.DataFrame, table: RawTable) -> pd.DataFrame:
    """The stored rows with the dtypes the pandera row rules expect (DuckDB hands back numpy dtypes); every
    column is kept, as dataframe-wide checks read columns beyond the typed ones."""
    frame = stored.copy()
    for col in frame.select_dtypes(include=["datetime64"]):
        frame[col] = frame[col].astype("datetime64[ns]")
    for col, spec in table.row_schema.columns.items():
        if str(spec.dtype) == "Int64":
            frame[col] = frame[col].astype("Int64")
        elif str(spec.dtype) == "str":
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


def _failure_cases(frame: pd.DataFrame, table: RawTable) -> pd.DataFrame:
    """What breaks the row rules (pandera's failure cases; ``index``: the frame's row, null for a column-wide
    failure); empty when every row passes."""
    try:
        table.row_schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return exc.failure_cases
    return pd.DataFrame(columns=["index"])


def schema_failures_by_day(stored: pd.DataFrame, table: RawTable, days: list[date]) -> dict[date, pd.DataFrame]:
    """Each day's failure cases. The window is validated once and each failing row attributed to its day; a
    failure no row carries (a missing column, a wrong dtype, a rule over the whole frame) is attributed by
    validating each day's rows on their own, so a day fails only for what its own rows break."""
    frame = _typed(stored, table)
    day_of_row = pd.to_datetime(stored[table.partition_column]).dt.date if len(stored) else pd.Series(dtype=object)
    cases = _failure_cases(frame, table)
    if cases["index"].isna().any():
        return {d: _failure_cases(frame[day_of_row == d], table) for d in days}
    if cases.empty:
        return {d: cases for d in days}
    case_days = day_of_row.reindex(cases["index"].astype("int64")).to_numpy()
    return {d: cases[case_days == d] for d in days}


# DuckDB hands results back in vectors of this many rows (its STANDARD_VECTOR_SIZE)
_VECTOR_ROWS = 2048


def _schema_failures_streamed(
    con, table: RawTable, start: date, end: date, days: list[date], chunk_rows: int
) -> dict[date, pd.DataFrame]:
    """``schema_failures_by_day`` of the stored window, read and validated ``chunk_rows`` rows at a time, so memory
    follows the chunk, not the window (a day of 50,000 posts is 2.2 million snapshot rows). Every rule is a row's
    own (pandera's row checks, the row-wise dataframe checks), so each chunk's failing rows are the ones the
    whole window's validation finds; their ``index`` is the row's place in the window's result, as when it was
    read whole. A failure no row carries (a column, a dtype) is attributed within its chunk, day by day."""
    cursor = con.execute(
        f"select * from {table.qualified_name} where {table.partition_column} between ? and ?", [start, end]
    )
    found: dict[date, list[pd.DataFrame]] = {d: [] for d in days}
    offset = 0
    while True:
        chunk = cursor.fetch_df_chunk(max(1, chunk_rows // _VECTOR_ROWS))
        if chunk.empty and offset:
            break
        chunk.index = pd.RangeIndex(offset, offset + len(chunk))
        offset += len(chunk)
        for day, cases in schema_failures_by_day(chunk, table, days).items():
            if len(cases):
                found[day].append(cases)
        if chunk.empty:  # an empty window: validated once, as a frame with the table's columns
            break
    # one chunk's cases as they were; several chunks' renumbered (each chunk's failure cases count from 0)
    joined = {d: pd.concat(cases, ignore_index=True) if len(cases) > 1 else cases[0] for d, cases in found.items() if cases}
    return {d: joined.get(d, pd.DataFrame(columns=["index"])) for d in days}


def _rows_by_day(con, table: RawTable, start: date, end: date) -> dict[date, int]:
    return dict(
        con.execute(
            f"select {table.partition_column}, count(*) from {table.qualified_name} "
            f"where {table.partition_column} between ? and ? group by 1",
            [start, end],
        ).fetchall()
    )


def _duplicates_by_day(con, table: RawTable, start: date, end: date) -> dict[date, list[tuple]]:
    """Per day, the natural keys among its rows stored more than once in ``start..end`` (a key repeated across
    two days of the window counts on both days; one-day runs look at their day alone)."""
    keys = ", ".join(table.key)
    rows = con.execute(
        f"""with counted as (
              select {table.partition_column} as day, {keys}, count(*) over (partition by {keys}) as n
              from {table.qualified_name} where {table.partition_column} between ? and ?)
            select distinct day, {keys} from counted where n > 1 order by day, {keys}""",
        [start, end],
    ).fetchall()
    out: dict[date, list[tuple]] = {}
    for day, *key in rows:
        out.setdefault(day, []).append(tuple(key))
    return out


def _quarantined_by_day(con, table: RawTable, start: date, end: date) -> dict[date, int]:
    return dict(
        con.execute(
            f"select partition_date, count(*) from {RAW_SCHEMA}.{QUARANTINE_TABLE} "
            "where source_table = ? and partition_date between ? and ? group by 1",
            [table.name, start, end],
        ).fetchall()
    )


def _targets(
    context: dg.AssetExecutionContext, key: dg.AssetKey, days: list[date]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """Each day's latest materialization (this run's, yielded before its checks): the evaluation points at it,
    so the UI shows the check as current for the partition rather than clearing it."""
    partitions = [d.isoformat() for d in days]
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=partitions), limit=len(partitions)
    ).records
    found: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
    for record in records:  # newest first: a day's first record is its latest
        if record.partition_key and record.partition_key not in found:
            found[record.partition_key] = _target(record.storage_id, record.run_id, record.timestamp)
    return found


# Dagster records (``dagster_shared.record``) compile their constructor on its first call with the caller's
# locals and globals in its namespace, kept for the life of the process. So the two records below are built in
# these small frames, which hold plain values only: built in the loops, the first call kept the step's context,
# the day's stored rows and the warehouse connection alive until exit (where nanobind reported the connection).


def _target(storage_id: int, run_id: str, timestamp: float) -> AssetCheckEvaluationTargetMaterializationData:
    return AssetCheckEvaluationTargetMaterializationData(storage_id=storage_id, run_id=run_id, timestamp=timestamp)


def _evaluation(
    key: dg.AssetKey,
    spec: dg.AssetCheckSpec,
    day: date,
    passed: bool,
    metadata: dict,
    description: str | None,
    target: AssetCheckEvaluationTargetMaterializationData | None,
) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=key,
        check_name=spec.name,
        passed=passed,
        partition=day.isoformat(),
        metadata={"partition": day.isoformat(), **metadata},
        severity=dg.AssetCheckSeverity.ERROR if spec.blocking else dg.AssetCheckSeverity.WARN,
        blocking=spec.blocking,
        description=description,
        target_materialization_data=target,
    )


def check_results(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    table: RawTable,
    days: list[date],
    chunk_rows: int = 200_000,
) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
    """One evaluation of each selected data check per day of ``days`` (the run's partitions), on that day's
    stored rows and with that day's figures, recorded on that partition. A range run (a backfill, the demo)
    has no partition of its own for an ``AssetCheckResult`` to take, so the evaluations are yielded directly;
    a failed blocking one still fails the step after every evaluation is recorded, and nothing downstream
    runs. Then one output per check, which the steps that wait on the blocking checks depend on. The stored rows
    are read ``chunk_rows`` at a time for the row rules; the key and the counts are DuckDB's (set-based SQL)."""
    key = dg.AssetKey(table.name)
    specs = {s.name: s for s in check_specs_for(table) if s.name in DATA_CHECKS}
    selected = [name for name in specs if dg.AssetCheckKey(key, name) in context.selected_asset_check_keys]
    if not selected:
        return
    start, end = days[0], days[-1]
    with warehouse.connect() as con:
        failures = {}
        if "rows_match_schema" in selected:
            failures = _schema_failures_streamed(con, table, start, end, days, chunk_rows)
        duplicates = _duplicates_by_day(con, table, start, end) if "natural_key_is_unique" in selected else {}
        quarantined = _quarantined_by_day(con, table, start, end)
        rows = _rows_by_day(con, table, start, end)
    targets = _targets(context, key, days)
    for day in days:
        figures = {"partition_rows": int(rows.get(day, 0))}
        outcomes: dict[str, tuple[bool, dict, str | None]] = {}
        if "rows_match_schema" in selected:
            cases = failures[day]
            sample = {"sample": dg.MetadataValue.md(cases.head(10).to_markdown())} if len(cases) else {}
            outcomes["rows_match_schema"] = (
                cases.empty,
                {"rows_checked": figures["partition_rows"], "failures": len(cases), **sample},
                None if cases.empty else f"{day}: {len(cases)} failure(s) of the pandera row rules",
            )
        if "natural_key_is_unique" in selected:
            dupes = duplicates.get(day, [])
            keys = [list(map(str, k)) for k in dupes[:10]]
            sample = {"duplicated_keys": dg.MetadataValue.json(keys)} if dupes else {}
            outcomes["natural_key_is_unique"] = (
                not dupes,
                {**figures, "duplicate_keys": len(dupes), **sample},
                None if not dupes else f"{day}: {len(dupes)} {table.key} stored more than once",
            )
        if "quarantine_share_is_low" in selected:
            held = int(quarantined.get(day, 0))
            share = held / max(figures["partition_rows"] + held, 1)
            outcomes["quarantine_share_is_low"] = (
                share <= MAX_QUARANTINE_SHARE,
                {**figures, "quarantined": held, "quarantine_share": round(float(share), 4)},
                None if share <= MAX_QUARANTINE_SHARE else f"{day}: {share:.1%} of the records were quarantined",
            )
        for name, (passed, metadata, description) in outcomes.items():
            yield _evaluation(key, specs[name], day, passed, metadata, description, targets.get(day.isoformat()))
    for name in selected:
        check_key = dg.AssetCheckKey(key, name)
        yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(check_key))
