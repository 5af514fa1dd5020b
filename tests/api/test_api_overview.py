"""GET /v1/overview: any date range against the previous window of equal length, from overview_daily.parquet."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from api.overview import ADDITIVE, OVERVIEW_DAILY, compute_overview
from api_serving_data import api_client

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


PAID_ACCOUNT = ("google_ads", "1110001")
ORGANIC_ACCOUNT = ("linkedin", "urn:li:organization:1001")
FOREIGN_ACCOUNT = ("meta_ads", "act_9999")  # in the file, owned by no workspace of the registry
PAID_COLUMNS = ("spend_usd", "revenue_usd", "paid_conversions", "paid_impressions", "paid_clicks")
INTEGERS = ("paid_impressions", "paid_clicks", "organic_impressions", "organic_engagements", "posts_published",
            "ai_calls")


def per_account_rows(days: int = 10) -> pd.DataFrame:
    """``daily_rows`` as served: one row per day and account (paid metrics on the ad account, organic ones
    and the AI usage on the organic account), plus another workspace's account that must not count."""
    rows = []
    for day in daily_rows(days).to_dict("records"):
        for (platform, account), columns in ((PAID_ACCOUNT, PAID_COLUMNS),
                                             (ORGANIC_ACCOUNT, [c for c in ADDITIVE if c not in PAID_COLUMNS])):
            rows.append({"metric_date": day["metric_date"], "platform": platform, "account_id": account,
                         **{c: (day[c] if c in columns else 0) for c in ADDITIVE}})
        rows.append({"metric_date": day["metric_date"], "platform": FOREIGN_ACCOUNT[0],
                     "account_id": FOREIGN_ACCOUNT[1], **{c: 1_000_000 for c in ADDITIVE}})
    frame = pd.DataFrame(rows)
    for c in ADDITIVE:
        frame[c] = frame[c].astype("int64" if c in INTEGERS else "float64")
    return frame


@pytest.fixture
def client(tmp_path):
    serving = tmp_path / "serving"
    serving.mkdir()
    frame = per_account_rows()
    frame["metric_date"] = pd.to_datetime(frame["metric_date"]).dt.date
    frame.to_parquet(serving / OVERVIEW_DAILY, index=False)
    return api_client(serving, tmp_path)


def assert_metrics(got: list[dict], want: list[dict], *, changes: bool) -> None:
    """The API's metrics are compute_overview's, rounded to 4 decimals (changes null when ``changes`` is off)."""
    assert [m["metric"] for m in got] == [m["metric"] for m in want]
    # what rests on the ad platforms' own conversion counts says so (summed across platforms, each claims its own)
    assert {m["metric"] for m in got if m["platform_reported"]} == {
        "revenue_usd", "profit_usd", "margin", "roas", "paid_conversions", "cpa_usd"}
    for g, w in zip(got, want):
        for field in ("current", "previous", "change", "change_pct"):
            expected = w[field] if changes or field in ("current", "previous") else None
            if expected is None:
                assert g[field] is None, (w["metric"], field)
            else:
                assert g[field] == pytest.approx(expected, abs=0.00005), (w["metric"], field)


def test_endpoint_answers_for_any_range_and_defaults_to_the_last_seven_days(client):
    got = client.get("/v1/overview", params={"start": "2026-03-06", "end": "2026-03-10"})
    assert got.status_code == 200
    body = got.json()
    expected = compute_overview(daily_rows().to_dict("records"), date(2026, 3, 6), date(2026, 3, 10))
    assert body["previous_start"] == "2026-03-01" and body["previous_end"] == "2026-03-05"
    assert body["current_days_with_data"] == body["previous_days_with_data"] == 5
    # the previous window starts on the first day of data: complete, so the changes are given
    assert body["previous_complete"] is True and body["change_unavailable_reason"] is None
    assert_metrics(body["metrics"], expected["metrics"], changes=True)
    assert client.get("/overview", params={"start": "2026-03-06", "end": "2026-03-10"}).json() == body

    default = client.get("/v1/overview").json()
    assert (default["start"], default["end"], default["days"]) == ("2026-03-04", "2026-03-10", 7)
    assert set(ADDITIVE) <= {m["metric"] for m in default["metrics"]}
    # its previous window (2026-02-25..03-03) starts before the first day of data: no changes, and why
    assert default["previous_complete"] is False and "2026-03-01" in default["change_unavailable_reason"]
    expected = compute_overview(daily_rows().to_dict("records"), date(2026, 3, 4), date(2026, 3, 10))
    assert_metrics(default["metrics"], expected["metrics"], changes=False)


def test_endpoint_rejects_bad_ranges_and_says_why(client, tmp_path):
    reversed_range = client.get("/v1/overview", params={"start": "2026-03-10", "end": "2026-03-01"})
    assert reversed_range.status_code == 422 and "on or before" in reversed_range.text
    assert client.get("/v1/overview", params={"start": "2026-02-30"}).status_code == 422
    assert client.get("/v1/overview", params={"end": "yesterday"}).status_code == 422
    assert client.get("/v1/overview", params={"start": "1900-01-01", "end": "2026-03-01"}).status_code == 422
    empty = api_client(tmp_path / "nothing", tmp_path)
    missing = empty.get("/v1/overview", params={"start": "2026-03-01", "end": "2026-03-02"})
    assert missing.status_code == 404 and "overview_daily.parquet" in missing.text
