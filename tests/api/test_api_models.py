"""``/v1/models`` and the dashboard's drift report page over a snapshot published by the serving asset's own code:
the model health file is built by ``defs/serving/model_health.py`` from materializations recorded as the
``engagement_model`` and ``ml_feature_drift`` assets record them (the gate's ``PromotionDecision`` figures, the drift
asset's per-column table) and from the warehouse's live accuracy and drift tables, then published with
``publish_files`` (checksums, manifest last).

Four retrains: v1 the first champion, v2 kept out (too small a gain), v3 promoted over v1 on the holdout and on
shadow posts, v4 kept out (the contender). A workspace that owns every account sees everything; one that owns some
of them (``acme``) sees the same figures without the post counts, the reasons that quote them and the report page,
and nothing of any account (the file has none)."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from analytics_assets.contracts.serving import (
    ACCOUNTS,
    ASSET_STATUS,
    DRIFT_REPORT,
    MANIFEST,
    MODEL_HEALTH,
    MODEL_HEALTH_COLUMNS,
    MODEL_HEALTH_POST_COUNTS,
)
from api_serving_data import ACCOUNTS as ACCOUNT_IDS, NOW, api_client, build_accounts, build_asset_status

REPORT = (b"<!doctype html><html><head><style>body{font:14px sans-serif}</style></head><body><h1>Drift</h1>"
          b"<script>document.body.dataset.drawn='yes'</script></body></html>")
DRIFT_DAY = date(2024, 5, 14)
COLUMNS = {"platform": (0.81, False), "hook_type": (0.43, False), "media_type": (1.2e-9, True),
           "topic": (0.12, False), "text_length": (3.4e-12, True), "publish_hour": (0.27, False)}


def _comparison(name: str, posts: int, champion: float, challenger: float):
    from ml.governance import Comparison

    return Comparison(name, posts, champion, challenger, champion * 120, challenger * 120)


def _retrain(instance, version: str, shipped: str, decision, own: dict[str, float]) -> None:
    """An engagement_model materialization as the asset records a retrain (``_model_result``): ``holdout/*`` are the
    shipped champion's figures, ``gate/*`` the decision's."""
    metadata = {
        **{f"holdout/{k}": v for k, v in own.items()}, "model_name": "engagement_model", "model_version": shipped,
        "retrained": True, "training_rows": 4315, "challenger_version": version, "promotion": decision.outcome,
        "promotion_reason": decision.reason, **decision.figures(),
    }
    instance.report_runless_asset_event(dg.AssetMaterialization("engagement_model", metadata=metadata))


def _record_history(instance, reports: Path) -> None:
    from ml.drift import DriftResult
    from ml.governance import PromotionDecision

    from analytics_assets.defs.ml.assets import drift_report_metadata

    first = PromotionDecision(True, "no champion yet: the first model becomes the champion", None, 0.02)
    _retrain(instance, "1", "1", first, {"rmse_log": 0.4462, "mae": 57.34, "n_holdout": 957})
    hold = _comparison("holdout", 957, 0.4462, 0.4431)
    _retrain(instance, "2", "1", PromotionDecision(False, "challenger does not beat the champion v1 by 2% on every "
             "set: holdout (957 posts): rmse_log 0.4431 vs 0.4462", "1", 0.02, holdout=hold, shadow_posts=40),
             {"rmse_log": 0.4462, "mae": 57.34})
    hold, shadow = _comparison("holdout", 1010, 0.5120, 0.4390), _comparison("shadow", 640, 0.5301, 0.4452)
    _retrain(instance, "3", "3", PromotionDecision(True, "challenger beats the champion v1 by at least 2% on holdout "
             "(1010 posts); shadow (640 posts)", "1", 0.02, holdout=hold, shadow=shadow, shadow_posts=640),
             {"rmse_log": 0.4390, "mae": 52.1})
    hold = _comparison("holdout", 990, 0.4420, 0.4400)
    _retrain(instance, "4", "3", PromotionDecision(False, "challenger does not beat the champion v3 by 2% on every "
             "set: holdout (990 posts)", "3", 0.02, holdout=hold, shadow_posts=12), {"rmse_log": 0.4390, "mae": 52.1})
    drift = DriftResult(
        dataset_drift=False, drift_share=2 / 6, drifted_columns=[c for c, (_, d) in COLUMNS.items() if d],
        column_scores={c: s for c, (s, _) in COLUMNS.items()},
        methods={c: "ks" if c in ("text_length", "publish_hour") else "cycle_chi2_contingency" for c in COLUMNS},
        n_reference=4315, n_current=1400, column_thresholds={c: 0.05 for c in COLUMNS},
    )
    for day in (date(2024, 5, 13), DRIFT_DAY):  # the older day's page is pruned: only the newest is published
        page = reports / f"feature_drift_{day.isoformat()}.html"
        page.write_bytes(REPORT if day == DRIFT_DAY else b"<html>older</html>")
        metadata = {"latest_drift_share": drift.drift_share, "latest_dataset_drift": False, "champion_version": "3",
                    "reference_start": "2024-05-01", **drift_report_metadata(drift, page)}
        instance.report_runless_asset_event(
            dg.AssetMaterialization("ml_feature_drift", partition=day.isoformat(), metadata=metadata))


def _warehouse() -> duckdb.DuckDBPyConnection:
    from analytics_assets.defs.ml.assets import DRIFT_COLUMNS
    from analytics_assets.defs.ml.live_accuracy import LIVE_ACCURACY_COLUMNS

    con = duckdb.connect(":memory:")
    con.execute("create schema ml")
    for table, columns in (("ml.champion_live_accuracy", LIVE_ACCURACY_COLUMNS),
                           ("ml.ml_feature_drift_reports", DRIFT_COLUMNS)):
        con.execute(f"create table {table} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
    con.execute("insert into ml.champion_live_accuracy values "
                "('2024-05-13', 'engagement_model', '1', '2024-05-05', 400, '2024-05-07', '2024-05-13', 300, "
                "0.61, 70.0, 0.4462, 1.367, 'warn', '2024-05-14 05:00:00'), "
                "('2024-05-13', 'engagement_model', '3', '2024-05-10', 210, '2024-05-11', '2024-05-13', 210, "
                "0.5502, 61.0, 0.4390, 1.2533, 'warn', '2024-05-14 05:10:00'), "
                "('2024-05-12', 'engagement_model', '3', '2024-05-10', 100, '2024-05-11', '2024-05-12', 100, "
                "0.45, 50.0, 0.4390, 1.025, 'ok', '2024-05-13 05:10:00')")
    con.execute("insert into ml.ml_feature_drift_reports values "
                "('2024-05-14', '3', '2024-05-01', '2024-05-10', 4315, 1400, 0.3333, false, 'media_type,text_length')")
    return con


@pytest.fixture(scope="module")
def health(tmp_path_factory):
    from analytics_assets.defs.serving.model_health import model_health

    reports = tmp_path_factory.mktemp("reports")
    with dg.DagsterInstance.ephemeral() as instance:
        _record_history(instance, reports)
        con = _warehouse()
        try:
            return model_health(instance, con)
        finally:
            con.close()


def _publish(serving: Path, health_frame: pd.DataFrame, report: bytes | None, skip_reason: str | None = None) -> None:
    from analytics_assets.defs.serving.snapshot import publish_files

    status = build_asset_status()
    status["skip_reason"] = None
    status.loc[len(status)] = {"asset_key": "engagement_model", "last_materialized_at": datetime(2024, 5, 15, 5),
                               "last_partition": None, "run_id": "run-model", "skip_reason": skip_reason}
    frames = {ACCOUNTS: build_accounts(), ASSET_STATUS: status, MODEL_HEALTH: health_frame}
    publish_files(serving, frames, {DRIFT_REPORT: report} if report else {}, published_at=NOW)


@pytest.fixture(scope="module")
def serving(health, tmp_path_factory) -> Path:
    serving = tmp_path_factory.mktemp("models") / "serving"
    _publish(serving, health.frame, health.report)
    return serving


def _login(client) -> None:
    client.cookies.set("cycle_dashboard_key", client.headers["Authorization"].removeprefix("Bearer "))


def test_the_file_holds_each_retrain_with_its_role_and_the_gates_figures(health):
    frame = health.frame
    assert list(frame.columns) == list(MODEL_HEALTH_COLUMNS) and health.absent == [] and health.problems == []
    versions = frame[frame["section"] == "version"].set_index("model_version")
    assert versions["role"].to_dict() == {"4": "challenger", "3": "champion", "2": "retired", "1": "retired"}
    assert versions["compared_with"].to_dict() == {"4": "3", "3": "1", "2": "1", "1": None}
    assert versions.loc["3", "holdout_rmse_log"] == 0.4390 and versions.loc["3", "champion_holdout_rmse_log"] == 0.5120
    assert versions.loc["3", "shadow_posts"] == 640 and versions.loc["3", "champion_shadow_rmse_log"] == 0.5301
    assert pd.isna(versions.loc["2", "shadow_rmse_log"]) and versions.loc["2", "shadow_posts"] == 40  # too few
    assert versions.loc["1", "holdout_rmse_log"] == 0.4462 and versions.loc["1", "holdout_posts"] == 957  # no gate
    live = frame[frame["section"] == "live_accuracy"]
    assert len(live) == 1 and live.iloc[0]["model_version"] == "3" and live.iloc[0]["error_ratio"] == 1.2533
    drift = frame[frame["section"] == "drift_column"].set_index("column_name")
    assert set(drift.index) == set(COLUMNS) and (drift["drift_day"] == DRIFT_DAY).all()
    assert drift["drifted"].to_dict() == {c: d for c, (_, d) in COLUMNS.items()}
    assert drift.loc["media_type", "score"] == pytest.approx(1.2e-9) and (drift["n_current"] == 1400).all()
    assert health.report == REPORT  # the newest day's page, not the older one


def test_a_workspace_that_owns_every_account_sees_it_all(serving):
    body = api_client(serving).get("/v1/models").json()
    assert body["full_view"] is True and body["withheld"] == [] and body["detail"] is None
    assert [(v["model_version"], v["role"], v["decision"]) for v in body["versions"]] == [
        ("4", "challenger", "kept"), ("3", "champion", "promoted"), ("2", "retired", "kept"), ("1", "retired", "promoted")]
    v3 = body["versions"][1]
    assert v3["holdout_improvement"] == pytest.approx(1 - 0.4390 / 0.5120, abs=1e-4) and "1010 posts" in v3["reason"]
    assert body["live_accuracy"]["status"] == "warn" and body["live_accuracy"]["warn_ratio"] == 1.2
    drift = body["drift"]
    assert drift["day"] == DRIFT_DAY.isoformat() and drift["report_available"] and drift["n_reference"] == 4315
    assert {c["column"] for c in drift["columns"] if c["drifted"]} == {"media_type", "text_length"}


def test_another_workspace_sees_the_figures_but_no_count_reason_or_report(serving):
    client = api_client(serving, workspace="acme")
    body = client.get("/v1/models").json()
    assert body["full_view"] is False and set(body["withheld"]) >= {*MODEL_HEALTH_POST_COUNTS, "reason"}
    assert all(v["reason"] is None and v["holdout_posts"] is None and v["shadow_posts"] is None for v in body["versions"])
    assert body["versions"][1]["holdout_rmse_log"] == 0.439  # the model's figures are every workspace's
    assert body["drift"]["n_current"] is None and body["drift"]["report_available"] is False
    text = json.dumps(body)
    for ids in ACCOUNT_IDS.values():  # nothing names an account, the workspace's own or another's
        assert not any(account in text for account in ids)
    _login(client)
    page = client.get("/dashboard/health/drift-report")
    assert page.status_code == 403 and b"Drift</h1>" not in page.content
    assert "drift-report-link" not in client.get("/dashboard/health").text


def test_the_report_page_is_served_verified_and_sandboxed(serving):
    client = api_client(serving)
    assert client.get("/dashboard/health/drift-report", follow_redirects=False).status_code in (303, 307)  # login
    _login(client)
    page = client.get("/dashboard/health/drift-report")
    assert page.status_code == 200 and page.content == REPORT
    csp = page.headers["content-security-policy"]
    assert csp.startswith("sandbox allow-scripts;") and "default-src 'none'" in csp and "allow-same-origin" not in csp
    health = client.get("/dashboard/health")
    assert health.status_code == 200 and 'id="drift-report-link"' in health.text and "health-models" in health.text
    checks = {c["name"]: c["status"] for c in client.get("/v1/health").json()["file_checks"]}
    assert checks[DRIFT_REPORT] == "ok" and checks[MODEL_HEALTH] == "ok"


def test_a_report_that_is_not_the_published_one_is_refused(health, tmp_path):
    serving = tmp_path / "serving"
    _publish(serving, health.frame, health.report)
    (serving / DRIFT_REPORT).write_bytes(REPORT.replace(b"Drift", b"Evil!"))
    client = api_client(serving, tmp_path)
    client.app.state.store.publish_wait_s = 0.05  # not a publish under way: no need to wait the full 2 s
    _login(client)
    assert client.get("/dashboard/health/drift-report").status_code == 503
    checks = {c["name"]: c for c in client.get("/v1/health").json()["file_checks"]}
    assert checks[DRIFT_REPORT]["status"] == "mismatch"


def test_before_anything_was_trained_the_file_is_empty_and_says_why(tmp_path):
    from analytics_assets.defs.serving.model_health import model_health

    with dg.DagsterInstance.ephemeral() as instance:
        health = model_health(instance, duckdb.connect(":memory:"))
    assert health.frame.empty and list(health.frame.columns) == list(MODEL_HEALTH_COLUMNS) and health.report is None
    assert [a.split(" ")[0] for a in health.absent] == ["engagement_model", "ml_feature_drift"]
    serving = tmp_path / "serving"
    _publish(serving, health.frame, None, skip_reason="too little training data: 12 posts with a 24 h outcome")
    client = api_client(serving, tmp_path)
    body = client.get("/v1/models").json()
    assert body["versions"] == [] and body["live_accuracy"] is None and body["drift"] is None
    assert "No engagement model has been trained yet: too little training data" in body["detail"]
    assert "No drift report yet" in body["detail"]
    manifest = json.loads((serving / MANIFEST).read_text())
    assert DRIFT_REPORT not in manifest["files"] and manifest["files"][MODEL_HEALTH]["rows"] == 0
    _login(client)
    assert client.get("/dashboard/health/drift-report").status_code == 404
    page = client.get("/dashboard/health")
    assert page.status_code == 200 and "No engagement model has been trained yet" in page.text


def test_a_snapshot_without_the_file_says_so_and_a_damaged_one_answers_503(tmp_path):
    older = tmp_path / "older"
    _publish(older, pd.DataFrame({"section": ["version"]}), None)  # a file without the contract's columns
    assert api_client(older, tmp_path).get("/v1/models").status_code == 503
    (older / MODEL_HEALTH).unlink()
    doc = json.loads((older / MANIFEST).read_text())
    del doc["files"][MODEL_HEALTH]
    (older / MANIFEST).write_text(json.dumps(doc))
    missing = api_client(older, tmp_path).get("/v1/models")  # published before the file existed
    assert missing.status_code == 200 and missing.json()["versions"] == [] and missing.json()["drift"] is None
    assert MODEL_HEALTH in missing.json()["detail"] and "serving_snapshot" in missing.json()["detail"]


def test_a_key_without_read_is_refused(serving, tmp_path):
    from api_serving_data import make_registry
    from fastapi.testclient import TestClient

    from api.main import create_app

    token = make_registry(tmp_path / "access.sqlite3", scopes=("ingest",))["default"]
    app = create_app(serving, access_store=tmp_path / "access.sqlite3", webhook_store=tmp_path / "inbound.sqlite3")
    client = TestClient(app)
    assert client.get("/v1/models").status_code == 401
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {token}"}).status_code == 403


def test_the_manifest_names_the_report_as_published(serving):
    entry = json.loads((serving / MANIFEST).read_text())["files"][DRIFT_REPORT]
    assert entry == {"rows": None, "bytes": len(REPORT), "sha256": hashlib.sha256(REPORT).hexdigest()}


def test_graphql_answers_what_rest_answers(serving):
    client = api_client(serving, workspace="acme")
    rest = client.get("/v1/models").json()
    query = ("{ models { fullView withheld versions { modelVersion role decision reason holdoutPosts holdoutRmseLog "
             "holdoutImprovement } drift { day nCurrent reportAvailable columns { column score drifted } } } }")
    data = client.post("/v1/graphql", json={"query": query}).json()["data"]["models"]
    assert data["fullView"] is False and data["withheld"] == rest["withheld"]
    assert data["versions"] == [
        {"modelVersion": v["model_version"], "role": v["role"], "decision": v["decision"], "reason": None,
         "holdoutPosts": None, "holdoutRmseLog": v["holdout_rmse_log"], "holdoutImprovement": v["holdout_improvement"]}
        for v in rest["versions"]
    ]
    columns = [{k: c[k] for k in ("column", "score", "drifted")} for c in rest["drift"]["columns"]]
    assert data["drift"]["columns"] == columns and data["drift"]["nCurrent"] is None
