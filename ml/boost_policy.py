"""The boost policy: which recent organic posts to boost, for how much and how long, and what that returns.

What a boost returns is learnt from the boosts already assessed (``ml.boost_lift``: paid engagements plus the
organic lift against the post's counterfactual). Each past boost ``i`` of a platform is one draw of how a
boost responds, in two parts:

* paid delivery per dollar, ``paid_i / spend_i`` (paid engagements scale with the budget);
* organic lift per organic engagement the post had when its boost started, ``lift_i / (E0_i + 1)`` (a boost
  multiplies a post's organic growth, so its lift scales with the post's own pull).

For a candidate post with ``E`` engagements so far and a budget ``B``, each past boost gives a projection
``B * paid_i / spend_i + (E + 1) * lift_i / (E0_i + 1)`` of its incremental engagements. With ``k`` past boosts
(those of the same media type when there are at least ``min_boosts``, since content that travels responds
more to boosting, else the platform's), the ranks of ``ml.boost_lift.conformal_ranks`` bound a
split-conformal ``interval_level`` prediction interval: if the candidate's boost is exchangeable with the past
ones, its realized incremental engagements fall inside with that probability. The expected value uses the
pooled rates instead (total paid engagements over total spend, total lift over total pre-boost engagements):
the lift per engagement of a boost whose post had few engagements when it started is noisy, and the mean of
those ratios ran 38% above the planted truth on simulated boosts, the pooled rates 11%.

Economics, each with the interval carried through (all are monotone in the incremental engagements):
``cost per incremental engagement = B / incremental``, ``ROI = (incremental * value - B) / B``. The value of an
engagement is what the platform's boosted posts earned: the conversion value tracked on their journeys
(``fct_boost_organic_vs_paid``) per engagement they drew (paid + organic). Only where no conversion value is
tracked for a platform's boosts does it fall back to the configured value, and the evidence says so.

The suggested budget and duration are those of the past boosts that worked (paid back their spend even at the
lower bound of their incremental engagements; failing any, those that paid back at the estimate; failing any,
all): the median spend, rounded to ``budget_step_usd``, and the median flight length.

Candidates are recent organic posts still early in their life (at most ``max_age_hours`` old at the newest
snapshot, with at least one snapshot), not boosted already, on a platform with at least ``min_boosts`` assessed
boosts. Per account, those with a positive expected ROI are ranked by it and the best ``top_per_account`` are
recommended.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.boost_lift import ESTIMATED, conformal_ranks

METHOD = "boost_response_conformal"
TRACKED = "tracked"
CONFIGURED = "configured"

RESPONSE_COLUMNS = [
    "boost_id", "platform", "media_type", "spend_usd", "flight_days", "paid_engagements", "organic_lift",
    "pre_boost_engagements", "paid_per_dollar", "lift_per_engagement", "incremental_engagements",
    "incremental_engagements_low",
]
VALUE_COLUMNS = [
    "platform", "value_per_engagement_usd", "value_source", "tracked_conversion_value_usd", "tracked_engagements",
    "boosts_tracked",
]
FLIGHT_COLUMNS = ["platform", "budget_usd", "duration_days", "boosts_behind", "flight_basis"]
PROJECTION_COLUMNS = [
    "platform", "account_id", "post_id", "media_type", "published_at", "age_hours", "current_engagements",
    "budget_usd", "duration_days", "incremental_engagements", "incremental_engagements_low",
    "incremental_engagements_high", "value_per_engagement_usd", "value_source", "roi", "roi_low", "roi_high",
    "cost_per_incremental_engagement_usd", "cost_per_incremental_engagement_low_usd",
    "cost_per_incremental_engagement_high_usd", "confidence", "n_boosts", "response_pool", "flight_basis",
    "boosts_behind_flight", "rank", "recommended",
]


@dataclass(frozen=True)
class BoostPolicyConfig:
    interval_level: float = 0.90
    min_boosts: int = 19  # the fewest past boosts that can bound a 90% interval by ranks
    max_age_hours: float = 36.0  # a post older than this has had most of its organic life: too late to boost
    top_per_account: int = 3
    budget_step_usd: float = 5.0
    fallback_value_per_engagement_usd: float = 3.0  # only where no conversion value is tracked

    def __post_init__(self) -> None:
        conformal_ranks(self.min_boosts, self.interval_level)  # raises when too few to bound the interval
        if self.max_age_hours <= 0 or self.top_per_account < 1 or self.budget_step_usd <= 0:
            raise ValueError("max_age_hours and budget_step_usd must be > 0 and top_per_account >= 1")
        if self.fallback_value_per_engagement_usd < 0:
            raise ValueError("fallback_value_per_engagement_usd must be >= 0")


def boost_responses(effectiveness: pd.DataFrame, post_media: pd.DataFrame) -> pd.DataFrame:
    """One row per assessed boost (``status = estimated``, spend > 0) with its two response rates. A boost of a
    post Cycle does not track (``organic_untracked``) has no lift and never enters: nothing to learn from.
    ``effectiveness``: rows of ``analysis.boost_effectiveness``; ``post_media``: platform, post_id, media_type."""
    est = effectiveness[(effectiveness["status"] == ESTIMATED) & (effectiveness["spend_usd"] > 0)].copy()
    est = est.merge(post_media[["platform", "post_id", "media_type"]], on=["platform", "post_id"], how="left")
    days = (pd.to_datetime(est["flight_end_at"]) - pd.to_datetime(est["flight_start_at"])) / pd.Timedelta(days=1)
    return pd.DataFrame(
        {
            "boost_id": est["boost_id"],
            "platform": est["platform"],
            "media_type": est["media_type"].fillna("unknown"),
            "spend_usd": est["spend_usd"].astype(float),
            "flight_days": days.round().astype("int64"),
            "paid_engagements": est["paid_engagements"].astype(float),
            "organic_lift": est["organic_lift"].astype(float),
            "pre_boost_engagements": est["pre_boost_engagements"].astype(float),
            "paid_per_dollar": est["paid_engagements"].astype(float) / est["spend_usd"].astype(float),
            "lift_per_engagement": est["organic_lift"].astype(float) / (est["pre_boost_engagements"].astype(float) + 1.0),
            "incremental_engagements": est["incremental_engagements"].astype(float),
            "incremental_engagements_low": est["incremental_engagements_low"].astype(float),
        },
        columns=RESPONSE_COLUMNS,
    ).reset_index(drop=True)


def value_per_engagement(organic_vs_paid: pd.DataFrame, platforms, config: BoostPolicyConfig | None = None) -> pd.DataFrame:
    """Per platform: tracked conversion value per engagement of its boosted posts (``fct_boost_organic_vs_paid``:
    conversion_value_usd over paid + organic engagements), else the configured fallback (``value_source``).
    A boost whose organic engagements are null (its post is one Cycle does not track: a Facebook or Instagram
    post a Meta ad promoted) is left out: its value over its paid engagements alone would overstate what an
    engagement is worth."""
    config = config or BoostPolicyConfig()
    measured = organic_vs_paid[organic_vs_paid["organic_engagements"].notna()]
    rows = []
    for platform in sorted(set(platforms)):
        mine = measured[measured["platform"] == platform]
        value = float(mine["conversion_value_usd"].fillna(0).sum())
        engagements = float((mine["paid_engagements"].fillna(0) + mine["organic_engagements"].fillna(0)).sum())
        tracked = value > 0 and engagements > 0
        rows.append(
            {
                "platform": platform,
                "value_per_engagement_usd": value / engagements if tracked else config.fallback_value_per_engagement_usd,
                "value_source": TRACKED if tracked else CONFIGURED,
                "tracked_conversion_value_usd": value,
                "tracked_engagements": engagements,
                "boosts_tracked": int((mine["conversion_value_usd"].fillna(0) > 0).sum()),
            }
        )
    return pd.DataFrame(rows, columns=VALUE_COLUMNS)


def suggest_flights(responses: pd.DataFrame, values: pd.DataFrame, config: BoostPolicyConfig | None = None) -> pd.DataFrame:
    """Per platform: the budget and duration of the past boosts that worked (see the module docstring)."""
    config = config or BoostPolicyConfig()
    value_of = values.set_index("platform")["value_per_engagement_usd"]
    rows = []
    for platform, past in responses.groupby("platform", sort=True):
        value = float(value_of.get(platform, config.fallback_value_per_engagement_usd))
        basis, chosen = "all assessed boosts (none paid back its spend)", past
        for label, column in (
            ("boosts that paid back their spend at the lower bound of their lift", "incremental_engagements_low"),
            ("boosts that paid back their spend at their estimated lift", "incremental_engagements"),
        ):
            worked = past[past[column] * value >= past["spend_usd"]]
            if len(worked):
                basis, chosen = label, worked
                break
        budget = max(config.budget_step_usd, round(float(chosen["spend_usd"].median()) / config.budget_step_usd) * config.budget_step_usd)
        rows.append(
            {
                "platform": platform,
                "budget_usd": float(budget),
                "duration_days": int(max(1, round(float(chosen["flight_days"].median())))),
                "boosts_behind": int(len(chosen)),
                "flight_basis": basis,
            }
        )
    return pd.DataFrame(rows, columns=FLIGHT_COLUMNS)


def project_boosts(
    candidates: pd.DataFrame,
    responses: pd.DataFrame,
    values: pd.DataFrame,
    flights: pd.DataFrame,
    config: BoostPolicyConfig | None = None,
) -> pd.DataFrame:
    """Each candidate's projected incremental engagements, ROI and cost per incremental engagement, with
    intervals, at its platform's suggested flight (or at its own ``budget_usd`` where the frame has one).

    ``candidates``: platform, account_id, post_id, media_type, published_at, age_hours, current_engagements.
    Platforms with fewer than ``min_boosts`` assessed boosts get no projection. The candidates of one pool (a
    platform's, or a media type's on it) are projected together, ``_CELLS`` projections at a time: at 50,000
    posts a day there are some 75,000 candidates, and one pass over the pool per candidate took most of a minute."""
    config = config or BoostPolicyConfig()
    need = {"platform", "account_id", "post_id", "media_type", "published_at", "age_hours", "current_engagements"}
    missing = need - set(candidates.columns)
    if missing:
        raise ValueError(f"candidates lack columns {sorted(missing)}")
    per_platform = responses.groupby("platform").size()
    eligible = [p for p, n in per_platform.items() if n >= config.min_boosts and p in set(flights["platform"])]
    c = candidates[candidates["platform"].isin(eligible)].reset_index(drop=True)
    if c.empty:
        return pd.DataFrame(columns=PROJECTION_COLUMNS)
    flight = flights.drop_duplicates("platform").set_index("platform").loc[c["platform"]].reset_index(drop=True)
    value = values.drop_duplicates("platform").set_index("platform").reindex(c["platform"]).reset_index(drop=True)
    known = value["value_per_engagement_usd"].notna().to_numpy()
    value_usd = np.where(known, value["value_per_engagement_usd"].to_numpy(float, na_value=np.nan), config.fallback_value_per_engagement_usd)
    own = c["budget_usd"].to_numpy(float, na_value=np.nan) if "budget_usd" in c.columns else np.full(len(c), np.nan)
    budget = np.where(np.isnan(own), flight["budget_usd"].to_numpy(float), own)
    engagements = c["current_engagements"].to_numpy(float)
    # the pool: the same media type's boosts where there are enough of them, else the platform's
    per_media = responses.groupby(["platform", "media_type"]).size()
    media_count = per_media.reindex(pd.MultiIndex.from_arrays([c["platform"], c["media_type"]])).fillna(0).to_numpy()
    label = np.where(media_count >= config.min_boosts, "media", "platform")
    expected, low, high, confidence = (np.empty(len(c)) for _ in range(4))
    n_boosts = np.empty(len(c), dtype="int64")
    pools = pd.DataFrame({"platform": c["platform"], "media_type": c["media_type"].where(label == "media"), "label": label})
    for (platform, media, kind), at in pools.groupby(["platform", "media_type", "label"], dropna=False).indices.items():
        pool = responses[(responses["platform"] == platform) & ((responses["media_type"] == media) if kind == "media" else True)]
        paid_per_dollar = pool["paid_per_dollar"].to_numpy(float)
        lift_per_engagement = pool["lift_per_engagement"].to_numpy(float)
        lo, hi = conformal_ranks(len(pool), config.interval_level)
        # the expectation from the pooled rates (ratios of sums): a boost of a post that had few engagements
        # when it started has a noisy lift per engagement, and averaging those ratios would overstate it
        paid, spend = pool["paid_engagements"].sum(), pool["spend_usd"].sum()
        lift, before = pool["organic_lift"].sum(), pool["pre_boost_engagements"].sum() + len(pool)
        for rows in np.array_split(at, max(1, len(at) * len(pool) // _CELLS)):
            b, e = budget[rows, None], engagements[rows, None]
            projections = b * paid_per_dollar + (e + 1.0) * lift_per_engagement  # a row per candidate
            ranked = np.partition(projections, [lo - 1, hi - 1], axis=1)
            low[rows], high[rows] = ranked[:, lo - 1], ranked[:, hi - 1]
            # the share of past responses that pay back
            confidence[rows] = (projections * value_usd[rows, None] > b).mean(axis=1)
        expected[at] = np.clip(budget[at] * paid / spend + (engagements[at] + 1.0) * lift / before, low[at], high[at])
        n_boosts[at] = len(pool)

    def roi(n: np.ndarray) -> np.ndarray:
        return (n * value_usd - budget) / budget

    def cost_per_engagement(n: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n > 0, budget / n, np.nan)

    out = c[["platform", "account_id", "post_id", "media_type", "published_at", "age_hours"]].assign(
        current_engagements=engagements,
        budget_usd=budget,
        duration_days=flight["duration_days"].astype("int64").to_numpy(),
        incremental_engagements=expected,
        incremental_engagements_low=low,
        incremental_engagements_high=high,
        value_per_engagement_usd=value_usd,
        value_source=np.where(known, value["value_source"].astype(object).to_numpy(), CONFIGURED),
        roi=roi(expected),
        roi_low=roi(low),
        roi_high=roi(high),
        cost_per_incremental_engagement_usd=cost_per_engagement(expected),
        # the cost is lowest where the engagements are highest
        cost_per_incremental_engagement_low_usd=cost_per_engagement(high),
        cost_per_incremental_engagement_high_usd=cost_per_engagement(low),
        confidence=confidence,
        n_boosts=n_boosts,
        response_pool=label,
        flight_basis=flight["flight_basis"].astype(str).to_numpy(),
        boosts_behind_flight=flight["boosts_behind"].astype("int64").to_numpy(),
    )
    out = out.sort_values(["platform", "account_id", "roi", "post_id"], ascending=[True, True, False, True], kind="stable")
    out["rank"] = out.groupby(["platform", "account_id"]).cumcount().astype("int64") + 1
    out["recommended"] = (out["roi"] > 0) & (out["rank"] <= config.top_per_account)
    return out[PROJECTION_COLUMNS].reset_index(drop=True)


# projections computed at once (candidates x pool boosts): about 32 MB of floats a block
_CELLS = 4_000_000


def boost_candidates(
    posts: pd.DataFrame, latest: pd.DataFrame, boosted_post_ids, as_of: pd.Timestamp, config: BoostPolicyConfig | None = None
) -> pd.DataFrame:
    """Recent organic posts still early in their life and not boosted yet, with their engagements so far.

    ``posts``: platform, post_id, account_id, media_type, published_at; ``latest``: platform, post_id and
    ``engagements`` at the post's newest snapshot; ``as_of``: the newest snapshot time (the data's now)."""
    config = config or BoostPolicyConfig()
    p = posts.dropna(subset=["account_id", "published_at"]).drop(columns=["engagements"], errors="ignore").merge(
        latest[["platform", "post_id", "engagements"]], on=["platform", "post_id"], how="inner"
    )
    p["age_hours"] = (pd.Timestamp(as_of) - pd.to_datetime(p["published_at"])) / pd.Timedelta(hours=1)
    p = p[(p["age_hours"] >= 0) & (p["age_hours"] <= config.max_age_hours) & ~p["post_id"].isin(set(boosted_post_ids))]
    return (
        p.rename(columns={"engagements": "current_engagements"})[
            ["platform", "account_id", "post_id", "media_type", "published_at", "age_hours", "current_engagements"]
        ]
        .sort_values(["platform", "account_id", "post_id"])
        .reset_index(drop=True)
    )


__all__ = [
    "CONFIGURED",
    "METHOD",
    "PROJECTION_COLUMNS",
    "TRACKED",
    "BoostPolicyConfig",
    "boost_candidates",
    "boost_responses",
    "project_boosts",
    "suggest_flights",
    "value_per_engagement",
]
