"""The engagement model is reported against a strong baseline, a ridge regression on the same features and
holdout, beside the per-platform mean: the metrics hold both, and the ridge is a real competitor (it beats the
per-platform mean by the planted effects), so "the model beats its baseline" means something."""

from __future__ import annotations

import numpy as np
import pytest

from ml.training import TrainingResult, ridge_baseline, time_holdout_split
from ml_testdata import posts, trained  # noqa: F401  (pytest fixtures)


def test_the_training_metrics_hold_the_ridge_beside_the_per_platform_mean(trained: TrainingResult) -> None:
    m = trained.metrics
    for key in ("ridge_rmse", "ridge_mae", "ridge_rmse_log", "ridge_alpha", "rmse_improvement_vs_ridge"):
        assert np.isfinite(m[key]), key
    # the planted hour and content effects are linear on the log scale: the ridge captures most of them
    assert m["ridge_rmse"] < 0.95 * m["baseline_rmse"]
    assert m["rmse_improvement_vs_ridge"] == pytest.approx(1 - m["rmse"] / m["ridge_rmse"])
    assert m["rmse_log_improvement_vs_ridge"] == pytest.approx(1 - m["rmse_log"] / m["ridge_rmse_log"])
    # the network is at the noise floor of the planted truth: it cannot be far behind a linear model of it
    assert m["rmse_log"] < 1.1 * m["ridge_rmse_log"]


def test_the_ridge_learns_the_features_not_the_noise(posts) -> None:
    train, holdout = time_holdout_split(posts, 0.2)
    scores, log_pred, alpha = ridge_baseline(train, holdout)
    assert scores.shape == log_pred.shape == (len(holdout),)
    assert np.all((scores >= 0) & (scores <= 1000)) and alpha > 0
    # with the features shuffled against the target it has nothing to learn: its error grows
    shuffled = train.assign(engagement_score=np.random.default_rng(0).permutation(train["engagement_score"].to_numpy()))
    noise, _, _ = ridge_baseline(shuffled, holdout)
    truth = holdout["engagement_score"].to_numpy(float)
    assert np.sqrt(np.mean((scores - truth) ** 2)) < 0.9 * np.sqrt(np.mean((noise - truth) ** 2))
