"""Meta Marketing API: campaign and ad insights by day (``GET /{version}/act_{id}/insights`` with
``level=campaign`` or ``level=ad``, ``time_increment=1``, a ``time_range`` and the configured
``action_attribution_windows``), paged by ``paging.next`` (the ``paging.cursors.after`` cursor).
Errors come in an ``error`` object whose ``code`` says more than the HTTP status: 190 is an expired or
invalid token, 4/17/32/613/80000-80014 are throttling; how long a throttle lasts comes in the usage headers
(``throttling.meta_usage``). At ad level each ad's creative type is joined from the account's ads
(``GET /{version}/act_{id}/ads``, read once per run).

Boosts: an ad whose creative promotes a post the page (or its Instagram account) had already published is a
boost of that organic post: ``creative.object_story_id`` names the Facebook page post (``{page_id}_{post_id}``),
``creative.source_instagram_media_id`` the Instagram media. ``effective_object_story_id`` and
``effective_instagram_media_id`` are not enough: Meta sets them on every ad, also on the unpublished (dark)
post it creates from an ``object_story_spec``, which nobody saw organically. A boost's days are that ad's
days of the ``level=ad`` insights (read once per run and window, shared with the ad-level report), with its ad
set's flight (``start_time``/``end_time``, the account's local time) and daily budget (minor units).

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
# ad level: the ad and its ad set, the same delivery, and the video quartiles (``video_p*_watched_actions``,
# present only for ads with video)
AD_FIELDS = (
    "account_id,account_currency,campaign_id,campaign_name,adset_id,adset_name,ad_id,ad_name,date_start,date_stop,"
    "impressions,clicks,spend,reach,actions,action_values,video_p25_watched_actions,video_p50_watched_actions,"
    "video_p75_watched_actions,video_p100_watched_actions"
)
# Insights do not carry the creative: its type comes from the ads listing, joined by ad id, with what a boost
# needs: the published post its creative promotes, its ad set's flight and daily budget. Cycle tracks no
# Facebook or Instagram posts: a boost of one lands with its paid delivery and its organic side unmeasured
# (``untracked_boosted_posts`` counts those posts).
AD_LISTING_FIELDS = (
    "id,name,creative{object_type,object_story_id,effective_object_story_id,source_instagram_media_id,"
    "effective_instagram_media_id},adset{start_time,end_time,daily_budget}"
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


def promoted_post(creative: object) -> tuple[str, str] | None:
    """(organic platform, post id) of the already published post an ad's creative promotes, or None for an ad
    made of its own content (see the module's docstring on the ``effective_*`` fields)."""
    if not isinstance(creative, dict):
        return None
    if creative.get("source_instagram_media_id"):
        return "instagram", str(creative["source_instagram_media_id"])
    if creative.get("object_story_id"):
        return "facebook", str(creative["object_story_id"])
    return None


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
        self._ads_by_account: dict[str, dict[str, dict]] = {}  # per run
        self._ad_days: dict[tuple[str, date, date], list[dict]] = {}  # per run and window: ads and boosts

    def fetch_range(self, start: date, end: date) -> pd.DataFrame:
        rows: list[dict] = []
        for account in self.accounts:
            rows += self._insights(account, "campaign", FIELDS, start, end)
        return flatten(rows, max_level=0)

    def fetch_creatives(self, start: date, end: date) -> pd.DataFrame:
        rows: list[dict] = []
        for account in self.accounts:
            ads = self._ads(account)
            for r in self._ad_insights(account, start, end):
                creative = (ads.get(str(r.get("ad_id"))) or {}).get("creative")
                object_type = creative.get("object_type") if isinstance(creative, dict) else None
                rows.append({**r, "creative.object_type": object_type})
        return flatten(rows, max_level=0)

    def fetch_boosts(self, start: date, end: date) -> pd.DataFrame:
        """The days of the ads that promote an already published page or Instagram post, each with that post
        (``cycle.organic_platform``, ``cycle.post_id``) and its ad set's flight and daily budget (``cycle.*``)."""
        rows: list[dict] = []
        for account in self.accounts:
            ads = self._ads(account)
            for r in self._ad_insights(account, start, end):
                ad = ads.get(str(r.get("ad_id"))) or {}
                promoted = promoted_post(ad.get("creative"))
                if promoted is None:
                    continue
                adset = ad.get("adset") if isinstance(ad.get("adset"), dict) else {}
                record = {k: v for k, v in r.items() if not k.startswith("video_")}
                rows.append({**record, "cycle": {
                    "organic_platform": promoted[0], "post_id": promoted[1], "run_start": adset.get("start_time"),
                    "run_end": adset.get("end_time"), "daily_budget": adset.get("daily_budget"),
                }})
        return flatten(rows, max_level=1)

    def entity_details(self) -> dict[str, dict]:
        if not self._ads_by_account:
            return {}
        posts = {
            promoted
            for ads in self._ads_by_account.values()
            for ad in ads.values()
            if (promoted := promoted_post(ad.get("creative"))) is not None
        }
        # boosted posts Cycle does not track organically: their boosts land in raw_boosts, paid side only
        return {entity: {"untracked_boosted_posts": len(posts)} for entity in ("ad_creatives", "boosts")}

    def _ad_insights(self, account: str, start: date, end: date) -> list[dict]:
        """Ad-by-day insights, read once per run and window (the ad-level report and the boosts share them)."""
        key = (account, start, end)
        if key not in self._ad_days:
            self._ad_days[key] = self._insights(account, "ad", AD_FIELDS, start, end)
        return self._ad_days[key]

    def _insights(self, account: str, level: str, fields: str, start: date, end: date) -> list[dict]:
        rows: list[dict] = []
        url = f"/{self.api_version}/act_{account}/insights"
        params: dict | None = {
            "level": level,
            "fields": fields,
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
                return rows
            url, params = without_token(nxt), None

    def _ads(self, account: str) -> dict[str, dict]:
        """The account's ads by id (with their creative), read once per run: a few pages per account."""
        if account not in self._ads_by_account:
            ads: dict[str, dict] = {}
            url = f"/{self.api_version}/act_{account}/ads"
            params: dict | None = {"fields": AD_LISTING_FIELDS, "limit": self.page_size}
            while True:
                body = self.http.request_json("GET", url, params=params) or {}
                ads.update({str(a["id"]): a for a in body.get("data") or [] if isinstance(a, dict) and a.get("id")})
                nxt = (body.get("paging") or {}).get("next")
                if not nxt:
                    break
                url, params = without_token(nxt), None
            self._ads_by_account[account] = ads
        return self._ads_by_account[account]
