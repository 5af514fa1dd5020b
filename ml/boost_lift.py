"""Boost effectiveness: what a boost added to its post's organic engagement, what that cost and earned.

Counterfactual. A boosted post's organic counters after the flight starts would, without the boost, have
grown like those of comparable unboosted posts: same platform, published within
``publish_window_days``, and the nearest in pre-boost trajectory (engagements at the post's last
pre-boost snapshot, and their growth since its first snapshot, when it has two). Every post's
cumulative engagements are put on an hourly age grid (linear between snapshots, from 0 at
publication), so posts polled at different times are compared at the same ages. With the post's
pre-boost level ``E0`` at age ``a0`` and each comparable's growth ratio
``r = (E_c(a) + 1) / (E_c(a0) + 1)``, the counterfactual at age ``a`` is ``(E0 + 1) * mean(r) - 1``, the
mean taken over the ratios between the interval's ranks (below), so one viral comparable cannot drag it.

Lift and interval. The organic lift at the evaluation age (the post's latest snapshot, at most
``horizon_hours``) is observed minus counterfactual. Its interval is a split-conformal prediction
interval: with ``k`` comparables the ratios of rank ``floor((k + 1) * alpha / 2)`` and
``ceil((k + 1) * (1 - alpha / 2))`` bound the post's own ratio, which, if the post is exchangeable with
its comparables, covers the truth with probability at least ``1 - alpha`` (with the default 39
comparables and 90%: ranks 2 and 38, exactly 90%). A boost is significant when the lower bound is
above 0 (a one-sided test of a positive lift at ``alpha / 2``).

Economics. A boost's incremental engagements are its paid engagements (none would exist without it)
plus the organic lift. ``cost_per_incremental_engagement = spend / incremental`` (null unless positive);
``roi = (incremental * value_per_engagement - spend) / spend`` with ``value_per_engagement_usd`` an
assumption the user sets (default 3 USD, about what a LinkedIn engagement costs to buy).

Effectiveness score (0-100): ``100 * x / (1 + x)`` with
``x = max(0, (paid + organic_lift_low) * value_per_engagement / spend)``, the return on spend under the
pessimistic end of the interval. 0: no value even in paid engagements; 50: breaks even in the
pessimistic case; 75: returns three times its spend; uncertainty about the lift lowers the score.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

ESTIMATED = "estimated"
NO_PRE_BOOST_HISTORY = "no_pre_boost_history"  # first snapshot after the flight started
NO_FLIGHT_DATA = "no_flight_data"  # no snapshot since the flight started
TOO_FEW_COMPARABLES = "too_few_comparables"
# the boosted post is one Cycle does not track organically (a Facebook page post or Instagram media a Meta ad
# promotes): no snapshots, so no organic curve to estimate a lift from; the boost is listed with its paid side
ORGANIC_UNTRACKED = "organic_untracked"
UNTRACKED_REASON = (
    "the boosted post is on a platform Cycle does not track organically (facebook, instagram): no organic "
    "snapshots to build its counterfactual from, so only its paid side is reported"
)

_HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class LiftConfig:
    n_comparables: int = 39
    min_comparables: int = 19  # fewer cannot bound a 90% interval by ranks
    publish_window_days: float = 7.0
    confidence: float = 0.90
    horizon_hours: int = 168  # evaluate at most this long after publication (the tracked life of a post)
    value_per_engagement_usd: float = 3.0

    def __post_init__(self) -> None:
        if not 0 < self.confidence < 1:
            raise ValueError("confidence must be in (0, 1)")
        conformal_ranks(self.min_comparables, self.confidence)  # raises when too few to bound the interval
        if self.n_comparables < self.min_comparables:
            raise ValueError("n_comparables must be at least min_comparables")


def effectiveness_score(value_low_usd: np.ndarray | float, spend_usd: np.ndarray | float) -> np.ndarray:
    """``100 * x / (1 + x)``, ``x = max(0, value_low / spend)``: see the module docstring."""
    value_low, spend = np.asarray(value_low_usd, dtype=float), np.asarray(spend_usd, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(spend > 0, np.maximum(value_low, 0.0) / spend, np.nan)
    return 100 * x / (1 + x)


def conformal_ranks(k: int, confidence: float) -> tuple[int, int]:
    """1-based ranks of ``k`` sorted comparables bounding a two-sided ``confidence`` interval."""
    alpha = 1 - confidence
    lo = int(math.floor((k + 1) * alpha / 2 + 1e-9))
    hi = int(math.ceil((k + 1) * (1 - alpha / 2) - 1e-9))
    if lo < 1 or hi > k:
        raise ValueError(f"{k} comparables cannot bound a {confidence:.0%} interval")
    return lo, hi


@dataclass
class Curves:
    """Cumulative engagements of each post on an hourly age grid (NaN after its latest snapshot)."""

    posts: pd.DataFrame  # platform, post_id, published_at, first_age, last_age (hours); row i = values[i]
    values: np.ndarray  # (posts, horizon + 1)


def engagement_curves(snapshots: pd.DataFrame, horizon_hours: int, max_first_poll_hours: float = 6.0) -> Curves:
    """Interpolate each post's snapshots (``engagements`` at ``snapshot_at``) onto ages 0..horizon.

    A post counts 0 engagements at publication; before its first snapshot the curve is only filled when
    that snapshot came within ``max_first_poll_hours`` (else the post was first seen late, e.g. published
    before the data starts, and its early trajectory is unknown: NaN)."""
    need = {"platform", "post_id", "published_at", "snapshot_at", "engagements"}
    missing = need - set(snapshots.columns)
    if missing:
        raise ValueError(f"snapshots lack columns {sorted(missing)}")
    s = snapshots[list(need)].dropna(subset=["platform", "post_id", "published_at", "snapshot_at", "engagements"]).copy()
    s["age"] = (pd.to_datetime(s["snapshot_at"]) - pd.to_datetime(s["published_at"])) / _HOUR
    s = s[s["age"] >= 0].sort_values(["platform", "post_id", "age"], kind="stable")
    # sorted, each post's points are one run: its first row has its publication and first age, its last the
    # last age (what a group-by would give, without hashing every id twice more)
    platforms, post_ids, age = s["platform"].to_numpy(), s["post_id"].to_numpy(), s["age"].to_numpy()
    first_row = np.ones(len(s), dtype=bool)
    first_row[1:] = (platforms[1:] != platforms[:-1]) | (post_ids[1:] != post_ids[:-1])
    starts = np.flatnonzero(first_row)
    ends = np.append(starts[1:], len(s))[: len(starts)] - 1
    posts = pd.DataFrame(
        {
            "platform": platforms[starts],
            "post_id": post_ids[starts],
            "published_at": s["published_at"].to_numpy()[starts],
            "first_age": age[starts],
            "last_age": age[ends],
        }
    )
    s["i"] = np.cumsum(first_row) - 1  # = row of `posts`
    # one sorted key per point: post index * span + age, with an anchor of 0 engagements at age 0
    span = float(max(horizon_hours, s["age"].max() if len(s) else 0) + 2)
    n = len(posts)
    keys = np.concatenate([np.arange(n) * span, s["i"].to_numpy() * span + s["age"].to_numpy()])
    vals = np.concatenate([np.zeros(n), s["engagements"].to_numpy(dtype=float)])
    ages = np.concatenate([np.zeros(n), s["age"].to_numpy(dtype=float)])
    order = np.argsort(keys, kind="stable")
    keys, vals, ages = keys[order], vals[order], ages[order]
    grid = np.arange(horizon_hours + 1, dtype=float)
    q = (np.arange(n)[:, None] * span + grid[None, :]).ravel()
    g = np.tile(grid, n)
    left = np.searchsorted(keys, q, side="right") - 1  # always the post's own point (its anchor at age 0 comes first)
    right = np.minimum(left + 1, len(keys) - 1)
    same_post = np.floor(keys[right] / span + 1e-9) == np.floor(q / span + 1e-9)
    exact = ages[left] == g
    # the weights from the post's own ages, not the keys: a post's curve is then the same to the last bit whatever
    # other posts were loaded with it (the keys' rounding grows with the post's index), so estimating the boosts
    # window by window gives exactly what one pass over every post gives
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(same_post & (ages[right] > ages[left]), (g - ages[left]) / (ages[right] - ages[left]), 0.0)
    out = vals[left] + w * (vals[right] - vals[left])
    out = np.where(same_post | exact, out, np.nan).reshape(n, horizon_hours + 1)
    first = posts["first_age"].to_numpy()
    unseen = (grid[None, :] < first[:, None]) & (first[:, None] > max_first_poll_hours)
    out[unseen] = np.nan
    return Curves(posts=posts, values=out)


def _flight_times(boosts: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    start = pd.to_datetime(boosts["start_date"])
    end = pd.to_datetime(boosts["end_date"]) + pd.Timedelta(days=1)  # flights run to the end of end_date
    return start, end


def estimate_boost_lift(
    snapshots: pd.DataFrame,
    boosts: pd.DataFrame,
    config: LiftConfig | None = None,
    other_boosted_post_ids: Iterable[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per boost: counterfactual, organic lift with its interval, cost, ROI and score; and per boost and
    snapshot age from the last pre-boost one: the observed and the counterfactual trajectory.

    ``snapshots``: platform, post_id, published_at, snapshot_at, engagements (cumulative) of every post,
    boosted or not. ``boosts``: boost_id, post_id, platform (of the post), start_date, end_date,
    spend_usd and paid_engagements (so far), and optionally account_id (the post's account), carried to
    the output as is (null without it). ``other_boosted_post_ids``: posts boosted by boosts not assessed
    here; like the boosted posts, they never serve as comparables.
    """
    rows, trajectory = _estimate_rows(snapshots, boosts, config or LiftConfig(), other_boosted_post_ids)
    return _effectiveness_frame(rows), pd.DataFrame(trajectory, columns=TRAJECTORY_COLUMNS)


def _estimate_rows(
    snapshots: pd.DataFrame, boosts: pd.DataFrame, config: LiftConfig, other_boosted_post_ids: Iterable[str]
) -> tuple[list[dict], list[dict]]:
    """``estimate_boost_lift``'s rows, in the boosts' order, before they become frames."""
    _check_boosts(boosts)
    curves = engagement_curves(snapshots, config.horizon_hours)
    ages_of = snapshot_ages(snapshots, set(boosts["post_id"]))
    return _rows_from_curves(curves, ages_of, boosts, config, set(other_boosted_post_ids))


def _check_boosts(boosts: pd.DataFrame) -> None:
    need = {"boost_id", "post_id", "platform", "start_date", "end_date", "spend_usd", "paid_engagements"}
    missing = need - set(boosts.columns)
    if missing:
        raise ValueError(f"boosts lack columns {sorted(missing)}")


def snapshot_ages(snapshots: pd.DataFrame, post_ids: set[str]) -> dict[tuple[str, str], np.ndarray]:
    """The sorted ages (hours) of every snapshot of ``post_ids``, by (platform, post_id)."""
    snaps = snapshots.loc[snapshots["post_id"].isin(post_ids), ["platform", "post_id", "published_at", "snapshot_at"]]
    snaps = snaps.copy()
    snaps["age"] = (pd.to_datetime(snaps["snapshot_at"]) - pd.to_datetime(snaps["published_at"])) / _HOUR
    return {key: np.sort(g.to_numpy()) for key, g in snaps.groupby(["platform", "post_id"])["age"]}


def _rows_from_curves(
    curves: Curves,
    ages_of: dict[tuple[str, str], np.ndarray],
    boosts: pd.DataFrame,
    config: LiftConfig,
    other_boosted_post_ids: set[str],
) -> tuple[list[dict], list[dict]]:
    """The rows of ``boosts`` from every post's curve (``curves``, in (platform, post_id) order: ties between
    comparables go to the first) and the boosted posts' snapshot ages."""
    posts = curves.posts
    values = curves.values
    boosted_ids = set(boosts["post_id"]) | other_boosted_post_ids
    published = pd.to_datetime(posts["published_at"]).to_numpy()
    row_of = dict(zip(zip(posts["platform"], posts["post_id"]), range(len(posts))))
    pools = _ComparablePools(posts, values, published, ~posts["post_id"].isin(boosted_ids).to_numpy())

    flight_start, flight_end = _flight_times(boosts)
    lo_rank, hi_rank = conformal_ranks(config.n_comparables, config.confidence)
    window = np.timedelta64(int(config.publish_window_days * 86400), "s")
    rows, trajectory = [], []
    accounts = boosts["account_id"] if "account_id" in boosts.columns else pd.Series(None, boosts.index, object)
    for b, account_id, start_at, end_at in zip(boosts.itertuples(index=False), accounts, flight_start, flight_end):
        key = (b.platform, b.post_id)
        base = {
            "boost_id": b.boost_id,
            "post_id": b.post_id,
            "platform": b.platform,
            "account_id": account_id,
            "flight_start_at": start_at,
            "flight_end_at": end_at,
            "spend_usd": float(b.spend_usd),
            "paid_engagements": float(b.paid_engagements),
        }
        i = row_of.get(key)
        if i is None:
            rows.append({**base, "status": NO_PRE_BOOST_HISTORY})
            continue
        pub = pd.Timestamp(published[i])
        base["published_at"] = pub
        start_age = (start_at - pub) / _HOUR
        end_age = (end_at - pub) / _HOUR
        ages = ages_of[key]
        pre = ages[ages < start_age]
        if len(pre) == 0:
            rows.append({**base, "status": NO_PRE_BOOST_HISTORY})
            continue
        a0, a_first = int(math.floor(pre[-1])), int(math.floor(pre[0]))
        a1 = int(min(math.floor(ages[-1]), config.horizon_hours))
        base.update(pre_boost_age_hours=a0, evaluation_age_hours=a1, flight_complete=bool(ages[-1] >= end_age))
        if ages[-1] < start_age or a1 <= a0:
            rows.append({**base, "status": NO_FLIGHT_DATA})
            continue
        e0, e1 = values[i, a0], values[i, a1]
        cand, log_a0, log_first = pools.candidates(b.platform, published[i], window, a0, a1, a_first)
        if len(cand) < config.min_comparables:
            rows.append({**base, "status": TOO_FEW_COMPARABLES, "n_comparables": int(len(cand))})
            continue
        # nearest in pre-boost trajectory: level at a0 and, with two pre-boost snapshots, growth since the first
        feats = [log_a0 - math.log1p(e0)]
        if a_first < a0:
            growth = log_a0 - log_first
            feats.append(growth - (math.log1p(e0) - math.log1p(values[i, a_first])))
        dist = np.zeros(len(cand))
        for f in feats:
            scale = np.std(f) or 1.0
            dist += (f / scale) ** 2
        k = min(config.n_comparables, len(cand))
        nearest = cand[_nearest(dist, cand, k)]
        lo, hi = conformal_ranks(k, config.confidence) if k != config.n_comparables else (lo_rank, hi_rank)
        ratios = (values[nearest][:, a0 : a1 + 1] + 1) / (values[nearest, a0][:, None] + 1)
        ordered = np.sort(ratios, axis=0)
        # point: the mean ratio of the comparables within the interval's ranks (robust to a viral outlier)
        cf = (e0 + 1) * ordered[lo - 1 : hi].mean(axis=0) - 1
        cf_low = (e0 + 1) * ordered[lo - 1] - 1
        cf_high = (e0 + 1) * ordered[hi - 1] - 1
        lift = e1 - cf[-1]
        lift_low, lift_high = e1 - cf_high[-1], e1 - cf_low[-1]
        paid = float(b.paid_engagements)
        spend = float(b.spend_usd)
        incremental = paid + lift
        value = config.value_per_engagement_usd
        rows.append(
            {
                **base,
                "status": ESTIMATED,
                "n_comparables": int(k),
                "pre_boost_engagements": float(e0),
                "observed_engagements": float(e1),
                "counterfactual_engagements": float(cf[-1]),
                "counterfactual_low": float(cf_low[-1]),
                "counterfactual_high": float(cf_high[-1]),
                "organic_lift": float(lift),
                "organic_lift_low": float(lift_low),
                "organic_lift_high": float(lift_high),
                "relative_lift": float(lift / cf[-1]) if cf[-1] > 0 else None,
                "significant": bool(lift_low > 0),
                "incremental_engagements": float(incremental),
                "incremental_engagements_low": float(paid + lift_low),
                "incremental_engagements_high": float(paid + lift_high),
                "cost_per_incremental_engagement_usd": spend / incremental if incremental > 0 else None,
                "incremental_value_usd": incremental * value,
                "roi": (incremental * value - spend) / spend if spend > 0 else None,
                "effectiveness_score": float(effectiveness_score((paid + lift_low) * value, spend)) if spend > 0 else None,
            }
        )
        # the trajectory at the post's own snapshot ages from the last pre-boost one
        own = np.unique(np.floor(ages[(ages >= pre[-1]) & (ages <= config.horizon_hours)]).astype(int))
        for a in own[(own >= a0) & (own <= a1)]:
            j = a - a0
            trajectory.append(
                {
                    "boost_id": b.boost_id,
                    "post_id": b.post_id,
                    "age_hours": int(a),
                    "in_flight": bool(start_age <= a < end_age),
                    "observed_engagements": float(values[i, a]),
                    "counterfactual_engagements": float(cf[j]),
                    "counterfactual_low": float(cf_low[j]),
                    "counterfactual_high": float(cf_high[j]),
                }
            )
    return rows, trajectory


class _ComparablePools:
    """Where each boost finds its comparables fast. A boost's pool is the unboosted posts of its platform published
    within the window of its post, with a curve at its three ages; here the posts are ordered by platform, then
    publication, then their row (the (platform, post_id) order of ``posts``), so a window is one contiguous run, and
    the curves are held by age (one contiguous row per age, as log1p, which is all the distance reads). A pool then
    costs its own posts, not every post held, and its candidates come in the same order whatever else is loaded
    (a chunk's or one pass's posts), so the estimates do not depend on it."""

    def __init__(self, posts: pd.DataFrame, values: np.ndarray, published: np.ndarray, unboosted: np.ndarray):
        platform = posts["platform"].to_numpy()
        codes, names = pd.factorize(platform, sort=True)
        self.order = np.lexsort((np.arange(len(posts)), published, codes))
        self.published = published[self.order]
        self.unboosted = unboosted[self.order]
        self.log_by_age = values.T[:, self.order]  # (ages, posts), a copy; NaN where the curve has no value
        np.log1p(self.log_by_age, out=self.log_by_age)
        sorted_codes = codes[self.order]
        self.platform_runs = {
            name: (int(np.searchsorted(sorted_codes, c, "left")), int(np.searchsorted(sorted_codes, c, "right")))
            for c, name in enumerate(names)
        }

    def candidates(
        self, platform: str, published_at: np.datetime64, window: np.timedelta64, a0: int, a1: int, a_first: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pool's rows of ``posts`` (ascending publication), with log1p of their curves at ``a0`` and
        ``a_first``."""
        start, end = self.platform_runs.get(platform, (0, 0))
        times = self.published[start:end]
        lo = start + int(np.searchsorted(times, published_at - window, "left"))
        hi = start + int(np.searchsorted(times, published_at + window, "right"))
        at_a0, at_first = self.log_by_age[a0, lo:hi], self.log_by_age[a_first, lo:hi]
        ok = self.unboosted[lo:hi] & ~np.isnan(self.log_by_age[a1, lo:hi]) & ~np.isnan(at_a0) & ~np.isnan(at_first)
        return self.order[lo:hi][ok], at_a0[ok], at_first[ok]


def _nearest(dist: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest distances, ties going to the lowest row (the first post in (platform,
    post_id) order): the set a stable sort of the distances in row order takes, found by a partition (linear)
    rather than sorting every candidate. Only the set matters: the comparables' ratios are sorted afterwards."""
    if k >= len(dist):
        return np.arange(len(dist))
    threshold = dist[np.argpartition(dist, k - 1)[k - 1]]
    if np.isnan(threshold):  # fewer than k real distances: NaN last, as a sort puts them
        return np.lexsort((rows, dist))[:k]
    below = np.flatnonzero(dist < threshold)
    tied = np.flatnonzero(dist == threshold)
    return np.concatenate([below, tied[np.argsort(rows[tied], kind="stable")][: k - len(below)]])


def untracked_boost_rows(boosts: pd.DataFrame) -> pd.DataFrame:
    """Effectiveness rows of boosts whose post Cycle does not track (``ORGANIC_UNTRACKED``): the flight, spend and
    paid engagements, and null for everything organic (lift, counterfactual, incremental engagements, ROI, score).
    Null, not 0: a lift of 0 would claim the boost added nothing organically, which nobody measured. They never
    enter the estimate (not even as comparables: their posts have no snapshots). ``boosts``: as for
    ``estimate_boost_lift``, with ``platform`` and ``account_id`` the owner the row is served under."""
    _check_boosts(boosts)
    start, end = _flight_times(boosts)
    rows = [
        {
            "boost_id": b.boost_id,
            "post_id": b.post_id,
            "platform": b.platform,
            "account_id": getattr(b, "account_id", None),
            "flight_start_at": start_at,
            "flight_end_at": end_at,
            "status": ORGANIC_UNTRACKED,
            "spend_usd": float(b.spend_usd),
            "paid_engagements": float(b.paid_engagements),
        }
        for b, start_at, end_at in zip(boosts.itertuples(index=False), start, end)
    ]
    return _effectiveness_frame(rows)


def _effectiveness_frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=EFFECTIVENESS_COLUMNS)
    for col in ("flight_complete", "significant"):
        out[col] = out[col].astype("boolean")
    for col in ("pre_boost_age_hours", "evaluation_age_hours", "n_comparables"):
        out[col] = out[col].astype("Int64")
    return out


SnapshotLoader = Callable[[list[str], pd.Timestamp, pd.Timestamp], pd.DataFrame]


@dataclass
class _Slab:
    """The posts published on some whole days, as curves, with the boosted ones' snapshot ages."""

    end: pd.Timestamp  # publications before this (exclusive) are in this slab or an earlier one
    curves: Curves
    ages_of: dict[tuple[str, str], np.ndarray]


def estimate_boost_lift_by_window(
    boosts: pd.DataFrame,
    load_snapshots: SnapshotLoader,
    config: LiftConfig | None = None,
    chunk_days: float = 7.0,
    other_boosted_post_ids: Iterable[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``estimate_boost_lift`` over any history in bounded memory, with the same results to the last bit.

    A boost's estimate reads only its own post and the posts of its platform published within
    ``publish_window_days`` of it (its comparables). The boosts go in chunks of ``chunk_days`` by their post's
    publication (``boosts["published_at"]``; null for a post never polled). The posts come in slabs of one UTC
    day, ``load_snapshots(platforms, start, end)`` giving every snapshot of the posts of ``platforms`` published
    in ``[start, end)``: each slab is read once, turned into curves (a post's curve is its own, whatever else is
    loaded) and kept only while a chunk's window reaches it. Memory follows ``chunk_days`` plus twice the window
    of posts, as curves, and one day's snapshots, never the history. Every boost's post stays out of every chunk's
    comparables, and so does every post of ``other_boosted_post_ids`` (as in ``estimate_boost_lift``): estimating
    some of the boosts, pass the posts of the others, and each gets the estimate it gets among all.
    """
    config = config or LiftConfig()
    if not chunk_days > 0:
        raise ValueError("chunk_days must be positive")
    if "published_at" not in boosts.columns:
        raise ValueError("boosts lack the column published_at (their post's publication)")
    if boosts["boost_id"].duplicated().any():
        raise ValueError("boosts repeat a boost_id")
    _check_boosts(boosts)
    b = boosts.reset_index(drop=True)
    published = pd.to_datetime(b["published_at"])
    all_boosted = set(b["post_id"])
    not_comparable = all_boosted | set(other_boosted_post_ids)
    platforms = sorted(set(b["platform"]))
    window = pd.Timedelta(seconds=int(config.publish_window_days * 86400))
    span = pd.Timedelta(seconds=int(chunk_days * 86400))
    day = pd.Timedelta(days=1)
    known = published.notna().to_numpy()
    order = np.flatnonzero(known)[np.argsort(published[known].to_numpy(), kind="stable")]
    times = published.iloc[order].to_numpy()  # ascending
    rows: list[tuple[int, dict]] = []
    trajectories: list[pd.DataFrame] = []
    held: list[_Slab] = []
    start = 0
    while start < len(order):
        first = pd.Timestamp(times[start])
        end = max(int(np.searchsorted(times, (first + span).to_datetime64(), side="left")), start + 1)
        idx = np.sort(order[start:end])
        need_from = (first - window).floor("D")
        need_to = (pd.Timestamp(times[end - 1]) + window).floor("D") + day
        held = [slab for slab in held if slab.end > need_from]  # what no later chunk reaches goes
        loaded_to = max(held[-1].end, need_from) if held else need_from
        while loaded_to < need_to:
            # a day at a time: the snapshots (tens of rows a post) and the curve building's temporaries follow one
            # day's posts, whatever the window; only the curves are held
            snapshots = load_snapshots(platforms, loaded_to, loaded_to + day)
            curves = engagement_curves(snapshots, config.horizon_hours)
            loaded_to += day
            held.append(_Slab(loaded_to, curves, snapshot_ages(snapshots, all_boosted)))
            del snapshots, curves
        chunk_rows, chunk_trajectory = _rows_from_curves(
            _combined(held), {k: v for slab in held for k, v in slab.ages_of.items()}, b.iloc[idx], config, not_comparable
        )
        _collect(idx, chunk_rows, chunk_trajectory, b, rows, trajectories)
        start = end
    if (~known).any():  # posts never polled: no snapshot to read, and every one of them says so
        idx = np.flatnonzero(~known)
        empty = engagement_curves(
            pd.DataFrame(columns=["platform", "post_id", "published_at", "snapshot_at", "engagements"]), config.horizon_hours
        )
        chunk_rows, chunk_trajectory = _rows_from_curves(empty, {}, b.iloc[idx], config, not_comparable)
        _collect(idx, chunk_rows, chunk_trajectory, b, rows, trajectories)
    rows.sort(key=lambda r: r[0])
    if trajectories:
        trajectory = (
            pd.concat(trajectories, ignore_index=True)
            .sort_values("_position", kind="stable")
            .drop(columns="_position")
            .reset_index(drop=True)
        )
    else:
        trajectory = pd.DataFrame([], columns=TRAJECTORY_COLUMNS)
    return _effectiveness_frame([r for _, r in rows]), trajectory


def _combined(slabs: list[_Slab]) -> Curves:
    """The slabs' curves as one, in (platform, post_id) order as one pass over their snapshots would have them."""
    posts = pd.concat([s.curves.posts for s in slabs], ignore_index=True)
    values = np.concatenate([s.curves.values for s in slabs])
    order = posts.sort_values(["platform", "post_id"], kind="stable").index.to_numpy()
    return Curves(posts=posts.iloc[order].reset_index(drop=True), values=values[order])


def _collect(
    idx: np.ndarray, chunk_rows: list[dict], chunk_trajectory: list[dict], b: pd.DataFrame, rows: list, trajectories: list
) -> None:
    """A chunk's rows, with each boost's position in ``b``; its trajectory as a frame at once (as dicts, a long
    history's trajectory would outweigh the snapshots)."""
    rows.extend((int(i), r) for i, r in zip(idx, chunk_rows))
    if chunk_trajectory:
        frame = pd.DataFrame(chunk_trajectory, columns=TRAJECTORY_COLUMNS)
        position = dict(zip(b["boost_id"].iloc[idx], idx))
        trajectories.append(frame.assign(_position=frame["boost_id"].map(position)))


EFFECTIVENESS_COLUMNS = [
    "boost_id",
    "post_id",
    "platform",
    "account_id",  # the boosted post's account (the row's owner in the served snapshot)
    "published_at",
    "flight_start_at",
    "flight_end_at",
    "status",
    "flight_complete",
    "pre_boost_age_hours",
    "evaluation_age_hours",
    "n_comparables",
    "pre_boost_engagements",
    "observed_engagements",
    "counterfactual_engagements",
    "counterfactual_low",
    "counterfactual_high",
    "organic_lift",
    "organic_lift_low",
    "organic_lift_high",
    "relative_lift",
    "significant",
    "paid_engagements",
    "incremental_engagements",
    "incremental_engagements_low",
    "incremental_engagements_high",
    "spend_usd",
    "cost_per_incremental_engagement_usd",
    "incremental_value_usd",
    "roi",
    "effectiveness_score",
]
TRAJECTORY_COLUMNS = [
    "boost_id",
    "post_id",
    "age_hours",
    "in_flight",
    "observed_engagements",
    "counterfactual_engagements",
    "counterfactual_low",
    "counterfactual_high",
]
