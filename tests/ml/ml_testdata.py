"""Synthetic post data with planted effects, and fixtures, for the ml/ tests.

Not a ``conftest.py`` on purpose: tests at the top of ``tests/`` do
``from conftest import ...``, and a second conftest module here would replace
``sys.modules["conftest"]`` during collection. Test modules import the fixtures
they use from here instead; expensive values are cached per process so that
every module shares them.
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
import pandas as pd
import pytest

PLANTED_PEAK_HOURS: dict[str, int] = {"linkedin": 9, "x": 13, "reddit": 20, "tiktok": 19}
PLATFORM_BASE_SCORE: dict[str, float] = {"linkedin": 40.0, "x": 25.0, "reddit": 60.0, "tiktok": 80.0}
HOOK_EFFECT: dict[str, float] = {
    "question": 0.25,
    "statistic": 0.15,
    "story": 0.35,
    "bold_claim": 0.10,
    "how_to": 0.20,
    "list": 0.05,
    "none": -0.30,
}
MEDIA_EFFECT: dict[str, float] = {"text": -0.10, "image": 0.10, "video": 0.30, "carousel": 0.20, "link": -0.25}
TOPICS = ["product", "industry_news", "thought_leadership", "culture", "tutorial", "promotion"]
TOPIC_EFFECT: dict[str, float] = {t: e for t, e in zip(TOPICS, [0.0, 0.05, 0.15, 0.10, 0.12, -0.20])}
HOUR_AMPLITUDE = 0.8
HOUR_WIDTH = 3.0
NOISE_SIGMA = 0.35


def _circular_hour_distance(hours: np.ndarray, peak: int) -> np.ndarray:
    d = np.abs(hours - peak) % 24
    return np.minimum(d, 24 - d)


def make_posts(
    seed: int = 0,
    posts_per_platform: int = 300,
    n_days: int = 6,
    start: str = "2025-03-03",
    hook_probs: dict[str, float] | None = None,
    media_probs: dict[str, float] | None = None,
    text_length_scale: float = 1.0,
) -> pd.DataFrame:
    """Rows shaped like ``main.ml_training_dataset`` with planted effects.

    log(score) = log(base_platform) + hook + media + topic + small text/dow
    terms + 0.8 * gaussian bump (width 3h) around the platform's peak hour
    + N(0, 0.35) noise.
    """
    rng = np.random.default_rng(seed)
    hooks = list(HOOK_EFFECT)
    media = list(MEDIA_EFFECT)
    hook_p = np.array([(hook_probs or {}).get(h, 0.0) for h in hooks]) if hook_probs else None
    media_p = np.array([(media_probs or {}).get(m, 0.0) for m in media]) if media_probs else None
    start_ts = pd.Timestamp(start)
    frames = []
    for platform, peak in PLANTED_PEAK_HOURS.items():
        n = posts_per_platform
        day = rng.integers(0, n_days, size=n)
        # Realistic posting habits: mostly daytime-ish, but every hour occurs.
        hour_weights = 1.0 + 1.5 * np.exp(-0.5 * (_circular_hour_distance(np.arange(24), 12) / 4.0) ** 2)
        hour = rng.choice(24, size=n, p=hour_weights / hour_weights.sum())
        minute = rng.integers(0, 60, size=n)
        published_at = start_ts + pd.to_timedelta(day * 1440 + hour * 60 + minute, unit="m")
        hook = rng.choice(hooks, size=n, p=None if hook_p is None else hook_p / hook_p.sum())
        med = rng.choice(media, size=n, p=None if media_p is None else media_p / media_p.sum())
        topic = rng.choice(TOPICS, size=n)
        median_length = 140 if platform == "x" else 220
        text_length = np.clip(rng.lognormal(np.log(median_length), 0.5, size=n) * text_length_scale, 5, None)
        text_length = text_length.astype(int)
        dow = published_at.dayofweek.to_numpy()
        log_score = (
            np.log(PLATFORM_BASE_SCORE[platform])
            + np.array([HOOK_EFFECT[h] for h in hook])
            + np.array([MEDIA_EFFECT[m] for m in med])
            + np.array([TOPIC_EFFECT[t] for t in topic])
            - 0.08 * (np.log(text_length) - np.log(200)) ** 2
            + np.where(dow >= 5, -0.1, 0.0)
            + HOUR_AMPLITUDE * np.exp(-0.5 * (_circular_hour_distance(hour, peak) / HOUR_WIDTH) ** 2)
            + rng.normal(0.0, NOISE_SIGMA, size=n)
        )
        score = np.clip(np.exp(log_score), 0.0, 1000.0)
        impressions = rng.integers(500, 20000, size=n)
        engagements = np.round(score / 10000.0 * impressions).astype(int)
        frames.append(
            pd.DataFrame(
                {
                    "post_id": [f"{platform}_{seed}_{i}" for i in range(n)],
                    "platform": platform,
                    "published_at": published_at,
                    "published_date": published_at.normalize().date,
                    "publish_hour": hour.astype(int),
                    "publish_dow": dow.astype(int),
                    "hook_type": hook,
                    "media_type": med,
                    "topic": topic,
                    "text_length": text_length,
                    "impressions": impressions.astype("int64"),
                    "engagements": engagements.astype("int64"),
                    "engagement_rate": engagements / impressions,
                    "engagement_score": score,
                    "post_age_hours": rng.uniform(24.0, 24.0 * 7, size=n),
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sort_values("published_at").reset_index(drop=True)


@functools.cache
def _default_posts() -> pd.DataFrame:
    return make_posts(seed=7)


@functools.cache
def _default_trained():  # -> ml.training.TrainingResult
    from ml.training import TrainingConfig, train_engagement_model

    return train_engagement_model(_default_posts(), TrainingConfig(seed=11))


@pytest.fixture(scope="session")
def posts_factory() -> Callable[..., pd.DataFrame]:
    """The synthetic generator, for tests that need several seeds/shifts."""
    return make_posts


@pytest.fixture(scope="session")
def planted_peak_hours() -> dict[str, int]:
    """Hour (UTC) of each platform's planted engagement peak."""
    return dict(PLANTED_PEAK_HOURS)


@pytest.fixture
def posts() -> pd.DataFrame:
    """~1200 posts (300 per platform) over 6 days (a copy: tests may modify it)."""
    return _default_posts().copy()


@pytest.fixture
def trained():  # -> ml.training.TrainingResult
    """The default model trained once per process on ``posts`` (training costs seconds)."""
    return _default_trained()
