"""Meta Marketing API: campaign insights by day (``GET /{version}/act_{id}/insights`` with
``level=campaign``, ``time_increment=1``, a ``time_range`` and the configured
``action_attribution_windows``), paged by ``paging.next`` (the ``paging.cursors.after`` cursor).
Errors come in an ``error`` object whose ``code`` says more than the HTTP status: 190 is an expired or
invalid token, 4/17/32/613/80000-80014 are throttling; how long a throttle lasts comes in the usage headers
(``throttling.meta_usage``).

Attribution windows: since 2026-01-12 the Ads Insights API no longer returns the 7-day and 28-day view windows
(``7d_view``, ``28d_view``); a deployment asking for them would silently get no view-through conversions, so
they are refused when the connector is configured."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pandas as pd

from analytics_assets.sources.connectors.errors import ConfigurationError
from analytics_assets.sources.connectors.http import PlatformHttpClient
from analytics_assets.sources.connectors.platforms.base import AdsClient, flatten
from analytics_assets.sources.connectors.resilience import AUTH, RATE_LIMITED, SERVER

FIELDS = (
    "account_id,account_currency,campaign_id,campaign_name,date_start,date_stop,"
    "impressions,clicks,spend,reach,actions,action_values"
)
_THROTTLING = {4, 17, 32, 613} | set(range(80000, 80015))

# what ``action_attribution_windows`` still accepts: click windows, 1-day engaged view, 1-day view, and the
# advertiser's own settings (``default``) or data-driven attribution (``dda``)
ATTRIBUTION_WINDOWS = ("1d_click", "7d_click", "28d_click", "1d_ev", "1d_view", "dda", "default")
RETIRED_ATTRIBUTION_WINDOWS = {"7d_view": "2026-01-12", "28d_view": "2026-01-12"}
DEFAULT_ATTRIBUTION_WINDOWS = ["7d_click", "1d_view"]


class AttributionWindowError(ConfigurationError, ValueError):
    """A configured attribution window Meta does not (or no longer) report. A ``ValueError`` too, so a
    resource's validator turns it into a configuration error at load time."""


def check_attribution_windows(windows: list[str]) -> list[str]:
    """The windows, stripped, if Meta still reports every one of them; else an ``AttributionWindowError``
    naming the retired (with the date) or unknown ones and the windows still allowed."""
    cleaned = [w.strip() for w in windows]
    allowed = ", ".join(ATTRIBUTION_WINDOWS)
    retired = [w for w in cleaned if w in RETIRED_ATTRIBUTION_WINDOWS]
    if retired:
        since = sorted({RETIRED_ATTRIBUTION_WINDOWS[w] for w in retired})
        raise AttributionWindowError(
            f"Meta attribution window(s) {', '.join(retired)} retired since {', '.join(since)}: the Ads Insights API "
            f"no longer returns view-through conversions for them. Windows still allowed: {allowed}"
        )
    unknown = [w for w in cleaned if w not in ATTRIBUTION_WINDOWS]
    if unknown:
        raise AttributionWindowError(
            f"unknown Meta attribution window(s) {', '.join(map(repr, unknown))}. Windows allowed: {allowed}"
        )
    if not cleaned:
        raise AttributionWindowError(f"at least one Meta attribution window is needed. Windows allowed: {allowed}")
    return cleaned


def classify(resp: httpx.Response, body: object) -> str | None:
    if resp.status_code < 400 or not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    error = body["error"]
    code = error.get("code")
    if code == 190 or error.get("type") == "OAuthException" and code in (102, 2500):
        return AUTH
    if code in _THROTTLING:
        return RATE_LIMITED
    if code in (1, 2) or error.get("is_transient"):
        return SERVER
    return None


def without_token(url: str) -> str:
    """Meta's ``paging.next`` repeats the access token in its query: the client sends it as a header."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "access_token"]
    return urlunsplit(parts._replace(query=urlencode(query)))


class MetaAdsClient(AdsClient):
    platform = "meta_ads"

    def __init__(
        self,
        http: PlatformHttpClient,
        ad_account_ids: list[str],
        api_version: str = "v23.0",
        attribution_windows: list[str] | None = None,
        page_size: int = 500,
    ):
        super().__init__(http)
        self.accounts = [a.removeprefix("act_") for a in ad_account_ids]
        self.api_version = api_version
        self.attribution_windows = check_attribution_windows(attribution_windows or DEFAULT_ATTRIBUTION_WINDOWS)
        self.page_size = page_size

    def fetch_range(self, start: date, end: date) -> pd.DataFrame:
        rows: list[dict] = []
        for account in self.accounts:
            url = f"/{self.api_version}/act_{account}/insights"
            params: dict | None = {
                "level": "campaign",
                "fields": FIELDS,
                "time_range": json.dumps({"since": start.isoformat(), "until": end.isoformat()}),
                "time_increment": 1,
                "action_attribution_windows": json.dumps(self.attribution_windows),
                "limit": self.page_size,
            }
            while True:
                body = self.http.request_json("GET", url, params=params) or {}
                rows += [r for r in body.get("data") or [] if isinstance(r, dict)]
                nxt = (body.get("paging") or {}).get("next")
                if not nxt:
                    break
                url, params = without_token(nxt), None
        return flatten(rows, max_level=0)
