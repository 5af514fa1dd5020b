"""``boost_effectiveness`` reads the warehouse window by window and stores exactly what one pass over every snapshot
of the boosted platforms gives (the asset's reads before it was bounded)."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd

from analytics_assets.defs.analysis.boosts import boost_effectiveness
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.sources.simulator import SimulatorConfig
from boost_warehouse_testing import build_boost_warehouse
from ml.boost_lift import ESTIMATED, LiftConfig, estimate_boost_lift

START = date(2026, 6, 1)
DAYS = 16


def _one_pass(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The asset's reads before windows: every boost, every snapshot of the boosted platforms, in one frame."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        boosts = con.execute(
            """select b.boost_id, b.post_id, b.organic_platform as platform, p.account_id, b.start_date,
                      b.end_date, b.spend_usd, b.paid_engagements
               from main.fct_boost_contribution b
               left join main.dim_post p on p.platform = b.organic_platform and p.post_id = b.post_id
               order by b.boost_id"""
        ).df()
        snapshots = con.execute(
            """select platform, post_id, published_at, snapshot_at, engagements
               from main.stg_social_post_snapshots
               where platform in (select distinct organic_platform from main.fct_boost_contribution)"""
        ).df()
    finally:
        con.close()
    return estimate_boost_lift(snapshots, boosts, LiftConfig())


def _same(stored: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(stored.columns) == list(expected.columns)
    for col in expected.columns:
        a, b = stored[col], expected[col]
        if pd.api.types.is_float_dtype(b) or pd.api.types.is_integer_dtype(b):
            assert np.array_equal(a.to_numpy(float, na_value=np.nan), b.to_numpy(float, na_value=np.nan), equal_nan=True), col
        else:
            assert a.astype(object).where(a.notna(), None).tolist() == b.astype(object).where(b.notna(), None).tolist(), col


def test_the_asset_stores_exactly_what_one_pass_over_every_snapshot_gives(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    build_boost_warehouse(path, SimulatorConfig(seed=4, boost_rate=0.2), START, DAYS)
    expected, expected_trajectory = _one_pass(path)
    assert (expected["status"] == ESTIMATED).sum() > 150

    warehouse = WarehouseResource(path=str(path), threads=1, memory_limit="1GB")
    result = dg.materialize(
        [boost_effectiveness],
        resources={"warehouse": warehouse},
        run_config={"ops": {"boost_effectiveness": {"config": {"window_chunk_days": 2.0}}}},
    )
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    con = duckdb.connect(str(path), read_only=True)
    try:
        stored = con.execute("select * from analysis.boost_effectiveness").df()
        trajectory = con.execute("select * from analysis.boost_counterfactual_trajectory").df()
    finally:
        con.close()
    _same(stored, expected)
    _same(trajectory, expected_trajectory)


def _materialize(warehouse: WarehouseResource, **config) -> dict:
    result = dg.materialize([boost_effectiveness], resources={"warehouse": warehouse},
                            run_config={"ops": {"boost_effectiveness": {"config": config}}})
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    return result.asset_materializations_for_node("boost_effectiveness")[0].metadata


def _stored(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return (con.execute("select * from analysis.boost_effectiveness").df(),
                con.execute("select * from analysis.boost_counterfactual_trajectory").df())
    finally:
        con.close()


def test_a_rerun_estimates_only_the_boosts_whose_window_changed_and_stores_what_estimating_all_gives(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    build_boost_warehouse(path, SimulatorConfig(seed=5, boost_rate=0.2), START, DAYS)
    warehouse = WarehouseResource(path=str(path), threads=1, memory_limit="1GB")
    first = _materialize(warehouse)
    boosts = first["boosts_estimated_this_run"].value
    assert boosts > 100 and first["boosts_kept_unchanged"].value == 0
    before = _stored(path)

    again = _materialize(warehouse)  # nothing moved: every estimate is kept, to the last bit
    assert (again["boosts_estimated_this_run"].value, again["boosts_kept_unchanged"].value) == (0, boosts)
    _same(_stored(path)[0], before[0])
    _same(_stored(path)[1], before[1])

    # a restated day: the unboosted posts published on it read five times their engagements. Every boost with that
    # day within a week of its post's publication has new comparables; no other boost does
    day = START + timedelta(days=DAYS // 2)
    con = duckdb.connect(str(path))
    try:
        con.execute(
            """update main.stg_social_post_snapshots set engagements = engagements * 5
               where cast(published_at as date) = ? and post_id not in (select post_id from main.fct_boost_contribution)""",
            [day],
        )
        published = con.execute(
            """select b.boost_id, min(s.published_at) as published_at from main.fct_boost_contribution b
               join main.stg_social_post_snapshots s on s.post_id = b.post_id group by b.boost_id"""
        ).df()
    finally:
        con.close()
    week = pd.Timedelta(days=7)
    reaches = ((published["published_at"] - week).dt.date <= day) & ((published["published_at"] + week).dt.date >= day)
    moved = _materialize(warehouse)
    assert moved["boosts_estimated_this_run"].value == int(reaches.sum()) > 0
    assert moved["boosts_kept_unchanged"].value == boosts - int(reaches.sum()) > 0
    partial = _stored(path)
    assert not partial[0].equals(before[0])  # the restated day moved estimates

    # every boost estimated again (the kept boosts' posts were no comparables of the others): the same tables
    full = _materialize(warehouse, reuse_unchanged=False)
    assert full["boosts_estimated_this_run"].value == boosts
    _same(partial[0], _stored(path)[0])
    _same(partial[1], _stored(path)[1])

    # the method's settings are part of every boost's inputs: another setting estimates them all
    assert _materialize(warehouse, publish_window_days=6.0)["boosts_kept_unchanged"].value == 0
