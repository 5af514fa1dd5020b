"""LinkedIn Community Management API (versioned ``/rest``): an organization's posts
(``GET /rest/posts?q=author``, ``start``/``count`` paging) and their lifetime share statistics
(``GET /rest/organizationalEntityShareStatistics?q=organizationalEntity&shares=List(...)``).
A share missing from the statistics is checked with ``GET /rest/socialActions/{urn}``: 404 = deleted.
Rest.li 2.0 wants ``List(...)`` and URNs percent-encoded inside it, so those queries are built by hand.

The statistics name a share by URN only: its text (``commentary``) and ``content`` come with the listing,
which every run reads over the whole tracking horizon before it polls, so the client keeps them from the
listing and joins them into each share's statistics; the organization's ``localizedName`` comes from
``GET /rest/organizations/{id}``, once per run and organization, as a Rest.li projection would decorate it
(``organizationalEntity~``). A share the run did not list keeps its counters, without text or media."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import pandas as pd

from analytics_assets.sources.connectors.errors import ConnectorError, PostDeleted
from analytics_assets.sources.connectors.http import PlatformHttpClient
from analytics_assets.sources.connectors.platforms.base import (
    Discovery,
    MetricsPoll,
    SocialClient,
    build_discovery,
    chunks,
    epoch_ms,
)

STATS_BATCH = 50
RESTLI_HEADERS = {"X-Restli-Protocol-Version": "2.0.0"}
LISTED_FIELDS = ("commentary", "content")  # what a share's statistics lack and its listing gives


def enc(urn: str) -> str:
    return quote(urn, safe="")


def restli_list(values: list[str]) -> str:
    return "List(" + ",".join(enc(v) for v in values) + ")"


class LinkedInClient(SocialClient):
    platform = "linkedin"

    def __init__(self, http: PlatformHttpClient, organization_urns: list[str], page_size: int = 100):
        super().__init__(http)
        self.organizations = organization_urns
        self.page_size = page_size
        self._listed: dict[str, dict] = {}  # post URN -> the listing's LISTED_FIELDS, from this run's discovery
        self._names: dict[str, str | None] = {}  # organization URN -> localizedName (None: the lookup failed)

    def discover(self, since: datetime, until: datetime) -> Discovery:
        since_ms = epoch_ms(since)
        records: list[dict] = []
        for org in self.organizations:
            start = 0
            while True:
                query = f"q=author&author={enc(org)}&sortBy=CREATED&start={start}&count={self.page_size}"
                body = self.http.request_json("GET", f"/rest/posts?{query}", headers=RESTLI_HEADERS) or {}
                page = [e for e in body.get("elements") or [] if isinstance(e, dict)]
                records += page
                total = (body.get("paging") or {}).get("total")
                start += len(page)
                created = [e.get("createdAt") for e in page if isinstance(e.get("createdAt"), (int, float))]
                older = bool(created) and min(created) < since_ms  # newest first: the rest is older still
                if not page or older or (total is not None and start >= total):
                    break
        for rec in records:  # the publication time, where LinkedIn gives one, else creation
            rec.setdefault("publishedAt", rec.get("createdAt"))
            if isinstance(rec.get("id"), str):
                self._listed[rec["id"]] = {f: rec[f] for f in LISTED_FIELDS if rec.get(f) not in (None, "", {})}
        return build_discovery(records, "id", "publishedAt", "author", "ms")

    def organization_name(self, urn: str) -> str | None:
        """The organization's ``localizedName``, looked up once per run; None if LinkedIn would not say
        (a name is worth a request, not the poll: the counters go on without it)."""
        if urn not in self._names:
            org_id = urn.rsplit(":", 1)[-1]
            try:
                body = self.http.request_json("GET", f"/rest/organizations/{enc(org_id)}", headers=RESTLI_HEADERS) or {}
            except ConnectorError:
                body = {}
            name = body.get("localizedName") if isinstance(body, dict) else None
            self._names[urn] = name if isinstance(name, str) and name.strip() else None
        return self._names[urn]

    def fetch_metrics(self, posts: pd.DataFrame, polled_at: datetime) -> MetricsPoll:
        published_ms = {p: epoch_ms(t) for p, t in zip(posts["post_id"], posts["published_at"])}
        records: list[dict] = []
        deleted: list[str] = []
        for org, group in posts.groupby(posts["account_id"].fillna(self.organizations[0] if self.organizations else "")):
            ids = list(group["post_id"])
            for batch in chunks(ids, STATS_BATCH):
                shares = [i for i in batch if ":share:" in i]
                ugc = [i for i in batch if ":share:" not in i]
                query = f"q=organizationalEntity&organizationalEntity={enc(org)}"
                if shares:
                    query += f"&shares={restli_list(shares)}"
                if ugc:
                    query += f"&ugcPosts={restli_list(ugc)}"
                body = self.http.request_json(
                    "GET", f"/rest/organizationalEntityShareStatistics?{query}", headers=RESTLI_HEADERS
                ) or {}
                seen = set()
                for el in body.get("elements") or []:
                    if not isinstance(el, dict):
                        continue
                    el = dict(el)
                    el.setdefault("share", el.get("ugcPost"))
                    if el.get("share") in published_ms:
                        el["created"] = {"time": published_ms[el["share"]]}
                    el.update(self._listed.get(el.get("share"), {}))
                    name = self.organization_name(el["organizationalEntity"]) if isinstance(el.get("organizationalEntity"), str) else None
                    if name is not None:
                        el["organizationalEntity~"] = {"localizedName": name}
                    seen.add(el.get("share"))
                    records.append(el)
                for missing in [i for i in batch if i not in seen]:
                    try:
                        self.http.request_json("GET", f"/rest/socialActions/{enc(missing)}", headers=RESTLI_HEADERS, post_id=missing)
                    except PostDeleted:
                        deleted.append(missing)
        native = pd.json_normalize(records) if records else pd.DataFrame()
        return MetricsPoll(self._stamp(native, polled_at), deleted)
