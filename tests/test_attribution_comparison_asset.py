"""The model comparison asset on journeys of both simulator worlds, without dbt: the paths it reads
(``int_attribution_paths``) are written from the simulator's touchpoints the way the dbt model shapes them
(one path per conversion, the touches after a journey's last conversion form a path without one), all of
the simulator's one web property."""

from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd
import pytest

from analytics_assets.contracts.warehouse import ATTRIBUTION_MODEL_COMPARISON as COMPARISON_TABLE
from analytics_assets.defs.analysis.attribution import agg_attribution_model_comparison
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.sources.simulator import ground_truth as gt
from cycle_testing import simulated_journey_events

DAYS = 4


def _write_journeys(path: str, world: str) -> None:
    events = simulated_journey_events(world, seed=3, journeys_per_day=2500, days=DAYS)
    events["event_at"] = events["at"].dt.tz_localize(None)
    events["event_date"] = events["event_at"].dt.date
    events = events.rename(columns={"event": "event_type"})
    conversions = events[events["event_type"] == "conversion"].assign(
        conversion_id=lambda c: c["event_id"],
        converted_at=lambda c: c["event_at"],
        conversion_date=lambda c: c["event_date"],
        conversion_value_usd=lambda c: c["revenue"] * c["currency"].map(gt.USD_PER_UNIT),
    )
    touches = events[events["event_type"] == "touchpoint"]
    # every simulated journey converts at most once, at its end: its touches are that conversion's path
    attributed = touches.merge(conversions[["journey_id", "conversion_id", "conversion_date"]], on="journey_id")
    position = attributed.groupby("conversion_id")["event_at"].rank(method="first")
    attributed = attributed.assign(touch_position=position.astype(int))
    with duckdb.connect(path) as con:
        con.register("_conversions", conversions)
        con.register("_touches", attributed)
        con.register("_events", events)
        con.execute(
            """create table int_attribution_paths as
               select t.property_id, t.conversion_id as path_id, t.channel, t.touch_position as position, t.conversion_date as path_date,
                      1 as converted, c.conversion_value_usd as value
               from _touches t join _conversions c using (conversion_id)
               union all
               select property_id, journey_id || '/open', channel,
                      row_number() over (partition by journey_id order by event_at, event_id),
                      max(event_date) over (partition by journey_id), 0, 0.0
               from _events e
               where event_type = 'touchpoint'
                 and not exists (select 1 from _conversions c where c.journey_id = e.journey_id)"""
        )


@pytest.mark.parametrize("world, warned", [("exposure", False), ("funnel", True)])
def test_comparison_warns_when_the_paths_contradict_a_models_assumptions(tmp_path, world, warned):
    warehouse = str(tmp_path / "warehouse.duckdb")
    _write_journeys(warehouse, world)
    result = dg.materialize(
        [agg_attribution_model_comparison],
        resources={"warehouse": WarehouseResource(path=warehouse, threads=1, memory_limit="1GB")},
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node("agg_attribution_model_comparison")
    fit_warnings = materialization.metadata["model_fit_warnings"].value
    assert (fit_warnings != "none") == warned, fit_warnings
    if warned:
        assert "negative credit" in fit_warnings and "markov" in fit_warnings
    [check] = result.get_asset_check_evaluations()
    assert check.passed
    with duckdb.connect(warehouse, read_only=True) as con:
        credits = con.execute(f"select channel, model, share from {COMPARISON_TABLE}").df()
        accounts = con.execute(f"select distinct platform, account_id from {COMPARISON_TABLE}").fetchall()
    assert accounts == [("web", "cycle-demo")]  # the simulator's one web property
    share = credits.pivot(index="channel", columns="model", values="share")
    # the model that fits the world puts the planted strongest channel first and the weakest last
    fitted = "markov" if world == "funnel" else "shapley"
    assert share[fitted].idxmax() == "google_ads" and share[fitted].idxmin() == "reddit_organic", share.round(3)
