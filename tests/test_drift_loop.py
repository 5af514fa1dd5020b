"""The drift loop: the monitor compares new days with the champion's training window, and the sensor
requests a retrain on a behaviour shift injected by the simulator, and stays quiet without one. (That the
retrained champion settles, and one request per shift over seeds: tests/ml/test_drift_loop_policy.py and
benchmarks/drift.py.)"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from cycle_testing import E2E_END, new_home

pytestmark = pytest.mark.slow


def _tick(home, defs, cursor):
    sensor = defs.resolve_sensor_def("engagement_drift_sensor")
    with dg.build_sensor_context(instance=home.instance, cursor=cursor, definitions=defs) as context:
        result = sensor.evaluate_tick(context)
    return result


def _latest_drift(home):
    event = home.instance.get_latest_materialization_event(dg.AssetKey("ml_feature_drift"))
    return event.asset_materialization


def test_drift_sensor_quiet_on_unshifted_days_and_requests_retrain_on_a_shift(pipeline, tmp_path):
    trained, _ = pipeline
    home = new_home(tmp_path / "drift_home")
    shutil.copy(trained.warehouse, home.warehouse)
    shutil.copytree(trained.root / "mlflow", home.root / "mlflow")

    # an ordinary next day: same behaviour as the champion's training data
    quiet_day = E2E_END + timedelta(days=1)
    home.run(quiet_day, quiet_day, job="daily_pipeline_job")
    drift = _latest_drift(home)
    assert drift.partition == quiet_day.isoformat()
    assert drift.metadata["evaluated_days"].value == 1
    assert drift.metadata["dataset_drift"].value is False
    defs = home.defs()
    quiet = _tick(home, defs, cursor=None)
    assert quiet.run_requests == []
    assert quiet.skip_message and "No drift" in quiet.skip_message

    # the audience shifts from the next day on: content mix, lengths and posting hours change
    shift_start = quiet_day + timedelta(days=1)
    shifted_end = shift_start + timedelta(days=1)
    home.run(shift_start, shifted_end, job="daily_pipeline_job", shift_start=shift_start.isoformat())
    drift = _latest_drift(home)
    assert drift.metadata["dataset_drift"].value is True
    drifted = drift.metadata["latest_drifted_columns"].value.split(",")
    assert {"media_type", "text_length"} <= set(drifted)
    # Evidently's report page of the run's last day is saved and linked, with the per-column figures beside it
    page = Path(drift.metadata["drift_report"].value)
    assert page.is_file() and page.name == f"feature_drift_{shifted_end.isoformat()}.html"
    assert page.parent == home.root / "reports" / "drift"
    text = page.read_text()
    assert text.lstrip().lower().startswith("<!doctype html") and all(column in text for column in drifted)
    assert drift.metadata["drift_report_url"].value == page.as_uri()
    scores = drift.metadata["latest_column_scores"].value
    for column in drifted:
        assert f"| {column} |" in scores and scores.split(f"| {column} |")[1].splitlines()[0].rstrip().endswith("| yes |")
    fired = _tick(home, home.defs(shift_start=shift_start.isoformat()), cursor=quiet.cursor)
    assert len(fired.run_requests) == 1
    request = fired.run_requests[0]
    assert request.job_name in (None, "engagement_model_training_job")
    assert request.tags["cycle/trigger"] == "feature_drift"
    assert shifted_end.isoformat() in request.tags["cycle/drifted_days"]
    # the shift's own day drifts on its own (its posts' features are known at publication): the retrain's drift
    # reference starts there, and the request is keyed by the champion it replaces (one request per shift)
    assert drift.metadata["drift_onset"].value == shift_start.isoformat()
    assert request.tags["cycle/drift_onset"] == shift_start.isoformat()
    assert request.run_key == f"drift-v{drift.metadata['champion_version'].value}"

    # the same materialization is not acted on twice
    again = _tick(home, home.defs(), cursor=fired.cursor)
    assert again.run_requests == []
