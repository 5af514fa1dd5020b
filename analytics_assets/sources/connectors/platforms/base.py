"""What every platform client gives the ingestion: native records, flattened the way
``pandas.json_normalize`` flattens the documented payload, so the existing parsers read them unchanged.

Social clients list an account's posts (``discover``) and look up the current counters of given posts
(``fetch_metrics``); ad clients read campaign-by-day and ad-by-day rows for a date range (``fetch_range``, ``fetch_creatives``),
and LinkedIn Ads the days of boosted organic posts (``fetch_boosts``).
Fields a client does not know are kept as columns: they reach the quarantine payload if a record is bad.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import pandas as pd

from analytics_assets.sources.connectors.http import PlatformHttpClient


@dataclass
class Discovery:
    """Posts found by listing the accounts: registrable posts and the listing records that are not."""

    posts: pd.DataFrame  # post_id, published_at (naive UTC), account_id
    rejected: pd.DataFrame  # record_key, reason, payload (JSON)


@dataclass
class MetricsPoll:
    native: pd.DataFrame  # one flattened native record per post that answered
    deleted: list[str] = field(default_factory=list)  # posts the platform says no longer exist


def utc_naive(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc).replace(tzinfo=None) if ts.tzinfo else ts


def epoch_ms(ts: datetime) -> int:
    return int(pd.Timestamp(utc_naive(pd.Timestamp(ts).to_pydatetime())).value // 1_000_000)


def iso_z(ts: datetime) -> str:
    return utc_naive(ts).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def flatten(records: list[dict[str, Any]], max_level: int | None = None) -> pd.DataFrame:
    if not records:
        return pd.DataFrame()
    return pd.json_normalize(records, max_level=max_level)


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def build_discovery(
    records: list[dict[str, Any]], id_field: str, time_field: str, account_field: str | None, unit: str | None
) -> Discovery:
    """Registrable posts from listing records: an id and a publication time are required, the rest is
    kept for the quarantine payload of the records that lack them."""
    posts, rejected = [], []
    for rec in records:
        post_id, when = rec.get(id_field), rec.get(time_field)
        missing = [f for f, v in ((id_field, post_id), (time_field, when)) if v in (None, "")]
        published = None
        if not missing:
            published = pd.to_datetime(when, unit=unit, utc=True, errors="coerce") if unit else pd.to_datetime(
                when, utc=True, errors="coerce", format="ISO8601"
            )
        if missing or published is None or pd.isna(published):
            reason = (
                "; ".join(f"missing required field '{f}'" for f in missing)
                if missing
                else f"field '{time_field}' is not a publication time: {when!r}"
            )
            rejected.append({"record_key": None if post_id is None else str(post_id), "reason": f"post listing: {reason}",
                             "payload": json.dumps(rec, default=str)})
            continue
        posts.append(
            {
                "post_id": str(post_id),
                "published_at": published.tz_convert(None).to_pydatetime(),
                "account_id": None if account_field is None or rec.get(account_field) is None else str(rec[account_field]),
            }
        )
    frame = pd.DataFrame(posts, columns=["post_id", "published_at", "account_id"]).drop_duplicates("post_id", keep="last")
    return Discovery(frame.reset_index(drop=True), pd.DataFrame(rejected, columns=["record_key", "reason", "payload"]))


class _Client:
    platform: str

    def __init__(self, http: PlatformHttpClient):
        self.http = http

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SocialClient(_Client):

    def discover(self, since: datetime, until: datetime) -> Discovery:
        raise NotImplementedError

    def fetch_metrics(self, posts: pd.DataFrame, polled_at: datetime) -> MetricsPoll:
        raise NotImplementedError

    @staticmethod
    def _stamp(native: pd.DataFrame, polled_at: datetime) -> pd.DataFrame:
        if native.empty:
            return native
        return native.assign(**{"cycle.polled_at": iso_z(polled_at)})


class AdsClient(_Client):
    """An ad platform's reports for a date range: campaign by day (``fetch_range``), ad by day
    (``fetch_creatives``) and, where the platform lets Cycle tell them, the days of boosted organic posts
    (``fetch_boosts``)."""

    def fetch_range(self, start: date, end: date) -> pd.DataFrame:
        raise NotImplementedError

    def fetch_creatives(self, start: date, end: date) -> pd.DataFrame:
        raise NotImplementedError

    def fetch_boosts(self, start: date, end: date) -> pd.DataFrame:
        raise NotImplementedError(f"{self.platform}: boosts of tracked organic posts are not discoverable")

    def entity_details(self) -> dict[str, dict[str, Any]]:
        """What a run learned beyond the rows, by entity, for the asset's metadata."""
        return {}
