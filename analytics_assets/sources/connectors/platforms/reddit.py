"""Reddit OAuth API (``https://oauth.reddit.com``): an account's submissions
(``GET /user/{username}/submitted``, Listing paged with ``after``) and current counters of given posts
(``GET /api/info?id=t3_..``, up to 100 fullnames). A post missing from ``/api/info`` is checked with
``GET /by_id/{fullname}``: 404 = gone; a post its author deleted has ``removed_by_category: deleted``."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from analytics_assets.sources.connectors.errors import PostDeleted
from analytics_assets.sources.connectors.http import PlatformHttpClient
from analytics_assets.sources.connectors.platforms.base import (
    Discovery,
    MetricsPoll,
    SocialClient,
    build_discovery,
    chunks,
    epoch_ms,
    flatten,
)

INFO_BATCH = 100


def _things(body: object) -> list[dict]:
    """The ``data`` of each child of a Listing."""
    if not isinstance(body, dict):
        return []
    children = (body.get("data") or {}).get("children") or []
    return [c["data"] for c in children if isinstance(c, dict) and isinstance(c.get("data"), dict)]


class RedditClient(SocialClient):
    platform = "reddit"

    def __init__(self, http: PlatformHttpClient, usernames: list[str], page_size: int = 100):
        super().__init__(http)
        self.usernames = usernames
        self.page_size = min(page_size, 100)

    def discover(self, since: datetime, until: datetime) -> Discovery:
        since_s = epoch_ms(since) / 1000
        records: list[dict] = []
        for user in self.usernames:
            params: dict = {"sort": "new", "limit": self.page_size, "raw_json": 1}
            while True:
                body = self.http.request_json("GET", f"/user/{user}/submitted", params=params)
                page = _things(body)
                records += page
                after = (body.get("data") or {}).get("after") if isinstance(body, dict) else None
                created = [p.get("created_utc") for p in page if isinstance(p.get("created_utc"), (int, float))]
                if not after or not page or (created and min(created) < since_s):
                    break
                params = {**params, "after": after}
        return build_discovery(records, "name", "created_utc", "author_fullname", "s")

    def fetch_metrics(self, posts: pd.DataFrame, polled_at: datetime) -> MetricsPoll:
        records: list[dict] = []
        deleted: list[str] = []
        for batch in chunks(list(posts["post_id"]), INFO_BATCH):
            found = {t.get("name"): t for t in _things(self.http.request_json("GET", "/api/info", params={"id": ",".join(batch), "raw_json": 1}))}
            for name in batch:
                thing = found.get(name)
                if thing is None:
                    try:
                        by_id = _things(self.http.request_json("GET", f"/by_id/{name}", params={"raw_json": 1}, post_id=name))
                    except PostDeleted:
                        deleted.append(name)
                        continue
                    thing = by_id[0] if by_id else None
                    if thing is None:
                        continue
                if thing.get("removed_by_category") == "deleted":
                    deleted.append(name)
                    continue
                records.append(thing)
        return MetricsPoll(self._stamp(flatten(records), polled_at), deleted)
