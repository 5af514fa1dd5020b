"""``/v1/anomalies`` and ``/v1/forecasts`` over the shared published snapshot (api_serving_data.build_series_files):
a campaign's rows belong to its ad account, a platform's organic total to every account of the platform, so a
key sees a platform's rows only when its workspace owns all of them (the ``default`` key), and never the other
workspace's campaigns (``acme`` / ``globex``); the filters, the pagination, the 422s on bad filters; and
``/v1/health`` naming why an asset skipped."""

from __future__ import annotations

import typing

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from api.schemas import ANOMALY_SEVERITIES, AnomalyKind, SeriesMetric
from api_serving_data import ORGANIC, WORKSPACES, accounts_of, api_client, build_all, publish


@pytest.fixture(scope="module")
def split_clients(_shared, tmp_path_factory):
    """A client per workspace of the split registry (acme and globex own one account of each platform)."""
    state = tmp_path_factory.mktemp("series_split")
    return {w: api_client(_shared[0], state, workspace=w) for w in WORKSPACES}


def _all(client, path: str, **params) -> list[dict]:
    """Every row of a list route, page after page (the cursor walk)."""
    rows, cursor = [], None
    while True:
        body = client.get(path, params={**params, "limit": 7, **({"cursor": cursor} if cursor else {})})
        assert body.status_code == 200, body.text
        doc = body.json()
        rows += doc["items"]
        cursor = doc["next_cursor"]
        if cursor is None:
            assert len(rows) == doc["total"]
            return rows


def _expected(frame: pd.DataFrame, owned: set[tuple[str, str]], identity: list[str]) -> pd.DataFrame:
    """What a workspace owning ``owned`` may read: its campaigns' rows, and a platform's rows (once, no account)
    only when it owns every account they were published to."""
    frame = frame.copy()
    frame["mine"] = [(p, a) in owned for p, a in zip(frame["platform"], frame["account_id"])]
    campaigns = frame[(frame["entity_type"] == "campaign") & frame["mine"]]
    platform = frame[frame["entity_type"] == "platform"]
    whole = platform.groupby(identity)["mine"].transform("all")
    platform = platform[whole].drop_duplicates(identity).assign(account_id=None)
    return pd.concat([campaigns, platform], ignore_index=True)


def _keys(rows, identity: list[str]) -> set[tuple]:
    return {tuple(str(r[c]) for c in identity) for r in rows}


def _frame_keys(frame: pd.DataFrame, identity: list[str]) -> set[tuple]:
    return {tuple(str(v.date() if isinstance(v, pd.Timestamp) else v) for v in row) for row in frame[identity].itertuples(index=False)}


# ---------------------------------------------------------------------------------------------- anomalies

ANOMALY_ID = ["series_id", "metric_date"]


def test_the_vocabulary_is_the_detectors():
    from ml.anomalies import KINDS, SERIES, SEVERITIES

    assert set(typing.get_args(AnomalyKind)) == set(KINDS)
    assert set(ANOMALY_SEVERITIES) == set(SEVERITIES)
    assert set(typing.get_args(SeriesMetric)) == set(SERIES)


def test_a_workspace_owning_every_account_reads_each_anomaly_once(client, published):
    rows = _all(client, "/v1/anomalies")
    frame = published["anomalies.parquet"]
    expected = _expected(frame, set(accounts_of()), ANOMALY_ID)
    assert len(rows) == len(expected) == len(frame.drop_duplicates(ANOMALY_ID))
    assert _keys(rows, ANOMALY_ID) == _frame_keys(expected, ANOMALY_ID)
    assert [r["metric_date"] for r in rows] == sorted((r["metric_date"] for r in rows), reverse=True)  # latest first
    platform_rows = [r for r in rows if r["entity_type"] == "platform"]
    assert len(platform_rows) == len(ORGANIC)  # one viral spike per organic platform, once each
    assert all(r["account_id"] is None and r["kind"] == "viral_spike" for r in platform_rows)
    spike = next(r for r in rows if r["kind"] == "spend_spike")
    source = frame[(frame["series_id"] == spike["series_id"])].iloc[0]
    assert spike["observed"] == round(source["observed"], 2) and spike["expected_high"] == round(source["expected_high"], 2)
    assert spike["observed"] > spike["expected_high"] and spike["account_id"] == source["account_id"]


@pytest.mark.parametrize("workspace", list(WORKSPACES))
def test_another_workspaces_key_sees_none_of_its_rows(split_clients, published, workspace):
    owned = set(accounts_of(workspace))
    rows = _all(split_clients[workspace], "/v1/anomalies")
    expected = _expected(published["anomalies.parquet"], owned, ANOMALY_ID)
    assert _keys(rows, ANOMALY_ID) == _frame_keys(expected, ANOMALY_ID) and rows
    # only its own campaigns: no other workspace's account, and no platform total (the other one owns half of it)
    assert all(r["entity_type"] == "campaign" and (r["platform"], r["account_id"]) in owned for r in rows)
    forecasts = _all(split_clients[workspace], "/v1/forecasts")
    assert forecasts and all(r["entity_type"] == "campaign" and (r["platform"], r["account_id"]) in owned for r in forecasts)
    other = next(w for w in WORKSPACES if w != workspace)
    theirs = next(f"go-{a}-0" for p, a in accounts_of(other) if p == "google_ads")  # one of their campaigns
    assert split_clients[workspace].get("/v1/anomalies", params={"campaign_id": theirs}).json()["total"] == 0


def test_the_anomaly_filters(client, published):
    everything = _all(client, "/v1/anomalies")
    by = lambda **params: _all(client, "/v1/anomalies", **params)  # noqa: E731
    assert {r["platform"] for r in by(platform="meta_ads")} == {"meta_ads"}
    campaign = everything[0]["campaign_id"] or next(r["campaign_id"] for r in everything if r["campaign_id"])
    assert {r["campaign_id"] for r in by(campaign_id=campaign)} == {campaign}
    outages = by(kind="tracking_outage")
    assert outages and {r["kind"] for r in outages} == {"tracking_outage"} and {r["severity"] for r in outages} == {"critical"}
    assert all(r["observed"] < r["expected_low"] for r in outages)
    high = by(min_severity="high")
    assert {r["severity"] for r in high} == {"high", "critical"}
    assert len(high) == sum(r["severity"] != "medium" for r in everything) < len(everything)
    assert len(by(min_severity="medium")) == len(everything)
    assert {r["metric"] for r in by(metric="impressions")} == {"impressions"}
    days = sorted({r["metric_date"] for r in everything})
    window = by(start=days[1], end=days[2])
    assert window and {r["metric_date"] for r in window} <= {days[1], days[2]}
    assert len(window) == sum(days[1] <= r["metric_date"] <= days[2] for r in everything)


@pytest.mark.parametrize(
    "path, params, field",
    [
        ("/v1/anomalies", {"min_severity": "low"}, "min_severity"),
        ("/v1/anomalies", {"kind": "spike"}, "kind"),
        ("/v1/anomalies", {"metric": "revenue"}, "metric"),
        ("/v1/anomalies", {"platform": "myspace"}, "platform"),
        ("/v1/anomalies", {"start": "2024-05-10", "end": "2024-05-01"}, "start"),
        ("/v1/anomalies", {"start": "yesterday"}, "start"),
        ("/v1/anomalies", {"campaign_id": ""}, "campaign_id"),
        ("/v1/anomalies", {"campaign_id": "x" * 201}, "campaign_id"),
        ("/v1/anomalies", {"limit": 0}, "limit"),
        ("/v1/anomalies", {"cursor": "not-a-cursor"}, "cursor"),
        ("/v1/forecasts", {"metric": "ctr"}, "metric"),
        ("/v1/forecasts", {"platform": "' OR 1=1 --"}, "platform"),
        ("/v1/forecasts", {"limit": 5000}, "limit"),
    ],
)
def test_bad_filters_are_422_with_the_parameter_named(client, path, params, field):
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    assert any(d["loc"][-1] == field for d in r.json()["detail"]), r.json()


def test_hostile_ids_find_nothing_and_never_fail(client):
    for hostile in ("' OR 1=1 --", "go-1110001-0'; drop table src; --", "%", "\u202e\u0000x"):
        for path in ("/v1/anomalies", "/v1/forecasts"):
            r = client.get(path, params={"campaign_id": hostile})
            assert r.status_code in (200, 422), r.text
            if r.status_code == 200:
                assert r.json()["total"] == 0


# ---------------------------------------------------------------------------------------------- forecasts

FORECAST_ID = ["series_id", "horizon"]


def test_forecasts_seven_days_ahead_with_nested_intervals(client, published):
    body = client.get("/v1/forecasts", params={"limit": 1000}).json()
    rows = body["items"]
    frame = published["forecasts.parquet"]
    expected = _expected(frame, set(accounts_of()), ["series_id", "origin_date", "horizon"])
    assert body["total"] == len(rows) == len(expected)
    assert _keys(rows, FORECAST_ID) == _frame_keys(expected, FORECAST_ID)
    origin = pd.Timestamp(frame["origin_date"].max()).date()
    assert body["origin_date"] == origin.isoformat() and {r["origin_date"] for r in rows} == {origin.isoformat()}
    for series, group in pd.DataFrame(rows).groupby("series_id"):
        assert list(group["horizon"]) == list(range(1, 8)), series
        assert list(group["forecast_date"]) == [(origin + pd.Timedelta(days=h)).isoformat() for h in range(1, 8)]
    assert all(r["lo_95"] <= r["lo_80"] <= r["forecast"] <= r["hi_80"] <= r["hi_95"] for r in rows)
    assert all(r["model"] and r["forecast"] == round(r["forecast"], 2) for r in rows)
    assert {r["account_id"] for r in rows if r["entity_type"] == "platform"} == {None}


def test_the_forecast_filters(client):
    def by(**params):
        return client.get("/v1/forecasts", params={"limit": 1000, **params}).json()["items"]

    assert {r["platform"] for r in by(platform="linkedin")} == {"linkedin"}
    assert {(r["campaign_id"], r["metric"]) for r in by(campaign_id="go-1110001-0")} == {
        ("go-1110001-0", "spend"), ("go-1110001-0", "conversions")
    }
    assert {r["metric"] for r in by(metric="conversions")} == {"conversions"}
    assert by(campaign_id="no-such-campaign") == []


def test_an_empty_forecast_file_answers_no_forecasts(make_client, publish_files):
    frames = build_all(1)
    frames["forecasts.parquet"] = frames["forecasts.parquet"].iloc[0:0]  # forecast_job never ran
    publish_files(frames)
    body = make_client().get("/v1/forecasts").json()
    assert body == {"origin_date": None, "items": [], "next_cursor": None, "total": 0}


# ---------------------------------------------------------------------------------------------- health


def test_health_says_why_an_asset_skipped(serving_dir, tmp_path):
    frames = publish(serving_dir, build_all(1))
    status = frames["asset_status.parquet"].copy()
    status["skip_reason"] = None
    status.loc[status["asset_key"] == "optimal_hours_model", "skip_reason"] = "not enough scored posts yet (12 of 200)"
    # the publisher's file: the same rows, with the skip reasons (the manifest counts rows, names no checksum)
    pq.write_table(pa.Table.from_pandas(status, preserve_index=False), serving_dir / "asset_status.parquet")
    body = api_client(serving_dir, tmp_path).get("/v1/health").json()
    reasons = {a["asset_key"]: a["skip_reason"] for a in body["assets"]}
    assert reasons["optimal_hours_model"] == "not enough scored posts yet (12 of 200)"
    assert reasons["serving_snapshot"] is None


def test_health_of_a_snapshot_from_before_skip_reasons(client):
    assets = client.get("/v1/health").json()["assets"]
    assert assets and all(a["skip_reason"] is None for a in assets)


def test_the_routes_are_cached_like_the_other_read_routes():
    from api.main import CACHED
    from api.routes import anomalies, forecasts

    assert anomalies.router in CACHED and forecasts.router in CACHED


# ---------------------------------------------------------------------------------------------- GraphQL


def _snake(doc):
    import re

    if isinstance(doc, dict):
        return {re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k): _snake(v) for k, v in doc.items()}
    return [_snake(v) for v in doc] if isinstance(doc, list) else doc


def test_graphql_answers_like_rest(split_clients):
    acme = split_clients["acme"]
    fields = ("metricDate seriesId entityType platform accountId campaignId metric kind severity observed expected "
              "expectedLow expectedHigh change score historyDays")
    query = ('{ anomalies(minSeverity: "high", platform: "google_ads", first: 5) { total nextCursor items { %s } } '
             'forecasts(metric: "spend", first: 1000) { originDate total nextCursor items { seriesId entityType platform '
             'accountId campaignId metric originDate forecastDate horizon forecast lo80 hi80 lo95 hi95 model historyDays } } }'
             % fields)
    body = acme.post("/v1/graphql", json={"query": query}).json()
    assert not body.get("errors"), body
    rest = acme.get("/v1/anomalies", params={"min_severity": "high", "platform": "google_ads", "limit": 5}).json()
    assert _snake(body["data"]["anomalies"]) == rest and rest["total"] > 0
    rest = acme.get("/v1/forecasts", params={"metric": "spend", "limit": 1000}).json()
    got = _snake(body["data"]["forecasts"])
    for item in got["items"]:  # GraphQL's camelCase of lo_80 is lo80
        for bound in ("lo", "hi"):
            for level in ("80", "95"):
                item[f"{bound}_{level}"] = item.pop(f"{bound}{level}")
    assert got == rest and rest["total"] > 0
    bad = acme.post("/v1/graphql", json={"query": '{ anomalies(minSeverity: "low") { total } }'}).json()
    assert bad["data"]["anomalies"] is None and bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_platform_total_is_served_to_the_workspace_that_owns_all_its_accounts(_shared, published, tmp_path):
    """ws0 owns both linkedin accounts and one google_ads account, ws1 one tiktok account: ws0 reads linkedin's totals
    and its campaigns, ws1 nothing of tiktok's totals (the other tiktok account is nobody's, not ws1's)."""
    from fastapi.testclient import TestClient

    from analytics_assets.contracts.access import Account, AccessRegistry
    from api.main import create_app

    from api_serving_data import ACCOUNTS, NOW

    owned = {"ws0": [("linkedin", a) for a in ACCOUNTS["linkedin"]] + [("google_ads", ACCOUNTS["google_ads"][0])],
             "ws1": [("tiktok", ACCOUNTS["tiktok"][0])]}
    registry = AccessRegistry(tmp_path / "access.sqlite3")
    app = create_app(_shared[0], webhook_store=tmp_path / "inbound.sqlite3", access_store=tmp_path / "access.sqlite3",
                     rate_limit="100000/minute", clock=lambda: NOW)
    for workspace, accounts in owned.items():
        registry.create_workspace(workspace)
        registry.add_accounts(workspace, [Account(p, a) for p, a in accounts])
        token = registry.create_key(workspace, "tests", ["read"]).token
        client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
        for path, frame, identity in (("/v1/anomalies", "anomalies.parquet", ANOMALY_ID),
                                      ("/v1/forecasts", "forecasts.parquet", ["series_id", "origin_date", "horizon"])):
            rows = _all(client, path)
            expected = _expected(published[frame], set(accounts), identity)
            key = ["series_id", "metric_date"] if path == "/v1/anomalies" else FORECAST_ID
            assert _keys(rows, key) == _frame_keys(expected, key), (workspace, path)
            platforms = {r["platform"] for r in rows if r["entity_type"] == "platform"}
            assert platforms == ({"linkedin"} if workspace == "ws0" else set()), (workspace, path)
