"""Budget optimization: each campaign's response curve of conversions to spend, and the split of a total daily
budget that the curves say converts most.

The curve (``fit_curve``) has carryover and saturation, fitted per campaign from its daily spend and conversions:

- carryover: conversions respond to the adstock of spend, ``a_t = decay * a_(t-1) + (1 - decay) * spend_t``
  (normalized: a steady spend ``x`` gives ``a = x``, so the steady state needs no decay to read);
- saturation (Hill, shape 1): expected conversions ``ceiling * a / (a + half_saturation)``. Shape 1 keeps every
  curve concave, which makes the allocation exact (below) and is what a day-level series can support: a free
  shape parameter trades off against the half-saturation and is seldom identified from a few hundred days;
- the fit is least squares on the square-root scale (``sqrt(y) - sqrt(mu)``: Poisson counts have about constant
  variance there, so a campaign's big days do not outweigh its small ones), over a grid of decays then jointly;
- a paused day (no spend, no clicks) is no observation, but its zero spend still decays the adstock.

Uncertainty is a moving-block bootstrap over days (blocks of ``block_days``, refitting from the point estimate):
chosen over a Laplace approximation because the half-saturation's sampling distribution is strongly skewed and,
where spend never reached the saturation, runs to the parameter's bound; a normal approximation at the optimum
would report a tight symmetric interval exactly where the data say least. The bootstrap's spread of the
half-saturation is also what decides whether a curve is identified (``identification``). Intervals of an
outcome are of the realized daily conversions (the curve's bootstrap spread plus the day's own noise, Poisson
scaled by the fit's dispersion), at ``interval_level`` (90%).

A campaign is identified only with enough active days, spend that varied (90th over 10th percentile day), and a
saturation the data show (the bootstrap's 95th percentile of the half-saturation within a few times the spend of
its 90th percentile day). Otherwise it is reported with the reason and kept at its current budget: no curve is
invented for it.

The allocation (``allocate``) maximizes the steady-state conversions of the identified campaigns under a total and
per-campaign bounds: with concave curves the optimum equalizes the marginal returns ``C K / (x + K)^2`` across the
campaigns not at a bound (KKT), found by bisection on that common marginal return: exact, not a heuristic.

Plain library: numpy, pandas and scipy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, signal

METHOD = "adstock_hill_bootstrap"
EXPECTED_METRIC = "conversions_per_day"  # at steady state (the carryover settled), a realized day's count
_DECAY_GRID = np.round(np.arange(0.0, 0.86, 0.05), 2)


@dataclass(frozen=True)
class BudgetConfig:
    interval_level: float = 0.90
    min_active_days: int = 28  # active days of history a curve needs
    min_spend_ratio: float = 1.5  # the 90th percentile day's spend over the 10th's: at least this much variation
    # the bootstrap's 95th percentile of the half-saturation spend, over the 90th percentile day's spend, at most:
    # beyond it conversions rose about in proportion to spend over what was observed, and where they stop is unknown
    max_half_saturation_ratio: float = 4.0
    holdout_days: int = 28  # the last days (four weeks), held out to score the curve (R^2)
    bootstraps: int = 100
    block_days: int = 7
    warmup_days: int = 7  # first days whose adstock still depends on the unknown spend before the history
    max_decay: float = 0.9
    noise_draws: int = 20  # draws of the day's noise per bootstrap curve, for the realized-outcome intervals
    seed: int = 0


@dataclass
class CurveFit:
    """One campaign's curve: the point estimate, its bootstrap and whether it is identified (and why not)."""

    identified: bool
    reason: str  # why not identified ("" when it is)
    active_days: int
    spend_p10: float = float("nan")
    spend_p90: float = float("nan")
    decay: float = float("nan")
    half_saturation: float = float("nan")  # USD of spend a day
    ceiling: float = float("nan")  # conversions a day
    dispersion: float = 1.0  # variance over mean of the days' conversions around the curve (Poisson: 1)
    # the curve fitted without the last holdout_days, scored on those: R^2 of the active days' conversions and of
    # the held-out weeks' totals (the days' own Poisson noise bounds the first; budget decisions are weekly)
    holdout_r2: float = float("nan")
    holdout_weekly_r2: float = float("nan")
    holdout_days: int = 0  # active days in the holdout
    holdout_observed: np.ndarray = field(default_factory=lambda: np.empty(0))  # per held-out active day
    holdout_predicted: np.ndarray = field(default_factory=lambda: np.empty(0))
    holdout_week: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))  # 0.. from the holdout's start
    boot: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))  # bootstraps x (decay, half_saturation, ceiling)

    def conversions(self, spend) -> np.ndarray:
        """Expected conversions a day at a steady daily spend, under the point estimate."""
        return steady_state(spend, self.half_saturation, self.ceiling)


# ------------------------------------------------------------------------------------------------ the curve


def adstock(spend, decay: float, initial: float) -> np.ndarray:
    """Normalized geometric carryover of a daily spend series, from ``initial`` before its first day."""
    s = np.asarray(spend, dtype=float)
    if not len(s):
        return s
    out, _ = signal.lfilter([1 - decay], [1, -decay], s, zi=[decay * initial])
    return out


def steady_state(spend, half_saturation, ceiling) -> np.ndarray:
    """Expected conversions a day at a steady daily spend (adstock = spend)."""
    x = np.asarray(spend, dtype=float)
    return ceiling * x / (x + half_saturation)


def _mu(theta: np.ndarray, spend: np.ndarray, initial: float) -> np.ndarray:
    decay, log_k, log_c = theta
    return steady_state(adstock(spend, decay, initial), np.exp(log_k), np.exp(log_c))


def _least_squares(theta0, spend, y, weights, mask, initial, bounds, decay: float | None = None):
    """Fit (decay, log K, log C) on the days of ``mask`` (weighted), or (log K, log C) at a fixed ``decay``."""
    root_y, root_w = np.sqrt(y[mask]), np.sqrt(weights[mask])

    def residuals(free: np.ndarray) -> np.ndarray:
        theta = free if decay is None else np.concatenate([[decay], free])
        return root_w * (root_y - np.sqrt(_mu(theta, spend, initial)[mask]))

    lo, hi = bounds
    if decay is not None:
        lo, hi, theta0 = lo[1:], hi[1:], theta0[1:]
    fit = optimize.least_squares(residuals, np.clip(theta0, lo, hi), bounds=(lo, hi), method="trf", x_scale="jac")
    theta = fit.x if decay is None else np.concatenate([[decay], fit.x])
    return theta, float(np.sum(fit.fun**2))


def _bounds(spend: np.ndarray, y: np.ndarray, mask: np.ndarray, config: BudgetConfig) -> tuple[np.ndarray, np.ndarray]:
    active = spend[spend > 0]
    typical = float(np.median(active))
    top = max(float(y[mask].max()), 1.0)
    lo = np.array([0.0, np.log(typical * 0.01), np.log(top * 0.05)])
    # a half-saturation up to 100x the busiest day: a straight line over the observed range fits at that bound
    hi = np.array([config.max_decay, np.log(float(active.max()) * 100), np.log(top * 1000)])
    return lo, hi


def _fit(spend, y, mask, weights, initial, config: BudgetConfig) -> tuple[np.ndarray, float]:
    """The point estimate on the days of ``mask``: the best of a decay grid, then refined jointly."""
    bounds = _bounds(spend, y, mask, config)
    typical = float(np.median(spend[spend > 0]))
    start = np.array([0.0, np.log(typical), np.log(max(float(y[mask].mean()), 0.5) * 2)])
    best, best_loss = start, np.inf
    for decay in _DECAY_GRID[_DECAY_GRID <= config.max_decay]:
        theta, loss = _least_squares(start, spend, y, weights, mask, initial, bounds, decay=float(decay))
        if loss < best_loss:
            best, best_loss = theta, loss
    return _least_squares(best, spend, y, weights, mask, initial, bounds)


def r_squared(observed, predicted) -> float:
    """1 - SSE / SST (SST around the observed mean); NaN when the observed values do not vary."""
    y, p = np.asarray(observed, dtype=float), np.asarray(predicted, dtype=float)
    sst = float(np.sum((y - y.mean()) ** 2)) if len(y) else 0.0
    return 1 - float(np.sum((y - p) ** 2)) / sst if sst > 0 else float("nan")


def _block_weights(rng: np.random.Generator, n: int, block: int) -> np.ndarray:
    """How many times each of ``n`` days is drawn by a moving-block bootstrap with blocks of ``block`` days."""
    counts = np.zeros(n)
    starts = rng.integers(0, max(n - block + 1, 1), int(np.ceil(n / block)))
    for s in starts:
        counts[s : s + block] += 1
    return counts


def fit_curve(spend, conversions, config: BudgetConfig = BudgetConfig()) -> CurveFit:
    """A campaign's curve from its daily spend (USD) and conversions, one value a day, consecutive days (a day
    without delivery: spend 0). Reports, rather than fits, a campaign whose data cannot identify a curve."""
    spend = np.asarray(spend, dtype=float)
    y = np.asarray(conversions, dtype=float)
    if spend.shape != y.shape:
        raise ValueError(f"spend and conversions differ in length: {spend.shape} vs {y.shape}")
    if not (np.isfinite(spend).all() and np.isfinite(y).all()) or (spend < 0).any() or (y < 0).any():
        raise ValueError("spend and conversions must be finite and non-negative")
    active = spend > 0
    n_active = int(active.sum())
    if n_active < config.min_active_days:
        return CurveFit(False, f"only {n_active} days with spend (a curve needs {config.min_active_days})", n_active)
    p10, p90 = (float(v) for v in np.percentile(spend[active], [10, 90]))
    fit = CurveFit(False, "", n_active, spend_p10=p10, spend_p90=p90)
    if p90 < config.min_spend_ratio * p10:
        fit.reason = (
            f"spend barely varied: its 90th percentile day (${p90:,.0f}) is {p90 / p10:.2f}x its 10th "
            f"(${p10:,.0f}); at least {config.min_spend_ratio:g}x is needed to see how conversions respond"
        )
        return fit
    initial = float(spend[: config.warmup_days].mean())
    mask = active.copy()
    mask[: config.warmup_days] = False
    ones = np.ones(len(y))

    # held-out score: fitted without the last days, judged on them
    train = mask.copy()
    train[len(y) - config.holdout_days :] = False
    held = mask & ~train
    if train.sum() >= config.min_active_days // 2 and held.sum() >= 2:
        theta, _ = _fit(spend, y, train, ones, initial, config)
        fit.holdout_observed, fit.holdout_predicted = y[held], _mu(theta, spend, initial)[held]
        fit.holdout_week = (np.flatnonzero(held) - (len(y) - config.holdout_days)) // 7
        fit.holdout_days = int(held.sum())
        fit.holdout_r2 = r_squared(fit.holdout_observed, fit.holdout_predicted)
        weekly = pd.DataFrame({"w": fit.holdout_week, "y": fit.holdout_observed, "p": fit.holdout_predicted})
        weekly = weekly.groupby("w")[["y", "p"]].sum()
        fit.holdout_weekly_r2 = r_squared(weekly["y"].to_numpy(), weekly["p"].to_numpy()) if len(weekly) >= 3 else float("nan")

    theta, _ = _fit(spend, y, mask, ones, initial, config)
    fit.decay, fit.half_saturation, fit.ceiling = float(theta[0]), float(np.exp(theta[1])), float(np.exp(theta[2]))
    mu = _mu(theta, spend, initial)
    fit.dispersion = max(float(np.mean((y[mask] - mu[mask]) ** 2 / np.maximum(mu[mask], 0.5))), 1.0)

    rng = np.random.default_rng(config.seed)
    bounds = _bounds(spend, y, mask, config)
    boot = []
    for _ in range(config.bootstraps):
        weights = _block_weights(rng, len(y), config.block_days)
        if (weights[mask] > 0).sum() < 3:
            continue
        b, _ = _least_squares(theta, spend, y, weights, mask, initial, bounds)
        boot.append([b[0], np.exp(b[1]), np.exp(b[2])])
    fit.boot = np.array(boot).reshape(-1, 3)

    k95 = float(np.percentile(fit.boot[:, 1], 95)) if len(fit.boot) else np.inf
    if k95 > config.max_half_saturation_ratio * p90:
        fit.reason = (
            f"no saturation visible: conversions rose about in proportion to spend over the observed range "
            f"(${p10:,.0f}..${p90:,.0f} a day); where returns diminish is unknown (the half-saturation spend's "
            f"95th bootstrap percentile is {k95 / p90:.1f}x the 90th percentile day, at most "
            f"{config.max_half_saturation_ratio:g}x identifies it)"
        )
        return fit
    fit.identified = True
    return fit


# ------------------------------------------------------------------------------------------------ allocation


def allocate(half_saturation, ceiling, total: float, lower, upper) -> np.ndarray:
    """The split of ``total`` over campaigns with curves ``ceiling * x / (x + half_saturation)`` (x in the units
    of ``total``) that maximizes their summed conversions, each x within ``lower..upper``: equal marginal returns
    where no bound binds. A ValueError when the bounds cannot hold the total."""
    k, c = np.asarray(half_saturation, dtype=float), np.asarray(ceiling, dtype=float)
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    if (lo > hi + 1e-9).any() or (lo < 0).any():
        raise ValueError("every campaign needs 0 <= lower <= upper")
    if total < lo.sum() - 1e-6 or total > hi.sum() + 1e-6:
        raise ValueError(
            f"a total of {total:,.2f} cannot be split within the campaigns' bounds: their minimums sum to "
            f"{lo.sum():,.2f} and their maximums to {hi.sum():,.2f}"
        )
    if not len(k):
        return np.array([])

    def spend_at(marginal: float) -> np.ndarray:  # where each curve's marginal return C K / (x + K)^2 equals it
        return np.clip(np.sqrt(c * k / marginal) - k, lo, hi)

    a, b = 1e-15, float(np.max(c / k)) * 2 + 1e-12  # marginal returns: none is above C / K (at x = 0)
    for _ in range(200):
        mid = np.sqrt(a * b)
        if spend_at(mid).sum() > total:
            a = mid
        else:
            b = mid
    x = spend_at(np.sqrt(a * b))
    # the bisection leaves the sum within a hair of the total: the campaigns not at a bound absorb the rest
    free = (x > lo + 1e-9) & (x < hi - 1e-9)
    if free.any():
        x[free] += (total - x.sum()) / free.sum()
    return np.clip(x, lo, hi)


@dataclass(frozen=True)
class Allocation:
    """The budget plan: one row per campaign, and the totals of the allocated (identified) campaigns."""

    campaigns: pd.DataFrame
    totals: dict[str, float]


def realized_interval(rng: np.random.Generator, means: np.ndarray, dispersion, level: float, draws: int):
    """The ``level`` interval of a realized day's conversions (summed over the last axis): every bootstrap
    mean plus ``draws`` draws of the day's noise (normal, variance dispersion x mean)."""
    means = np.atleast_2d(means)  # bootstraps x campaigns
    noise = rng.standard_normal((means.shape[0], draws, means.shape[1])) * np.sqrt(np.asarray(dispersion) * means)[:, None, :]
    realized = np.clip(means[:, None, :] + noise, 0, None).sum(axis=2).ravel()
    q = (1 - level) / 2
    return float(np.quantile(realized, q)), float(np.quantile(realized, 1 - q))


def plan_budgets(
    campaigns: pd.DataFrame,
    fits: dict[str, CurveFit],
    total: float | None = None,
    min_share: float = 0.5,
    max_share: float = 2.0,
    config: BudgetConfig = BudgetConfig(),
) -> Allocation:
    """Split ``total`` daily budget (default: the current total) over ``campaigns`` (campaign_id,
    current_budget_usd, pacing: spend per budget dollar, is_active on the latest day) with their ``fits``.

    Identified, active campaigns are allocated within ``min_share..max_share`` of their current budget; the others
    keep theirs (their reason says why). Per campaign: the recommended budget and the expected conversions a day at
    it and at the current budget with 90% intervals; totals over the allocated campaigns, and the bootstrap
    probability that the plan beats the current budgets."""
    if not 0 <= min_share <= 1 <= max_share:
        raise ValueError(f"min_share must be in 0..1 and max_share at least 1, got {min_share} and {max_share}")
    frame = campaigns.reset_index(drop=True).copy()
    current = frame["current_budget_usd"].to_numpy(float)
    if (current < 0).any() or not np.isfinite(current).all():
        raise ValueError("current budgets must be finite and non-negative")
    active = frame["is_active"].to_numpy(bool)
    fitted = [fits.get(str(cid)) for cid in frame["campaign_id"]]
    allocated = np.array(
        [bool(a and f is not None and f.identified and cur > 0 and p > 0)
         for a, f, cur, p in zip(active, fitted, current, frame["pacing"].to_numpy(float))]
    )
    frame["reason"] = [
        "" if ok else ("paused on the latest day" if not a else "no spend history" if f is None else
                       f.reason or "no current budget")
        for ok, a, f in zip(allocated, active, fitted)
    ]
    total = float(current[active].sum()) if total is None else float(total)
    kept = float(current[active & ~allocated].sum())
    remaining = total - kept
    lower, upper = current[allocated] * min_share, current[allocated] * max_share
    if allocated.any() and not lower.sum() - 1e-6 <= remaining <= upper.sum() + 1e-6:
        raise ValueError(
            f"a total daily budget of ${total:,.2f} leaves ${remaining:,.2f} for the {int(allocated.sum())} campaigns "
            f"with a curve after the ${kept:,.2f} kept by the others, outside their {min_share:.0%}..{max_share:.0%} "
            f"of current budgets (${lower.sum():,.2f}..${upper.sum():,.2f})"
        )
    recommended = current.copy()
    idx = np.flatnonzero(allocated)
    pacing = frame["pacing"].to_numpy(float)
    # a curve of spend, read in budget dollars: spend = pacing x budget, so C p x / (p x + K) = C x / (x + K / p)
    k_budget = np.array([fitted[i].half_saturation / pacing[i] for i in idx])
    ceiling = np.array([fitted[i].ceiling for i in idx])
    if len(idx):
        recommended[idx] = np.round(allocate(k_budget, ceiling, remaining, lower, upper), 2)
    frame["recommended_budget_usd"] = recommended
    frame["allocated"] = allocated

    rng = np.random.default_rng(config.seed)
    cols = {f"{w}_{s}": np.full(len(frame), np.nan) for w in ("now", "new") for s in ("expected", "low", "high")}
    cols["confidence"] = np.full(len(frame), np.nan)
    n_boot = min((len(fitted[i].boot) for i in idx), default=0)
    boot_now, boot_new, disp = [], [], []
    for i in idx:
        f = fitted[i]
        spend_now, spend_new = current[i] * pacing[i], recommended[i] * pacing[i]
        b_now = steady_state(spend_now, f.boot[:n_boot, 1], f.boot[:n_boot, 2])
        b_new = steady_state(spend_new, f.boot[:n_boot, 1], f.boot[:n_boot, 2])
        boot_now.append(b_now)
        boot_new.append(b_new)
        disp.append(f.dispersion)
        for which, spend, b in (("now", spend_now, b_now), ("new", spend_new, b_new)):
            cols[f"{which}_expected"][i] = float(f.conversions(spend))
            lo, hi = realized_interval(rng, b[:, None], [f.dispersion], config.interval_level, config.noise_draws)
            cols[f"{which}_low"][i] = min(lo, cols[f"{which}_expected"][i])
            cols[f"{which}_high"][i] = max(hi, cols[f"{which}_expected"][i])
        cols["confidence"][i] = float(np.mean(b_new > b_now))
    for name, values in cols.items():
        frame[name] = values
    totals: dict[str, float] = {"total_budget_usd": total, "kept_budget_usd": kept, "allocated_budget_usd": remaining}
    if len(idx):
        now_b, new_b = np.column_stack(boot_now), np.column_stack(boot_new)
        for which, b in (("now", now_b), ("new", new_b)):
            expected = float(np.nansum(frame.loc[idx, f"{which}_expected"]))
            lo, hi = realized_interval(rng, b, disp, config.interval_level, config.noise_draws)
            totals |= {f"{which}_expected": expected, f"{which}_low": min(lo, expected), f"{which}_high": max(hi, expected)}
        totals["confidence"] = float(np.mean(new_b.sum(axis=1) > now_b.sum(axis=1)))
    return Allocation(frame, totals)
