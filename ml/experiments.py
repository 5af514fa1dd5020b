"""A/B tests of boosts (timing, budget, targeting, creative): the tests, their sample sizes and a
decision rule that cannot be gamed by peeking.

- ``two_proportion_ztest``: binary outcomes. The z statistic uses the pooled proportion (the null's
  variance, as ``statsmodels.stats.proportion.proportions_ztest``); the confidence interval of the
  difference uses the unpooled (Wald) standard error.
- ``welch_ttest``: continuous outcomes, unequal variances, Welch-Satterthwaite degrees of freedom
  (``scipy.stats.ttest_ind(equal_var=False)``), with the t interval of the difference.
- ``required_sample_size``: units per arm for a minimum detectable effect (absolute) at a significance
  level and power: Cohen's h with the normal power function for proportions
  (``statsmodels.stats.power.NormalIndPower``), Cohen's d with the noncentral t for means
  (``TTestIndPower``), both two-sided.
- Peeking: testing every day and stopping at the first p < alpha inflates false positives far beyond
  alpha. ``decide`` offers two guards. ``fixed_horizon`` refuses to call before each arm has the
  planned sample and then tests exactly the first planned units of each arm (later looks cannot move
  the verdict). ``sequential`` is the mixture sequential probability ratio test (mSPRT, Johari et al.
  2017, "Always valid inference"): its p-value is valid at every look, so it may stop as soon as it
  crosses alpha.
- Effects are ``treatment - control``; a winner is declared only when the rule's test is significant.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

MetricKind = Literal["binary", "continuous"]
Rule = Literal["fixed_horizon", "sequential"]


@dataclass(frozen=True)
class ComparisonResult:
    test: str  # two_proportion_z or welch_t
    n_control: int
    n_treatment: int
    control_mean: float
    treatment_mean: float
    effect: float  # treatment - control
    ci_low: float
    ci_high: float
    statistic: float
    p_value: float
    confidence: float
    df: float | None = None  # Welch's degrees of freedom

    @property
    def significant(self) -> bool:
        return self.p_value < 1 - self.confidence


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def two_proportion_ztest(
    successes_control: int, n_control: int, successes_treatment: int, n_treatment: int, alpha: float = 0.05
) -> ComparisonResult:
    """Two-sided z-test of p_treatment = p_control, with the (1 - alpha) Wald interval of the difference."""
    _check_alpha(alpha)
    if n_control <= 0 or n_treatment <= 0:
        raise ValueError("each arm needs at least one unit")
    if not (0 <= successes_control <= n_control and 0 <= successes_treatment <= n_treatment):
        raise ValueError("successes must lie between 0 and the arm's size")
    p_c, p_t = successes_control / n_control, successes_treatment / n_treatment
    pooled = (successes_control + successes_treatment) / (n_control + n_treatment)
    se_null = math.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_treatment))
    diff = p_t - p_c
    if se_null == 0:  # every unit the same outcome: no evidence of a difference
        z, p = 0.0, 1.0
    else:
        z = diff / se_null
        p = float(2 * stats.norm.sf(abs(z)))
    se = math.sqrt(p_c * (1 - p_c) / n_control + p_t * (1 - p_t) / n_treatment)
    half = float(stats.norm.isf(alpha / 2) * se)
    return ComparisonResult("two_proportion_z", n_control, n_treatment, p_c, p_t, diff, diff - half, diff + half, z, p, 1 - alpha)


def welch_ttest_from_stats(
    mean_control: float,
    var_control: float,
    n_control: int,
    mean_treatment: float,
    var_treatment: float,
    n_treatment: int,
    alpha: float = 0.05,
) -> ComparisonResult:
    """Welch's two-sided t-test from each arm's mean, sample variance (ddof=1) and size."""
    _check_alpha(alpha)
    if n_control < 2 or n_treatment < 2:
        raise ValueError("Welch's test needs at least two units per arm")
    v_c, v_t = var_control / n_control, var_treatment / n_treatment
    se = math.sqrt(v_c + v_t)
    diff = mean_treatment - mean_control
    if se == 0:
        return ComparisonResult("welch_t", n_control, n_treatment, mean_control, mean_treatment, diff, diff, diff, 0.0, 1.0, 1 - alpha, float(n_control + n_treatment - 2))
    df = (v_c + v_t) ** 2 / (v_c**2 / (n_control - 1) + v_t**2 / (n_treatment - 1))
    t = diff / se
    p = float(2 * stats.t.sf(abs(t), df))
    df = float(df)
    half = float(stats.t.isf(alpha / 2, df) * se)
    return ComparisonResult("welch_t", n_control, n_treatment, mean_control, mean_treatment, diff, diff - half, diff + half, t, p, 1 - alpha, df)


def welch_ttest(control: Sequence[float], treatment: Sequence[float], alpha: float = 0.05) -> ComparisonResult:
    c, t = np.asarray(control, dtype=float), np.asarray(treatment, dtype=float)
    if len(c) < 2 or len(t) < 2:
        raise ValueError("Welch's test needs at least two units per arm")
    return welch_ttest_from_stats(
        float(c.mean()), float(c.var(ddof=1)), len(c), float(t.mean()), float(t.var(ddof=1)), len(t), alpha
    )


def run_test(metric_kind: MetricKind, control: np.ndarray, treatment: np.ndarray, alpha: float = 0.05) -> ComparisonResult:
    """The test that fits the metric: z for 0/1 outcomes, Welch for continuous ones."""
    c, t = np.asarray(control, dtype=float), np.asarray(treatment, dtype=float)
    if metric_kind == "binary":
        if not (np.isin(c, (0.0, 1.0)).all() and np.isin(t, (0.0, 1.0)).all()):
            raise ValueError("binary outcomes must be 0 or 1")
        return two_proportion_ztest(int(c.sum()), len(c), int(t.sum()), len(t), alpha)
    if metric_kind == "continuous":
        return welch_ttest(c, t, alpha)
    raise ValueError(f"unknown metric kind {metric_kind!r}")


# ------------------------------------------------------------------------------------------ sample size


def _normal_power(effect: float, n_per_arm: float, alpha: float) -> float:
    crit = stats.norm.isf(alpha / 2)
    shift = abs(effect) * math.sqrt(n_per_arm / 2)
    return float(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift))


def _t_power(effect: float, n_per_arm: float, alpha: float) -> float:
    df = 2 * n_per_arm - 2
    crit = stats.t.isf(alpha / 2, df)
    nc = abs(effect) * math.sqrt(n_per_arm / 2)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def cohens_h(p_treatment: float, p_control: float) -> float:
    return 2 * math.asin(math.sqrt(p_treatment)) - 2 * math.asin(math.sqrt(p_control))


@functools.lru_cache(maxsize=256)  # a pure function of the design, asked at every look
def required_sample_size(
    metric_kind: MetricKind,
    baseline_mean: float,
    mde: float,
    baseline_sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Units per arm for a two-sided test to detect an absolute difference ``mde`` with ``power``."""
    _check_alpha(alpha)
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power}")
    if mde == 0:
        raise ValueError("the minimum detectable effect must not be 0")
    if metric_kind == "binary":
        if not 0 < baseline_mean < 1 or not 0 < baseline_mean + mde < 1:
            raise ValueError("baseline rate and baseline + mde must lie in (0, 1)")
        effect, power_fn, lo = cohens_h(baseline_mean + mde, baseline_mean), _normal_power, 1.0
    elif metric_kind == "continuous":
        if baseline_sd is None or baseline_sd <= 0:
            raise ValueError("a continuous metric needs a positive baseline_sd")
        effect, power_fn, lo = mde / baseline_sd, _t_power, 2.0
    else:
        raise ValueError(f"unknown metric kind {metric_kind!r}")
    hi = lo
    while power_fn(effect, hi, alpha) < power:
        hi *= 2
        if hi > 1e12:
            raise ValueError("the effect is too small to detect with any realistic sample")
    if hi == lo:
        return int(math.ceil(lo))
    n = optimize.brentq(lambda n: power_fn(effect, n, alpha) - power, lo, hi, xtol=1e-10)
    return int(math.ceil(n - 1e-9))


# ------------------------------------------------------------------------------------ always-valid mSPRT


@dataclass(frozen=True)
class SequentialResult:
    n_control: np.ndarray  # per look
    n_treatment: np.ndarray
    effect: np.ndarray
    p_value: np.ndarray  # always-valid: the running minimum of 1 / likelihood ratio, capped at 1
    ci_low: np.ndarray  # confidence sequence, valid simultaneously over every look
    ci_high: np.ndarray


def msprt(
    metric_kind: MetricKind,
    control: np.ndarray,
    treatment: np.ndarray,
    looks: Sequence[tuple[int, int]],
    tau: float,
    alpha: float = 0.05,
) -> SequentialResult:
    """Mixture SPRT of ``treatment - control = 0`` with a N(0, tau^2) mixture over the effect.

    At a look with estimate d and its variance s^2 (var_c / n_c + var_t / n_t, plugged in), the mixture
    likelihood ratio is sqrt(s^2 / (s^2 + tau^2)) * exp(tau^2 d^2 / (2 s^2 (s^2 + tau^2))); the p-value
    min(1, min over looks so far of 1 / ratio) is valid however often one looks. ``tau`` is best set near
    the effects one expects (the design's MDE). ``looks`` are cumulative (n_control, n_treatment) counts.
    """
    _check_alpha(alpha)
    if tau <= 0:
        raise ValueError("tau must be positive")
    c, t = np.asarray(control, dtype=float), np.asarray(treatment, dtype=float)
    nc = np.array([lk[0] for lk in looks], dtype=np.int64)
    nt = np.array([lk[1] for lk in looks], dtype=np.int64)
    if len(nc) == 0 or (nc < 2).any() or (nt < 2).any() or (nc > len(c)).any() or (nt > len(t)).any():
        raise ValueError("every look needs 2..len(arm) units per arm")
    if (np.diff(nc) < 0).any() or (np.diff(nt) < 0).any():
        raise ValueError("looks must be cumulative (non-decreasing counts)")
    sc, st = np.cumsum(c), np.cumsum(t)
    qc, qt = np.cumsum(c**2), np.cumsum(t**2)
    mean_c, mean_t = sc[nc - 1] / nc, st[nt - 1] / nt
    if metric_kind == "binary":
        # smoothed rates keep an early all-zero arm from claiming zero variance
        rc, rt = (sc[nc - 1] + 0.5) / (nc + 1), (st[nt - 1] + 0.5) / (nt + 1)
        var_c, var_t = rc * (1 - rc), rt * (1 - rt)
    else:
        var_c = np.maximum(qc[nc - 1] - nc * mean_c**2, 0) / (nc - 1)
        var_t = np.maximum(qt[nt - 1] - nt * mean_t**2, 0) / (nt - 1)
    d = mean_t - mean_c
    s2 = np.maximum(var_c / nc + var_t / nt, 1e-300)
    tau2 = tau**2
    log_lr = 0.5 * np.log(s2 / (s2 + tau2)) + tau2 * d**2 / (2 * s2 * (s2 + tau2))
    p = np.minimum(1.0, np.minimum.accumulate(np.exp(-log_lr)))
    half = np.sqrt(s2 * (s2 + tau2) / tau2 * (2 * math.log(1 / alpha) + np.log((s2 + tau2) / s2)))
    # a confidence sequence may be intersected over looks: it holds at all of them at once
    low, high = np.maximum.accumulate(d - half), np.minimum.accumulate(d + half)
    return SequentialResult(nc, nt, d, p, low, high)


# ---------------------------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Design:
    """What an experiment was planned for, before any data came in."""

    metric_kind: MetricKind
    baseline_mean: float
    mde: float  # absolute difference worth detecting
    baseline_sd: float | None = None
    alpha: float = 0.05
    power: float = 0.8
    higher_is_better: bool = True

    @property
    def required_n_per_arm(self) -> int:
        return required_sample_size(self.metric_kind, self.baseline_mean, self.mde, self.baseline_sd, self.alpha, self.power)


@dataclass(frozen=True)
class Decision:
    status: Literal["running", "inconclusive", "winner"]
    winner: str | None
    rule: Rule
    reason: str
    required_n_per_arm: int
    result: ComparisonResult  # the rule's test: at the planned sample (fixed horizon) or on all data so far
    always_valid_p_value: float
    always_valid_ci: tuple[float, float]


def decide(
    control: Sequence[float],
    treatment: Sequence[float],
    design: Design,
    rule: Rule = "fixed_horizon",
    looks: Sequence[tuple[int, int]] | None = None,
    max_n_per_arm: int | None = None,
    names: tuple[str, str] = ("control", "treatment"),
) -> Decision:
    """Call an experiment from each arm's outcomes in exposure order.

    ``fixed_horizon``: ``running`` until both arms hold ``design.required_n_per_arm`` units (the reported
    test is then only an interim look, and no winner is named whatever its p-value); afterwards the test
    on exactly the first planned units of each arm decides: ``winner`` when significant, else
    ``inconclusive``. ``sequential``: the mSPRT always-valid p-value over ``looks`` (default: one look at
    all data) decides as soon as it falls below alpha; ``inconclusive`` once both arms reach
    ``max_n_per_arm`` (default twice the fixed-horizon sample) without that, ``running`` before.
    """
    c, t = np.asarray(control, dtype=float), np.asarray(treatment, dtype=float)
    required = design.required_n_per_arm
    looks = list(looks) if looks else [(len(c), len(t))]
    tau = abs(design.mde)
    seq = msprt(design.metric_kind, c, t, looks, tau=tau, alpha=design.alpha)
    av_p, av_ci = float(seq.p_value[-1]), (float(seq.ci_low[-1]), float(seq.ci_high[-1]))

    def named_winner(effect: float) -> str:
        better_treatment = effect > 0 if design.higher_is_better else effect < 0
        return names[1] if better_treatment else names[0]

    if rule == "fixed_horizon":
        if min(len(c), len(t)) < required:
            result = run_test(design.metric_kind, c, t, design.alpha)
            reason = f"{min(len(c), len(t))} of {required} planned units per arm: no call before the horizon"
            return Decision("running", None, rule, reason, required, result, av_p, av_ci)
        result = run_test(design.metric_kind, c[:required], t[:required], design.alpha)
        if result.significant and result.effect != 0:
            reason = f"p = {result.p_value:.4g} < alpha = {design.alpha} at the planned {required} units per arm"
            return Decision("winner", named_winner(result.effect), rule, reason, required, result, av_p, av_ci)
        reason = f"p = {result.p_value:.4g} >= alpha = {design.alpha} at the planned {required} units per arm"
        return Decision("inconclusive", None, rule, reason, required, result, av_p, av_ci)
    if rule == "sequential":
        result = run_test(design.metric_kind, c, t, design.alpha)
        crossed = np.flatnonzero(seq.p_value < design.alpha)
        if len(crossed):
            k = int(crossed[0])
            reason = f"always-valid p < alpha = {design.alpha} at look {k + 1} ({seq.n_control[k]}/{seq.n_treatment[k]} units)"
            return Decision("winner", named_winner(float(seq.effect[k])), rule, reason, required, result, av_p, av_ci)
        cap = max_n_per_arm or 2 * required
        if min(len(c), len(t)) >= cap:
            reason = f"always-valid p = {av_p:.4g} >= alpha after {cap} units per arm"
            return Decision("inconclusive", None, rule, reason, required, result, av_p, av_ci)
        reason = f"always-valid p = {av_p:.4g}: keep collecting (up to {cap} units per arm)"
        return Decision("running", None, rule, reason, required, result, av_p, av_ci)
    raise ValueError(f"unknown decision rule {rule!r}")


# ------------------------------------------------------------------------------- experiments table

RESULT_COLUMNS = [
    "experiment_id",
    "experiment_name",
    "factor",
    "metric",
    "metric_kind",
    "control_variant",
    "treatment_variant",
    "start_date",
    "end_date",
    "decision_rule",
    "test",
    "alpha",
    "mde",
    "required_n_per_arm",
    "n_control",
    "n_treatment",
    "n_tested_per_arm",
    "control_mean",
    "treatment_mean",
    "effect",
    "ci_low",
    "ci_high",
    "p_value",
    "always_valid_p_value",
    "always_valid_ci_low",
    "always_valid_ci_high",
    "status",
    "winner",
    "reason",
]


def experiment_results_frame(observations: pd.DataFrame, rule: str) -> pd.DataFrame:
    """One row per experiment: the test, effect, interval, p-value, required sample and the call.

    ``observations``: the rows of stg_experiment_observations. Each day's close is a look of the
    sequential test; the fixed-horizon call uses the first planned units of each arm in exposure order.
    """
    rows = []
    obs = observations.sort_values(["experiment_id", "exposed_at", "unit_id"], kind="stable")
    for exp_id, g in obs.groupby("experiment_id", sort=True):
        first = g.iloc[0]
        design = Design(
            metric_kind=first["metric_kind"],
            baseline_mean=float(first["baseline_mean"]),
            mde=float(first["mde"]),
            baseline_sd=float(first["baseline_sd"]),
            alpha=float(first["alpha"]),
            power=float(first["power"]),
        )
        control, treatment = g[g["variant_role"] == "control"], g[g["variant_role"] == "treatment"]
        row = {
            "experiment_id": exp_id,
            "experiment_name": first["experiment_name"],
            "factor": first["factor"],
            "metric": first["metric"],
            "metric_kind": design.metric_kind,
            "control_variant": control["variant"].iloc[0] if len(control) else None,
            "treatment_variant": treatment["variant"].iloc[0] if len(treatment) else None,
            "start_date": first["start_date"],
            "end_date": first["end_date"],
            "decision_rule": rule,
            "test": "two_proportion_z" if design.metric_kind == "binary" else "welch_t",
            "alpha": design.alpha,
            "mde": design.mde,
            "required_n_per_arm": design.required_n_per_arm,
            "n_control": len(control),
            "n_treatment": len(treatment),
        }
        if min(len(control), len(treatment)) < 2:
            rows.append({**row, "status": "running", "reason": "fewer than 2 units in an arm"})
            continue
        days = sorted(set(pd.to_datetime(g["exposed_at"]).dt.date))
        c_days = pd.to_datetime(control["exposed_at"]).dt.date.to_numpy()
        t_days = pd.to_datetime(treatment["exposed_at"]).dt.date.to_numpy()
        looks = [(int((c_days <= d).sum()), int((t_days <= d).sum())) for d in days]
        looks = [lk for lk in looks if min(lk) >= 2]
        decision = decide(
            control["value"].to_numpy(float),
            treatment["value"].to_numpy(float),
            design,
            rule=rule,  # type: ignore[arg-type]
            looks=looks,
            names=(row["control_variant"], row["treatment_variant"]),
        )
        r = decision.result
        sequential = rule == "sequential"
        rows.append(
            {
                **row,
                "n_tested_per_arm": min(r.n_control, r.n_treatment),
                "control_mean": r.control_mean,
                "treatment_mean": r.treatment_mean,
                "effect": r.effect,
                "ci_low": decision.always_valid_ci[0] if sequential else r.ci_low,
                "ci_high": decision.always_valid_ci[1] if sequential else r.ci_high,
                "p_value": decision.always_valid_p_value if sequential else r.p_value,
                "always_valid_p_value": decision.always_valid_p_value,
                "always_valid_ci_low": decision.always_valid_ci[0],
                "always_valid_ci_high": decision.always_valid_ci[1],
                "status": decision.status,
                "winner": decision.winner,
                "reason": decision.reason,
            }
        )
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    for col in ("n_tested_per_arm",):
        frame[col] = frame[col].astype("Int64")
    return frame
