"""A warehouse holding just what ``boost_effectiveness`` reads, built straight from the simulator (no ingest, no dbt):
``main.stg_social_post_snapshots`` (a table here, rows in load order: by snapshot day), ``main.fct_boost_contribution``,
``main.fct_boost_organic_vs_paid`` (its owner columns) and ``main.dim_post``, for the posts published on ``days`` days from ``start``. A uniquely named module (see
cycle_testing)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig, core

ENGAGEMENT_METRICS = ["likes", "comments", "shares", "clicks", "quotes", "saves"]


def build_boost_warehouse(path: Path, config: SimulatorConfig, start: date, days: int, platforms=("linkedin", "x")) -> None:
    sim = PlatformSimulator(config)
    end = start + timedelta(days=days - 1)
    snaps = sim.post_trajectories(start, end, platforms=platforms)
    snaps["engagements"] = snaps[ENGAGEMENT_METRICS].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1).astype("int64")
    snaps["account_id"] = [core.account_id(p, int(a)) for p, a in zip(snaps["platform"], snaps["account_seq"])]
    snaps = snaps.sort_values(["snapshot_at", "platform", "post_id"], kind="stable")
    stg = snaps[["platform", "post_id", "account_id", "published_at", "snapshot_at", "engagements"]]
    posts = stg.drop_duplicates(["platform", "post_id"])[["platform", "post_id", "account_id", "published_at"]]
    flights = sim.boosts(start, end + timedelta(days=core.BOOST_DAYS))
    flights = flights[flights["post_id"].isin(set(posts["post_id"]))]
    boosts = (
        flights.groupby("boost_id", as_index=False)
        .agg(
            post_id=("post_id", "first"),
            organic_platform=("organic_platform", "first"),
            start_date=("start_date", "first"),
            end_date=("end_date", "first"),
            spend_usd=("spend", "sum"),
            paid_engagements=("paid_engagements", "sum"),
        )
        .assign(is_organic_tracked=True)  # the simulator boosts only posts of tracked platforms
    )
    # fct_boost_organic_vs_paid's owners: boost_effectiveness reads the untracked boosts' owner there (none here)
    owners = boosts.merge(posts, left_on=["organic_platform", "post_id"], right_on=["platform", "post_id"])
    owners = owners[["boost_id", "platform", "account_id"]]
    con = duckdb.connect(str(path))
    try:
        for name, frame in (("stg_social_post_snapshots", stg), ("fct_boost_contribution", boosts), ("dim_post", posts),
                            ("fct_boost_organic_vs_paid", owners)):
            con.register("_frame", frame)
            con.execute(f"create or replace table main.{name} as select * from _frame")
            con.unregister("_frame")
    finally:
        con.close()
