"""Every served row belongs to an account: each data file of the serving snapshot carries ``platform`` and
``account_id`` (contracts.serving.ACCOUNT_COLUMNS) on every row, at a grain the API can re-aggregate over
any set of accounts, and the platform-wide marts are exactly those rows summed (agg_platform_daily,
agg_overview_daily but for the AI calls that belong to no account, agg_engagement_by_hour). The publisher
refuses a file with a row that belongs to no account, and publishes nothing then."""

from __future__ import annotations

import re
from datetime import timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics_assets.contracts.serving import (
    ACCOUNT_COLUMNS,
    ACCOUNTS,
    ANOMALIES,
    BOOST_SPLIT,
    BOOSTS,
    FORECASTS,
    SERVED_TABLES,
    TOP_POSTS,
)
from cycle_testing import E2E_END, CycleHome, new_home

SMALL = {"posts_per_day": 60, "journeys_per_day": 30, "ai_generations_per_day": 20, "boost_rate": 0.2, "malformed_rate": 0.0}


# ------------------------------------------------------------------------------ the publisher, unit level


def _source_tables(con: duckdb.DuckDBPyConnection, null_account_in: str | None = None) -> None:
    """One row per served source table, with the columns the contract reads (account columns, order-by
    columns, row filter); ``null_account_in``: the file whose row gets a null account_id."""
    for table in SERVED_TABLES:
        schema = table.source.split(".", 1)[0]
        con.execute(f'create schema if not exists "{schema}"')
        columns = {"platform": "'linkedin'"}
        if table.account_join is None:
            columns["account_id"] = "null" if table.file == null_account_in else "'urn:li:organization:1'"
        for name in table.order_by.split(","):
            name = re.sub(r"\s+desc$", "", name.strip())
            columns.setdefault(name, "'1'")
        if table.where:  # a boolean filter column (is_current)
            columns[table.where] = "true"
        select = ", ".join(f'{value}::{"boolean" if value == "true" else "varchar"} as "{name}"' for name, value in columns.items())
        con.execute(f"create table {table.source} as select {select}")


def _publish(tmp_path, null_account_in: str | None = None):
    from analytics_assets.defs.automation_catalog import AutomationCatalogResource
    from analytics_assets.defs.quality_gate import QualityGateResource
    from analytics_assets.defs.resources import ServingResource, WarehouseResource
    from analytics_assets.defs.serving.snapshot import serving_snapshot

    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        _source_tables(con, null_account_in)
    serving = tmp_path / "serving"
    result = dg.materialize(
        [serving_snapshot],
        resources={
            "warehouse": WarehouseResource(path=str(warehouse)),
            "serving": ServingResource(serving_dir=str(serving)),
            "quality_gate": QualityGateResource(),
            "automation_catalog": AutomationCatalogResource(),
        },
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    return result, serving


def test_the_publisher_publishes_files_whose_rows_all_have_an_account(tmp_path):
    result, serving = _publish(tmp_path)
    assert result.success
    assert {t.file for t in SERVED_TABLES} <= {f.name for f in serving.iterdir()}
    metadata = result.asset_materializations_for_node("serving_snapshot")[0].metadata
    assert {k: v.value for k, v in metadata.items() if k.startswith("accounts/")} == {
        f"accounts/{t.file}": 1 for t in SERVED_TABLES
    }


@pytest.mark.parametrize("bad", [BOOSTS, TOP_POSTS])
def test_the_publisher_refuses_a_file_with_a_row_without_account_and_publishes_nothing(tmp_path, bad):
    result, serving = _publish(tmp_path, null_account_in=bad)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    assert bad in failure.message and "1 of 1 rows have a null account_id" in failure.message
    assert not serving.exists() or list(serving.iterdir()) == []  # not one file, not even the manifest


def test_the_publisher_refuses_a_file_without_the_account_columns(tmp_path):
    from analytics_assets.defs.serving.snapshot import account_column_problems

    frames = {t.file: pd.DataFrame({"platform": ["x"], "account_id": ["1"]}) for t in SERVED_TABLES}
    frames[ACCOUNTS] = pd.DataFrame({"platform": ["x"], "posts": [3]})
    assert account_column_problems(frames) == [f"{ACCOUNTS} (from main.dim_account) has no column account_id"]


# ---------------------------------------------------------------------- the pipeline on a small simulation


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> CycleHome:
    home = new_home(tmp_path_factory.mktemp("account_grain"))
    home.run(E2E_END - timedelta(days=1), E2E_END, **SMALL)
    return home


def _served(home: CycleHome, name: str) -> pd.DataFrame:
    return pd.read_parquet(home.serving / name)


@pytest.mark.slow
def test_every_served_row_belongs_to_a_listed_account(home):
    accounts = _served(home, ACCOUNTS)
    listed = set(zip(accounts["platform"], accounts["account_id"]))
    assert len(listed) == len(accounts) and {"organic", "paid", "web"} == set(accounts["channel_type"])
    assert ("web", "cycle-demo") in listed  # the tracked journeys' property
    assert accounts.groupby("platform").size().max() > 1  # several accounts per platform: the grain matters
    event = home.instance.get_latest_materialization_event(dg.AssetKey("serving_snapshot"))
    metadata = event.asset_materialization.metadata
    for table in SERVED_TABLES:
        frame = _served(home, table.file)
        assert set(ACCOUNT_COLUMNS) <= set(frame.columns), table.file
        # a few days of history hold no anomaly (a series needs weeks of it) and no forecast (its own schedule)
        assert len(frame) > 0 or table.file in (ANOMALIES, FORECASTS), table.file
        assert frame[list(ACCOUNT_COLUMNS)].notna().all().all(), table.file
        keys = set(zip(frame["platform"], frame["account_id"]))
        assert keys <= listed, (table.file, keys - listed)
        assert metadata[f"accounts/{table.file}"].value == len(keys)


@pytest.mark.slow
def test_platform_days_are_the_sums_of_their_accounts(home):
    accounts = home.query("select * from main.agg_account_daily")
    platforms = home.query("select * from main.agg_platform_daily")
    summed = accounts.groupby(["metric_date", "platform", "channel_type"], as_index=False).agg(
        posts=("posts", "sum"), impressions=("impressions", "sum"), engagements=("engagements", "sum"),
        clicks=("clicks", "sum"), spend_usd=("spend_usd", "sum"), revenue_usd=("revenue_usd", "sum"),
        score_sum=("engagement_score_sum", "sum"), scored=("scored_posts", "sum"), n_accounts=("account_id", "nunique"),
    )
    merged = platforms.merge(summed, on=["metric_date", "platform", "channel_type"], suffixes=("", "_acc"), validate="one_to_one")
    assert len(merged) == len(platforms) == len(summed) and (merged["n_accounts"] > 1).any()
    for column in ("posts", "impressions", "engagements", "clicks"):
        assert (merged[column] == merged[f"{column}_acc"]).all(), column
    assert np.allclose(merged["spend_usd"], merged["spend_usd_acc"])
    paid = merged[merged["channel_type"] == "paid"]
    assert np.allclose(paid["revenue_usd"], paid["revenue_usd_acc"])
    organic = merged[merged["channel_type"] == "organic"]
    assert np.allclose(organic["avg_engagement_score"], organic["score_sum"] / organic["scored"])
    # and the mean score is the mean over the platform's posts of the day, as before the account grain
    posts = home.query(
        "select metric_date, platform, avg(engagement_score) mean_score from main.int_post_daily_increments group by all"
    )
    check = organic.merge(posts, on=["metric_date", "platform"])
    assert len(check) == len(organic) and np.allclose(check["avg_engagement_score"], check["mean_score"])


@pytest.mark.slow
def test_overview_totals_are_the_accounts_plus_the_ai_calls_of_no_account(home):
    accounts = home.query("select * from main.agg_overview_account_daily")
    daily = home.query("select * from main.agg_overview_daily").set_index("metric_date").sort_index()
    # every account has a row on every day of the range
    assert accounts.groupby(["platform", "account_id"]).size().eq(len(daily)).all()
    summed = accounts.drop(columns=["platform", "account_id"]).groupby("metric_date").sum().sort_index()
    assert list(summed.index) == list(daily.index)
    for column in ("spend_usd", "revenue_usd", "paid_conversions", "paid_impressions", "paid_clicks",
                   "organic_impressions", "organic_engagements", "posts_published"):
        assert np.allclose(summed[column], daily[column]), column
    # the AI calls of no account (no post, or a post not in dim_post) are in the totals only
    unattributed = home.query(
        """select generated_date as metric_date, count(*) calls, sum(cost_usd) cost, sum(total_tokens) tokens
           from main.int_ai_generation_accounts where not is_attributed group by 1"""
    ).set_index("metric_date").reindex(daily.index, fill_value=0)
    assert unattributed["calls"].sum() > 0
    assert (summed["ai_calls"] + unattributed["calls"] == daily["ai_calls"]).all()
    assert (summed["ai_tokens"] + unattributed["tokens"] == daily["ai_tokens"]).all()
    assert np.allclose(summed["ai_cost_usd"] + unattributed["cost"], daily["ai_cost_usd"])
    calls = home.query("select generated_date metric_date, count(*) n from main.stg_ai_generations group by 1").set_index("metric_date")
    assert (daily["ai_calls"] == calls["n"].reindex(daily.index, fill_value=0)).all()
    # an attributed call counts for the account of the post it produced
    by_post = home.query(
        """select g.generated_date metric_date, p.platform, p.account_id, count(*) n
           from main.stg_ai_generations g join main.dim_post p using (platform, post_id) group by all"""
    )
    merged = by_post.merge(accounts, on=["metric_date", "platform", "account_id"], how="left")
    assert len(merged) > 0 and (merged["n"] == merged["ai_calls"]).all()


@pytest.mark.slow
def test_top_posts_are_ranked_within_each_account(home):
    top = _served(home, TOP_POSTS)
    assert "scope" not in top.columns
    eligible = home.query(
        """select platform, account_id, post_id, engagement_score, engagements from main.dim_post
           where impressions >= 500 and engagement_score is not null"""
    )
    assert top.groupby(["platform", "account_id"]).ngroups > 4
    for (platform, account), rows in top.groupby(["platform", "account_id"]):
        assert rows["post_rank"].tolist() == list(range(1, len(rows) + 1)), (platform, account)
        mine = eligible[(eligible["platform"] == platform) & (eligible["account_id"] == account)]
        best = mine.sort_values(["engagement_score", "engagements", "post_id"], ascending=[False, False, True]).head(20)
        assert rows["post_id"].tolist() == best["post_id"].tolist(), (platform, account)
    # the former overall top 10 (scope 'all') is the top 10 of the accounts' rows, ranked again
    order = dict(by=["engagement_score", "engagements", "platform", "post_id"], ascending=[False, False, True, True])
    assert (
        top.sort_values(**order).head(10)["post_id"].tolist()
        == eligible.sort_values(**order).head(10)["post_id"].tolist()
    )
    # each served post says what it is: its permalink on its platform, an excerpt of its text, its author
    hosts = {"linkedin": "https://www.linkedin.com/feed/update/urn:li:", "x": "https://x.com/",
             "reddit": "https://www.reddit.com/r/", "tiktok": "https://www.tiktok.com/@"}
    assert all(url.startswith(hosts[p]) for p, url in zip(top["platform"], top["post_url"]))
    assert top["post_excerpt"].str.len().between(1, 280).all() and not top["post_excerpt"].str.contains(r"\s\s|\n").any()
    assert top.loc[top["platform"] != "linkedin", "author_name"].str.startswith("cycle_brand_").all()
    from api.local import local_client

    served = local_client(home.serving, home.root / "api-state").get("/v1/posts/top", params={"limit": 5})
    assert served.status_code == 200, served.text
    [first, *_] = served.json()["items"]
    row = top[(top["platform"] == first["platform"]) & (top["post_id"] == first["post_id"])].iloc[0]
    assert (first["post_url"], first["post_excerpt"]) == (row["post_url"], row["post_excerpt"])


@pytest.mark.slow
def test_engagement_heatmap_adds_up_to_the_platform_slots(home):
    heat = home.query("select * from main.agg_account_engagement_by_hour")
    slots = home.query("select * from main.agg_engagement_by_hour")
    summed = heat.groupby(["platform", "publish_dow", "publish_hour"], as_index=False)[
        ["posts", "scored_posts", "engagement_score_sum", "rated_posts", "engagement_rate_sum"]
    ].sum(min_count=1)
    merged = slots.merge(summed, on=["platform", "publish_dow", "publish_hour"], suffixes=("", "_acc"), validate="one_to_one")
    assert len(merged) == len(slots) == len(summed)
    assert (merged["posts"] == merged["posts_acc"]).all()
    scored = merged[merged["scored_posts"] > 0]
    assert np.allclose(scored["avg_engagement_score"], scored["engagement_score_sum"] / scored["scored_posts"])
    rated = merged[merged["rated_posts"] > 0]
    assert np.allclose(rated["avg_engagement_rate"], rated["engagement_rate_sum"] / rated["rated_posts"])


@pytest.mark.slow
def test_boosts_carry_their_posts_account(home):
    posts = home.query("select platform, post_id, account_id as post_account from main.dim_post")
    for name in (BOOSTS, BOOST_SPLIT):
        boosts = _served(home, name)
        assert len(boosts) > 0, name
        merged = boosts.merge(posts, on=["platform", "post_id"], how="left", validate="one_to_one")
        assert (merged["account_id"] == merged["post_account"]).all(), name
    split = _served(home, BOOST_SPLIT)
    assert (split["platform"] == split["organic_platform"]).all()
