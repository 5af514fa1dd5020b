"""What ``/v1/anomalies`` and ``/v1/forecasts`` share: whose rows a series file holds, and the series filters.

Both files (``contracts.serving.ServedTable.platform_rows``) hold two kinds of series. A campaign's series is
its ad account's: one row, for that account. A platform's organic series sums every account of the platform, so
the publisher copies each of its rows to every one of them and says how many copies there are
(``series_accounts``). A workspace's scoped rows then hold every copy of a platform's row exactly when the
workspace owns every account of the platform; only then is the total its own data, and it is served once, with
a null ``account_id``. A platform whose accounts belong to several workspaces has a total that mixes them,
which no key is shown.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from analytics_assets.contracts.serving import SERIES_ACCOUNTS
from api.schemas import SeriesMetric


def own_series_rows(identity: str) -> str:
    """SQL of the workspace's own series rows of ``src`` (its scoped rows), once each, as ``own``: ``identity``
    names a row of one series (e.g. ``series_id, metric_date``)."""
    return f"""
own AS (
    SELECT * EXCLUDE (copy, copies) FROM (
        SELECT *, row_number() OVER (PARTITION BY {identity} ORDER BY account_id) AS copy,
               count(*) OVER (PARTITION BY {identity}) AS copies
        FROM src
    )
    WHERE copy = 1 AND copies = CAST({SERIES_ACCOUNTS} AS BIGINT)
)"""


# the account a served row names: the campaign's; none for a platform's total over its accounts
SERIES_ACCOUNT_SQL = "CASE WHEN entity_type = 'campaign' THEN CAST(account_id AS VARCHAR) END AS account_id"

CampaignIdParam = Annotated[
    str | None, Query(min_length=1, max_length=200, description="Only this campaign's series (its platform's id).")
]
MetricParam = Annotated[
    SeriesMetric | None,
    Query(description="Only this metric: spend, clicks, conversions (campaigns); impressions, engagements (platforms)."),
]
