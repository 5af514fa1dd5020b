"""Google Ads API: campaign-by-day metrics with one GAQL query per customer through
``POST /{version}/customers/{id}/googleAds:searchStream``. The stream answers with a JSON array of chunks,
each with ``results`` and a ``fieldMask``; int64 fields (``costMicros``, ``impressions``) arrive as strings,
and proto3 JSON leaves out metrics whose value is zero, which the field mask lets us restore."""

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
_INT64_METRICS = {"impressions", "clicks", "costMicros"}


def _restore_zero_metrics(result: dict, mask: list[str]) -> dict:
    """Put back metrics the mask names but proto3 omitted (zero). Only when every metric the result has
    is one the mask names: an unknown one means the schema moved, and the gap must reach quarantine."""
    metrics = result.get("metrics")
    wanted = [p.split(".", 1)[1] for p in mask if p.startswith("metrics.")]
    if not wanted or (isinstance(metrics, dict) and not set(metrics) <= set(wanted)):
        return result
    filled = dict(metrics or {})
    for name in wanted:
        filled.setdefault(name, "0" if name in _INT64_METRICS else 0.0)
    return {**result, "metrics": filled}


class GoogleAdsClient(AdsClient):
    platform = "google_ads"

    def __init__(self, http: PlatformHttpClient, customer_ids: list[str], api_version: str = "v21"):
        super().__init__(http)
        self.customer_ids = [c.replace("-", "") for c in customer_ids]
        self.api_version = api_version

    def fetch_range(self, start: date, end: date) -> pd.DataFrame:
        rows: list[dict] = []
        query = QUERY.format(start=start.isoformat(), end=end.isoformat())
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
