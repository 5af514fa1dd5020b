"""Happy paths: every endpoint answers with schema-valid, correctly filtered and ordered data."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd
import pytest

from api.schemas import (
    AttributionResponse,
    DailyRollupsResponse,
    HealthResponse,
    OptimalHoursResponse,
)
from api_serving_data import MODELS, ORGANIC, PAID


def _utc(ts) -> datetime:
    return pd.Timestamp(ts).to_pydatetime().replace(tzinfo=timezone.utc)


# -- /health ---------------------------------------------------------------------------------------


def test_health_ok_lists_last_materialization_per_asset(client, published):
    r = client.get("/health")
    assert r.status_code == 200
    body = HealthResponse.model_validate(r.json())
    assert body.status == "ok"
    assert body.detail is None
    assert body.published_at == datetime(2024, 5, 15, 6, 1, 30, tzinfo=timezone.utc)
    assert body.files == {name: len(df) for name, df in published.items()}

    expected = published["asset_status.parquet"].sort_values("asset_key")
    assert [a.asset_key for a in body.assets] == list(expected["asset_key"])
    for asset, (_, row) in zip(body.assets, expected.iterrows()):
        assert asset.last_materialized_at == _utc(row["last_materialized_at"])
        assert asset.last_partition == row["last_partition"]
        assert asset.run_id == row["run_id"]
    # Timestamps are explicit UTC on the wire.
    assert r.json()["assets"][0]["last_materialized_at"].endswith("Z")
    assert any(a["last_partition"] is None for a in r.json()["assets"])


def test_health_keeps_latest_row_when_an_asset_appears_twice(make_client, publish_files):
    status = publish_files()["asset_status.parquet"]
    older = status[status.asset_key == "fct_post_metrics_daily"].copy()
    older["last_materialized_at"] = older["last_materialized_at"] - pd.Timedelta(days=1)
    older["run_id"] = "run-old"
    publish_files({"asset_status.parquet": pd.concat([older, status])}, manifest=False)

    client = make_client()
    assets = {a["asset_key"]: a for a in client.get("/health").json()["assets"]}
    assert len(assets) == len(status)
    assert assets["fct_post_metrics_daily"]["run_id"] == "run-0001"


def test_health_no_data_is_still_200(empty_client):
    r = empty_client.get("/health")
    assert r.status_code == 200
    body = HealthResponse.model_validate(r.json())
    assert body.status == "no_data"
    assert body.published_at is None and body.assets == []
    assert "make demo" in body.detail and "serving_snapshot" in body.detail


# -- /optimal-hours --------------------------------------------------------------------------------


def _expected_hours(df: pd.DataFrame, platform: str, top: int) -> list[int]:
    sub = df[df.platform == platform].sort_values("expected_engagement_score", ascending=False)
    return list(sub["publish_hour"][:top])


def test_optimal_hours_default_top3_for_every_organic_platform(client, published):
    r = client.get("/optimal-hours")
    assert r.status_code == 200
    body = OptimalHoursResponse.model_validate(r.json())
    assert body.top == 3 and body.platform is None
    assert [p.platform for p in body.platforms] == sorted(ORGANIC)
    df = published["optimal_hours.parquet"]
    for p in body.platforms:
        assert [h.rank for h in p.hours] == [1, 2, 3]
        assert [h.publish_hour for h in p.hours] == _expected_hours(df, p.platform, 3)
        scores = [h.expected_engagement_score for h in p.hours]
        assert scores == sorted(scores, reverse=True)
        assert all(h.lift_vs_platform_mean > 0 for h in p.hours)  # best hours beat the mean
        assert (p.model_name, p.model_version) == ("engagement_score_gbm", "v1")
        assert p.generated_at == datetime(2024, 5, 15, 6, 1, tzinfo=timezone.utc)
        src = df[(df.platform == p.platform) & (df.publish_hour == p.hours[0].publish_hour)].iloc[0]
        assert p.hours[0].expected_engagement_score == pytest.approx(src.expected_engagement_score)
        assert p.hours[0].lift_vs_platform_mean == pytest.approx(src.lift_vs_platform_mean)


@pytest.mark.parametrize("platform", ORGANIC)
@pytest.mark.parametrize("top", [1, 5, 24])
def test_optimal_hours_platform_and_top(client, published, platform, top):
    r = client.get("/optimal-hours", params={"platform": platform, "top": top})
    assert r.status_code == 200
    body = OptimalHoursResponse.model_validate(r.json())
    assert body.platform == platform and body.top == top
    assert [p.platform for p in body.platforms] == [platform]
    hours = body.platforms[0].hours
    assert [h.rank for h in hours] == list(range(1, top + 1))
    assert [h.publish_hour for h in hours] == _expected_hours(published["optimal_hours.parquet"], platform, top)
    if top == 24:
        assert sorted(h.publish_hour for h in hours) == list(range(24))


def test_optimal_hours_platform_without_rows_is_empty(make_client, publish_files):
    df = publish_files()["optimal_hours.parquet"]
    publish_files({"optimal_hours.parquet": df[df.platform != "tiktok"]}, manifest=False)
    r = make_client().get("/optimal-hours", params={"platform": "tiktok"})
    assert r.status_code == 200 and r.json()["platforms"] == []


# -- /rollups/daily --------------------------------------------------------------------------------


def _expected_rollups(df: pd.DataFrame, platform=None, start=None, end=None) -> list[tuple]:
    sub = df
    if platform:
        sub = sub[sub.platform == platform]
    if start:
        sub = sub[sub.metric_date >= start]
    if end:
        sub = sub[sub.metric_date <= end]
    sub = sub.sort_values(["metric_date", "platform"])
    return [(d.isoformat(), p) for d, p in zip(sub.metric_date, sub.platform)]


def _keys(body: dict) -> list[tuple]:
    return [(row["metric_date"], row["platform"]) for row in body["rows"]]


def test_rollups_all_rows_ordered_by_date_then_platform(client, published):
    r = client.get("/rollups/daily")
    assert r.status_code == 200
    body = DailyRollupsResponse.model_validate(r.json())
    df = published["platform_daily.parquet"]
    assert body.count == len(df) == len(body.rows)
    assert _keys(r.json()) == _expected_rollups(df)
    # Values survive the round trip; nulls stay nulls.
    src = df.set_index(["metric_date", "platform"])
    for row in body.rows:
        expected = src.loc[(row.metric_date, row.platform)]
        assert row.channel_type == expected.channel_type
        assert row.impressions == expected.impressions and row.posts == expected.posts
        assert row.spend_usd == pytest.approx(expected.spend_usd)
        assert row.ctr == pytest.approx(expected.ctr)
        if row.channel_type == "paid":
            assert row.avg_engagement_score is None
        else:
            assert row.avg_engagement_score == pytest.approx(expected.avg_engagement_score)
            assert row.roas is None
    paused = [row for row in body.rows if row.platform == "linkedin_ads" and row.spend_usd == 0]
    assert paused and all(row.roas is None for row in paused)


@pytest.mark.parametrize("platform", ORGANIC + PAID)
def test_rollups_platform_filter(client, published, platform):
    r = client.get("/rollups/daily", params={"platform": platform})
    assert r.status_code == 200
    assert _keys(r.json()) == _expected_rollups(published["platform_daily.parquet"], platform=platform)
    assert {row["channel_type"] for row in r.json()["rows"]} == {"paid" if platform in PAID else "organic"}


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2024-05-03", "end": "2024-05-05"},
        {"start": "2024-05-04", "end": "2024-05-04"},
        {"start": "2024-05-08"},
        {"end": "2024-05-02"},
        {"platform": "meta_ads", "start": "2024-05-02", "end": "2024-05-06"},
    ],
)
def test_rollups_inclusive_date_range(client, published, params):
    r = client.get("/rollups/daily", params=params)
    assert r.status_code == 200
    body = r.json()
    start = date.fromisoformat(params["start"]) if "start" in params else None
    end = date.fromisoformat(params["end"]) if "end" in params else None
    expected = _expected_rollups(published["platform_daily.parquet"], params.get("platform"), start, end)
    assert expected, "test data should cover the range"
    assert _keys(body) == expected and body["count"] == len(expected)
    assert body["start"] == params.get("start") and body["end"] == params.get("end")


def test_rollups_range_without_rows_is_empty(client):
    r = client.get("/rollups/daily", params={"start": "2030-01-01", "end": "2030-12-31"})
    assert r.status_code == 200
    assert r.json()["rows"] == [] and r.json()["count"] == 0


def test_rollups_nan_and_inf_in_file_are_null_not_500(make_client, publish_files, serving_dir):
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = publish_files()["platform_daily.parquet"]
    table = pa.Table.from_pandas(df, preserve_index=False)
    # Real NaN/inf values (pandas->arrow would have turned NaN into nulls), non-atomic on purpose.
    bad = pa.array([float("nan"), float("inf")] * (len(df) // 2) + [float("nan")] * (len(df) % 2),
                   type=pa.float64(), from_pandas=False)
    assert bad.null_count == 0
    table = table.set_column(table.schema.get_field_index("ctr"), "ctr", bad)
    pq.write_table(table, serving_dir / "platform_daily.parquet")
    r = make_client().get("/rollups/daily", params={"platform": "x"})
    assert r.status_code == 200
    assert r.json()["rows"] and {row["ctr"] for row in r.json()["rows"]} == {None}


# -- /attribution ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_attribution_ordered_by_conversions_with_totals(client, published, model):
    r = client.get("/attribution", params={"model": model})
    assert r.status_code == 200
    body = AttributionResponse.model_validate(r.json())
    df = published["attribution.parquet"]
    expected = df[df.model == model].sort_values("conversions", ascending=False)
    assert body.model == model
    assert [c.channel for c in body.channels] == list(expected["channel"])
    assert [c.conversions for c in body.channels] == pytest.approx(list(expected["conversions"]))
    assert [c.share for c in body.channels] == pytest.approx(list(expected["share"]))
    assert body.total_conversions == pytest.approx(expected["conversions"].sum())
    assert body.total_conversion_value == pytest.approx(expected["conversion_value"].sum())
    assert sum(c.share for c in body.channels) == pytest.approx(1.0)
