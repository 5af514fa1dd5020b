"""The daily series that anomaly detection and forecasting read from the marts, read one way for both."""

# Postponed annotations: evaluated, `duckdb.DuckDBPyConnection` in these signatures kept DuckDB's binding types
# alive through interpreter teardown in every process that also loads torch and defines the assets that import
# this module, and nanobind then printed a ~45-line reference-leak report at the exit of `cycle demo`.
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

# the always-on campaigns' days, with the budget of the settings valid that day (a boost is a 3-day flight:
# too short a series to have a history, nothing to forecast)
_CAMPAIGN_DAYS_SQL = """
select f.metric_date, f.platform, f.account_id, f.campaign_id, s.daily_budget_usd,
       f.spend_usd, f.impressions, f.clicks, f.conversions
from main.fct_campaign_performance f
join main.agg_campaign_daily_summary s
  on s.platform = f.platform and s.campaign_id = f.campaign_id and s.metric_date = f.metric_date
where not s.is_boost and f.metric_date between ? and ?
"""
_PLATFORM_DAYS_SQL = """
select metric_date, platform, impressions, engagements from main.agg_platform_daily
where channel_type = 'organic' and metric_date between ? and ?
"""


def read_campaign_days(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """The always-on campaign days alone (``read_daily_series``' first frame), for the budget recommendations."""
    return con.execute(_CAMPAIGN_DAYS_SQL, [start, end]).df()


def read_daily_series(con: duckdb.DuckDBPyConnection, start: date, end: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(always-on campaign days, organic platform days) from ``start`` to ``end``, both included."""
    return (
        con.execute(_CAMPAIGN_DAYS_SQL, [start, end]).df(),
        con.execute(_PLATFORM_DAYS_SQL, [start, end]).df(),
    )
