"""What the Dagster UI shows on a raw partition is that partition's own figures (issue 15): a run over several
days records its totals on every partition it covers, so each day's row count comes in an observation of that
partition; a one-day run's materialization carries the day's count itself."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from analytics_assets.contracts.raw import RAW_TABLES
from analytics_assets.defs.ingest.raw import raw_platform_data
from analytics_assets.defs.resources import default_resources
from cycle_testing import new_home

END = date(2026, 5, 6)
START = END - timedelta(days=1)
SIM = {"seed": 5, "posts_per_day": 120, "journeys_per_day": 60, "malformed_rate": 0.02}


def _stored(home, table, day: date) -> int:
    return int(home.query(f"select count(*) as n from {table.qualified_name} where {table.partition_column} = ?", [day]).n[0])


def test_each_partition_of_a_range_run_and_of_a_one_day_run_shows_its_own_row_count(tmp_path):
    home = new_home(tmp_path / "home")
    resources = {**default_resources(), **home.resources(**SIM)}
    ranged = dg.materialize(
        [raw_platform_data], resources=resources, instance=home.instance,
        tags={"dagster/asset_partition_range_start": START.isoformat(), "dagster/asset_partition_range_end": END.isoformat()},
    )
    observed = {
        (e.asset_key.to_user_string(), e.partition): e.asset_observation_data.asset_observation.metadata
        for e in ranged.all_events if e.event_type_value == "ASSET_OBSERVATION"
    }
    for table in RAW_TABLES.values():
        days = [START, END]
        per_day = [_stored(home, table, d) for d in days]
        for day, rows in zip(days, per_day):
            assert observed[(table.name, day.isoformat())]["dagster/row_count"].value == rows, (table.name, day)
        meta = ranged.asset_materializations_for_node("raw_platform_data")
        mine = [m.metadata for m in meta if m.asset_key.to_user_string() == table.name]
        # the range's totals never pose as one partition's row count
        assert mine and all("dagster/row_count" not in m for m in mine)
        assert all(m["rows_stored_in_run"].value == sum(per_day) for m in mine)
    assert _stored(home, RAW_TABLES["raw_social_post_snapshots"], END) > 0

    # a one-day run (the daily schedule's): the materialization's own count is the day's
    single = dg.materialize([raw_platform_data], resources=resources, instance=home.instance, partition_key=END.isoformat())
    for m in single.asset_materializations_for_node("raw_platform_data"):
        table = RAW_TABLES[m.asset_key.to_user_string()]
        assert m.metadata["dagster/row_count"].value == _stored(home, table, END), table.name
    assert not [e for e in single.all_events if e.event_type_value == "ASSET_OBSERVATION"]
