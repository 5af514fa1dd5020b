"""The scale benchmark's parts (benchmarks/scale_generate.py, benchmarks/scale_chain.py) on ~20,000 rows: the bulk
generator writes what the raw contract accepts, and the hand-written chains (DuckDB and pandas), which the benchmark
times against the dbt chain, build the dbt chain's final tables row for row. A check of the benchmark, not of the
models: if a model's logic changes, the hand-written chains must follow it, or the benchmark compares unequal work.

dbt runs in-process with the project's manifest (``test_warehouse_incremental.Dbt``): no parse.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from analytics_assets.contracts.raw import RAW_TABLES, SOCIAL_POST_SNAPSHOTS
from analytics_assets.sources.simulator import core
from analytics_assets.storage.warehouse import ensure_raw_tables
from benchmarks import scale_chain as chain
from benchmarks import scale_generate as gen
from benchmarks.scale import CHAIN_SELECT
from test_warehouse_incremental import Dbt, _release_duckdb

ROWS = 20_000
POSTS_PER_DAY = 100


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A warehouse of ROWS generated snapshots with the dbt chain (schema main), the hand-written DuckDB chain
    (schema hand) and the pandas chain, in one frame (schema pandas) and in buckets of posts (pandas_buckets), built
    on it."""
    root = tmp_path_factory.mktemp("benchmark_scale")
    with pytest.MonkeyPatch.context() as env:
        env.delenv("CYCLE_DBT_MIN_DATE", raising=False)
        env.delenv("CYCLE_DBT_MAX_DATE", raising=False)
        env.setenv("CYCLE_ARCHIVE_DIR", str(root / "no-archive"))
        dbt = Dbt(root / "dbt_target", env)
        warehouse = dbt.warehouse(root / "warehouse")
        volume = gen.for_rows(ROWS, POSTS_PER_DAY, date(2026, 6, 1))
        with duckdb.connect(str(warehouse), config={"threads": 1}) as con:
            ensure_raw_tables(con, list(RAW_TABLES.values()))
            written = gen.generate(con, volume)
        env.setenv("CYCLE_WAREHOUSE_PATH", str(warehouse))
        try:
            for args in (["seed"], ["run", "--select", *CHAIN_SELECT]):
                result = dbt.runner.invoke([args[0], *dbt.base, *args[1:]])
                assert result.success, [(r.node.name, r.message) for r in (result.result or []) if r.status != "success"]
        finally:
            _release_duckdb()
        with duckdb.connect(str(warehouse), config={"threads": 1}) as con:
            chain.run_duckdb_chain(con, schema="hand")
            snapshots, boosts = chain.read_raw(con)
            chain.write_frames(con, chain.pandas_chain(snapshots, boosts), "pandas")
            # the way a table larger than memory goes through pandas: three buckets of posts
            by_bucket = chain.pandas_chain_buckets(chain.read_raw_buckets(con, 3), chain.read_boosts(con))
            chain.write_frames(con, by_bucket, "pandas_buckets")
    return warehouse, volume, written


def test_the_generator_writes_the_rows_asked_in_the_simulator_s_shape(built):
    warehouse, volume, written = built
    assert written == ROWS
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert gen.validate_sample(con, rows=5_000, share=1) == 5_000
        columns = [r[0] for r in con.execute("describe raw.raw_social_post_snapshots").fetchall()]
        assert columns == list(SOCIAL_POST_SNAPSHOTS.columns)
        per_post = con.execute(
            "select platform, count(*) as polls, min(snapshot_at - published_at) as first_poll "
            "from raw.raw_social_post_snapshots group by platform, post_id"
        ).df()
    # every post but the last (cut at ROWS) has the simulator's 44 polls, the first one 2 hours after publication
    assert (per_post["polls"] == gen.POLLS_PER_POST).sum() == len(per_post) - 1
    assert gen.POLLS_PER_POST == len(core.SNAPSHOT_AGES_HOURS)
    assert per_post["first_poll"].between(pd.Timedelta(hours=2), pd.Timedelta(hours=2, minutes=10)).all()
    counts = per_post.groupby("platform").size()
    # posts a day split over the platforms as the simulator splits them (30/35/15/20 %)
    assert counts["x"] > counts["linkedin"] > counts["tiktok"] > counts["reddit"]


def test_the_validation_refuses_rows_the_contract_refuses(built, tmp_path):
    warehouse, _, _ = built
    with duckdb.connect(str(tmp_path / "broken.duckdb")) as con:
        con.execute(f"attach '{warehouse}' as source (read_only)")
        con.execute("create schema raw")
        con.execute("create table raw.raw_social_post_snapshots as select * from source.raw.raw_social_post_snapshots")
        con.execute("update raw.raw_social_post_snapshots set likes = -1 where hash(post_id) % 2 = 0")
        with pytest.raises(Exception, match="likes"):
            gen.validate_sample(con, rows=5_000)


@pytest.mark.parametrize("way", ["hand", "pandas", "pandas_buckets"])
def test_a_hand_written_chain_builds_the_dbt_chain_s_tables(built, way):
    warehouse, _, _ = built
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in chain.FINAL_TABLES:
            rows = con.execute(f"select count(*) from main.{table}").fetchone()[0]
            assert rows > 0, table
            # every column of the hand-written table, by name, row for row (doubles to 6 decimals)
            assert chain.table_differences(con, table, way, "main") == 0, table
        assert not chain.same_checksums(chain.checksums(lambda sql: con.execute(sql).fetchone(), "main"),
                                        chain.checksums(lambda sql: con.execute(sql).fetchone(), way))


def test_the_comparison_sees_one_changed_row(built, tmp_path):
    warehouse, _, _ = built
    with duckdb.connect(str(tmp_path / "changed.duckdb")) as con:
        con.execute(f"attach '{warehouse}' as w (read_only)")
        for schema in ("main", "hand"):
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create table {schema}.agg_platform_daily as select * from w.{schema}.agg_platform_daily")
        con.execute("update hand.agg_platform_daily set clicks = clicks + 1 where rowid = 0")
        assert chain.table_differences(con, "agg_platform_daily", "hand", "main") == 2


def test_the_buckets_split_the_posts_and_keep_each_post_whole(built):
    warehouse, _, written = built
    with duckdb.connect(str(warehouse), read_only=True) as con:
        buckets = list(chain.read_raw_buckets(con, 3))
    assert sum(len(b) for b in buckets) == written
    assert all(len(b) for b in buckets)  # each bucket holds posts: the platform-day sums really add across buckets
    posts = [set(zip(b["platform"], b["post_id"])) for b in buckets]
    assert not (posts[0] & posts[1]) and not (posts[0] & posts[2]) and not (posts[1] & posts[2])
