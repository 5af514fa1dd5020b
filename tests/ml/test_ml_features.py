from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from ml.features import CATEGORICAL_COLUMNS, FeatureSpec, inverse_target, transform_target
from ml_testdata import posts  # noqa: F401  (pytest fixtures)


def test_spec_round_trips_through_json(posts: pd.DataFrame) -> None:
    spec = FeatureSpec.fit(posts)
    restored = FeatureSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert restored == spec
    a, b = spec.encode(posts), restored.encode(posts)
    assert torch.equal(a.x, b.x)
    assert a.y is not None and b.y is not None and torch.equal(a.y, b.y)


def test_vocabularies_and_unknown_bucket(posts: pd.DataFrame) -> None:
    spec = FeatureSpec.fit(posts)
    assert spec.platforms == ["linkedin", "reddit", "tiktok", "x"]
    assert spec.vocabularies["publish_hour"] == [str(h) for h in range(24)]
    assert spec.vocabularies["publish_dow"] == [str(d) for d in range(7)]

    odd = posts.head(3).copy()
    odd["hook_type"] = ["meme", None, "QUESTION "]  # unseen, missing, needs normalising
    odd["publish_hour"] = [25, None, 7]
    odd["text_length"] = [None, 100, 100]
    encoded = spec.encode(odd, with_target=False)
    hook = encoded.x[:, list(CATEGORICAL_COLUMNS).index("hook_type")].tolist()
    assert hook[0] == 0 and hook[1] == 0
    assert hook[2] == spec.vocabularies["hook_type"].index("question") + 1
    hours_raw = encoded.x[:, -1].tolist()
    assert hours_raw == [-1.0, -1.0, 7.0]
    hour_idx = encoded.x[:, list(CATEGORICAL_COLUMNS).index("publish_hour")].tolist()
    assert hour_idx == [0.0, 0.0, 8.0]
    assert encoded.x[0, len(CATEGORICAL_COLUMNS)].item() == 0.0  # missing numeric -> mean
    assert encoded.y is None


def test_numeric_standardisation_uses_log1p(posts: pd.DataFrame) -> None:
    spec = FeatureSpec.fit(posts)
    scaled = spec.encode(posts).x[:, len(CATEGORICAL_COLUMNS)].numpy()
    expected = np.log1p(posts["text_length"].to_numpy(dtype=float))
    expected = (expected - expected.mean()) / expected.std()
    np.testing.assert_allclose(scaled, expected, rtol=1e-4, atol=1e-4)


def test_target_transform_inverts_and_caps() -> None:
    scores = np.array([0.0, 12.5, 999.0, 5000.0])
    back = inverse_target(transform_target(scores))
    np.testing.assert_allclose(back, [0.0, 12.5, 999.0, 1000.0], rtol=1e-9)


def test_missing_columns_raise(posts: pd.DataFrame) -> None:
    spec = FeatureSpec.fit(posts)
    with pytest.raises(ValueError, match="topic"):
        spec.encode(posts.drop(columns=["topic"]))
    with pytest.raises(ValueError, match="format_version"):
        FeatureSpec.from_dict({**spec.to_dict(), "format_version": 99})
