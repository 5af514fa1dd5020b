"""Bring the warehouse in line with a platform: what to fetch, and writing it so reruns converge.

Ads: each run re-reads the restatement lookback (the platform still revises those days) plus every day
of the run's window not yet fetched as final, in chunks; each chunk replaces that platform's rows of its
days and records them in the fetch ledger in one transaction. An interrupted backfill therefore resumes
at the first chunk it had not committed, and never spends API calls again on final days. An ad platform
serves up to three entities (``AD_ENTITIES``: campaign days, ad days, boosted posts' days), each with its
own table, ledger entity, mapping and client method, and the same lookback; a run fetches those selected.

Social: polls append snapshots keyed (platform, post_id, snapshot_at), so the history of each post's
counters by age is kept. The post registry says which posts are due: every 2 hours in their first 48
hours, every 6 hours after, until the tracking horizon; a post the platform reports deleted is never
polled again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import duckdb
import pandas as pd

from analytics_assets.sources.connectors.errors import ConnectorError
from analytics_assets.defs.ingest.connector_resources import AdPlatformResource, SocialPlatformResource
from analytics_assets.sources.parsing.parsers import (
    AD_MAPPINGS,
    BOOST_MAPPINGS,
    CREATIVE_MAPPINGS,
    META_CONVERSION_ACTION_TYPES,
    SOCIAL_MAPPINGS,
    PlatformMapping,
    ad_mappings,
    boost_mappings,
    creative_mappings,
    parse_records,
)
from analytics_assets.contracts.raw import (
    AD_CAMPAIGN_METRICS,
    AD_CREATIVE_METRICS,
    AD_PLATFORMS,
    BOOSTS,
    SOCIAL_POST_SNAPSHOTS,
    RawTable,
)
from analytics_assets.defs.partitions import daily_partitions
from analytics_assets.storage import connector_state
from analytics_assets.storage.connector_state import ensure_state_tables, ledger_days, mark_polled, register_posts, write_ledger
from analytics_assets.storage.warehouse import replace_platform_days, upsert_rows

AD_ENTITY = "ad_campaigns"


@dataclass(frozen=True)
class AdEntity:
    """One report an ad platform serves: where it lands, how the ledger names it, how it is parsed."""

    ledger: str  # the fetch ledger's entity
    table: RawTable
    fetch: str  # the AdsClient method reading it for a date range
    mappings: Callable[[Sequence[str]], dict[str, PlatformMapping]]  # by platform, given Meta's conversion types
    platforms: tuple[str, ...]


AD_ENTITIES = (
    AdEntity(AD_ENTITY, AD_CAMPAIGN_METRICS, "fetch_range", ad_mappings, AD_PLATFORMS),
    AdEntity("ad_creatives", AD_CREATIVE_METRICS, "fetch_creatives", creative_mappings, tuple(CREATIVE_MAPPINGS)),
    AdEntity("boosts", BOOSTS, "fetch_boosts", boost_mappings, tuple(BOOST_MAPPINGS)),
)
AD_ENTITY_BY_TABLE = {e.table.name: e for e in AD_ENTITIES}
POLL_BATCH = 100  # posts polled and committed together
FIRST_DAY = date.fromisoformat(daily_partitions.get_first_partition_key())


def _wall_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class PlatformReport:
    platform: str
    table: str = SOCIAL_POST_SNAPSHOTS.name  # the raw table it filled
    rows: int = 0
    quarantined: int = 0
    error: str | None = None
    http: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    preview: pd.DataFrame | None = None  # a few loaded rows, for the asset's metadata

    def metadata(self) -> dict[str, Any]:
        return {"rows": self.rows, "quarantined": self.quarantined, **self.details, **self.http, "error": self.error}


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=k) for k in range((end - start).days + 1)]


def _ranges(days: list[date], chunk_days: int) -> list[list[date]]:
    """Contiguous runs of ``days``, each cut into pieces of at most ``chunk_days``."""
    out: list[list[date]] = []
    for d in sorted(days):
        if out and (d - out[-1][-1]).days == 1 and len(out[-1]) < chunk_days:
            out[-1].append(d)
        else:
            out.append([d])
    return out


def ad_fetch_plan(
    con: duckdb.DuckDBPyConnection,
    resource: AdPlatformResource,
    run_days: list[date],
    today: date,
    entity: str = AD_ENTITY,
) -> tuple[list[date], list[date]]:
    """(days to fetch, days of the run skipped because the ledger has them final), for one ledger entity.
    Fetched: the restatement lookback before ``today``, the run's days not yet final, and provisional days
    that have settled."""
    lookback = timedelta(days=resource.lookback_days)
    candidates = [d for d in _days(min(run_days) - lookback, max(run_days)) if FIRST_DAY <= d <= today]
    final = ledger_days(con, resource.platform, entity, "final")
    # days fetched while still restating that have since left the lookback: one last read gets their
    # final numbers, even if no daily run happened while they were in the window
    settled = ledger_days(con, resource.platform, entity, "provisional", before=today - lookback)
    in_run = set(run_days)
    fetch = sorted(
        {d for d in candidates if resource.force_refetch or d >= today - lookback or (d in in_run and d not in final)}
        | settled
    )
    skipped = [d for d in sorted(in_run) if d not in set(fetch)]
    return fetch, skipped


def _ad_day_of(native: pd.DataFrame, mapping: PlatformMapping) -> pd.Series:
    """The day each native record describes, where it can be read (the rest: the chunk's last day)."""
    try:
        frame = mapping.derive(native) if mapping.derive is not None and len(native) else native
    except (KeyError, TypeError, ValueError):  # a payload too broken to derive from: filed under the last day
        frame = native
    source = mapping.fields[mapping.table.day_column].source
    if source not in frame.columns:
        return pd.Series([None] * len(native), index=native.index, dtype=object)
    return pd.to_datetime(frame[source], errors="coerce", format="%Y-%m-%d").dt.date


def sync_ads(
    con: duckdb.DuckDBPyConnection,
    resource: AdPlatformResource,
    run_days: list[date],
    log: Any,
    meta_conversion_types: Sequence[str] = META_CONVERSION_ACTION_TYPES,
) -> PlatformReport:
    """The campaign days of one ad platform (``sync_ad_entities`` for the others)."""
    (report,) = sync_ad_entities(con, resource, run_days, log, [AD_CAMPAIGN_METRICS.name], meta_conversion_types)
    return report


def sync_ad_entities(
    con: duckdb.DuckDBPyConnection,
    resource: AdPlatformResource,
    run_days: list[date],
    log: Any,
    tables: Sequence[str],
    meta_conversion_types: Sequence[str] = META_CONVERSION_ACTION_TYPES,
) -> list[PlatformReport]:
    """Bring the platform's entities of ``tables`` in line, one after the other through one client (its
    retries, breaker and rate limit shared): one report per entity. A connector error stops the platform
    there: what was committed stays, and the rerun resumes from the ledger."""
    platform = resource.platform
    entities = [e for e in AD_ENTITIES if e.table.name in tables and platform in e.platforms]
    # validated before anything is fetched
    mappings = {e.ledger: e.mappings(meta_conversion_types)[platform] for e in entities}
    ensure_state_tables(con)
    reports = [PlatformReport(platform, e.table.name) for e in entities]
    if not entities:
        return reports
    client = resource.client()
    try:
        for entity, report in zip(entities, reports):
            _sync_entity(con, resource, client, entity, mappings[entity.ledger], report, run_days, log)
            if report.error:
                break
    finally:
        client.close()
        http = client.http.metadata()
        details = client.entity_details()
        for entity, report in zip(entities, reports):
            report.http = http
            report.details.update(details.get(entity.ledger, {}))
    return reports


def _sync_entity(
    con: duckdb.DuckDBPyConnection,
    resource: AdPlatformResource,
    client: Any,
    entity: AdEntity,
    mapping: PlatformMapping,
    report: PlatformReport,
    run_days: list[date],
    log: Any,
) -> None:
    platform, table = resource.platform, entity.table
    now = resource.now()
    today = now.date()
    fetch, skipped = ad_fetch_plan(con, resource, run_days, today, entity.ledger)
    report.details.update(
        {
            "entity": entity.ledger,
            "lookback_days": resource.lookback_days,
            "days_fetched": len(fetch),
            "days_skipped_final": len(skipped),
            "fetched_window": f"{fetch[0]}..{fetch[-1]}" if fetch else None,
        }
    )
    for window in _ranges(fetch, resource.backfill_chunk_days):
        before = client.http.stats.requests
        try:
            native = getattr(client, entity.fetch)(window[0], window[-1])
        except ConnectorError as exc:
            report.error = str(exc)
            log.warning(f"{platform} {entity.ledger}: stopped at {window[0]}..{window[-1]}: {exc}")
            return
        requests = client.http.stats.requests - before
        rows, quarantine = _parse_ad_window(native, platform, window, mapping)
        report.rows += len(rows)
        report.quarantined += len(quarantine)
        if report.preview is None and len(rows):
            report.preview = rows.head(5)
        ledger = pd.DataFrame(
            {
                "platform": platform,
                "entity": entity.ledger,
                "day": window,
                "status": ["final" if d < today - timedelta(days=resource.lookback_days) else "provisional" for d in window],
                "requests": requests,
                "rows": [int((rows[table.day_column] == d).sum()) if len(rows) else 0 for d in window],
                "quarantined": [int((quarantine["partition_date"] == d).sum()) if len(quarantine) else 0 for d in window],
                "window_start": window[0],
                "window_end": window[-1],
                "completed_at": now,
            }
        )

        replace_platform_days(con, table, [platform], rows, quarantine, window, also=lambda c, l=ledger: write_ledger(c, l))
        log.info(
            f"{platform} {entity.ledger}: {window[0]}..{window[-1]} replaced: {len(rows)} rows, "
            f"{len(quarantine)} quarantined, {requests} requests"
        )


def _parse_ad_window(
    native: pd.DataFrame, platform: str, window: list[date], mapping: PlatformMapping | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical rows by day (partition = metric day) and quarantine. One parse for the whole window; a
    record dated outside the requested days is quarantined rather than written into a partition this
    fetch does not own, and a quarantined record is filed under the day it describes where readable."""
    loaded_at = _wall_now()
    mapping = mapping or AD_MAPPINGS[platform]
    table = mapping.table
    parsed = parse_records(native, mapping, days=window) if len(native) else None
    rows = parsed.rows if parsed is not None else pd.DataFrame(columns=list(table.columns))
    quarantine = parsed.quarantine if parsed is not None else pd.DataFrame()
    # the same campaign-day twice (a page shifted under offset paging) must not become two rows
    rows = rows.drop_duplicates(list(table.key), keep="last").reset_index(drop=True)
    rows = rows.assign(partition_date=rows[table.day_column], loaded_at=loaded_at)
    if len(quarantine):
        payloads = pd.DataFrame([json.loads(p) for p in quarantine["payload"]])
        days = _ad_day_of(payloads, mapping) if len(payloads.columns) else pd.Series([None] * len(quarantine))
        days = days.where(days.isin(window), window[-1]).reset_index(drop=True)
        quarantine = quarantine.reset_index(drop=True).assign(partition_date=days, quarantined_at=loaded_at)
    return rows, quarantine


# ------------------------------------------------------------------------------------------- social


def due_posts(con: duckdb.DuckDBPyConnection, resource: SocialPlatformResource, now: datetime) -> pd.DataFrame:
    """The platform's posts due for a poll at ``now`` under the resource's schedule."""
    slack = timedelta(minutes=resource.poll_slack_minutes)
    return connector_state.due_posts(
        con,
        resource.platform,
        published_since=now - timedelta(hours=resource.tracking_horizon_hours),
        early_since=now - timedelta(hours=resource.early_window_hours),
        early_polled_before=now - timedelta(hours=resource.early_interval_hours) + slack,
        polled_before=now - timedelta(hours=resource.interval_hours) + slack,
    )


def poll_social(con: duckdb.DuckDBPyConnection, resource: SocialPlatformResource, log: Any) -> PlatformReport:
    platform = resource.platform
    mapping = SOCIAL_MAPPINGS[platform]
    report = PlatformReport(platform)
    ensure_state_tables(con)
    now = resource.now().replace(microsecond=0)
    horizon = now - timedelta(hours=resource.tracking_horizon_hours)
    client = resource.client()
    polled = deleted = discovered = 0
    try:
        try:
            # the whole horizon every time (a page or two per account): a post missed by an earlier listing,
            # or rejected by it, is registered as soon as the platform lists it properly
            found = client.discover(horizon, now)
        except ConnectorError as exc:
            report.error = str(exc)
            return report
        posts = found.posts[found.posts["published_at"] >= horizon]
        rejected = found.rejected.assign(
            source_table=SOCIAL_POST_SNAPSHOTS.name, platform=platform, partition_date=now.date(), quarantined_at=now
        )

        def register(c: duckdb.DuckDBPyConnection) -> None:
            nonlocal discovered
            discovered = register_posts(c, platform, posts, now)

        upsert_rows(con, SOCIAL_POST_SNAPSHOTS, pd.DataFrame(), rejected, also=register)
        report.quarantined += len(rejected)
        due = due_posts(con, resource, now)
        for start in range(0, len(due), POLL_BATCH):
            batch = due.iloc[start : start + POLL_BATCH]
            try:
                poll = client.fetch_metrics(batch, now)
            except ConnectorError as exc:
                report.error = str(exc)
                log.warning(f"{platform}: poll stopped after {polled} posts: {exc}")
                break
            parsed = parse_records(poll.native, mapping)
            rows = parsed.rows.assign(partition_date=now.date(), loaded_at=_wall_now())
            quarantine = parsed.quarantine.assign(partition_date=now.date(), quarantined_at=now)
            answered = (
                sorted(set(poll.native[mapping.key_field].dropna().astype(str)) & set(batch["post_id"]))
                if mapping.key_field in poll.native
                else []
            )

            upsert_rows(
                con, SOCIAL_POST_SNAPSHOTS, rows, quarantine,
                also=lambda c, answered=answered, gone=poll.deleted: mark_polled(c, platform, now, answered, gone),
            )
            if report.preview is None and len(rows):
                report.preview = rows.head(5)
            polled += len(answered)
            deleted += len(poll.deleted)
            report.rows += len(rows)
            report.quarantined += len(quarantine)
        log.info(f"{platform}: {discovered} new posts, {polled} polled, {deleted} deleted, {report.rows} snapshots")
    finally:
        client.close()
        report.http = client.http.metadata()
        report.details.update(
            {"posts_discovered": discovered, "posts_polled": polled, "posts_deleted": deleted, "polled_at": now.isoformat()}
        )
    return report
