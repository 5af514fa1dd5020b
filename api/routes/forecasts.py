"""``/v1/forecasts``: the latest 7-day forecasts, with 80% and 95% intervals, of the workspace's always-on
campaigns (spend, clicks, conversions) and organic platforms (impressions, engagements). Served from
``forecasts.parquet`` (``analysis.metric_forecasts`` at its latest origin; empty until ``forecast_job`` first
ran); a platform's series only to a workspace that owns every account of the platform (``api/routes/series.py``)."""

from __future__ import annotations

from fastapi import APIRouter

from analytics_assets.contracts.serving import FORECASTS
from api.auth import Reader
from api.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, paginate
from api.routes.common import DATA_ERRORS, PlatformParam, Store, build, snapshot_tag
from api.routes.series import SERIES_ACCOUNT_SQL, CampaignIdParam, MetricParam, own_series_rows
from api.schemas import Forecast, ForecastPage

router = APIRouter(tags=["analytics"])

_FORECASTS_SQL = f"""
WITH {own_series_rows("series_id, origin_date, horizon")}
SELECT CAST(series_id AS VARCHAR) AS series_id, CAST(entity_type AS VARCHAR) AS entity_type,
       CAST(platform AS VARCHAR) AS platform, {SERIES_ACCOUNT_SQL}, CAST(campaign_id AS VARCHAR) AS campaign_id,
       CAST(metric AS VARCHAR) AS metric, CAST(origin_date AS DATE) AS origin_date,
       CAST(forecast_date AS DATE) AS forecast_date, CAST(horizon AS BIGINT) AS horizon,
       CAST(forecast AS DOUBLE) AS forecast, CAST(lo_80 AS DOUBLE) AS lo_80, CAST(hi_80 AS DOUBLE) AS hi_80,
       CAST(lo_95 AS DOUBLE) AS lo_95, CAST(hi_95 AS DOUBLE) AS hi_95, CAST(model AS VARCHAR) AS model,
       CAST(history_days AS BIGINT) AS history_days
FROM own
WHERE forecast_date IS NOT NULL
  AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
  AND (CAST($campaign_id AS VARCHAR) IS NULL OR CAST(campaign_id AS VARCHAR) = CAST($campaign_id AS VARCHAR))
  AND (CAST($metric AS VARCHAR) IS NULL OR metric = CAST($metric AS VARCHAR))
ORDER BY series_id, horizon
"""


@router.get("/forecasts", response_model=ForecastPage, responses=DATA_ERRORS, summary="7-day forecasts of the daily series")
def list_forecasts(
    store: Store,
    principal: Reader,
    platform: PlatformParam = None,
    campaign_id: CampaignIdParam = None,
    metric: MetricParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> ForecastPage:
    """The latest forecasts of the workspace's series: per series and day ahead (1..7) the point forecast, its 80%
    and 95% intervals, the model and the origin (the last day of history). Empty before the forecast job ran."""
    tag = snapshot_tag(store)
    rows = store.scoped_query(
        FORECASTS, principal.accounts, _FORECASTS_SQL,
        {"platform": platform.value if platform else None, "campaign_id": campaign_id, "metric": metric},
    )
    page, next_cursor = paginate(rows, limit, cursor, tag)
    origins = [r["origin_date"] for r in rows if r["origin_date"] is not None]
    return ForecastPage(
        origin_date=max(origins) if origins else None,
        items=[build(Forecast, FORECASTS, **r) for r in page], next_cursor=next_cursor, total=len(rows),
    )
