"""Markov-chain attribution with removal effects (Anderl et al. 2016; ChannelAttribution's model).

The chain. Every path becomes a walk ``(start) -> s1 -> ... -> sm -> (conversion) | (null)`` over
states of order ``k``: a state is a window of k consecutive channels (a path shorter than k is one
state holding all of it), and consecutive repeats of the same state are merged (a channel touched
twice in a row is one visit). Transition probabilities are the observed transition counts, each path
weighted by its journeys (conversions + nulls), normalised per state. This is ChannelAttribution's
construction, so the two agree up to its simulation noise.

Removal effect of channel c: the share of conversions lost when every state holding c sends its
journeys to ``(null)`` instead: ``RE_c = 1 - P(conversion | c removed) / P(conversion)``. A channel's
credit is ``RE_c / sum(RE)`` of the total conversions. For conversion value, each conversion is worth
the mean value per conversion of the observed paths that end in the same state, and the removal
effect is taken on expected value instead of probability.

What it estimates: conversions lost if the journeys that reach the channel ended there, which is the
channel's incremental effect where every visit comes from a touch (the simulator's "funnel" world: error
0.002 in credit share, every channel in its planted order). Where touches only raise the odds of a
journey that could convert without them (the "exposure" world), it also credits the baseline
conversions of every journey the channel appears in, so it ranks channels by presence as much as by
effect.

Computed exactly (``method="exact"``, the default): absorption probabilities come from solving the
absorbing chain's linear system ``(I - Q)^T v = e_start`` (expected visits per state), once for the
full chain and once per removed channel; no randomness, identical on every run. ``max_steps`` bounds
the walk like ChannelAttribution's simulation does (a walk that has not ended after that many states
counts as neither converted nor null); the default ``None`` is the unbounded chain.
``method="simulate"`` walks ``n_simulations`` seeded journeys through the chain instead and counts,
among the converted ones, those that visited each channel (the same quantity, with sampling noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ml.attribution.paths import PathData

DEFAULT_SIMULATIONS = 100_000


@dataclass(frozen=True)
class MarkovChain:
    order: int
    channels: tuple[str, ...]
    states: tuple[tuple[str, ...], ...]  # node i + 1 is states[i]; node 0 is (start)
    transient: sp.csr_matrix  # (S+1) x (S+1) probabilities among start and states
    to_conversion: np.ndarray  # (S+1,) probability of converting next
    to_null: np.ndarray  # (S+1,)
    value_per_conversion: np.ndarray  # (S+1,) mean value of a conversion from that state
    holds: np.ndarray  # (S+1, C) bool: node holds channel
    longest_walk: int  # states on the longest observed (merged) walk


@dataclass(frozen=True)
class MarkovResult:
    channels: tuple[str, ...]
    conversions: np.ndarray  # credited conversions per channel
    value: np.ndarray  # credited value per channel
    removal_effect: np.ndarray  # on conversions
    removal_effect_value: np.ndarray  # on value
    conversion_probability: float  # of a journey walked through the full chain
    order: int
    n_states: int
    method: str


def _walk(path: tuple[str, ...], order: int) -> list[tuple[str, ...]]:
    if len(path) <= order:
        windows = [path]
    else:
        windows = [path[j : j + order] for j in range(len(path) - order + 1)]
    merged = [windows[0]]
    for w in windows[1:]:
        if w != merged[-1]:
            merged.append(w)
    return merged


def build_chain(data: PathData, order: int = 1) -> MarkovChain:
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
        raise ValueError(f"Markov order must be an integer >= 1, got {order!r}")
    channels = data.channels
    code = {c: i for i, c in enumerate(channels)}
    state_id: dict[tuple[str, ...], int] = {}
    rows: list[int] = []
    cols: list[int] = []
    weights: list[float] = []
    ends: list[int] = []
    longest = 0
    for path, conv, null in zip(data.paths, data.conversions, data.nulls):
        journeys = conv + null
        walk = [state_id.setdefault(s, len(state_id) + 1) for s in _walk(path, order)]
        longest = max(longest, len(walk))
        ends.append(walk[-1])
        if journeys <= 0:
            continue
        prev = 0
        for node in walk:
            rows.append(prev)
            cols.append(node)
            weights.append(journeys)
            prev = node
    n = len(state_id) + 1
    counts = sp.csr_matrix((weights, (rows, cols)), shape=(n, n))
    counts.sum_duplicates()
    end = np.asarray(ends, dtype=np.int64)
    conv_out = np.bincount(end, data.conversions, minlength=n)
    null_out = np.bincount(end, data.nulls, minlength=n)
    value_out = np.bincount(end, data.value, minlength=n)
    total = np.asarray(counts.sum(axis=1)).ravel() + conv_out + null_out
    inv = np.divide(1.0, total, out=np.zeros(n), where=total > 0)
    transient = sp.diags(inv) @ counts
    holds = np.zeros((n, len(channels)), dtype=bool)
    states = tuple(state_id)
    for s, i in state_id.items():
        holds[i, [code[c] for c in s]] = True
    return MarkovChain(
        order=int(order),
        channels=channels,
        states=states,
        transient=sp.csr_matrix(transient),
        to_conversion=conv_out * inv,
        to_null=null_out * inv,
        value_per_conversion=np.divide(value_out, conv_out, out=np.zeros(n), where=conv_out > 0),
        holds=holds,
        longest_walk=longest,
    )


def _absorbed(chain: MarkovChain, keep: np.ndarray, max_steps: int | None) -> tuple[float, float]:
    """P(conversion) and expected conversion value of a walk from (start) through the ``keep`` nodes
    (the others send to null)."""
    q = chain.transient[keep][:, keep]
    conv = chain.to_conversion[keep]
    value = conv * chain.value_per_conversion[keep]
    start = np.zeros(q.shape[0])
    start[0] = 1.0  # node 0, (start), is always kept
    if max_steps is None:
        visits = spla.spsolve(sp.csc_matrix(sp.identity(q.shape[0]) - q).T, start)
        return float(visits @ conv), float(visits @ value)
    qt = q.T.tocsr()
    dist = qt @ start  # after the first state
    p = v = 0.0
    for _ in range(max_steps):
        p += float(dist @ conv)
        v += float(dist @ value)
        dist = qt @ dist
    return p, v


def _simulate(
    chain: MarkovChain, n: int, seed: int, max_steps: int | None
) -> tuple[float, np.ndarray, float, np.ndarray]:
    """Walk ``n`` journeys: (conversions, conversions that visited each channel, value, value of those)."""
    rng = np.random.default_rng(seed)
    s = chain.transient.shape[0]
    conv_node, null_node = s, s + 1
    full = sp.hstack(
        [chain.transient, sp.csr_matrix(chain.to_conversion[:, None]), sp.csr_matrix(chain.to_null[:, None])]
    ).tocsr()
    full.sort_indices()
    cum = np.empty_like(full.data)
    for r in range(s):  # cumulative probability within each row, offset by the row number
        a, b = full.indptr[r], full.indptr[r + 1]
        if b > a:
            c = np.cumsum(full.data[a:b])
            cum[a:b] = r + c / c[-1]
            cum[b - 1] = r + 1.0
    limit = max_steps if max_steps is not None else max(1000, 20 * chain.longest_walk)
    state = np.zeros(n, dtype=np.int64)
    visited = np.zeros((n, len(chain.channels)), dtype=bool)
    active = np.arange(n)
    converted = np.zeros(n, dtype=bool)
    last = np.zeros(n, dtype=np.int64)
    steps = 0
    while len(active) and steps <= limit:
        cur = state[active]
        pick = np.searchsorted(cum, cur + rng.random(len(active)), side="right")
        pick = np.minimum(pick, full.indptr[cur + 1] - 1)
        nxt = full.indices[pick]
        done_conv = nxt == conv_node
        converted[active[done_conv]] = True
        moving = ~done_conv & (nxt != null_node)
        active = active[moving]
        if steps == limit:
            break  # walks still going count as neither converted nor null
        state[active] = nxt[moving]
        last[active] = nxt[moving]
        visited[active] |= chain.holds[nxt[moving]]
        steps += 1
    value = np.where(converted, chain.value_per_conversion[last], 0.0)
    return (
        float(converted.sum()),
        visited[converted].sum(axis=0).astype(float),
        float(value.sum()),
        (visited * value[:, None]).sum(axis=0),
    )


def markov_attribution(
    data: PathData,
    order: int = 1,
    *,
    method: str = "exact",
    max_steps: int | None = None,
    n_simulations: int = DEFAULT_SIMULATIONS,
    seed: int = 0,
    chain: MarkovChain | None = None,
) -> MarkovResult:
    """Removal-effect credits of every channel of ``data.channels`` (see the module docstring)."""
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be >= 1 or None, got {max_steps}")
    chain = chain or build_chain(data, order)
    k = len(chain.channels)
    if method == "exact":
        p, v = _absorbed(chain, np.ones(chain.holds.shape[0], dtype=bool), max_steps)
        re = np.zeros(k)
        re_value = np.zeros(k)
        for c in range(k):
            p_c, v_c = _absorbed(chain, ~chain.holds[:, c], max_steps)
            re[c] = 1.0 - p_c / p if p > 0 else 0.0
            re_value[c] = 1.0 - v_c / v if v > 0 else 0.0
    elif method == "simulate":
        if n_simulations < 1:
            raise ValueError(f"n_simulations must be >= 1, got {n_simulations}")
        n_conv, conv_visits, total_value, value_visits = _simulate(chain, int(n_simulations), int(seed), max_steps)
        p, v = n_conv / n_simulations, total_value / n_simulations
        re = conv_visits / n_conv if n_conv else np.zeros(k)
        re_value = value_visits / total_value if total_value else np.zeros(k)
    else:
        raise ValueError(f"method must be 'exact' or 'simulate', got {method!r}")
    # rounding can leave -1e-16 where a channel never leads to a conversion
    re, re_value = np.clip(re, 0.0, 1.0), np.clip(re_value, 0.0, 1.0)
    return MarkovResult(
        channels=chain.channels,
        conversions=_share(re, data.total_conversions),
        value=_share(re_value, data.total_value),
        removal_effect=re,
        removal_effect_value=re_value,
        conversion_probability=float(p),
        order=chain.order,
        n_states=len(chain.states),
        method=method,
    )


def _share(effects: np.ndarray, total: float) -> np.ndarray:
    s = effects.sum()
    return effects / s * total if s > 0 else np.zeros_like(effects)
