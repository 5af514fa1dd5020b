"""Turn one day of native records into validated canonical rows plus quarantined records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pandas as pd

from analytics_assets.sources.parsing.parsers import (
    AI_GENERATION_MAPPING,
    BOOST_MAPPING,
    EXPERIMENT_OBSERVATION_MAPPING,
    META_CONVERSION_ACTION_TYPES,
    SOCIAL_MAPPINGS,
    TOUCHPOINT_MAPPING,
    ParseResult,
    PlatformMapping,
    ad_mappings,
    creative_mappings,
    parse_records,
)
from analytics_assets.contracts.raw import (
    AD_CAMPAIGN_METRICS,
    AD_CREATIVE_METRICS,
    AI_GENERATIONS,
    BOOSTS,
    EXPERIMENT_OBSERVATIONS,
    SOCIAL_POST_SNAPSHOTS,
    TOUCHPOINTS,
    RawTable,
)
from analytics_assets.sources.native import NativeDay


@dataclass
class LoadBatch:
    table: RawTable
    rows: pd.DataFrame
    quarantine: pd.DataFrame

    @property
    def quarantined(self) -> int:
        return len(self.quarantine)


def _finish(table: RawTable, day: date, parsed: list[ParseResult]) -> LoadBatch:
    rows = pd.concat([p.rows for p in parsed], ignore_index=True) if parsed else pd.DataFrame()
    quarantine = pd.concat([p.quarantine for p in parsed], ignore_index=True) if parsed else pd.DataFrame()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = rows.assign(partition_date=day, loaded_at=now)
    quarantine = quarantine.assign(partition_date=day, quarantined_at=now)
    return LoadBatch(table, rows, quarantine)


def parse_day(sim: NativeDay, meta_conversion_types: Sequence[str] = META_CONVERSION_ACTION_TYPES) -> dict[str, LoadBatch]:
    """Parse every entity of one native day (simulated or fetched); keys are raw table names. Meta's
    conversions are those of the first of ``meta_conversion_types`` each row reports (the deployment's
    ``CYCLE_META_CONVERSION_ACTION_TYPES``)."""
    day = sim.day
    ads, creatives = ad_mappings(meta_conversion_types), creative_mappings(meta_conversion_types)

    def load(table: RawTable, frames: list[pd.DataFrame], mappings: list[PlatformMapping]) -> LoadBatch:
        return _finish(table, day, [parse_records(f, m, days=[day]) for f, m in zip(frames, mappings)])

    return {
        SOCIAL_POST_SNAPSHOTS.name: load(
            SOCIAL_POST_SNAPSHOTS, list(sim.social_posts.values()), [SOCIAL_MAPPINGS[p] for p in sim.social_posts]
        ),
        AD_CAMPAIGN_METRICS.name: load(
            AD_CAMPAIGN_METRICS, list(sim.ad_campaigns.values()), [ads[p] for p in sim.ad_campaigns]
        ),
        BOOSTS.name: load(BOOSTS, [sim.boosts], [BOOST_MAPPING]),
        TOUCHPOINTS.name: load(TOUCHPOINTS, [sim.touchpoints], [TOUCHPOINT_MAPPING]),
        AI_GENERATIONS.name: load(AI_GENERATIONS, [sim.ai_generations], [AI_GENERATION_MAPPING]),
        EXPERIMENT_OBSERVATIONS.name: load(EXPERIMENT_OBSERVATIONS, [sim.experiment_observations], [EXPERIMENT_OBSERVATION_MAPPING]),
        AD_CREATIVE_METRICS.name: load(
            AD_CREATIVE_METRICS, list(sim.ad_creatives.values()), [creatives[p] for p in sim.ad_creatives]
        ),
    }
