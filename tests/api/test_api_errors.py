"""Bad input gives a clear 4xx (never a 500); unpublished files give 404; broken files give 503."""

from __future__ import annotations

import pytest

from api_serving_data import ALL_MODELS, ORGANIC, PAID, api_client

ALL_PLATFORMS = ORGANIC + PAID


def _msg(r, field: str) -> str:
    """The validation message for one query field (FastAPI-style detail list)."""
    detail = r.json()["detail"]
    assert isinstance(detail, list), detail
    msgs = [d["msg"] for d in detail if d["loc"] == ["query", field]]
    assert len(msgs) == 1, detail
    return msgs[0]


def _lists_all(msg: str, values: list[str]) -> bool:
    return all(f"{v}," in msg or msg.endswith(v) for v in values)


# -- unknown platform / model ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["facebook", "LinkedIn", "", "twitter"])
def test_unknown_platform_on_rollups(client, value):
    r = client.get("/v1/rollups/daily", params={"platform": value})
    assert r.status_code == 422
    msg = _msg(r, "platform")
    assert f"'{value}'" in msg and _lists_all(msg, ALL_PLATFORMS)


@pytest.mark.parametrize("value", PAID + ["facebook"])
def test_optimal_hours_accepts_only_organic_platforms(client, value):
    r = client.get("/v1/optimal-hours", params={"platform": value})
    assert r.status_code == 422
    msg = _msg(r, "platform")
    assert _lists_all(msg, ORGANIC)
    assert not any(p in msg.split("Valid values:")[1] for p in PAID)
    if value in PAID:
        assert "ad platform" in msg


@pytest.mark.parametrize("value", ["shapley_value", "LINEAR", "", "markov-chain"])
def test_unknown_attribution_model(client, value):
    r = client.get("/v1/attribution", params={"model": value})
    assert r.status_code == 422
    msg = _msg(r, "model")
    assert "Unknown attribution model" in msg and _lists_all(msg, ALL_MODELS)


def test_attribution_model_is_required(client):
    r = client.get("/v1/attribution")
    assert r.status_code == 422
    msg = _msg(r, "model")
    assert "required" in msg and _lists_all(msg, ALL_MODELS)


@pytest.mark.parametrize("top", ["0", "25", "-1", "abc", "2.5"])
def test_top_out_of_range(client, top):
    r = client.get("/v1/optimal-hours", params={"top": top})
    assert r.status_code == 422
    assert "between 1 and 24" in _msg(r, "top")


# -- dates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, hint",
    [
        ("2024-13-01", "month must be in 1..12"),
        ("2024-02-30", "day is out of range"),
        ("yesterday", "YYYY-MM-DD"),
        ("20240501", "YYYY-MM-DD"),
        ("1714521600", "YYYY-MM-DD"),
        ("2024-05-01T00:00:00", "YYYY-MM-DD"),
        ("05/01/2024", "YYYY-MM-DD"),
    ],
)
@pytest.mark.parametrize("field", ["start", "end"])
def test_malformed_dates(client, field, value, hint):
    r = client.get("/v1/rollups/daily", params={field: value})
    assert r.status_code == 422
    msg = _msg(r, field)
    assert msg.startswith(f"{field}: ") and f"'{value}'" in msg and hint in msg


def test_start_after_end(client):
    r = client.get("/v1/rollups/daily", params={"start": "2024-05-10", "end": "2024-05-01"})
    assert r.status_code == 422
    assert _msg(r, "start") == "start (2024-05-10) must be on or before end (2024-05-01)"


# -- unpublished / broken serving files ------------------------------------------------------------

BOOST = "bst-linkedin-urn:li:organization:1001-1"
CAMPAIGN = ("google_ads", "go-1110001-0")
# Every data route and the serving files it reads. Each data file has at least one reader here.
DATA_REQUESTS = [
    ("/v1/optimal-hours", {}, {"optimal_hours.parquet"}),
    ("/v1/rollups/daily", {}, {"account_daily.parquet"}),
    ("/v1/platforms/comparison", {}, {"account_daily.parquet"}),
    ("/v1/overview", {}, {"overview_daily.parquet"}),
    ("/v1/attribution", {"model": "linear"}, {"attribution_daily.parquet"}),
    ("/v1/attribution", {"model": "markov"}, {"attribution_models.parquet"}),
    ("/v1/attribution/models", {}, {"attribution_models.parquet"}),
    ("/v1/accounts", {}, {"accounts.parquet"}),
    ("/v1/campaigns", {}, {"campaigns.parquet", "campaign_daily.parquet"}),
    ("/v1/campaigns/{}/{}".format(*CAMPAIGN), {}, {"campaigns.parquet", "campaign_daily.parquet"}),
    ("/v1/campaigns/{}/{}/daily".format(*CAMPAIGN), {}, {"campaigns.parquet", "campaign_daily.parquet"}),
    ("/v1/posts/top", {}, {"top_posts.parquet"}),
    ("/v1/engagement/heatmap", {}, {"engagement_heatmap.parquet"}),
    ("/v1/boosts", {}, {"boosts.parquet"}),
    (f"/v1/boosts/{BOOST}", {}, {"boosts.parquet", "boost_organic_vs_paid.parquet"}),
    ("/v1/recommendations", {}, {"recommendations.parquet"}),
    ("/v1/recommendations/performance", {}, {"recommendation_performance.parquet"}),
    ("/v1/insights", {}, {"insights.parquet"}),
    ("/v1/experiments", {}, {"experiments.parquet"}),
    ("/v1/content/hooks", {}, {"hook_success.parquet"}),
    ("/v1/content/performance", {}, {"content_performance.parquet"}),
    ("/v1/anomalies", {}, {"anomalies.parquet"}),
    ("/v1/forecasts", {}, {"forecasts.parquet"}),
]
DATA_FILES = sorted(set().union(*(files for _, _, files in DATA_REQUESTS)))


def readers(filename: str) -> list[tuple[str, dict]]:
    return [(path, params) for path, params, files in DATA_REQUESTS if filename in files]


def test_every_served_data_file_has_a_reader():
    from analytics_assets.contracts.serving import SERVED_TABLES

    assert set(DATA_FILES) == {t.file for t in SERVED_TABLES}


@pytest.mark.parametrize("path, params, files", DATA_REQUESTS)
def test_unpublished_files_give_404_with_instructions(empty_client, path, params, files):
    r = empty_client.get(path, params=params)
    assert r.status_code == 404
    detail = r.json()["detail"]
    assert any(f in detail for f in files) and "make demo" in detail and "serving_snapshot" in detail


def test_missing_serving_dir_gives_404_and_no_data(tmp_path):
    c = api_client(tmp_path / "does" / "not" / "exist", tmp_path)
    assert c.get("/v1/health").json()["status"] == "no_data"
    assert c.get("/v1/livez", headers={"Authorization": ""}).json() == {"status": "no_data"}
    assert c.get("/v1/rollups/daily").status_code == 404


@pytest.mark.parametrize("filename", DATA_FILES)
def test_one_missing_file_only_breaks_its_endpoints(make_client, publish_files, filename):
    publish_files()
    c = make_client()
    (c.app.state.settings.serving_dir / filename).unlink()
    for path, params, files in DATA_REQUESTS:
        r = c.get(path, params=params)
        if filename in files:
            assert r.status_code == 404 and filename in r.json()["detail"], (path, r.text)
        else:
            assert r.status_code == 200, (path, r.text)


def test_invalid_input_is_rejected_before_looking_for_files(empty_client):
    assert empty_client.get("/v1/attribution", params={"model": "nope"}).status_code == 422
    assert empty_client.get("/v1/rollups/daily", params={"start": "nope"}).status_code == 422


@pytest.mark.parametrize("filename", DATA_FILES)
def test_corrupt_file_gives_503_not_500(make_client, publish_files, filename):
    publish_files()
    c = make_client()
    (c.app.state.settings.serving_dir / filename).write_bytes(b"PAR1 this is not parquet")
    for path, params in readers(filename):
        r = c.get(path, params=params)
        assert r.status_code == 503, (path, r.text)
        assert filename in r.json()["detail"] and "serving_snapshot" in r.json()["detail"]


@pytest.mark.parametrize(
    "filename, column, path, params",
    [
        ("optimal_hours.parquet", "lift_vs_platform_mean", "/v1/optimal-hours", {}),
        ("account_daily.parquet", "scored_posts", "/v1/rollups/daily", {}),
        ("account_daily.parquet", "revenue_usd", "/v1/platforms/comparison", {}),
        ("account_daily.parquet", "account_id", "/v1/rollups/daily", {}),
        ("overview_daily.parquet", "ai_cost_usd", "/v1/overview", {}),
        ("attribution_daily.parquet", "conversion_value", "/v1/attribution", {"model": "linear"}),
        ("attribution_models.parquet", "window_start", "/v1/attribution", {"model": "shapley"}),
        ("attribution_models.parquet", "value", "/v1/attribution/models", {}),
        ("accounts.parquet", "first_seen_date", "/v1/accounts", {}),
        ("campaigns.parquet", "objective", "/v1/campaigns", {}),
        ("campaign_daily.parquet", "conversion_value_usd", "/v1/campaigns", {}),
        ("campaign_daily.parquet", "reach", "/v1/campaigns/{}/{}/daily".format(*CAMPAIGN), {}),
        ("top_posts.parquet", "engagement_rate", "/v1/posts/top", {}),
        ("engagement_heatmap.parquet", "engagement_rate_sum", "/v1/engagement/heatmap", {}),
        ("boosts.parquet", "organic_lift", "/v1/boosts", {}),
        ("boosts.parquet", "platform", "/v1/boosts", {}),
        ("boost_organic_vs_paid.parquet", "overlap_share", f"/v1/boosts/{BOOST}", {}),
    ],
)
def test_file_breaking_the_contract_gives_503(make_client, publish_files, filename, column, path, params):
    import pyarrow as pa
    import pyarrow.parquet as pq

    frames = publish_files()
    c = make_client()
    assert c.get(path, params=params).status_code == 200
    target = c.app.state.settings.serving_dir / filename
    pq.write_table(pa.Table.from_pandas(frames[filename].drop(columns=[column]), preserve_index=False), target)
    r = c.get(path, params=params)
    assert r.status_code == 503
    assert filename in r.json()["detail"] and column in r.json()["detail"]


@pytest.mark.parametrize(
    "filename, column, path, params",
    [
        ("attribution_daily.parquet", "conversion_date", "/v1/attribution", {"model": "linear"}),
        ("attribution_models.parquet", "window_end", "/v1/attribution/models", {}),
        ("overview_daily.parquet", "metric_date", "/v1/overview", {}),
        ("accounts.parquet", "last_seen_date", "/v1/accounts", {}),
        ("account_daily.parquet", "metric_date", "/v1/rollups/daily", {}),
        ("boosts.parquet", "flight_start_at", "/v1/boosts", {}),
        ("campaign_daily.parquet", "metric_date", "/v1/campaigns", {}),
    ],
)
def test_dates_outside_the_calendar_give_503_not_500(make_client, publish_files, filename, column, path, params):
    """A damaged file can hold a day of year 29349 (DuckDB returns such a value as text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from api_serving_data import to_table

    table = to_table(filename, publish_files()[filename])
    i = table.schema.get_field_index(column)
    far = (pa.array([10**7] * len(table), pa.int32()).cast(pa.date32()) if pa.types.is_date32(table.schema.field(i).type)
           else pa.array([2**62] * len(table), pa.int64()).cast(pa.timestamp("us")))
    c = make_client()
    pq.write_table(table.set_column(i, column, far), c.app.state.settings.serving_dir / filename)
    r = c.get(path, params=params)
    assert r.status_code == 503, r.text
    assert filename in r.json()["detail"]


@pytest.mark.parametrize("damage", ["pandas metadata", "account strings"])
def test_damaged_account_columns_give_503_not_500(make_client, publish_files, damage):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from api_serving_data import to_table

    table = to_table("account_daily.parquet", publish_files()["account_daily.parquet"])
    if damage == "pandas metadata":  # never used by the API: the file is still served
        table = table.replace_schema_metadata({b"pandas": b"\xff{"})
    else:  # invalid UTF-8
        table = table.set_column(table.schema.get_field_index("account_id"), "account_id", pa.array([b"\xffacme"] * len(table), pa.binary()).view(pa.string()))
    c = make_client()
    pq.write_table(table, c.app.state.settings.serving_dir / "account_daily.parquet")
    r = c.get("/v1/rollups/daily")
    if damage == "pandas metadata":
        assert r.status_code == 200 and r.json()["total"] > 0
    else:
        assert r.status_code == 503 and "account_daily.parquet" in r.json()["detail"]


def test_health_degraded_when_manifest_is_garbage(make_client, publish_files, serving_dir):
    publish_files()
    (serving_dir / "manifest.json").write_text("{not json")
    r = make_client().get("/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "degraded" and "manifest.json" in body["detail"]
    assert len(body["assets"]) == 5  # still reports what it can


def test_health_degraded_when_asset_status_missing(make_client, publish_files, serving_dir):
    publish_files()
    (serving_dir / "asset_status.parquet").unlink()
    body = make_client().get("/v1/health").json()
    assert body["status"] == "degraded" and "asset_status.parquet" in body["detail"]
    assert body["published_at"] is not None and body["assets"] == []
