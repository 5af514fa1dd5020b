"""A seeded simulator of the social and ad platforms: the embedded default source of Cycle.

Deterministic per (config, day): the same day always yields the same records, whatever else was
generated before, so re-materializing a partition reproduces it exactly. Records come out in each
platform's own field names and units, flattened the way ``pandas.json_normalize`` flattens the real
API responses (``public_metrics.like_count``, ``metrics.costMicros``...), so the real clients and the
simulator feed the same parsers. Fields prefixed ``cycle.`` are Cycle's own metadata about a record
(when it polled, the content features of posts it published).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from collections.abc import Collection, Iterator
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from analytics_assets.sources.native import NativeDay
from analytics_assets.sources.simulator import actions as action_log
from analytics_assets.sources.simulator import ad_detail
from analytics_assets.sources.simulator import budget_response
from analytics_assets.sources.simulator import anomalies as planted
from analytics_assets.sources.simulator import ground_truth as gt
from analytics_assets.sources.simulator import ids
from analytics_assets.sources.simulator import post_text
from analytics_assets.sources.simulator import series_patterns

# Polling ages (hours after publication): every 2 hours for the first 48 hours, then every 6 hours
# for the rest of the first week, as Cycle's pollers do.
SNAPSHOT_AGES_HOURS = np.concatenate([np.arange(2, 49, 2), np.arange(54, 169, 6)]).astype(float)
MAX_POST_AGE_DAYS = 7
BOOST_DAYS = 3
# A post that goes viral on a spike day ends with this many times the impressions, and takes off this
# many hours after publication: its earlier polls read the ordinary level, so the take-off is a jump
# between two consecutive snapshots (what fct_snapshot_delta_flags flags for review).
VIRAL_FACTOR = 20
VIRAL_TAKEOFF_AGE_HOURS = 6.0
_EPOCH = pd.Timestamp("1970-01-01")
_ENGAGEMENT_METRICS = ("likes", "comments", "shares", "clicks", "quotes", "saves")  # what engagements sum

# stream ids keep the random draws of each entity independent of the others
_POSTS, _ADS, _CAMPAIGNS, _BOOSTS, _JOURNEYS, _AI, _MALFORMED = range(1, 8)
_CURVES, _EXPERIMENTS, _BOOST_TOUCHES, _APPLIED_POSTS = range(8, 12)
_APPLIED_BOOSTS, _APPLIED_BOOST_DELIVERY = range(12, 14)  # a boost the account runs for a recommendation
ACCOUNTS_PER_PLATFORM = 5  # the brand's accounts on each organic platform (account_seq 0..4)


@dataclass(frozen=True)
class SimulatorConfig:
    """What to simulate. Volumes are per day, so the same code makes a tiny test set or a huge one."""

    seed: int = 7
    posts_per_day: int = 240
    campaigns_per_platform: int = 4
    journeys_per_day: int = 400
    ai_generations_per_day: int = 150
    boost_rate: float = 0.08  # share of LinkedIn posts promoted through LinkedIn Ads
    shift_start: date | None = None  # behaviour shift from this day on (drift)
    spike_days: tuple[date, ...] = ()  # days on which a few posts go viral (anomalies)
    spike_rate: float = 0.03
    malformed_rate: float = 0.0  # share of records corrupted in their native payload
    boost_lift_scale: float = 1.0  # scales the planted organic lift of boosts (0: boosts lift nothing)
    experiment_units_per_day: int = 150  # units exposed to each variant of each running experiment
    # what a channel's touch does to a journey (ground_truth.JOURNEY_MODELS): raises its odds of
    # converting ("exposure") or brings the user back for a chance to convert ("funnel")
    journey_model: str = "exposure"
    # ---- closed-loop mode (closed_loop.py): the account follows some of Cycle's recommendations
    # share of the open recommendations the simulated account applies (closed_loop.decide); the posts it
    # publishes for them are read from the actions log in ``actions_dir`` (actions.py), one file per day
    adoption: float = 0.0
    dismissal: float = 0.0  # share it dismisses (of those it does not apply)
    actions_dir: str | None = None
    # the audience's peak hours move by this many hours from ``peak_shift_start`` on, and nothing else changes
    # (``shift_start`` moves the content mix and posting hours too)
    peak_shift_hours: int = 0
    peak_shift_start: date | None = None
    # labeled anomalies planted in the daily campaign and platform series (anomalies.py; None: none, the default)
    anomalies: planted.AnomalyPlan | None = None
    # trend, weekly seasonality, holidays and level shifts in the ad and post series (series_patterns.py; None:
    # flat series, the default)
    patterns: series_patterns.SeriesPatterns | None = None
    # known response curves (carryover, saturation) of the campaigns' conversions to their spend, and planned budget
    # changes that reveal them (budget_response.py; None: conversions follow clicks, the default)
    budget_response: budget_response.BudgetResponsePlan | None = None

    def __post_init__(self) -> None:
        if self.journey_model not in gt.JOURNEY_MODELS:
            raise ValueError(f"journey_model must be one of {', '.join(gt.JOURNEY_MODELS)}, got {self.journey_model!r}")
        if not (0.0 <= self.adoption <= 1.0 and 0.0 <= self.dismissal <= 1.0 and self.adoption + self.dismissal <= 1.0):
            raise ValueError(
                f"adoption and dismissal are shares (0..1) summing to at most 1, got {self.adoption} and {self.dismissal}"
            )


@dataclass
class SimulatedDay(NativeDay):
    """A simulated day's native records, with what was injected into them."""

    malformed: pd.DataFrame = dataclass_field(default_factory=pd.DataFrame)  # entity, platform, row (index in that frame), kind


def _rng(config: SimulatorConfig, stream: int, day: date | None = None) -> np.random.Generator:
    key = [config.seed, stream] + ([day.toordinal()] if day else [])
    return np.random.default_rng(key)


def _choice(rng: np.random.Generator, mix: dict[str, float], n: int) -> np.ndarray:
    keys = list(mix)
    p = np.array([mix[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _shifted(config: SimulatorConfig, day: date) -> bool:
    return config.shift_start is not None and day >= config.shift_start


def peak_shift_on(config: SimulatorConfig, day: date) -> int:
    """Hours by which every platform's peak has moved on ``day`` (the behaviour shift's and the peak-only one)."""
    behaviour = gt.BehaviourShift().peak_shift_hours if _shifted(config, day) else 0
    peak_only = config.peak_shift_hours if config.peak_shift_start is not None and day >= config.peak_shift_start else 0
    return behaviour + peak_only


def account_id(platform: str, account_seq: int) -> str:
    """The id the platform gives the brand's account ``account_seq`` (what the parsed snapshots carry)."""
    if platform == "linkedin":
        return f"urn:li:organization:{80_000 + account_seq}"
    if platform == "x":
        return f"14{account_seq + 1000}"
    if platform == "reddit":
        return f"t2_cycle{account_seq}"
    if platform == "tiktok":
        return f"cycle_brand_{account_seq}"
    raise ValueError(f"no organic platform {platform!r}")


def account_seq(platform: str, account: str) -> int:
    """The simulator's number of the account ``account`` names on ``platform`` (ValueError: not one of its)."""
    for seq in range(ACCOUNTS_PER_PLATFORM):
        if account_id(platform, seq) == account:
            return seq
    raise ValueError(f"{account!r} is not an account of the simulated brand on {platform}")


def _day_start(day: date) -> pd.Timestamp:
    return pd.Timestamp(datetime(day.year, day.month, day.day))


def _iso_z(ts: pd.Series) -> pd.Series:
    """``ts`` as ISO text to the second, in UTC's ``Z`` (what the platforms' APIs write)."""
    if ts.isna().any() or (len(ts) and ts.min() < _EPOCH):
        return ts.dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    # the same text as the strftime above, several times faster (millions of snapshots a day at volume): numpy
    # truncates to the second as %S does, for every instant after the epoch
    seconds = np.datetime_as_string(ts.to_numpy("datetime64[ns]").astype("datetime64[s]"), unit="s")
    return pd.Series(seconds, index=ts.index, dtype=object) + ".000Z"


def _epoch_seconds(ts: pd.Series) -> pd.Series:
    return (ts - _EPOCH) // pd.Timedelta(seconds=1)


# --------------------------------------------------------------------------------------------- posts


def posts_published_on(config: SimulatorConfig, day: date) -> pd.DataFrame:
    """Every organic post published on ``day``, with its content and its final (lifetime) counters.

    In closed-loop mode the posts the account published for a recommendation (the day's actions log) are
    at the recommended hour, with the recommended content where it was given, and name the recommendation
    in ``applied_recommendation_id`` (None for every other post)."""
    return _posts_published_on(config, day, action_log.read_day(config.actions_dir, day))


@functools.lru_cache(maxsize=128)
def _posts_published_on(config: SimulatorConfig, day: date, applied: action_log.DayActions) -> pd.DataFrame:
    rng = _rng(config, _POSTS, day)
    shift = gt.BehaviourShift() if _shifted(config, day) else None
    peak_shift = peak_shift_on(config, day)
    frames = []
    for p_idx, (platform, prof) in enumerate(gt.PLATFORMS.items()):
        n = int(round(config.posts_per_day * prof.share_of_posts))
        if n == 0:
            continue
        draws = _draw_posts(rng, config, day, platform, n, shift)
        draws["account_seq"] = rng.integers(0, ACCOUNTS_PER_PLATFORM, n)
        # the account's own posts are drawn as in the open loop whatever it follows: what it follows (the posts it
        # moves, the extra ones it publishes) is drawn from a stream of each such post's own, so every other post
        # stays the same, and so does each followed one when the log grows
        draws, followed = _follow(config, day, p_idx, draws, [a for a in applied if a.platform == platform], shift)
        frame = _posts_frame(day, platform, prof, n, draws, followed, peak_shift, rng)
        # stable ids in each platform's own format (an extra post's follow from its account and post number),
        # unique at any volume (ids.py)
        frame["native_id"] = [ids.post_native_id(day, p_idx, int(i)) for i in frame["post_seq"]]
        frames.append(frame)
    posts = pd.concat(frames, ignore_index=True)
    posts["post_id"] = [_post_id(p, nid) for p, nid in zip(posts["platform"], posts["native_id"])]
    # each post's own half-life, from a separate stream so the draws above stay as they were (an extra post's
    # from its own stream)
    curve_rng = _rng(config, _CURVES, day)
    extra = posts["extra_half_life_factor"].notna().to_numpy()
    factor = posts["extra_half_life_factor"].to_numpy(dtype=float, na_value=np.nan)
    factor[~extra] = np.exp(curve_rng.normal(0, gt.HALF_LIFE_SIGMA, int((~extra).sum())))
    posts["half_life_hours"] = posts["half_life_hours"] * factor
    return series_patterns.scale_posts(config, day, posts.drop(columns="extra_half_life_factor"))


# an extra post (one an account publishes beyond the posts it drew, for a recommendation) has the sequence number
# EXTRA_POST_SEQ + account * MAX_POSTS_PER_ACCOUNT + its post number: stable, whatever else the log holds (on a
# day too busy for that range, ids.extra_post_seq's wide one)
EXTRA_POST_SEQ = ids.EXTRA_POST_SEQ
MAX_POSTS_PER_ACCOUNT = ids.MAX_POSTS_PER_ACCOUNT


def _place_rng(config: SimulatorConfig, day: date, p_idx: int, account: int, post_number: int) -> np.random.Generator:
    """The stream of one followed post: its place (platform, account, post number of the day) fixes it."""
    return np.random.default_rng([config.seed, _APPLIED_POSTS, day.toordinal(), p_idx, account, post_number])


def _draw_posts(
    rng: np.random.Generator, config: SimulatorConfig, day: date, platform: str, n: int, shift: gt.BehaviourShift | None
) -> dict[str, np.ndarray]:
    """The random draws of ``n`` posts that come before their account, in the order they were always drawn."""
    prof = gt.PLATFORMS[platform]
    # posting hours are spread over the whole day so every hour's effect is observable
    if shift is None:
        hours = rng.integers(0, 24, n)
    else:
        evening = rng.random(n) < 0.8
        lo, hi = shift.posting_hours
        hours = np.where(evening, rng.integers(lo, hi + 1, n), rng.integers(0, 24, n))
    seconds = rng.integers(0, 3600, n)
    hook = _choice(rng, shift.hook_mix if shift else {h: 1.0 for h in gt.HOOK_TYPES}, n)
    media_mix = prof.media_mix if (shift is None or platform == "tiktok") else shift.media_mix
    media = _choice(rng, media_mix, n)
    topic = _choice(rng, {t: 1.0 for t in gt.TOPICS}, n)
    lo_len, hi_len = prof.text_length_range
    text_length = rng.integers(lo_len, hi_len + 1, n)
    if shift is not None:
        text_length = np.round(text_length * shift.text_length_factor).astype(int)
    noise = rng.normal(0, gt.ENGAGEMENT_NOISE_SIGMA, n)
    impressions = prof.median_impressions * np.exp(rng.normal(0, gt.IMPRESSIONS_SIGMA, n))
    viral = np.zeros(n, dtype=bool)
    if day in config.spike_days:
        viral = rng.random(n) < config.spike_rate
        impressions = np.where(viral, impressions * VIRAL_FACTOR, impressions)
    impressions = np.maximum(np.round(impressions), 1).astype(np.int64)
    return {
        "post_seq": np.arange(n),
        "publish_hour": hours,
        "seconds": seconds,
        "hook_type": hook,
        "media_type": media,
        "topic": topic,
        "text_length": text_length,
        "noise": noise,
        "is_viral": viral,
        "impressions_total": impressions,
    }


def _follow(
    config: SimulatorConfig,
    day: date,
    p_idx: int,
    draws: dict[str, np.ndarray],
    applied: list[action_log.AppliedPost],
    shift: gt.BehaviourShift | None,
) -> tuple[dict[str, np.ndarray], dict[int, tuple[action_log.AppliedPost, np.random.Generator]]]:
    """Where the platform's applied posts go: post ``k`` of an account is its k-th drawn post of the day; one
    beyond the posts it drew is an extra post, appended (drawn from its own stream). Returns the draws with the
    extra posts and, for each row an applied post takes, the action and the post's stream (for its counters)."""
    platform = list(gt.PLATFORMS)[p_idx]
    rows: dict[int, tuple[action_log.AppliedPost, np.random.Generator]] = {}
    extra = []
    n_drawn = len(draws["post_seq"])
    for action in sorted(applied, key=lambda a: (a.account_seq, a.post_number)):
        if action.post_number >= ids.WIDE_POSTS_PER_ACCOUNT or action.account_seq >= ACCOUNTS_PER_PLATFORM:
            raise ValueError(f"{action.recommendation_id}: no post {action.post_number} of account {action.account_seq}")
        place_rng = _place_rng(config, day, p_idx, action.account_seq, action.post_number)
        own = np.flatnonzero(draws["account_seq"] == action.account_seq)
        if action.post_number < len(own):
            rows[int(own[action.post_number])] = (action, place_rng)
            continue
        more = _draw_posts(place_rng, config, day, platform, 1, shift)
        more["post_seq"] = np.array([ids.extra_post_seq(n_drawn, action.account_seq, action.post_number)])
        more["account_seq"] = np.array([action.account_seq])
        extra.append((more, action, place_rng))
    n = len(draws["post_seq"])
    if extra:
        draws = {k: np.concatenate([draws[k], *(m[k] for m, _, _ in extra)]) for k in draws}
        rows.update({n + i: (action, place_rng) for i, (_, action, place_rng) in enumerate(extra)})
    return draws, rows


def _log_multiplier(platform: str, d: dict[str, np.ndarray], peak_shift: int) -> np.ndarray:
    """The planted log-multiplier of each post's engagement: hour, hook, media, topic, then its own noise."""
    return (
        np.array([gt.hour_effect(platform, h + s / 3600, peak_shift) for h, s in zip(d["publish_hour"], d["seconds"])])
        + np.array([gt.HOOK_EFFECTS[h] for h in d["hook_type"]])
        + np.array([gt.MEDIA_EFFECTS[m] for m in d["media_type"]])
        + np.array([gt.TOPIC_EFFECTS[t] for t in d["topic"]])
        + d["noise"]
    )


def _posts_frame(
    day: date,
    platform: str,
    prof: gt.PlatformProfile,
    n: int,
    drawn: dict[str, np.ndarray],
    followed: dict[int, tuple[action_log.AppliedPost, np.random.Generator]],
    peak_shift: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The posts of one platform (the ``n`` drawn ones, then any extra applied ones): the planted effects, then
    the lifetime counters. The drawn posts' counters come from ``rng`` as in the open loop; a followed post's are
    drawn again from its own stream at its new hour and content, so what the account follows changes no other post."""
    d = {k: v.copy() for k, v in drawn.items()}
    recommendation = np.full(len(d["post_seq"]), None, dtype=object)
    for row, (action, _) in followed.items():
        if action.publish_hour is not None:
            d["publish_hour"][row] = action.publish_hour
        recommendation[row] = action.recommendation_id
        for name in ("hook_type", "media_type", "topic", "text_length"):
            value = getattr(action, name)
            if value is not None:
                d[name][row] = value
    open_loop = _log_multiplier(platform, {k: v[:n] for k, v in drawn.items()}, peak_shift)
    log_mult = _log_multiplier(platform, d, peak_shift) if followed else open_loop
    impressions = d["impressions_total"]
    frame = pd.DataFrame(
        {
            "platform": platform,
            "post_seq": d["post_seq"],
            "account_seq": d["account_seq"],
            "published_at": _day_start(day) + pd.to_timedelta(d["publish_hour"] * 3600 + d["seconds"], unit="s"),
            "publish_hour": d["publish_hour"],
            "hook_type": d["hook_type"],
            "media_type": d["media_type"],
            "topic": d["topic"],
            "text_length": d["text_length"],
            "true_log_multiplier": log_mult,
            "is_viral": d["is_viral"],
            "impressions_total": impressions,
            "half_life_hours": prof.half_life_hours,
        }
    )
    metrics = [(m, prof.base_rates.get(m)) for m in ("likes", "comments", "shares", "clicks", "quotes", "saves")]
    counts = {m: np.zeros(len(frame), dtype=np.int64) for m, rate in metrics if rate}
    for metric, rate in metrics:
        if rate:
            counts[metric][:n] = rng.poisson(impressions[:n] * rate * np.exp(open_loop))
    extra_half_life = np.full(len(frame), np.nan)
    for row, (_, place_rng) in sorted(followed.items()):
        for metric, rate in metrics:
            if rate:
                counts[metric][row] = place_rng.poisson(impressions[row] * rate * np.exp(log_mult[row]))
        if row >= n:
            extra_half_life[row] = np.exp(place_rng.normal(0, gt.HALF_LIFE_SIGMA))
    for metric, rate in metrics:
        frame[f"{metric}_total"] = counts[metric] if rate else pd.NA
    frame["applied_recommendation_id"] = recommendation
    frame["extra_half_life_factor"] = extra_half_life
    return frame


def _post_id(platform: str, native_id: str) -> str:
    if platform == "linkedin":
        return f"urn:li:share:{native_id}"
    if platform == "reddit":
        return "t3_" + np.base_repr(int(native_id), 36).lower()
    return native_id


def _tracked_posts(config: SimulatorConfig, day: date) -> pd.DataFrame:
    """Every post still polled on ``day``: those published on it and the ``MAX_POST_AGE_DAYS`` before."""
    return pd.concat(
        [posts_published_on(config, day - timedelta(days=k)) for k in range(MAX_POST_AGE_DAYS + 1)],
        ignore_index=True,
    )


def _snapshots(config: SimulatorConfig, day: date) -> pd.DataFrame:
    """Canonical snapshots polled on ``day``: counters grow with age along each platform's curve."""
    return _polls(config, _tracked_posts(config, day), day)


def _poll_delay_minutes(post_seq: np.ndarray, ages: np.ndarray) -> np.ndarray:
    # pollers run a few minutes late; the delay is fixed per post and poll so it is reproducible
    return (post_seq * 7 + ages.astype(int) * 3) % 11


def polls_on(posts: pd.DataFrame, day: date) -> tuple[np.ndarray, np.ndarray]:
    """The polls of ``posts`` that fall on ``day``: each one's row in ``posts`` (positional) and its index in
    ``SNAPSHOT_AGES_HOURS``, in post order, then age order (the order ``_polls`` keeps them in).

    Only one poll in eight of the tracked posts falls on a given day: deciding which from the times alone, one
    age at a time, spares expanding every post into its 44 polls to keep an eighth (at 50,000 posts a day, 17.6
    million rows of every column of the post, to keep 2.2 million)."""
    published = posts["published_at"].to_numpy("datetime64[ns]")
    post_seq = posts["post_seq"].to_numpy()
    start = np.datetime64(_day_start(day).to_datetime64(), "ns")
    end = start + np.timedelta64(1, "D")
    on_day = np.empty((len(posts), len(SNAPSHOT_AGES_HOURS)), dtype=bool)
    for j, age in enumerate(SNAPSHOT_AGES_HOURS):
        # the same instant _polls computes (whole minutes: exact in nanoseconds), compared with the day's bounds
        # rather than through a date per poll
        minutes = int(age) * 60 + _poll_delay_minutes(post_seq, np.full(len(posts), age))
        at = published + minutes.astype("timedelta64[m]").astype("timedelta64[ns]")
        on_day[:, j] = (at >= start) & (at < end)
    rows, ages = np.nonzero(on_day)  # row-major: post order, then age order
    return rows, ages


def _polls(config: SimulatorConfig, posts: pd.DataFrame, day: date | None = None) -> pd.DataFrame:
    """Every poll of ``posts`` (only those that fall on ``day`` when given) with the counters it read."""
    if day is None:
        rows = np.repeat(np.arange(len(posts)), len(SNAPSHOT_AGES_HOURS))
        ages = np.tile(np.arange(len(SNAPSHOT_AGES_HOURS)), len(posts))
    else:
        rows, ages = polls_on(posts, day)
    return _polls_at(config, posts, rows, ages)


def _polls_at(config: SimulatorConfig, posts: pd.DataFrame, rows: np.ndarray, age_index: np.ndarray) -> pd.DataFrame:
    """The polls ``(rows[i], SNAPSHOT_AGES_HOURS[age_index[i]])`` of ``posts``, with the counters each read. Every
    value depends on its own post and age only (a viral burst, a boost's lift: on its post's), so any slice of
    whole posts gives the same polls as the whole day."""
    snap = posts.iloc[rows].reset_index(drop=True)
    ages = SNAPSHOT_AGES_HOURS[age_index]
    delay_min = _poll_delay_minutes(snap["post_seq"].to_numpy(), ages)
    snap["snapshot_at"] = snap["published_at"] + pd.to_timedelta(ages * 60 + delay_min, unit="m")
    snap["age_hours"] = ages
    frac = _cumulative_share(config, snap)
    before_takeoff = snap["is_viral"].to_numpy(bool) & (snap["age_hours"].to_numpy() < VIRAL_TAKEOFF_AGE_HOURS)
    frac = np.where(before_takeoff, frac / VIRAL_FACTOR, frac)
    for metric in ("impressions", "likes", "comments", "shares", "clicks", "quotes", "saves"):
        total = pd.to_numeric(snap[f"{metric}_total"], errors="coerce")
        snap[metric] = np.floor(total * frac).astype("Int64")
    return planted.add_viral_bursts(config, snap)


def _texts(platform: str, s: pd.DataFrame, max_length: int | None = None) -> pd.Series:
    """Each snapshot's post text (post_text.py: its own seed per post, so no existing draw moves)."""
    posts = s.drop_duplicates("post_id")
    by_post = {
        pid: post_text.post_text(platform, pid, hook, topic, int(n) if max_length is None else min(int(n), max_length))
        for pid, hook, topic, n in zip(posts["post_id"], posts["hook_type"], posts["topic"], posts["text_length"])
    }
    return s["post_id"].map(by_post)


def _native_social(snap: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    for platform, s in snap.groupby("platform", sort=False):
        s = s.reset_index(drop=True)
        meta = {
            "cycle.polled_at": _iso_z(s["snapshot_at"]),
            "cycle.hook_type": s["hook_type"],
            "cycle.media_type": s["media_type"],
            "cycle.topic": s["topic"],
            "cycle.text_length": s["text_length"],
        }
        account = s["account_seq"].astype(str)
        if platform == "linkedin":
            engaged = s["likes"] + s["comments"] + s["shares"] + s["clicks"]
            native = {
                "share": s["post_id"],
                "organizationalEntity": "urn:li:organization:" + (80_000 + s["account_seq"]).astype(str),
                "created.time": _epoch_seconds(s["published_at"]) * 1000,
                "totalShareStatistics.impressionCount": s["impressions"],
                "totalShareStatistics.uniqueImpressionsCount": np.floor(s["impressions"] * 0.72).astype("Int64"),
                "totalShareStatistics.likeCount": s["likes"],
                "totalShareStatistics.commentCount": s["comments"],
                "totalShareStatistics.shareCount": s["shares"],
                "totalShareStatistics.clickCount": s["clicks"],
                "totalShareStatistics.engagement": (engaged / s["impressions"].where(s["impressions"] > 0)).astype(float),
                "commentary": _texts(platform, s),  # the post's text, as the Posts API gives it
            }
        elif platform == "x":
            native = {
                "id": s["post_id"],
                "author_id": "14" + (s["account_seq"] + 1000).astype(str),
                "created_at": _iso_z(s["published_at"]),
                "public_metrics.impression_count": s["impressions"],
                "public_metrics.like_count": s["likes"],
                "public_metrics.reply_count": s["comments"],
                "public_metrics.retweet_count": s["shares"],
                "public_metrics.quote_count": s["quotes"],
                "public_metrics.bookmark_count": s["saves"],
                "text": _texts(platform, s),
                # the author from the `includes.users` expansion (user.fields=username), joined onto the post
                "author.username": "cycle_brand_" + account,
            }
        elif platform == "reddit":
            ratio = np.clip(0.93 - 0.01 * s["account_seq"], 0.5, 1.0)
            # a self post (media_type text) is a title (its first sentence) and a body, `selftext`, that the parser
            # reads after it; any other post is a title only (its text cut to 300) and an empty body, as Reddit
            # serves a link post. post_text.reddit_submission splits the text with no random draw, as the fake
            # platform server does, so no other simulated value moves
            is_self = s["media_type"].eq("text")
            text = _texts(platform, s).where(is_self, _texts(platform, s, max_length=post_text.REDDIT_TITLE_CHARS))
            submissions = [post_text.reddit_submission(t, bool(self_)) for t, self_ in zip(text, is_self)]
            title, selftext = [t for t, _ in submissions], [b for _, b in submissions]
            native = {
                "name": s["post_id"],
                "author_fullname": "t2_cycle" + account,
                "created_utc": _epoch_seconds(s["published_at"]).astype(float),
                "view_count": s["impressions"],
                "ups": s["likes"],
                "score": np.floor(s["likes"] * (2 * ratio - 1)).astype("Int64"),
                "upvote_ratio": ratio,
                "num_comments": s["comments"],
                "num_crossposts": s["shares"],
                "title": title,  # one line of at most 300 characters
                "selftext": selftext,
                "permalink": [post_text.reddit_permalink(p, t) for p, t in zip(s["post_id"], title)],
                "author": "cycle_brand_" + account,
            }
        else:  # tiktok (Research API video object)
            native = {
                "id": s["post_id"],
                "username": "cycle_brand_" + account,
                "create_time": _epoch_seconds(s["published_at"]),
                "view_count": s["impressions"],
                "like_count": s["likes"],
                "comment_count": s["comments"],
                "share_count": s["shares"],
                "favorites_count": s["saves"],
                "video_description": _texts(platform, s),
            }
        out[platform] = pd.DataFrame({**native, **meta})
    return out


# ------------------------------------------------------------------------------------------ ad campaigns


@functools.lru_cache(maxsize=8)
def campaigns(config: SimulatorConfig) -> pd.DataFrame:
    """The advertiser's always-on campaigns on each ad platform (fixed per seed)."""
    rng = _rng(config, _CAMPAIGNS)
    currencies = {"google_ads": ("USD", "EUR"), "meta_ads": ("USD", "GBP"), "linkedin_ads": ("USD", "EUR", "CAD")}
    rows = []
    for p_idx, platform in enumerate(gt.AD_PLATFORMS):
        for i in range(config.campaigns_per_platform):
            ccy = currencies[platform][i % len(currencies[platform])]
            rows.append(
                {
                    "platform": platform,
                    "campaign_seq": i,
                    "campaign_id": str((6_100_000_000, 23_850_000_000_000_000, 512_000_000)[p_idx] + 1000 * p_idx + i),
                    "account_id": f"{platform[:2].upper()}-{1000 + i % len(currencies[platform])}",
                    "campaign_name": f"{platform.split('_')[0].title()} | {('Prospecting', 'Retargeting', 'Brand', 'Demo requests')[i % 4]} {i + 1}",
                    "currency": ccy,
                    "daily_budget_usd": float(rng.uniform(80, 900)),
                    "cpm_usd": float(rng.uniform(6, 35)),
                    "ctr": float(rng.uniform(0.006, 0.03)),
                    "cvr": float(rng.uniform(0.01, 0.07)),
                    "aov_usd": float(rng.uniform(40, 220)),
                    "frequency": float(rng.uniform(1.2, 2.6)),
                }
            )
    return pd.DataFrame(rows)


def _campaign_spend(config: SimulatorConfig, day: date) -> tuple[pd.DataFrame, pd.Series, np.random.Generator]:
    """The campaigns with their settings and budgets of ``day``, their spend (USD) and the day's generator, past
    the spend draw."""
    rng = _rng(config, _ADS, day)
    c = campaigns(config).copy()
    n = len(c)
    # the day's settings (ad_detail): a paused campaign delivers nothing, spend follows the day's budget
    settings = ad_detail.campaign_settings(c, config.seed, day)
    c = c.join(settings)
    c["daily_budget_usd"] = budget_response.scale_budget(config, day, c, c["daily_budget_usd"] * c["budget_factor"])
    c["daily_budget_local"] = np.round(c["daily_budget_usd"] / c["currency"].map(gt.USD_PER_UNIT), 2)
    spend_usd = c["daily_budget_usd"] * rng.uniform(0.8, 1.0, n) * c["is_active"]
    spend_usd = series_patterns.scale_spend(config, day, c, spend_usd)
    return c, spend_usd, rng


@functools.lru_cache(maxsize=4096)
def _spend_usd(config: SimulatorConfig, day: date) -> np.ndarray:
    """Every campaign's spend (USD) on ``day``: what the adstock of a budget response plan sums."""
    spend = _campaign_spend(config, day)[1].to_numpy(float)
    spend.flags.writeable = False
    return spend


def _ad_day(config: SimulatorConfig, day: date) -> pd.DataFrame:
    c, spend_usd, rng = _campaign_spend(config, day)
    n = len(c)
    impressions = np.round(spend_usd / c["cpm_usd"] * 1000 * rng.lognormal(0, 0.1, n)).astype(np.int64)
    clicks = rng.binomial(impressions, c["ctr"])
    conversions = rng.binomial(clicks, c["cvr"]).astype(float)
    conversions = budget_response.planted_conversions(
        config, day, campaigns(config), clicks, conversions, lambda d: _spend_usd(config, d)
    )
    value_usd = conversions * c["aov_usd"] * rng.lognormal(0, 0.15, n)
    c["metric_date"] = day
    c["spend_local"] = np.round(spend_usd / c["currency"].map(gt.USD_PER_UNIT), 2)
    c["impressions"] = impressions
    c["clicks"] = clicks
    c["conversions"] = conversions
    c["value_local"] = np.round(value_usd / c["currency"].map(gt.USD_PER_UNIT), 2)
    c["reach"] = np.round(impressions / c["frequency"]).astype(np.int64)
    return planted.apply_to_ad_day(config, day, c)


def _native_ads(ads: pd.DataFrame, boost_rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out = {}
    for platform, a in ads.groupby("platform", sort=False):
        a = a.reset_index(drop=True)
        if platform == "google_ads":
            # optional settings (campaign and campaign_budget resources), see ad_detail
            settings = {
                "campaign.advertisingChannelType": a["objective"],
                "campaign.status": a["status"],
                "campaign.biddingStrategyType": a["bidding_strategy"],
                "campaignBudget.amountMicros": ad_detail.micros(a["daily_budget_local"]),
            }
            out[platform] = ad_detail.google_ads_rows(a, settings)
        elif platform == "meta_ads":
            # optional settings: `objective` is an insights field, the rest the Campaign node's (daily_budget
            # in the currency's minor unit)
            settings = {
                "objective": a["objective"],
                "campaign.effective_status": a["status"],
                "campaign.daily_budget": ad_detail.minor_units(a["daily_budget_local"]),
                "campaign.bid_strategy": a["bidding_strategy"],
            }
            out[platform] = ad_detail.meta_insights_rows(a, {}, settings)
        else:  # LinkedIn adAnalytics (pivot CAMPAIGN, timeGranularity DAILY)
            frames = [a]
            if len(boost_rows):
                b = boost_rows
                frames.append(
                    pd.DataFrame(
                        {
                            "campaign_id": b["campaign_id"],
                            "account_id": "LI-BOOST",
                            "campaign_name": "Boost | " + b["post_id"],
                            "currency": b["currency"],
                            "metric_date": b["boost_date"],
                            "impressions": b["paid_impressions"],
                            "clicks": b["paid_clicks"],
                            "spend_local": b["spend"],
                            "conversions": 0.0,
                            "value_local": 0.0,
                            "reach": ad_detail.boost_reach(b["paid_impressions"]),
                            # a boost is an always-active engagement campaign at its flight's budget
                            "status": "ACTIVE",
                            "objective": "ENGAGEMENT",
                            "daily_budget_local": b["daily_budget"],
                            "bidding_strategy": "MAX_IMPRESSION",
                        }
                    )
                )
            a = pd.concat(frames, ignore_index=True)
            # optional settings of the adCampaign entity, joined by the client
            settings = {
                "campaign.status": a["status"],
                "campaign.objectiveType": a["objective"],
                "campaign.dailyBudget.amount": ad_detail.money(a["daily_budget_local"]),
                "campaign.optimizationTargetType": a["bidding_strategy"],
            }
            pivots = [[f"urn:li:sponsoredCampaign:{cid}"] for cid in a["campaign_id"]]
            out[platform] = ad_detail.linkedin_analytics_rows(a, pivots, settings)
    return out


# ------------------------------------------------------------------------------------------------ boosts


def boosts_started_for_posts_of(config: SimulatorConfig, publish_day: date) -> pd.DataFrame:
    """Boosts of LinkedIn posts published on ``publish_day``: the simulator's own draw (a flight of 3 days from the
    next day) and, in closed-loop mode, the boosts the account runs for a recommendation (the day's boost log,
    ``actions.read_boosts``), named in ``applied_recommendation_id`` (None for the others).

    An applied boost has the recommended start, duration and daily budget; how the post responds to it (the CPM
    it buys at, its paid engagement rate, its planted organic spillover) is drawn as the simulator's own boosts'
    are, from a stream of the post's own, so the other boosts stay the open loop's. A post the simulator's own draw
    boosts too is boosted once: the recommended flight replaces its own (same boost and campaign id, same response
    draws) when it starts on the same day; one the own boost would already be running by then cannot be boosted
    again (a ValueError; ``closed_loop.act`` reports such a recommendation as a conflict and never logs it)."""
    return _boosts_started_for_posts_of(
        config,
        publish_day,
        action_log.read_day(config.actions_dir, publish_day),
        action_log.read_boosts(config.actions_dir, publish_day),
    )


@functools.lru_cache(maxsize=64)
def _boosts_started_for_posts_of(
    config: SimulatorConfig, publish_day: date, applied: action_log.DayActions, boosted: action_log.DayBoosts = ()
) -> pd.DataFrame:
    own = _own_boosts(config, publish_day, applied)
    if not boosted:
        return own
    posts = _posts_published_on(config, publish_day, applied)
    li = posts[posts["platform"] == "linkedin"].set_index("post_id")
    own = own.copy()
    row_of = {pid: i for i, pid in enumerate(own["post_id"])}
    extra = []
    for b in sorted(boosted, key=lambda b: b.post_id):
        if b.platform != "linkedin" or b.post_id not in li.index:
            raise ValueError(
                f"{b.recommendation_id}: {b.platform} post {b.post_id} is not a LinkedIn post published on "
                f"{publish_day}: the simulator boosts LinkedIn posts (through LinkedIn Ads) only"
            )
        post = li.loc[b.post_id]
        if int(post["account_seq"]) != b.account_seq:
            raise ValueError(f"{b.recommendation_id}: post {b.post_id} is not account {b.account_seq}'s")
        flight = {"start_date": b.start_date, "end_date": b.end_date, "daily_budget": round(b.daily_budget_usd, 2)}
        if b.post_id in row_of:  # the simulator's own draw boosts it too: one boost, at the recommended flight
            i = row_of[b.post_id]
            if own.at[i, "start_date"] < b.start_date:
                raise ValueError(
                    f"{b.recommendation_id}: post {b.post_id} is already boosted from {own.at[i, 'start_date']} "
                    f"(the simulator's own boost {own.at[i, 'boost_id']}): it cannot be boosted again from {b.start_date}"
                )
            for column, value in flight.items():
                own.at[i, column] = value
            own.at[i, "applied_recommendation_id"] = b.recommendation_id
            continue
        # the post's response, drawn in the order the own boosts draw theirs (the spillover last), from its stream
        seq = int(post["post_seq"])
        rng = np.random.default_rng([config.seed, _APPLIED_BOOSTS, publish_day.toordinal(), seq])
        organic = float(post[["likes_total", "comments_total", "shares_total", "clicks_total"]].astype(float).sum())
        organic_rate = organic / float(post["impressions_total"])
        extra.append(
            {
                "boost_id": f"bst_{publish_day:%Y%m%d}_a{seq}",  # an own boost's is bst_<day>_<4 digits>: no clash
                "post_id": b.post_id,
                "campaign_id": ids.applied_boost_campaign_id(publish_day, seq),
                **flight,
                "currency": "USD",
                "cpm_usd": float(rng.uniform(12, 30)),
                "paid_engagement_rate": organic_rate * float(rng.uniform(0.4, 0.8)),
                "spillover_lift": config.boost_lift_scale
                * float(rng.lognormal(np.log(gt.BOOST_SPILLOVER.median_lift), gt.BOOST_SPILLOVER.sigma))
                * gt.BOOST_MEDIA_RESPONSE[post["media_type"]],
                "applied_recommendation_id": b.recommendation_id,
            }
        )
    if not extra:
        return own
    return pd.concat([own, pd.DataFrame(extra, columns=own.columns)], ignore_index=True)


@functools.lru_cache(maxsize=64)
def _own_boosts(config: SimulatorConfig, publish_day: date, applied: action_log.DayActions) -> pd.DataFrame:
    """The simulator's own draw of the boosts of ``publish_day``'s LinkedIn posts (what the open loop boosts)."""
    posts = _posts_published_on(config, publish_day, applied)  # the posts of that day's log (the cache key)
    li = posts[posts["platform"] == "linkedin"].reset_index(drop=True)
    rng = _rng(config, _BOOSTS, publish_day)
    chosen = li[rng.random(len(li)) < config.boost_rate].reset_index(drop=True)
    n = len(chosen)
    start = publish_day + timedelta(days=1)
    organic_rate = (
        chosen[["likes_total", "comments_total", "shares_total", "clicks_total"]].astype(float).sum(axis=1)
        / chosen["impressions_total"]
    )
    return pd.DataFrame(
        {
            "boost_id": [f"bst_{publish_day:%Y%m%d}_{i:04d}" for i in range(n)],
            "post_id": chosen["post_id"],
            "campaign_id": ids.boost_campaign_ids(publish_day, n),  # unique at any volume (ids.py)
            "start_date": start,
            "end_date": start + timedelta(days=BOOST_DAYS - 1),
            "currency": "USD",
            "daily_budget": np.round(rng.uniform(20, 150, n), 2),
            "cpm_usd": rng.uniform(12, 30, n),
            # paid audiences engage at a fraction of the post's organic rate: the planted paid effect
            "paid_engagement_rate": organic_rate.to_numpy() * rng.uniform(0.4, 0.8, n),
            # the planted organic spillover (ground_truth.BoostSpillover), drawn last to keep the draws above
            "spillover_lift": config.boost_lift_scale
            * rng.lognormal(np.log(gt.BOOST_SPILLOVER.median_lift), gt.BOOST_SPILLOVER.sigma, n)
            * chosen["media_type"].map(gt.BOOST_MEDIA_RESPONSE).to_numpy(float),
            "applied_recommendation_id": pd.Series([None] * n, dtype=object),
        }
    )


# How far back a day's deliveries look for the applied boosts in flight: the latest start after the post's day
# plus the longest flight (actions.py bounds both). Only the days with a boost log are read.
APPLIED_BOOST_LOOKBACK_DAYS = action_log.MAX_BOOST_START_DAYS + action_log.MAX_BOOST_FLIGHT_DAYS


def _applied_boosts_in_flight(config: SimulatorConfig, first: date, last: date) -> pd.DataFrame | None:
    """The boosts the account runs for a recommendation whose flight overlaps ``first..last`` (None: none logged)."""
    if config.actions_dir is None:
        return None
    days = [first - timedelta(days=k) for k in range(1, APPLIED_BOOST_LOOKBACK_DAYS + 1)]
    days += [first + timedelta(days=k) for k in range((last - first).days)]
    logged = [d for d in days if action_log.read_boosts(config.actions_dir, d)]
    if not logged:
        return None
    b = pd.concat([boosts_started_for_posts_of(config, d) for d in logged], ignore_index=True)
    b = b[b["applied_recommendation_id"].notna()]
    return b[(b["start_date"] <= last) & (b["end_date"] >= first)].reset_index(drop=True)


def _boost_flights(config: SimulatorConfig, publish_days) -> pd.DataFrame:
    """The boosts of the posts published on ``publish_days``, with their flight as UTC times."""
    b = pd.concat([boosts_started_for_posts_of(config, d) for d in publish_days], ignore_index=True)
    return pd.DataFrame(
        {
            "boost_id": b["boost_id"],
            "post_id": b["post_id"],
            "spillover_lift": b["spillover_lift"].astype(float),
            "flight_start_at": pd.to_datetime(b["start_date"]),
            "flight_end_at": pd.to_datetime(b["end_date"]) + pd.Timedelta(days=1),
        }
    )


def _cumulative_share(config: SimulatorConfig, snap: pd.DataFrame) -> np.ndarray:
    """Share of each post's lifetime counters reached at ``age_hours``, boosts' organic lift included."""
    flights = _boost_flights(config, sorted(set(snap["published_at"].dt.date)))
    f = snap[["post_id", "published_at"]].merge(flights, on="post_id", how="left")
    hours = pd.Timedelta(hours=1)
    start_age = ((f["flight_start_at"] - f["published_at"]) / hours).fillna(0.0).to_numpy()
    end_age = ((f["flight_end_at"] - f["published_at"]) / hours).fillna(0.0).to_numpy()
    lift = f["spillover_lift"].fillna(0.0).to_numpy()
    return gt.boosted_cumulative_share(
        snap["age_hours"].to_numpy(), snap["half_life_hours"].to_numpy(), start_age, end_age, lift
    )


def _boost_day(config: SimulatorConfig, day: date) -> pd.DataFrame:
    """Every boost's delivery on ``day``. The simulator's own boosts of the 3 days before deliver from the day's
    stream, drawn for exactly the open loop's boosts; a boost the account runs for a recommendation (a replaced
    own one included) delivers from a stream of its own, so what the account boosts moves no other boost."""
    publish_days = [day - timedelta(days=k) for k in range(1, BOOST_DAYS + 1)]
    active = pd.concat(
        [_own_boosts(config, d, action_log.read_day(config.actions_dir, d)) for d in publish_days], ignore_index=True
    )
    delivered = _deliver(active, _rng(config, _BOOSTS * 100, day), day)
    applied = _applied_boosts_in_flight(config, day, day)
    if applied is None:
        return delivered
    # an own boost the account re-flighted is delivered (if in flight) as an applied one
    started = pd.concat([boosts_started_for_posts_of(config, d) for d in publish_days], ignore_index=True)
    replaced = set(started.loc[started["applied_recommendation_id"].notna(), "boost_id"])
    own = delivered[~delivered["boost_id"].isin(replaced)]
    streams = [
        np.random.default_rng([config.seed, _APPLIED_BOOST_DELIVERY, day.toordinal(), int(c)]) for c in applied["campaign_id"]
    ]
    runs = [_deliver(applied.iloc[[i]], rng, day) for i, rng in enumerate(streams)]
    return pd.concat([own, *runs], ignore_index=True)


def _deliver(active: pd.DataFrame, rng: np.random.Generator, day: date) -> pd.DataFrame:
    """The ``active`` boosts' paid delivery on ``day`` (spend under the daily budget, impressions at the CPM, paid
    engagements at the paid rate), drawn from ``rng``."""
    n = len(active)
    spend = np.round(active["daily_budget"].to_numpy(float) * rng.uniform(0.85, 1.0, n), 2)
    impressions = np.round(spend / active["cpm_usd"].to_numpy(float) * 1000).astype(np.int64)
    return active.reset_index(drop=True).assign(
        boost_date=day,
        spend=spend,
        paid_impressions=impressions,
        paid_engagements=rng.poisson(impressions * active["paid_engagement_rate"].to_numpy(float)).astype(np.int64),
        paid_clicks=rng.binomial(impressions, 0.006).astype(np.int64),
        organic_platform="linkedin",
        ad_platform="linkedin_ads",
    )


def _native_boosts(b: pd.DataFrame) -> pd.DataFrame:
    """Cycle's boost registry joined with the ad platform's creative-level delivery of that day."""
    return pd.DataFrame(
        {
            "boost_id": b["boost_id"],
            "organic.platform": b["organic_platform"],
            "organic.post_id": b["post_id"],
            "paid.platform": b["ad_platform"],
            "paid.campaign_id": b["campaign_id"],
            "flight.start_date": pd.to_datetime(b["start_date"]).dt.strftime("%Y-%m-%d"),
            "flight.end_date": pd.to_datetime(b["end_date"]).dt.strftime("%Y-%m-%d"),
            "budget.currency": b["currency"],
            "budget.daily_amount": ad_detail.money(b["daily_budget"]),
            "delivery.date": pd.to_datetime(b["boost_date"]).dt.strftime("%Y-%m-%d"),
            "delivery.spend": ad_detail.money(b["spend"]),
            "delivery.impressions": b["paid_impressions"],
            "delivery.engagements": b["paid_engagements"],
            "delivery.clicks": b["paid_clicks"],
        }
    )


# ---------------------------------------------------------------------------------------------- journeys

# The web property (site) Cycle's tracking snippet runs on in the simulated world: every journey is
# tracked there. A constant, not a random draw, so the journeys' random streams stay as they were.
WEB_PROPERTY = "cycle-demo"


def _journeys(config: SimulatorConfig, day: date) -> pd.DataFrame:
    """Tracked events of journeys whose last event falls on ``day``: touchpoints, then maybe a conversion."""
    rng = _rng(config, _JOURNEYS, day)
    n = config.journeys_per_day
    channels = list(gt.CHANNEL_TOUCH_MIX)
    p_mix = np.array([gt.CHANNEL_TOUCH_MIX[c] for c in channels])
    n_touches = np.minimum(1 + rng.poisson(1.8, n), 8)
    end_at = _day_start(day) + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s")
    effects = np.array([gt.CHANNEL_CONVERSION_EFFECTS[c] for c in channels])
    funnel = gt.funnel_chain() if config.journey_model == "funnel" else None
    rows = []
    for j in range(n):
        if funnel is not None:
            ch_idx, converted = _funnel_walk(rng, funnel)
            k = len(ch_idx)
        else:
            k = int(n_touches[j])
            ch_idx = rng.choice(len(channels), size=k, p=p_mix / p_mix.sum())
            logit = gt.CONVERSION_BASE_LOGIT + effects[np.unique(ch_idx)].sum()
            converted = rng.random() < 1 / (1 + np.exp(-logit))
        # touches spread over the 14 days before the journey's end, the last within 2 days of it (in the
        # funnel world the conversion happens during the last touch's visit: within the hour)
        offsets = np.sort(rng.uniform(0, 14 * 86_400, k))[::-1]
        offsets[-1] = (rng.uniform(60, 3_600) if funnel is not None else rng.uniform(600, 2 * 86_400)) if converted else 0.0
        offsets = np.maximum.accumulate(offsets[::-1])[::-1]  # keep chronological order
        jid = f"jrn_{day:%Y%m%d}_{j:06d}"
        user = f"anon_{config.seed}_{day.toordinal()}_{j}"
        for t in range(k):
            ch = channels[ch_idx[t]]
            src, med = gt.CHANNEL_UTM[ch]
            rows.append((f"{jid}_{t}", jid, user, end_at[j] - pd.Timedelta(seconds=float(offsets[t])), "touchpoint", src, med, ch if med != "social" else "organic", None, None))
        if converted:
            value = float(np.round(rng.lognormal(np.log(90), 0.5), 2))
            ccy = "EUR" if rng.random() < 0.2 else "USD"
            rows.append((f"{jid}_conv", jid, user, end_at[j], "conversion", None, None, None, round(value / gt.USD_PER_UNIT[ccy], 2), ccy))
    t = pd.DataFrame(rows, columns=["event_id", "journey_id", "anonymous_id", "timestamp", "event", "utm_source", "utm_medium", "utm_campaign", "revenue", "currency"])
    t = _tag_linkedin_touches(config, day, t)
    # events of a journey that ends on `day` may start earlier; they still belong to the journey's day
    t["timestamp"] = _iso_z(t["timestamp"])
    t.insert(0, "property_id", WEB_PROPERTY)
    return t


def _funnel_walk(rng: np.random.Generator, chain: gt.FunnelChain) -> tuple[np.ndarray, bool]:
    """One funnel-world journey (see ground_truth): its channels (indices into ``chain.channels``, the
    order of CHANNEL_TOUCH_MIX) and whether it converted, at its last touch."""
    touch = int(rng.choice(len(chain.first), p=chain.first))
    walk = [touch]
    while True:
        if rng.random() < chain.hazard[touch]:
            return np.array(walk), True
        if len(walk) >= gt.FUNNEL_MAX_TOUCHES or rng.random() >= gt.FUNNEL_CONTINUE:
            return np.array(walk), False
        touch = int(rng.choice(len(chain.first), p=chain.following[touch]))
        walk.append(touch)


def _tag_linkedin_touches(config: SimulatorConfig, day: date, t: pd.DataFrame) -> pd.DataFrame:
    """Name the post behind each LinkedIn touch (utm_content) and the boost behind boosted ad clicks
    (utm_campaign = the boost's campaign id), as Cycle's link tagging does; see ground_truth for the odds.
    A separate random stream: the journeys themselves stay as they were."""
    rng = _rng(config, _BOOST_TOUCHES, day)
    t = t.assign(utm_content=None)
    at = pd.to_datetime(t["timestamp"])
    organic = ((t["utm_source"] == "linkedin") & (t["utm_medium"] == "social")).to_numpy()
    paid = ((t["utm_source"] == "linkedin") & (t["utm_medium"] == "paid_social")).to_numpy()
    first = (at.min() if len(t) else _day_start(day)).date()
    # paid: a click during a flight comes from one of the active boosts, in proportion to their budgets
    boosts = pd.concat(
        [boosts_started_for_posts_of(config, first - timedelta(days=k)) for k in range(1, BOOST_DAYS + 1)]
        + [boosts_started_for_posts_of(config, first + timedelta(days=k)) for k in range((day - first).days)],
        ignore_index=True,
    )
    # a boost the account runs for a recommendation may fly later or longer than the simulator's own: add those of
    # older posts still in flight (none without a boost log, so the open loop's draws stay as they were)
    applied = _applied_boosts_in_flight(config, first, day)
    if applied is not None:
        boosts = pd.concat([boosts, applied[~applied["boost_id"].isin(boosts["boost_id"])]], ignore_index=True)
    content = t["utm_content"].to_numpy(dtype=object)
    campaign = t["utm_campaign"].to_numpy(dtype=object)
    boost_post = pd.Series(None, index=t.index, dtype=object)
    touch_day = at.dt.date.to_numpy()
    from_boost = rng.random(len(t)) < gt.BOOST_PAID_TOUCH_SHARE
    pick = rng.random(len(t))
    for i in np.flatnonzero(paid & from_boost):
        active = boosts[(boosts["start_date"] <= touch_day[i]) & (boosts["end_date"] >= touch_day[i])]
        if active.empty:
            continue
        cum = np.cumsum(active["daily_budget"].to_numpy())
        j = int(np.searchsorted(cum, pick[i] * cum[-1], side="right"))
        campaign[i] = active["campaign_id"].iat[j]
        content[i] = boost_post.iat[i] = active["post_id"].iat[j]
    # organic: the post is one published in the 3 days before the touch; after a boost's ad, the boosted post
    days = [first - timedelta(days=k) for k in range(1, 4)] + [first + timedelta(days=k) for k in range((day - first).days + 1)]
    # the LinkedIn posts' ids and times only: concatenating whole days of posts (50,000 a day at volume) took seconds
    li = pd.concat(
        [p.loc[p["platform"] == "linkedin", ["post_id", "published_at"]] for p in (posts_published_on(config, d) for d in days)],
        ignore_index=True,
    ).sort_values("published_at")
    published = li["published_at"].to_numpy()
    post_ids = li["post_id"].to_numpy()
    seen_boost = pd.Series(boost_post.to_numpy(), index=t["journey_id"]).dropna()
    seen_boost = seen_boost[~seen_boost.index.duplicated()]
    follow_up = rng.random(len(t)) < gt.BOOST_ORGANIC_FOLLOW_UP
    uniform = rng.random(len(t))
    touch_at = at.to_numpy()
    post_published = dict(zip(li["post_id"], published))
    for i in np.flatnonzero(organic):
        boosted = seen_boost.get(t["journey_id"].iat[i])
        if boosted is not None and follow_up[i] and post_published.get(boosted, touch_at[i]) <= touch_at[i]:
            content[i] = boosted
            continue
        lo = np.searchsorted(published, touch_at[i] - np.timedelta64(72, "h"), side="left")
        hi = np.searchsorted(published, touch_at[i], side="right")
        if hi > lo:
            content[i] = post_ids[lo + int(uniform[i] * (hi - lo))]
    return t.assign(utm_content=content, utm_campaign=campaign)


# ------------------------------------------------------------------------------------------ AI generations


def _ai_generations(config: SimulatorConfig, day: date) -> pd.DataFrame:
    rng = _rng(config, _AI, day)
    n = config.ai_generations_per_day
    models = _choice(rng, {m: v[0] for m, v in gt.AI_MODELS.items()}, n)
    platforms = _choice(rng, {p: prof.share_of_posts for p, prof in gt.PLATFORMS.items()}, n)
    prompt = rng.integers(250, 1400, n)
    completion = np.where(platforms == "x", rng.integers(30, 120, n), rng.integers(80, 600, n))
    status = _choice(rng, {"succeeded": 0.96, "failed": 0.03, "filtered": 0.01}, n)
    completion = np.where(status == "succeeded", completion, 0)
    price_in = np.array([gt.AI_MODELS[m][1] for m in models])
    price_out = np.array([gt.AI_MODELS[m][2] for m in models])
    latency = np.array([gt.AI_MODELS[m][3] for m in models]) * rng.lognormal(0, 0.3, n)
    posts = posts_published_on(config, day)
    post_id = np.full(n, None, dtype=object)
    for platform in gt.ORGANIC_PLATFORMS:
        candidates = posts.loc[posts["platform"] == platform, "post_id"].to_numpy()
        idx = np.flatnonzero((platforms == platform) & (status == "succeeded") & (rng.random(n) < 0.6))
        if len(candidates) and len(idx):
            post_id[idx] = candidates[rng.integers(0, len(candidates), len(idx))]
    created = _day_start(day) + pd.to_timedelta(np.sort(rng.integers(0, 86_400, n)), unit="s")
    return pd.DataFrame(
        {
            "id": [f"gen-{day:%Y%m%d}-{i:06d}" for i in range(n)],
            "object": "chat.completion",
            "created": _epoch_seconds(pd.Series(created)),
            "model": models,
            "usage.prompt_tokens": prompt,
            "usage.completion_tokens": completion,
            "usage.total_tokens": prompt + completion,
            "cycle.platform": platforms,
            "cycle.post_id": post_id,
            "cycle.status": status,
            "cycle.latency_ms": np.round(latency).astype(np.int64),
            "cycle.cost_usd": np.round(prompt / 1000 * price_in + completion / 1000 * price_out, 6),
        }
    )


# ------------------------------------------------------------------------------------------- experiments


def experiments_running_on(config: SimulatorConfig, day: date) -> pd.DataFrame:
    """The A/B test each factor runs on ``day`` (back-to-back, staggered), with its planted true effect."""
    rows = []
    for i, design in enumerate(gt.EXPERIMENT_DESIGNS):
        start = day - timedelta(days=(day.toordinal() - 3 * i) % gt.EXPERIMENT_DAYS)
        rng = _rng(config, _EXPERIMENTS * 100 + i, start)
        null = rng.random() < gt.EXPERIMENT_NULL_SHARE
        effect = 0.0 if null else design.mde * rng.uniform(*design.effect_in_mdes)
        rows.append(
            {
                "experiment_id": f"exp_{start:%Y%m%d}_{design.factor}",
                "experiment_name": f"{design.factor}: {design.treatment} vs {design.control}",
                "factor": design.factor,
                "start_date": start,
                "end_date": start + timedelta(days=gt.EXPERIMENT_DAYS - 1),
                "design": design,
                "true_effect": effect,
            }
        )
    return pd.DataFrame(rows)


def _experiment_observations(config: SimulatorConfig, day: date) -> pd.DataFrame:
    """One record per unit exposed that day: the experimentation platform's exposure-with-outcome export."""
    rng = _rng(config, _EXPERIMENTS, day)
    n = config.experiment_units_per_day
    frames = []
    for exp in experiments_running_on(config, day).itertuples():
        d: gt.ExperimentDesign = exp.design
        for role, variant in (("control", d.control), ("treatment", d.treatment)):
            mean = d.baseline_mean + (exp.true_effect if role == "treatment" else 0.0)
            if d.metric_kind == "binary":
                values = (rng.random(n) < mean).astype(np.int64)
            else:  # right-skewed durations with the design's coefficient of variation
                shape = (d.baseline_mean / d.baseline_sd) ** 2
                values = np.round(rng.gamma(shape, mean / shape, n), 2)
            exposed = _day_start(day) + pd.to_timedelta(np.sort(rng.integers(0, 86_400, n)), unit="s")
            frames.append(
                pd.DataFrame(
                    {
                        "experiment.id": exp.experiment_id,
                        "experiment.name": exp.experiment_name,
                        "experiment.factor": exp.factor,
                        "experiment.start_date": f"{exp.start_date:%Y-%m-%d}",
                        "experiment.end_date": f"{exp.end_date:%Y-%m-%d}",
                        "experiment.metric.name": d.metric,
                        "experiment.metric.type": d.metric_kind,
                        "experiment.design.baseline_mean": d.baseline_mean,
                        "experiment.design.baseline_sd": d.baseline_sd,
                        "experiment.design.mde": d.mde,
                        "experiment.design.alpha": gt.EXPERIMENT_ALPHA,
                        "experiment.design.power": gt.EXPERIMENT_POWER,
                        "variant.key": variant,
                        "variant.role": role,
                        "unit.id": [f"u_{day:%Y%m%d}_{exp.factor}_{role[0]}{j:05d}" for j in range(n)],
                        "exposure.timestamp": _iso_z(pd.Series(exposed)),
                        "outcome.value": values,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------------------- malformed data

# How each entity's records get corrupted: (field, bad value, what the parser must say about it)
_CORRUPTIONS: dict[str, list[tuple[str, object]]] = {
    "social_posts:linkedin": [("totalShareStatistics.likeCount", -3), ("share", None)],
    "social_posts:x": [("public_metrics.impression_count", "n/a"), ("created_at", "yesterday")],
    "social_posts:reddit": [("name", None), ("num_comments", -1)],
    "social_posts:tiktok": [("view_count", "1.2k"), ("cycle.polled_at", "1999-01-01T00:00:00.000Z")],
    "ad_campaigns:google_ads": [("metrics.costMicros", "12,5"), ("customer.currencyCode", "XXX")],
    "ad_campaigns:meta_ads": [("spend", "abc"), ("clicks", "-4")],
    "ad_campaigns:linkedin_ads": [("costInLocalCurrency", None), ("pivotValues", [])],
    "boosts": [("delivery.spend", "-5.00"), ("organic.post_id", None)],
    "touchpoints": [("anonymous_id", None), ("timestamp", "not-a-time")],
    "ai_generations": [("usage.prompt_tokens", -10), ("cycle.status", "exploded")],
    "experiment_observations": [("outcome.value", "n/a"), ("variant.role", None)],
    "ad_creatives:google_ads": [("metrics.impressions", "1,2k"), ("adGroupAd.ad.id", None)],
    "ad_creatives:meta_ads": [("spend", "-1.00"), ("ad_id", None)],
    "ad_creatives:linkedin_ads": [("pivotValues", ["urn:li:sponsoredCampaign:1"]), ("costInLocalCurrency", "n/a")],
}


def _corruption_targets(sim: SimulatedDay) -> list[tuple[str, str | None, pd.DataFrame]]:
    """Every frame of ``sim`` that may be corrupted, in the order the corruptions are drawn."""
    return [
        *(("social_posts", p, f) for p, f in sim.social_posts.items()),
        *(("ad_campaigns", p, f) for p, f in sim.ad_campaigns.items()),
        ("boosts", None, sim.boosts),
        ("touchpoints", None, sim.touchpoints),
        ("ai_generations", None, sim.ai_generations),
        ("experiment_observations", None, sim.experiment_observations),
        *(("ad_creatives", p, f) for p, f in sim.ad_creatives.items()),
    ]


def _corrupted_rows(config: SimulatorConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    """Which of a frame's ``n`` rows get corrupted (the draw advances ``rng`` by ``n`` whatever the rate)."""
    return np.flatnonzero(rng.random(n) < config.malformed_rate)


def _apply_corruptions(
    entity: str, platform: str | None, frame: pd.DataFrame, rows: np.ndarray, first: int = 0, offset: int = 0
) -> list[tuple[str, str | None, int, str]]:
    """Corrupt ``frame``'s ``rows`` (the ``first``-th corruption of the frame onwards; ``offset``: the frame's first
    row in the whole frame it is a slice of, which the log names). Returns the log entries."""
    corruptions = _CORRUPTIONS[f"{entity}:{platform}" if platform else entity]
    log = []
    for i, row in enumerate(rows, start=first):
        field, bad = corruptions[i % len(corruptions)]
        if frame[field].dtype != object:
            frame[field] = frame[field].astype(object)
        frame.at[row - offset, field] = bad
        log.append((entity, platform, int(row), field))
    return log


def _corrupt(config: SimulatorConfig, day: date, sim: SimulatedDay, rng: np.random.Generator | None = None) -> None:
    """Corrupt a share ``malformed_rate`` of ``sim``'s records in place, logging them in ``sim.malformed``; ``rng``:
    the day's corruption stream where part of it was drawn already (``PlatformSimulator.day_chunks``)."""
    if config.malformed_rate <= 0:
        return
    rng = rng if rng is not None else _rng(config, _MALFORMED, day)
    log = []
    for entity, platform, frame in _corruption_targets(sim):
        if frame.empty:
            continue
        log += _apply_corruptions(entity, platform, frame, _corrupted_rows(config, rng, len(frame)))
    sim.malformed = pd.DataFrame(log, columns=["entity", "platform", "row", "field"])


def _post_slices(post_of_poll: np.ndarray, max_rows: int) -> list[tuple[int, int]]:
    """``[start, end)`` slices of polls (grouped by post, ``post_of_poll`` their posts) of at most ``max_rows`` polls
    each, never splitting a post (one with more polls than that is a slice of its own)."""
    n = len(post_of_poll)
    bounds = np.concatenate([[0], np.flatnonzero(post_of_poll[1:] != post_of_poll[:-1]) + 1, [n]])
    slices = []
    start = 0
    while start < n:
        end = int(bounds[np.searchsorted(bounds, start + max_rows, side="right") - 1])
        if end <= start:  # one post beyond max_rows on its own
            end = int(bounds[np.searchsorted(bounds, start, side="right")])
        slices.append((start, end))
        start = end
    return slices


# ------------------------------------------------------------------------------------------------- facade


class PlatformSimulator:
    """Entry point: ``PlatformSimulator(config).day(date)`` gives that day's native records."""

    def __init__(self, config: SimulatorConfig | None = None):
        self.config = config or SimulatorConfig()

    def day(self, day: date) -> SimulatedDay:
        cfg = self.config
        sim = self._day_without_social(day)
        sim.social_posts = _native_social(_snapshots(cfg, day))
        _corrupt(cfg, day, sim)
        return sim

    def day_chunks(self, day: date, max_rows: int, platforms: Collection[str] | None = None) -> Iterator[SimulatedDay]:
        """``day(day)`` in pieces, so that memory follows ``max_rows`` rather than the day's volume: first every
        entity but the social snapshots, whole (thousands of rows at 50,000 posts a day); then the snapshots (2.2
        million rows at that volume) of one platform at a time, in slices of whole posts of at most ``max_rows``
        polls (a post with more is a slice of its own), each piece's ``malformed`` naming rows of the whole
        platform's frame.

        Concatenated, the pieces are ``day(day)`` exactly: the same rows in the same order, the same values and
        the same corruptions (the social ones are drawn for each platform's whole frame first, as ``day`` draws
        them, then the other entities' from the same stream). A piece is only computed when asked for; with
        ``platforms``, only those platforms' snapshots are (a connector serves the others), the rest unchanged."""
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        cfg = self.config
        posts = _tracked_posts(cfg, day)
        rows, ages = polls_on(posts, day)
        platform_of_poll = posts["platform"].to_numpy()[rows]
        # the platforms in the order the whole day's frames come in (_native_social: order of first appearance)
        in_order = list(pd.unique(platform_of_poll))
        polls_of = {p: np.flatnonzero(platform_of_poll == p) for p in in_order}
        # every platform's draws, asked for or not: the stream then goes on to the other entities as in day()
        rng = _rng(cfg, _MALFORMED, day) if cfg.malformed_rate > 0 else None
        bad = {p: _corrupted_rows(cfg, rng, len(polls_of[p])) for p in in_order} if rng is not None else {}
        rest = self._day_without_social(day)
        if rng is not None:
            _corrupt(cfg, day, rest, rng)
        yield rest
        for platform in in_order:
            if platforms is not None and platform not in platforms:
                continue
            idx = polls_of[platform]
            corrupted = bad.get(platform, np.array([], dtype=np.int64))
            # a column the day corrupts is text (object) in every piece, as it is in the whole day's frame
            kinds = _CORRUPTIONS[f"social_posts:{platform}"]
            touched = {kinds[i % len(kinds)][0] for i in range(min(len(corrupted), len(kinds)))}
            for start, end in _post_slices(rows[idx], max_rows):
                snap = _polls_at(cfg, posts, rows[idx[start:end]], ages[idx[start:end]])
                frame = _native_social(snap)[platform]
                for field in touched:
                    frame[field] = frame[field].astype(object)
                lo, hi = np.searchsorted(corrupted, [start, end])
                log = _apply_corruptions("social_posts", platform, frame, corrupted[lo:hi], first=int(lo), offset=start)
                yield SimulatedDay(
                    day=day,
                    social_posts={platform: frame},
                    ad_campaigns={},
                    boosts=pd.DataFrame(),
                    touchpoints=pd.DataFrame(),
                    ai_generations=pd.DataFrame(),
                    malformed=pd.DataFrame(log, columns=["entity", "platform", "row", "field"]),
                )

    def _day_without_social(self, day: date) -> SimulatedDay:
        """Every entity of ``day`` but the social snapshots (``social_posts`` empty), uncorrupted."""
        cfg = self.config
        boost_rows = _boost_day(cfg, day)
        ads = _ad_day(cfg, day)
        creatives = pd.concat(
            [ad_detail.creative_days(ads, cfg.seed, day), ad_detail.boost_creative_days(boost_rows)], ignore_index=True
        )
        return SimulatedDay(
            day=day,
            social_posts={},
            ad_campaigns=_native_ads(ads, boost_rows),
            boosts=_native_boosts(boost_rows),
            touchpoints=_journeys(cfg, day),
            ai_generations=_ai_generations(cfg, day),
            malformed=pd.DataFrame(columns=["entity", "platform", "row", "field"]),
            experiment_observations=_experiment_observations(cfg, day),
            ad_creatives=ad_detail.native_creatives(creatives),
        )

    # ---- ground truth, for tests and docs
    def posts(self, start: date, end: date) -> pd.DataFrame:
        days = pd.date_range(start, end, freq="D").date
        return pd.concat([posts_published_on(self.config, d) for d in days], ignore_index=True)

    def boosts(self, start: date, end: date) -> pd.DataFrame:
        """Boost flights with their true paid delivery, by flight day."""
        days = pd.date_range(start, end, freq="D").date
        return pd.concat([_boost_day(self.config, d) for d in days], ignore_index=True)

    def boost_truth(self, start: date, end: date) -> pd.DataFrame:
        """Every boost of the posts published ``start..end`` with its planted organic lift:
        ``true_incremental_engagements`` is what the boost added to the post's organic engagements by the
        end of its flight; ``true_incremental_engagements_at`` gives it at any post age."""
        days = list(pd.date_range(start, end, freq="D").date)
        posts = self.posts(start, end)
        flights = _boost_flights(self.config, days)
        b = flights.merge(posts, on="post_id", how="inner")
        out = b[["boost_id", "post_id", "platform", "published_at", "flight_start_at", "flight_end_at", "spillover_lift"]].copy()
        out["half_life_hours"] = b["half_life_hours"].astype(float)
        for m in _ENGAGEMENT_METRICS:
            out[f"{m}_total"] = pd.to_numeric(b[f"{m}_total"], errors="coerce").fillna(0).astype(float)
        hours = pd.Timedelta(hours=1)
        out["flight_start_age_hours"] = (out["flight_start_at"] - out["published_at"]) / hours
        out["flight_end_age_hours"] = (out["flight_end_at"] - out["published_at"]) / hours
        out["true_incremental_engagements"] = self.true_incremental_engagements_at(out, out["flight_end_age_hours"])
        return out

    @staticmethod
    def true_incremental_engagements_at(truth: pd.DataFrame, age_hours) -> np.ndarray:
        """Organic engagements each boost of ``truth`` (from ``boost_truth``) added by post age ``age_hours``:
        the boosted counters minus the unboosted ones, each rounded down as the snapshots are."""
        age = np.asarray(age_hours, dtype=float)
        hl = truth["half_life_hours"].to_numpy(float)
        boosted = gt.boosted_cumulative_share(
            age,
            hl,
            truth["flight_start_age_hours"].to_numpy(float),
            truth["flight_end_age_hours"].to_numpy(float),
            truth["spillover_lift"].to_numpy(float),
        )
        unboosted = gt.cumulative_share(age, hl)
        added = np.zeros(len(truth))
        for m in _ENGAGEMENT_METRICS:
            total = truth[f"{m}_total"].to_numpy(float)
            added += np.floor(total * boosted) - np.floor(total * unboosted)
        return added

    def post_trajectories(self, start: date, end: date, platforms: tuple[str, ...] | None = None) -> pd.DataFrame:
        """Every poll over the whole tracked life of the posts published ``start..end`` (what the daily
        snapshots of those days and the 7 after them hold together), boosts' organic lift included."""
        posts = self.posts(start, end)
        if platforms is not None:
            posts = posts[posts["platform"].isin(platforms)].reset_index(drop=True)
        return _polls(self.config, posts)

    def experiments(self, start: date, end: date) -> pd.DataFrame:
        """The A/B tests running on any day of ``start..end``, with their planted true effects."""
        days = pd.date_range(start, end, freq="D").date
        frames = [experiments_running_on(self.config, d) for d in days]
        return pd.concat(frames, ignore_index=True).drop_duplicates("experiment_id").reset_index(drop=True)

    def experiment_observations(self, start: date, end: date) -> pd.DataFrame:
        """The native experiment records of ``start..end`` (what ``day().experiment_observations`` holds,
        without generating the other entities)."""
        days = pd.date_range(start, end, freq="D").date
        return pd.concat([_experiment_observations(self.config, d) for d in days], ignore_index=True)

    def anomalies(self, start: date, end: date) -> pd.DataFrame:
        """The anomalies planted on ``start..end`` (``SimulatorConfig.anomalies``): kind, platform, campaign_id,
        metric_date, magnitude; empty without a plan."""
        return planted.planted_anomalies(self.config, start, end, lambda day: _ad_day(self.config, day))

    def budget_curves(self) -> pd.DataFrame:
        """Each always-on campaign's planted response curve (``SimulatorConfig.budget_response``): decay,
        half_saturation_usd, ceiling; ``budget_response`` computes expectations and the oracle allocation from it.
        A ValueError without a plan."""
        return budget_response.curves(self.config, campaigns(self.config))

    @staticmethod
    def strongest_posting_hour(platform: str) -> int:
        return gt.strongest_posting_hour(platform)
