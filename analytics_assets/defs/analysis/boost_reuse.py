"""Which boost estimates a run can keep: each boost's inputs, fingerprinted, against the last run's.

A boost's estimate (``ml.boost_lift``) reads its own row (flight, spend, paid engagements, its post's account and
publication), the snapshots of its platform's posts published within ``publish_window_days`` of its post, which of
those posts are boosted (they are never comparables), the lift settings and the method's code. Nothing else: so
when none of these changed since the run that stored its rows, estimating it again gives those rows to the last
bit, and the run keeps them. A boost's inputs stop changing once its window's posts are past their tracked life,
so a daily run estimates the boosts of the last weeks, not the history's: its cost follows the new boosts.

The fingerprint is content, not time: a backfilled, restated or erased day changes the snapshots of its
publication day, and every boost whose window holds that day is estimated again; a new lift setting or a change
of ``ml/boost_lift.py`` changes every fingerprint. The snapshots are summarised per platform and publication day
(row count and an order-free sum of row hashes) in one aggregate in the warehouse, a few columns a row: far less
than estimating, and the summary is a row per day, however many posts a day has.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import defaultdict
from datetime import date, timedelta

import duckdb
import pandas as pd

import ml.boost_lift
from analytics_assets.contracts.warehouse import (
    BOOST_COUNTERFACTUAL_TRAJECTORY,
    BOOST_EFFECTIVENESS,
    BOOST_EFFECTIVENESS_INPUTS,
)
from analytics_assets.defs.analysis.input_fingerprints import method_key
from analytics_assets.storage.dialect import row_hash
from analytics_assets.storage.warehouse import table_exists

# the columns of a boost's own row that its estimate reads or carries (the asset's _boosts query)
BOOST_INPUT_COLUMNS = [
    "boost_id", "post_id", "platform", "account_id", "start_date", "end_date", "spend_usd", "paid_engagements",
    "published_at",
]


def _method_key(lift_config: ml.boost_lift.LiftConfig) -> str:
    return method_key(ml.boost_lift, sorted(dataclasses.asdict(lift_config).items()))


def _day_summaries(con: duckdb.DuckDBPyConnection, platforms: list[str]) -> dict[tuple[str, date], str]:
    """Per (platform, publication day): how many snapshots its posts have and an order-free sum of their rows' hashes
    (the columns the estimate reads)."""
    if not platforms:
        return {}
    marks = ", ".join("?" for _ in platforms)
    rows = con.execute(
        f"""select platform, cast(published_at as date) as day, count(*) as n,
                   sum({row_hash(con, ["post_id", "published_at", "snapshot_at", "engagements"])}) as h
            from main.stg_social_post_snapshots
            where platform in ({marks}) and published_at is not null
            group by platform, cast(published_at as date)""",
        platforms,
    ).fetchall()
    return {(platform, day): f"{n}:{h}" for platform, day, n, h in rows}


def input_fingerprints(
    con: duckdb.DuckDBPyConnection, boosts: pd.DataFrame, lift_config: ml.boost_lift.LiftConfig
) -> pd.Series:
    """Each boost's input fingerprint (a hex digest), indexed as ``boosts``."""
    method = _method_key(lift_config)
    summaries = _day_summaries(con, sorted(set(boosts["platform"].dropna())))
    published = pd.to_datetime(boosts["published_at"])
    # the boosted posts by publication day: a boosted post in a boost's window is kept out of its comparables
    boosted_by_day: dict[date, list[str]] = defaultdict(list)
    for post_id, at in zip(boosts["post_id"], published):
        if pd.notna(at):
            boosted_by_day[at.date()].append(str(post_id))
    window = timedelta(seconds=int(lift_config.publish_window_days * 86400))
    out = []
    for row, at in zip(boosts[BOOST_INPUT_COLUMNS].itertuples(index=False), published):
        parts = [method, repr(tuple(None if pd.isna(v) else str(v) for v in row))]
        if pd.notna(at):
            # every publication day a comparable can come from (the estimate reads whole days of posts)
            day, last = (at - window).date(), (at + window).date()
            while day <= last:
                parts.append(f"{day}|{summaries.get((row.platform, day), '-')}|{sorted(boosted_by_day.get(day, []))}")
                day += timedelta(days=1)
        out.append(hashlib.sha256("\n".join(parts).encode()).hexdigest())
    return pd.Series(out, index=boosts.index, dtype=object)


def reusable_estimates(
    con: duckdb.DuckDBPyConnection, boosts: pd.DataFrame, fingerprints: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The last run's effectiveness and trajectory rows of the boosts whose fingerprint it stored is theirs now
    (empty frames when there is no last run or nothing matches)."""
    if not all(table_exists(con, t) for t in (BOOST_EFFECTIVENESS_INPUTS, BOOST_EFFECTIVENESS, BOOST_COUNTERFACTUAL_TRAJECTORY)):
        return pd.DataFrame(), pd.DataFrame()
    current = pd.DataFrame({"boost_id": boosts["boost_id"].to_numpy(), "input_fingerprint": fingerprints.to_numpy()})
    con.register("_current_boost_inputs", current)
    try:
        # a fingerprint stored without its row (a row another writer removed) is not reused
        con.execute("drop table if exists _kept_boosts")
        con.execute(
            f"""create temp table _kept_boosts as
                select c.boost_id
                from _current_boost_inputs c
                join {BOOST_EFFECTIVENESS_INPUTS} s on s.boost_id = c.boost_id and s.input_fingerprint = c.input_fingerprint
                join {BOOST_EFFECTIVENESS} e on e.boost_id = c.boost_id"""
        )
        effectiveness = con.execute(
            f"select e.* from {BOOST_EFFECTIVENESS} e join _kept_boosts using (boost_id) order by e.boost_id"
        ).df()
        trajectory = con.execute(
            f"""select t.* from {BOOST_COUNTERFACTUAL_TRAJECTORY} t join _kept_boosts using (boost_id)
                order by t.boost_id, t.age_hours"""
        ).df()
    finally:
        con.unregister("_current_boost_inputs")
        con.execute("drop table if exists _kept_boosts")
    return effectiveness, trajectory
