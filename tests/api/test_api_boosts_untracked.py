"""``/v1/boosts`` and a boost of a post Cycle does not track organically (a Meta ad promoting a Facebook page post:
status ``organic_untracked``). It is served under the ad account that paid for it (boost_effectiveness and
fct_boost_organic_vs_paid give it that owner: its post belongs to no tracked account), so exactly one workspace
lists it, with its paid figures and null organic ones; the other answers it like a boost that does not exist."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api_serving_data import BASE_TIME, NOW, build_all, make_registry, publish

BOOST = "meta_23851"
OWNER = ("meta_ads", "act_1001")  # acme's Meta ad account (api_serving_data.ACCOUNTS)


def _with_untracked_boost(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    boosts, split = frames["boosts.parquet"], frames["boost_organic_vs_paid.parquet"]
    start = BASE_TIME - timedelta(days=2)
    row = {c: None for c in boosts.columns} | {
        "boost_id": BOOST, "platform": OWNER[0], "account_id": OWNER[1], "post_id": "104000_23851",
        "flight_start_at": start, "flight_end_at": start + timedelta(days=3), "status": "organic_untracked",
        "spend_usd": 40.0, "paid_engagements": 20.0,
    }
    split_row = {c: None for c in split.columns} | {
        "boost_id": BOOST, "platform": OWNER[0], "account_id": OWNER[1], "ad_platform": "meta_ads",
        "campaign_id": "23850", "start_date": start.date(), "end_date": (start + timedelta(days=2)).date(),
        "spend_usd": 40.0, "paid_impressions": 2000, "paid_engagements": 20.0, "reached_journeys": 3,
        "incremental_reach_journeys": 3, "incremental_reach_share": 1.0, "overlap_share": 0.0, "converted_journeys": 1,
        "paid_only_conversions": 1, "organic_only_conversions": 0, "overlap_conversions": 0, "conversion_value_usd": 75.0,
    }
    return frames | {
        "boosts.parquet": pd.concat([boosts, pd.DataFrame([row]).astype(boosts.dtypes.to_dict())], ignore_index=True),
        "boost_organic_vs_paid.parquet": pd.concat(
            [split, pd.DataFrame([split_row]).astype(split.dtypes.to_dict())], ignore_index=True
        ),
    }


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    root = tmp_path_factory.mktemp("untracked_boosts")
    publish(root / "serving", _with_untracked_boost(build_all()), checksums=True)
    tokens = make_registry(root / "access.sqlite3", split=True)
    app = create_app(root / "serving", webhook_store=root / "inbound.sqlite3", access_store=root / "access.sqlite3",
                     rate_limit="100000/minute", clock=lambda: NOW)
    with TestClient(app) as client:
        yield {ws: (client, {"Authorization": f"Bearer {tokens[ws]}"}) for ws in ("acme", "globex")}


def _get(clients, workspace: str, url: str, **params):
    client, headers = clients[workspace]
    return client.get(url, params=params or None, headers=headers)


def test_an_untracked_boost_is_listed_with_its_paid_side_for_the_ad_accounts_workspace_only(clients):
    listed = _get(clients, "acme", "/v1/boosts", status="organic_untracked")
    assert listed.status_code == 200, listed.text
    (boost,) = listed.json()["items"]
    assert (boost["boost_id"], boost["platform"], boost["account_id"]) == (BOOST, *OWNER)
    assert boost["spend_usd"] == 40.0 and boost["paid_engagements"] == 20.0
    assert boost["organic_lift"] is None and boost["incremental_engagements"] is None and boost["roi"] is None
    detail = _get(clients, "acme", f"/v1/boosts/{BOOST}").json()
    split = detail["organic_vs_paid"]
    assert (split["campaign_id"], split["paid_impressions"], split["paid_only_conversions"]) == ("23850", 2000, 1)
    assert split["organic_engagements"] is None and split["organic_share"] is None

    # globex owns the other Meta ad account: the boost is no boost of its
    assert _get(clients, "globex", "/v1/boosts", status="organic_untracked").json()["total"] == 0
    assert _get(clients, "globex", f"/v1/boosts/{BOOST}").status_code == 404
    assert BOOST not in {b["boost_id"] for b in _get(clients, "globex", "/v1/boosts", limit=200).json()["items"]}
