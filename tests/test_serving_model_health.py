"""The model health file of the e2e fixture's snapshot (three simulated days through the whole graph) holds what
MLflow, the assets' materializations and the warehouse hold: the champion's version and holdout figures, the gate's
decision, the champion's live accuracy, the newest drift day's per-column tests, and that day's report page, copied
under the manifest's checksum."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from analytics_assets.contracts.serving import DRIFT_REPORT, MANIFEST, MODEL_HEALTH, MODEL_HEALTH_COLUMNS

pytestmark = pytest.mark.slow


def _latest(home, key: str, **where):
    for record in home.instance.fetch_materializations(dg.AssetKey(key), limit=200).records:
        metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        if all(metadata.get(k) == v for k, v in where.items()):
            return record, metadata
    raise AssertionError(f"no materialization of {key} with {where}")


@pytest.fixture(scope="module")
def served(pipeline):
    home, _ = pipeline
    frame = pd.read_parquet(home.serving / MODEL_HEALTH)
    return home, frame


def test_the_champions_row_is_mlflows_champion_with_its_figures(served):
    import mlflow

    from ml.registry import CHAMPION_ALIAS, describe_alias

    home, frame = served
    assert list(frame.columns) == list(MODEL_HEALTH_COLUMNS)
    store = home.resources()["mlflow_store"]
    champion = describe_alias(store.tracking_uri, store.model_name, alias=CHAMPION_ALIAS)
    metrics = mlflow.MlflowClient(store.tracking_uri).get_run(champion.run_id).data.metrics
    versions = frame[frame["section"] == "version"]
    (row,) = versions[versions["role"] == "champion"].to_dict("records")
    assert row["model_version"] == champion.version and row["model_name"] == store.model_name
    assert row["holdout_rmse_log"] == pytest.approx(metrics["rmse_log"], rel=1e-3)  # 4 significant digits
    assert row["holdout_mae"] == pytest.approx(metrics["mae"], rel=1e-3)
    assert row["holdout_posts"] == metrics["n_holdout"]
    record, metadata = _latest(home, "engagement_model", retrained=True, challenger_version=champion.version)
    assert row["decision"] == metadata["promotion"] == champion.tags["cycle.promotion"]
    assert row["reason"] == metadata["promotion_reason"] == champion.tags["cycle.promotion_reason"]
    assert row["promotion_margin"] == metadata["gate/margin"]
    assert row["trained_at"].tz_localize("UTC").timestamp() == pytest.approx(record.timestamp, abs=1e-3)  # naive UTC


def test_the_live_accuracy_row_is_the_warehouses_newest_for_the_champion(served):
    home, frame = served
    (live,) = frame[frame["section"] == "live_accuracy"].to_dict("records")
    newest = home.query(
        "select * from ml.champion_live_accuracy where model_version = ? order by as_of_date desc, generated_at desc "
        "limit 1", [live["model_version"]],
    ).iloc[0]
    assert live["status"] == newest["status"] and live["posts_since_training"] == newest["posts_since_training"]
    assert live["as_of_date"] == newest["as_of_date"].date() and (live["warn_ratio"], live["retrain_ratio"]) == (1.2, 1.5)
    for column in ("holdout_rmse_log", "error_ratio", "live_rmse_log"):
        assert (pd.isna(live[column]) and pd.isna(newest[column])) or live[column] == pytest.approx(newest[column])


def test_the_drift_rows_and_page_are_the_newest_drift_days(served):
    home, frame = served
    drift = frame[frame["section"] == "drift_column"]
    (day,) = set(drift["drift_day"])
    # the newest day with a page, whichever run wrote it last: a test sharing the fixture may rerun an older day
    pages = {}
    for record in home.instance.fetch_materializations(dg.AssetKey("ml_feature_drift"), limit=200).records:  # newest first
        metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        if metadata.get("drift_report") and Path(metadata["drift_report"]).is_file():
            pages.setdefault(Path(metadata["drift_report"]).name, metadata)
    assert pages and max(pages) == f"feature_drift_{day.isoformat()}.html"  # the newest day, its page linked
    metadata = pages[max(pages)]
    page = Path(metadata["drift_report"])
    scores = metadata["latest_column_scores"]
    for r in drift.to_dict("records"):
        drifted = "yes" if r["drifted"] else "no"
        assert f"| {r['column_name']} | {r['test']} | {r['score']:.4g} | {r['threshold']:.4g} | {drifted} |" in scores
    assert len(drift) == scores.count("\n") - 1  # every column of the table, once
    (stored,) = home.query("select * from ml.ml_feature_drift_reports where partition_date = ?", [day]).to_dict("records")
    assert set(drift["n_current"]) == {stored["n_current"]} and set(drift["drift_share"]) == {stored["drift_share"]}
    assert set(drift["dataset_drift"]) == {stored["dataset_drift"]} and set(drift["model_version"]) == {stored["model_version"]}
    served_page = (home.serving / DRIFT_REPORT).read_bytes()
    assert served_page == page.read_bytes()
    entry = json.loads((home.serving / MANIFEST).read_text())["files"][DRIFT_REPORT]
    assert entry["sha256"] == hashlib.sha256(served_page).hexdigest() and entry["bytes"] == len(served_page)
    # Evidently 0.7's page is self-contained: no script, style or font is fetched from anywhere
    assert b"<script src=" not in served_page and b"<link " not in served_page
