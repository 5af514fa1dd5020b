"""A failed blocking check never reaches users: while one fails, a retrain keeps the champion, the
recommendations and the served snapshot as they were, and /health says why; once the data is fixed and the
partition re-run, the gate opens and everything is published again."""

from __future__ import annotations

import json
from datetime import date

import dagster as dg
import duckdb
import pytest

from analytics_assets.contracts.serving import MANIFEST, QUALITY_GATE
from api.local import local_client
from cycle_testing import new_home

pytestmark = pytest.mark.slow

DAY = date(2026, 10, 12)
SMALL = {"posts_per_day": 160, "journeys_per_day": 100, "malformed_rate": 0.0}
NO_RAW = dg.define_asset_job("everything_but_raw", selection=dg.AssetSelection.all() - dg.AssetSelection.groups("raw"))


def _run(home, job: str, **tags):
    defs = dg.Definitions.merge(home.defs(**SMALL), dg.Definitions(jobs=[NO_RAW]))
    return defs.resolve_job_def(job).execute_in_process(instance=home.instance, raise_on_error=False, **tags)


def _champion(home) -> str | None:
    event = home.instance.get_latest_materialization_event(dg.AssetKey("engagement_model"))
    return event.asset_materialization.metadata["model_version"].value


def _served(home) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(home.serving.iterdir()) if f.suffix in (".parquet", ".json") and f.name != QUALITY_GATE}


def test_a_failed_blocking_check_keeps_what_users_see_until_the_data_is_fixed(tmp_path):
    home = new_home(tmp_path)
    home.run(DAY, DAY, **SMALL)
    champion, served = _champion(home), _served(home)
    recommendations = home.query("select * from ml.posting_hour_recommendations order by all")
    assert json.loads((home.serving / QUALITY_GATE).read_text())["status"] == "passed"

    # bad data lands in history: the day's boosts hold duplicate keys, so dbt's blocking unique test fails
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute(f"insert into raw.raw_boosts select * from raw.raw_boosts where partition_date = '{DAY}' limit 3")
    failed_run = _run(home, "everything_but_raw", partition_key=DAY.isoformat())
    assert not failed_run.success
    failed_checks = [
        e.event_specific_data for e in failed_run.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    assert any(c.asset_key == dg.AssetKey("stg_boosts") for c in failed_checks)

    # a retrain (drift sensor, weekly schedule, the UI) runs later, on its own: the gate holds it back
    retrain = _run(home, "engagement_model_training_job")
    assert not retrain.success
    failures = [e for e in retrain.all_events if e.is_step_failure]
    assert {e.step_key for e in failures} == {"engagement_model"}
    assert "Quality gate closed" in str(failures[0].event_specific_data.error)
    assert _champion(home) == champion
    assert _served(home) == served
    pd_equal = home.query("select * from ml.posting_hour_recommendations order by all").equals(recommendations)
    assert pd_equal

    # the serving snapshot alone (what the automation sensor would request) is held back too, and says so
    held = dg.Definitions.merge(home.defs(**SMALL), dg.Definitions(jobs=[dg.define_asset_job("serve", "serving_snapshot")]))
    assert not held.resolve_job_def("serve").execute_in_process(instance=home.instance, raise_on_error=False).success
    assert _served(home) == served
    gate = json.loads((home.serving / QUALITY_GATE).read_text())
    assert gate["status"] == "failed" and any("stg_boosts" in c for c in gate["failed_checks"])
    assert gate["serving_published_at"] == json.loads(served[MANIFEST])["published_at"]
    api = local_client(home.serving, tmp_path / "api")
    health = api.get("/v1/health").json()
    assert health["status"] == "degraded" and "quality gate failed" in health["detail"]
    assert health["quality_gate"]["status"] == "failed"
    optimal = api.get("/v1/optimal-hours")
    assert optimal.status_code == 200  # the last good snapshot keeps being served

    # fixed at the source and re-run: the checks pass, the gate opens, the retrain publishes
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute(f"delete from raw.raw_boosts where partition_date = '{DAY}'")
    assert home.run(DAY, DAY, **SMALL).success
    assert json.loads((home.serving / QUALITY_GATE).read_text())["status"] == "passed"
    assert json.loads((home.serving / MANIFEST).read_text())["published_at"] != gate["serving_published_at"]
    health = api.get("/v1/health").json()
    assert health["quality_gate"]["status"] == "passed"
