"""Best-posting-hour recommendations from a trained engagement model."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from ml.features import HOUR_COLUMN, PLATFORM_COLUMN, FeatureSpec, canonical_categorical
from ml.model import prepare_for_inference
from ml.runtime import configure_torch_threads

logger = logging.getLogger(__name__)

RECOMMENDATION_COLUMNS = [
    "platform",
    "rank",
    "publish_hour",
    "expected_engagement_score",
    "lift_vs_platform_mean",
]
HOURS = np.arange(24)


def recommend_posting_hours(
    model: torch.nn.Module,
    spec: FeatureSpec,
    recent_posts: pd.DataFrame,
    max_posts_per_platform: int | None = 2000,
) -> pd.DataFrame:
    """Rank all 24 publish hours per platform by expected engagement_score.

    ``model`` is an :class:`~ml.model.EngagementModel` or the module returned by
    :func:`ml.registry.load_model` (anything mapping ``spec.encode(df).x`` to
    scores).

    For each platform its recent posts are re-scored with ``publish_hour`` set
    to every hour 0..23 and the predictions are averaged per hour. Averaging
    over the platform's real posts marginalises over its actual content mix and
    weekdays instead of inventing a "typical post".

    ``lift_vs_platform_mean`` is expected / (mean of the 24 hourly expectations)
    - 1. Platforms unknown to ``spec`` are skipped (the model has nothing
    platform-specific to say about them). ``max_posts_per_platform`` keeps the
    newest rows only (by ``published_at`` when present) to bound the cost.
    """
    missing = [c for c in spec.input_columns if c not in recent_posts.columns and c != HOUR_COLUMN]
    if missing:
        raise ValueError(f"recent_posts is missing required columns: {missing}")
    configure_torch_threads()
    known = set(spec.platforms)
    platform_keys = canonical_categorical(recent_posts[PLATFORM_COLUMN], PLATFORM_COLUMN)
    unknown = sorted(set(platform_keys) - known)
    if unknown:
        logger.warning("Skipping platforms unknown to the model: %s", unknown)

    frames: list[pd.DataFrame] = []
    prepare_for_inference(model)
    for platform in sorted(set(platform_keys) & known):
        posts = recent_posts[platform_keys == platform]
        if max_posts_per_platform is not None and len(posts) > max_posts_per_platform:
            if "published_at" in posts.columns:
                posts = posts.sort_values("published_at", kind="mergesort")
            posts = posts.tail(max_posts_per_platform)
        n = len(posts)
        # One block of n rows per hour: row i of block h is post i posted at h.
        content_columns = [c for c in spec.input_columns if c != HOUR_COLUMN]
        grid = pd.concat([posts[content_columns]] * 24, ignore_index=True)
        grid[HOUR_COLUMN] = np.repeat(HOURS, n)
        with torch.no_grad():
            pred = model(spec.encode(grid, with_target=False).x).double().numpy()
        expected = pred.reshape(24, n).mean(axis=1)
        platform_mean = float(expected.mean())
        order = np.argsort(-expected, kind="stable")
        frames.append(
            pd.DataFrame(
                {
                    "platform": platform,
                    "rank": np.arange(1, 25, dtype="int64"),
                    "publish_hour": HOURS[order].astype("int64"),
                    "expected_engagement_score": expected[order],
                    "lift_vs_platform_mean": expected[order] / platform_mean - 1.0 if platform_mean > 0 else 0.0,
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {
                "platform": pd.Series(dtype="object"),
                "rank": pd.Series(dtype="int64"),
                "publish_hour": pd.Series(dtype="int64"),
                "expected_engagement_score": pd.Series(dtype="float64"),
                "lift_vs_platform_mean": pd.Series(dtype="float64"),
            }
        )
    return pd.concat(frames, ignore_index=True)[RECOMMENDATION_COLUMNS]
