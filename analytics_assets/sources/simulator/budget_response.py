"""Known response curves of the always-on campaigns, and planned budget changes that reveal them (opt-in:
``SimulatorConfig.budget_response``): something for budget optimization to recover and an oracle to score it by.

Without a plan a campaign's conversions follow its clicks (a fixed conversion rate): linear in spend, no
carryover, nothing to optimize but the cost per conversion. With a ``BudgetResponsePlan`` each campaign gets a
response curve of its own:

- carryover: the day's conversions respond to the adstock of spend, ``a_t = decay * a_(t-1) + (1 - decay) *
  spend_t`` (geometric, normalized: a steady spend ``x`` gives ``a = x``), ``decay`` drawn per campaign;
- saturation (Hill with shape 1): expected conversions ``ceiling * a / (a + half_saturation)``; the half-saturation
  is drawn as a multiple of the campaign's base daily budget, and the ceiling is set so that at its base spend the
  campaign converts ``conversion_rate`` (drawn) of its clicks;
- noise: each day's expectation moves by a lognormal factor (``noise``), then the count is Poisson; a day records
  no more conversions than clicks (a paused day's zero clicks: zero conversions, while its zero spend still
  decays the adstock);
- planned budgets: from ``start`` each campaign's daily budget steps to a new level every few days (a multiple of
  its base budget, log-uniform in ``step_range``) with some day-to-day variation on top, so that spend moves
  enough for the curve to be identified. Before ``start`` the budgets are the usual ones.

Every draw comes from this plan's stream (its own seed key), and without a plan no draw of the simulator is used
or moved: the demo, the digests and every truth test are unchanged. ``curves`` is the ground truth;
``expected_conversions`` the expectation of any spend plan, ``steady_state_conversions`` of a steady daily spend
and ``oracle_allocation`` the best split of a total daily spend under per-campaign bounds (exact: the curves are
concave). Kept free of the ML library on purpose: the oracle is an independent check of ``ml/budget.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

_STREAM = 103  # the budget-response stream: far from core's stream ids, the anomaly (101) and pattern (102) ones
_CURVE, _STEPS, _DAILY, _NOISE = 1, 2, 3, 4
# spend days before a day that its adstock sums (the weight of older ones, decay ** HISTORY_DAYS, is below 1e-4
# at the largest decay a plan may draw)
HISTORY_DAYS = 42
MAX_DECAY = 0.8
BASE_SPEND_SHARE = 0.9  # a campaign spends 0.8..1.0 of its daily budget (core._ad_day): 0.9 on average


@dataclass(frozen=True)
class BudgetResponsePlan:
    """The curves' ranges and the planned budget changes. ``start``: the first day of planned budgets."""

    start: date
    decay: tuple[float, float] = (0.1, 0.7)  # carryover per day
    half_saturation: tuple[float, float] = (0.3, 1.2)  # half-saturation spend, in base daily budgets
    conversion_rate: tuple[float, float] = (0.08, 0.25)  # conversions per click at the base budget
    step_days: tuple[int, int] = (7, 21)  # days between two planned budget changes of a campaign
    step_range: tuple[float, float] = (0.4, 2.2)  # a planned budget, in base budgets (log-uniform)
    daily_variation: float = 0.15  # sd of the log of a day's budget around its planned level
    noise: float = 0.05  # sd of the log of a day's expected conversions around the curve

    def __post_init__(self) -> None:
        for name in ("decay", "half_saturation", "conversion_rate", "step_days", "step_range"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name} must be a (low, high) range of non-negative numbers, got {(lo, hi)}")
        if self.decay[1] > MAX_DECAY:
            raise ValueError(f"decay must stay at or below {MAX_DECAY} (the adstock sums {HISTORY_DAYS} days), got {self.decay}")
        if self.half_saturation[0] <= 0 or self.step_range[0] <= 0 or self.step_days[0] < 1:
            raise ValueError("half_saturation, step_range and step_days must be positive")
        if self.conversion_rate[1] > 1:
            raise ValueError(f"conversion_rate is a share of clicks (0..1), got {self.conversion_rate}")
        if self.daily_variation < 0 or self.noise < 0:
            raise ValueError("daily_variation and noise are standard deviations (>= 0)")


def _rng(seed: int, part: int, campaign_id: str, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAM, part, *(int(b) for b in campaign_id.encode()), *key])


def _plan(config) -> BudgetResponsePlan | None:
    return getattr(config, "budget_response", None)


_CURVES: dict = {}  # per config: the campaigns (and so their curves) are fixed per config


def curves(config, campaigns: pd.DataFrame) -> pd.DataFrame:
    """The ground truth: each campaign's curve (platform, account_id, campaign_id, base_budget_usd, decay,
    half_saturation_usd, ceiling; spend in USD), given ``campaigns`` (``core.campaigns(config)``, its order)."""
    plan = _plan(config)
    if plan is None:
        raise ValueError("no budget response plan: the campaigns' conversions follow their clicks")
    if config not in _CURVES:
        if len(_CURVES) > 64:
            _CURVES.clear()
        _CURVES[config] = _draw_curves(config, plan, campaigns)
    return _CURVES[config].copy()


def _draw_curves(config, plan: BudgetResponsePlan, campaigns: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for c in campaigns.itertuples(index=False):
        rng = _rng(config.seed, _CURVE, str(c.campaign_id))
        decay, half, rate = (float(rng.uniform(*r)) for r in (plan.decay, plan.half_saturation, plan.conversion_rate))
        base_spend = c.daily_budget_usd * BASE_SPEND_SHARE
        half_saturation = half * c.daily_budget_usd
        at_base = rate * base_spend / c.cpm_usd * 1000 * c.ctr  # conversions a day at the base spend
        rows.append(
            {
                "platform": c.platform,
                "account_id": c.account_id,
                "campaign_id": str(c.campaign_id),
                "base_budget_usd": float(c.daily_budget_usd),
                "decay": decay,
                "half_saturation_usd": float(half_saturation),
                "ceiling": float(at_base * (base_spend + half_saturation) / base_spend),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------ the curves


def adstock(spend, decay: float, initial: float | None = None) -> np.ndarray:
    """Geometric carryover, normalized (a steady spend ``x`` gives ``x``): ``a_t = decay * a_(t-1) + (1 - decay) *
    spend_t``, from ``initial`` before the first day (default: the first day's spend, as if it had been steady)."""
    s = np.asarray(spend, dtype=float)
    out = np.empty_like(s)
    prev = float(s[0] if initial is None else initial) if len(s) else 0.0
    for t, x in enumerate(s):
        prev = decay * prev + (1 - decay) * x
        out[t] = prev
    return out


def response(adstocked, half_saturation: float, ceiling: float) -> np.ndarray:
    """Expected conversions a day at an adstock (Hill saturation, shape 1)."""
    a = np.asarray(adstocked, dtype=float)
    return ceiling * a / (a + half_saturation)


def expected_conversions(curve, spend, initial: float | None = None) -> np.ndarray:
    """A campaign's expected conversions on each day of a spend plan (USD a day), carryover included; ``curve``
    is one row of ``curves``. A paused day (no clicks) records none whatever this says."""
    return response(adstock(spend, curve.decay, initial), curve.half_saturation_usd, curve.ceiling)


def steady_state_conversions(curves_: pd.DataFrame, daily_spend) -> np.ndarray:
    """Expected conversions a day of each campaign of ``curves_`` at a steady daily spend (once the carryover has
    settled, the adstock equals the spend)."""
    x = np.asarray(daily_spend, dtype=float)
    return response(x, curves_["half_saturation_usd"].to_numpy(float), curves_["ceiling"].to_numpy(float))


def oracle_allocation(curves_: pd.DataFrame, total: float, lower, upper) -> np.ndarray:
    """The split of ``total`` daily spend over the campaigns of ``curves_`` that maximizes their steady-state
    conversions with each campaign's spend in ``lower..upper``: equal marginal returns (the derivative of
    ``C x / (x + K)`` is ``C K / (x + K)^2``), found by bisection on the common marginal return. Exact: the curves
    are concave."""
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    if not lo.sum() - 1e-6 <= total <= hi.sum() + 1e-6:
        raise ValueError(f"total {total:.2f} is outside the bounds' {lo.sum():.2f}..{hi.sum():.2f}")
    c, k = curves_["ceiling"].to_numpy(float), curves_["half_saturation_usd"].to_numpy(float)

    def spend_at(marginal: float) -> np.ndarray:
        return np.clip(np.sqrt(c * k / marginal) - k, lo, hi)

    a, b = 1e-12, float((c / k).max()) * 2  # marginal returns: above b every campaign sits at its lower bound
    for _ in range(200):
        mid = np.sqrt(a * b)
        if spend_at(mid).sum() > total:
            a = mid
        else:
            b = mid
    x = spend_at(np.sqrt(a * b))
    return x * (total / x.sum()) if x.sum() > 0 else x


# ------------------------------------------------------------------------------------------------ hooks


def budget_multiplier(config, day: date, campaign_id: str) -> float:
    """A campaign's planned budget on ``day``, in its usual budgets: 1.0 before the plan's start or without one."""
    plan = _plan(config)
    if plan is None or day < plan.start:
        return 1.0
    phase_rng = _rng(config.seed, _STEPS, campaign_id)
    period = int(phase_rng.integers(plan.step_days[0], plan.step_days[1] + 1))
    phase = int(phase_rng.integers(0, period))
    step = ((day - plan.start).days + phase) // period
    level = float(np.exp(_rng(config.seed, _STEPS, campaign_id, step).uniform(*np.log(plan.step_range))))
    daily = float(_rng(config.seed, _DAILY, campaign_id, day.toordinal()).normal(0.0, plan.daily_variation))
    return level * float(np.exp(daily))


def scale_budget(config, day: date, c: pd.DataFrame, budget_usd: pd.Series) -> pd.Series:
    """The day's daily budgets (``core._ad_day``) moved by the plan; ``budget_usd`` itself without one."""
    if _plan(config) is None:
        return budget_usd
    return budget_usd * np.array([budget_multiplier(config, day, str(cid)) for cid in c["campaign_id"]])


def planted_conversions(
    config,
    day: date,
    campaigns: pd.DataFrame,
    clicks: np.ndarray,
    conversions: np.ndarray,
    spend_of: Callable[[date], np.ndarray],
) -> np.ndarray:
    """The day's conversions of the ``campaigns`` (``core.campaigns(config)``, the order of the day's rows): drawn
    from their curves at the adstock of their spend (``spend_of(d)``: every campaign's spend in USD on day ``d``)
    with the plan, at most the day's ``clicks``; ``conversions`` itself without a plan."""
    plan = _plan(config)
    if plan is None:
        return conversions
    truth = curves(config, campaigns)
    history = np.array([spend_of(day - timedelta(days=k)) for k in range(HISTORY_DAYS, -1, -1)])  # oldest first
    rng = np.random.default_rng([config.seed, _STREAM, _NOISE, day.toordinal()])
    noise = rng.normal(0.0, plan.noise, len(truth))
    draws = rng.random(len(truth))  # one uniform per campaign, so one campaign's count moves no other's
    out = np.empty(len(truth))
    for i, curve in enumerate(truth.itertuples(index=False)):
        mu = expected_conversions(curve, history[:, i], initial=curve.base_budget_usd * BASE_SPEND_SHARE)[-1]
        mu *= float(np.exp(noise[i] - plan.noise**2 / 2))
        out[i] = min(float(_poisson_quantile(mu, draws[i])), float(clicks[i]))
    return out


def _poisson_quantile(mu: float, u: float) -> int:
    from scipy import stats

    return int(stats.poisson.ppf(u, mu)) if mu > 0 else 0
