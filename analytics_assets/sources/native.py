"""One day of native records from a source: what every source hands to parsing.

The simulator and the platform clients both produce records in each platform's own payload shape;
parsing (``sources.parsing``) turns them into the canonical rows of the raw contract. Neither side
needs to know the other: they meet in this shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date

import pandas as pd


@dataclass
class NativeDay:
    """Native records of one day, per raw entity (and per platform where platforms differ)."""

    day: date
    social_posts: dict[str, pd.DataFrame]  # organic post snapshots per platform
    ad_campaigns: dict[str, pd.DataFrame]  # campaign-level rows per ad platform
    boosts: pd.DataFrame
    touchpoints: pd.DataFrame
    ai_generations: pd.DataFrame
    experiment_observations: pd.DataFrame = dataclass_field(default_factory=pd.DataFrame)  # A/B exposures and outcomes
    ad_creatives: dict[str, pd.DataFrame] = dataclass_field(default_factory=dict)  # ad-level rows per ad platform
