"""Bad input gives a clear 4xx (never a 500); unpublished files give 404; broken files give 503."""

from __future__ import annotations

import pytest

from api_serving_data import MODELS, ORGANIC, PAID

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
    r = client.get("/rollups/daily", params={"platform": value})
    assert r.status_code == 422
    msg = _msg(r, "platform")
    assert f"'{value}'" in msg and _lists_all(msg, ALL_PLATFORMS)


@pytest.mark.parametrize("value", PAID + ["facebook"])
def test_optimal_hours_accepts_only_organic_platforms(client, value):
    r = client.get("/optimal-hours", params={"platform": value})
    assert r.status_code == 422
    msg = _msg(r, "platform")
    assert _lists_all(msg, ORGANIC)
    assert not any(p in msg.split("Valid values:")[1] for p in PAID)
    if value in PAID:
        assert "ad platform" in msg


@pytest.mark.parametrize("value", ["shapley", "LINEAR", ""])
def test_unknown_attribution_model(client, value):
    r = client.get("/attribution", params={"model": value})
    assert r.status_code == 422
    msg = _msg(r, "model")
    assert "Unknown attribution model" in msg and _lists_all(msg, MODELS)


def test_attribution_model_is_required(client):
    r = client.get("/attribution")
    assert r.status_code == 422
    msg = _msg(r, "model")
    assert "required" in msg and _lists_all(msg, MODELS)


@pytest.mark.parametrize("top", ["0", "25", "-1", "abc", "2.5"])
def test_top_out_of_range(client, top):
    r = client.get("/optimal-hours", params={"top": top})
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
    r = client.get("/rollups/daily", params={field: value})
    assert r.status_code == 422
    msg = _msg(r, field)
    assert msg.startswith(f"{field}: ") and f"'{value}'" in msg and hint in msg


def test_start_after_end(client):
    r = client.get("/rollups/daily", params={"start": "2024-05-10", "end": "2024-05-01"})
    assert r.status_code == 422
    assert _msg(r, "start") == "start (2024-05-10) must be on or before end (2024-05-01)"


# -- unpublished / broken serving files ------------------------------------------------------------

DATA_REQUESTS = [
    ("/optimal-hours", {}, "optimal_hours.parquet"),
    ("/rollups/daily", {}, "platform_daily.parquet"),
    ("/attribution", {"model": "linear"}, "attribution.parquet"),
]


@pytest.mark.parametrize("path, params, filename", DATA_REQUESTS)
def test_unpublished_files_give_404_with_instructions(empty_client, path, params, filename):
    r = empty_client.get(path, params=params)
    assert r.status_code == 404
    detail = r.json()["detail"]
    assert filename in detail and "make demo" in detail and "serving_snapshot" in detail


def test_missing_serving_dir_gives_404_and_no_data(tmp_path):
    from fastapi.testclient import TestClient

    from api.main import create_app

    c = TestClient(create_app(tmp_path / "does" / "not" / "exist"))
    assert c.get("/health").json()["status"] == "no_data"
    assert c.get("/rollups/daily").status_code == 404


@pytest.mark.parametrize("path, params, filename", DATA_REQUESTS)
def test_one_missing_file_only_breaks_its_endpoint(make_client, publish_files, path, params, filename):
    publish_files()
    c = make_client()
    (c.app.state.settings.serving_dir / filename).unlink()
    assert c.get(path, params=params).status_code == 404
    for other, other_params, other_file in DATA_REQUESTS:
        if other_file != filename:
            assert c.get(other, params=other_params).status_code == 200


def test_invalid_input_is_rejected_before_looking_for_files(empty_client):
    assert empty_client.get("/attribution", params={"model": "nope"}).status_code == 422
    assert empty_client.get("/rollups/daily", params={"start": "nope"}).status_code == 422


@pytest.mark.parametrize("path, params, filename", DATA_REQUESTS)
def test_corrupt_file_gives_503_not_500(make_client, publish_files, path, params, filename):
    publish_files()
    c = make_client()
    (c.app.state.settings.serving_dir / filename).write_bytes(b"PAR1 this is not parquet")
    r = c.get(path, params=params)
    assert r.status_code == 503
    assert filename in r.json()["detail"] and "serving_snapshot" in r.json()["detail"]


@pytest.mark.parametrize(
    "filename, column, path, params",
    [
        ("optimal_hours.parquet", "lift_vs_platform_mean", "/optimal-hours", {}),
        ("platform_daily.parquet", "roas", "/rollups/daily", {}),
        ("attribution.parquet", "share", "/attribution", {"model": "linear"}),
    ],
)
def test_file_breaking_the_contract_gives_503(make_client, publish_files, filename, column, path, params):
    import pyarrow as pa
    import pyarrow.parquet as pq

    frames = publish_files()
    c = make_client()
    target = c.app.state.settings.serving_dir / filename
    pq.write_table(pa.Table.from_pandas(frames[filename].drop(columns=[column]), preserve_index=False), target)
    r = c.get(path, params=params)
    assert r.status_code == 503
    assert filename in r.json()["detail"] and column in r.json()["detail"]


def test_health_degraded_when_manifest_is_garbage(make_client, publish_files, serving_dir):
    publish_files()
    (serving_dir / "manifest.json").write_text("{not json")
    r = make_client().get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "degraded" and "manifest.json" in body["detail"]
    assert len(body["assets"]) == 5  # still reports what it can


def test_health_degraded_when_asset_status_missing(make_client, publish_files, serving_dir):
    publish_files()
    (serving_dir / "asset_status.parquet").unlink()
    body = make_client().get("/health").json()
    assert body["status"] == "degraded" and "asset_status.parquet" in body["detail"]
    assert body["published_at"] is not None and body["assets"] == []
