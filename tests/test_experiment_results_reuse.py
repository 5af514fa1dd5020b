"""experiment_results keeps the call of every experiment whose inputs did not change since its last run (a
fingerprint of its observations, the rule and the method) and calls the others again: the table is the one a run
calling every experiment gives, while a finished experiment is not read again."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import dagster as dg
import duckdb
import pandas as pd

from analytics_assets.contracts.warehouse import EXPERIMENT_RESULTS
from analytics_assets.defs.analysis.experiments import OBSERVATION_COLUMNS, experiment_results
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.sources.parsing.parsers import EXPERIMENT_OBSERVATION_MAPPING, parse_records
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig

START = date(2026, 1, 1)


def _observations(days: int) -> pd.DataFrame:
    sim = PlatformSimulator(SimulatorConfig(seed=5))
    rows = parse_records(sim.experiment_observations(START, START + timedelta(days=days - 1)), EXPERIMENT_OBSERVATION_MAPPING).rows
    return rows[OBSERVATION_COLUMNS]


def _store(path, observations: pd.DataFrame) -> None:
    with duckdb.connect(str(path)) as con:
        con.register("_obs", observations)
        con.execute("create or replace table main.stg_experiment_observations as select * from _obs")


def _call(path, reuse: bool = True) -> dict:
    config = {"ops": {"experiment_results": {"config": {"reuse_unchanged": reuse}}}}
    result = dg.materialize([experiment_results], resources={"warehouse": WarehouseResource(path=str(path))}, run_config=config)
    (materialization,) = result.asset_materializations_for_node("experiment_results")
    return {k: v.value for k, v in materialization.metadata.items()}


def _results(path) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"select * from {EXPERIMENT_RESULTS} order by experiment_id").df()


def test_unchanged_experiments_keep_their_call_and_the_table_is_what_calling_every_one_gives(tmp_path):
    everything = _observations(70)
    first_days = everything[pd.to_datetime(everything["exposed_at"]) < pd.Timestamp(START + timedelta(days=56))]
    path = tmp_path / "warehouse.duckdb"
    _store(path, first_days)
    first = _call(path)
    assert first["experiments_kept_unchanged"] == 0 and first["experiments_called_this_run"] == first["dagster/row_count"] > 6

    # two more weeks, and one unit of a finished experiment restated (its value changed at the source)
    before = _results(path).set_index("experiment_id")
    ended = pd.to_datetime(before["end_date"]) < pd.Timestamp(START + timedelta(days=40))
    finished = before.index[ended & (before["metric_kind"] == "continuous")][0]
    restated = everything.copy()
    at = restated.index[restated["experiment_id"] == finished][0]
    restated.loc[at, "value"] = restated.loc[at, "value"] + 50.0
    _store(path, restated)
    again = _call(path)
    assert again["experiments_kept_unchanged"] > 0 and again["experiments_called_this_run"] > 0
    assert again["experiments_kept_unchanged"] + again["experiments_called_this_run"] == again["dagster/row_count"]
    after = _results(path).set_index("experiment_id")
    assert after.loc[finished, "control_mean"] != before.loc[finished, "control_mean"] or (
        after.loc[finished, "treatment_mean"] != before.loc[finished, "treatment_mean"]
    )  # called again, not kept
    full = tmp_path / "full.duckdb"
    shutil.copy(path, full)
    assert _call(full, reuse=False)["experiments_kept_unchanged"] == 0
    pd.testing.assert_frame_equal(_results(path), _results(full))
    # a rerun on the same inputs keeps every call, and the table stays the same
    rerun = _call(path)
    assert rerun["experiments_called_this_run"] == 0 and rerun["experiments_kept_unchanged"] == again["dagster/row_count"]
    pd.testing.assert_frame_equal(_results(path), _results(full))
