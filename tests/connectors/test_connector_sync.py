"""What a run fetches: the ad fetch plan from the ledger and the lookback, and which posts are due."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest

from analytics_assets.defs.ingest.connector_resources import LinkedInResource, MetaAdsResource
from analytics_assets.defs.ingest.connector_sync import _ranges, ad_fetch_plan, due_posts
from analytics_assets.storage.connector_state import LEDGER, REGISTRY, ensure_state_tables

TODAY = date(2026, 10, 20)
NOW = datetime(2026, 10, 20, 12, 0)


@pytest.fixture
def con():
    c = duckdb.connect()
    ensure_state_tables(c)
    yield c
    c.close()


def _ledger(con, platform: str, days: dict[date, str]) -> None:
    for d, status in days.items():
        con.execute(
            f"insert into {LEDGER} values (?, 'ad_campaigns', ?, ?, 1, 4, 0, ?, ?, ?)", [platform, d, status, d, d, NOW]
        )


def test_plan_rereads_the_lookback_skips_final_days_and_settles_provisional_ones(con):
    meta = MetaAdsResource(lookback_days=3)
    old = [date(2026, 9, 1) + timedelta(days=k) for k in range(5)]
    _ledger(con, "meta_ads", {old[0]: "final", old[1]: "final", date(2026, 10, 10): "provisional"})
    fetch, skipped = ad_fetch_plan(con, meta, old, TODAY)
    # the run's days not yet final, and 10-10: fetched while restating, settled since, read once more
    assert fetch == old[2:] + [date(2026, 10, 10)]
    assert skipped == old[:2]
    recent = [date(2026, 10, 19)]
    fetch, skipped = ad_fetch_plan(con, meta, recent, TODAY)
    assert fetch == [date(2026, 10, 10)] + [date(2026, 10, 17) + timedelta(days=k) for k in range(3)]
    assert skipped == []
    forced = MetaAdsResource(lookback_days=3, force_refetch=True)
    assert ad_fetch_plan(con, forced, old, TODAY)[0][:5] == [date(2026, 8, 29) + timedelta(days=k) for k in range(5)]


def test_plan_never_fetches_before_the_first_partition_or_after_today(con):
    meta = MetaAdsResource(lookback_days=28)
    fetch, _ = ad_fetch_plan(con, meta, [date(2025, 1, 2)], date(2025, 1, 2))
    assert fetch == [date(2025, 1, 1), date(2025, 1, 2)]


def test_fetch_days_are_cut_into_contiguous_chunks():
    days = [date(2026, 9, d) for d in (1, 2, 3, 4, 5, 9, 10)]
    assert _ranges(days, 2) == [days[0:2], days[2:4], days[4:5], days[5:7]]


def test_posts_are_due_every_2_hours_while_young_every_6_after_until_the_horizon(con):
    li = LinkedInResource(tracking_horizon_hours=168, poll_slack_minutes=10)
    posts = {
        # post: (hours since publication, hours since last poll or None, deleted)
        "new": (1, None, False),
        "young_due": (20, 2.0, False),
        "young_due_with_slack": (20, 1.9, False),  # the 2-hourly schedule ran a few minutes early
        "young_not_due": (20, 1.5, False),
        "old_due": (60, 6.0, False),
        "old_not_due": (60, 3.0, False),
        "deleted": (20, 3.0, True),
        "beyond_horizon": (170, 10.0, False),
    }
    rows = [
        ("linkedin", p, "urn:li:organization:1", NOW - timedelta(hours=age), NOW, None if last is None else NOW - timedelta(hours=last), 1, NOW if gone else None)
        for p, (age, last, gone) in posts.items()
    ]
    con.executemany(f"insert into {REGISTRY} values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    due = set(due_posts(con, li, NOW)["post_id"])
    assert due == {"new", "young_due", "young_due_with_slack", "old_due"}
