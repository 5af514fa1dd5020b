"""The champion's live accuracy and the retrains it triggers: an error 20% above the champion's holdout error
warns, 50% above requests one retrain per champion version, and 1,000 posts since its training data request
one retrain. The sensors read the live-accuracy asset's metadata from the instance, never the warehouse."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from analytics_assets.defs.ml.automation import engagement_live_accuracy_sensor, engagement_new_data_sensor
from analytics_assets.defs.ml.live_accuracy import LIVE_ACCURACY_TABLE, TOLERANCE_CHECK, ml_champion_live_accuracy
from analytics_assets.defs.resources import MlflowResource, WarehouseResource
from ml.governance import LIVE_WINDOW_DAYS, NEW_POSTS_RETRAIN_THRESHOLD, RETRAIN_ERROR_RATIO, WARN_ERROR_RATIO

sys.path.append(str(Path(__file__).parent / "ml"))  # the ML tests' data builder (tests/ml is no package)
from ml_testdata import make_posts  # noqa: E402

HISTORY_DAYS = 6  # make_posts starts on 2025-03-03: the champion knows up to 2025-03-08
AFTER_TRAINING = "2025-03-09"


@functools.cache
def _history() -> pd.DataFrame:
    return make_posts(seed=7, posts_per_platform=300, n_days=HISTORY_DAYS)


def _new_posts(posts_per_platform: int, n_days: int, engagement_factor: float = 1.0) -> pd.DataFrame:
    """Posts published after the champion's data, in time order. ``engagement_factor``: a platform algorithm
    change multiplies every new post's engagement; the champion learned the old level."""
    posts = make_posts(seed=8, posts_per_platform=posts_per_platform, n_days=n_days, start=AFTER_TRAINING)
    posts["engagement_score"] = (posts["engagement_score"] * engagement_factor).clip(upper=1000.0)
    return posts.sort_values(["published_at", "post_id"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def champion_store(tmp_path_factory) -> MlflowResource:
    """MLflow holding the champion v1, trained on the history."""
    from ml.registry import log_and_register, tracking_uri_for
    from ml.training import TrainingConfig, train_engagement_model

    root = tmp_path_factory.mktemp("mlflow")
    store = MlflowResource(tracking_uri=tracking_uri_for(root), artifact_root=str(root / "artifacts"))
    log_and_register(train_engagement_model(_history(), TrainingConfig(seed=11)), store.tracking_uri, store.artifact_root)
    return store


@dataclass
class Loop:
    """A warehouse with the training dataset, the champion, and a Dagster instance that records evaluations."""

    warehouse: Path
    store: MlflowResource
    instance: dg.DagsterInstance

    def load(self, new_posts: pd.DataFrame) -> None:
        frame = pd.concat([_history(), new_posts], ignore_index=True)
        con = duckdb.connect(str(self.warehouse))
        try:
            con.register("incoming", frame)
            con.execute("create or replace table main.ml_training_dataset as select * from incoming")
        finally:
            con.close()

    def evaluate(self) -> tuple[dict, dg.AssetCheckEvaluation]:
        resources = {"warehouse": WarehouseResource(path=str(self.warehouse)), "mlflow_store": self.store}
        result = dg.materialize([ml_champion_live_accuracy], instance=self.instance, resources=resources)
        (event,) = result.get_asset_materialization_events()
        (check,) = result.get_asset_check_evaluations()
        assert check.check_name == TOLERANCE_CHECK
        return {k: v.value for k, v in event.materialization.metadata.items()}, check

    def tick(self, sensor: dg.SensorDefinition, cursor: str | None = None):
        with dg.build_sensor_context(instance=self.instance, cursor=cursor) as context:
            return sensor.evaluate_tick(context)


@pytest.fixture
def loop(tmp_path, champion_store):
    with dg.instance_for_test() as instance:
        yield Loop(tmp_path / "warehouse.duckdb", champion_store, instance)


def test_error_50_percent_above_the_holdout_error_requests_one_retrain_per_champion(loop):
    loop.load(_new_posts(100, 2, engagement_factor=2.0))
    live, check = loop.evaluate()
    assert live["champion_version"] == "1" and live["status"] == "retrain"
    assert live["error_ratio"] == pytest.approx(live["live_rmse_log"] / live["holdout_rmse_log"])
    assert live["error_ratio"] >= RETRAIN_ERROR_RATIO
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN

    fired = loop.tick(engagement_live_accuracy_sensor)
    (request,) = fired.run_requests
    assert request.run_key == "live-accuracy-v1"
    assert request.tags["cycle/trigger"] == "live_accuracy" and request.tags["cycle/champion_version"] == "1"

    # the next evaluation of the same champion is as bad: no second request
    loop.load(_new_posts(130, 3, engagement_factor=2.0))
    again_live, _ = loop.evaluate()
    assert again_live["error_ratio"] >= RETRAIN_ERROR_RATIO
    again = loop.tick(engagement_live_accuracy_sensor, fired.cursor)
    assert again.run_requests == [] and "requested already" in again.skip_message
    # 390 new posts: not enough for the new-data trigger
    assert loop.tick(engagement_new_data_sensor).run_requests == []

    # a retrain materialized the model after the latest evaluation: its figures may describe a former champion
    loop.instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="engagement_model"))
    waiting = loop.tick(engagement_live_accuracy_sensor)
    assert waiting.run_requests == [] and "waiting for the next" in waiting.skip_message

    # one row per champion version and data day
    con = duckdb.connect(str(loop.warehouse), read_only=True)
    try:
        rows = con.execute(f"select model_version, as_of_date, status from {LIVE_ACCURACY_TABLE} order by all").fetchall()
    finally:
        con.close()
    assert [(v, s) for v, _, s in rows] == [("1", "retrain"), ("1", "retrain")] and rows[0][1] < rows[1][1]


def test_error_20_percent_above_the_holdout_error_only_warns(loop):
    loop.load(_new_posts(100, 2, engagement_factor=1.4))
    live, check = loop.evaluate()
    assert WARN_ERROR_RATIO <= live["error_ratio"] < RETRAIN_ERROR_RATIO and live["status"] == "warn"
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    quiet = loop.tick(engagement_live_accuracy_sensor)
    assert quiet.run_requests == [] and "error ratio" in quiet.skip_message


def test_one_thousand_posts_since_the_champions_data_request_one_retrain(loop):
    posts = _new_posts(NEW_POSTS_RETRAIN_THRESHOLD // 4, 10)  # 1,000 posts over 10 days, the champion's world
    loop.load(posts.iloc[: NEW_POSTS_RETRAIN_THRESHOLD - 1])
    live, check = loop.evaluate()
    assert live["posts_since_training"] == 999
    # unchanged behaviour: the champion is as accurate as on its holdout
    assert live["status"] == "ok" and check.passed
    # the window is the newest 7 days of those posts
    dates = pd.to_datetime(posts["published_date"].iloc[:999])
    window_start = dates.max() - pd.Timedelta(days=LIVE_WINDOW_DAYS - 1)
    assert (live["window_start"], live["window_end"]) == (window_start.date().isoformat(), dates.max().date().isoformat())
    assert live["n_window_posts"] == int((dates >= window_start).sum()) < 999
    quiet = loop.tick(engagement_new_data_sensor)
    assert quiet.run_requests == [] and "999 new posts" in quiet.skip_message

    loop.load(posts)
    assert loop.evaluate()[0]["posts_since_training"] == NEW_POSTS_RETRAIN_THRESHOLD
    fired = loop.tick(engagement_new_data_sensor, quiet.cursor)
    (request,) = fired.run_requests
    assert request.run_key == "new-posts-v1-1000" and request.tags["cycle/trigger"] == "new_posts"
    assert loop.tick(engagement_live_accuracy_sensor).run_requests == []

    loop.evaluate()
    again = loop.tick(engagement_new_data_sensor, fired.cursor)
    assert again.run_requests == [] and "requested already" in again.skip_message
