"""The simulator's generating effects, exposed so tests can check that the pipeline recovers them.

Everything the simulator draws comes from these numbers plus seeded noise; nothing else is hidden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from analytics_assets.ingest.tables import AD_PLATFORMS, ORGANIC_PLATFORMS  # noqa: F401 (the raw contract)

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

# Conversion model of a journey: logit(p) = base + sum of the effects of the distinct channels seen.
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
