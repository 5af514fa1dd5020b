"""Governance of the engagement model: the champion/challenger gate, and the champion's live accuracy.

Every retrain is a *challenger*. It replaces the champion only when its error is lower than the champion's by
at least ``PROMOTION_MARGIN`` (relative) on every set of posts compared:

- **holdout**: the challenger's time-ordered holdout rows (published on or after its ``holdout_start_date``),
  scored by the challenger's holdout-stage model (fitted before the holdout period: the model behind the
  ``rmse_log`` that training reports) and by the champion. The champion may have been refit on some of these
  rows (those up to its ``model_data_end_date``, counted in ``gate/holdout_posts_seen_by_champion``); that
  favours it, so the gate errs on the side of the model users already get.
- **shadow**: the posts of ``main.ml_training_dataset`` published after the champion's ``model_data_end_date``
  that the challenger's holdout-stage model did not see either (they lie in its holdout): outcomes neither
  model had when it was fitted, i.e. the predictions each would have made in production. With fewer than
  ``MIN_SHADOW_POSTS`` such posts the shadow set decides nothing and the reason says so: the holdout alone
  decides.

With no champion yet, the challenger becomes the champion. A behaviour shift younger than the challenger's
holdout window is unknown to both compared models (the refit challenger learned it, but cannot be scored on
it), so it favours neither; it counts for the retrains whose training part of the split holds it.

The metric is ``rmse_log``, the root mean squared error of log1p(engagement_score): the scale the model is
trained on, comparable across platforms whose scores differ several-fold, and not dominated by a few viral
posts. MAE in score units is recorded beside it for readability; it decides nothing.

Both models are scored against the outcomes of the dataset handed to the gate (``main.ml_training_dataset``),
not against whatever the challenger was fitted on: a challenger trained on broken labels loses on real ones.

Live accuracy: the champion's ``rmse_log`` on the realized posts it never saw (published after its
``model_data_end_date``), over the newest ``LIVE_WINDOW_DAYS`` days of them, divided by its own holdout
``rmse_log``. The ad analytics design's thresholds apply to that ratio: +20% warns, +50% asks for a retrain.

Plain library: torch and the training code are imported on use, so that the thresholds stay cheap to import
for the sensors that act on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ml.features import FeatureSpec
    from ml.registry import LoadedModel
    from ml.training import TrainingResult

# --- the gate
DECISION_METRIC = "rmse_log"
# The challenger's rmse_log must be <= 98% of the champion's on every set compared. Retrains on a few more days
# of unchanged behaviour differ by about 1% (+1.2% for 2 more days of 8 in tests/ml/test_model_governance.py's
# data): a new champion only for a gain beyond that.
PROMOTION_MARGIN = 0.02
# Fewer posts unseen by both models decide nothing (an RMSE's relative standard error is ~1/sqrt(2n): 7% at
# 100 posts); the holdout decides alone.
MIN_SHADOW_POSTS = 100
PROMOTED, KEPT = "promoted", "kept"
# tags on the challenger's MLflow run and model version
PROMOTION_TAG = "cycle.promotion"
REASON_TAG = "cycle.promotion_reason"
COMPARED_WITH_TAG = "cycle.compared_with_champion"
FINGERPRINT_TAG = "cycle.dataset_fingerprint"  # string metrics are logged as cycle.<name> tags (ml.registry)

# --- live accuracy (thresholds of the ad analytics design)
LIVE_WINDOW_DAYS = 7  # the newest 7 days of posts published after the champion's training data
MIN_LIVE_POSTS = 50  # fewer realized posts in the window: the ratio is not computed
WARN_ERROR_RATIO = 1.2  # live rmse_log >= 120% of the champion's holdout rmse_log: warn
RETRAIN_ERROR_RATIO = 1.5  # >= 150%: retrain
NEW_POSTS_RETRAIN_THRESHOLD = 1_000  # posts with outcomes since the champion's training data: retrain
LIVE_OK, LIVE_WARN, LIVE_RETRAIN, LIVE_INSUFFICIENT = "ok", "warn", "retrain", "insufficient_data"

_DATE = "published_date"  # ml.training.DATE_COLUMN (importing ml.training would load torch)
_TARGET = "engagement_score"  # ml.features.TARGET_COLUMN


def _dates(df: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(df[_DATE]).dt.normalize()


def _with_outcome(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose engagement_score is known (training drops the others too)."""
    return df[pd.to_numeric(df[_TARGET], errors="coerce").notna()]


def model_data_end(metrics: Mapping[str, Any]) -> pd.Timestamp | None:
    """Last published_date the shipped model was fitted on (``train_end_date`` for runs logged before it)."""
    value = metrics.get("model_data_end_date") or metrics.get("train_end_date")
    return pd.Timestamp(str(value)).normalize() if value else None


def error_figures(model: Any, spec: "FeatureSpec", df: pd.DataFrame) -> tuple[float, float]:
    """``(rmse_log, mae)`` of ``model`` on ``df``, computed as ``train_engagement_model`` computes them.

    ``model`` must be an :class:`~ml.model.EngagementModel` (``load_model(..., flavor="state_dict")``): the
    log-scale error needs its ``predict_log``.
    """
    import torch

    from ml.training import predict_scores

    if not hasattr(model, "predict_log"):
        raise TypeError("error_figures needs an EngagementModel: load the champion with flavor='state_dict'")
    y_true = pd.to_numeric(df[_TARGET]).to_numpy(dtype="float64")
    mae = float(np.mean(np.abs(predict_scores(model, spec, df) - y_true)))
    encoded = spec.encode(df, with_target=True)
    assert encoded.y is not None
    with torch.no_grad():
        rmse_log = float(torch.sqrt(torch.mean((model.predict_log(encoded.x) - encoded.y) ** 2)))
    return rmse_log, mae


# ----------------------------------------------------------------------------------------------------- gate
@dataclass(frozen=True)
class Comparison:
    """The champion's and the challenger's errors on the same posts."""

    name: str  # "holdout" | "shadow"
    n_posts: int
    champion_rmse_log: float
    challenger_rmse_log: float
    champion_mae: float
    challenger_mae: float

    @property
    def improvement(self) -> float:
        """Relative reduction of rmse_log by the challenger (0.05: 5% below the champion's)."""
        return 1.0 - self.challenger_rmse_log / self.champion_rmse_log if self.champion_rmse_log > 0 else 0.0

    def challenger_wins(self, margin: float) -> bool:
        return self.challenger_rmse_log <= (1.0 - margin) * self.champion_rmse_log

    def figures(self) -> dict[str, float]:
        prefix = f"gate/{self.name}_"
        return {
            f"{prefix}posts": float(self.n_posts),
            f"{prefix}champion_rmse_log": self.champion_rmse_log,
            f"{prefix}challenger_rmse_log": self.challenger_rmse_log,
            f"{prefix}champion_mae": self.champion_mae,
            f"{prefix}challenger_mae": self.challenger_mae,
            f"{prefix}improvement": self.improvement,
        }

    def describe(self) -> str:
        return (
            f"{self.name} ({self.n_posts} posts): rmse_log {self.challenger_rmse_log:.4f} vs the champion's "
            f"{self.champion_rmse_log:.4f} ({self.improvement:+.1%})"
        )


@dataclass(frozen=True)
class PromotionDecision:
    """Whether the challenger becomes the champion, why, and the figures it was decided on."""

    promoted: bool
    reason: str
    champion_version: str | None  # the champion compared with (None: there was none)
    margin: float
    holdout: Comparison | None = None
    shadow: Comparison | None = None  # None when the shadow set was too small to decide on
    shadow_posts: int = 0  # posts neither model saw, used or not
    posts_unseen_by_champion: int = 0
    holdout_posts_seen_by_champion: int = 0

    @property
    def outcome(self) -> str:
        return PROMOTED if self.promoted else KEPT

    def figures(self) -> dict[str, float]:
        """Numeric figures (MLflow metrics, asset metadata), ``gate/`` prefixed."""
        out = {
            "gate/promoted": float(self.promoted),
            "gate/margin": self.margin,
            "gate/shadow_posts": float(self.shadow_posts),
            "gate/posts_unseen_by_champion": float(self.posts_unseen_by_champion),
            "gate/holdout_posts_seen_by_champion": float(self.holdout_posts_seen_by_champion),
        }
        for comparison in (self.holdout, self.shadow):
            if comparison is not None:
                out.update(comparison.figures())
        return out

    def tags(self) -> dict[str, str]:
        return {
            PROMOTION_TAG: self.outcome,
            REASON_TAG: self.reason,
            COMPARED_WITH_TAG: self.champion_version or "none",
            "cycle.promotion_metric": DECISION_METRIC,
            "cycle.promotion_margin": str(self.margin),
        }


def _compare(name: str, champion: "LoadedModel", challenger: "TrainingResult", rows: pd.DataFrame) -> Comparison:
    assert challenger.holdout_model is not None and challenger.holdout_spec is not None
    champion_rmse_log, champion_mae = error_figures(champion.model, champion.spec, rows)
    challenger_rmse_log, challenger_mae = error_figures(challenger.holdout_model, challenger.holdout_spec, rows)
    return Comparison(name, len(rows), champion_rmse_log, challenger_rmse_log, champion_mae, challenger_mae)


def evaluate_challenger(
    challenger: "TrainingResult",
    champion: "LoadedModel | None",
    dataset: pd.DataFrame,
    margin: float = PROMOTION_MARGIN,
    min_shadow_posts: int = MIN_SHADOW_POSTS,
) -> PromotionDecision:
    """Decide whether ``challenger`` replaces ``champion`` (rule in the module docstring).

    ``dataset`` holds the outcomes both are judged on (``main.ml_training_dataset``, which the challenger was
    trained on); ``champion`` comes from ``load_model(..., flavor="state_dict")``, or is None when there is no
    champion yet.
    """
    if challenger.holdout_model is None or challenger.holdout_spec is None:
        raise ValueError("The challenger carries no holdout-stage model: train it with train_engagement_model")
    if champion is None:
        return PromotionDecision(True, "no champion yet: the first model becomes the champion", None, margin)

    posts = _with_outcome(dataset)
    dates = _dates(posts)
    # the rows the holdout-stage model never saw (time_holdout_split: every date from the cutoff on)
    holdout = posts[dates >= pd.Timestamp(str(challenger.metrics["holdout_start_date"]))]
    if holdout.empty:
        raise ValueError("The dataset holds none of the challenger's holdout posts: pass what it was trained on")
    end = model_data_end(champion.metrics)
    holdout_cmp = _compare("holdout", champion, challenger, holdout)
    if end is None:  # no recorded training window: nothing is known to be unseen by the champion
        unseen, shadow_rows, seen = 0, holdout.iloc[:0], len(holdout)
    else:
        unseen = int((dates > end).sum())
        shadow_rows = holdout[_dates(holdout) > end]
        seen = len(holdout) - len(shadow_rows)
    shadow_cmp = _compare("shadow", champion, challenger, shadow_rows) if len(shadow_rows) >= min_shadow_posts else None

    compared = [c for c in (holdout_cmp, shadow_cmp) if c is not None]
    promoted = all(c.challenger_wins(margin) for c in compared)
    verdict = (
        f"beats the champion v{champion.version} by at least {margin:.0%} on"
        if promoted
        else f"does not beat the champion v{champion.version} by {margin:.0%} on every set:"
    )
    reason = f"challenger {verdict} " + "; ".join(c.describe() for c in compared)
    if shadow_cmp is None:
        reason += (
            f"; shadow set too small ({len(shadow_rows)} posts unseen by both models, "
            f"{min_shadow_posts} needed): decided on the holdout alone"
        )
    return PromotionDecision(
        promoted=promoted,
        reason=reason,
        champion_version=str(champion.version),
        margin=margin,
        holdout=holdout_cmp,
        shadow=shadow_cmp,
        shadow_posts=len(shadow_rows),
        posts_unseen_by_champion=unseen,
        holdout_posts_seen_by_champion=seen,
    )


# ------------------------------------------------------------------------------------------- live accuracy
@dataclass(frozen=True)
class LiveAccuracy:
    """The champion's error on realized posts it never saw, against its own holdout error."""

    status: str  # LIVE_OK | LIVE_WARN | LIVE_RETRAIN | LIVE_INSUFFICIENT
    model_data_end_date: date
    posts_since_training: int  # posts with outcomes published after model_data_end_date
    window_start: date | None
    window_end: date | None
    n_window_posts: int
    live_rmse_log: float | None
    live_mae: float | None
    holdout_rmse_log: float | None
    error_ratio: float | None  # live_rmse_log / holdout_rmse_log; None below MIN_LIVE_POSTS posts


def live_accuracy(
    model: Any,
    spec: "FeatureSpec",
    metrics: Mapping[str, Any],
    posts: pd.DataFrame,
    window_days: int = LIVE_WINDOW_DAYS,
    min_posts: int = MIN_LIVE_POSTS,
) -> LiveAccuracy:
    """Rolling live accuracy of a champion (``model``, ``spec``, ``metrics`` as ``load_model`` returns them,
    ``flavor="state_dict"``) on ``posts`` shaped like ``main.ml_training_dataset``."""
    end = model_data_end(metrics)
    if end is None:
        raise ValueError("The champion's metrics name no training window (model_data_end_date)")
    with_outcome = _with_outcome(posts)
    unseen = with_outcome[_dates(with_outcome) > end]
    holdout_rmse_log = float(metrics["rmse_log"]) if metrics.get("rmse_log") is not None else None
    if unseen.empty:
        return LiveAccuracy(LIVE_INSUFFICIENT, end.date(), 0, None, None, 0, None, None, holdout_rmse_log, None)
    unseen_dates = _dates(unseen)
    window_end = unseen_dates.max()
    # the newest window_days days, never reaching back into the champion's own training data
    window_start = max(window_end - timedelta(days=window_days - 1), end + timedelta(days=1))
    window = unseen[unseen_dates >= window_start]
    live_rmse_log, live_mae = error_figures(model, spec, window)
    ratio = None
    if len(window) >= min_posts and holdout_rmse_log:
        ratio = live_rmse_log / holdout_rmse_log
    if ratio is None:
        status = LIVE_INSUFFICIENT
    elif ratio >= RETRAIN_ERROR_RATIO:
        status = LIVE_RETRAIN
    elif ratio >= WARN_ERROR_RATIO:
        status = LIVE_WARN
    else:
        status = LIVE_OK
    return LiveAccuracy(
        status=status,
        model_data_end_date=end.date(),
        posts_since_training=len(unseen),
        window_start=window_start.date(),
        window_end=window_end.date(),
        n_window_posts=len(window),
        live_rmse_log=live_rmse_log,
        live_mae=live_mae,
        holdout_rmse_log=holdout_rmse_log,
        error_ratio=ratio,
    )
