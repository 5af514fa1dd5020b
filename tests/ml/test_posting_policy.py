"""The posting policy on data with planted hour effects: it finds the planted peaks for every weekday, logs
propensities that are the probabilities it actually sampled with, explores where the model is unsure, moves
with outcomes that arrive after training, promises intervals that cover the outcomes, and gives the same plan
for the same inputs."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ml.posting_policy import (
    PolicyConfig,
    day_of_week,
    doubly_robust_estimate,
    HOUR_RANKING_COLUMNS,
    hour_probabilities,
    ips_estimate,
    plan_posts,
    posts_per_day,
    predict_log,
    rank_hours,
    score_slots,
    slot_posteriors,
)
from ml.training import TrainingResult
from ml_testdata import planted_peak_hours, posts, posts_factory, trained  # noqa: F401  (pytest fixtures)

MONDAY = date(2025, 3, 10)


def _hour_distance(a, b):
    d = np.abs(np.asarray(a) - np.asarray(b)) % 24
    return np.minimum(d, 24 - d)


def _probabilities(trained: TrainingResult, posts: pd.DataFrame, fresh: pd.DataFrame | None = None, config=PolicyConfig()):
    slots = score_slots(trained.model, trained.spec, posts, config)
    fresh_log = predict_log(trained.model, trained.spec, fresh) if fresh is not None else None
    posteriors = slot_posteriors(slots, posts, fresh, fresh_log, trained.metrics["rmse_log"], config)
    return hour_probabilities(posteriors, config)


def test_best_hour_of_every_weekday_is_the_planted_peak(trained, posts, planted_peak_hours):
    probabilities = _probabilities(trained, posts)
    assert len(probabilities) == 7 * 24 * len(planted_peak_hours)
    best = probabilities[probabilities["rank_in_day"] == 1]
    for platform, peak in planted_peak_hours.items():
        hours = best[best["platform"] == platform]["publish_hour"].to_numpy()
        assert len(hours) == 7
        # neighbouring hours differ by ~0.04 on the log scale against 0.35 noise at 300 posts: within one hour
        # on every weekday
        assert _hour_distance(hours, peak).max() <= 1, (platform, peak, hours)


def test_hour_ranking_is_the_one_answer_to_when_to_post(trained, posts, planted_peak_hours):
    """The hours ranked per platform (what /v1/optimal-hours and the insights say) come from the same
    posteriors as the slot recommendations: the planted peak first, the opposite hour among the worst."""
    hours = rank_hours(_probabilities(trained, posts))
    assert list(hours.columns) == HOUR_RANKING_COLUMNS
    assert len(hours) == 24 * len(planted_peak_hours)
    best = hours[hours["rank"] == 1].set_index("platform")["publish_hour"].to_dict()
    distances = {p: int(_hour_distance(best[p], h)) for p, h in planted_peak_hours.items()}
    # even a least-squares fit of the true form misses the exact hour for ~15% of platforms at 300 posts
    assert max(distances.values()) <= 1 and sum(d == 0 for d in distances.values()) >= 3, distances
    for platform, peak in planted_peak_hours.items():
        ranks = hours[hours["platform"] == platform].set_index("publish_hour")["rank"]
        assert sorted(ranks) == list(range(1, 25))
        assert ranks[(peak + 12) % 24] > 18
    assert (hours.groupby("platform")["lift_vs_platform_mean"].max() > 0.2).all()


def test_propensities_are_the_mixture_the_policy_samples_from(trained, posts):
    config = PolicyConfig(exploration_share=0.2)
    probabilities = _probabilities(trained, posts, config=config)
    by_day = probabilities.groupby(["platform", "publish_dow"])
    np.testing.assert_allclose(by_day["propensity"].sum(), 1.0)
    np.testing.assert_allclose(by_day["p_thompson"].sum(), 1.0)
    assert (by_day["p_greedy"].sum() == 1.0).all()
    greedy = probabilities[probabilities["p_greedy"] == 1.0]
    assert (greedy["rank_in_day"] == 1).all()
    assert (greedy["propensity"] >= 1 - config.exploration_share).all()

    # many planned posts on one platform and weekday: the hours drawn follow the logged propensities
    accounts = pd.DataFrame({"platform": ["linkedin"] * 40, "account_id": [f"a{i}" for i in range(40)], "posts_per_day": 24})
    plan = plan_posts(probabilities, accounts, [MONDAY], config)
    assert len(plan) == 40 * 24
    explored = (plan["policy"] == "thompson").mean()
    assert abs(explored - 0.2) < 4 * np.sqrt(0.2 * 0.8 / len(plan))
    monday = probabilities[(probabilities["platform"] == "linkedin") & (probabilities["publish_dow"] == 0)]
    expected = monday.set_index("publish_hour")["propensity"]
    observed = plan["publish_hour"].value_counts().reindex(expected.index, fill_value=0)
    keep = expected * len(plan) >= 5  # chi-square needs expected counts of at least 5; pool the rest
    counts_obs = np.append(observed[keep].to_numpy(), observed[~keep].sum())
    counts_exp = np.append(expected[keep].to_numpy(), expected[~keep].sum()) * len(plan)
    assert stats.chisquare(counts_obs, counts_exp).pvalue > 0.001
    # each planned post carries its own slot's propensity
    merged = plan.merge(monday[["publish_hour", "propensity"]], on="publish_hour", suffixes=("", "_slot"))
    np.testing.assert_allclose(merged["propensity"], merged["propensity_slot"])


def test_exploration_goes_where_the_model_saw_least(trained, posts, planted_peak_hours):
    """Drop every post the model saw at three hours of one platform: those slots become the uncertain ones,
    and Thompson sampling picks them more often than equally good slots the model saw."""
    platform = "x"
    hidden = [(planted_peak_hours[platform] + 6 + k) % 24 for k in range(3)]
    seen = posts[~((posts["platform"] == platform) & posts["publish_hour"].isin(hidden))]
    slots = score_slots(trained.model, trained.spec, posts)
    posteriors = slot_posteriors(slots, seen, None, None, trained.metrics["rmse_log"])
    on_platform = posteriors[posteriors["platform"] == platform]
    unseen = on_platform["publish_hour"].isin(hidden)
    assert on_platform[unseen]["posterior_sd_log"].min() > on_platform[~unseen]["posterior_sd_log"].max()

    # equal means: only the uncertainty separates the slots
    flat = posteriors.assign(posterior_mean_log=0.0)
    probabilities = hour_probabilities(flat)
    explored = probabilities[probabilities["platform"] == platform]
    share_unseen = explored[explored["publish_hour"].isin(hidden)].groupby("publish_dow")["p_thompson"].sum()
    assert (share_unseen > 3 / 24).all(), share_unseen


def test_outcomes_after_training_move_the_recommended_hour(trained, posts, posts_factory, planted_peak_hours):
    """The audience moves: posts published after training do much better at another hour. The posterior
    follows them before any retrain, and that hour becomes the best one."""
    platform = "linkedin"
    new_peak = (planted_peak_hours[platform] + 6) % 24
    fresh = posts_factory(seed=5, posts_per_platform=600, n_days=7, start="2025-03-09")
    fresh = fresh[fresh["platform"] == platform].copy()
    at_new_peak = fresh["publish_hour"] == new_peak
    fresh.loc[at_new_peak, "engagement_score"] = np.minimum(fresh.loc[at_new_peak, "engagement_score"] * 3.0, 1000.0)
    before = _probabilities(trained, posts)
    after = _probabilities(trained, posts, fresh)
    best_before = before[(before["platform"] == platform) & (before["rank_in_day"] == 1)]["publish_hour"]
    best_after = after[(after["platform"] == platform) & (after["rank_in_day"] == 1)]
    assert (best_before != new_peak).all()
    # the hour moved on every weekday, whichever weekdays the evidence came from
    assert fresh[at_new_peak]["publish_dow"].nunique() >= 4
    assert (best_after["publish_hour"] == new_peak).all(), best_after[["publish_dow", "publish_hour"]]
    assert len(best_after) == 7


def test_intervals_cover_the_outcomes_of_new_posts(trained, posts, posts_factory):
    """A promise is an interval for one post's outcome: about 90% of new posts published in a slot (content
    unknown at planning time) land inside their slot's interval, and the expected value is unbiased within 10%."""
    probabilities = _probabilities(trained, posts)
    new = posts_factory(seed=21, posts_per_platform=400, n_days=7, start="2025-03-09")
    scored = new.merge(probabilities, on=["platform", "publish_dow", "publish_hour"], validate="many_to_one")
    inside = (scored["engagement_score"] >= scored["expected_low"]) & (scored["engagement_score"] <= scored["expected_high"])
    # the intervals carry the policy's allowance for a moving audience (model_floor_sd): where nothing moves, as
    # here, they cover a little more than 90%; after a shift, make benchmark-loop measures them at 85-95%
    assert 0.85 <= inside.mean() <= 0.97, inside.mean()
    bias = scored["engagement_score"].mean() / scored["expected_value"].mean() - 1
    assert abs(bias) < 0.10, bias


def test_same_inputs_give_the_same_plan(trained, posts):
    accounts = posts_per_day(
        pd.DataFrame({"platform": ["x"] * 30 + ["reddit"] * 9, "account_id": ["x1"] * 30 + ["r1"] * 9}), days_observed=7
    )
    assert accounts.set_index("account_id")["posts_per_day"].to_dict() == {"x1": 4, "r1": 1}
    days = [MONDAY + timedelta(days=k) for k in range(7)]
    first = plan_posts(_probabilities(trained, posts), accounts, days)
    second = plan_posts(_probabilities(trained, posts), accounts, days)
    pd.testing.assert_frame_equal(first, second)
    assert len(first) == 7 * (4 + 1)
    assert [day_of_week(d) for d in days] == list(range(7))


def test_off_policy_estimates_recover_another_policys_value():
    """Logged with known propensities, the reward of a policy that was never run is estimated without bias:
    IPS and doubly robust agree with the truth within sampling error."""
    rng = np.random.default_rng(3)
    n, arms = 40_000, 24
    true_mean = 1.0 + np.sin(np.arange(arms) / 24 * 2 * np.pi)
    logging = np.full(arms, 0.15 / arms)
    logging[5] += 0.85
    chosen = rng.choice(arms, size=n, p=logging)
    rewards = true_mean[chosen] + rng.normal(0, 0.5, n)
    target = np.full(arms, 1 / arms)  # uniform: the "random slot" policy
    truth = float(true_mean.mean())
    ips = ips_estimate(rewards, logging[chosen], target[chosen])
    reward_model = true_mean + 0.3  # a biased reward model: the correction must remove its bias
    dr = doubly_robust_estimate(rewards, logging[chosen], target[chosen], reward_model[chosen], np.full(n, reward_model.mean()))
    assert abs(ips - truth) / truth < 0.05, (ips, truth)
    assert abs(dr - truth) / truth < 0.05, (dr, truth)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="exploration_share"):
        PolicyConfig(exploration_share=1.5)
    with pytest.raises(ValueError, match="interval_level"):
        PolicyConfig(interval_level=1.0)
