"""Raw assets: one table per source entity, one partition per day, validated on the way in.

One multi-asset fetches each day once for every entity (a platform poll returns them together) and
can be subset to any of them. Re-materializing a partition replaces exactly that day, quarantine
included, so reruns and backfills never duplicate or lose a row.

A platform with credentials is read through its connector (``analytics_assets/connectors``) instead of
the simulator: ad platforms re-read their restatement window and replace only their own rows of it,
social polls append snapshots to the day they are taken. A connector that fails fails the run after
everything fetched so far is committed, so the rerun resumes where it stopped.

The source mode (``CYCLE_SOURCE_MODE``, carried by ``SimulatorResource.source_mode``) decides what serves the
rest. ``simulator`` (the embedded default): the simulator fills every platform without a connector and every
entity no connector serves. ``live``: nothing is simulated (the resource itself refuses); each run clears its
days of every entity without a configured source, so a deployment switched from the demo keeps no invented
row in the partitions it reloads, and the ``source_is_configured`` check says what to configure. Journeys, AI
usage and experiments arrive live as tracked events (``defs/ingest/tracked_events.py``, ``raw_tracked_*``).
Each materialization reports every platform's source.
"""


from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pandas as pd

from analytics_assets.defs.ingest.connector_resources import (
    GoogleAdsResource,
    LinkedInAdsResource,
    LinkedInResource,
    MetaAdsResource,
    PlatformResource,
    RedditResource,
    TikTokResource,
    XResource,
)
from analytics_assets.defs.ingest.connector_sync import AD_ENTITY_BY_TABLE, PlatformReport, poll_social, sync_ad_entities
from analytics_assets.sources.parsing.loader import LoadBatch, parse_day, parse_entity
from analytics_assets.sources.parsing.parsers import meta_conversion_action_types
from analytics_assets.contracts.events import TRACKED_TABLES
from analytics_assets.contracts.raw import (
    AD_CAMPAIGN_METRICS,
    AD_CREATIVE_METRICS,
    AD_PLATFORMS,
    AI_GENERATIONS,
    BOOSTS,
    EXPERIMENT_OBSERVATIONS,
    ORGANIC_PLATFORMS,
    QUARANTINE_TABLE,
    RAW_SCHEMA,
    RAW_TABLES,
    SOCIAL_POST_SNAPSHOTS,
    TOUCHPOINTS,
    RawTable,
)
from analytics_assets.defs.ingest.raw_checks import (
    check_results,
    check_specs_for,
    missing_source_reason,
    source_check_result,
)
from analytics_assets.defs.partitions import WAREHOUSE_POOL, daily_partitions, partition_days
from analytics_assets.defs.resources import SimulatorResource, WarehouseResource
from analytics_assets.storage.connector_state import REGISTRY, ensure_state_tables
from analytics_assets.storage.tracked_events import qualified as tracked_table
from analytics_assets.storage.warehouse import (
    ensure_raw_tables,
    replace_partitions,
    replace_partitions_streamed,
    replace_platform_days,
    replace_platform_days_streamed,
    transaction,
)
from analytics_assets.settings import load_settings


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



def _simulated_only(table: RawTable, batch: LoadBatch, connected: list[str]) -> LoadBatch:
    """The simulator's rows of the platforms without a connector (a connector's rows are its own to write)."""
    rows = batch.rows[~batch.rows[table.platform_column].isin(connected)] if len(batch.rows) else batch.rows
    quarantine = batch.quarantine[~batch.quarantine["platform"].isin(connected)] if len(batch.quarantine) else batch.quarantine
    return LoadBatch(table, rows, quarantine)


def _store_simulated(
    con, table: RawTable, batches: Iterable[LoadBatch], connected: list[str], day: date, tally: "RawLoadTally"
) -> int:
    """Replace ``day`` of ``table`` with ``batches``, in one transaction; with ``connected`` platforms, only the
    other platforms' rows, leaving the connectors'. A list is written at once; any other iterable is streamed
    (the day's pieces, each computed only when it is written). Each batch is counted in ``tally`` as it is
    written. Returns the rows written."""
    written = 0

    def chunks() -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
        nonlocal written
        for batch in batches:
            if connected:
                batch = _simulated_only(table, batch, connected)
            tally.add_batch(batch, stream=day)
            written += len(batch.rows)
            yield batch.rows, batch.quarantine

    simulated = [p for p in CONNECTABLE.get(table.name, ()) if p not in connected]
    if isinstance(batches, list):  # whole: through the writers every other load uses
        for rows, quarantine in chunks():
            if connected:
                replace_platform_days(con, table, simulated, rows, quarantine, [day])
            else:
                replace_partitions(con, table, rows, quarantine, day, day)
    elif connected:
        replace_platform_days_streamed(con, table, simulated, chunks(), [day])
    else:
        replace_partitions_streamed(con, table, chunks(), day, day)
    return written


def _meta_conversion_types() -> tuple[str, ...]:
    """The deployment's Meta conversion action types, in priority order, checked against Meta's vocabulary:
    an unknown type stops the run before anything is read (it would count no conversion without a word)."""
    return meta_conversion_action_types(load_settings().meta_conversion_action_types)


def _sync_connectors(
    context: dg.AssetExecutionContext,
    con,
    tables: list[RawTable],
    connectors: dict[str, PlatformResource],
    days: list[date],
    meta_conversion_types: tuple[str, ...],
) -> dict[tuple[str, str], PlatformReport]:
    """Reports by (platform, table). Ads: re-read the restatement window and the run's unfinished days of
    each selected entity the platform serves. Social: poll the due posts, only when the run reaches the
    latest partition (a live API cannot give a past day's snapshots)."""
    names = {t.name for t in tables}
    reports: dict[tuple[str, str], PlatformReport] = {}
    for platform, resource in connectors.items():
        if platform in AD_PLATFORMS:
            served = [n for n in AD_ENTITY_BY_TABLE if n in names and platform in CONNECTABLE[n]]
            for report in sync_ad_entities(con, resource, days, context.log, served, meta_conversion_types):
                reports[(platform, report.table)] = report
        elif platform in ORGANIC_PLATFORMS and SOCIAL_POST_SNAPSHOTS.name in names:
            if days[-1] >= resource.now().date() - timedelta(days=1):
                reports[(platform, SOCIAL_POST_SNAPSHOTS.name)] = poll_social(con, resource, context.log)
            else:
                context.log.info(f"{platform}: window ends {days[-1]}; past snapshots cannot be polled, nothing to do")
    return reports


# the tables a connector can serve, and through which platforms (the other tables come from the simulator):
# boosts through LinkedIn Ads (of organic posts Cycle tracks) and Meta (of Facebook and Instagram posts, which it
# does not: their paid side only)
CONNECTABLE = {
    SOCIAL_POST_SNAPSHOTS.name: ORGANIC_PLATFORMS,
    **{name: entity.platforms for name, entity in AD_ENTITY_BY_TABLE.items()},
}


def _report_label(platform: str, table: str) -> str:
    """A report's name in a failure's metadata: the platform for its first entity, as before ad levels and boosts."""
    return platform if table in (SOCIAL_POST_SNAPSHOTS.name, AD_CAMPAIGN_METRICS.name) else f"{platform}.{table}"


def _connected(table: RawTable, connectors: dict[str, PlatformResource]) -> list[str]:
    return [p for p in CONNECTABLE.get(table.name, ()) if p in connectors]


# the platforms each table holds rows of (boosts: the ad platform that delivered them); "all": not per platform
_PLATFORMS = {
    SOCIAL_POST_SNAPSHOTS.name: ORGANIC_PLATFORMS,
    AD_CAMPAIGN_METRICS.name: AD_PLATFORMS,
    AD_CREATIVE_METRICS.name: AD_PLATFORMS,
    BOOSTS.name: AD_PLATFORMS,
    AI_GENERATIONS.name: ORGANIC_PLATFORMS,
    TOUCHPOINTS.name: ("all",),
    EXPERIMENT_OBSERVATIONS.name: ("all",),
}

# entities whose live rows arrive as tracked events (POST /v1/events, the landing folder) in their own table
TRACKED_SOURCES = {t.raw.name: tracked_table(t) for t in TRACKED_TABLES}

CONNECTOR, SIMULATOR, TRACKED, NO_SOURCE = "connector", "simulator", "tracked_events", "none"


def table_sources(table: RawTable, connectors: dict[str, PlatformResource], live: bool) -> dict[str, list[str]]:
    """Each platform of ``table`` by its source in this run: connector, simulator, tracked_events or none."""
    out: dict[str, list[str]] = {}
    for platform in _PLATFORMS[table.name]:
        if platform in _connected(table, connectors):
            kind = CONNECTOR
        elif not live:
            kind = SIMULATOR
        else:
            kind = TRACKED if table.name in TRACKED_SOURCES else NO_SOURCE
        out.setdefault(kind, []).append(platform)
    return out


def _source_reason(table: RawTable, sources: dict[str, list[str]]) -> str | None:
    unsourced = sources.get(NO_SOURCE, [])
    return missing_source_reason(table, unsourced, CONNECTABLE.get(table.name, ())) if unsourced else None


class RawLoadTally:
    """What one run loaded per raw table, from the simulator and the connectors: the assets' metadata."""

    def __init__(self, tables: list[RawTable], days: list[date]):
        self.days = days
        self.loaded: Counter[str] = Counter()
        self.quarantined: Counter[str] = Counter()
        self.per_platform: dict[str, Counter[str]] = {t.name: Counter() for t in tables}
        self.reasons: dict[str, Counter[str]] = {t.name: Counter() for t in tables}
        self.previews: dict[str, pd.DataFrame] = {}
        self._preview_stream: dict[str, object] = {}
        self.windows = {t.name: (days[0], days[-1]) for t in tables}

    def add_batch(self, batch: LoadBatch, stream: object = None) -> None:
        """Count ``batch``. A load that comes in pieces names its ``stream`` (its day): its pieces make one preview,
        the first rows of the whole load, as if it had come in one batch."""
        name = batch.table.name
        self.loaded[name] += len(batch.rows)
        self.quarantined[name] += batch.quarantined
        if batch.table.platform_column in batch.rows:
            self.per_platform[name].update(batch.rows[batch.table.platform_column].value_counts().to_dict())
        if len(batch.quarantine):
            self.reasons[name].update(batch.quarantine["reason"].str.split(":").str[0].value_counts().to_dict())
        preview = self.previews.get(name)
        if preview is None:
            self.previews[name] = batch.rows.head(5)
            self._preview_stream[name] = stream
        elif stream is not None and self._preview_stream.get(name) == stream and len(preview) < 5 and len(batch.rows):
            more = batch.rows.head(5 - len(preview))
            self.previews[name] = pd.concat([preview, more], ignore_index=True) if len(preview) else more

    def add_report(self, report: PlatformReport) -> None:
        name = report.table
        self.loaded[name] += report.rows
        self.quarantined[name] += report.quarantined
        self.per_platform[name][report.platform] += report.rows
        if report.preview is not None and len(report.preview):
            self.previews.setdefault(name, report.preview)
        if "polled_at" in report.details:  # snapshots land on the day they were taken
            polled_day = date.fromisoformat(report.details["polled_at"][:10])
            self.windows[name] = (self.windows[name][0], max(self.windows[name][1], polled_day))

    def metadata(
        self,
        table: RawTable,
        reports: dict[tuple[str, str], PlatformReport],
        connectors: dict[str, PlatformResource],
        live: bool,
    ) -> dict[str, object]:
        name = table.name
        sources = table_sources(table, connectors, live)
        table_reports = {p: r.metadata() for (p, t), r in reports.items() if t == name}
        connected = (
            {"connectors": dg.MetadataValue.json(table_reports), "simulated_platforms": sources.get(SIMULATOR, [])}
            if table_reports
            else {}
        )
        tracked = {"live_source": TRACKED_SOURCES[name]} if name in TRACKED_SOURCES else {}
        if name == BOOSTS.name:
            # boosted posts an ad platform reported whose organic side Cycle cannot measure (Meta: Facebook page
            # posts and Instagram media, which it does not track), seen while reading that platform's ads
            untracked = {p: r.details["untracked_boosted_posts"] for (p, _), r in reports.items()
                         if "untracked_boosted_posts" in r.details}
            tracked = {**tracked, **({"untracked_boosted_posts": dg.MetadataValue.json(untracked)} if untracked else {})}
        preview = self.previews.get(name)
        return {
            "rows_loaded_in_run": self.loaded[name],  # every day the run loaded, restated days included
            "quarantined_records": self.quarantined[name],
            "days_in_run": len(self.days),
            "rows_by_platform": dict(self.per_platform[name]) or None,
            "quarantine_reasons": dict(self.reasons[name].most_common(10)) or None,
            "quarantine_table": f"{RAW_SCHEMA}.{QUARANTINE_TABLE}",
            "preview": dg.MetadataValue.md(preview.to_markdown(index=False)) if preview is not None else None,
            "source_mode": "live" if live else "simulator",
            "sources": dg.MetadataValue.json(sources),
            **tracked,
            **connected,
        }


# what the first piece of a streamed day holds: every entity but the social snapshots, which come in chunks
_WHOLE = tuple(name for name in RAW_TABLES if name != SOCIAL_POST_SNAPSHOTS.name)


def _load_simulated(
    context: dg.AssetExecutionContext,
    con,
    simulator: SimulatorResource,
    tables: list[RawTable],
    connectors: dict[str, PlatformResource],
    days: list[date],
    tally: RawLoadTally,
    meta_conversion_types: tuple[str, ...],
) -> None:
    """Simulate, parse and store each day of every selected table the connectors do not serve entirely; of a
    table they serve in part, only the platforms without a connector.

    A day streams through (``PlatformSimulator.day_chunks``): the other entities come whole (thousands of rows at
    50,000 posts a day), the social snapshots (2.2 million rows at that volume) in slices of whole posts of at most
    ``simulator.raw_chunk_rows`` rows, each simulated, parsed, validated and inserted in turn inside the one
    transaction that replaces the day, so memory follows the chunk size (and DuckDB's ``memory_limit``, which
    bounds what it buffers of the transaction) rather than the day's volume."""
    simulated = [
        t for t in tables if t.name not in CONNECTABLE or len(_connected(t, connectors)) < len(CONNECTABLE[t.name])
    ]
    if not simulated:  # nothing to simulate when connectors serve every table
        return
    sim = simulator.simulator()
    social_connected = _connected(SOCIAL_POST_SNAPSHOTS, connectors)
    social_platforms = [p for p in ORGANIC_PLATFORMS if p not in social_connected]
    for day in days:
        now = datetime.now(timezone.utc).replace(tzinfo=None)  # one load time for every piece of the day
        pieces = sim.day_chunks(day, simulator.raw_chunk_rows, platforms=social_platforms)
        whole = next(pieces)  # every entity but the social snapshots
        batches = parse_day(whole, meta_conversion_types, _WHOLE, now)
        del whole
        written = {}
        for table in simulated:
            if table is SOCIAL_POST_SNAPSHOTS:
                parts = (parse_entity(p, table.name, meta_conversion_types, now) for p in pieces)
            else:
                parts = [batches.pop(table.name)]
            written[table.name] = _store_simulated(con, table, parts, _connected(table, connectors), day, tally)
        context.log.info(f"{day}: " + ", ".join(f"{t.name}={written[t.name]}" for t in simulated))


def _clear_unsourced(
    context: dg.AssetExecutionContext,
    con,
    tables: list[RawTable],
    connectors: dict[str, PlatformResource],
    days: list[date],
) -> None:
    """Live mode: empty the run's days of everything no connector serves, quarantine included, so a day
    loaded by the simulator before the switch keeps none of its invented rows. A connected ad platform
    re-reads those days itself; of a connected social platform, snapshots of posts its connector never
    discovered (raw_post_registry) are the simulator's, and go."""
    empty = pd.DataFrame()
    for table in tables:
        # every platform of the table no connector serves (of boosts: also the ones no connector can serve)
        absent = [p for p in _PLATFORMS[table.name] if p not in _connected(table, connectors)]
        if table.name not in CONNECTABLE:
            replace_partitions(con, table, empty, empty, days[0], days[-1])
        elif absent:
            replace_platform_days(con, table, absent, empty, empty, days)
        if table is SOCIAL_POST_SNAPSHOTS and (connected := _connected(table, connectors)):
            ensure_state_tables(con)
            ensure_raw_tables(con, [table])  # a new warehouse whose every social platform is connected
            with transaction(con):
                con.execute(
                    f"""delete from {table.qualified_name} s
                        where s.platform in (select unnest(?::varchar[]))
                          and s.partition_date in (select unnest(?::date[]))
                          and not exists (select 1 from {REGISTRY} r where r.platform = s.platform and r.post_id = s.post_id)""",
                    [connected, days],
                )
        cleared = "every row" if table.name not in CONNECTABLE else ", ".join(absent) or "no platform"
        context.log.info(f"{table.name}: live mode, {days[0]}..{days[-1]} cleared of {cleared} (nothing simulated)")


def stored_by_partition(con, table: RawTable, start: date, end: date) -> dict[date, tuple[int, int]]:
    """Rows stored and records quarantined per partition of ``start..end``: what each day holds after the run
    (a run may also reload days before its window: the restatement lookback of the ad platforms)."""
    rows = con.execute(
        f"select {table.partition_column}, count(*) from {table.qualified_name} "
        f"where {table.partition_column} between ? and ? group by 1",
        [start, end],
    ).fetchall()
    quarantined = dict(
        con.execute(
            f"select partition_date, count(*) from {RAW_SCHEMA}.{QUARANTINE_TABLE} "
            "where source_table = ? and partition_date between ? and ? group by 1",
            [table.name, start, end],
        ).fetchall()
    )
    days = {d for d, _ in rows} | set(quarantined)
    counts = dict(rows)
    return {d: (int(counts.get(d, 0)), int(quarantined.get(d, 0))) for d in days}


def partition_counts(stored: dict[date, tuple[int, int]], days: list[date]) -> dict[str, object]:
    """The materialization's row count: Dagster records one run's metadata on every partition of the run, so
    ``dagster/row_count`` is the partition's own only for a one-day run. A run over several days reports its
    totals under names that say so, and each day's count in an observation of that partition."""
    if len(days) == 1:
        rows, quarantined = stored.get(days[0], (0, 0))
        return {"dagster/row_count": rows, "partition_quarantined_records": quarantined}
    return {
        "rows_stored_in_run": sum(r for r, _ in stored.values()),
        "rows_by_partition": dg.MetadataValue.json({d.isoformat(): stored.get(d, (0, 0))[0] for d in days}),
    }


@dg.multi_asset(
    name="raw_platform_data",
    specs=RAW_ASSET_SPECS,
    check_specs=[c for t in RAW_TABLES.values() for c in check_specs_for(t)],
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
    with credentials is read through its connector; the simulator serves every other one, in simulator
    mode only: in live mode the rest stays empty and ``source_is_configured`` warns."""
    selected = {k.to_user_string() for k in context.selected_asset_keys}
    tables = [t for name, t in RAW_TABLES.items() if name in selected]
    days = partition_days(context)
    platforms = [linkedin, x, reddit, tiktok, google_ads, meta_ads, linkedin_ads]
    connectors: dict[str, PlatformResource] = {r.platform: r for r in platforms if r.is_configured}
    tally = RawLoadTally(tables, days)
    live = simulator.is_live
    meta_conversion_types = _meta_conversion_types()  # once, before anything is read
    with warehouse.connect() as con:
        if live:  # never touches the simulator (which would refuse anyway)
            _clear_unsourced(context, con, tables, connectors, days)
        else:
            _load_simulated(context, con, simulator, tables, connectors, days, tally, meta_conversion_types)
        reports = _sync_connectors(context, con, tables, connectors, days, meta_conversion_types)
    for report in reports.values():
        tally.add_report(report)
    failed = {k: r.error for k, r in reports.items() if r.error}
    if failed:
        # what was fetched is committed (and in the ledger); the rerun resumes from there
        raise dg.Failure(
            description="Platform connectors failed: " + "; ".join(dict.fromkeys(failed.values())),
            metadata={_report_label(p, t): dg.MetadataValue.json(r.metadata()) for (p, t), r in reports.items()},
        )
    with warehouse.connect() as con:
        stored = {table.name: stored_by_partition(con, table, days[0], days[-1]) for table in tables}
    for table in tables:
        metadata = tally.metadata(table, reports, connectors, live) | partition_counts(stored[table.name], days)
        yield dg.MaterializeResult(asset_key=table.name, metadata=metadata)
        if len(days) > 1:  # one run over several partitions: each partition's own figures, beside the run's
            for day in days:
                rows, quarantined = stored[table.name].get(day, (0, 0))
                yield dg.AssetObservation(
                    asset_key=table.name,
                    partition=day.isoformat(),
                    metadata={"dagster/row_count": rows, "quarantined_records": quarantined},
                )
        # each day of the run, and the day the run's polled snapshots landed on: one evaluation per day and check
        start, end = tally.windows[table.name]
        yield from check_results(
            context,
            warehouse,
            table,
            [start + timedelta(days=k) for k in range((end - start).days + 1)],
            simulator.raw_chunk_rows,
        )
        sources = table_sources(table, connectors, live)
        yield from source_check_result(
            context, table, "live" if live else "simulator", sources, _source_reason(table, sources)
        )
