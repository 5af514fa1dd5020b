"""Planted, labeled anomalies in the daily campaign and platform series (opt-in: ``SimulatorConfig.anomalies``).

Four kinds, each what an analyst would want to be told about the day it happens:

- ``spend_spike``: a campaign spends a multiple of its usual day (a pacing bug, a budget typo); its
  impressions, clicks and conversions follow the money;
- ``tracking_outage``: a campaign's conversions drop to zero while its clicks stay (a broken pixel or
  conversion tag). Planted only on campaigns expecting at least ``MIN_OUTAGE_CONVERSIONS`` that day: below
  that a day without conversions is ordinary and no method could tell an outage from chance;
- ``ctr_collapse``: a campaign's clicks fall to a fraction of the usual share of its impressions while the
  impressions stay (a broken landing page, a disapproved creative still serving);
- ``viral_spike``: one of a platform's posts published the day before takes off on the day, adding a
  multiple of the platform's usual daily organic impressions (and engagements at the post's own rates)
  between two polls of that day: the platform's day totals jump on that one day.

Every draw comes from the anomaly stream (its own seed key), so with no plan, or with a plan, nothing else the
simulator draws moves: the demo, the digests and every truth test are unchanged. ``planted_anomalies`` is the
ground truth (kind, platform, campaign, day, magnitude), for tests and the benchmark.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd

from analytics_assets.sources.simulator import ground_truth as gt

KINDS = ("spend_spike", "tracking_outage", "ctr_collapse", "viral_spike")
CAMPAIGN_KINDS = ("spend_spike", "tracking_outage", "ctr_collapse")

SPEND_SPIKE_FACTOR = (2.5, 4.0)  # the day's spend, as a multiple of what the campaign would have spent
CTR_COLLAPSE_FACTOR = (0.1, 0.35)  # the day's click-through rate, as a share of the campaign's own
MIN_OUTAGE_CONVERSIONS = 10.0  # expected conversions a day below which no outage is planted (see above)
VIRAL_DAY_FACTOR = (1.5, 3.5)  # extra impressions on the day, in the platform's usual daily organic impressions
VIRAL_TAKEOFF_HOURS = (1.0, 14.0)  # when on the day (UTC hours) the post takes off
# what the platform's posts of one day reach over their life: its usual daily organic impressions in steady state
# (median x the mean of the lognormal spread)
_MEAN_IMPRESSIONS_FACTOR = float(np.exp(gt.IMPRESSIONS_SIGMA**2 / 2))

_STREAM = 101  # the anomaly stream: far from core's stream ids, so no existing draw is reused
_CAMPAIGN_EVENTS, _VIRAL_EVENTS, _EFFECTS = 1, 2, 3


@dataclass(frozen=True)
class AnomalyPlan:
    """Where to plant anomalies. ``days``: on each, one anomaly of every kind in ``kinds``, each on a series drawn
    at random. ``rate``: on every day from ``start`` on (every day when None), each eligible campaign and organic
    platform has this chance of an anomaly of a kind drawn from ``kinds``. Both may be given."""

    days: tuple[date, ...] = ()
    rate: float = 0.0
    start: date | None = None
    kinds: tuple[str, ...] = KINDS

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown or not self.kinds:
            raise ValueError(f"anomaly kinds must be among {', '.join(KINDS)}, got {list(self.kinds)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"anomaly rate is a probability (0..1), got {self.rate}")


def _rng(seed: int, part: int, day: date) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAM, part, day.toordinal()])


def _organic_posts_per_day(config, platform: str) -> int:
    return int(round(config.posts_per_day * gt.PLATFORMS[platform].share_of_posts))


def usual_daily_impressions(config, platform: str) -> float:
    """What a platform's organic posts add to its impressions on an ordinary day (steady state)."""
    prof = gt.PLATFORMS[platform]
    return _organic_posts_per_day(config, platform) * prof.median_impressions * _MEAN_IMPRESSIONS_FACTOR


def _campaign_eligibility(ads: pd.DataFrame) -> pd.DataFrame:
    """Each always-on campaign of a day's ad rows (``core._ad_day``): whether it delivers and the conversions it
    is expected to have (none of which an anomaly changes)."""
    # spend is 0.8..1.0 of the day's budget: 0.9 on average
    expected_conversions = ads["daily_budget_usd"] * 0.9 / ads["cpm_usd"] * 1000 * ads["ctr"] * ads["cvr"]
    return pd.DataFrame(
        {
            "platform": ads["platform"].to_numpy(),
            "campaign_id": ads["campaign_id"].to_numpy(),
            "is_active": ads["is_active"].to_numpy(bool),
            "expected_conversions": expected_conversions.to_numpy(float),
        }
    )


def _eligible(kind: str, campaign) -> bool:
    if not campaign.is_active:
        return False  # a paused campaign delivers nothing: nothing to disturb
    return kind != "tracking_outage" or campaign.expected_conversions >= MIN_OUTAGE_CONVERSIONS


def _draw_magnitude(rng: np.random.Generator, kind: str) -> float:
    lo, hi = {"spend_spike": SPEND_SPIKE_FACTOR, "ctr_collapse": CTR_COLLAPSE_FACTOR, "tracking_outage": (0.0, 0.0),
              "viral_spike": VIRAL_DAY_FACTOR}[kind]
    return float(rng.uniform(lo, hi))


_COLUMNS = ["kind", "platform", "campaign_id", "metric_date", "magnitude", "post_seq", "takeoff_at"]


def _event(rng: np.random.Generator, kind: str, platform: str, campaign_id: str | None, day: date) -> dict:
    return {"kind": kind, "platform": platform, "campaign_id": campaign_id, "metric_date": day,
            "magnitude": _draw_magnitude(rng, kind), "post_seq": None, "takeoff_at": None}


def campaign_events(config, day: date, ads: pd.DataFrame) -> pd.DataFrame:
    """The campaign anomalies planted on ``day`` (``planted_on``'s columns), given the day's ad rows ``ads``
    (``core._ad_day``: which campaigns deliver, what they are expected to convert). One per campaign at most:
    two at once would make the label ambiguous."""
    plan: AnomalyPlan | None = getattr(config, "anomalies", None)
    kinds = [k for k in plan.kinds if k in CAMPAIGN_KINDS] if plan is not None else []
    if not kinds:
        return pd.DataFrame(columns=_COLUMNS)
    rng = _rng(config.seed, _CAMPAIGN_EVENTS, day)
    campaigns = list(_campaign_eligibility(ads).itertuples(index=False))
    events: list[dict] = []
    taken: set[str] = set()
    if day in plan.days:
        for kind in kinds:
            candidates = [c for c in campaigns if c.campaign_id not in taken and _eligible(kind, c)]
            if candidates:
                c = candidates[int(rng.integers(0, len(candidates)))]
                events.append(_event(rng, kind, c.platform, c.campaign_id, day))
                taken.add(c.campaign_id)
    if plan.rate > 0 and (plan.start is None or day >= plan.start):
        # the same draws for every campaign whatever is eligible, so one campaign's state moves no other's
        hits = rng.random(len(campaigns)) < plan.rate
        picks = rng.integers(0, 1_000_000, len(campaigns))
        for c, hit, pick in zip(campaigns, hits, picks):
            allowed = [k for k in kinds if _eligible(k, c)]
            if hit and allowed and c.campaign_id not in taken:
                events.append(_event(rng, allowed[pick % len(allowed)], c.platform, c.campaign_id, day))
    return pd.DataFrame(events, columns=_COLUMNS)


def viral_events(config, day: date) -> pd.DataFrame:
    """The viral spikes planted on ``day`` (``planted_on``'s columns): which platform, which of its posts of the
    day before (``post_seq``), when it takes off (``takeoff_at``) and how far (``magnitude``)."""
    plan: AnomalyPlan | None = getattr(config, "anomalies", None)
    if plan is None or "viral_spike" not in plan.kinds:
        return pd.DataFrame(columns=_COLUMNS)
    return _viral_events(config, plan, day).copy()


@functools.lru_cache(maxsize=256)
def _viral_events(config, plan: AnomalyPlan, day: date) -> pd.DataFrame:
    rng = _rng(config.seed, _VIRAL_EVENTS, day)
    organic = [p for p in gt.PLATFORMS if _organic_posts_per_day(config, p) > 0]
    chosen: list[str] = []
    if day in plan.days and organic:
        chosen.append(organic[int(rng.integers(0, len(organic)))])
    if plan.rate > 0 and (plan.start is None or day >= plan.start):
        hits = rng.random(len(organic)) < plan.rate
        chosen += [p for p, hit in zip(organic, hits) if hit and p not in chosen]
    events = []
    for platform in chosen:
        event = _event(rng, "viral_spike", platform, None, day)
        event["post_seq"] = int(rng.integers(0, _organic_posts_per_day(config, platform)))
        event["takeoff_at"] = pd.Timestamp(day) + pd.Timedelta(hours=float(rng.uniform(*VIRAL_TAKEOFF_HOURS)))
        events.append(event)
    return pd.DataFrame(events, columns=_COLUMNS)


def planted_on(config, day: date, ads: pd.DataFrame) -> pd.DataFrame:
    """The anomalies planted on ``day``: kind, platform, campaign_id (None for viral spikes), metric_date,
    magnitude (the kind's factor), post_seq and takeoff_at (viral spikes). ``ads``: the day's ad rows."""
    rows = campaign_events(config, day, ads).to_dict("records") + viral_events(config, day).to_dict("records")
    return pd.DataFrame(rows, columns=_COLUMNS)


def planted_anomalies(config, start: date, end: date, ad_day: Callable[[date], pd.DataFrame]) -> pd.DataFrame:
    """The ground truth: every anomaly planted on ``start..end``, one row each (see ``planted_on``); ``ad_day``
    gives a day's ad rows (``core._ad_day``; ``PlatformSimulator.anomalies`` passes it)."""
    days = [start + timedelta(days=k) for k in range((end - start).days + 1)]
    if getattr(config, "anomalies", None) is None:
        return pd.DataFrame(columns=_COLUMNS)
    rows = [r for d in days for r in planted_on(config, d, ad_day(d)).to_dict("records")]
    return pd.DataFrame(rows, columns=_COLUMNS)


# ------------------------------------------------------------------------------------------------ hooks


def apply_to_ad_day(config, day: date, ads: pd.DataFrame) -> pd.DataFrame:
    """The campaign anomalies of ``day`` applied to the day's ad rows (``core._ad_day``: USD figures drawn, then
    expressed in local currency). Returns ``ads`` itself when nothing is planted on the day."""
    events = campaign_events(config, day, ads)
    if events.empty:
        return ads
    ads = ads.copy()
    rng = _rng(config.seed, _EFFECTS, day)
    for e in events.itertuples(index=False):
        [i] = np.flatnonzero((ads["campaign_id"] == e.campaign_id).to_numpy())
        row = ads.loc[i]
        if e.kind == "spend_spike":
            for col in ("spend_local", "value_local"):
                ads.at[i, col] = round(float(row[col]) * e.magnitude, 2)
            for col in ("impressions", "clicks", "reach"):
                ads.at[i, col] = int(round(int(row[col]) * e.magnitude))
            ads.at[i, "conversions"] = float(rng.binomial(int(ads.at[i, "clicks"]), float(row["cvr"])))
        elif e.kind == "ctr_collapse":
            clicks = int(rng.binomial(int(row["impressions"]), float(row["ctr"]) * e.magnitude))
            conversions = float(rng.binomial(clicks, float(row["cvr"])))
            per_conversion = float(row["value_local"]) / float(row["conversions"]) if row["conversions"] else 0.0
            ads.at[i, "clicks"] = clicks
            ads.at[i, "conversions"] = conversions
            ads.at[i, "value_local"] = round(conversions * per_conversion, 2)
        else:  # tracking_outage: the clicks happened, no conversion was recorded
            ads.at[i, "conversions"] = 0.0
            ads.at[i, "value_local"] = 0.0
    return ads


def add_viral_bursts(config, snap: pd.DataFrame) -> pd.DataFrame:
    """Polls (``core._polls``) of the posts that go viral: from the take-off on, each reads its counters plus the
    burst (impressions, and every engagement metric at the post's own rate per impression). Counters stay
    cumulative, so the platform's daily growth takes the whole burst on the take-off day."""
    if getattr(config, "anomalies", None) is None or snap.empty:
        return snap
    published = snap["published_at"].dt.date
    days = sorted({d + timedelta(days=1) for d in published.unique()})
    events = pd.DataFrame([e for d in days for e in viral_events(config, d).to_dict("records")], columns=_COLUMNS)
    if events.empty:
        return snap
    snap = snap.copy()
    for e in events.itertuples(index=False):
        post = (
            (snap["platform"] == e.platform)
            & (published == e.metric_date - timedelta(days=1))
            & (snap["post_seq"] == e.post_seq)
        ).to_numpy()
        after = post & (snap["snapshot_at"] >= e.takeoff_at).to_numpy()
        if not after.any():
            continue
        first = np.flatnonzero(post)[0]
        base = float(pd.to_numeric(snap.at[first, "impressions_total"]))
        burst = e.magnitude * usual_daily_impressions(config, e.platform)
        for metric in ("impressions", "likes", "comments", "shares", "clicks", "quotes", "saves"):
            total = pd.to_numeric(snap.at[first, f"{metric}_total"], errors="coerce")
            if pd.isna(total):
                continue
            extra = int(round(burst if metric == "impressions" else burst * float(total) / max(base, 1.0)))
            snap.loc[after, metric] = snap.loc[after, metric] + extra
    return snap
