"""Planted viral take-offs are flagged for review and ordinary days are not; the flagged snapshots stay;
pending flags surface as a WARN asset check. The oldest day is archived first, so the same run shows
that dbt staging still reads archived partitions (and pairs snapshots across the archive boundary)."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pyarrow.parquet as pq
import pytest

from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from cycle_testing import new_home

pytestmark = pytest.mark.slow

SPIKE = date(2026, 3, 10)
START, END = SPIKE - timedelta(days=1), SPIKE + timedelta(days=1)
SIM = {"seed": 16, "posts_per_day": 160, "journeys_per_day": 20, "ai_generations_per_day": 10, "malformed_rate": 0.01}
DBT_KEYS = ["platform_engagement_weights", "snapshot_delta_reviews", "stg_social_post_snapshots", "fct_snapshot_delta_flags"]


@pytest.fixture(scope="module")
def flagged(tmp_path_factory):
    home = new_home(tmp_path_factory.mktemp("delta_flags"))
    simulator = {**SIM, "spike_days": [SPIKE.isoformat()]}
    job = home.defs(**simulator).resolve_implicit_global_asset_job_def()
    window = {
        "dagster/asset_partition_range_start": START.isoformat(),
        "dagster/asset_partition_range_end": END.isoformat(),
    }

    def run(keys, **kwargs):
        result = job.execute_in_process(
            instance=home.instance, asset_selection=[dg.AssetKey(k) for k in keys], raise_on_error=False, **kwargs
        )
        assert result.success, [str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure]
        return result

    run(["raw_social_post_snapshots"], tags=window)
    loaded = home.query("select count(*) n from raw.raw_social_post_snapshots")["n"][0]
    # the first day leaves the hot table (newest partition END, keep 1 day: START is older)
    run(["raw_snapshot_archive"], run_config={"ops": {"raw_snapshot_archive": {"config": {"retention_days": 1}}}})
    # as if archived before the raw table had the post identity columns: staging reads them as null there
    archived = home.root / "archive" / "raw_social_post_snapshots" / f"partition_date={START}" / "part-0.parquet"
    table = pq.read_table(archived)
    pq.write_table(table.drop_columns(["post_url", "post_excerpt", "author_name"]), archived)
    dbt = run(DBT_KEYS, tags=window)
    return home, dbt, int(loaded)


def test_staging_reads_the_archived_day_so_nothing_is_lost(flagged):
    home, _, loaded = flagged
    hot = home.query("select partition_date, count(*) n from raw.raw_social_post_snapshots group by 1")
    assert set(hot["partition_date"].dt.date) == {SPIKE, END}
    assert (home.root / "archive" / "raw_social_post_snapshots" / f"partition_date={START}" / "part-0.parquet").exists()
    staged = home.query("select partition_date, count(*) n from main.stg_social_post_snapshots group by 1 order by 1")
    assert list(staged["partition_date"].dt.date) == [START, SPIKE, END]
    assert staged["n"].sum() == loaded
    # a day archived before the identity columns existed reads them as null; the hot days have them
    identity = home.query(
        "select partition_date, count(post_url) urls, count(post_excerpt) excerpts from main.stg_social_post_snapshots "
        "group by 1 order by 1"
    )
    assert identity["urls"].tolist()[0] == 0 and identity["excerpts"].tolist()[0] == 0
    assert (identity["urls"].iloc[1:] > 0).all() and (identity["excerpts"].iloc[1:] > 0).all()


def test_planted_take_offs_are_flagged_and_ordinary_growth_is_not(flagged):
    home, _, _ = flagged
    posts = PlatformSimulator(SimulatorConfig(**SIM, spike_days=(SPIKE,))).posts(SPIKE - timedelta(days=7), END)
    viral = set(posts.loc[posts["is_viral"], "post_id"])
    assert len(viral) >= 6 and set(posts.loc[posts["is_viral"], "published_at"].dt.date) == {SPIKE}

    flags = home.query("select * from main.fct_snapshot_delta_flags")
    # every planted take-off is caught on impressions ...
    assert set(flags.loc[flags["metric"] == "impressions", "post_id"]) == viral
    # ... and nothing else: ~30k ordinary snapshot pairs a day, none rising more than +1000%
    assert set(flags["post_id"]) == viral
    assert set(flags["snapshot_date"].dt.date) <= {SPIKE, END}
    assert (flags["relative_delta"] > 10).all() and (flags["previous_value"] >= 10).all()
    assert (flags["hours_since_previous"] <= 6.5).all()  # consecutive polls, not the post's first and last
    # the flagged snapshots are still in staging and in the daily facts' source: flagged, not dropped
    kept = home.query(
        """select count(*) n from main.fct_snapshot_delta_flags f
           join main.stg_social_post_snapshots s using (platform, post_id, snapshot_at)"""
    )
    assert kept["n"][0] == len(flags)


def test_pending_flags_surface_as_a_warning_check_not_a_failure(flagged):
    home, dbt, _ = flagged
    flags = home.query("select count(*) n from main.fct_snapshot_delta_flags")["n"][0]
    checks = {
        (c.asset_key.to_user_string(), c.check_name): c
        for c in (e.event_specific_data for e in dbt.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION")
    }
    pending = checks[("fct_snapshot_delta_flags", "snapshot_delta_flags_pending_review")]
    assert not pending.passed and pending.severity == dg.AssetCheckSeverity.WARN
    assert pending.metadata["dagster_dbt/failed_row_count"].value == flags > 0
    assert len([k for k in checks if k[0] == "fct_snapshot_delta_flags"]) >= 10  # the other data tests ran
    failed = [key for key, c in checks.items() if not c.passed]
    assert failed == [("fct_snapshot_delta_flags", "snapshot_delta_flags_pending_review")]


def test_a_daily_run_flags_its_day_as_the_whole_range_did(flagged):
    """The scheduled path: one day's incremental run pairs the day's first snapshots with each post's latest
    snapshot before the window (the day before, in the archive here), and rewrites the day's flags exactly as the
    build over the whole range wrote them."""
    home, _, _ = flagged
    order = "order by snapshot_date, platform, post_id, snapshot_at, metric"
    before = home.query(f"select * from main.fct_snapshot_delta_flags {order}")
    on_end = before[before["snapshot_date"].dt.date == END]
    assert len(on_end) and (on_end["previous_snapshot_at"].dt.date < END).any()  # a pair across the window's start
    job = home.defs(**SIM, spike_days=[SPIKE.isoformat()]).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=home.instance, asset_selection=[dg.AssetKey(k) for k in DBT_KEYS], partition_key=END.isoformat(),
        raise_on_error=False,
    )
    assert result.success
    after = home.query(f"select * from main.fct_snapshot_delta_flags {order}")
    assert after.equals(before)
