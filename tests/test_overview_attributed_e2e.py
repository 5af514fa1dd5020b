"""/v1/overview's attributed figures on the session pipeline's data: they are the attribution mart's
(``agg_channel_attribution_daily`` under the overview's model) for the window and the previous one, and the
platform-reported figures beside them are still the published daily totals'."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from analytics_assets.contracts.serving import OVERVIEW_DAILY
from api.overview import AD_CHANNELS, OVERVIEW_ATTRIBUTION_MODEL, compute_overview, previous_window

pytestmark = pytest.mark.slow


def test_overview_attributed_figures_are_the_attribution_marts(pipeline):
    from api.local import local_client

    home, _ = pipeline
    end = home.query("select max(conversion_date) d from main.agg_channel_attribution_daily")["d"].iloc[0]
    end = pd.Timestamp(end).date()
    start = end - timedelta(days=1)
    client = local_client(home.serving, home.root / "api-state-attributed")
    body = client.get("/v1/overview", params={"start": start.isoformat(), "end": end.isoformat()}).json()
    attributed = body["attributed"]
    assert attributed["available"] is True and attributed["model"] == OVERVIEW_ATTRIBUTION_MODEL
    channels = ", ".join(f"'{c}'" for c in AD_CHANNELS)
    mart_sql = f"""
        select coalesce(sum(case when channel in ({channels}) then conversions end), 0) as attributed_paid_conversions,
               coalesce(sum(case when channel in ({channels}) then conversion_value end), 0)
                   as attributed_paid_conversion_value_usd,
               coalesce(sum(conversions), 0) as tracked_conversions,
               coalesce(sum(conversion_value), 0) as tracked_conversion_value_usd
        from main.agg_channel_attribution_daily where model = ? and conversion_date between ? and ?"""
    previous_start, previous_end = previous_window(start, end)
    current = home.query(mart_sql, [OVERVIEW_ATTRIBUTION_MODEL, start, end]).iloc[0]
    previous = home.query(mart_sql, [OVERVIEW_ATTRIBUTION_MODEL, previous_start, previous_end]).iloc[0]
    assert current["attributed_paid_conversions"] > 0 and current["tracked_conversions"] > 0
    for metric in attributed["metrics"]:
        name = metric["metric"]
        assert metric["current"] == pytest.approx(current[name], rel=1e-9, abs=5.1e-5), name
        assert metric["previous"] == pytest.approx(previous[name], rel=1e-9, abs=5.1e-5), name
    # every tracked conversion is credited once in all: the total is the number of conversions
    conversions = home.query(
        "select count(distinct conversion_id) n from main.fct_touchpoint_attribution "
        "where attribution_model = ? and conversion_date between ? and ?", [OVERVIEW_ATTRIBUTION_MODEL, start, end])
    assert {m["metric"]: m["current"] for m in attributed["metrics"]}["tracked_conversions"] == pytest.approx(
        conversions["n"].iloc[0], abs=5.1e-5)
    # the platform-reported figures are unchanged: the published daily totals' sums
    served = pd.read_parquet(home.serving / OVERVIEW_DAILY)
    served["metric_date"] = pd.to_datetime(served["metric_date"]).dt.date
    daily = served.drop(columns=["platform", "account_id"]).groupby("metric_date", as_index=False).sum()
    want = {m["metric"]: m for m in compute_overview(daily.to_dict("records"), start, end)["metrics"]}
    for metric in body["metrics"]:
        assert metric["current"] == (None if want[metric["metric"]]["current"] is None else pytest.approx(
            want[metric["metric"]]["current"], rel=1e-9, abs=5.1e-5)), metric["metric"]
    assert {m["metric"] for m in body["metrics"] if m["platform_reported"]} >= {"paid_conversions", "revenue_usd"}
