"""Google Ads API: campaign-by-day and ad-by-day metrics with one GAQL query per customer and report through
``POST /{version}/customers/{id}/googleAds:searchStream``. The stream answers with a JSON array of chunks,
each with ``results`` and a ``fieldMask``; int64 fields (``costMicros``, ``impressions``) arrive as strings,
and proto3 JSON leaves out metrics whose value is zero, which the field mask lets us restore.

Ad level (``FROM ad_group_ad``): the ad's id, name and type, with the campaign's delivery metrics and the
video quartile rates (shares of impressions). Google reports those rates only for video ads; a video ad's
zero rate is restored like any zero metric, while an ad of another type keeps none (no video, not 0 views)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from analytics_assets.sources.connectors.http import PlatformHttpClient
from analytics_assets.sources.connectors.platforms.base import AdsClient, flatten

QUERY = (
    "SELECT customer.id, customer.currency_code, campaign.id, campaign.name, "
    "campaign.advertising_channel_type, segments.date, metrics.impressions, metrics.clicks, "
    "metrics.cost_micros, metrics.conversions, metrics.conversions_value "
    "FROM campaign WHERE segments.date BETWEEN '{start}' AND '{end}'"
)
AD_QUERY = (
    "SELECT customer.id, customer.currency_code, campaign.id, campaign.name, ad_group.id, ad_group_ad.ad.id, "
    "ad_group_ad.ad.name, ad_group_ad.ad.type, segments.date, metrics.impressions, metrics.clicks, "
    "metrics.cost_micros, metrics.conversions, metrics.conversions_value, metrics.video_quartile_p25_rate, "
    "metrics.video_quartile_p50_rate, metrics.video_quartile_p75_rate, metrics.video_quartile_p100_rate "
    "FROM ad_group_ad WHERE segments.date BETWEEN '{start}' AND '{end}'"
)
_INT64_METRICS = {"impressions", "clicks", "costMicros"}
_VIDEO_METRICS = {"videoQuartileP25Rate", "videoQuartileP50Rate", "videoQuartileP75Rate", "videoQuartileP100Rate"}


def _is_video_ad(result: dict) -> bool:
    ad = (result.get("adGroupAd") or {}).get("ad") if isinstance(result.get("adGroupAd"), dict) else None
    return isinstance(ad, dict) and "VIDEO" in str(ad.get("type") or "")


def _restore_zero_metrics(result: dict, mask: list[str]) -> dict:
    """Put back metrics the mask names but proto3 omitted (zero). Only when every metric the result has
    is one the mask names: an unknown one means the schema moved, and the gap must reach quarantine."""
    metrics = result.get("metrics")
    wanted = [p.split(".", 1)[1] for p in mask if p.startswith("metrics.")]
    if not wanted or (isinstance(metrics, dict) and not set(metrics) <= set(wanted)):
        return result
    filled = dict(metrics or {})
    video = _is_video_ad(result)
    for name in wanted:
        if name in _VIDEO_METRICS and not video:
            continue
        filled.setdefault(name, "0" if name in _INT64_METRICS else 0.0)
    return {**result, "metrics": filled}


class GoogleAdsClient(AdsClient):
    platform = "google_ads"

    def __init__(self, http: PlatformHttpClient, customer_ids: list[str], api_version: str = "v21"):
        super().__init__(http)
        self.customer_ids = [c.replace("-", "") for c in customer_ids]
        self.api_version = api_version

    def fetch_range(self, start: date, end: date) -> pd.DataFrame:
        return self._search(QUERY.format(start=start.isoformat(), end=end.isoformat()))

    def fetch_creatives(self, start: date, end: date) -> pd.DataFrame:
        return self._search(AD_QUERY.format(start=start.isoformat(), end=end.isoformat()))

    def _search(self, query: str) -> pd.DataFrame:
        rows: list[dict] = []
        for customer in self.customer_ids:
            body = self.http.request_json(
                "POST", f"/{self.api_version}/customers/{customer}/googleAds:searchStream", json_body={"query": query}
            )
            stream = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
            for chunk in stream:
                if not isinstance(chunk, dict):
                    continue
                mask = [p.strip() for p in str(chunk.get("fieldMask") or "").split(",") if p.strip()]
                rows += [_restore_zero_metrics(r, mask) for r in chunk.get("results") or [] if isinstance(r, dict)]
        return flatten(rows)
