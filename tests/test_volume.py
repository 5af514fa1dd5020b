"""Correct at volume: a day of 10,000 posts goes through the raw layer as ``raw_platform_data`` loads it, and every
raw check passes, each natural key unique (issue 16: below, boost campaign ids collided past 100 boosts a day)."""

from __future__ import annotations

import time
from datetime import date

import dagster as dg
import pytest

from analytics_assets.contracts.raw import RAW_TABLES
from analytics_assets.defs.ingest.raw import raw_platform_data
from analytics_assets.defs.resources import default_resources
from analytics_assets.sources.simulator import core
from cycle_testing import new_home

pytestmark = pytest.mark.slow

DAY = date(2026, 5, 4)
POSTS_PER_DAY = 10_000
# the volume that matters here is the posts (and the boosts they bring: 0.08 of 3,000 LinkedIn posts a day, against the
# 100 a day the old campaign ids held); the journeys, generations and experiments keep their defaults
SIM = {"seed": 11, "posts_per_day": POSTS_PER_DAY, "malformed_rate": 0.0}


def test_a_day_of_ten_thousand_posts_passes_every_raw_check(tmp_path):
    home = new_home(tmp_path / "home")
    started = time.perf_counter()
    result = dg.materialize(
        [raw_platform_data],
        partition_key=DAY.isoformat(),
        resources={**default_resources(), **home.resources(**SIM)},
        instance=home.instance,
        raise_on_error=False,
    )
    seconds = time.perf_counter() - started
    assert result.success, [str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure]

    # every check of every raw table ran, and passed
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    for table in RAW_TABLES.values():
        for name in ("rows_match_schema", "natural_key_is_unique", "quarantine_share_is_low"):
            assert checks[(table.name, name)].passed, (table.name, name, checks[(table.name, name)].metadata)

    # the day is really that big, and its keys are unique in the stored table, not only by the check's own count
    boosts = core.boosts_started_for_posts_of(core.SimulatorConfig(**SIM), DAY)
    assert len(boosts) > 100  # more than one publish day of the old campaign id scheme could hold
    counts = {}
    for table in RAW_TABLES.values():
        key = ", ".join(table.key)
        rows, distinct = home.query(
            f"""select count(*) as n, count(distinct ({key})) as k from {table.qualified_name}
                where {table.partition_column} = ?""",
            [DAY],
        ).iloc[0]
        assert rows == distinct, f"{table.name}: {rows - distinct} rows repeat a key ({key})"
        counts[table.name] = int(rows)
    assert counts["raw_social_post_snapshots"] > 400_000  # 10,000 posts a day x 8 days tracked, polled on this one
    assert counts["raw_ad_campaign_metrics"] > 3 * 100  # three publish days' boosts deliver on the day
    assert counts["raw_ad_creative_metrics"] > counts["raw_boosts"] > 3 * 100
    print(f"one 10,000-post day through raw_platform_data: {seconds:.1f} s, {counts}")
