"""The followers (recommendations, serving snapshot) catch up on their own when an input is materialized
outside the pipeline jobs, through a sensor that runs by default; after they ran, nothing more is asked."""

from __future__ import annotations

import dagster as dg
import pytest

from analytics_assets.definitions import defs
from analytics_assets.defs.automation import FOLLOWERS

SERVING = dg.AssetKey("serving_snapshot")
POLICY = {dg.AssetKey(k) for k in ("ml_posting_slots", "posting_hour_recommendations", "ml_recommendations")}
LOOP_MODELS = {dg.AssetKey(k) for k in ("fct_recommendations", "fct_recommendation_outcomes", "agg_recommendation_performance")}


def _materialized(instance: dg.DagsterInstance, key: str, partition: str | None = None) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=partition))


def _requested(instance: dg.DagsterInstance, cursor=None):
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    return {r.key for r in result.results if r.true_subset.size}, result.cursor


def test_the_automation_sensor_runs_by_default_and_targets_the_followers():
    sensor = defs.resolve_sensor_def("cycle_automation_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    graph = defs.resolve_asset_graph()
    conditioned = {
        key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).automation_condition is not None
    }
    assert conditioned == set(FOLLOWERS)


@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
def test_followers_catch_up_once_after_an_input_changes():
    with dg.instance_for_test() as instance:
        requested, cursor = _requested(instance)
        assert requested == set(), "nothing materialized yet: nothing to follow"

        # one day of one dbt mart, materialized from the UI: the snapshot (not the recommendations) follows
        _materialized(instance, "agg_account_daily", "2026-10-14")
        requested, cursor = _requested(instance, cursor)
        assert requested == {SERVING}

        _materialized(instance, "serving_snapshot")
        requested, cursor = _requested(instance, cursor)
        assert requested == set(), "the snapshot is up to date"

        # a retrain: the posting policy follows (its three tables are one step), then the loop models that read
        # its recommendations, and the snapshot with them (one run for all)
        _materialized(instance, "engagement_model")
        requested, cursor = _requested(instance, cursor)
        assert requested == {*POLICY, *LOOP_MODELS, SERVING}
        for key in (*POLICY, *LOOP_MODELS, SERVING):
            _materialized(instance, key.to_user_string())
        requested, cursor = _requested(instance, cursor)
        assert requested == set()
