"""TikTok Research API: videos of given accounts and their counters, both through
``POST /v2/research/video/query/`` (``fields`` in the query string, filters in the body; paged with
``cursor``/``has_more`` under one ``search_id``; at most 30 days per query). A video that no longer
exists is simply absent from a query on its id over its creation day: it is marked deleted.
Errors come as ``{"error": {"code": ...}}`` alongside the HTTP status."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
import pandas as pd

from analytics_assets.sources.connectors.http import PlatformHttpClient
from analytics_assets.sources.connectors.platforms.base import (
    Discovery,
    MetricsPoll,
    SocialClient,
    build_discovery,
    chunks,
    flatten,
    utc_naive,
)
from analytics_assets.sources.connectors.resilience import AUTH, RATE_LIMITED, SERVER

VIDEO_FIELDS = "id,create_time,username,video_description,view_count,like_count,comment_count,share_count,favorites_count"
MAX_DAYS = 30
ID_BATCH = 100

_ERROR_CLASSES = {
    "access_token_invalid": AUTH,
    "access_token_expired": AUTH,
    "rate_limit_exceeded": RATE_LIMITED,
    "internal_error": SERVER,
}


def classify(resp: httpx.Response, body: object) -> str | None:
    if resp.status_code < 400 or not isinstance(body, dict):
        return None
    code = (body.get("error") or {}).get("code") if isinstance(body.get("error"), dict) else None
    return _ERROR_CLASSES.get(code)


def _windows(start: date, end: date) -> list[tuple[date, date]]:
    out = []
    while start <= end:
        stop = min(end, start + timedelta(days=MAX_DAYS - 1))
        out.append((start, stop))
        start = stop + timedelta(days=1)
    return out


class TikTokClient(SocialClient):
    platform = "tiktok"

    def __init__(self, http: PlatformHttpClient, usernames: list[str], page_size: int = 100):
        super().__init__(http)
        self.usernames = usernames
        self.page_size = min(page_size, 100)

    def _query(self, condition: dict, start: date, end: date) -> list[dict]:
        videos: list[dict] = []
        body_in: dict = {
            "query": {"and": [condition]},
            "start_date": start.strftime("%Y%m%d"),
            "end_date": end.strftime("%Y%m%d"),
            "max_count": self.page_size,
        }
        while True:
            body = self.http.request_json("POST", "/v2/research/video/query/", params={"fields": VIDEO_FIELDS}, json_body=body_in) or {}
            data = body.get("data") or {}
            for v in data.get("videos") or []:
                if isinstance(v, dict):
                    v = dict(v)
                    if v.get("id") is not None:
                        v["id"] = str(v["id"])  # int64 ids must never pass through a float column
                    videos.append(v)
            if not data.get("has_more"):
                return videos
            body_in = {**body_in, "cursor": data.get("cursor"), "search_id": data.get("search_id")}

    def discover(self, since: datetime, until: datetime) -> Discovery:
        videos: list[dict] = []
        for lo, hi in _windows(utc_naive(since).date(), utc_naive(until).date()):
            videos += self._query({"operation": "IN", "field_name": "username", "field_values": self.usernames}, lo, hi)
        return build_discovery(videos, "id", "create_time", "username", "s")

    def fetch_metrics(self, posts: pd.DataFrame, polled_at: datetime) -> MetricsPoll:
        records: list[dict] = []
        deleted: list[str] = []
        days = pd.to_datetime(posts["published_at"]).dt.date
        for window in _windows(days.min(), days.max()) if len(posts) else []:
            in_window = posts[(days >= window[0]) & (days <= window[1])]
            for batch in chunks(list(in_window["post_id"]), ID_BATCH):
                videos = self._query({"operation": "IN", "field_name": "video_id", "field_values": batch}, *window)
                records += videos
                found = {v.get("id") for v in videos}
                if None not in found:  # a record without its id could be any of them: decide nothing
                    deleted += [i for i in batch if i not in found]
        return MetricsPoll(self._stamp(flatten(records), polled_at), deleted)
