"""Turn one day of native records into validated canonical rows plus quarantined records."""

from __future__ import annotations

from collections.abc import Collection, Sequence
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


def _finish(table: RawTable, day: date, parsed: list[ParseResult], now: datetime | None = None) -> LoadBatch:
    rows = pd.concat([p.rows for p in parsed], ignore_index=True) if parsed else pd.DataFrame()
    quarantine = pd.concat([p.quarantine for p in parsed], ignore_index=True) if parsed else pd.DataFrame()
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    rows = rows.assign(partition_date=day, loaded_at=now)
    quarantine = quarantine.assign(partition_date=day, quarantined_at=now)
    return LoadBatch(table, rows, quarantine)


def parse_day(
    sim: NativeDay,
    meta_conversion_types: Sequence[str] = META_CONVERSION_ACTION_TYPES,
    tables: Collection[str] | None = None,
    now: datetime | None = None,
) -> dict[str, LoadBatch]:
    """Parse every entity of one native day (simulated or fetched); keys are raw table names. Meta's
    conversions are those of the first of ``meta_conversion_types`` each row reports (the deployment's
    ``CYCLE_META_CONVERSION_ACTION_TYPES``). ``tables``: only those (a piece of a day streamed in chunks holds
    some entities only); ``now``: the load time the rows and quarantine carry (by default the time of the call),
    one for every piece of a day, as when it is parsed whole."""
    day = sim.day
    ads, creatives = ad_mappings(meta_conversion_types), creative_mappings(meta_conversion_types)
    unknown = set(tables or ()) - set(_ENTITIES)
    if unknown:
        raise ValueError(f"no raw table {', '.join(sorted(unknown))}: parse_day parses {', '.join(_ENTITIES)}")

    def load(table: RawTable, frames: list[pd.DataFrame], mappings: list[PlatformMapping]) -> LoadBatch:
        return _finish(table, day, [parse_records(f, m, days=[day]) for f, m in zip(frames, mappings)], now)

    entities = {
        SOCIAL_POST_SNAPSHOTS.name: lambda: load(
            SOCIAL_POST_SNAPSHOTS, list(sim.social_posts.values()), [SOCIAL_MAPPINGS[p] for p in sim.social_posts]
        ),
        AD_CAMPAIGN_METRICS.name: lambda: load(
            AD_CAMPAIGN_METRICS, list(sim.ad_campaigns.values()), [ads[p] for p in sim.ad_campaigns]
        ),
        BOOSTS.name: lambda: load(BOOSTS, [sim.boosts], [BOOST_MAPPING]),
        TOUCHPOINTS.name: lambda: load(TOUCHPOINTS, [sim.touchpoints], [TOUCHPOINT_MAPPING]),
        AI_GENERATIONS.name: lambda: load(AI_GENERATIONS, [sim.ai_generations], [AI_GENERATION_MAPPING]),
        EXPERIMENT_OBSERVATIONS.name: lambda: load(
            EXPERIMENT_OBSERVATIONS, [sim.experiment_observations], [EXPERIMENT_OBSERVATION_MAPPING]
        ),
        AD_CREATIVE_METRICS.name: lambda: load(
            AD_CREATIVE_METRICS, list(sim.ad_creatives.values()), [creatives[p] for p in sim.ad_creatives]
        ),
    }
    return {name: parse() for name, parse in entities.items() if tables is None or name in tables}


def parse_entity(
    sim: NativeDay,
    table: str,
    meta_conversion_types: Sequence[str] = META_CONVERSION_ACTION_TYPES,
    now: datetime | None = None,
) -> LoadBatch:
    """``parse_day`` of one entity: a piece of a day streamed in chunks (``PlatformSimulator.day_chunks``)."""
    return parse_day(sim, meta_conversion_types, (table,), now)[table]


# the raw tables parse_day fills, in the order it parses them
_ENTITIES = (
    SOCIAL_POST_SNAPSHOTS.name,
    AD_CAMPAIGN_METRICS.name,
    BOOSTS.name,
    TOUCHPOINTS.name,
    AI_GENERATIONS.name,
    EXPERIMENT_OBSERVATIONS.name,
    AD_CREATIVE_METRICS.name,
)
