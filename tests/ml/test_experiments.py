"""A/B tests of boosts: the statistics agree with scipy and statsmodels on the simulator's experiments,
the planted effects are found, and the peeking guards hold the false-positive rate at alpha."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from ml.experiments import experiment_results_frame
from analytics_assets.sources.parsing.parsers import EXPERIMENT_OBSERVATION_MAPPING, parse_records
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import ground_truth as gt
from ml.experiments import (
    Design,
    decide,
    msprt,
    required_sample_size,
    run_test,
    two_proportion_ztest,
    welch_ttest,
)

START = date(2026, 1, 1)
DAYS = 56  # three to four experiments per factor run to their end in this window


@pytest.fixture(scope="module")
def observations() -> pd.DataFrame:
    """The simulator's experiment records, through the same parser the raw asset uses."""
    sim = PlatformSimulator(SimulatorConfig(seed=3))
    parsed = parse_records(sim.experiment_observations(START, START + timedelta(days=DAYS - 1)), EXPERIMENT_OBSERVATION_MAPPING)
    assert parsed.quarantine.empty
    return parsed.rows


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    sim = PlatformSimulator(SimulatorConfig(seed=3))
    return sim.experiments(START, START + timedelta(days=DAYS - 1))[["experiment_id", "true_effect"]]


def _arms(g: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    g = g.sort_values(["exposed_at", "unit_id"])
    return (
        g.loc[g["variant_role"] == "control", "value"].to_numpy(float),
        g.loc[g["variant_role"] == "treatment", "value"].to_numpy(float),
    )


def test_z_test_and_its_interval_match_statsmodels_on_simulated_binary_experiments(observations):
    binary = observations[observations["metric_kind"] == "binary"]
    assert binary["experiment_id"].nunique() >= 4
    for _, g in binary.groupby("experiment_id"):
        c, t = _arms(g)
        ours = two_proportion_ztest(int(c.sum()), len(c), int(t.sum()), len(t), alpha=0.05)
        z, p = proportions_ztest([t.sum(), c.sum()], [len(t), len(c)])
        low, high = confint_proportions_2indep(t.sum(), len(t), c.sum(), len(c), method="wald", compare="diff")
        assert ours.statistic == pytest.approx(z, rel=1e-10)
        assert ours.p_value == pytest.approx(p, rel=1e-10)
        assert (ours.ci_low, ours.ci_high) == pytest.approx((low, high), rel=1e-10)
        assert ours.effect == pytest.approx(t.mean() - c.mean())


def test_welch_test_and_its_interval_match_scipy_and_statsmodels_on_simulated_continuous_experiments(observations):
    continuous = observations[observations["metric_kind"] == "continuous"]
    assert continuous["experiment_id"].nunique() >= 4
    for _, g in continuous.groupby("experiment_id"):
        c, t = _arms(g)
        ours = welch_ttest(c, t, alpha=0.1)
        ref = stats.ttest_ind(t, c, equal_var=False)
        ci = ref.confidence_interval(confidence_level=0.9)
        assert ours.statistic == pytest.approx(ref.statistic, rel=1e-10)
        assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)
        assert ours.df == pytest.approx(ref.df, rel=1e-10)
        assert (ours.ci_low, ours.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
        sm_low, sm_high = CompareMeans(DescrStatsW(t), DescrStatsW(c)).tconfint_diff(alpha=0.1, usevar="unequal")
        assert (ours.ci_low, ours.ci_high) == pytest.approx((sm_low, sm_high), rel=1e-9)


@pytest.mark.parametrize("alpha,power", [(0.05, 0.8), (0.01, 0.9), (0.1, 0.5)])
def test_required_sample_size_matches_statsmodels_power(alpha, power):
    for d in gt.EXPERIMENT_DESIGNS:
        ours = required_sample_size(d.metric_kind, d.baseline_mean, d.mde, d.baseline_sd, alpha, power)
        if d.metric_kind == "binary":
            effect = proportion_effectsize(d.baseline_mean + d.mde, d.baseline_mean)
            ref = NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=1.0)
        else:
            ref = TTestIndPower().solve_power(effect_size=d.mde / d.baseline_sd, alpha=alpha, power=power, ratio=1.0)
        assert ours == int(np.ceil(ref - 1e-6)), (d.factor, ours, ref)
    with pytest.raises(ValueError):
        required_sample_size("binary", 0.95, 0.1)  # 1.05 is no rate
    with pytest.raises(ValueError):
        required_sample_size("continuous", 10, 1.0)  # no sd
    with pytest.raises(ValueError):
        run_test("binary", np.array([0, 1, 2]), np.array([0, 1]))


def test_planted_effects_are_found_and_nothing_is_called_before_its_planned_sample(observations, planted):
    results = experiment_results_frame(observations, "fixed_horizon").merge(planted, on="experiment_id")
    ended = results[results["status"] != "running"]
    assert len(ended) >= 8 and (ended["n_tested_per_arm"] == ended["required_n_per_arm"]).all()
    running = results[results["status"] == "running"]
    assert (np.minimum(running["n_control"], running["n_treatment"]) < running["required_n_per_arm"]).all()
    assert running["winner"].isna().all()
    winners = results[results["status"] == "winner"]
    assert len(winners) >= 2
    # a winner is always significant, and here always an experiment with a real (positive) planted effect
    assert (winners["p_value"] < winners["alpha"]).all() and (winners["true_effect"] > 0).all()
    assert (winners["winner"] == winners["treatment_variant"]).all()
    nulls = ended[ended["true_effect"] == 0]
    assert len(nulls) >= 3 and (nulls["status"] == "inconclusive").all()
    # every reported interval is the test's own: it excludes 0 exactly when the test is significant
    tested = results.dropna(subset=["p_value"])
    excludes_zero = (tested["ci_low"] > 0) | (tested["ci_high"] < 0)
    assert (excludes_zero == (tested["p_value"] < tested["alpha"])).all()
    sequential = experiment_results_frame(observations, "sequential").merge(planted, on="experiment_id")
    seq_winners = sequential[sequential["status"] == "winner"]
    assert len(seq_winners) >= 2 and (seq_winners["true_effect"] > 0).all()
    assert (seq_winners["always_valid_p_value"] < seq_winners["alpha"]).all()


def _null_experiments(n_sims: int, n_per_arm: int, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.random((n_sims, n_per_arm)) < rate).astype(float), (rng.random((n_sims, n_per_arm)) < rate).astype(float)


def test_peeking_inflates_false_positives_while_the_guards_hold_alpha():
    design = Design("binary", baseline_mean=0.10, mde=0.03, baseline_sd=0.3, alpha=0.05, power=0.8)
    n = design.required_n_per_arm
    n_sims, n_looks = 500, 10
    control, treatment = _null_experiments(n_sims, n, design.baseline_mean, seed=42)
    looks = [(n * k // n_looks, n * k // n_looks) for k in range(1, n_looks + 1)]
    # naive: a two-proportion z-test at every look, stopping at the first p < alpha
    naive = np.zeros(n_sims, dtype=bool)
    for m, _ in looks:
        xc, xt = control[:, :m].sum(axis=1), treatment[:, :m].sum(axis=1)
        pooled = (xc + xt) / (2 * m)
        z = (xt - xc) / m / np.sqrt(pooled * (1 - pooled) * 2 / m)
        naive |= 2 * stats.norm.sf(np.abs(z)) < design.alpha
    fixed = np.zeros(n_sims, dtype=bool)
    sequential = np.zeros(n_sims, dtype=bool)
    for i in range(n_sims):
        # the guard may be asked at every look (here, for a sample of the experiments) and only answers at
        # the planned sample, which every experiment reaches at its last look
        for m, _ in looks[:-1] if i < 50 else ():
            d = decide(control[i, :m], treatment[i, :m], design, rule="fixed_horizon")
            assert d.status == "running" and d.winner is None
        fixed[i] = decide(control[i], treatment[i], design, rule="fixed_horizon").status == "winner"
        sequential[i] = decide(control[i], treatment[i], design, rule="sequential", looks=looks).status == "winner"
    # 99.9% upper bound of the false-positive share of n_sims tests that hold alpha
    bound = stats.binom.ppf(0.999, n_sims, design.alpha) / n_sims
    assert naive.mean() > 2 * design.alpha  # about 0.19 with 10 looks
    assert fixed.mean() <= bound
    assert sequential.mean() <= bound


def test_a_guarded_call_ignores_data_after_the_horizon_and_the_sequential_test_stops_early():
    design = Design("continuous", baseline_mean=12.0, mde=1.0, baseline_sd=8.0)
    n = design.required_n_per_arm
    rng = np.random.default_rng(7)
    control, treatment = rng.normal(12, 8, 3 * n), rng.normal(14, 8, 3 * n)  # twice the MDE
    early = decide(control[: n // 2], treatment[: n // 2], design)
    assert early.status == "running" and early.winner is None and early.result.p_value < 0.05
    at_horizon = decide(control[:n], treatment[:n], design, names=("static_image", "short_video"))
    later = decide(control, treatment, design, names=("static_image", "short_video"))
    assert at_horizon.status == later.status == "winner" and later.winner == "short_video"
    assert later.result == at_horizon.result and later.result.n_control == n
    looks = [(k, k) for k in range(50, 3 * n, 50)]
    seq = decide(control, treatment, design, rule="sequential", looks=looks, names=("static_image", "short_video"))
    assert seq.status == "winner" and seq.winner == "short_video" and "look" in seq.reason
    flat = decide(control, control[::-1].copy(), design, rule="sequential", looks=looks, max_n_per_arm=2 * n)
    assert flat.status == "inconclusive" and flat.winner is None
    # lower is better (e.g. cost): the control wins when the treatment is higher
    cheaper = Design("continuous", baseline_mean=12.0, mde=1.0, baseline_sd=8.0, higher_is_better=False)
    assert decide(control[:n], treatment[:n], cheaper, names=("a", "b")).winner == "a"


def test_msprt_p_values_never_rise_and_confidence_sequences_only_narrow():
    rng = np.random.default_rng(3)
    c, t = rng.random(4000) < 0.1, rng.random(4000) < 0.12
    looks = [(k, k) for k in range(100, 4001, 100)]
    seq = msprt("binary", c.astype(float), t.astype(float), looks, tau=0.03)
    assert (np.diff(seq.p_value) <= 0).all() and (seq.p_value <= 1).all()
    assert (np.diff(seq.ci_low) >= 0).all() and (np.diff(seq.ci_high) <= 0).all()
    assert (seq.ci_low <= seq.effect).all() and (seq.effect <= seq.ci_high).all()
    with pytest.raises(ValueError):
        msprt("binary", c.astype(float), t.astype(float), [(200, 200), (100, 100)], tau=0.03)
