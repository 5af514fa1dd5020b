"""A new deployment's first days: too little history is a state, not a red run.

A fresh Cycle home, two days of the simulator at 5 posts a day (far below the engagement model's 50 day-old
posts over two publishing days): ``full_pipeline_job`` then ``daily_pipeline_job`` run green; the model says it
skipped, with what it has and what it needs, in its metadata and in a WARN check; the posting policy writes
no posting-slot recommendation and says why; the serving snapshot still publishes, the empty files' reason
beside them, and the API answers from it. A home with enough data training and recommending is the session
``pipeline`` (tests/test_pipeline_e2e.py, tests/test_closed_loop_e2e.py)."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pandas as pd
import pytest

from analytics_assets.contracts.serving import ASSET_STATUS, OPTIMAL_HOURS, RECOMMENDATIONS
from analytics_assets.defs.ml.assets import ENOUGH_DATA_CHECK
from cycle_testing import new_home

pytestmark = pytest.mark.slow

FIRST, LAST = date(2026, 10, 13), date(2026, 10, 14)
TINY = {"seed": 5, "posts_per_day": 5, "journeys_per_day": 20}


@pytest.fixture(scope="module")
def first_days(tmp_path_factory):
    home = new_home(tmp_path_factory.mktemp("first_days"))
    full = home.run(FIRST, LAST, "full_pipeline_job", **TINY)  # asserts the run succeeded
    daily = home.run(LAST, LAST, "daily_pipeline_job", **TINY)
    return home, full, daily


def _materialization(result, key: str) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)]
    assert len(events) == 1, key
    return {k: v.value for k, v in events[0].materialization.metadata.items()}


def test_the_model_skips_with_what_it_has_and_needs(first_days):
    home, full, _ = first_days
    meta = _materialization(full, "engagement_model")
    assert meta["skipped"] is True and meta["retrained"] is False and meta["model_version"] is None
    assert meta["training_rows"] < meta["training_rows_needed"] == 50
    assert meta["training_days_needed"] == 2
    # the counts are the training set's: its posts with an outcome
    assert meta["training_rows"] == home.query(
        "select count(*) n from main.ml_training_dataset where engagement_score is not null")["n"].iloc[0]
    assert "too little training data" in meta["skip_reason"]
    checks = [e for e in full.get_asset_check_evaluations() if e.check_name == ENOUGH_DATA_CHECK]
    assert len(checks) == 1 and not checks[0].passed and checks[0].severity == dg.AssetCheckSeverity.WARN
    assert checks[0].metadata["training_rows"].value == meta["training_rows"]


def test_without_a_model_no_slot_is_recommended_and_the_runs_say_why(first_days):
    home, full, daily = first_days
    for result in (full, daily):
        for key in ("ml_posting_slots", "posting_hour_recommendations", "ml_recommendations"):
            meta = _materialization(result, key)
            assert meta["skipped"] is True and "no posting-slot recommendation yet" in meta["skip_reason"], key
    assert home.query("select count(*) n from ml.ml_posting_slots")["n"].iloc[0] == 0
    assert home.query("select count(*) n from ml.posting_hour_recommendations")["n"].iloc[0] == 0
    kinds = set(home.query("select distinct kind from ml.ml_recommendations")["kind"])
    assert not kinds & {"posting_slot", "exploration"}
    # the contract check still ran over whatever other kinds were proposed, and passed
    checks = [e for e in daily.get_asset_check_evaluations() if e.check_name == "current_recommendations_pass_the_contract"]
    assert len(checks) == 1 and checks[0].passed


def test_the_snapshot_publishes_and_the_api_serves_it_with_the_reason(first_days):
    from api.local import local_client

    home, _, _ = first_days
    assert pd.read_parquet(home.serving / OPTIMAL_HOURS).empty
    served = pd.read_parquet(home.serving / RECOMMENDATIONS)
    assert not served["kind"].isin(["posting_slot", "exploration"]).any()
    status = pd.read_parquet(home.serving / ASSET_STATUS).set_index("asset_key")
    assert "too little training data" in status.loc["engagement_model", "skip_reason"]
    assert "no posting-slot recommendation yet" in status.loc["ml_recommendations", "skip_reason"]
    assert status["skip_reason"].isna().any()  # assets that computed something carry no reason

    client = local_client(home.serving, home.root / "api-state")
    recommendations = client.get("/v1/recommendations")
    assert recommendations.status_code == 200
    assert not {r["kind"] for r in recommendations.json()["items"]} & {"posting_slot", "exploration"}
    assert client.get("/v1/optimal-hours").status_code < 500
    assert client.get("/v1/health").status_code == 200
    overview = client.get("/v1/overview")
    assert overview.status_code == 200 and overview.json()["attributed"]["available"] is True
