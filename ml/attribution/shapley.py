"""Shapley-value attribution: a channel's credit is its average marginal contribution to a
cooperative game over the channels. Two games are offered.

``game="incremental"`` (the default): the value of a coalition S is the number of conversions the
observed journeys would have produced had each of them met only the channels of S among its own:
``v(S) = sum over journeys j of p(J_j & S)``, with ``J_j`` the set of distinct channels journey j met
and ``p(T)`` the probability that a journey meeting exactly the channels T converts. ``p`` is estimated
from converting and non-converting journeys alike by a logistic regression on which channels a journey
met (main effects, an intercept for the baseline, an L2 penalty ``ridge`` on the channel effects: a
N(0, 1/ridge) prior on each log-odds effect, which keeps rare or always-converting channels finite).
Because ``v`` is a sum of per-journey games, the Shapley value is computed per distinct channel set:
exactly over the 2^m coalitions of a set of m <= ``max_exact_channels`` channels, and by
``n_permutations`` seeded random orderings beyond that. The efficiency axiom makes the credits add up to
the conversions above the baseline; they are scaled to the observed total (a channel whose presence
lowers the conversion probability gets negative credit; data where the channels add nothing overall
is an error). For value, each journey's game is weighted by the mean conversion value of its channel
set (the overall mean where that set never converted). This game credits what a channel adds to a
journey's chance to convert: the counterfactual of a world where touches raise the odds of converting
and a journey converts at its baseline odds without them (the simulator's "exposure" world, where it has
the smallest error of all models). It needs non-converting journeys. Where journeys end at their
conversion and every visit comes from a touch (the "funnel" world), meeting more channels goes with not
having converted yet, channels get negative credit and ``AttributionFitWarning`` is raised.

``game="path_subsets"`` (Zhao et al. 2018, the ``mta`` package's ``shapley``): ``v(S)`` is the
conversions of the paths whose channel set lies within S. It is a sum of unanimity games (one per
channel set T, worth its conversions to any coalition that contains T), so its exact Shapley value has a
closed form: every path's conversions and value are shared equally among its distinct channels. It
assumes a journey converts only with all of its channels present, so it credits presence on converting
paths, not incremental effect.
"""

from __future__ import annotations

import functools
import warnings
from math import factorial

import numpy as np

from ml.attribution.paths import PathData, PathDataError

SHAPLEY_GAMES = ("incremental", "path_subsets")
DEFAULT_MAX_EXACT_CHANNELS = 12  # 4,096 coalitions per channel set
DEFAULT_PERMUTATIONS = 2_000
DEFAULT_RIDGE = 1.0
# negative credit beyond this share of the positive credit means the presence model does not fit the paths
NEGATIVE_CREDIT_TOLERANCE = 0.05


class AttributionFitWarning(UserWarning):
    """A model's assumptions do not fit the paths it credited; its credits should not be trusted."""


def shapley_credits(
    data: PathData,
    game: str = "incremental",
    *,
    max_exact_channels: int = DEFAULT_MAX_EXACT_CHANNELS,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    ridge: float = DEFAULT_RIDGE,
) -> tuple[np.ndarray, np.ndarray]:
    """Conversions and value credited to each channel of ``data.channels``."""
    if game == "path_subsets":
        return _path_subset_credits(data)
    if game != "incremental":
        raise ValueError(f"unknown Shapley game {game!r}; choose from {', '.join(SHAPLEY_GAMES)}")
    sets, conv, null, value = channel_sets(data)
    if null.sum() <= 0:
        raise PathDataError(
            "the incremental Shapley game needs non-converting journeys (total_null); "
            "without them use the path_subsets game"
        )
    beta = fit_conversion_model(sets, conv, null, len(data.channels), ridge=ridge)
    overall = value.sum() / conv.sum() if conv.sum() > 0 else 0.0
    per_conversion = np.divide(value, conv, out=np.full(len(conv), overall), where=conv > 0)
    rng = np.random.default_rng(seed)
    k = len(data.channels)
    credit = np.zeros(k)
    credit_value = np.zeros(k)
    sizes = np.array([len(s) for s in sets])
    for m in np.unique(sizes):  # all sets of m channels at once
        rows = np.flatnonzero(sizes == m)
        members = np.stack([sets[r] for r in rows])
        if m <= max_exact_channels:
            chunk = max(1, 2**21 >> m)  # bounds the (sets x coalitions) matrix to ~16 MB
            phi = np.concatenate([_exact_shapley(beta, members[i : i + chunk]) for i in range(0, len(rows), chunk)])
        else:
            phi = np.stack([_sampled_shapley(beta, members[i], n_permutations, rng) for i in range(len(rows))])
        journeys = (conv[rows] + null[rows])[:, None]
        np.add.at(credit, members, journeys * phi)
        np.add.at(credit_value, members, journeys * per_conversion[rows][:, None] * phi)
    if credit.sum() <= 0 and data.total_conversions > 0:
        raise PathDataError(
            "no channel raises the estimated conversion probability, so there are no incremental "
            "conversions to share; use the path_subsets game"
        )
    negative = credit < 0
    if credit[negative].sum() < -NEGATIVE_CREDIT_TOLERANCE * credit[~negative].sum():
        names = ", ".join(c for c, n in zip(data.channels, negative) if n)
        warnings.warn(
            f"the incremental Shapley game gives {names} negative credit: journeys that met them convert less "
            "often. That is what journeys look like when they end at their conversion and every visit comes from "
            "a touch, which is the Markov removal effect's counterfactual, not this game's: compare with markov",
            AttributionFitWarning,
            stacklevel=2,
        )
    return _scaled(credit, data.total_conversions), _scaled(credit_value, data.total_value)


def channel_sets(data: PathData) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Journeys grouped by their set of distinct channels (indices into ``data.channels``):
    sets, conversions, nulls, value."""
    code = {c: i for i, c in enumerate(data.channels)}
    index: dict[tuple[int, ...], int] = {}
    ids = np.fromiter(
        (index.setdefault(tuple(sorted({code[c] for c in p})), len(index)) for p in data.paths),
        dtype=np.int64,
        count=len(data),
    )
    n = len(index)
    sets = [np.array(s, dtype=np.int64) for s in index]
    return (
        sets,
        np.bincount(ids, data.conversions, minlength=n),
        np.bincount(ids, data.nulls, minlength=n),
        np.bincount(ids, data.value, minlength=n),
    )


def fit_conversion_model(
    sets: list[np.ndarray], conv: np.ndarray, null: np.ndarray, n_channels: int, *, ridge: float = DEFAULT_RIDGE
) -> np.ndarray:
    """Logistic regression of conversion on channel presence by penalised Newton steps (deterministic):
    ``[intercept, effect of channel 0, ...]``."""
    x = np.zeros((len(sets), n_channels + 1))
    x[:, 0] = 1.0
    for row, members in enumerate(sets):
        x[row, 1 + members] = 1.0
    trials = conv + null
    penalty = np.full(n_channels + 1, float(ridge))
    penalty[0] = 0.0  # the baseline is not shrunk
    beta = np.zeros(n_channels + 1)
    total = trials.sum()
    if 0 < conv.sum() < total:
        beta[0] = np.log(conv.sum() / (total - conv.sum()))
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        grad = x.T @ (conv - trials * p) - penalty * beta
        hess = (x * (trials * p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(n_channels + 1)
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    if not np.all(np.isfinite(beta)):
        raise PathDataError("the conversion model did not converge (try a larger ridge penalty)")
    return beta


@functools.lru_cache(maxsize=32)
def _coalitions(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For m players: membership bits of every coalition (2^m x m), their sizes, and the Shapley
    weights |S|! (m - |S| - 1)! / m! by size."""
    masks = np.arange(1 << m)
    bits = ((masks[:, None] >> np.arange(m)) & 1).astype(float)
    weight = np.array([factorial(s) * factorial(m - s - 1) / factorial(m) for s in range(m)])
    return bits, bits.sum(axis=1).astype(np.int64), weight


def _exact_shapley(beta: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Exact Shapley values of the journey games p(T), T within each row of ``members`` (n x m)."""
    m = members.shape[1]
    bits, size, weight = _coalitions(m)
    p = 1.0 / (1.0 + np.exp(-(beta[0] + beta[1 + members] @ bits.T)))  # n x 2^m
    masks = np.arange(1 << m)
    phi = np.empty(members.shape)
    for i in range(m):
        without = masks[(masks >> i) & 1 == 0]
        phi[:, i] = (p[:, without | (1 << i)] - p[:, without]) @ weight[size[without]]
    return phi


def _sampled_shapley(
    beta: np.ndarray, members: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> np.ndarray:
    m = len(members)
    effects = beta[1 + members]
    order = np.argsort(rng.random((n_permutations, m)), axis=1)  # one random ordering per row
    logits = beta[0] + np.cumsum(effects[order], axis=1)
    p = 1.0 / (1.0 + np.exp(-logits))
    gains = np.diff(np.concatenate([np.full((n_permutations, 1), 1.0 / (1.0 + np.exp(-beta[0]))), p], axis=1), axis=1)
    phi = np.zeros(m)
    np.add.at(phi, order.ravel(), gains.ravel())
    return phi / n_permutations


def _path_subset_credits(data: PathData) -> tuple[np.ndarray, np.ndarray]:
    sets, conv, _, value = channel_sets(data)
    k = len(data.channels)
    credit = np.zeros(k)
    credit_value = np.zeros(k)
    for members, c, v in zip(sets, conv, value):
        credit[members] += c / len(members)
        credit_value[members] += v / len(members)
    return credit, credit_value


def _scaled(credit: np.ndarray, total: float) -> np.ndarray:
    s = credit.sum()
    return credit / s * total if s > 0 else np.zeros_like(credit)
