from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.training import TrainingConfig, TrainingResult, train_engagement_model
from ml_testdata import posts, trained  # noqa: F401  (pytest fixtures)


def test_model_beats_per_platform_baseline_on_holdout(trained: TrainingResult) -> None:
    m = trained.metrics
    assert m["rmse"] < m["baseline_rmse"]
    assert m["mae"] < m["baseline_mae"]
    # Planted effects explain a lot of variance; a model that only learned
    # platform means would sit at ~0 improvement.
    assert m["rmse_improvement"] > 0.12
    assert m["rmse_improvement"] == pytest.approx(1 - m["rmse"] / m["baseline_rmse"])


def test_time_ordered_split_and_metric_fields(trained: TrainingResult, posts: pd.DataFrame) -> None:
    m = trained.metrics
    dates = sorted(pd.to_datetime(posts["published_date"]).dt.date.unique())
    # 6 days -> newest day (20% rounded) is the holdout.
    assert m["train_start_date"] == dates[0].isoformat()
    assert m["train_end_date"] == dates[-2].isoformat()
    assert m["holdout_start_date"] == m["holdout_end_date"] == dates[-1].isoformat()
    assert m["n_holdout"] == int((pd.to_datetime(posts["published_date"]).dt.date == dates[-1]).sum())
    assert m["n_train"] + m["n_holdout"] == len(posts)
    assert m["n_model_rows"] == len(posts) and m["refit_on_all_data"] is True
    assert 1 <= trained.best_epoch <= TrainingConfig().max_epochs
    preds = trained.predict(posts)
    assert preds.shape == (len(posts),)
    assert np.all((preds >= 0) & (preds <= 1000))


def test_training_is_deterministic(posts: pd.DataFrame) -> None:
    small = posts[posts["platform"].isin(["x", "reddit"])]
    config = TrainingConfig(seed=3, max_epochs=15, refit_on_all_data=False)
    a = train_engagement_model(small, config)
    b = train_engagement_model(small, config)
    np.testing.assert_array_equal(a.predict(small), b.predict(small))
    assert a.metrics["rmse"] == b.metrics["rmse"]
    assert a.metrics["n_model_rows"] < len(small)  # no refit: validation rows held out


def test_too_little_data_raises(posts: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="rows"):
        train_engagement_model(posts.head(49))
    one_day = posts[pd.to_datetime(posts["published_date"]) == pd.to_datetime(posts["published_date"]).min()]
    assert len(one_day) >= 50
    with pytest.raises(ValueError, match="distinct published_date"):
        train_engagement_model(one_day)
    with pytest.raises(ValueError, match="missing required columns"):
        train_engagement_model(posts.drop(columns=["engagement_score"]))
