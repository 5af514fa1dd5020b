"""Turn one day of native records into validated canonical rows plus quarantined records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

import pandas as pd

from analytics_assets.ingest.parsers import (
    AD_MAPPINGS,
    AI_GENERATION_MAPPING,
    BOOST_MAPPING,
    CREATIVE_MAPPINGS,
    EXPERIMENT_OBSERVATION_MAPPING,
    SOCIAL_MAPPINGS,
    TOUCHPOINT_MAPPING,
    ParseResult,
    parse_records,
)
from analytics_assets.ingest.tables import (
    AD_CAMPAIGN_METRICS,
    AD_CREATIVE_METRICS,
    AI_GENERATIONS,
    BOOSTS,
    EXPERIMENT_OBSERVATIONS,
    SOCIAL_POST_SNAPSHOTS,
    TOUCHPOINTS,
    RawTable,
)
from analytics_assets.simulator import SimulatedDay

# the column whose date must equal the partition a record is loaded into (None: the source decides)
_DAY_COLUMN = {
    SOCIAL_POST_SNAPSHOTS.name: "snapshot_at",
    AD_CAMPAIGN_METRICS.name: "metric_date",
    AD_CREATIVE_METRICS.name: "metric_date",
    BOOSTS.name: "boost_date",
    AI_GENERATIONS.name: "generated_at",
    TOUCHPOINTS.name: None,
    EXPERIMENT_OBSERVATIONS.name: "exposed_at",
}


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
    day_col = _DAY_COLUMN[table.name]
    if day_col and len(rows):
        # a record dated outside the partition would be deleted by the wrong rerun: keep it out
        days = pd.to_datetime(rows[day_col]).dt.date
        outside = days != day
        if outside.any():
            moved = rows[outside]
            quarantine = pd.concat(
                [
                    quarantine,
                    pd.DataFrame(
                        {
                            "source_table": table.name,
                            "platform": moved["platform"] if "platform" in moved else None,
                            "record_key": moved[table.key[-1]].astype(str),
                            "reason": f"{day_col} is not on the partition day {day.isoformat()}",
                            "payload": moved.astype(str).to_json(orient="records", lines=True).splitlines(),
                        }
                    ),
                ],
                ignore_index=True,
            )
            rows = rows[~outside].reset_index(drop=True)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = rows.assign(partition_date=day, loaded_at=now)
    quarantine = quarantine.assign(partition_date=day, quarantined_at=now)
    return LoadBatch(table, rows, quarantine)


def parse_day(sim: SimulatedDay) -> dict[str, LoadBatch]:
    """Parse every entity of a simulated (or fetched) day; keys are raw table names."""
    day = sim.day
    return {
        SOCIAL_POST_SNAPSHOTS.name: _finish(
            SOCIAL_POST_SNAPSHOTS, day, [parse_records(f, SOCIAL_MAPPINGS[p]) for p, f in sim.social_posts.items()]
        ),
        AD_CAMPAIGN_METRICS.name: _finish(
            AD_CAMPAIGN_METRICS, day, [parse_records(f, AD_MAPPINGS[p]) for p, f in sim.ad_campaigns.items()]
        ),
        BOOSTS.name: _finish(BOOSTS, day, [parse_records(sim.boosts, BOOST_MAPPING)]),
        TOUCHPOINTS.name: _finish(TOUCHPOINTS, day, [parse_records(sim.touchpoints, TOUCHPOINT_MAPPING)]),
        AI_GENERATIONS.name: _finish(AI_GENERATIONS, day, [parse_records(sim.ai_generations, AI_GENERATION_MAPPING)]),
        EXPERIMENT_OBSERVATIONS.name: _finish(
            EXPERIMENT_OBSERVATIONS, day, [parse_records(sim.experiment_observations, EXPERIMENT_OBSERVATION_MAPPING)]
        ),
        AD_CREATIVE_METRICS.name: _finish(
            AD_CREATIVE_METRICS, day, [parse_records(f, CREATIVE_MAPPINGS[p]) for p, f in sim.ad_creatives.items()]
        ),
    }
