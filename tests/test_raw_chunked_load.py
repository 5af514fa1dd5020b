"""A raw day streams through in chunks (issue 16): ``raw_platform_data`` simulates, parses, validates and writes the
social snapshots in slices of whole posts of at most ``SimulatorResource.raw_chunk_rows`` rows, inside the one
transaction that replaces the day. Whatever the chunk size, the day holds exactly the rows, the quarantine and the
counts of the whole day parsed at once; a rerun replaces it, and a failure mid-stream leaves the previous rows."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import pandas as pd
import pytest

from analytics_assets.contracts.raw import QUARANTINE_TABLE, RAW_SCHEMA, RAW_TABLES, SOCIAL_POST_SNAPSHOTS
from analytics_assets.defs.ingest import raw as raw_module
from analytics_assets.defs.ingest import raw_checks
from analytics_assets.defs.resources import SimulatorResource
from analytics_assets.sources.parsing.loader import parse_day
from analytics_assets.sources.simulator import PlatformSimulator
from analytics_assets.sources.simulator.core import SNAPSHOT_AGES_HOURS

DAY = date(2026, 5, 4)
# malformed records in every entity, so the quarantine and its reasons are compared too; ~6,000 snapshot rows
SIM = {"seed": 5, "posts_per_day": 60, "journeys_per_day": 20, "ai_generations_per_day": 20,
       "experiment_units_per_day": 10, "malformed_rate": 0.03}
TINY = 100  # rows a chunk: ~25 chunks of whole posts (each post has up to 12 polls a day), ending anywhere
LOAD_TIMES = ("loaded_at", "quarantined_at")


def _load(con, chunk_rows: int, tables=None) -> raw_module.RawLoadTally:
    simulator = SimulatorResource(**SIM, raw_chunk_rows=chunk_rows)
    tables = tables or list(RAW_TABLES.values())
    tally = raw_module.RawLoadTally(tables, [DAY])
    raw_module._load_simulated(dg.build_asset_context(), con, simulator, tables, {}, [DAY], tally, ("purchase",))
    return tally


def _stored(con, table) -> pd.DataFrame:
    return con.execute(f"select * exclude ({', '.join(LOAD_TIMES[:1])}) from {table.qualified_name} order by all").df()


def _quarantine(con) -> pd.DataFrame:
    return con.execute(f"select * exclude (quarantined_at) from {RAW_SCHEMA}.{QUARANTINE_TABLE} order by all").df()


def _assert_same_figures(tally: raw_module.RawLoadTally, expected: raw_module.RawLoadTally) -> None:
    assert (tally.loaded, tally.quarantined, tally.per_platform, tally.reasons) == (
        expected.loaded, expected.quarantined, expected.per_platform, expected.reasons
    )
    assert tally.previews.keys() == expected.previews.keys()
    for name, preview in tally.previews.items():
        assert len(preview) == 5, name
        pd.testing.assert_frame_equal(preview.drop(columns="loaded_at"), expected.previews[name].drop(columns="loaded_at"))


@pytest.fixture(scope="module")
def whole_day():
    """The day parsed at once, as the raw load parsed it before it streamed."""
    return parse_day(PlatformSimulator(SimulatorResource(**SIM).config()).day(DAY), ("purchase",))


@pytest.fixture(scope="module")
def loads():
    """The day loaded in one chunk and in chunks of TINY rows, each into a warehouse of its own."""
    out = {}
    for chunk_rows in (10**9, TINY):
        con = duckdb.connect(":memory:", config={"threads": 1})
        out[chunk_rows] = (con, _load(con, chunk_rows))
    yield out
    for con, _ in out.values():
        con.close()


def test_tiny_chunks_store_exactly_the_whole_days_rows_and_quarantine(loads, whole_day):
    (one, one_tally), (tiny, tiny_tally) = loads[10**9], loads[TINY]
    for table in RAW_TABLES.values():
        pd.testing.assert_frame_equal(_stored(tiny, table), _stored(one, table), obj=table.name)
        # the whole day's parse, stored the same way: nothing dropped or repeated at a chunk's boundary
        expected = whole_day[table.name].rows.drop(columns=["loaded_at"])
        assert len(_stored(tiny, table)) == len(expected) > 0, table.name
    pd.testing.assert_frame_equal(_quarantine(tiny), _quarantine(one))
    quarantined = sum(b.quarantined for b in whole_day.values())
    assert len(_quarantine(tiny)) == quarantined > 0
    social = _stored(tiny, SOCIAL_POST_SNAPSHOTS)
    assert social.duplicated(list(SOCIAL_POST_SNAPSHOTS.key)).sum() == 0
    # the asset's metadata (row counts by platform, quarantine reasons, preview) are the one-chunk load's
    _assert_same_figures(tiny_tally, one_tally)


def test_the_chunks_are_the_whole_day_in_pieces_of_whole_posts():
    sim = PlatformSimulator(SimulatorResource(**SIM).config())
    whole = sim.day(DAY)
    pieces = list(sim.day_chunks(DAY, TINY))
    first, social = pieces[0], pieces[1:]
    assert first.social_posts == {} and all(len(p.social_posts) == 1 for p in social)
    for name in ("boosts", "touchpoints", "ai_generations", "experiment_observations"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(whole, name), obj=name)
    for platform, frame in whole.social_posts.items():
        parts = [p.social_posts[platform] for p in social if platform in p.social_posts]
        # bounded: a piece holds one post's polls of the day at most beyond the chunk size
        assert max(len(p) for p in parts) <= max(TINY, len(SNAPSHOT_AGES_HOURS))
        pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), frame, obj=platform)
    # the same records corrupted (social: rows of the platform's whole frame), the same log
    malformed = pd.concat([p.malformed for p in pieces if len(p.malformed)], ignore_index=True)
    key = ["entity", "platform", "row", "field"]
    pd.testing.assert_frame_equal(
        malformed.astype(str).sort_values(key).reset_index(drop=True),
        whole.malformed.astype(str).sort_values(key).reset_index(drop=True),
    )
    with pytest.raises(ValueError, match="max_rows"):
        next(sim.day_chunks(DAY, 0))


def test_a_rerun_replaces_the_day_and_a_failed_stream_leaves_the_previous_rows(loads, monkeypatch):
    con, _ = loads[TINY]
    social = [SOCIAL_POST_SNAPSHOTS]
    before = _stored(con, SOCIAL_POST_SNAPSHOTS)
    _load(con, 500, social)  # another chunk size: the same day again, nothing repeated
    pd.testing.assert_frame_equal(_stored(con, SOCIAL_POST_SNAPSHOTS), before)

    calls = []
    parse_entity = raw_module.parse_entity

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:  # two chunks are in the transaction already
            raise RuntimeError("the platform went away")
        return parse_entity(*args)

    monkeypatch.setattr(raw_module, "parse_entity", failing)
    con.execute(f"delete from {SOCIAL_POST_SNAPSHOTS.qualified_name} where platform = 'x'")  # a day to restore
    mutilated = _stored(con, SOCIAL_POST_SNAPSHOTS)
    with pytest.raises(RuntimeError, match="went away"):
        _load(con, TINY, social)
    pd.testing.assert_frame_equal(_stored(con, SOCIAL_POST_SNAPSHOTS), mutilated)


def test_the_row_rules_check_reads_the_day_in_chunks_and_finds_the_same_failures(loads):
    """``rows_match_schema`` validates the stored day a chunk at a time (memory follows the chunk): it finds the
    failures the whole day's validation finds, on either side of a chunk's boundary, each at its row."""
    con, _ = loads[10**9]
    table = SOCIAL_POST_SNAPSHOTS
    con.execute("begin transaction")
    try:
        # rows stored past the parse's rules (as a source that slipped past it would): one early, some late
        con.execute(f"update {table.qualified_name} set likes = -1 where rowid in (3, 2100, 2500)")
        con.execute(f"update {table.qualified_name} set snapshot_at = published_at - interval 1 hour where rowid = 2047")
        whole = raw_checks.schema_failures_by_day(
            con.execute(f"select * from {table.qualified_name} where partition_date = ?", [DAY]).df(), table, [DAY]
        )[DAY]
        streamed = raw_checks._schema_failures_streamed(con, table, DAY, DAY, [DAY], 1)[DAY]  # chunks of a vector: 2048
    finally:
        con.execute("rollback")
    assert len(con.execute(f"select * from {table.qualified_name}").df()) > 2048  # two chunks at least
    assert sorted(set(whole["index"])) == sorted(set(streamed["index"])) == [3, 2047, 2100, 2500]
    key = ["index", "column", "check"]
    pd.testing.assert_frame_equal(
        streamed.sort_values(key).reset_index(drop=True), whole.sort_values(key).reset_index(drop=True)
    )
