"""Happy paths: every endpoint answers with schema-valid, correctly filtered and ordered data.

The served files hold one row per account (``api_serving_data``); the expectations here sum them the way
the API must: per (metric_date, platform, channel_type) for the rollups, with the ratios recomputed from
the sums, and compare with the API's rounding (money and fractional counts to 2 decimals, rates to 4)."""

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
from api_serving_data import ALL_MODELS, MODELS, ORGANIC, PAID

ROLLUPS = "/v1/rollups/daily"


def _utc(ts) -> datetime:
    return pd.Timestamp(ts).to_pydatetime().replace(tzinfo=timezone.utc)


def assert_rounded(got, want, digits: int, what: object = None) -> None:
    """``got`` is ``want`` as the API rounds it: to ``digits`` decimals (null stays null)."""
    if want is None:
        assert got is None, what
        return
    assert got is not None, what
    assert got == round(got, digits), (what, got)  # rounded on the wire
    assert abs(got - want) <= 0.5 * 10**-digits + 1e-9, (what, got, want)


def _none(v):
    return None if v is None or pd.isna(v) else v


# -- /health ---------------------------------------------------------------------------------------


def test_health_ok_lists_last_materialization_per_asset(client, published):
    r = client.get("/v1/health")
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
    assets = {a["asset_key"]: a for a in client.get("/v1/health").json()["assets"]}
    assert len(assets) == len(status)
    assert assets["fct_post_metrics_daily"]["run_id"] == "run-0001"


def test_health_no_data_is_still_200(empty_client):
    r = empty_client.get("/v1/health")
    assert r.status_code == 200
    body = HealthResponse.model_validate(r.json())
    assert body.status == "no_data"
    assert body.published_at is None and body.assets == []
    assert "make demo" in body.detail and "serving_snapshot" in body.detail


# -- the 0.1 paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, params",
    [
        ("/health", {}),
        ("/optimal-hours", {"top": 5}),
        ("/rollups/daily", {"platform": "x"}),
        ("/attribution", {"model": "linear"}),
        ("/overview", {}),
    ],
)
def test_unversioned_paths_answer_like_their_v1_twins(client, path, params):
    old, new = client.get(path, params=params), client.get("/v1" + path, params=params)
    assert old.status_code == new.status_code == 200
    assert old.json() == new.json()


# -- /optimal-hours --------------------------------------------------------------------------------


def _expected_hours(df: pd.DataFrame, platform: str, top: int) -> list[int]:
    sub = df[df.platform == platform]
    # the platform's model output, repeated once per account: every account carries the same hours
    per_account = {tuple(g.sort_values("rank")["publish_hour"]) for _, g in sub.groupby("account_id")}
    assert len(per_account) == 1 and sub.account_id.nunique() == 2
    one = sub[sub.account_id == sub.account_id.min()].sort_values("expected_engagement_score", ascending=False)
    return list(one["publish_hour"][:top])


def test_optimal_hours_default_top3_for_every_organic_platform(client, published):
    r = client.get("/v1/optimal-hours")
    assert r.status_code == 200
    body = OptimalHoursResponse.model_validate(r.json())
    assert body.top == 3 and body.platform is None
    assert [p.platform for p in body.platforms] == sorted(ORGANIC)
    df = published["optimal_hours.parquet"]
    for p, raw_p in zip(body.platforms, r.json()["platforms"]):
        assert [h.rank for h in p.hours] == [1, 2, 3]
        assert [h.publish_hour for h in p.hours] == _expected_hours(df, p.platform, 3)
        scores = [h.expected_engagement_score for h in p.hours]
        assert scores == sorted(scores, reverse=True)
        assert all(h.lift_vs_platform_mean > 0 for h in p.hours)  # best hours beat the mean
        assert (p.model_name, p.model_version) == ("engagement_score_gbm", "v1")
        assert p.generated_at == datetime(2024, 5, 15, 6, 1, tzinfo=timezone.utc)
        for raw, hour in zip(raw_p["hours"], p.hours):
            src = df[(df.platform == p.platform) & (df.publish_hour == hour.publish_hour)]
            assert src.expected_engagement_score.nunique() == 1  # the same for every account
            src = src.iloc[0]
            assert_rounded(raw["expected_engagement_score"], src.expected_engagement_score, 2, hour)
            assert_rounded(raw["lift_vs_platform_mean"], src.lift_vs_platform_mean, 4, hour)


@pytest.mark.parametrize("platform", ORGANIC)
@pytest.mark.parametrize("top", [1, 5, 24])
def test_optimal_hours_platform_and_top(client, published, platform, top):
    r = client.get("/v1/optimal-hours", params={"platform": platform, "top": top})
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
    r = make_client().get("/v1/optimal-hours", params={"platform": "tiktok"})
    assert r.status_code == 200 and r.json()["platforms"] == []


# -- /rollups/daily --------------------------------------------------------------------------------

ROLLUP_KEYS = ["metric_date", "platform", "channel_type"]
ROLLUP_SUMS = ["posts", "impressions", "engagements", "clicks", "engagement_score_sum", "scored_posts",
               "spend_usd", "conversions", "revenue_usd"]
# rollup column -> decimals of the API's rounding (None: an integer, exact)
ROLLUP_COLUMNS = {"posts": None, "impressions": None, "engagements": None, "clicks": None,
                  "avg_engagement_score": 2, "spend_usd": 2, "conversions": 2, "revenue_usd": 2, "ctr": 4, "roas": 4}


def expected_rollups(df: pd.DataFrame, platform=None, start=None, end=None) -> list[dict]:
    """The rollup rows of account_daily ``df``: the accounts summed per day, platform and channel type
    (SQL sums: null when every value is null), ratios of the sums; ordered like the API."""
    sub = df
    if platform:
        sub = sub[sub.platform == platform]
    if start:
        sub = sub[sub.metric_date >= start]
    if end:
        sub = sub[sub.metric_date <= end]
    sums = sub.groupby(ROLLUP_KEYS)[ROLLUP_SUMS].sum(min_count=1).reset_index().sort_values(ROLLUP_KEYS)
    rows = []
    for r in sums.to_dict("records"):
        r = {k: _none(v) for k, v in r.items()}
        spend, revenue = r["spend_usd"], r["revenue_usd"]
        rows.append({
            "metric_date": r["metric_date"].isoformat(), "platform": r["platform"], "channel_type": r["channel_type"],
            **{c: None if r[c] is None else int(r[c]) for c in ("posts", "impressions", "engagements", "clicks")},
            "avg_engagement_score": r["engagement_score_sum"] / r["scored_posts"]
            if r["engagement_score_sum"] is not None and r["scored_posts"] else None,
            "spend_usd": spend, "conversions": r["conversions"], "revenue_usd": revenue,
            "ctr": r["clicks"] / r["impressions"] if r["impressions"] else None,
            "roas": revenue / spend if spend is not None and spend > 0 and revenue is not None else None,
        })
    return rows


def _keys(rows: list[dict]) -> list[tuple]:
    return [(row["metric_date"], row["platform"], row["channel_type"]) for row in rows]


def assert_rollups(got: list[dict], want: list[dict]) -> None:
    assert _keys(got) == _keys(want)
    for g, w in zip(got, want):
        for column, digits in ROLLUP_COLUMNS.items():
            if digits is None:
                assert g[column] == w[column], (column, g)
            else:
                assert_rounded(g[column], w[column], digits, (column, _keys([g])))


def test_rollups_all_rows_ordered_by_date_then_platform(client, published):
    r = client.get(ROLLUPS)
    assert r.status_code == 200
    body = DailyRollupsResponse.model_validate(r.json())
    df = published["account_daily.parquet"]
    expected = expected_rollups(df)
    assert len(expected) == df.metric_date.nunique() * 7 < 100  # one page
    assert body.count == body.total == len(expected) == len(body.rows) and body.next_cursor is None
    # Values are the sums over the accounts, ratios of the sums; nulls stay nulls.
    assert_rollups(r.json()["rows"], expected)
    for row in body.rows:
        if row.channel_type == "paid":
            assert row.avg_engagement_score is None
        else:
            assert row.avg_engagement_score is not None
            assert row.roas is None and row.conversions is None and row.revenue_usd is None
    paused = [row for row in body.rows if row.platform == "linkedin_ads" and row.spend_usd == 0]
    assert paused and all(row.roas is None for row in paused)


def test_rollups_pages_walk_every_row_once(client, published):
    whole = client.get(ROLLUPS).json()
    rows, cursor, pages = [], None, 0
    while True:
        page = client.get(ROLLUPS, params={"limit": 10, **({"cursor": cursor} if cursor else {})}).json()
        assert page["total"] == whole["total"] and page["count"] == len(page["rows"]) <= 10
        rows += page["rows"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert rows == whole["rows"] and pages == -(-whole["total"] // 10)


@pytest.mark.parametrize("platform", ORGANIC + PAID)
def test_rollups_platform_filter(client, published, platform):
    r = client.get(ROLLUPS, params={"platform": platform})
    assert r.status_code == 200
    assert_rollups(r.json()["rows"], expected_rollups(published["account_daily.parquet"], platform=platform))
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
    r = client.get(ROLLUPS, params=params)
    assert r.status_code == 200
    body = r.json()
    start = date.fromisoformat(params["start"]) if "start" in params else None
    end = date.fromisoformat(params["end"]) if "end" in params else None
    expected = expected_rollups(published["account_daily.parquet"], params.get("platform"), start, end)
    assert expected, "test data should cover the range"
    assert_rollups(body["rows"], expected)
    assert body["count"] == body["total"] == len(expected)
    assert body["start"] == params.get("start") and body["end"] == params.get("end")


def test_rollups_range_without_rows_is_empty(client):
    r = client.get(ROLLUPS, params={"start": "2030-01-01", "end": "2030-12-31"})
    assert r.status_code == 200
    assert r.json()["rows"] == [] and r.json()["count"] == r.json()["total"] == 0


def test_rollups_nan_and_inf_in_file_are_null_not_500(make_client, publish_files, serving_dir):
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = publish_files()["account_daily.parquet"]
    table = pa.Table.from_pandas(df, preserve_index=False)
    # Real NaN/inf values (pandas->arrow would have turned NaN into nulls), non-atomic on purpose.
    bad = pa.array([float("nan"), float("inf")] * (len(df) // 2) + [float("nan")] * (len(df) % 2),
                   type=pa.float64(), from_pandas=False)
    assert bad.null_count == 0
    for column in ("engagement_score_sum", "spend_usd"):
        table = table.set_column(table.schema.get_field_index(column), column, bad)
    pq.write_table(table, serving_dir / "account_daily.parquet")
    r = make_client().get(ROLLUPS, params={"platform": "x"})
    assert r.status_code == 200
    rows = r.json()["rows"]
    assert rows and {row["avg_engagement_score"] for row in rows} == {None}
    assert {row["spend_usd"] for row in rows} == {None}


# -- /attribution ----------------------------------------------------------------------------------


def expected_attribution(frames: dict[str, pd.DataFrame], model: str, start=None, end=None) -> dict:
    """The answer of /attribution for ``model``: a rule-based model sums attribution_daily over the
    window's conversion days and the properties; markov/shapley sum attribution_models (their window)."""
    if model in MODELS:
        df = frames["attribution_daily.parquet"]
        sub = df[df.model == model]
        if start:
            sub = sub[sub.conversion_date >= start]
        if end:
            sub = sub[sub.conversion_date <= end]
        first, last = sub.conversion_date.min(), sub.conversion_date.max()
        sums = sub.groupby("channel")[["conversions", "conversion_value"]].sum()
    else:
        df = frames["attribution_models.parquet"]
        sub = df[df.model == model]
        first, last = sub.window_start.min(), sub.window_end.max()
        sums = sub.groupby("channel")[["conversions", "value"]].sum().rename(columns={"value": "conversion_value"})
    sums = sums.reset_index().sort_values(["conversions", "channel"], ascending=[False, True])
    total = float(sums.conversions.sum())
    return {
        "start": first.isoformat(), "end": last.isoformat(),
        "total_conversions": total, "total_conversion_value": float(sums.conversion_value.sum()),
        "channels": [(c.channel, c.conversions, c.conversion_value, c.conversions / total) for c in sums.itertuples()],
    }


def assert_attribution(body: dict, want: dict) -> None:
    assert (body["start"], body["end"]) == (want["start"], want["end"])
    assert [c["channel"] for c in body["channels"]] == [c[0] for c in want["channels"]]
    for got, (channel, conversions, value, share) in zip(body["channels"], want["channels"]):
        assert_rounded(got["conversions"], conversions, 2, channel)
        assert_rounded(got["conversion_value"], value, 2, channel)
        assert_rounded(got["share"], share, 4, channel)
    assert_rounded(body["total_conversions"], want["total_conversions"], 2)
    assert_rounded(body["total_conversion_value"], want["total_conversion_value"], 2)


@pytest.mark.parametrize("model", ALL_MODELS)
def test_attribution_ordered_by_conversions_with_totals(client, published, model):
    r = client.get("/v1/attribution", params={"model": model})
    assert r.status_code == 200
    body = AttributionResponse.model_validate(r.json())
    assert body.model == model
    assert len(body.channels) == 7
    assert_attribution(r.json(), expected_attribution(published, model))
    assert sum(c.share for c in body.channels) == pytest.approx(1.0, abs=7 * 0.00005)


@pytest.mark.parametrize(
    "start, end", [(date(2024, 5, 3), date(2024, 5, 5)), (date(2024, 5, 4), date(2024, 5, 4)), (date(2024, 5, 9), None)]
)
@pytest.mark.parametrize("model", MODELS)
def test_attribution_rule_based_models_sum_any_window(client, published, model, start, end):
    params = {"model": model, "start": start.isoformat(), **({"end": end.isoformat()} if end else {})}
    r = client.get("/v1/attribution", params=params)
    assert r.status_code == 200
    want = expected_attribution(published, model, start, end)
    want["start"] = start.isoformat()  # the window asked for
    if end is not None:
        want["end"] = end.isoformat()
    assert_attribution(r.json(), want)


@pytest.mark.parametrize("model", ["markov", "shapley"])
def test_attribution_data_driven_models_answer_for_their_modelled_window_only(client, published, model):
    want = expected_attribution(published, model)
    exact = client.get("/v1/attribution", params={"model": model, "start": want["start"], "end": want["end"]})
    assert exact.status_code == 200
    assert_attribution(exact.json(), want)
    other = client.get("/v1/attribution", params={"model": model, "start": "2024-05-03"})
    assert other.status_code == 422
    assert "modelled window" in other.json()["detail"][0]["msg"]
