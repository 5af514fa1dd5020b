"""Does Cycle's posting policy pay, and does it keep learning when the audience changes?

    make benchmark-loop       # or: python -m benchmarks.loop [--weeks 8 --posts-per-day 240 ...]

Eight weeks of posting on the simulator's planted truth, every post published where the policy says
(adoption 100%). At the start of week 5 every platform's peak hour moves by 4 hours
(``ground_truth.hour_effect(..., peak_shift_hours=4)``); the content effects stay as they are. Five policies
publish the same posts: on each day and platform, post k has the same content, the same noise and the same
impressions under every policy (common random numbers), so the differences between them come from the
timing alone.

1. random: a uniform hour;
2. static heatmap ("best time to post" tools): week 1 on random timing, then each platform-weekday's hour
   with the highest mean observed engagement so far, learnt over weeks 1-4 and frozen from week 5 on;
3. Cycle without exploration (``PolicyConfig(exploration_share=0.0)``);
4. Cycle (``PolicyConfig()``, 15% exploration);
5. oracle: the planted best hour, knowing the shift.

Cycle, as the daily pipeline runs it: week 1 on random timing (no model yet; the same warm-up posts as every
learner), then at the start of each week the engagement model is retrained on every post so far
(``train_engagement_model``), the slots are scored over the newest 28 days' content mix, and each day the
posteriors are updated with the posts published since the retrain (this week's earlier days: what the
pipeline does every day between retrains; it retrains whenever a challenger beats the champion, weekly
here), then ``plan_posts`` places the day's posts. A post's outcome is
known at the end of its day (the warehouse waits 24 hours for it: the benchmark is one day more responsive
than production at most).

A post's outcome is drawn as ``simulator.core.posts_published_on`` draws it, with the hour the policy chose:
log multiplier = ``hour_effect(platform, hour + second/3600, shift)`` + hook + media + topic effects +
N(0, ENGAGEMENT_NOISE_SIGMA); impressions = median x LogNormal(0, IMPRESSIONS_SIGMA); each interaction's
count ~ Poisson(impressions x base rate x exp(log multiplier)). The engagement score is then what the
warehouse computes (``fct_post_metrics_daily``): the counts weighted by the ``platform_engagement_weights``
seed, x 10,000 / impressions, capped at 1,000. The Poisson counts are drawn by inverting one uniform per
post and interaction, so a better hour never gives the same post a lower score.

Figures: each policy's mean engagement score per post; its share of the oracle's gain over random (week 4,
and weeks 6-7: within 2 weeks after the shift); and an off-policy estimate of its mean over weeks 5-8 from
Cycle's logged propensities (self-normalised IPS, and doubly robust with a reward model fitted on the logged
outcomes, cross-fitted by day: ``ml.posting_policy.logged_reward_model``; the report also shows DR on the slot
promises Cycle logged, which ran high after the shift), against what it scored when run. Goals: Cycle >= 80%
of the oracle's gain by week 4 and within 2 weeks after the shift, ahead of the static heatmap; Cycle's 90%
intervals cover 85-95% of the outcomes of its posts; each policy's off-policy estimate within 10% of its
simulated mean.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analytics_assets.sources.simulator import SimulatorConfig
from analytics_assets.sources.simulator import ground_truth as gt
from ml.posting_policy import (
    DOW_COLUMN,
    HOURS,
    SLOT_KEYS,
    PolicyConfig,
    doubly_robust_estimate,
    hour_probabilities,
    ips_estimate,
    logged_reward_model,
    plan_posts,
    predict_log,
    reward_model_values,
    score_slots,
    slot_posteriors,
)
from ml.training import TrainingConfig, train_engagement_model

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_SEED = ROOT / "dbt" / "seeds" / "platform_engagement_weights.csv"
RESULTS = ROOT / "benchmarks" / "results" / "loop.json"
INTERACTIONS = ("likes", "comments", "shares", "clicks", "quotes", "saves")
SCORE_CAP = 1000.0  # the contract's cap on engagement_score
CONTENT_LOOKBACK_DAYS = 28  # the pipeline scores slots over the newest 28 days' content (posting_slots.LOOKBACK_DAYS)
POLICIES = ("random", "static heatmap", "Cycle, no exploration", "Cycle", "oracle")

GOAL_SHARE = 0.80
GOAL_COVERAGE = (0.85, 0.95)
GOAL_OPE_ERROR = 0.10


@dataclass(frozen=True)
class LoopConfig:
    weeks: int = 8
    shift_week: int = 5  # first week (1-based) of the moved peak hours
    peak_shift_hours: int = 4
    posts_per_day: int = SimulatorConfig().posts_per_day  # split over the platforms by share_of_posts
    platforms: tuple[str, ...] = tuple(gt.PLATFORMS)
    accounts_per_platform: int = 5  # the simulator's account_seq 0..4
    static_weeks: int = 4  # the heatmap learns over weeks 1..static_weeks, then is frozen
    seed: int = 7
    start: date = date(2025, 1, 6)  # a Monday: week k is days 7(k-1)..7k-1
    # the production configuration: a retrain on 12k posts takes ~2-3 s on one thread
    training: TrainingConfig = field(default_factory=TrainingConfig)
    cycle: PolicyConfig = field(default_factory=PolicyConfig)
    # an experiment, never the reported result: train each retrain on the newest N days only (None: every post,
    # as the pipeline does)
    training_window_days: int | None = None

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(7 * self.weeks)]

    def week_of(self, day: date) -> int:
        return (day - self.start).days // 7 + 1

    def posts_on(self, platform: str) -> int:
        return int(round(self.posts_per_day * gt.PLATFORMS[platform].share_of_posts))


def _engagement_weights() -> dict[str, dict[str, float]]:
    with WEIGHTS_SEED.open() as f:
        return {row["platform"]: {m: float(row[m]) for m in INTERACTIONS} for row in csv.DictReader(f)}


class World:
    """The planted truth and every draw that does not depend on timing, per day and platform."""

    def __init__(self, config: LoopConfig):
        self.config = config
        self.weights = _engagement_weights()
        self._draws: dict[tuple[date, str], dict[str, np.ndarray]] = {}

    def shift(self, day: date) -> int:
        return self.config.peak_shift_hours if self.config.week_of(day) >= self.config.shift_week else 0

    def draws(self, day: date, platform: str) -> dict[str, np.ndarray]:
        key = (day, platform)
        if key not in self._draws:
            prof = gt.PLATFORMS[platform]
            n = self.config.posts_on(platform)
            rng = np.random.default_rng([self.config.seed, list(gt.PLATFORMS).index(platform), day.toordinal()])
            lo, hi = prof.text_length_range
            media = list(prof.media_mix)
            media_p = np.array([prof.media_mix[m] for m in media])
            self._draws[key] = {
                # the simulator's content mix before any behaviour shift (content effects do not change here)
                "hook_type": np.array(gt.HOOK_TYPES, dtype=object)[rng.integers(0, len(gt.HOOK_TYPES), n)],
                "media_type": np.array(media, dtype=object)[rng.choice(len(media), size=n, p=media_p / media_p.sum())],
                "topic": np.array(gt.TOPICS, dtype=object)[rng.integers(0, len(gt.TOPICS), n)],
                "text_length": rng.integers(lo, hi + 1, n),
                "second": rng.integers(0, 3600, n),
                "noise": rng.normal(0, gt.ENGAGEMENT_NOISE_SIGMA, n),
                "impressions": np.maximum(
                    np.round(prof.median_impressions * np.exp(rng.normal(0, gt.IMPRESSIONS_SIGMA, n))), 1
                ),
                "uniforms": np.clip(rng.random((n, len(INTERACTIONS))), 1e-12, 1 - 1e-12),
                # the warm-up's and the random policy's hours
                "random_hour": rng.integers(0, 24, n),
            }
        return self._draws[key]

    def _content_log(self, d: dict[str, np.ndarray]) -> np.ndarray:
        return (
            np.array([gt.HOOK_EFFECTS[h] for h in d["hook_type"]])
            + np.array([gt.MEDIA_EFFECTS[m] for m in d["media_type"]])
            + np.array([gt.TOPIC_EFFECTS[t] for t in d["topic"]])
        )

    def _hour_log(self, day: date, platform: str, hours: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        shift = self.shift(day)
        return np.array([gt.hour_effect(platform, h + s / 3600, shift) for h, s in zip(hours, seconds)])

    def base_score(self, platform: str) -> float:
        """The score of a post with log multiplier 0: weighted interactions per impression x 10,000."""
        rates = gt.PLATFORMS[platform].base_rates
        return 10_000 * sum(self.weights[platform][m] * rates.get(m, 0.0) for m in INTERACTIONS)

    def outcome(self, day: date, platform: str, hours: np.ndarray) -> np.ndarray:
        """The engagement score of the day's posts published at ``hours`` (post k at hours[k])."""
        d = self.draws(day, platform)
        log_mult = self._hour_log(day, platform, np.asarray(hours), d["second"]) + self._content_log(d) + d["noise"]
        rates = gt.PLATFORMS[platform].base_rates
        weighted = np.zeros(len(log_mult))
        for j, metric in enumerate(INTERACTIONS):
            if metric in rates and self.weights[platform][metric]:
                counts = stats.poisson.ppf(d["uniforms"][:, j], d["impressions"] * rates[metric] * np.exp(log_mult))
                weighted += self.weights[platform][metric] * counts
        return np.minimum(weighted * 10_000 / d["impressions"], SCORE_CAP)

    def expected(self, day: date, platform: str, hours: np.ndarray) -> np.ndarray:
        """The planted expected score of the day's posts at ``hours`` (over noise and counts; cap ignored)."""
        d = self.draws(day, platform)
        log_mult = self._hour_log(day, platform, np.asarray(hours), d["second"]) + self._content_log(d)
        return self.base_score(platform) * np.exp(log_mult + gt.ENGAGEMENT_NOISE_SIGMA**2 / 2)

    def best_hour(self, day: date, platform: str) -> int:
        """The planted best hour (its bump is centred mid-hour, so the mid-hour effect ranks the hours)."""
        shift = self.shift(day)
        return int(max(HOURS, key=lambda h: gt.hour_effect(platform, h + 0.5, shift)))

    def posts(self, day: date, platform: str, hours: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
        """The day's posts shaped like ``main.ml_training_dataset`` (what the model is trained on)."""
        d = self.draws(day, platform)
        hours = np.asarray(hours, dtype="int64")
        published_at = pd.Timestamp(day) + pd.to_timedelta(hours * 3600 + d["second"], unit="s")
        return pd.DataFrame(
            {
                "post_id": [f"{platform}-{day.isoformat()}-{k}" for k in range(len(hours))],
                "platform": platform,
                "published_at": published_at,
                "published_date": pd.Timestamp(day),
                "publish_hour": hours,
                DOW_COLUMN: day.weekday(),
                "hook_type": d["hook_type"],
                "media_type": d["media_type"],
                "topic": d["topic"],
                "text_length": d["text_length"],
                "engagement_score": scores,
            }
        )


def _log_rows(world: World, day: date, platform: str, hours: np.ndarray, propensity) -> pd.DataFrame:
    hours = np.asarray(hours, dtype="int64")
    return pd.DataFrame(
        {
            "day": day,
            "week": world.config.week_of(day),
            "platform": platform,
            "k": np.arange(len(hours)),
            "publish_hour": hours,
            "propensity": propensity,
            "score": world.outcome(day, platform, hours),
            "planted_expected": world.expected(day, platform, hours),
        }
    )


# ---------------------------------------------------------------------------------------------- policies


def run_random(world: World) -> pd.DataFrame:
    return pd.concat(
        [
            _log_rows(world, day, p, world.draws(day, p)["random_hour"], 1 / 24)
            for day in world.config.days()
            for p in world.config.platforms
        ],
        ignore_index=True,
    )


def run_oracle(world: World) -> pd.DataFrame:
    rows = []
    for day in world.config.days():
        for p in world.config.platforms:
            rows.append(_log_rows(world, day, p, np.full(world.config.posts_on(p), world.best_hour(day, p)), 1.0))
    return pd.concat(rows, ignore_index=True)


def run_static_heatmap(world: World) -> pd.DataFrame:
    """Week 1 random; then each platform-weekday's hour with the best mean so far; frozen after static_weeks."""
    config = world.config
    rows: list[pd.DataFrame] = []
    for day in config.days():
        week = config.week_of(day)
        for p in config.platforms:
            if week == 1:
                rows.append(_log_rows(world, day, p, world.draws(day, p)["random_hour"], 1 / 24))
                continue
            learnt = pd.concat(rows, ignore_index=True)
            learnt = learnt[(learnt["platform"] == p) & (learnt["week"] <= config.static_weeks)]
            learnt = learnt[[d.weekday() == day.weekday() for d in learnt["day"]]]
            means = learnt.groupby("publish_hour")["score"].mean()
            # ties go to the earliest hour; only hours posted at have a mean
            best = int(means.index[np.argmax(means.to_numpy())])
            rows.append(_log_rows(world, day, p, np.full(config.posts_on(p), best), 1.0))
    return pd.concat(rows, ignore_index=True)


def _accounts(config: LoopConfig) -> pd.DataFrame:
    rows = []
    for p in config.platforms:
        n, k = config.posts_on(p), config.accounts_per_platform
        for a in range(k):
            rows.append((p, f"{p}-{a}", n // k + (1 if a < n % k else 0)))
    accounts = pd.DataFrame(rows, columns=["platform", "account_id", "posts_per_day"])
    return accounts[accounts["posts_per_day"] > 0].reset_index(drop=True)


@dataclass
class CycleRun:
    log: pd.DataFrame  # one row per post: its hour, propensity, promise and outcome
    slots: pd.DataFrame  # per day, platform and hour: the propensity and the promise (the off-policy inputs)
    training_seconds: list[float]
    seconds: float


def run_cycle(world: World, policy: PolicyConfig) -> CycleRun:
    config = world.config
    started = time.perf_counter()
    accounts = _accounts(config)
    history: list[pd.DataFrame] = []  # posts in the training contract's shape, as the warehouse holds them
    logs: list[pd.DataFrame] = []
    slot_logs: list[pd.DataFrame] = []
    training_seconds: list[float] = []
    days = config.days()
    for week in range(1, config.weeks + 1):
        week_days = days[7 * (week - 1) : 7 * week]
        if week == 1:
            # no model yet: the warm-up is random timing, the same posts as every other learner's week 1
            for day in week_days:
                for p in config.platforms:
                    hours = world.draws(day, p)["random_hour"]
                    row = _log_rows(world, day, p, hours, 1 / 24)
                    logs.append(row)
                    history.append(world.posts(day, p, hours, row["score"].to_numpy()))
            continue
        data = pd.concat(history, ignore_index=True)
        if config.training_window_days is not None:
            data = data[data["published_date"] >= pd.Timestamp(week_days[0] - timedelta(days=config.training_window_days))]
        t = time.perf_counter()
        trained = train_engagement_model(data, config.training)
        training_seconds.append(time.perf_counter() - t)
        recent = data[data["published_date"] >= pd.Timestamp(week_days[0] - timedelta(days=CONTENT_LOOKBACK_DAYS))]
        slots = score_slots(trained.model, trained.spec, recent, policy)
        seen = data[SLOT_KEYS]
        rmse_log = float(trained.metrics["rmse_log"])
        # the posts since the retrain move the posteriors every day, and so do those of the newest
        # policy.fresh_window_days days before it, as in the pipeline (history holds one frame per day and platform)
        since = pd.Timestamp(week_days[0] - timedelta(days=policy.fresh_window_days))
        carried = [posts for posts in history if posts["published_date"].iloc[0] >= since]
        fresh: list[pd.DataFrame] = list(carried)
        for day in week_days:
            fresh_posts = pd.concat(fresh, ignore_index=True) if fresh else None
            fresh_log = predict_log(trained.model, trained.spec, fresh_posts) if fresh else None
            posteriors = slot_posteriors(slots, seen, fresh_posts, fresh_log, rmse_log, policy)
            probabilities = hour_probabilities(posteriors, policy)
            day_slots = probabilities[probabilities[DOW_COLUMN] == day.weekday()]
            slot_logs.append(
                day_slots[["platform", "publish_hour", "propensity", "expected_value"]].assign(day=day)
            )
            plan = plan_posts(probabilities, accounts, [day], policy)
            for p in config.platforms:
                # post k of the day is the k-th planned post (accounts, then post numbers, in plan order)
                planned = plan[plan["platform"] == p].reset_index(drop=True)
                hours = planned["publish_hour"].to_numpy()
                row = _log_rows(world, day, p, hours, planned["propensity"].to_numpy())
                for column in ("policy", "expected_value", "expected_low", "expected_high"):
                    row[column] = planned[column].to_numpy()
                logs.append(row)
                fresh.append(world.posts(day, p, hours, row["score"].to_numpy()))
        history.extend(fresh[len(carried) :])
    return CycleRun(
        log=pd.concat(logs, ignore_index=True),
        slots=pd.concat(slot_logs, ignore_index=True),
        training_seconds=training_seconds,
        seconds=time.perf_counter() - started,
    )


# ------------------------------------------------------------------------------------------------ figures


def share_of_oracle_gain(logs: dict[str, pd.DataFrame], weeks: list[int], column: str = "score") -> dict[str, float]:
    """(policy - random) / (oracle - random) over ``weeks``: the same posts under every policy."""
    means = {name: float(log.loc[log["week"].isin(weeks), column].mean()) for name, log in logs.items()}
    gain = means["oracle"] - means["random"]
    return {name: (m - means["random"]) / gain for name, m in means.items()}


def off_policy(
    logs: dict[str, pd.DataFrame], cycle: CycleRun, weeks: list[int], logging_policy: str = "Cycle"
) -> dict[str, dict[str, float]]:
    """Each policy's mean over ``weeks`` estimated from Cycle's logged posts, propensities and promises.

    The target's hour for post k is the hour it chose when run (random: uniform; the logging policy: its own
    propensities). A logged post at another hour weighs nothing. ``support``: the share of the target's
    choices that Cycle could have made (logged propensity > 0): IPS cannot see the rest, DR falls back on the
    promise there; ``ess``: the Kish effective number of logged posts behind the IPS estimate."""
    keys = ["day", "platform", "k"]
    logged = cycle.log[cycle.log["week"].isin(weeks)].reset_index(drop=True)
    promise = cycle.slots.set_index(["day", "platform", "publish_hour"])["expected_value"]
    by_context = {
        key: (frame["propensity"].to_numpy(), frame["expected_value"].to_numpy())
        for key, frame in cycle.slots.sort_values("publish_hour").groupby(["day", "platform"])
    }
    context = list(zip(logged["day"], logged["platform"]))
    logged_p = logged["propensity"].to_numpy()
    rewards = logged["score"].to_numpy()
    logged_slot = pd.MultiIndex.from_arrays([logged["day"], logged["platform"], logged["publish_hour"]])
    promised = promise.reindex(logged_slot).to_numpy()
    # DR's reward model: the logged outcomes per platform and hour, shrunk toward the calibrated promise
    # (logged_reward_model), cross-fitted by day: a day's values come from the window's other days, so no post's
    # outcome shapes the value its own residual is taken against. The promises alone ran high after the shift,
    # most at the hours the old model liked, where a target policy that keeps them has few logged posts to
    # correct it.
    reward_input = logged[["day", "platform", "publish_hour"]].assign(expected_value=promised, reward=rewards)
    model: dict[tuple, np.ndarray] = {}
    for day in sorted(set(logged["day"])):
        fitted = logged_reward_model(reward_input[reward_input["day"] != day])
        for c in {c for c in context if c[0] == day}:
            model[c] = reward_model_values(fitted, c[1], by_context[c][1])
    predicted = np.array([model[c][h] for c, h in zip(context, logged["publish_hour"])])
    out = {}
    for name, log in logs.items():
        target_log = log[log["week"].isin(weeks)]
        if name == "random":
            target_p = np.full(len(logged), 1 / 24)
            target_hours = None
            support = float(np.mean([(by_context[c][0] > 0).mean() for c in context]))
        elif name == logging_policy:
            target_p = logged_p
            target_hours = None
            support = 1.0
        else:
            target = logged[keys].merge(target_log[keys + ["publish_hour"]], on=keys, how="left")
            target_hours = target["publish_hour"].to_numpy()
            target_p = (target_hours == logged["publish_hour"].to_numpy()).astype(float)
            support = float(np.mean([by_context[c][0][h] > 0 for c, h in zip(context, target_hours)]))

        def value(reward_model: dict) -> np.ndarray:
            """The reward model's value of the target policy in each logged post's context."""
            if name == "random":
                return np.array([reward_model[c].mean() for c in context])
            if name == logging_policy:
                return np.array([by_context[c][0] @ reward_model[c] for c in context])
            return np.array([reward_model[c][h] for c, h in zip(context, target_hours)])

        weights = target_p / logged_p
        simulated = float(target_log["score"].mean())
        ips = ips_estimate(rewards, logged_p, target_p) if weights.sum() > 0 else float("nan")
        # delta-method standard error of the self-normalised estimate: how far from its value chance alone puts it
        ips_se = np.sqrt(np.sum(weights**2 * (rewards - ips) ** 2)) / weights.sum() if weights.sum() > 0 else np.nan
        dr = doubly_robust_estimate(rewards, logged_p, target_p, predicted, value(model))
        # the same with the promises as reward model (what DR rested on before their calibration): the diagnosis
        promises = {c: v[1] for c, v in by_context.items()}
        dr_promise = doubly_robust_estimate(rewards, logged_p, target_p, promised, value(promises))
        out[name] = {
            "simulated": simulated,
            "ips": ips,
            "ips_se": float(ips_se),
            "dr": dr,
            "dr_promise": dr_promise,
            "ips_error": ips / simulated - 1,
            "dr_error": dr / simulated - 1,
            "dr_promise_error": dr_promise / simulated - 1,
            "support": support,
            "ess": float(weights.sum() ** 2 / np.sum(weights**2)) if weights.sum() > 0 else 0.0,
            "logged_posts": int(len(logged)),
        }
    return out


def interval_coverage(cycle: CycleRun, weeks: list[int]) -> dict[str, float]:
    planned = cycle.log[cycle.log["week"].isin(weeks) & cycle.log["expected_low"].notna()]
    inside = (planned["score"] >= planned["expected_low"]) & (planned["score"] <= planned["expected_high"])
    return {
        "coverage": float(inside.mean()),
        "below": float((planned["score"] < planned["expected_low"]).mean()),
        "above": float((planned["score"] > planned["expected_high"]).mean()),
        "expected_value_bias": float(planned["score"].mean() / planned["expected_value"].mean() - 1),
        "posts": int(len(planned)),
    }


def run_all(config: LoopConfig) -> dict:
    """Every policy on the same world (the same posts, noise and impressions)."""
    world = World(config)
    started = time.perf_counter()
    variants = {"Cycle, no exploration": replace(config.cycle, exploration_share=0.0), "Cycle": config.cycle}
    cycles = {name: run_cycle(world, pc) for name, pc in variants.items()}
    logs = {
        "random": run_random(world),
        "static heatmap": run_static_heatmap(world),
        "Cycle, no exploration": cycles["Cycle, no exploration"].log,
        "Cycle": cycles["Cycle"].log,
        "oracle": run_oracle(world),
    }
    return {"config": config, "logs": logs, "cycles": cycles, "seconds": time.perf_counter() - started}


def figures(run: dict) -> dict:
    config: LoopConfig = run["config"]
    logs, cycles = run["logs"], run["cycles"]
    weeks = list(range(1, config.weeks + 1))
    before = [w for w in weeks if w < config.shift_week]
    after = [w for w in weeks if w >= config.shift_week]
    recovery_weeks = [w for w in (config.shift_week + 1, config.shift_week + 2) if w <= config.weeks]
    learnt_week = config.shift_week - 1
    out: dict = {"policies": {}}
    share_learnt = share_of_oracle_gain(logs, [learnt_week])
    share_recovery = share_of_oracle_gain(logs, recovery_weeks) if recovery_weeks else {}
    ope = off_policy(logs, cycles["Cycle"], after)
    for name, log in logs.items():
        out["policies"][name] = {
            "mean_before_shift": float(log.loc[log["week"].isin(before), "score"].mean()),
            "mean_after_shift": float(log.loc[log["week"].isin(after), "score"].mean()),
            "planted_mean_before_shift": float(log.loc[log["week"].isin(before), "planted_expected"].mean()),
            "planted_mean_after_shift": float(log.loc[log["week"].isin(after), "planted_expected"].mean()),
            "share_week_before_shift": share_learnt[name],
            "share_recovery": share_recovery.get(name, float("nan")),
            "share_by_week": {w: share_of_oracle_gain(logs, [w])[name] for w in weeks},
            "off_policy": ope[name],
        }
    out["coverage"] = {
        "all": interval_coverage(cycles["Cycle"], weeks),
        "before_shift": interval_coverage(cycles["Cycle"], before),
        "after_shift": interval_coverage(cycles["Cycle"], after),
    }
    out["coverage_no_exploration"] = interval_coverage(cycles["Cycle, no exploration"], weeks)
    planned = cycles["Cycle"].log.dropna(subset=["policy"])
    out["explored_share"] = float((planned["policy"] == "thompson").mean())
    out["training_seconds"] = {name: c.training_seconds for name, c in cycles.items()}
    out["cycle_seconds"] = {name: c.seconds for name, c in cycles.items()}
    out["seconds"] = run["seconds"]
    out["weeks"] = {"before": before, "after": after, "learnt": learnt_week, "recovery": recovery_weeks}
    out["best_hours"] = _best_hours(run)
    return out


def _best_hours(run: dict) -> dict:
    """Each learner's most used hour per platform and week, beside the planted one (the diagnosis)."""
    config, logs = run["config"], run["logs"]
    out = {}
    for name in ("static heatmap", "Cycle, no exploration", "Cycle", "oracle"):
        log = logs[name]
        modal = log.groupby(["platform", "week"])["publish_hour"].agg(lambda h: int(h.value_counts().index[0]))
        out[name] = {p: [int(modal[(p, w)]) for w in range(1, config.weeks + 1)] for p in config.platforms}
    return out


# ----------------------------------------------------------------------------------------------- printing


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{x:.0%}"


def print_report(fig: dict, config: LoopConfig) -> dict[str, bool]:
    """The table, the goals with PASS/MISS, and the diagnosis; returns whether each goal was met."""
    w = fig["weeks"]
    span = lambda ws: f"weeks {ws[0]}-{ws[-1]}" if len(ws) > 1 else f"week {ws[0]}"  # noqa: E731
    header = (
        f"{'policy':<22}{'mean/post ' + span(w['before']):>20}{span(w['after']):>11}"
        f"{'share wk ' + str(w['learnt']):>11}{'share ' + span(w['recovery']) if w['recovery'] else 'recovery':>16}"
        f"   {'off-policy ' + span(w['after']) + ': simulated | IPS ± se (err) | DR (err; on the promises) | support, ESS':<60}"
    )
    print(header)
    for name in POLICIES:
        f = fig["policies"][name]
        o = f["off_policy"]
        print(
            f"{name:<22}{f['mean_before_shift']:>20.1f}{f['mean_after_shift']:>11.1f}"
            f"{_pct(f['share_week_before_shift']):>11}{_pct(f['share_recovery']):>16}"
            f"   {o['simulated']:>7.1f} | {o['ips']:6.1f} ± {o['ips_se']:<5.1f} ({o['ips_error']:+.0%})"
            f" | {o['dr']:6.1f} ({o['dr_error']:+.0%}; on the promises {o['dr_promise_error']:+.0%})"
            f" | {o['support']:.0%}, {o['ess']:,.0f}"
        )
    cycle, static = fig["policies"]["Cycle"], fig["policies"]["static heatmap"]
    cov = fig["coverage"]
    results: dict[str, bool] = {}
    results["learns"] = cycle["share_week_before_shift"] >= GOAL_SHARE
    results["recovers"] = bool(w["recovery"]) and (
        cycle["share_recovery"] >= GOAL_SHARE and cycle["share_recovery"] > static["share_recovery"]
    )
    lo, hi = GOAL_COVERAGE
    results["intervals"] = lo <= cov["all"]["coverage"] <= hi
    ope_ok = {
        name: abs(fig["policies"][name]["off_policy"][k]) <= GOAL_OPE_ERROR
        for name in POLICIES
        for k in ("ips_error", "dr_error")
    }
    misses = [
        f"{name} {k[:-6].upper()} {fig['policies'][name]['off_policy'][k]:+.0%}"
        for name in POLICIES
        for k in ("ips_error", "dr_error")
        if not abs(fig["policies"][name]["off_policy"][k]) <= GOAL_OPE_ERROR
    ]
    results["off_policy"] = all(ope_ok.values())
    verdict = lambda ok: "PASS" if ok else "MISS"  # noqa: E731
    print("\ngoals")
    print(
        f"  {verdict(results['learns'])}  Cycle >= {GOAL_SHARE:.0%} of the oracle's gain over random by week "
        f"{w['learnt']}: {_pct(cycle['share_week_before_shift'])} (static heatmap "
        f"{_pct(static['share_week_before_shift'])}, no exploration "
        f"{_pct(fig['policies']['Cycle, no exploration']['share_week_before_shift'])})"
    )
    print(
        f"  {verdict(results['recovers'])}  Cycle >= {GOAL_SHARE:.0%} of the oracle's gain in "
        f"{span(w['recovery']) if w['recovery'] else 'n/a'} "
        f"(within 2 weeks after the shift), ahead of the static heatmap: {_pct(cycle['share_recovery'])} vs "
        f"{_pct(static['share_recovery'])}"
    )
    print(
        f"  {verdict(results['intervals'])}  Cycle's 90% intervals cover {lo:.0%}-{hi:.0%} of its posts' outcomes: "
        f"{cov['all']['coverage']:.1%} of {cov['all']['posts']:,} (below the interval {cov['all']['below']:.1%}, above "
        f"{cov['all']['above']:.1%}; before the shift {cov['before_shift']['coverage']:.1%}, after "
        f"{cov['after_shift']['coverage']:.1%}); mean outcome vs mean promise {cov['before_shift']['expected_value_bias']:+.1%} "
        f"before the shift, {cov['after_shift']['expected_value_bias']:+.1%} after"
    )
    print(
        f"  {verdict(results['off_policy'])}  each policy's off-policy estimate within {GOAL_OPE_ERROR:.0%} of its "
        f"simulated mean: " + ("all within" if not misses else "missed by " + ", ".join(misses))
    )
    print("\nshare of the oracle's gain by week (the shift at the start of week " f"{config.shift_week})")
    print(f"  {'policy':<22}" + "".join(f"{'wk ' + str(k):>7}" for k in range(1, config.weeks + 1)))
    for name in POLICIES:
        by_week = fig["policies"][name]["share_by_week"]
        print(f"  {name:<22}" + "".join(f"{_pct(by_week[k]):>7}" for k in range(1, config.weeks + 1)))
    print("\nmost used hour per week (UTC) beside the planted best hour")
    for p in config.platforms:
        print(f"  {p:<9} oracle {fig['best_hours']['oracle'][p]}")
        for name in ("static heatmap", "Cycle, no exploration", "Cycle"):
            print(f"  {'':<9} {name:<22} {fig['best_hours'][name][p]}")
    train = fig["training_seconds"]["Cycle"]
    print(
        f"\nCycle explored {fig['explored_share']:.1%} of its posts; retrains took {np.mean(train):.1f} s each "
        f"(max {max(train):.1f} s) on one torch thread; {fig['seconds']:.0f} s in all"
    )
    return results


def _jsonable(fig: dict, config: LoopConfig) -> dict:
    cfg = asdict(config)
    cfg["start"] = config.start.isoformat()
    return {"config": cfg, **fig}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weeks", type=int, default=LoopConfig.weeks)
    ap.add_argument("--posts-per-day", type=int, default=LoopConfig.posts_per_day)
    ap.add_argument("--seed", type=int, default=LoopConfig.seed)
    ap.add_argument("--no-json", action="store_true", help=f"print only (default also writes {RESULTS.relative_to(ROOT)})")
    # experiments: what a change to the policy would give; printed as such, never as the reported result
    ap.add_argument("--exploration-share", type=float, help="EXPERIMENT: Cycle's exploration share")
    ap.add_argument("--model-floor-sd", type=float, help="EXPERIMENT: PolicyConfig.model_floor_sd")
    ap.add_argument("--training-window-days", type=int, help="EXPERIMENT: retrain on the newest N days only")
    ap.add_argument(
        "--fresh-window-days", type=int, help="EXPERIMENT: PolicyConfig.fresh_window_days (posteriors count the newest N days)"
    )
    args = ap.parse_args(argv)

    policy = PolicyConfig()
    experiment = []
    if args.exploration_share is not None:
        policy = replace(policy, exploration_share=args.exploration_share)
        experiment.append(f"exploration_share={args.exploration_share}")
    if args.model_floor_sd is not None:
        policy = replace(policy, model_floor_sd=args.model_floor_sd)
        experiment.append(f"model_floor_sd={args.model_floor_sd}")
    if args.training_window_days is not None:
        experiment.append(f"training window {args.training_window_days} days")
    if args.fresh_window_days is not None:
        policy = replace(policy, fresh_window_days=args.fresh_window_days)
        experiment.append(f"fresh_window_days={args.fresh_window_days}")
    config = LoopConfig(
        weeks=args.weeks, posts_per_day=args.posts_per_day, seed=args.seed, cycle=policy,
        training_window_days=args.training_window_days,
    )
    print(
        f"benchmark-loop: {config.weeks} weeks x {config.posts_per_day} posts/day over {len(config.platforms)} platforms, "
        f"adoption 100%, every peak hour +{config.peak_shift_hours} h from week {config.shift_week}; "
        f"the same posts, noise and impressions under every policy"
    )
    if experiment:
        print(f"EXPERIMENT ({', '.join(experiment)}): not the reported result")
    fig = figures(run_all(config))
    results = print_report(fig, config)
    if not args.no_json:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        label = "-".join(experiment).replace("=", "").replace(" ", "")
        path = RESULTS.with_name(f"loop-experiment-{label}.json") if experiment else RESULTS
        path.write_text(json.dumps({**_jsonable(fig, config), "goals": results}, indent=2, default=str))
        print(f"figures written to {path.relative_to(ROOT)}")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
