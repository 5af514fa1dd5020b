"""``/v1/anomalies``: the dated anomalies of the workspace's daily campaign and organic platform series (spend
spikes, conversion-tracking outages, CTR collapses, viral spikes), each with its severity, the range its history
expected and the value observed. Served from ``anomalies.parquet`` (``analysis.metric_anomalies``); a platform's
series only to a workspace that owns every account of the platform (``api/routes/series.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from analytics_assets.contracts.serving import ANOMALIES
from api.auth import Reader
from api.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, paginate
from api.routes.common import DATA_ERRORS, EndParam, PlatformParam, StartParam, Store, build, check_window, snapshot_tag
from api.routes.series import SERIES_ACCOUNT_SQL, CampaignIdParam, MetricParam, own_series_rows
from api.schemas import ANOMALY_SEVERITIES, Anomaly, AnomalyKind, AnomalyPage, AnomalySeverity

router = APIRouter(tags=["analytics"])

_ANOMALIES_SQL = f"""
WITH {own_series_rows("series_id, metric_date")}
SELECT CAST(metric_date AS DATE) AS metric_date, CAST(series_id AS VARCHAR) AS series_id,
       CAST(entity_type AS VARCHAR) AS entity_type, CAST(platform AS VARCHAR) AS platform, {SERIES_ACCOUNT_SQL},
       CAST(campaign_id AS VARCHAR) AS campaign_id, CAST(metric AS VARCHAR) AS metric, CAST(kind AS VARCHAR) AS kind,
       CAST(severity AS VARCHAR) AS severity, CAST(observed AS DOUBLE) AS observed,
       CAST(expected AS DOUBLE) AS expected, CAST(expected_low AS DOUBLE) AS expected_low,
       CAST(expected_high AS DOUBLE) AS expected_high, CAST(change AS DOUBLE) AS change,
       CAST(score AS DOUBLE) AS score, CAST(history_days AS BIGINT) AS history_days
FROM own
WHERE metric_date IS NOT NULL
  AND (CAST($start AS DATE) IS NULL OR CAST(metric_date AS DATE) >= CAST($start AS DATE))
  AND (CAST($end AS DATE) IS NULL OR CAST(metric_date AS DATE) <= CAST($end AS DATE))
  AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
  AND (CAST($campaign_id AS VARCHAR) IS NULL OR CAST(campaign_id AS VARCHAR) = CAST($campaign_id AS VARCHAR))
  AND (CAST($metric AS VARCHAR) IS NULL OR metric = CAST($metric AS VARCHAR))
  AND (CAST($kind AS VARCHAR) IS NULL OR kind = CAST($kind AS VARCHAR))
  AND list_contains(CAST($severities AS VARCHAR[]), CAST(severity AS VARCHAR))
ORDER BY metric_date DESC, series_id
"""


@router.get("/anomalies", response_model=AnomalyPage, responses=DATA_ERRORS, summary="Anomalies of the daily series")
def list_anomalies(
    store: Store,
    principal: Reader,
    start: StartParam = None,
    end: EndParam = None,
    platform: PlatformParam = None,
    campaign_id: CampaignIdParam = None,
    metric: MetricParam = None,
    kind: Annotated[AnomalyKind | None, Query(description="Only anomalies of this kind.")] = None,
    min_severity: Annotated[
        AnomalySeverity | None, Query(description="Only anomalies at least this severe: medium < high < critical.")
    ] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> AnomalyPage:
    """Every flagged day of the workspace's always-on campaigns (spend against budget, clicks given impressions,
    conversions given clicks) and of its organic platforms (impressions, engagements) in `start..end`, latest
    first: the day, the series, the kind and severity, the expected range and the observed value."""
    check_window(start, end)
    tag = snapshot_tag(store)
    severities = list(ANOMALY_SEVERITIES[ANOMALY_SEVERITIES.index(min_severity):] if min_severity else ANOMALY_SEVERITIES)
    rows = store.scoped_query(
        ANOMALIES, principal.accounts, _ANOMALIES_SQL,
        {"start": start, "end": end, "platform": platform.value if platform else None, "campaign_id": campaign_id,
         "metric": metric, "kind": kind, "severities": severities},
    )
    page, next_cursor = paginate(rows, limit, cursor, tag)
    return AnomalyPage(items=[build(Anomaly, ANOMALIES, **r) for r in page], next_cursor=next_cursor, total=len(rows))
