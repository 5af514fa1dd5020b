"""The simulator's generating effects, exposed so tests can check that the pipeline recovers them.

Everything the simulator draws comes from these numbers plus seeded noise; nothing else is hidden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from analytics_assets.contracts.raw import AD_PLATFORMS, ORGANIC_PLATFORMS  # noqa: F401 (the raw contract)

HOOK_TYPES = ("question", "statistic", "story", "bold_claim", "how_to", "list", "none")
MEDIA_TYPES = ("text", "image", "video", "carousel", "link")
TOPICS = ("product", "industry_news", "thought_leadership", "culture", "tutorial", "promotion")
CHANNELS = (
    "linkedin_organic",
    "x_organic",
    "reddit_organic",
    "tiktok_organic",
    "google_ads",
    "meta_ads",
    "linkedin_ads",
)

# Static FX table shared with dbt's `currency_rates_usd` seed: spend is drawn in USD, then expressed
# in the account currency, so converting back in dbt must give the drawn USD figure.
USD_PER_UNIT = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "CAD": 0.73, "AUD": 0.66}


@dataclass(frozen=True)
class PlatformProfile:
    share_of_posts: float
    peak_hour: int  # UTC hour with the strongest engagement effect
    median_impressions: float
    half_life_hours: float  # how fast a post's counters approach their final value
    # per-impression base rates of each canonical interaction (absent: the platform has no such metric),
    # set so the weighted engagement score (x10,000, capped at 1,000) centres near 100-200 and the
    # planted effects stay visible below the cap
    base_rates: dict[str, float]
    media_mix: dict[str, float]
    text_length_range: tuple[int, int]


PLATFORMS: dict[str, PlatformProfile] = {
    "linkedin": PlatformProfile(
        share_of_posts=0.30,
        peak_hour=9,
        median_impressions=8000,
        half_life_hours=14,
        base_rates={"likes": 0.004, "comments": 0.0004, "shares": 0.0002, "clicks": 0.002},
        media_mix={"text": 0.25, "image": 0.3, "video": 0.15, "carousel": 0.2, "link": 0.1},
        text_length_range=(300, 2200),
    ),
    "x": PlatformProfile(
        share_of_posts=0.35,
        peak_hour=13,
        median_impressions=6000,
        half_life_hours=4,
        base_rates={"likes": 0.004, "comments": 0.0004, "shares": 0.0003, "quotes": 0.0001, "saves": 0.0003},
        media_mix={"text": 0.45, "image": 0.3, "video": 0.15, "link": 0.1},
        text_length_range=(60, 280),
    ),
    "reddit": PlatformProfile(
        share_of_posts=0.15,
        peak_hour=20,
        median_impressions=5000,
        half_life_hours=8,
        base_rates={"likes": 0.008, "comments": 0.0015, "shares": 0.0001},
        media_mix={"text": 0.5, "image": 0.25, "video": 0.1, "link": 0.15},
        text_length_range=(100, 3000),
    ),
    "tiktok": PlatformProfile(
        share_of_posts=0.20,
        peak_hour=19,
        median_impressions=15000,
        half_life_hours=24,
        base_rates={"likes": 0.006, "comments": 0.0004, "shares": 0.0002, "saves": 0.0004},
        media_mix={"video": 1.0},
        text_length_range=(20, 150),
    ),
}

# log-multiplier of engagement: a circular gaussian bump around each platform's peak hour
HOUR_EFFECT_AMPLITUDE = 0.8
HOUR_EFFECT_WIDTH_HOURS = 2.5

HOOK_EFFECTS = {
    "question": 0.25,
    "statistic": 0.15,
    "story": 0.30,
    "bold_claim": 0.10,
    "how_to": 0.20,
    "list": 0.05,
    "none": -0.25,
}
MEDIA_EFFECTS = {"text": -0.10, "image": 0.05, "video": 0.25, "carousel": 0.20, "link": -0.20}
TOPIC_EFFECTS = {
    "product": -0.05,
    "industry_news": 0.0,
    "thought_leadership": 0.15,
    "culture": 0.10,
    "tutorial": 0.12,
    "promotion": -0.20,
}
ENGAGEMENT_NOISE_SIGMA = 0.30
IMPRESSIONS_SIGMA = 0.6

# Journeys come from one of two worlds (SimulatorConfig.journey_model). They differ in what a channel's
# touch does, so in the counterfactual "this channel switched off" that attribution models estimate:
#   "exposure" (the default): touches raise a journey's odds of converting. logit(p) = base + the effects of
#       the distinct channels seen; a journey converts at its baseline odds without any of them. Switched
#       off, a channel's touches vanish and the journey goes on with the others.
#   "funnel": every visit comes from a touch, as with retargeting. At each touch the user converts with the
#       channel's hazard, else another channel brings them back with FUNNEL_CONTINUE, else the journey
#       ends. Switched off, a channel brings nobody back: the journeys that would reach it end there.
JOURNEY_MODELS = ("exposure", "funnel")
# Exposure world: logit(p) = base + sum of the effects of the distinct channels seen.
CONVERSION_BASE_LOGIT = -2.6
CHANNEL_CONVERSION_EFFECTS = {
    "google_ads": 0.9,
    "linkedin_ads": 0.7,
    "meta_ads": 0.55,
    "linkedin_organic": 0.45,
    "tiktok_organic": 0.3,
    "x_organic": 0.2,
    "reddit_organic": 0.1,
}
CHANNEL_TOUCH_MIX = {
    "linkedin_organic": 0.2,
    "x_organic": 0.15,
    "reddit_organic": 0.1,
    "tiktok_organic": 0.12,
    "google_ads": 0.18,
    "meta_ads": 0.15,
    "linkedin_ads": 0.1,
}
# Funnel world: a journey's first touch is drawn from CHANNEL_TOUCH_MIX, each next one from the mix without
# the current channel; the user converts at a touch with the channel's hazard (the same order of strength
# as the exposure world's effects), else comes back with FUNNEL_CONTINUE, for at most FUNNEL_MAX_TOUCHES.
FUNNEL_CONVERSION_HAZARD = {
    "google_ads": 0.14,
    "linkedin_ads": 0.11,
    "meta_ads": 0.085,
    "linkedin_organic": 0.07,
    "tiktok_organic": 0.05,
    "x_organic": 0.035,
    "reddit_organic": 0.02,
}
FUNNEL_CONTINUE = 0.55
FUNNEL_MAX_TOUCHES = 8
# how each channel appears in tracked UTM parameters (dbt maps them back through a seed)
CHANNEL_UTM = {
    "linkedin_organic": ("linkedin", "social"),
    "x_organic": ("twitter", "social"),
    "reddit_organic": ("reddit", "social"),
    "tiktok_organic": ("tiktok", "social"),
    "google_ads": ("google", "cpc"),
    "meta_ads": ("facebook", "paid_social"),
    "linkedin_ads": ("linkedin", "paid_social"),
}

AI_MODELS = {
    # model: (share, usd per 1k prompt tokens, usd per 1k completion tokens, median latency ms)
    "gpt-4o-mini": (0.45, 0.00015, 0.0006, 900),
    "gpt-4o": (0.2, 0.0025, 0.01, 2200),
    "claude-sonnet-4": (0.25, 0.003, 0.015, 2600),
    "llama-3.1-70b": (0.1, 0.0006, 0.0008, 1500),
}


def hour_effect(platform: str, hour: float, peak_shift_hours: int = 0) -> float:
    """Log-multiplier of engagement for a post published at ``hour`` (UTC) on ``platform``."""
    # centred on the middle of the peak hour, so the whole peak hour beats its neighbours
    peak = (PLATFORMS[platform].peak_hour + peak_shift_hours) % 24 + 0.5
    d = abs(hour - peak) % 24
    d = min(d, 24 - d)
    return HOUR_EFFECT_AMPLITUDE * math.exp(-(d**2) / (2 * HOUR_EFFECT_WIDTH_HOURS**2))


@dataclass(frozen=True)
class BehaviourShift:
    """What changes from ``SimulatorConfig.shift_start`` on (drives the drift loop)."""

    peak_shift_hours: int = 5
    media_mix: dict[str, float] = field(
        default_factory=lambda: {"video": 0.8, "carousel": 0.1, "image": 0.1}
    )
    hook_mix: dict[str, float] = field(default_factory=lambda: {"question": 0.7, "none": 0.3})
    text_length_factor: float = 2.5
    posting_hours: tuple[int, int] = (17, 23)  # posting moves into the evening


def strongest_posting_hour(platform: str) -> int:
    """The hour the pipeline should recommend for ``platform`` (before any behaviour shift)."""
    return PLATFORMS[platform].peak_hour


# ------------------------------------------------------------------------------------ organic trajectories

# A post's counters approach their lifetime totals along 1 - 0.5 ** (age / half-life). Each post's
# half-life varies around its platform's (log-normal, this sigma), so a post's future growth cannot be
# read off its early counts exactly: the counterfactual of a boosted post carries real uncertainty.
HALF_LIFE_SIGMA = 0.25


def cumulative_share(age_hours, half_life_hours):
    """Share of a post's lifetime counters reached at ``age_hours`` without any boost (numpy-friendly)."""
    return 1.0 - np.power(0.5, np.maximum(age_hours, 0.0) / half_life_hours)


def boosted_cumulative_share(age_hours, half_life_hours, flight_start_age, flight_end_age, lift):
    """Share reached at ``age_hours`` when a boost multiplies the organic growth by ``1 + lift`` while its
    flight lasts (ages ``flight_start_age``..``flight_end_age``); before the flight nothing changes, after
    it the post keeps the extra counts it gained."""
    during = cumulative_share(np.clip(age_hours, flight_start_age, flight_end_age), half_life_hours) - cumulative_share(
        flight_start_age, half_life_hours
    )
    return cumulative_share(age_hours, half_life_hours) + lift * during


# ------------------------------------------------------------------------------- boosts: organic spillover


@dataclass(frozen=True)
class BoostSpillover:
    """The planted organic effect of a boost.

    While a boost's flight lasts (from midnight UTC of ``start_date`` to the end of ``end_date``), the
    boosted post's organic counters (impressions and every interaction) grow ``1 + lift`` times as fast
    as they would have: paid exposure brings the post to new feeds, whose reactions spread it organically.
    ``lift = scale * LogNormal(log(median_lift), sigma)``, drawn once per boost; ``scale`` is
    ``SimulatorConfig.boost_lift_scale`` (0 plants no effect at all). The true incremental organic
    engagements of a boost by post age ``a`` are therefore
    ``lift * sum_metric total_metric * (share(min(a, end)) - share(start))`` for ``a`` after the flight
    start (``PlatformSimulator.boost_truth`` gives them).
    """

    median_lift: float = 0.6
    sigma: float = 0.5


BOOST_SPILLOVER = BoostSpillover()
# Content that travels responds more to boosting: the spillover lift is multiplied by the post's media
# factor (what the insights must find: "boost videos and carousels first"). No other boost pattern is
# planted (flight weekday, budget), so insights must stay silent on those.
BOOST_MEDIA_RESPONSE = {"video": 1.6, "carousel": 1.3, "image": 1.0, "text": 0.7, "link": 0.5}

# Journeys: a LinkedIn organic touch names the post it came from (utm_content); a LinkedIn Ads touch
# during a boost's flight comes from that boost with this probability (utm_campaign = its campaign id),
# and a journey that met a boost's ad meets the boosted post organically with this probability: people
# who saw the ad look the post up (the organic/paid overlap of a boost).
BOOST_PAID_TOUCH_SHARE = 0.5
BOOST_ORGANIC_FOLLOW_UP = 0.35


# ------------------------------------------------------------------------------------------- experiments


@dataclass(frozen=True)
class ExperimentDesign:
    """One kind of A/B test Cycle runs on its boosts, and what the simulator plants in it.

    ``baseline_mean``/``baseline_sd`` describe the control arm's metric per unit, ``mde`` the absolute
    difference (treatment - control) the test is powered for. An experiment's true effect is 0 with
    probability ``EXPERIMENT_NULL_SHARE``, else ``mde * Uniform(*effect_in_mdes)``.
    """

    factor: str
    control: str
    treatment: str
    metric: str
    metric_kind: str  # binary (0/1 per unit) or continuous
    baseline_mean: float
    baseline_sd: float
    mde: float
    effect_in_mdes: tuple[float, float] = (0.6, 1.6)


EXPERIMENT_DESIGNS: tuple[ExperimentDesign, ...] = (
    ExperimentDesign("boost_timing", "next_day", "publish_day", "engaged", "binary", 0.10, 0.3, 0.03),
    ExperimentDesign("budget", "usd_50_per_day", "usd_100_per_day", "session_seconds", "continuous", 60.0, 45.0, 5.0),
    ExperimentDesign("targeting", "followers_lookalike", "job_title", "converted", "binary", 0.12, 0.325, 0.035),
    ExperimentDesign("creative", "static_image", "short_video", "watch_seconds", "continuous", 12.0, 8.0, 1.0),
)
EXPERIMENT_DAYS = 14  # each factor runs back-to-back experiments of this many days
EXPERIMENT_NULL_SHARE = 0.5
EXPERIMENT_ALPHA = 0.05
EXPERIMENT_POWER = 0.8


# ------------------------------------------------------------------------- ad campaigns: history, creatives

# Campaign settings are re-decided every CAMPAIGN_SETTINGS_PERIOD_DAYS days (each campaign on its own
# phase); most decisions keep the campaign's base setting, so a setting changes only on some days. A
# paused campaign delivers nothing that day; spend follows the day's budget.
CAMPAIGN_SETTINGS_PERIOD_DAYS = 6
CAMPAIGN_PAUSE_PROBABILITY = 0.12
CAMPAIGN_KEEP_BASE_PROBABILITY = 0.7  # per setting and period: keep the base value, else pick another
CAMPAIGN_BUDGET_FACTORS = (0.8, 1.25, 1.5)  # what a budget change multiplies the base budget by
# native vocabularies: (status active, status paused), objectives, bidding strategies
CAMPAIGN_STATUS = {
    "google_ads": ("ENABLED", "PAUSED"),
    "meta_ads": ("ACTIVE", "PAUSED"),
    "linkedin_ads": ("ACTIVE", "PAUSED"),
}
# Google Ads has no campaign objective: its advertising channel type plays that role and never changes
GOOGLE_CHANNEL_TYPES = ("SEARCH", "DISPLAY", "VIDEO", "SEARCH")  # by campaign position
CAMPAIGN_OBJECTIVES = {
    "meta_ads": ("OUTCOME_SALES", "OUTCOME_LEADS", "OUTCOME_TRAFFIC", "OUTCOME_AWARENESS"),
    "linkedin_ads": ("WEBSITE_CONVERSIONS", "LEAD_GENERATION", "WEBSITE_VISITS", "BRAND_AWARENESS"),
}
CAMPAIGN_BIDDING = {
    "google_ads": ("MAXIMIZE_CONVERSIONS", "TARGET_CPA", "TARGET_ROAS", "MANUAL_CPC"),
    "meta_ads": ("LOWEST_COST_WITHOUT_CAP", "COST_CAP", "LOWEST_COST_WITH_BID_CAP"),
    "linkedin_ads": ("MAX_CONVERSION", "TARGET_COST_PER_CLICK", "MAX_CLICK"),
}

# Creatives (ads) of each campaign, in each platform's own format names; a creative's share of its
# campaign's delivery is fixed per seed (Dirichlet) with daily noise. Video creatives report quartiles.
CREATIVES_PER_CAMPAIGN = (2, 4)  # inclusive range
CREATIVE_FORMATS = {
    "google_ads": {
        "SEARCH": ("RESPONSIVE_SEARCH_AD",),
        "DISPLAY": ("RESPONSIVE_DISPLAY_AD", "IMAGE_AD"),
        "VIDEO": ("VIDEO_RESPONSIVE_AD", "VIDEO_TRUEVIEW_IN_STREAM_AD"),
    },
    "meta_ads": ("PHOTO", "VIDEO", "SHARE"),
    "linkedin_ads": ("SINGLE_IMAGE", "VIDEO", "CAROUSEL", "TEXT_AD"),
}
VIDEO_FORMATS = frozenset({"VIDEO_RESPONSIVE_AD", "VIDEO_TRUEVIEW_IN_STREAM_AD", "VIDEO"})
BOOST_CREATIVE_FORMAT = "SPONSORED_UPDATE"  # a boost's single creative: the promoted post itself
# of the impressions of a video creative, this share reaches 25%; of those, each further quartile keeps
VIDEO_START_RATE = (0.35, 0.65)
VIDEO_QUARTILE_RETENTION = (0.75, 0.8, 0.7)  # p25 -> p50, p50 -> p75, p75 -> p100


# ----------------------------------------------------------------------------- attribution: planted truth


def expected_incremental_conversions(channel_sets) -> dict[str, float]:
    """Each channel's planted incremental conversions in the exposure world, over journeys that touched
    the given sets of channels: for every journey that touched the channel, its conversion probability
    under the generating model (logit = CONVERSION_BASE_LOGIT + effects of the distinct channels) minus
    the probability with that channel's touches removed and the others kept, summed over journeys.

    This is the counterfactual the incremental Shapley game estimates (the funnel world's is
    ``funnel_removal_effects``). It does not sum to the
    conversions (the baseline and the logit's interactions belong to no single channel): compare
    shares of the total."""
    totals = dict.fromkeys(CHANNEL_CONVERSION_EFFECTS, 0.0)
    for touched in channel_sets:
        seen = set(touched)
        unknown = seen - CHANNEL_CONVERSION_EFFECTS.keys()
        if unknown:
            raise KeyError(f"no planted conversion effect for channel(s) {sorted(unknown)}")
        logit = CONVERSION_BASE_LOGIT + sum(CHANNEL_CONVERSION_EFFECTS[c] for c in seen)
        p = 1.0 / (1.0 + math.exp(-logit))
        for c in seen:
            totals[c] += p - 1.0 / (1.0 + math.exp(-(logit - CHANNEL_CONVERSION_EFFECTS[c])))
    return totals


@dataclass(frozen=True)
class FunnelChain:
    """The funnel world's chain, the one definition the simulator walks and the truth is computed on."""

    channels: tuple[str, ...]
    first: np.ndarray  # probability of each channel's touch opening a journey
    following: np.ndarray  # row: the current channel; the mix without it, renormalised
    hazard: np.ndarray  # probability of converting at a touch of each channel


def funnel_chain() -> FunnelChain:
    channels = tuple(CHANNEL_TOUCH_MIX)
    mix = np.array([CHANNEL_TOUCH_MIX[c] for c in channels], dtype=float)
    mix /= mix.sum()
    following = np.tile(mix, (len(channels), 1))
    np.fill_diagonal(following, 0.0)
    hazard = np.array([FUNNEL_CONVERSION_HAZARD[c] for c in channels])
    return FunnelChain(channels, mix, following / following.sum(axis=1, keepdims=True), hazard)


def funnel_conversion_probability(switched_off: str | None = None) -> float:
    """Exact probability that a funnel-world journey converts, with ``switched_off`` bringing nobody
    (journeys that would reach it end there), by summing over touch positions."""
    chain = funnel_chain()
    channels, hazard, following = chain.channels, chain.hazard, chain.following
    if switched_off is not None and switched_off not in channels:
        raise KeyError(f"no channel {switched_off!r} in the funnel world")
    on = np.array([c != switched_off for c in channels], dtype=float)
    at_touch = chain.first * on  # probability of being at each channel's touch, at touch 1
    converted = 0.0
    for touch in range(1, FUNNEL_MAX_TOUCHES + 1):
        converted += float(at_touch @ hazard)
        if touch == FUNNEL_MAX_TOUCHES:
            break
        at_touch = ((at_touch * (1.0 - hazard) * FUNNEL_CONTINUE) @ following) * on
    return converted


def funnel_removal_effects() -> dict[str, float]:
    """The funnel world's planted incremental effect of each channel: the share of its expected
    conversions lost when the channel is switched off (``1 - P(convert | off) / P(convert)``). This is
    the quantity a Markov chain's removal effect estimates; compare shares of the total."""
    base = funnel_conversion_probability()
    return {c: 1.0 - funnel_conversion_probability(c) / base for c in CHANNEL_TOUCH_MIX}
