"""LinkedIn Marketing API: daily campaign analytics (``GET /rest/adAnalytics?q=analytics&pivot=CAMPAIGN
&timeGranularity=DAILY``) per ad account, joined with the account's currency (``GET /rest/adAccounts/{id}``)
and its campaigns' names (``GET /rest/adAccounts/{id}/adCampaigns?q=search``, ``start``/``count`` paging)
as the ``cycle.*`` fields the parser reads. Analytics answers without paging (up to 15,000 elements).

Ad level: ``q=statistics&pivots=List(CAMPAIGN,CREATIVE)`` gives each creative's day (with the video
completion counts), joined with the account's creatives (``GET /rest/adAccounts/{id}/creatives?q=criteria``,
``pageToken`` paging): their name, and their type from their content. A creative that sponsors a post
(``content.reference``) takes its type from that post (``BATCH_GET /rest/posts``): a post made for the ad
(direct sponsored content, ``adContext.isDsc``) has the ad format in ``adContext.dscAdType``; a post the
company page published to its feed is a **boost** of that organic post, the same URN the organic connector
stores as ``post_id``. A boost's days carry the campaign's flight (``runSchedule``, epoch ms) and daily budget.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from analytics_assets.sources.connectors.http import PlatformHttpClient
from analytics_assets.sources.connectors.platforms.base import AdsClient, chunks, flatten
from analytics_assets.sources.connectors.platforms.linkedin import RESTLI_HEADERS, enc, restli_list

FIELDS = "pivotValues,dateRange,impressions,clicks,costInLocalCurrency,externalWebsiteConversions,conversionValueInLocalCurrency"
VIDEO_FIELDS = ("videoFirstQuartileCompletions", "videoMidpointCompletions", "videoThirdQuartileCompletions", "videoCompletions")
CREATIVE_FIELDS = FIELDS + ",totalEngagements," + ",".join(VIDEO_FIELDS)
POSTS_BATCH = 50
BOOST_TYPE = "SPONSORED_UPDATE"  # a boost's creative: the organic post itself
# creative types by the kind of content (the keys of ``content`` other than ``reference``)
_CONTENT_TYPES = {"textAd": "TEXT_AD", "spotlight": "SPOTLIGHT", "follow": "FOLLOWER_AD", "jobs": "JOBS_AD", "eventAd": "EVENT_AD"}
# direct sponsored content: the ad format of the post made for the ad
_DSC_TYPES = {"STANDARD": "SINGLE_IMAGE", "VIDEO": "VIDEO", "CAROUSEL": "CAROUSEL", "NATIVE_DOCUMENT": "DOCUMENT"}


def _restli_date(d: date) -> str:
    return f"(year:{d.year},month:{d.month},day:{d.day})"


def _id(urn: object) -> str | None:
    return urn.rsplit(":", 1)[-1] if isinstance(urn, str) and urn else None


class LinkedInAdsClient(AdsClient):
    platform = "linkedin_ads"

    def __init__(self, http: PlatformHttpClient, ad_account_ids: list[str], page_size: int = 100):
        super().__init__(http)
        self.accounts = [a.rsplit(":", 1)[-1] for a in ad_account_ids]
        self.page_size = page_size
        # per run: currency and campaigns (by id); creatives (by id) with their type and boosted post
        self._account_info: dict[str, tuple[str | None, dict[str, dict]]] = {}
        self._creatives: dict[str, dict[str, dict[str, Any]]] = {}
        self._statistics: dict[tuple[str, date, date], list[dict]] = {}

    def _account(self, account: str) -> tuple[str | None, dict[str, dict]]:
        if account not in self._account_info:
            info = self.http.request_json("GET", f"/rest/adAccounts/{account}", headers=RESTLI_HEADERS) or {}
            campaigns: dict[str, dict] = {}
            start = 0
            while True:
                body = self.http.request_json(
                    "GET",
                    f"/rest/adAccounts/{account}/adCampaigns?q=search&start={start}&count={self.page_size}",
                    headers=RESTLI_HEADERS,
                ) or {}
                page = [c for c in body.get("elements") or [] if isinstance(c, dict)]
                campaigns.update({str(c.get("id")): c for c in page if c.get("id") is not None})
                start += len(page)
                total = (body.get("paging") or {}).get("total")
                if not page or (total is not None and start >= total):
                    break
            self._account_info[account] = (info.get("currency"), campaigns)
        return self._account_info[account]

    def _analytics(self, account: str, finder: str, fields: str, start: date, end: date) -> list[dict]:
        query = (
            f"{finder}&timeGranularity=DAILY&dateRange=(start:{_restli_date(start)},end:{_restli_date(end)})"
            f"&accounts=List({enc('urn:li:sponsoredAccount:' + account)})&fields={fields}"
        )
        body = self.http.request_json("GET", f"/rest/adAnalytics?{query}", headers=RESTLI_HEADERS) or {}
        return [el for el in body.get("elements") or [] if isinstance(el, dict)]

    def fetch_range(self, start: date, end: date) -> pd.DataFrame:
        rows: list[dict] = []
        for account in self.accounts:
            currency, campaigns = self._account(account)
            for el in self._analytics(account, "q=analytics&pivot=CAMPAIGN", FIELDS, start, end):
                pivots = el.get("pivotValues")
                campaign = _id(pivots[0]) if isinstance(pivots, list) and pivots else None
                name = (campaigns.get(campaign) or {}).get("name") if campaign else None
                rows.append({**el, "cycle": {"account_id": account, "currency": currency, "campaign_name": name}})
        return flatten(rows, max_level=1)

    # ---------------------------------------------------------------------------------------- ad level

    def _creative_list(self, account: str) -> dict[str, dict[str, Any]]:
        """The account's creatives by id: name, type, and the organic post a boost sponsors (else None)."""
        if account in self._creatives:
            return self._creatives[account]
        elements: list[dict] = []
        token: str | None = None
        while True:
            page_token = f"&pageToken={enc(token)}" if token else ""
            body = self.http.request_json(
                "GET", f"/rest/adAccounts/{account}/creatives?q=criteria&pageSize={self.page_size}{page_token}",
                headers=RESTLI_HEADERS,
            ) or {}
            elements += [c for c in body.get("elements") or [] if isinstance(c, dict)]
            token = (body.get("metadata") or {}).get("nextPageToken")
            if not token:
                break
        contents = [c.get("content") if isinstance(c.get("content"), dict) else {} for c in elements]
        references = sorted({r for content in contents if isinstance(r := content.get("reference"), str)})
        posts: dict[str, dict] = {}
        for batch in chunks(references, POSTS_BATCH):
            body = self.http.request_json(
                "GET", f"/rest/posts?ids={restli_list(batch)}", headers={**RESTLI_HEADERS, "X-RestLi-Method": "BATCH_GET"}
            ) or {}
            posts.update({k: v for k, v in (body.get("results") or {}).items() if isinstance(v, dict)})
        out: dict[str, dict[str, Any]] = {}
        for c, content in zip(elements, contents):
            creative = _id(c.get("id"))
            if creative is None:
                continue
            reference, boosted, kind = content.get("reference"), None, None
            if isinstance(reference, str):
                post = posts.get(reference)
                ad_context = (post or {}).get("adContext") or {}
                if post is None:
                    kind = None  # the post is gone or hidden from this token: neither its format nor a boost
                elif ad_context.get("isDsc"):
                    kind = _DSC_TYPES.get(ad_context.get("dscAdType"), ad_context.get("dscAdType"))
                else:
                    kind, boosted = BOOST_TYPE, reference
            else:
                kind = next((t for k, t in _CONTENT_TYPES.items() if k in content), None)
            out[creative] = {"name": c.get("name"), "type": kind, "campaign": _id(c.get("campaign")), "post": boosted}
        self._creatives[account] = out
        return out

    def _creative_days(self, account: str, start: date, end: date) -> list[dict]:
        """Creative-by-day statistics, read once per run and window (creatives and boosts share them)."""
        key = (account, start, end)
        if key not in self._statistics:
            self._statistics[key] = self._analytics(
                account, "q=statistics&pivots=List(CAMPAIGN,CREATIVE)", CREATIVE_FIELDS, start, end
            )
        return self._statistics[key]

    @staticmethod
    def _creative_of(el: dict) -> str | None:
        pivots = el.get("pivotValues") if isinstance(el.get("pivotValues"), list) else []
        return next((_id(p) for p in pivots if isinstance(p, str) and p.startswith("urn:li:sponsoredCreative:")), None)

    def fetch_creatives(self, start: date, end: date) -> pd.DataFrame:
        rows: list[dict] = []
        for account in self.accounts:
            currency, campaigns = self._account(account)
            creatives = self._creative_list(account)
            for el in self._creative_days(account, start, end):
                creative = creatives.get(self._creative_of(el) or "", {})
                campaign = campaigns.get(creative.get("campaign") or "", {})
                # LinkedIn reports 0 video completions for ads without video: the contract wants none
                video = {} if creative.get("type") == "VIDEO" else dict.fromkeys(VIDEO_FIELDS)
                record = {k: v for k, v in el.items() if k not in video}
                rows.append(
                    {
                        **record,
                        "cycle": {
                            "account_id": account, "currency": currency, "campaign_name": campaign.get("name"),
                            "creative_name": creative.get("name"), "creative_type": creative.get("type"),
                        },
                    }
                )
        return flatten(rows, max_level=1)

    def fetch_boosts(self, start: date, end: date) -> pd.DataFrame:
        rows: list[dict] = []
        for account in self.accounts:
            currency, campaigns = self._account(account)
            creatives = self._creative_list(account)
            for el in self._creative_days(account, start, end):
                creative = creatives.get(self._creative_of(el) or "")
                if not creative or not creative.get("post"):
                    continue
                campaign = campaigns.get(creative.get("campaign") or "", {})
                schedule = campaign.get("runSchedule") if isinstance(campaign.get("runSchedule"), dict) else {}
                budget = campaign.get("dailyBudget") if isinstance(campaign.get("dailyBudget"), dict) else {}
                record = {k: v for k, v in el.items() if k not in VIDEO_FIELDS}
                rows.append(
                    {
                        **record,
                        "cycle": {
                            "account_id": account, "currency": currency, "post_urn": creative["post"],
                            "run_start": schedule.get("start"), "run_end": schedule.get("end"),
                            "daily_budget": budget.get("amount"),
                        },
                    }
                )
        return flatten(rows, max_level=1)
