"""LinkedIn Marketing API: daily campaign analytics (``GET /rest/adAnalytics?q=analytics&pivot=CAMPAIGN
&timeGranularity=DAILY``) per ad account, joined with the account's currency (``GET /rest/adAccounts/{id}``)
and its campaigns' names (``GET /rest/adAccounts/{id}/adCampaigns?q=search``, ``start``/``count`` paging)
as the ``cycle.*`` fields the parser reads. Analytics answers without paging (up to 15,000 elements)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from analytics_assets.sources.connectors.http import PlatformHttpClient
from analytics_assets.sources.connectors.platforms.base import AdsClient, flatten
from analytics_assets.sources.connectors.platforms.linkedin import RESTLI_HEADERS, enc

FIELDS = "pivotValues,dateRange,impressions,clicks,costInLocalCurrency,externalWebsiteConversions,conversionValueInLocalCurrency"


def _restli_date(d: date) -> str:
    return f"(year:{d.year},month:{d.month},day:{d.day})"


class LinkedInAdsClient(AdsClient):
    platform = "linkedin_ads"

    def __init__(self, http: PlatformHttpClient, ad_account_ids: list[str], page_size: int = 100):
        super().__init__(http)
        self.accounts = [a.rsplit(":", 1)[-1] for a in ad_account_ids]
        self.page_size = page_size
        self._account_info: dict[str, tuple[str | None, dict[str, str]]] = {}  # per run: currency, names

    def _account(self, account: str) -> tuple[str | None, dict[str, str]]:
        if account not in self._account_info:
            info = self.http.request_json("GET", f"/rest/adAccounts/{account}", headers=RESTLI_HEADERS) or {}
            names: dict[str, str] = {}
            start = 0
            while True:
                body = self.http.request_json(
                    "GET",
                    f"/rest/adAccounts/{account}/adCampaigns?q=search&start={start}&count={self.page_size}",
                    headers=RESTLI_HEADERS,
                ) or {}
                page = [c for c in body.get("elements") or [] if isinstance(c, dict)]
                names.update({str(c.get("id")): c.get("name") for c in page if c.get("id") is not None})
                start += len(page)
                total = (body.get("paging") or {}).get("total")
                if not page or (total is not None and start >= total):
                    break
            self._account_info[account] = (info.get("currency"), names)
        return self._account_info[account]

    def fetch_range(self, start: date, end: date) -> pd.DataFrame:
        rows: list[dict] = []
        for account in self.accounts:
            currency, names = self._account(account)
            query = (
                f"q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY"
                f"&dateRange=(start:{_restli_date(start)},end:{_restli_date(end)})"
                f"&accounts=List({enc('urn:li:sponsoredAccount:' + account)})&fields={FIELDS}"
            )
            body = self.http.request_json("GET", f"/rest/adAnalytics?{query}", headers=RESTLI_HEADERS) or {}
            for el in body.get("elements") or []:
                if not isinstance(el, dict):
                    continue
                pivots = el.get("pivotValues")
                campaign = pivots[0].rsplit(":", 1)[-1] if isinstance(pivots, list) and pivots and isinstance(pivots[0], str) else None
                rows.append(
                    {**el, "cycle": {"account_id": account, "currency": currency, "campaign_name": names.get(campaign)}}
                )
        return flatten(rows, max_level=1)
