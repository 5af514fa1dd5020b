from __future__ import annotations

from typing import Callable

import pandas as pd
import pytest

from ml.drift import DEFAULT_DRIFT_COLUMNS, detect_feature_drift
from ml_testdata import posts_factory  # noqa: F401  (pytest fixtures)


@pytest.fixture(scope="module")
def reference(posts_factory: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    return posts_factory(seed=100)


def test_drift_fires_on_shifted_data(reference: pd.DataFrame, posts_factory: Callable[..., pd.DataFrame]) -> None:
    current = posts_factory(
        seed=101,
        posts_per_platform=50,
        n_days=2,
        media_probs={"video": 1.0},
        hook_probs={"question": 0.6, "none": 0.4},
        text_length_scale=3.0,
    )
    result = detect_feature_drift(reference, current)
    assert result.dataset_drift is True
    assert {"media_type", "hook_type", "text_length"} <= set(result.drifted_columns)
    assert "platform" not in result.drifted_columns
    assert result.drift_share >= 0.5
    assert set(result.column_scores) == set(DEFAULT_DRIFT_COLUMNS) == set(result.methods)
    assert result.column_scores["media_type"] < 1e-6  # p-value
    assert result.n_reference == len(reference) and result.n_current == len(current)
    assert result.to_dict()["drifted_columns"] == result.drifted_columns


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_no_drift_on_fresh_sample(
    reference: pd.DataFrame, posts_factory: Callable[..., pd.DataFrame], seed: int
) -> None:
    current = posts_factory(seed=seed, posts_per_platform=40, n_days=2)
    result = detect_feature_drift(reference, current)
    assert result.dataset_drift is False, result
    assert result.drift_share < 0.5


def test_unseen_category_counts_as_column_drift(
    reference: pd.DataFrame, posts_factory: Callable[..., pd.DataFrame]
) -> None:
    current = posts_factory(seed=5, posts_per_platform=40, n_days=2)
    current.loc[current.index[:10], "hook_type"] = "meme"
    result = detect_feature_drift(reference, current)
    assert "hook_type" in result.drifted_columns
    assert result.dataset_drift is False


def test_too_few_rows_or_missing_columns_raise(reference: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="at least 30"):
        detect_feature_drift(reference, reference.head(29))
    with pytest.raises(ValueError, match="missing drift columns"):
        detect_feature_drift(reference, reference.drop(columns=["topic"]))
