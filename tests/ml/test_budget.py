"""ml.budget on synthetic campaigns with known curves: the fit recovers the planted carryover and saturation, the
allocation is the optimum within its bounds and beats the proportional split against the truth, and a campaign
whose data cannot identify a curve is said to be so and keeps its budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from ml.budget import BudgetConfig, adstock, allocate, fit_curve, plan_budgets, steady_state

FAST = BudgetConfig(bootstraps=30)
DAYS = 140


def _campaign(seed: int, decay: float, half: float, ceiling: float, base: float, steps: bool = True, linear: bool = False):
    """Daily spend (planned steps and day-to-day variation around ``base``) and Poisson conversions of a curve."""
    rng = np.random.default_rng(seed)
    levels = np.exp(rng.uniform(np.log(0.4), np.log(2.2), DAYS // 10 + 1)) if steps else np.ones(DAYS // 10 + 1)
    spend = base * np.repeat(levels, 10)[:DAYS] * np.exp(rng.normal(0, 0.15 if steps else 0.03, DAYS))
    a = adstock(spend, decay, spend[:7].mean())
    mu = ceiling / half * a if linear else steady_state(a, half, ceiling)
    return spend, rng.poisson(mu).astype(float)


def test_the_fit_recovers_the_planted_carryover_and_saturation():
    for seed, (decay, half, ceiling, base) in enumerate([(0.5, 300.0, 120.0, 400.0), (0.2, 150.0, 60.0, 200.0)]):
        spend, y = _campaign(seed, decay, half, ceiling, base)
        fit = fit_curve(spend, y, FAST)
        assert fit.identified, fit.reason
        assert abs(fit.decay - decay) < 0.12
        assert fit.half_saturation == pytest.approx(half, rel=0.35)
        # what the allocation reads: conversions at the spends it may choose, within a few percent
        for x in (0.5 * base, base, 2 * base):
            assert float(fit.conversions(x)) == pytest.approx(float(steady_state(x, half, ceiling)), rel=0.06)
        lo, hi = np.percentile(fit.boot[:, 1], [5, 95])
        assert lo < fit.half_saturation < hi
        assert fit.holdout_days >= 20 and fit.holdout_weekly_r2 > 0.7


def test_unidentified_curves_are_reported_with_their_reason():
    flat_spend, flat_y = _campaign(3, 0.3, 200.0, 80.0, 300.0, steps=False)
    flat = fit_curve(flat_spend, flat_y, FAST)
    assert not flat.identified and "spend barely varied" in flat.reason and np.isnan(flat.decay)
    # spend moved, but conversions rose in proportion: where returns diminish is unknown
    line_spend, line_y = _campaign(4, 0.3, 200.0, 80.0, 300.0, linear=True)
    line = fit_curve(line_spend, line_y, FAST)
    assert not line.identified and "no saturation visible" in line.reason
    short = fit_curve(line_spend[:20], line_y[:20], FAST)
    assert not short.identified and "only 20 days" in short.reason
    with pytest.raises(ValueError, match="non-negative"):
        fit_curve(-line_spend, line_y, FAST)


def test_the_allocation_is_the_optimum_within_its_bounds():
    k = np.array([100.0, 400.0, 250.0, 60.0])
    c = np.array([50.0, 200.0, 90.0, 10.0])
    current = np.array([200.0, 300.0, 250.0, 150.0])
    lower, upper = current * 0.5, current * 2.0
    x = allocate(k, c, current.sum(), lower, upper)
    assert x.sum() == pytest.approx(current.sum(), abs=1e-6)
    assert (x >= lower - 1e-9).all() and (x <= upper + 1e-9).all()
    # scipy's constrained optimizer finds no better split
    res = optimize.minimize(
        lambda v: -steady_state(v, k, c).sum(), current, method="SLSQP", bounds=list(zip(lower, upper)),
        constraints=[{"type": "eq", "fun": lambda v: v.sum() - current.sum()}],
    )
    assert steady_state(x, k, c).sum() >= -res.fun - 1e-6
    assert steady_state(x, k, c).sum() > steady_state(current, k, c).sum()  # better than the proportional split
    with pytest.raises(ValueError, match="cannot be split"):
        allocate(k, c, upper.sum() + 1, lower, upper)


def test_a_plan_moves_only_identified_campaigns_and_beats_the_current_split_against_the_truth():
    truth = [(0.4, 150.0, 90.0, 300.0), (0.3, 600.0, 60.0, 300.0), (0.2, 200.0, 40.0, 250.0)]
    fits = {}
    for i, (decay, half, ceiling, base) in enumerate(truth):
        spend, y = _campaign(10 + i, decay, half, ceiling, base)
        fits[f"c{i}"] = fit_curve(spend, y, FAST)
    flat_spend, flat_y = _campaign(20, 0.3, 200.0, 80.0, 300.0, steps=False)
    fits["flat"] = fit_curve(flat_spend, flat_y, FAST)
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["c0", "c1", "c2", "flat", "paused"],
            "current_budget_usd": [500.0, 150.0, 300.0, 320.0, 100.0],
            "pacing": [1.0, 1.0, 1.0, 1.0, 1.0],
            "is_active": [True, True, True, True, False],
        }
    )
    plan = plan_budgets(campaigns, fits, config=FAST)
    f = plan.campaigns.set_index("campaign_id")
    assert f.loc["flat", "recommended_budget_usd"] == 320.0 and "spend barely varied" in f.loc["flat", "reason"]
    assert f.loc["paused", "recommended_budget_usd"] == 100.0 and f.loc["paused", "reason"] == "paused on the latest day"
    moved = f.loc[["c0", "c1", "c2"]]
    assert moved["recommended_budget_usd"].sum() == pytest.approx(950.0, abs=0.02)  # the total less the kept 320
    assert (moved["recommended_budget_usd"] >= moved["current_budget_usd"] * 0.5 - 0.01).all()
    assert (moved["recommended_budget_usd"] <= moved["current_budget_usd"] * 2.0 + 0.01).all()
    assert ((moved["new_low"] <= moved["new_expected"]) & (moved["new_expected"] <= moved["new_high"])).all()
    k, c = np.array([t[1] for t in truth]), np.array([t[2] for t in truth])
    true_new = steady_state(moved["recommended_budget_usd"].to_numpy(), k, c).sum()
    true_now = steady_state(moved["current_budget_usd"].to_numpy(), k, c).sum()
    oracle = steady_state(allocate(k, c, 950.0, moved["current_budget_usd"] * 0.5, moved["current_budget_usd"] * 2.0), k, c).sum()
    assert true_new > true_now and (oracle - true_new) / oracle < 0.02
    assert plan.totals["new_expected"] > plan.totals["now_expected"] and plan.totals["confidence"] > 0.9
    with pytest.raises(ValueError, match="outside their 50%..200%"):
        plan_budgets(campaigns, fits, total=5000.0, config=FAST)


def test_the_90_percent_intervals_cover_about_90_percent_of_realized_days():
    from ml.budget import realized_interval

    rng = np.random.default_rng(0)
    hits = []
    for seed in range(5):
        decay, half, ceiling, base = rng.uniform(0.1, 0.7), rng.uniform(100, 500), rng.uniform(20, 150), rng.uniform(150, 500)
        spend, y = _campaign(100 + seed, decay, half, ceiling, base)
        fit = fit_curve(spend, y, FAST)
        assert fit.identified, fit.reason
        for x in (0.6 * base, base, 1.8 * base):
            boot = steady_state(x, fit.boot[:, 1], fit.boot[:, 2])
            lo, hi = realized_interval(np.random.default_rng(1), boot[:, None], [fit.dispersion], 0.9, 20)
            days = rng.poisson(steady_state(x, half, ceiling), 400)  # realized days at that steady spend
            hits.append(np.mean((days >= lo) & (days <= hi)))
    assert 0.82 <= np.mean(hits) <= 0.97, np.mean(hits)
