"""Budget optimization on the simulator's planted response curves (``SimulatorConfig.budget_response``): Cycle's
allocation (ml/budget.py, as ``budget_recommendation_proposals`` computes it) against the oracle's, which knows
every curve, and against the current and the equal split, all scored by the planted truth.

    make benchmark-ml                        # every section; this one alone:
    python -m benchmarks.ml budget --budget-seeds 5 --budget-days 140

Each seed simulates ``--budget-days`` days of every always-on campaign with planned budget changes from the first
day, then plans the next budgets from the last day's, as the asset does: the total is today's total budget of the
delivering campaigns, each within 50%..200% of its current budget. Regret is the share of the oracle's steady-state
conversions (same total, same bounds, every curve known) that an allocation misses; a campaign whose curve Cycle
cannot identify keeps its budget and costs what it costs. R² scores the curves fitted without the last four weeks
on those weeks, pooled over the campaigns around each campaign's own held-out mean: on the held-out weeks' totals
(the goal) and on the days, each beside the planted curve's own R² on the same days (what the noise allows). The
same fit on the default simulator's flat spend must identify no curve.

Goal: regret <= 5% of the oracle's conversions; R² >= 0.85 on the held-out weeks.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd

from analytics_assets.sources.simulator import BudgetResponsePlan, PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import budget_response, core
from analytics_assets.sources.simulator import ground_truth as gt
from ml.budget import BudgetConfig, fit_curve, plan_budgets, r_squared

GOAL_REGRET = 0.05
GOAL_R2 = 0.85
START = date(2026, 1, 5)
MIN_SHARE, MAX_SHARE = 0.5, 2.0


def campaign_days(config: SimulatorConfig, days: int) -> pd.DataFrame:
    """The always-on campaigns' days as the marts give them (fct_campaign_performance, agg_campaign_daily_summary)."""
    frames = []
    for k in range(days):
        a = core._ad_day(config, START + timedelta(days=k))
        usd = a["currency"].map(gt.USD_PER_UNIT)
        frames.append(
            pd.DataFrame(
                {
                    "metric_date": a["metric_date"], "platform": a["platform"], "account_id": a["account_id"],
                    "campaign_id": a["campaign_id"].astype(str), "daily_budget_usd": a["daily_budget_local"] * usd,
                    "spend_usd": a["spend_local"] * usd, "conversions": a["conversions"],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _pooled_r2(frames: list[pd.DataFrame], predicted: str, weekly: bool) -> float:
    """R² pooled over campaigns, each centered on its own held-out mean (a campaign's level is no skill)."""
    d = pd.concat(frames, ignore_index=True)
    if weekly:
        d = d.groupby(["campaign_id", "week"], as_index=False)[["observed", "fitted", "planted"]].sum()
    mean = d.groupby("campaign_id")["observed"].transform("mean")
    return r_squared(d["observed"] - mean, d[predicted] - mean)


def evaluate_seed(seed: int, days: int, bootstraps: int) -> dict:
    from analytics_assets.defs.loop.budget_recommendations import campaign_series, current_budgets

    config = SimulatorConfig(seed=seed, budget_response=BudgetResponsePlan(start=START))
    t = time.perf_counter()
    frame = campaign_days(config, days)
    series = campaign_series(frame)
    budget_config = BudgetConfig(bootstraps=bootstraps, seed=seed)
    fits = {cid: fit_curve(s["spend_usd"], s["conversions"], budget_config) for cid, s in series.items()}
    campaigns = current_budgets(frame, series)
    plan = plan_budgets(campaigns, fits, None, MIN_SHARE, MAX_SHARE, budget_config).campaigns
    seconds = time.perf_counter() - t

    curves = PlatformSimulator(config).budget_curves().set_index("campaign_id")
    truth = curves.loc[plan["campaign_id"]]
    live = plan["is_active"].to_numpy(bool) & (plan["pacing"].to_numpy(float) > 0)
    truth, plan = truth[live], plan[live].reset_index(drop=True)
    pacing, current = plan["pacing"].to_numpy(float), plan["current_budget_usd"].to_numpy(float)

    def conversions(budgets) -> float:  # the planted steady-state conversions a day of a budget split
        return float(budget_response.steady_state_conversions(truth, np.asarray(budgets) * pacing).sum())

    total = current.sum()
    # the oracle allocates spend with every curve known: the same total and bounds, read in spend
    oracle_spend = budget_response.oracle_allocation(truth, float((current * pacing).sum()), current * pacing * MIN_SHARE,
                                                     current * pacing * MAX_SHARE)
    oracle = float(budget_response.steady_state_conversions(truth, oracle_spend).sum())
    cycle = conversions(plan["recommended_budget_usd"])
    # the oracle's split of spend has the same total spend; at unequal pacing its budgets may sum slightly apart
    results = {
        "Cycle": cycle,
        "current (proportional)": conversions(current),
        "equal split": conversions(np.full(len(current), total / len(current))),
    }

    holdout = []
    for cid, fit in fits.items():
        if not fit.holdout_days:
            continue
        s = series[cid]
        curve = curves.loc[cid]
        spend = s["spend_usd"].to_numpy(float)
        planted = budget_response.expected_conversions(curve, spend, initial=spend[:7].mean())
        held = np.flatnonzero(spend > 0)
        held = held[held >= len(spend) - budget_config.holdout_days]
        holdout.append(pd.DataFrame({"campaign_id": cid, "week": fit.holdout_week, "observed": fit.holdout_observed,
                                     "fitted": fit.holdout_predicted, "planted": planted[held]}))

    flat = SimulatorConfig(seed=seed)  # the default simulator's spend: nothing may be identified there
    flat_frame = campaign_days(flat, days)
    flat_fits = [fit_curve(s["spend_usd"], s["conversions"], budget_config) for s in campaign_series(flat_frame).values()]

    return {
        "seed": seed,
        "campaigns": len(plan),
        "identified": int(plan["allocated"].sum()),
        "oracle": oracle,
        **{f"regret {name}": (oracle - value) / oracle for name, value in results.items()},
        "weekly_r2": _pooled_r2(holdout, "fitted", weekly=True),
        "weekly_r2_planted": _pooled_r2(holdout, "planted", weekly=True),
        "daily_r2": _pooled_r2(holdout, "fitted", weekly=False),
        "daily_r2_planted": _pooled_r2(holdout, "planted", weekly=False),
        "median_campaign_daily_r2": float(np.nanmedian([f.holdout_r2 for f in fits.values() if f.identified])),
        "flat_identified": sum(f.identified for f in flat_fits),
        "flat_campaigns": len(flat_fits),
        "seconds": seconds,
    }


def report(seeds: list[int], days: int, bootstraps: int) -> bool:
    rows = pd.DataFrame([evaluate_seed(seed, days, bootstraps) for seed in seeds])
    print(f"\n== budget: {len(seeds)} seeds x {days} days, ~{int(rows['campaigns'].mean())} delivering campaigns each, "
          f"planned budget changes; allocation within {MIN_SHARE:.0%}..{MAX_SHARE:.0%} of current budgets")
    regrets = [c for c in rows.columns if c.startswith("regret ")]
    table = rows.set_index("seed")[["identified", "campaigns", *regrets, "weekly_r2", "weekly_r2_planted", "daily_r2",
                                    "daily_r2_planted", "median_campaign_daily_r2", "flat_identified", "seconds"]]
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    mean = rows[[*regrets, "weekly_r2", "weekly_r2_planted", "daily_r2", "daily_r2_planted"]].mean()
    print("mean: " + ", ".join(f"{name.removeprefix('regret ')} regret {mean[name]:.2%}" for name in regrets)
          + f"; held-out R² weekly {mean['weekly_r2']:.3f} (planted curve {mean['weekly_r2_planted']:.3f}), daily "
          f"{mean['daily_r2']:.3f} (planted {mean['daily_r2_planted']:.3f})")
    print(f"identified {int(rows['identified'].sum())} of {int(rows['campaigns'].sum())} curves with planned budget "
          f"changes; {int(rows['flat_identified'].sum())} of {int(rows['flat_campaigns'].sum())} on the default flat spend")
    print("(regret: share of the oracle's planted steady-state conversions a day missed, same total and bounds; R²: "
          "the last 4 weeks held out, pooled over campaigns around each one's held-out mean)")
    checks = {
        f"regret <= {GOAL_REGRET:.0%}": mean["regret Cycle"] <= GOAL_REGRET,
        f"held-out weekly R² >= {GOAL_R2:g}": mean["weekly_r2"] >= GOAL_R2,
        "no curve identified on flat spend": int(rows["flat_identified"].sum()) == 0,
    }
    print("goal: " + "; ".join(f"{k} {'yes' if ok else 'NO'}" for k, ok in checks.items())
          + f" -> {'met' if all(checks.values()) else 'NOT met'}")
    return all(checks.values())


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--budget-seeds", type=int, default=5, help="budget: seeds (1..n)")
    ap.add_argument("--budget-days", type=int, default=140, help="budget: days per seed")
    ap.add_argument("--budget-bootstraps", type=int, default=50, help="budget: bootstrap refits per curve")


def run(args: argparse.Namespace) -> bool:
    return report(list(range(1, args.budget_seeds + 1)), args.budget_days, args.budget_bootstraps)


if __name__ == "__main__":  # the runner's options and summary, for this section only
    from benchmarks.ml import main

    raise SystemExit(main(["budget", *sys.argv[1:]]))
