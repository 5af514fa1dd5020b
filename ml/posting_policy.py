"""The posting policy: when each account should publish its next posts, with intervals and propensities.

The answer to "when should I post?" is a weekday x hour slot per post. It comes from three steps:

1. **Slot scores** (:func:`score_slots`). The champion engagement model scores every (weekday, hour) of a
   platform over that platform's recent content mix: each of its newest posts is re-scored as if published in
   that slot, on the model's log1p scale. The mean is the slot's prior mean; the spread across posts is how
   much the content alone moves a post's outcome (``content_sd_log``).
2. **Slot posteriors** (:func:`slot_posteriors`). A normal-normal model of each slot's mean log outcome. The
   prior is the model's score, as uncertain as the data behind it allows: ``model_floor_sd`` (the audience
   can change after training, so no slot is ever certain) plus the residual noise over the posts the model
   saw at that hour (its hour curve pools the weekdays). The posts that arrived after the model was trained,
   and those of the last ``fresh_window_days`` days, update it through their residuals against the model,
   pooled per platform and hour.
   So an hour the model rarely saw stays uncertain, and outcomes at an hour move its estimate before the next
   retrain does.
3. **The policy** (:func:`hour_probabilities`, :func:`plan_posts`). For each post an account will publish on
   a day, the hour is chosen from that day's 24 slots: with probability ``1 - exploration_share`` the slot with
   the highest posterior mean (``posting_slot``), else a Thompson sample, i.e. an hour drawn with the
   probability that it is the best one under the posterior (``exploration``), so the hours the greedy choice
   avoids still get observed, most often where the model is unsure. Each planned post records the probability
   with which the mixture chose its hour (``propensity``): logged outcomes then support inverse-propensity
   and doubly robust estimates of any other policy (:func:`ips_estimate`, :func:`doubly_robust_estimate`).

A planned post's promise is the posterior predictive of a post published in its slot: the slot's posterior
mean, the model's holdout residual noise and the content spread. ``expected_value`` is its mean in
engagement-score units (log-normal), and ``expected_low``/``expected_high`` its ``interval_level`` interval:
an interval for the realized outcome of the post, not for the slot's mean, so about 90% of the outcomes of
applied recommendations should fall inside it.

All random draws are seeded by what they decide (platform, account, day, post number): the same inputs give
the same plan, hence the same recommendation ids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import torch
from scipy import stats

from ml.features import HOUR_COLUMN, PLATFORM_COLUMN, TARGET_MAX, FeatureSpec, canonical_categorical, transform_target
from ml.model import prepare_for_inference
from ml.runtime import configure_torch_threads

DOW_COLUMN = "publish_dow"
HOURS = np.arange(24)
DAYS_OF_WEEK = np.arange(7)  # the warehouse's publish_dow: 0 = Monday .. 6 = Sunday
SLOT_KEYS = [PLATFORM_COLUMN, DOW_COLUMN, HOUR_COLUMN]


@dataclass(frozen=True)
class PolicyConfig:
    exploration_share: float = 0.15  # share of posts whose hour is a Thompson sample instead of the best hour
    interval_level: float = 0.90
    # least uncertainty of a slot's mean log outcome: audiences move, and a model trained on months of the old
    # audience stays sure of the old peak. 0.10 left Cycle 2 hours short of a moved peak for weeks (29% of the
    # oracle's gain after a 4-hour shift in make benchmark-loop); 0.30 lets the outcomes since training move it
    model_floor_sd: float = 0.30
    # the outcomes of the newest days update the posteriors even when the model was trained on them: a retrain
    # (weekly, on drift, on degraded accuracy) must not erase what the audience did lately, which the model,
    # fitted on all history, barely reflects yet (0: only the posts published after the training data ended)
    fresh_window_days: int = 7
    thompson_draws: int = 4000  # posterior draws behind each Thompson probability
    content_sample: int = 400  # newest posts per platform whose content mix each slot is scored over
    max_posts_per_day: int = 24  # at most one post an hour on average per account

    def __post_init__(self) -> None:
        if not 0.0 <= self.exploration_share <= 1.0:
            raise ValueError(f"exploration_share must be within [0, 1], got {self.exploration_share}")
        if not 0.0 < self.interval_level < 1.0:
            raise ValueError(f"interval_level must be within (0, 1), got {self.interval_level}")
        if self.model_floor_sd <= 0 or self.thompson_draws < 100 or self.content_sample < 1 or self.fresh_window_days < 0:
            raise ValueError(
                "model_floor_sd must be > 0, thompson_draws >= 100, content_sample >= 1 and fresh_window_days >= 0"
            )


def day_of_week(day: date) -> int:
    """The warehouse's weekday number (``publish_dow``: 0 = Monday .. 6 = Sunday)."""
    return day.weekday()


def predict_log(model: torch.nn.Module, spec: FeatureSpec, frame: pd.DataFrame) -> np.ndarray:
    x = spec.encode(frame, with_target=False).x
    with torch.no_grad():
        if hasattr(model, "predict_log"):
            return model.predict_log(x).double().numpy()
        # an exported module gives score units (mean, smeared): log1p is close to the log-scale location
        return np.log1p(model(x).double().numpy())


def score_slots(
    model: torch.nn.Module, spec: FeatureSpec, recent_posts: pd.DataFrame, config: PolicyConfig = PolicyConfig()
) -> pd.DataFrame:
    """Every (platform, weekday, hour) of the platforms the model knows, scored over their content mix.

    Returns ``platform, publish_dow, publish_hour, prior_mean_log, content_sd_log, content_posts``."""
    missing = [c for c in spec.input_columns if c not in recent_posts.columns and c not in (HOUR_COLUMN, DOW_COLUMN)]
    if missing:
        raise ValueError(f"recent_posts is missing required columns: {missing}")
    configure_torch_threads()
    prepare_for_inference(model)
    keys = canonical_categorical(recent_posts[PLATFORM_COLUMN], PLATFORM_COLUMN)
    content_columns = [c for c in spec.input_columns if c not in (HOUR_COLUMN, DOW_COLUMN)]
    dows = DAYS_OF_WEEK
    frames = []
    for platform in sorted(set(keys) & set(spec.platforms)):
        posts = recent_posts[keys == platform]
        if "published_at" in posts.columns:
            posts = posts.sort_values("published_at", kind="mergesort")
        posts = posts.tail(config.content_sample)
        n = len(posts)
        # one block of n rows per slot: row i of block s is post i published in slot s
        grid = pd.concat([posts[content_columns]] * (7 * 24), ignore_index=True)
        grid[DOW_COLUMN] = np.repeat(np.repeat(dows, 24), n)
        grid[HOUR_COLUMN] = np.repeat(np.tile(HOURS, 7), n)
        pred = predict_log(model, spec, grid).reshape(7 * 24, n)
        frames.append(
            pd.DataFrame(
                {
                    PLATFORM_COLUMN: platform,
                    DOW_COLUMN: np.repeat(dows, 24).astype("int64"),
                    HOUR_COLUMN: np.tile(HOURS, 7).astype("int64"),
                    "prior_mean_log": pred.mean(axis=1),
                    "content_sd_log": pred.std(axis=1),
                    "content_posts": n,
                }
            )
        )
    if not frames:
        raise ValueError("No recent posts on a platform the model knows: nothing to score")
    return pd.concat(frames, ignore_index=True)


def _slot_counts(posts: pd.DataFrame) -> pd.Series:
    if posts is None or len(posts) == 0:
        return pd.Series(dtype="int64")
    keys = posts.assign(**{PLATFORM_COLUMN: canonical_categorical(posts[PLATFORM_COLUMN], PLATFORM_COLUMN)})
    return keys.groupby(SLOT_KEYS).size()


def fresh_since(trained_to: date, newest: date, config: PolicyConfig = PolicyConfig()) -> date:
    """The posts published after this day update the posteriors: those the model never saw (after its training
    data ended) and those of the newest ``fresh_window_days`` days."""
    return min(trained_to, newest - timedelta(days=config.fresh_window_days))


def slot_posteriors(
    slots: pd.DataFrame,
    seen_posts: pd.DataFrame,
    fresh_posts: pd.DataFrame,
    fresh_predicted_log: np.ndarray,
    residual_sd: float,
    config: PolicyConfig = PolicyConfig(),
) -> pd.DataFrame:
    """Each slot's posterior of its mean log1p outcome (see the module docstring).

    ``seen_posts``: the posts the model was trained on (only their slots are used); ``fresh_posts``: posts
    published after its training data ended, with their outcome (``engagement_score``) and the model's
    log-scale prediction for each (``fresh_predicted_log``, same order); ``residual_sd``: the model's holdout
    RMSE on the log scale. Adds ``n_seen`` (posts seen in the weekday-hour), ``n_seen_at_hour`` and
    ``n_fresh`` (posts seen at the hour on any weekday, and published at it since), ``fresh_residual_mean``,
    ``posterior_mean_log``, ``posterior_sd_log`` and ``predictive_sd_log``."""
    if not residual_sd > 0:
        raise ValueError(f"residual_sd must be positive, got {residual_sd}")
    out = slots.copy()
    out["n_seen"] = _slot_counts(seen_posts).reindex(pd.MultiIndex.from_frame(out[SLOT_KEYS]), fill_value=0).to_numpy()
    # The model pools a platform's hour curve over every weekday (and a weekday's effect over every hour): what
    # it knows of a slot's hour is what it saw at that hour on any day, and what moves after training (the
    # audience's hours) moves that hour on every day. So the correction is estimated per platform and hour.
    hour_keys = [PLATFORM_COLUMN, HOUR_COLUMN]
    hour_index = pd.MultiIndex.from_frame(out[hour_keys])
    seen_at_hour = out.groupby(hour_keys)["n_seen"].transform("sum").to_numpy()
    if fresh_posts is not None and len(fresh_posts):
        fresh = pd.DataFrame(
            {
                PLATFORM_COLUMN: canonical_categorical(fresh_posts[PLATFORM_COLUMN], PLATFORM_COLUMN).to_numpy(),
                HOUR_COLUMN: pd.to_numeric(fresh_posts[HOUR_COLUMN]).to_numpy(),
                "residual": transform_target(fresh_posts["engagement_score"].to_numpy()) - np.asarray(fresh_predicted_log),
            }
        )
        grouped = fresh.groupby(hour_keys)["residual"].agg(["size", "sum"])
        n_fresh = grouped["size"].reindex(hour_index, fill_value=0).to_numpy().astype("int64")
        residual_sum = grouped["sum"].reindex(hour_index, fill_value=0.0).to_numpy()
    else:
        n_fresh = np.zeros(len(out), dtype="int64")
        residual_sum = np.zeros(len(out))
    noise_var = residual_sd**2
    prior_var = config.model_floor_sd**2 + noise_var / (seen_at_hour + 1.0)
    precision = 1.0 / prior_var + n_fresh / noise_var
    shift = (residual_sum / noise_var) / precision
    out["n_seen_at_hour"] = seen_at_hour.astype("int64")
    out["n_fresh"] = n_fresh
    out["fresh_residual_mean"] = np.where(n_fresh > 0, residual_sum / np.maximum(n_fresh, 1), np.nan)
    out["posterior_mean_log"] = out["prior_mean_log"].to_numpy() + shift
    out["posterior_sd_log"] = np.sqrt(1.0 / precision)
    out["predictive_sd_log"] = np.sqrt(1.0 / precision + noise_var + out["content_sd_log"].to_numpy() ** 2)
    return out


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "little")


def hour_probabilities(posteriors: pd.DataFrame, config: PolicyConfig = PolicyConfig()) -> pd.DataFrame:
    """Per (platform, weekday): each hour's probability under the greedy and the Thompson parts, and the
    mixture's (``propensity``); with the predictive mean, interval and confidence of a post in the slot."""
    z = stats.norm.ppf(0.5 + config.interval_level / 2)
    frames = []
    for (platform, dow), day in posteriors.sort_values(SLOT_KEYS).groupby([PLATFORM_COLUMN, DOW_COLUMN], sort=True):
        mean = day["posterior_mean_log"].to_numpy()
        sd = day["posterior_sd_log"].to_numpy()
        rng = np.random.default_rng(_seed("thompson", platform, dow))
        draws = rng.normal(mean, sd, size=(config.thompson_draws, len(mean)))
        thompson = np.bincount(draws.argmax(axis=1), minlength=len(mean)) / config.thompson_draws
        greedy = np.zeros(len(mean))
        greedy[int(np.argmax(mean))] = 1.0
        predictive_sd = day["predictive_sd_log"].to_numpy()
        # log-normal mean of (1 + score): what a post in the slot is expected to score on average
        expected = np.clip(np.exp(mean + predictive_sd**2 / 2) - 1.0, 0.0, TARGET_MAX)
        frames.append(
            day.assign(
                p_greedy=greedy,
                p_thompson=thompson,
                propensity=(1 - config.exploration_share) * greedy + config.exploration_share * thompson,
                expected_value=expected,
                expected_low=np.clip(np.expm1(mean - z * predictive_sd), 0.0, TARGET_MAX),
                expected_high=np.clip(np.expm1(mean + z * predictive_sd), 0.0, TARGET_MAX),
                baseline_value=float(expected.mean()),
                # posterior probability that the slot beats the day's average slot
                confidence=stats.norm.cdf((mean - mean.mean()) / sd),
                rank_in_day=stats.rankdata(-mean, method="ordinal").astype("int64"),
            )
        )
    return pd.concat(frames, ignore_index=True)


HOUR_RANKING_COLUMNS = ["platform", "rank", "publish_hour", "expected_engagement_score", "lift_vs_platform_mean"]


def rank_hours(probabilities: pd.DataFrame) -> pd.DataFrame:
    """The 24 hours of each platform ranked by their posterior mean over the weekdays: the one answer to
    "at what hour should I post?" that the slot recommendations, the insights and ``/v1/optimal-hours`` share.
    ``expected_engagement_score`` is the hour's expected post outcome averaged over the weekdays."""
    by_hour = (
        probabilities.groupby([PLATFORM_COLUMN, HOUR_COLUMN])
        .agg(mean_log=("posterior_mean_log", "mean"), expected_engagement_score=("expected_value", "mean"))
        .reset_index()
        .sort_values([PLATFORM_COLUMN, "mean_log", HOUR_COLUMN], ascending=[True, False, True], kind="mergesort")
    )
    by_hour["rank"] = by_hour.groupby(PLATFORM_COLUMN).cumcount().astype("int64") + 1
    platform_mean = by_hour.groupby(PLATFORM_COLUMN)["expected_engagement_score"].transform("mean")
    by_hour["lift_vs_platform_mean"] = by_hour["expected_engagement_score"] / platform_mean - 1.0
    by_hour[HOUR_COLUMN] = by_hour[HOUR_COLUMN].astype("int64")
    return by_hour[HOUR_RANKING_COLUMNS].reset_index(drop=True)


def posts_per_day(account_posts: pd.DataFrame, days_observed: int, config: PolicyConfig = PolicyConfig()) -> pd.DataFrame:
    """How many posts a day each account publishes: its recent average, rounded, at least 1.

    ``account_posts``: one row per recent post with ``platform, account_id``."""
    if days_observed < 1:
        raise ValueError("days_observed must be at least 1")
    counts = account_posts.groupby([PLATFORM_COLUMN, "account_id"]).size().rename("posts").reset_index()
    counts["posts_per_day"] = np.clip(np.rint(counts["posts"] / days_observed), 1, config.max_posts_per_day).astype("int64")
    return counts[[PLATFORM_COLUMN, "account_id", "posts_per_day"]]


def plan_posts(
    probabilities: pd.DataFrame, accounts: pd.DataFrame, days: list[date], config: PolicyConfig = PolicyConfig()
) -> pd.DataFrame:
    """One row per post each account should publish on each of ``days``: its hour, how it was chosen
    (``policy`` greedy or thompson) and the slot's promise. ``accounts``: ``platform, account_id,
    posts_per_day`` (:func:`posts_per_day`); accounts of a platform without scores are skipped."""
    by_slot = probabilities.set_index([PLATFORM_COLUMN, DOW_COLUMN]).sort_index()
    known = set(by_slot.index.get_level_values(0))
    rows = []
    for account in accounts.itertuples(index=False):
        if account.platform not in known:
            continue
        for day in days:
            slots = by_slot.loc[(account.platform, day_of_week(day))]
            hours = slots[HOUR_COLUMN].to_numpy()
            for post in range(int(account.posts_per_day)):
                rng = np.random.default_rng(_seed("plan", account.platform, account.account_id, day.isoformat(), post))
                explore = rng.random() < config.exploration_share
                weights = slots["p_thompson"].to_numpy() if explore else slots["p_greedy"].to_numpy()
                chosen = int(rng.choice(len(hours), p=weights / weights.sum()))
                rows.append((account.platform, account.account_id, day, post, "thompson" if explore else "greedy", chosen))
    if not rows:
        return pd.DataFrame(columns=[PLATFORM_COLUMN, "account_id", "day", "post_number", "policy"])
    plan = pd.DataFrame(rows, columns=[PLATFORM_COLUMN, "account_id", "day", "post_number", "policy", "slot_position"])
    plan[DOW_COLUMN] = [day_of_week(d) for d in plan["day"]]
    slot_rows = by_slot.reset_index()
    slot_rows["slot_position"] = slot_rows.groupby([PLATFORM_COLUMN, DOW_COLUMN]).cumcount()
    return plan.merge(slot_rows, on=[PLATFORM_COLUMN, DOW_COLUMN, "slot_position"], how="left").drop(columns="slot_position")


def ips_estimate(rewards: np.ndarray, logged_propensity: np.ndarray, target_propensity: np.ndarray) -> float:
    """Inverse-propensity estimate of a target policy's mean reward from logged choices (self-normalised)."""
    weights = np.asarray(target_propensity, float) / np.asarray(logged_propensity, float)
    return float(np.sum(weights * np.asarray(rewards, float)) / np.sum(weights))


def logged_reward_model(logged: pd.DataFrame) -> pd.DataFrame:
    """A reward model for doubly robust estimates, fitted on logged outcomes rather than on the promises.

    The promises are the posteriors as they stood when each post was planned: after the audience moves they
    run high, most at the hours the old model liked, and by how much changes as the posteriors catch up. A DR
    estimate resting on them inherits that bias wherever the target policy goes where the log cannot correct it
    (slots the logging policy gave no probability). Here each platform and hour gets the mean outcome of the
    posts logged there, shrunk toward the hour's promise scaled by the platform's outcome/promise ratio, with
    the empirical Bayes weight ``n_h / (n_h + k)`` its post count earns (``k`` = the outcomes' variance within an
    hour over the variance of the hours' means around their prior beyond that noise, by the method of moments);
    an hour without a logged post keeps the scaled promise. The value of hour ``h`` in a context whose promise
    there is ``e`` is ``weight * mean_reward + (1 - weight) * calibration * e`` (:func:`reward_model_values`).
    Fit it on other days than the ones it values (cross-fitting), so the residuals a DR estimate corrects with
    stay independent of it.

    ``logged``: platform, publish_hour, expected_value (the promise, > 0), reward. Returns platform,
    publish_hour, posts, mean_reward, calibration, weight (24 rows per platform)."""
    missing = {"platform", "publish_hour", "expected_value", "reward"} - set(logged.columns)
    if missing:
        raise ValueError(f"logged_reward_model needs columns {sorted(missing)}")
    if not (logged["expected_value"] > 0).all():
        raise ValueError("logged_reward_model needs positive promises (expected_value)")
    rows = []
    for platform, g in logged.groupby("platform", sort=True):
        hours = g["publish_hour"].to_numpy(int)
        promise, reward = g["expected_value"].to_numpy(float), g["reward"].to_numpy(float)
        n = np.bincount(hours, minlength=24).astype(float)
        seen = n > 0
        calibration = reward.sum() / promise.sum()
        mean = np.full(24, np.nan)
        mean[seen] = np.bincount(hours, reward, 24)[seen] / n[seen]
        prior = np.full(24, np.nan)
        prior[seen] = calibration * np.bincount(hours, promise, 24)[seen] / n[seen]
        residual = reward - mean[hours]
        within = float(residual @ residual / max(len(hours) - int(seen.sum()), 1))
        # how far the hours' means stray from their priors beyond what their posts' noise explains
        tau2 = float(np.mean((mean[seen] - prior[seen]) ** 2 - within / n[seen])) if seen.any() else 0.0
        weight = n / (n + within / tau2) if tau2 > 0 else np.zeros(24)
        rows.append(
            pd.DataFrame(
                {"platform": platform, "publish_hour": HOURS, "posts": n.astype(int), "mean_reward": mean,
                 "calibration": calibration, "weight": weight}
            )
        )
    columns = ["platform", "publish_hour", "posts", "mean_reward", "calibration", "weight"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def reward_model_values(model: pd.DataFrame, platform: str, promises: np.ndarray) -> np.ndarray:
    """The 24 hours' values of :func:`logged_reward_model` ``model`` on ``platform`` in a context whose promises
    (hours 0-23) are ``promises``; a platform the model never saw keeps its promises."""
    mine = model[model["platform"] == platform].set_index("publish_hour").reindex(HOURS)
    if mine["calibration"].isna().all():
        return np.asarray(promises, float)
    weight = mine["weight"].to_numpy(float)
    mean = np.nan_to_num(mine["mean_reward"].to_numpy(float))
    return weight * mean + (1 - weight) * mine["calibration"].to_numpy(float) * np.asarray(promises, float)


def doubly_robust_estimate(
    rewards: np.ndarray,
    logged_propensity: np.ndarray,
    target_propensity: np.ndarray,
    predicted_reward: np.ndarray,
    target_expected_reward: np.ndarray,
) -> float:
    """Doubly robust estimate: the reward model's value of the target policy in each context
    (``target_expected_reward``), corrected by the propensity-weighted residuals of the logged choices."""
    weights = np.asarray(target_propensity, float) / np.asarray(logged_propensity, float)
    correction = weights * (np.asarray(rewards, float) - np.asarray(predicted_reward, float))
    return float(np.mean(np.asarray(target_expected_reward, float) + correction))
