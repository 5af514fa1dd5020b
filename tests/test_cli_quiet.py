"""The quiet CLI's parts, fast: a failed step reaches the terminal with its error and the log's path while the
event log goes to the file; the partition start follows the home's data; the summary's attribution rule."""

from __future__ import annotations

import uuid
from datetime import date

import dagster as dg
import pytest

from analytics_assets.cli import record_data_start, resolve_window
from analytics_assets.cli.progress import QuietRun, StepMonitor
from analytics_assets.cli.summary import recommended_attribution_model
from analytics_assets.defs.partitions import DEFAULT_PARTITION_START, first_partition_day
from analytics_assets.settings import SettingsError, load_settings


@dg.op
def extract() -> int:
    return 41


@dg.op
def transform(value: int) -> int:
    print("a library's chatter, for the log file only")
    raise ValueError(f"column spend_usd is negative on {value} rows")


@dg.job
def failing_job():
    transform(extract())


def test_a_failed_step_reaches_the_terminal_and_the_event_log_goes_to_the_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))
    run_id = str(uuid.uuid4())
    with dg.DagsterInstance.ephemeral() as instance, QuietRun("test") as quiet:
        with StepMonitor(instance, run_id, 2, quiet) as monitor, quiet.redirected():
            result = failing_job.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False)
    assert not result.success
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"cycle: full log in {quiet.path}"
    assert "[ 1/2] ok      extract" in out
    assert "FAILED  transform" in err and "column spend_usd is negative on 41 rows" in err
    assert str(quiet.path) in err
    assert "DEBUG" not in out + err and "chatter" not in out + err
    assert monitor.failures == [("transform", "ValueError: column spend_usd is negative on 41 rows")]
    log = quiet.path.read_text()
    assert quiet.path.parent == tmp_path / "logs"
    assert "STEP_FAILURE" in log and "chatter" in log


def test_the_partition_start_follows_the_first_demo_and_only_moves_earlier(tmp_path, monkeypatch):
    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))
    monkeypatch.delenv("CYCLE_PARTITION_START", raising=False)
    assert first_partition_day() == DEFAULT_PARTITION_START
    assert record_data_start(date(2026, 11, 5), create=False) is None  # a backfill records nothing by itself
    assert first_partition_day() == DEFAULT_PARTITION_START

    with pytest.raises(SystemExit, match="partitions start at 2025-01-01"):
        resolve_window(None, date(2024, 12, 31), date(2025, 1, 2))

    assert record_data_start(date(2026, 11, 5), create=True) == date(2026, 11, 5)  # the demo's first day
    assert first_partition_day() == date(2026, 11, 5)
    # a home with a recorded start takes an earlier backfill: record_data_start moves the start back first
    assert resolve_window(None, date(2024, 12, 31), date(2025, 1, 2)) == (date(2024, 12, 31), date(2025, 1, 2))
    assert record_data_start(date(2026, 11, 20), create=False) == date(2026, 11, 5)  # later: unchanged
    assert record_data_start(date(2026, 10, 1), create=False) == date(2026, 10, 1)  # earlier: the start moves
    assert (tmp_path / "partition_start").read_text().strip() == "2026-10-01"

    monkeypatch.setenv("CYCLE_PARTITION_START", "2026-01-01")  # an explicit setting wins and is never rewritten
    assert first_partition_day() == date(2026, 1, 1)
    assert record_data_start(date(2025, 6, 1), create=True) is None
    assert (tmp_path / "partition_start").read_text().strip() == "2026-10-01"

    monkeypatch.delenv("CYCLE_PARTITION_START")
    (tmp_path / "partition_start").write_text("last tuesday\n")
    with pytest.raises(SettingsError, match="partition_start holds 'last tuesday'"):
        first_partition_day(load_settings())


def test_the_recommended_attribution_model_follows_the_readme_rule():
    exposure = {"shapley": {"google_ads": 0.6, "x_organic": 0.4}, "markov": {"google_ads": 0.5, "x_organic": 0.5}}
    assert recommended_attribution_model(exposure)[0] == "shapley"
    funnel = {"shapley": {"google_ads": 1.1, "meta_ads": -0.1}, "markov": {"google_ads": 0.7, "meta_ads": 0.3}}
    assert recommended_attribution_model(funnel)[0] == "markov"
    assert recommended_attribution_model({})[0] is None
