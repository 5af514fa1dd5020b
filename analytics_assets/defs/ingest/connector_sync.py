"""Bring the warehouse in line with a platform: what to fetch, and writing it so reruns converge.

Ads: each run re-reads the restatement lookback (the platform still revises those days) plus every day
of the run's window not yet fetched as final, in chunks; each chunk replaces that platform's rows of its
days and records them in the fetch ledger in one transaction. An interrupted backfill therefore resumes
at the first chunk it had not committed, and never spends API calls again on final days.

Social: polls append snapshots keyed (platform, post_id, snapshot_at), so the history of each post's
counters by age is kept. The post registry says which posts are due: every 2 hours in their first 48
hours, every 6 hours after, until the tracking horizon; a post the platform reports deleted is never
polled again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import duckdb
import pandas as pd

from analytics_assets.sources.connectors.errors import ConnectorError
from analytics_assets.defs.ingest.connector_resources import AdPlatformResource, SocialPlatformResource
from analytics_assets.sources.parsing.parsers import (
    AD_MAPPINGS,
    META_CONVERSION_ACTION_TYPES,
    SOCIAL_MAPPINGS,
    PlatformMapping,
    ad_mappings,
    parse_records,
)
from analytics_assets.contracts.raw import AD_CAMPAIGN_METRICS, SOCIAL_POST_SNAPSHOTS
from analytics_assets.defs.partitions import daily_partitions
from analytics_assets.storage import connector_state
from analytics_assets.storage.connector_state import ensure_state_tables, ledger_days, mark_polled, register_posts, write_ledger
from analytics_assets.storage.warehouse import replace_platform_days, upsert_rows

AD_ENTITY = "ad_campaigns"
POLL_BATCH = 100  # posts polled and committed together
FIRST_DAY = date.fromisoformat(daily_partitions.get_first_partition_key())


def _wall_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class PlatformReport:
    platform: str
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
    con: duckdb.DuckDBPyConnection, resource: AdPlatformResource, run_days: list[date], today: date
) -> tuple[list[date], list[date]]:
    """(days to fetch, days of the run skipped because the ledger has them final). Fetched: the restatement
    lookback before ``today``, the run's days not yet final, and provisional days that have settled."""
    lookback = timedelta(days=resource.lookback_days)
    candidates = [d for d in _days(min(run_days) - lookback, max(run_days)) if FIRST_DAY <= d <= today]
    final = ledger_days(con, resource.platform, AD_ENTITY, "final")
    # days fetched while still restating that have since left the lookback: one last read gets their
    # final numbers, even if no daily run happened while they were in the window
    settled = ledger_days(con, resource.platform, AD_ENTITY, "provisional", before=today - lookback)
    in_run = set(run_days)
    fetch = sorted(
        {d for d in candidates if resource.force_refetch or d >= today - lookback or (d in in_run and d not in final)}
        | settled
    )
    skipped = [d for d in sorted(in_run) if d not in set(fetch)]
    return fetch, skipped


def _ad_day_of(native: pd.DataFrame, platform: str) -> pd.Series:
    """The day each native record describes, where it can be read (the rest: the chunk's last day)."""
    mapping = AD_MAPPINGS[platform]
    frame = mapping.derive(native) if mapping.derive is not None and len(native) else native
    source = mapping.fields["metric_date"].source
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
    platform = resource.platform
    mapping = ad_mappings(meta_conversion_types)[platform]  # validated before anything is fetched
    report = PlatformReport(platform)
    ensure_state_tables(con)
    now = resource.now()
    today = now.date()
    fetch, skipped = ad_fetch_plan(con, resource, run_days, today)
    report.details.update(
        {
            "lookback_days": resource.lookback_days,
            "days_fetched": len(fetch),
            "days_skipped_final": len(skipped),
            "fetched_window": f"{fetch[0]}..{fetch[-1]}" if fetch else None,
        }
    )
    if not fetch:
        return report
    client = resource.client()
    try:
        for window in _ranges(fetch, resource.backfill_chunk_days):
            before = client.http.stats.requests
            try:
                native = client.fetch_range(window[0], window[-1])
            except ConnectorError as exc:
                report.error = str(exc)
                log.warning(f"{platform}: stopped at {window[0]}..{window[-1]}: {exc}")
                break
            requests = client.http.stats.requests - before
            rows, quarantine = _parse_ad_window(native, platform, window, mapping)
            report.rows += len(rows)
            report.quarantined += len(quarantine)
            if report.preview is None and len(rows):
                report.preview = rows.head(5)
            ledger = pd.DataFrame(
                {
                    "platform": platform,
                    "entity": AD_ENTITY,
                    "day": window,
                    "status": ["final" if d < today - timedelta(days=resource.lookback_days) else "provisional" for d in window],
                    "requests": requests,
                    "rows": [int((rows["metric_date"] == d).sum()) if len(rows) else 0 for d in window],
                    "quarantined": [int((quarantine["partition_date"] == d).sum()) if len(quarantine) else 0 for d in window],
                    "window_start": window[0],
                    "window_end": window[-1],
                    "completed_at": now,
                }
            )

            replace_platform_days(
                con, AD_CAMPAIGN_METRICS, [platform], rows, quarantine, window, also=lambda c, l=ledger: write_ledger(c, l)
            )
            log.info(f"{platform}: {window[0]}..{window[-1]} replaced: {len(rows)} rows, {len(quarantine)} quarantined, {requests} requests")
    finally:
        client.close()
        report.http = client.http.metadata()
    return report


def _parse_ad_window(
    native: pd.DataFrame, platform: str, window: list[date], mapping: PlatformMapping | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical rows by day (partition = metric day) and quarantine. One parse for the whole window; a
    record dated outside the requested days is quarantined rather than written into a partition this
    fetch does not own, and a quarantined record is filed under the day it describes where readable."""
    loaded_at = _wall_now()
    parsed = parse_records(native, mapping or AD_MAPPINGS[platform], days=window) if len(native) else None
    rows = parsed.rows if parsed is not None else pd.DataFrame(columns=list(AD_CAMPAIGN_METRICS.columns))
    quarantine = parsed.quarantine if parsed is not None else pd.DataFrame()
    # the same campaign-day twice (a page shifted under offset paging) must not become two rows
    rows = rows.drop_duplicates(list(AD_CAMPAIGN_METRICS.key), keep="last").reset_index(drop=True)
    rows = rows.assign(partition_date=rows["metric_date"], loaded_at=loaded_at)
    if len(quarantine):
        payloads = pd.DataFrame([json.loads(p) for p in quarantine["payload"]])
        days = _ad_day_of(payloads, platform) if len(payloads.columns) else pd.Series([None] * len(quarantine))
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
