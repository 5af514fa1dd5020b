"""GET /v1/recommendations (api/routes/recommendations.py): the workspace's recommendations with their status
now (decisions stored since the snapshot and expiry by the API's clock), filters, pages, one id, and the
performance per account and kind."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from api_serving_data import NOW, accounts_of, api_client, publish


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("recommendations")
    frames = publish(root / "serving", checksums=True)
    return root, frames["recommendations.parquet"], frames["recommendation_performance.parquet"]


def _own(recs: pd.DataFrame, workspace: str) -> pd.DataFrame:
    owned = set(accounts_of(workspace))
    return recs[[(p, a) in owned for p, a in zip(recs["platform"], recs["account_id"])]]


def _all_items(client, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = client.get("/v1/recommendations", params={**params, "limit": 7, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            assert len(items) == body["total"]
            return items


def test_a_workspace_lists_exactly_its_own_recommendations_with_the_status_as_of_now(served, tmp_path):
    root, recs, _ = served
    client = api_client(root / "serving", tmp_path, workspace="acme")
    items = _all_items(client)
    own = _own(recs, "acme")
    assert sorted(i["recommendation_id"] for i in items) == sorted(own["recommendation_id"])
    by_id = {i["recommendation_id"]: i for i in items}
    for row in own.itertuples():
        item = by_id[row.recommendation_id]
        # the file's status, except a slot that expired between the publish and NOW, which the API expires itself
        expected = "expired" if row.status == "open" and row.expires_at <= NOW.replace(tzinfo=None) else row.status
        assert item["status"] == expected, (row.recommendation_id, row.status, row.expires_at)
        assert item["expected_low"] <= item["expected_value"] <= item["expected_high"]
        assert isinstance(item["action_fields"], dict) and item["evidence"]
    assert {"open", "expired", "superseded", "applied"} <= {i["status"] for i in items}
    # soonest slot first
    starts = [i["slot_start"] for i in items if i["slot_start"]]
    assert starts == sorted(starts)


def test_filters_by_status_kind_platform_and_account(served, tmp_path):
    root, recs, _ = served
    client = api_client(root / "serving", tmp_path, workspace="acme")
    everything = _all_items(client)
    for status in ("open", "expired", "superseded", "applied"):
        got = _all_items(client, status=status)
        assert got and all(i["status"] == status for i in got)
        assert len(got) == sum(i["status"] == status for i in everything)
    explore = _all_items(client, kind="exploration")
    assert explore and all(i["kind"] == "exploration" and i["policy"] == "thompson" for i in explore)
    platform, account = next((p, a) for p, a in accounts_of("acme") if p == "x")
    on_x = _all_items(client, platform="x", account_id=account)
    assert on_x and {(i["platform"], i["account_id"]) for i in on_x} == {(platform, account)}
    assert client.get("/v1/recommendations", params={"status": "pending"}).status_code == 422
    assert client.get("/v1/recommendations", params={"kind": "astrology"}).status_code == 422


def test_a_decision_shows_at_once_and_one_id_is_found_only_in_its_workspace(served, tmp_path):
    root, recs, _ = served
    acme = api_client(root / "serving", tmp_path, workspace="acme")
    # a decision stored after the snapshot was published (as the POST route stores it, test_api_feedback)
    from analytics_assets.contracts.inbound import FeedbackRecord, FeedbackStore, new_feedback_id

    open_slot = next(i for i in _all_items(acme, status="open") if i["kind"] == "posting_slot")
    FeedbackStore(tmp_path / "inbound.sqlite3").record(
        FeedbackRecord(
            feedback_id=new_feedback_id(), recommendation_id=open_slot["recommendation_id"], decision="dismiss",
            received_at=NOW - timedelta(minutes=5), platform=open_slot["platform"],
            account_id=open_slot["account_id"], workspace_id="acme",
        )
    )
    one = acme.get(f"/v1/recommendations/{open_slot['recommendation_id']}")
    assert one.status_code == 200 and one.json()["status"] == "dismissed" and one.json()["feedback_id"]
    assert open_slot["recommendation_id"] in {i["recommendation_id"] for i in _all_items(acme, status="dismissed")}

    globex = api_client(root / "serving", tmp_path, workspace="globex")
    foreign = globex.get(f"/v1/recommendations/{open_slot['recommendation_id']}")
    unknown = globex.get("/v1/recommendations/rec_" + "0" * 24)
    malformed = globex.get("/v1/recommendations/rec_not-an-id")
    assert foreign.status_code == unknown.status_code == malformed.status_code == 404
    assert foreign.json() == unknown.json() == malformed.json()


def test_performance_per_account_and_kind_is_scoped_to_the_workspace(served, tmp_path):
    root, _, performance = served
    client = api_client(root / "serving", tmp_path, workspace="globex")
    r = client.get("/v1/recommendations/performance")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    own = _own(performance, "globex")
    assert len(items) == len(own) and {(i["platform"], i["account_id"]) for i in items} <= set(accounts_of("globex"))
    for item in items:
        counts = sum(item[f"{s}_count"] for s in ("open", "applied", "dismissed", "expired", "superseded"))
        assert counts == item["recommendations"]
    measured = [i for i in items if i["measured_count"]]
    assert measured and all(i["interval_coverage"] == 1.0 for i in measured)
    only_x = client.get("/v1/recommendations/performance", params={"platform": "x"}).json()["items"]
    assert only_x and {i["platform"] for i in only_x} == {"x"}
