"""The raw checks are scoped to their partition (issue 15): a run over two days records each data check once per
day, on that day's stored rows and with that day's figures, so a bad day fails alone and the UI shows it on its
partition. A failed blocking check still stops what is downstream in the run, the quality gate stays closed on
that partition's latest evaluation, and a one-day rerun of the fixed day reopens it."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pandas as pd
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionResolvedStatus as Resolved

from analytics_assets.defs.ingest import raw as raw_module
from analytics_assets.defs.ingest.raw import raw_platform_data
from analytics_assets.defs.partitions import daily_partitions
from analytics_assets.defs.quality_gate import QualityGateResource
from analytics_assets.defs.resources import default_resources
from cycle_testing import new_home

GOOD = date(2026, 5, 6)
BAD = GOOD + timedelta(days=1)
SIM = {"seed": 3, "posts_per_day": 30, "journeys_per_day": 6, "malformed_rate": 0.0}
UNIQUE = dg.AssetCheckKey(dg.AssetKey("raw_boosts"), "natural_key_is_unique")
SCHEMA = dg.AssetCheckKey(dg.AssetKey("raw_boosts"), "rows_match_schema")
GATE = QualityGateResource(checks_by_asset={"serving_snapshot": [["raw_boosts", "natural_key_is_unique"],
                                                                  ["raw_boosts", "rows_match_schema"]]})


@dg.asset(deps=["raw_boosts"], partitions_def=daily_partitions, backfill_policy=dg.BackfillPolicy.single_run())
def downstream_of_boosts() -> None:
    """Stands for dbt: it must not run while a blocking check on raw_boosts fails."""


def _plant_bad_boosts(monkeypatch) -> None:
    """The BAD day's parsed boosts hold one row twice and one row with a negative spend, as a source that
    slipped past parsing would deliver them."""
    parse_day = raw_module.parse_day

    def planted(day_data, *args):
        batches = parse_day(day_data, *args)
        boosts = batches["raw_boosts"]
        if len(boosts.rows) and boosts.rows["partition_date"].iloc[0] == BAD:
            rows = boosts.rows.reset_index(drop=True)
            broken = rows.iloc[[1]].assign(spend=-5.0)
            rows = pd.concat([rows.drop(index=1), rows.iloc[[0]], broken], ignore_index=True)
            batches["raw_boosts"] = type(boosts)(boosts.table, rows, boosts.quarantine)
        return batches

    monkeypatch.setattr(raw_module, "parse_day", planted)


def _evaluations(result, key: dg.AssetCheckKey) -> dict[str, dg.AssetCheckEvaluation]:
    found = [e for e in result.get_asset_check_evaluations() if e.asset_check_key == key]
    by_partition = {e.partition: e for e in found}
    assert len(by_partition) == len(found), "one evaluation per partition"
    return by_partition


def _stored(home, day: date) -> int:
    return int(home.query("select count(*) as n from raw.raw_boosts where partition_date = ?", [day]).n[0])


def _statuses(home, key: dg.AssetCheckKey) -> dict[Resolved, set[str]]:
    """Each partition's check status as the UI reads it (AssetCheckState, behind GraphQL's partitionStatuses)."""
    state = home.instance.event_log_storage.get_asset_check_state([(key, daily_partitions)])[key]
    return {status: set(subset.subset_value.get_partition_keys()) for status, subset in state.subsets.items()}


def test_a_range_run_checks_each_day_and_a_rerun_of_the_fixed_day_reopens_the_gate(tmp_path, monkeypatch):
    home = new_home(tmp_path / "home")
    resources = {**default_resources(), **home.resources(**SIM)}
    _plant_bad_boosts(monkeypatch)
    ranged = dg.materialize(
        [raw_platform_data, downstream_of_boosts], resources=resources, instance=home.instance, raise_on_error=False,
        selection=["raw_boosts", "downstream_of_boosts"],
        tags={"dagster/asset_partition_range_start": GOOD.isoformat(), "dagster/asset_partition_range_end": BAD.isoformat()},
    )
    # the failed blocking checks fail the raw step after every day is recorded; nothing downstream runs
    assert not ranged.success
    (failure,) = [e for e in ranged.all_events if e.is_step_failure]
    assert failure.step_key == "raw_platform_data" and "blocking asset check" in str(failure.event_specific_data.error)
    assert not [m for m in ranged.get_asset_materialization_events() if m.asset_key == dg.AssetKey("downstream_of_boosts")]

    unique, schema = _evaluations(ranged, UNIQUE), _evaluations(ranged, SCHEMA)
    assert set(unique) == set(schema) == {GOOD.isoformat(), BAD.isoformat()}
    good, bad = unique[GOOD.isoformat()], unique[BAD.isoformat()]
    assert good.passed and good.metadata["duplicate_keys"].value == 0
    assert not bad.passed and bad.blocking and bad.metadata["duplicate_keys"].value == 1
    assert bad.metadata["duplicated_keys"].value and BAD.isoformat() in bad.description
    assert schema[GOOD.isoformat()].passed and schema[GOOD.isoformat()].metadata["failures"].value == 0
    bad_schema = schema[BAD.isoformat()]
    assert not bad_schema.passed and bad_schema.metadata["failures"].value == 1 and "spend" in bad_schema.metadata["sample"].value
    for day in (GOOD, BAD):  # each day's own figures, not the run's
        assert unique[day.isoformat()].metadata["partition_rows"].value == _stored(home, day) > 0
        assert schema[day.isoformat()].metadata["rows_checked"].value == _stored(home, day)
        assert unique[day.isoformat()].target_materialization_data.run_id == ranged.run_id
    quarantine = _evaluations(ranged, dg.AssetCheckKey(dg.AssetKey("raw_boosts"), "quarantine_share_is_low"))
    assert set(quarantine) == {GOOD.isoformat(), BAD.isoformat()}
    assert all(quarantine[d.isoformat()].metadata["partition_rows"].value == _stored(home, d) for d in (GOOD, BAD))

    # the UI shows the failure on its partition only; the gate names the failing partition
    assert _statuses(home, UNIQUE)[Resolved.FAILED] == {BAD.isoformat()}
    assert _statuses(home, UNIQUE)[Resolved.SUCCEEDED] == {GOOD.isoformat()}
    closed = GATE.failed_checks(home.instance, dg.AssetKey("serving_snapshot"))
    assert {(f.check, f.partition) for f in closed} == {(UNIQUE.name, BAD.isoformat()), (SCHEMA.name, BAD.isoformat())}

    # fixed at the source, the bad day re-run on its own: its checks pass, the gate opens, downstream runs
    monkeypatch.undo()
    rerun = dg.materialize(
        [raw_platform_data, downstream_of_boosts], resources=resources, instance=home.instance,
        selection=["raw_boosts", "downstream_of_boosts"], partition_key=BAD.isoformat(),
    )
    assert rerun.success
    assert [m.partition for m in rerun.get_asset_materialization_events()
            if m.asset_key == dg.AssetKey("downstream_of_boosts")] == [BAD.isoformat()]
    fixed = _evaluations(rerun, UNIQUE)
    assert set(fixed) == {BAD.isoformat()} and fixed[BAD.isoformat()].passed
    assert fixed[BAD.isoformat()].metadata["partition_rows"].value == _stored(home, BAD)
    assert GATE.failed_checks(home.instance, dg.AssetKey("serving_snapshot")) == []
    assert _statuses(home, UNIQUE)[Resolved.SUCCEEDED] == {GOOD.isoformat(), BAD.isoformat()}


# the gate's reading of per-partition records, on a toy asset (no warehouse): what "latest" means per partition
_DAYS = dg.StaticPartitionsDefinition(["d1", "d2"])
_CHECK = dg.AssetCheckKey(dg.AssetKey("toy"), "ok")
_TOY_GATE = QualityGateResource(checks_by_asset={"served": [["toy", "ok"]]})


@dg.asset(partitions_def=_DAYS, config_schema={"passes": bool, "crash": bool},
          check_specs=[dg.AssetCheckSpec("ok", asset="toy", blocking=True, partitions_def=_DAYS)])
def toy(context):
    if context.op_config["crash"]:
        raise RuntimeError("stopped before its check")  # the check stays planned, never evaluated
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(check_name="ok", passed=context.op_config["passes"])


def _toy(instance, partition: str, passes: bool = True, crash: bool = False) -> None:
    dg.materialize([toy], instance=instance, partition_key=partition, raise_on_error=False,
                   run_config={"ops": {"toy": {"config": {"passes": passes, "crash": crash}}}})


def _gate(instance) -> list[str | None]:
    return [f.partition for f in _TOY_GATE.failed_checks(instance, dg.AssetKey("served"))]


def test_the_gate_reads_the_latest_evaluation_of_each_partition():
    with dg.instance_for_test() as instance:
        # a result from before the check was partitioned (one per run, no partition) that failed
        instance.report_runless_asset_event(dg.AssetCheckEvaluation(asset_key=_CHECK.asset_key, check_name="ok", passed=False))
        assert _gate(instance) == [None]
        _toy(instance, "d1")  # the first per-partition result supersedes it
        assert _gate(instance) == []
        _toy(instance, "d2", passes=False)
        _toy(instance, "d1")  # a newer pass of another partition leaves d2 failing
        assert _gate(instance) == ["d2"]
        _toy(instance, "d2", crash=True)  # planned, never evaluated: d2's latest evaluation is still the failure
        assert _gate(instance) == ["d2"]
        _toy(instance, "d2")
        assert _gate(instance) == []
