"""GET /overview: any date range against the previous window of equal length, from overview_daily.parquet."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.overview import ADDITIVE, OVERVIEW_DAILY, compute_overview

START = date(2026, 3, 1)


def daily_rows(days: int = 10) -> pd.DataFrame:
    """Day k (0-based): spend 10 * (k + 1), revenue twice the spend from day 5 on (else equal), ..."""
    rows = []
    for k in range(days):
        rows.append(
            {
                "metric_date": START + timedelta(days=k),
                "spend_usd": 10.0 * (k + 1),
                "revenue_usd": 10.0 * (k + 1) * (2 if k >= 5 else 1),
                "paid_conversions": float(k),
                "paid_impressions": 1000,
                "paid_clicks": 10 * (k + 1),
                "organic_impressions": 500,
                "organic_engagements": 25,
                "posts_published": 2,
                "ai_calls": 3,
                "ai_cost_usd": 0.25,
            }
        )
    return pd.DataFrame(rows)


def metric(result: dict, name: str) -> dict:
    return next(m for m in result["metrics"] if m["metric"] == name)


def test_a_range_is_compared_with_the_window_of_equal_length_just_before_it():
    rows = daily_rows().to_dict("records")
    result = compute_overview(rows, START + timedelta(days=5), START + timedelta(days=9))
    assert (result["previous_start"], result["previous_end"]) == (START, START + timedelta(days=4))
    assert result["days"] == 5 and result["current_days_with_data"] == result["previous_days_with_data"] == 5
    spend = metric(result, "spend_usd")
    assert spend["current"] == 60 + 70 + 80 + 90 + 100 and spend["previous"] == 10 + 20 + 30 + 40 + 50
    assert spend["change"] == 250 and spend["change_pct"] == pytest.approx(250 / 150)
    # ratios are ratios of the window's sums
    assert metric(result, "roas")["current"] == 2.0 and metric(result, "roas")["previous"] == 1.0
    assert metric(result, "margin")["current"] == 0.5 and metric(result, "margin")["previous"] == 0.0
    assert metric(result, "profit_usd")["change"] == 400 - 0
    assert metric(result, "ctr")["current"] == pytest.approx(400 / 5000)
    # a previous value of 0 has no relative change
    assert metric(result, "margin")["change_pct"] is None
    assert metric(result, "cpa_usd")["previous"] == pytest.approx(150 / 10)


def test_a_window_without_data_has_no_values_rather_than_zeros():
    rows = daily_rows(3).to_dict("records")
    result = compute_overview(rows, START, START + timedelta(days=2))
    assert result["previous_days_with_data"] == 0
    for m in result["metrics"]:
        assert m["previous"] is None and m["change"] is None and m["change_pct"] is None
    assert metric(result, "spend_usd")["current"] == 60
    with pytest.raises(ValueError):
        compute_overview(rows, START + timedelta(days=1), START)


@pytest.fixture
def client(tmp_path):
    serving = tmp_path / "serving"
    serving.mkdir()
    frame = daily_rows()
    frame["metric_date"] = pd.to_datetime(frame["metric_date"]).dt.date
    frame.to_parquet(serving / OVERVIEW_DAILY, index=False)
    return TestClient(create_app(serving_dir=serving, webhook_store=tmp_path / "store.sqlite3"))


def test_endpoint_answers_for_any_range_and_defaults_to_the_last_seven_days(client):
    got = client.get("/overview", params={"start": "2026-03-06", "end": "2026-03-10"})
    assert got.status_code == 200
    body = got.json()
    expected = compute_overview(daily_rows().to_dict("records"), date(2026, 3, 6), date(2026, 3, 10))
    assert body["previous_start"] == "2026-03-01" and body["previous_end"] == "2026-03-05"
    assert [m["metric"] for m in body["metrics"]] == [m["metric"] for m in expected["metrics"]]
    for got_m, want in zip(body["metrics"], expected["metrics"]):
        assert got_m["current"] == pytest.approx(want["current"]), want["metric"]
        assert got_m["previous"] == pytest.approx(want["previous"]), want["metric"]
    default = client.get("/overview").json()
    assert (default["start"], default["end"], default["days"]) == ("2026-03-04", "2026-03-10", 7)
    assert set(ADDITIVE) <= {m["metric"] for m in default["metrics"]}


def test_endpoint_rejects_bad_ranges_and_says_why(client, tmp_path):
    reversed_range = client.get("/overview", params={"start": "2026-03-10", "end": "2026-03-01"})
    assert reversed_range.status_code == 422 and "on or before" in reversed_range.text
    assert client.get("/overview", params={"start": "2026-02-30"}).status_code == 422
    assert client.get("/overview", params={"end": "yesterday"}).status_code == 422
    assert client.get("/overview", params={"start": "1900-01-01", "end": "2026-03-01"}).status_code == 422
    empty = TestClient(create_app(serving_dir=tmp_path / "nothing", webhook_store=tmp_path / "s2.sqlite3"))
    missing = empty.get("/overview", params={"start": "2026-03-01", "end": "2026-03-02"})
    assert missing.status_code == 404 and "overview_daily.parquet" in missing.text
