"""The serving snapshot: the files the ``serving_snapshot`` asset publishes and the API reads.

Defined once here, imported by the publisher (``defs/serving``) and by the API (``api/``): a file name or
its source table cannot drift apart between the two sides. Each file is a Parquet copy of one warehouse
table; ``manifest.json`` lists what was published and when.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics_assets.contracts.warehouse import POSTING_HOUR_RECOMMENDATIONS

ASSET_STATUS = "asset_status.parquet"  # last materialization per asset, from the Dagster instance
OPTIMAL_HOURS = "optimal_hours.parquet"
PLATFORM_DAILY = "platform_daily.parquet"
ATTRIBUTION = "attribution.parquet"
OVERVIEW_DAILY = "overview_daily.parquet"  # daily totals behind GET /overview (any date range from them)
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ServedTable:
    file: str
    source: str  # qualified warehouse table
    order_by: str

    @property
    def sql(self) -> str:
        return f"select * from {self.source} order by {self.order_by}"


SERVED_TABLES = (
    ServedTable(OPTIMAL_HOURS, POSTING_HOUR_RECOMMENDATIONS, "platform, rank"),
    ServedTable(PLATFORM_DAILY, "main.agg_platform_daily", "metric_date, platform"),
    ServedTable(ATTRIBUTION, "main.agg_channel_attribution", "model, conversions desc"),
    ServedTable(OVERVIEW_DAILY, "main.agg_overview_daily", "metric_date"),
)

SERVING_FILES = (ASSET_STATUS, *(t.file for t in SERVED_TABLES), MANIFEST)
