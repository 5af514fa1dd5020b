"""The mechanics of ``make benchmark-loop`` on a tiny world (one platform, three weeks, 21 posts a day): the
same posts under every policy, the oracle on top of the planted truth, propensities that are the
probabilities the hours were drawn with, and off-policy estimates wired to the right policies."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.loop import LoopConfig, World, figures, off_policy, run_all, share_of_oracle_gain
from ml.posting_policy import HOURS

CONFIG = LoopConfig(weeks=3, shift_week=3, posts_per_day=70, platforms=("linkedin",), accounts_per_platform=3)
KEYS = ["day", "platform", "k"]


@pytest.fixture(scope="module")
def run():
    return run_all(CONFIG)


def test_every_policy_publishes_the_same_posts(run):
    logs = run["logs"]
    n = CONFIG.posts_on("linkedin") * 7 * CONFIG.weeks
    random = logs["random"].set_index(KEYS).sort_index()
    for name, log in logs.items():
        assert len(log) == n and not log.duplicated(KEYS).any(), name
        # the warm-up week: every learner posts at the random policy's hours and gets the same outcomes
        if name != "oracle":
            week1 = log[log["week"] == 1].set_index(KEYS).sort_index()
            np.testing.assert_array_equal(week1["publish_hour"], random.loc[week1.index, "publish_hour"])
            np.testing.assert_allclose(week1["score"], random.loc[week1.index, "score"])
    # the same post at the same hour scores the same whichever policy put it there (common random numbers)
    world = World(CONFIG)
    cycle = logs["Cycle"]
    day = cycle["day"].iloc[-1]
    last = cycle[cycle["day"] == day]
    np.testing.assert_allclose(world.outcome(day, "linkedin", last["publish_hour"].to_numpy()), last["score"])


def test_the_oracle_is_best_on_the_planted_truth(run):
    logs, world = run["logs"], World(CONFIG)
    oracle = logs["oracle"].set_index(KEYS).sort_index()
    for name, log in logs.items():
        other = log.set_index(KEYS).sort_index()
        # post by post: no hour gives a post a higher planted expectation than the oracle's hour
        assert (oracle["planted_expected"] >= other["planted_expected"] - 1e-9).all(), name
    # the oracle's hour is the best of all 24 for every post, and it follows the shift
    day_before, day_after = CONFIG.days()[7 * (CONFIG.shift_week - 1) - 1], CONFIG.days()[7 * (CONFIG.shift_week - 1)]
    for day in (day_before, day_after):
        by_hour = np.array([world.expected(day, "linkedin", np.full(CONFIG.posts_on("linkedin"), h)) for h in HOURS])
        assert (by_hour.argmax(axis=0) == world.best_hour(day, "linkedin")).all()
    assert world.best_hour(day_after, "linkedin") == (world.best_hour(day_before, "linkedin") + CONFIG.peak_shift_hours) % 24
    fig = figures(run)
    assert fig["policies"]["random"]["share_week_before_shift"] == 0.0
    assert fig["policies"]["oracle"]["share_week_before_shift"] == 1.0
    # on the planted expectations (no outcome noise), no policy gets more than the oracle's gain
    for week in range(1, CONFIG.weeks + 1):
        planted = share_of_oracle_gain(logs, [week], column="planted_expected")
        assert max(planted.values()) <= 1.0 + 1e-9, (week, planted)


def test_propensities_are_the_probabilities_the_hours_were_drawn_with(run):
    cycle = run["cycles"]["Cycle"]
    planned = cycle.log[cycle.log["week"] >= 2]
    assert ((planned["propensity"] > 0) & (planned["propensity"] <= 1)).all()
    greedy = planned[planned["policy"] == "greedy"]
    assert (greedy["propensity"] >= 1 - CONFIG.cycle.exploration_share).all()
    # each post's logged propensity is its hour's probability in the slot table of its day
    slots = cycle.slots.set_index(["day", "platform", "publish_hour"])["propensity"]
    looked_up = slots.reindex(list(zip(planned["day"], planned["platform"], planned["publish_hour"]))).to_numpy()
    np.testing.assert_allclose(planned["propensity"], looked_up)

    # the logging policy's value on the planted truth, from its per-day propensities over the 24 hours: the
    # posts' planted expectations at the hours drawn must match it within sampling error
    world = World(CONFIG)
    value, variance = 0.0, 0.0
    for (day, platform), posts in planned.groupby(["day", "platform"]):
        p = cycle.slots[(cycle.slots["day"] == day) & (cycle.slots["platform"] == platform)].sort_values("publish_hour")
        p = p["propensity"].to_numpy()
        assert abs(p.sum() - 1) < 1e-9
        mu = np.array([world.expected(day, platform, np.full(CONFIG.posts_on(platform), h)) for h in HOURS])[:, posts["k"]]
        mean = p @ mu
        value += mean.sum()
        variance += (p @ mu**2 - mean**2).sum()
    n = len(planned)
    realized = planned["planted_expected"].mean()
    assert abs(realized - value / n) <= 4 * np.sqrt(variance) / n + 1e-9, (realized, value / n)

    # and the IPS estimate of the logging policy from its own logs is its simulated mean
    ope = off_policy(run["logs"], cycle, [CONFIG.shift_week])
    assert ope["Cycle"]["ips"] == pytest.approx(ope["Cycle"]["simulated"], rel=1e-9)
    assert ope["Cycle"]["support"] == 1.0
    # a deterministic target is only seen where Cycle could have chosen its hour
    assert 0 <= ope["oracle"]["support"] <= 1 and ope["oracle"]["ess"] <= ope["oracle"]["logged_posts"]


def test_coverage_counts_only_planned_posts(run):
    fig = figures(run)
    cov = fig["coverage"]["all"]
    # week 1 is the warm-up (no model, no promise): only weeks 2.. are planned with intervals
    assert cov["posts"] == CONFIG.posts_on("linkedin") * 7 * (CONFIG.weeks - 1)
    assert 0.0 <= cov["coverage"] <= 1.0 and cov["below"] + cov["above"] == pytest.approx(1 - cov["coverage"])
