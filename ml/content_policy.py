"""The content policy: which hook, media type and topic each platform's posts should use, with intervals.

For each platform, an ordinary least squares regression of a post's log1p engagement score on its hook type,
media type and topic, controlling for its publish hour and weekday (the hour moves a post's outcome as much as
its content does: leaving it out would only add noise, and would bias a level that is mostly posted at good
hours). The effect of a level is a contrast against the platform's current mix: how much the mean log outcome
would move if every recent post used that level instead of the mix of levels it used (a partial dependence;
linear, so ``beta_level - sum_k share_k * beta_k``), with its standard error from the coefficients' covariance
and a normal ``interval_level`` interval.

Levels are ranked per platform and factor by the lower bound of that interval; a level is recommended when
its lower bound is above 0, i.e. it beats the platform's baseline (its current mix) with one-sided
confidence ``(1 + interval_level) / 2``. Levels with fewer than ``min_posts_per_level`` posts, and the
warehouse's ``unknown``, stay in the regression as controls but are never rated.

A recommendation's promise is the posterior predictive of a post that uses the level: the mean log outcome
of the recent posts re-scored with that level, and a spread made of what their other attributes (hour,
weekday, the other factors) do, the residual noise and the effect's own uncertainty. ``expected_value`` is
its log-normal mean in engagement-score units and ``expected_low``/``expected_high`` its interval: an
interval for the realized outcome of one post, so about 90% of the applied posts should land inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ml.features import TARGET_MAX

FACTORS = ("hook_type", "media_type", "topic")
CONTROLS = ("publish_hour", "publish_dow")
UNKNOWN = "unknown"
METHOD = "content_effects_ols"

EFFECT_COLUMNS = [
    "platform", "factor", "level", "rank", "recommended", "n_posts", "share", "effect_log", "effect_se",
    "effect_low", "effect_high", "confidence", "mean_log", "predictive_sd_log", "expected_value", "expected_low",
    "expected_high", "baseline_value", "platform_posts", "residual_sd_log", "levels_rated",
]


@dataclass(frozen=True)
class ContentConfig:
    interval_level: float = 0.90
    min_posts_per_level: int = 15  # fewer posts cannot pin a level's effect down
    min_platform_posts: int = 60  # fewer on a platform: no regression (too many coefficients for the data)

    def __post_init__(self) -> None:
        if not 0.0 < self.interval_level < 1.0:
            raise ValueError(f"interval_level must be within (0, 1), got {self.interval_level}")
        if self.min_posts_per_level < 2 or self.min_platform_posts < 10:
            raise ValueError("min_posts_per_level must be >= 2 and min_platform_posts >= 10")


def _dummies(values: pd.Series, prefix: str) -> tuple[pd.DataFrame, str]:
    """Treatment-coded dummies of ``values``, the most common level (ties: first in order) as reference."""
    counts = values.value_counts()
    reference = sorted(counts[counts == counts.max()].index)[0]
    levels = sorted(set(values) - {reference})
    return pd.DataFrame({f"{prefix}={lv}": (values == lv).to_numpy(float) for lv in levels}, index=values.index), reference


def _platform_effects(posts: pd.DataFrame, platform: str, config: ContentConfig) -> list[dict]:
    y = np.log1p(np.clip(posts["engagement_score"].to_numpy(float), 0.0, TARGET_MAX))
    blocks = [pd.DataFrame({"intercept": np.ones(len(posts))}, index=posts.index)]
    for column in (*FACTORS, *CONTROLS):
        dummies, _ = _dummies(posts[column].astype(str), column)
        blocks.append(dummies)
    design = pd.concat(blocks, axis=1)
    x = design.to_numpy(float)
    n, p = x.shape
    if n - p < 10:
        return []
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    fitted = x @ beta
    residual_var = float(((y - fitted) ** 2).sum() / (n - p))
    cov = residual_var * np.linalg.pinv(x.T @ x)
    coef = pd.Series(beta, index=design.columns)
    position = {c: i for i, c in enumerate(design.columns)}
    z = stats.norm.ppf(0.5 + config.interval_level / 2)
    baseline_sd = float(np.sqrt(fitted.var() + residual_var))
    baseline_value = float(np.clip(np.exp(fitted.mean() + baseline_sd**2 / 2) - 1.0, 0.0, TARGET_MAX))
    rows = []
    for factor in FACTORS:
        values = posts[factor].astype(str)
        shares = values.value_counts(normalize=True)
        counts = values.value_counts()
        # contrast of each level against the current mix: e_level - sum_k share_k e_k (the reference has no column)
        mix = np.zeros(p)
        for level, share in shares.items():
            if f"{factor}={level}" in position:
                mix[position[f"{factor}={level}"]] += share
        own_term = values.map(lambda lv: coef.get(f"{factor}={lv}", 0.0)).to_numpy(float)
        rated = [lv for lv in sorted(counts.index) if lv != UNKNOWN and counts[lv] >= config.min_posts_per_level]
        for level in rated:
            contrast = -mix.copy()
            if f"{factor}={level}" in position:
                contrast[position[f"{factor}={level}"]] += 1.0
            effect = float(contrast @ beta)
            se = float(np.sqrt(max(contrast @ cov @ contrast, 1e-12)))
            # the recent posts re-scored as if they used this level
            rescored = fitted - own_term + coef.get(f"{factor}={level}", 0.0)
            mean_log = float(rescored.mean())
            predictive_sd = float(np.sqrt(rescored.var() + residual_var + se**2))
            rows.append(
                {
                    "platform": platform,
                    "factor": factor,
                    "level": level,
                    "n_posts": int(counts[level]),
                    "share": float(shares[level]),
                    "effect_log": effect,
                    "effect_se": se,
                    "effect_low": effect - z * se,
                    "effect_high": effect + z * se,
                    "confidence": float(stats.norm.cdf(effect / se)),
                    "mean_log": mean_log,
                    "predictive_sd_log": predictive_sd,
                    "expected_value": float(np.clip(np.exp(mean_log + predictive_sd**2 / 2) - 1.0, 0.0, TARGET_MAX)),
                    "expected_low": float(np.clip(np.expm1(mean_log - z * predictive_sd), 0.0, TARGET_MAX)),
                    "expected_high": float(np.clip(np.expm1(mean_log + z * predictive_sd), 0.0, TARGET_MAX)),
                    "baseline_value": baseline_value,
                    "platform_posts": int(n),
                    "residual_sd_log": float(np.sqrt(residual_var)),
                    "levels_rated": len(rated),
                }
            )
    return rows


def content_effects(posts: pd.DataFrame, config: ContentConfig | None = None) -> pd.DataFrame:
    """Per platform, factor and rated level: the effect on log1p engagement score against the platform's
    mix with its interval, the promise of a post using it, its rank by lower bound and whether it is
    recommended (lower bound above 0). ``posts``: rows shaped like ``main.ml_training_dataset``."""
    config = config or ContentConfig()
    need = {"platform", "engagement_score", *FACTORS, *CONTROLS}
    missing = need - set(posts.columns)
    if missing:
        raise ValueError(f"posts lack columns {sorted(missing)}")
    usable = posts.dropna(subset=["platform", "engagement_score"])
    rows: list[dict] = []
    for platform, group in usable.groupby("platform", sort=True):
        if len(group) >= config.min_platform_posts:
            rows.extend(_platform_effects(group.reset_index(drop=True), str(platform), config))
    out = pd.DataFrame(rows, columns=[c for c in EFFECT_COLUMNS if c not in ("rank", "recommended")])
    if out.empty:
        return pd.DataFrame(columns=EFFECT_COLUMNS)
    out = out.sort_values(["platform", "factor", "effect_low", "level"], ascending=[True, True, False, True], kind="stable")
    out["rank"] = out.groupby(["platform", "factor"]).cumcount().astype("int64") + 1
    out["recommended"] = out["effect_low"] > 0
    return out[EFFECT_COLUMNS].reset_index(drop=True)


__all__ = ["CONTROLS", "EFFECT_COLUMNS", "FACTORS", "METHOD", "ContentConfig", "content_effects"]
