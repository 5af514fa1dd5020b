"""benchmarks/day_graph.py: the whole graph for one day, timed per step from the run's event log.

The harness on a two-step job (cheap): each step's seconds are its STEP_START to STEP_SUCCESS/FAILURE, and a
failed run raises with the failed step's error rather than reporting figures of half a graph. The real
``daily_pipeline_job`` in a fresh home takes about 110 s even at 30 posts a day, more than the suite's budget
allows: the end-to-end tests run that job already, and the benchmark itself was run at 2,000 to 50,000 posts."""

from __future__ import annotations

import time
from datetime import date, timedelta

import dagster as dg
import pytest

from benchmarks import day_graph

DAY = date(2026, 5, 4)
_PARTITIONS = dg.DailyPartitionsDefinition(start_date="2026-05-01")


def _two_step_job(fail: bool):
    @dg.asset(partitions_def=_PARTITIONS)
    def first() -> int:
        time.sleep(0.05)
        return 1

    @dg.asset(partitions_def=_PARTITIONS)
    def second(first: int) -> int:
        time.sleep(0.1)
        if fail:
            raise ValueError("planted failure")
        return first + 1

    defs = dg.Definitions(
        assets=[first, second],
        jobs=[dg.define_asset_job("two_steps", selection=[first, second])],
        resources={"io_manager": dg.mem_io_manager},
    )
    return defs.resolve_job_def("two_steps")


def test_each_step_is_timed_from_the_event_log_slowest_first():
    with dg.DagsterInstance.ephemeral() as instance:
        figures = day_graph.time_job(_two_step_job(fail=False), instance, DAY)
        assert figures["result"].success
        run = instance.get_run_by_id(figures["run_id"])
        assert run.tags["dagster/partition"] == DAY.isoformat()  # one partition, as the schedule requests it
    steps = figures["steps"]
    assert list(steps) == ["second", "first"]  # slowest first
    assert all(s["status"] == "success" for s in steps.values())
    assert steps["second"]["seconds"] >= 0.1 and steps["first"]["seconds"] >= 0.05
    assert figures["job_seconds"] >= round(sum(s["seconds"] for s in steps.values()), 1) - 0.1


def test_a_failed_run_raises_with_the_failed_step_and_its_error():
    with dg.DagsterInstance.ephemeral() as instance:
        with pytest.raises(day_graph.JobFailed, match=r"two_steps for 2026-05-04 failed .*second: .*planted failure"):
            day_graph.time_job(_two_step_job(fail=True), instance, DAY)
        run = instance.get_runs()[0]
        steps = day_graph.step_seconds(instance, run.run_id)
    assert steps["second"]["status"] == "failure" and steps["second"]["seconds"] >= 0.1
    assert steps["first"]["status"] == "success"


def test_the_report_judges_the_goals_only_at_50000_posts_a_day():
    figures = {
        "day": "2026-05-04", "posts_per_day": 2_000, "executor": "in_process", "job_seconds": 400.0,
        "peak_mb": 5_000, "run_process_peak_mb": 4_500, "subprocess_peak_mb": 1_000, "steps_seconds_sum": 390.0,
        "history": [],
        "warmup": {"days": "2026-04-24 .. 2026-04-26", "posts_per_day": 240},
        "steps": {"raw_platform_data": {"seconds": 390.0, "status": "success"}},
    }
    small = day_graph.report(figures)
    assert "MISS" not in small and small.count("not judged at this size") == 2
    big = day_graph.report({**figures, "posts_per_day": 50_000})
    assert "(goal < 300 s at 50,000 posts a day: MISS)" in big and "goal < 4 GB at 50,000: MISS" in big
    assert "raw_platform_data" in big and "97.5%" in big
    fast = day_graph.report({**figures, "posts_per_day": 50_000, "job_seconds": 299.0, "peak_mb": 4_000})
    assert fast.count("PASS") == 2


def test_the_growth_report_compares_the_same_day_after_a_short_and_a_long_history():
    def figures(warmup_days: int, job: float, dbt: float) -> dict:
        first = date(2026, 5, 3) - timedelta(days=warmup_days)
        return {
            "posts_per_day": 240, "job_seconds": job, "history": [{"day": "2026-05-03", "job_seconds": 1.0}],
            "warmup": {"days": f"{first} .. 2026-05-02", "posts_per_day": 240},
            "steps": {"raw_platform_data": {"seconds": 10.0}, "cycle_dbt_models": {"seconds": dbt}},
        }

    text = day_graph.growth(figures(30, 100.0, 40.0), figures(365, 130.0, 70.0))
    assert "after 366 days of history against 31 days: 130.0 s / 100.0 s = 1.30x (goal <= 1.2x: MISS)" in text
    rows = text.splitlines()[2:]
    assert rows[0].split()[0] == "cycle_dbt_models" and "+30.0 s" in rows[0] and "+0.0 s" in rows[1]
    assert "1.10x (goal <= 1.2x: PASS)" in day_graph.growth(figures(30, 100.0, 40.0), figures(365, 110.0, 50.0))


def test_each_step_gets_the_peak_memory_sampled_while_it_ran():
    memory = day_graph.TreeMemory()
    memory.samples = [(10.0, 100.0), (11.0, 900.0), (12.0, 300.0), (20.0, 50.0)]
    assert memory.peak_between(10.5, 12.0) == 900.0 and memory.peak_between(12.5, 19.0) is None
    with dg.DagsterInstance.ephemeral() as instance:
        steps = day_graph.time_job(_two_step_job(fail=False), instance, DAY)["steps"]
    assert all(s["started_at"] <= s["ended_at"] for s in steps.values())
    assert steps["first"]["ended_at"] <= steps["second"]["started_at"]  # the event log's times, in order
    figures = {
        "day": "2026-05-04", "posts_per_day": 50_000, "executor": "in_process", "job_seconds": 100.0,
        "peak_mb": 3_000, "run_process_peak_mb": 3_000, "subprocess_peak_mb": 0, "steps_seconds_sum": 90.0,
        "history": [], "warmup": None,
        "steps": {"boost_effectiveness": {"seconds": 60.0, "status": "success", "peak_mb": 2_560.0},
                  "serving_snapshot": {"seconds": 30.0, "status": "success"}},
    }
    lines = day_graph.report(figures).splitlines()
    assert "peak GB" in next(line for line in lines if line.split()[:1] == ["step"])
    assert next(line for line in lines if "boost_effectiveness" in line).rstrip().endswith("2.50")
