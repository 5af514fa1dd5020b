"""GET /v1/overview's ``attributed`` section: Cycle's own attribution of the tracked conversions beside the
platform-reported ones, for the same windows and per workspace (from attribution_daily.parquet)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from analytics_assets.contracts.serving import ATTRIBUTION_DAILY
from api.overview import AD_CHANNELS, OVERVIEW_ATTRIBUTION_MODEL, compute_attributed, previous_window
from api_serving_data import ACCOUNTS, FIRST_DAY, api_client, build_all, publish

START, END = FIRST_DAY + timedelta(days=7), FIRST_DAY + timedelta(days=13)  # the previous window: days 0..6


def expected(frame: pd.DataFrame, property_id: str, start: date, end: date) -> dict[str, float]:
    rows = frame[(frame["account_id"] == property_id) & (frame["model"] == OVERVIEW_ATTRIBUTION_MODEL)
                 & frame["conversion_date"].between(start, end)]
    paid = rows[rows["channel"].isin(AD_CHANNELS)]
    return {
        "attributed_paid_conversions": paid["conversions"].sum(),
        "attributed_paid_conversion_value_usd": paid["conversion_value"].sum(),
        "tracked_conversions": rows["conversions"].sum(),
        "tracked_conversion_value_usd": rows["conversion_value"].sum(),
    }


def test_each_workspace_sees_its_properties_credits_for_both_windows(tmp_path):
    serving = tmp_path / "serving"
    frames = build_all()
    publish(serving, frames, checksums=True)
    credits = frames[ATTRIBUTION_DAILY]
    previous_start, previous_end = previous_window(START, END)
    for workspace, index in (("acme", 0), ("globex", 1)):
        client = api_client(serving, tmp_path, workspace=workspace)
        body = client.get("/v1/overview", params={"start": START.isoformat(), "end": END.isoformat()}).json()
        attributed = body["attributed"]
        assert attributed["available"] is True and attributed["model"] == OVERVIEW_ATTRIBUTION_MODEL
        assert attributed["ad_channels"] == list(AD_CHANNELS)
        property_id = ACCOUNTS["web"][index]
        current = expected(credits, property_id, START, END)
        previous = expected(credits, property_id, previous_start, previous_end)
        for metric in attributed["metrics"]:
            name = metric["metric"]
            assert metric["platform_reported"] is False
            assert metric["current"] == pytest.approx(current[name], abs=5.1e-5), (workspace, name)
            assert metric["previous"] == pytest.approx(previous[name], abs=5.1e-5), (workspace, name)
            assert metric["change"] == pytest.approx(current[name] - previous[name], abs=1.1e-4), (workspace, name)
        # the ad channels' credit is part of every tracked conversion's
        by_name = {m["metric"]: m["current"] for m in attributed["metrics"]}
        assert 0 < by_name["attributed_paid_conversions"] < by_name["tracked_conversions"]
        # the platform-reported metrics are still there, labelled as such
        assert {m["metric"] for m in body["metrics"] if m["platform_reported"]} >= {"paid_conversions", "revenue_usd"}


def test_without_published_attribution_the_overview_answers_and_says_so(tmp_path):
    serving = tmp_path / "serving"
    frames = build_all()
    del frames[ATTRIBUTION_DAILY]
    publish(serving, frames, checksums=True)
    body = api_client(serving, tmp_path).get("/v1/overview").json()
    assert body["metrics"] and body["attributed"]["available"] is False
    assert ATTRIBUTION_DAILY in body["attributed"]["unavailable_reason"] and body["attributed"]["metrics"] == []


def test_a_manifest_without_checksums_cannot_pin_the_two_files_and_the_overview_answers_alone(tmp_path):
    # two unverified reads may come from two publishes: the attributed part is left out, with why
    serving = tmp_path / "serving"
    publish(serving, build_all(), checksums=False)
    body = api_client(serving, tmp_path).get("/v1/overview").json()
    assert body["metrics"] and body["attributed"]["available"] is False and body["attributed"]["metrics"] == []
    assert "same published snapshot" in body["attributed"]["unavailable_reason"]


def test_a_damaged_attribution_file_is_not_paired_with_the_current_overview(tmp_path):
    # its last verified copy may be of an older publish: the overview answers alone rather than mix the two
    serving = tmp_path / "serving"
    publish(serving, build_all(), checksums=True)
    client = api_client(serving, tmp_path)
    assert client.get("/v1/overview").json()["attributed"]["available"] is True  # verified copies now in memory
    publish(serving, build_all(2), generation=2, checksums=True)  # a new publish whose attribution file is damaged
    (serving / ATTRIBUTION_DAILY).write_bytes(b"not parquet")
    body = client.get("/v1/overview").json()
    assert body["metrics"] and body["attributed"]["available"] is False
    assert ATTRIBUTION_DAILY in body["attributed"]["unavailable_reason"]


def test_a_day_without_conversions_counts_zero_and_a_zero_previous_has_no_relative_change():
    day = date(2026, 3, 10)
    rows = [{"conversion_date": day, "channel": "google_ads", "conversions": 2.0, "conversion_value": 50.0},
            {"conversion_date": day, "channel": "linkedin_organic", "conversions": 1.0, "conversion_value": 10.0}]
    metrics = {m["metric"]: m for m in compute_attributed(rows, day, day)}
    assert metrics["attributed_paid_conversions"]["current"] == 2.0
    assert metrics["tracked_conversion_value_usd"]["current"] == 60.0
    assert metrics["tracked_conversions"]["previous"] == 0.0 and metrics["tracked_conversions"]["change"] == 3.0
    assert metrics["tracked_conversions"]["change_pct"] is None
    with pytest.raises(ValueError):
        compute_attributed(rows, day, day - timedelta(days=1))
