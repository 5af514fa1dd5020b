"""The snapshot chain of the dbt project written by hand twice, as the baselines of ``benchmarks/scale.py``:
once as one tuned DuckDB script, once in pandas; and the checks that every way built the same tables.

The chain: stg_social_post_snapshots -> int_post_snapshots_latest_daily -> fct_post_metrics_daily ->
int_post_daily_increments -> agg_account_daily (organic rows) -> agg_platform_daily, and fct_post_metrics_daily ->
dim_post -> agg_engagement_by_hour. Both hand-written versions give the dbt models' columns, types and rows on
the organic snapshots (the benchmark's ad tables are empty, so dbt's paid rows are none).

What makes the DuckDB script "tuned": every "latest row of a group" is an aggregate of timestamps or dates and a
join on the unique key, never a window function or an arg_max that carries the row's columns through a hash
table: each post-day's closing reading, each post's first reading (only a post's first day reads an opening), each
post's identity and its latest day in dim_post. Everything after the first step works on post-days, ~5x fewer rows
than snapshots. The dbt models do the same since they were tuned (README, "How far it scales"); at 50M rows the
script had been slower than them (66.5 s against dbt's 38.2 s) until the opening and dim_post's latest day were
written that way here too (about 30 s for the script itself, 34 s with its process start).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator

import duckdb
import numpy as np
import pandas as pd

from analytics_assets.settings import PROJECT_ROOT

# the final tables compared across the ways, as the dbt project names them
FINAL_TABLES = ("fct_post_metrics_daily", "dim_post", "agg_engagement_by_hour", "agg_platform_daily")
# int_post_daily_increments' var: a post first seen within this many hours of publication counts from 0
POST_FIRST_POLL_MAX_HOURS = 6
_OPTIONAL = ("shares", "clicks", "quotes", "saves")  # counters a platform may not report (null: 0)
_INTERACTIONS = ("likes", "comments", "shares", "clicks", "quotes", "saves")


def engagement_weights() -> dict[str, dict[str, float]]:
    """The dbt seed platform_engagement_weights, as the hand-written chains inline it."""
    with open(PROJECT_ROOT / "dbt" / "seeds" / "platform_engagement_weights.csv", newline="") as f:
        return {row["platform"]: {m: float(row[m]) for m in _INTERACTIONS} for row in csv.DictReader(f)}


def duckdb_chain_sql(schema: str = "hand", raw: str = "raw") -> str:
    """The whole chain as one DuckDB script writing the final tables (and agg_account_daily) into ``schema``."""
    weights = engagement_weights()
    weighted = "case platform " + " ".join(
        f"when '{p}' then " + " + ".join(f"coalesce({m}, 0) * {w[m]!r}" for m in _INTERACTIONS) for p, w in weights.items()
    ) + " end"
    engagements = lambda s: " + ".join(f"coalesce({s}.{m}, 0)" for m in _INTERACTIONS)  # noqa: E731
    closing = ", ".join(
        ["account_id", "published_at", "hook_type", "media_type", "topic", "text_length", "impressions", *_INTERACTIONS]
    )
    counters = ", ".join(
        ["cast(impressions as bigint) as impressions"]
        + [f"cast({'coalesce(' + m + ', 0)' if m in _OPTIONAL else m} as bigint) as {m}" for m in _INTERACTIONS]
    )
    identity = ("post_url", "post_excerpt", "author_name")
    return f"""
    create schema if not exists {schema};

    -- each post-day's closing reading: an aggregate of timestamps only, then a join on the unique key (arg_max of
    -- the readings' columns in the aggregate is 3.5x slower: it carries the strings through the hash table: 5M
    -- rows, 2 threads, 26.7 s against 7.5 s with the identity below)
    create or replace temp table post_days as
    with bounds as (
        select
            platform,
            post_id,
            cast(snapshot_at as date) as metric_date,
            max(snapshot_at) as snapshot_at
        from {raw}.raw_social_post_snapshots
        group by platform, post_id, cast(snapshot_at as date)
    )
    select
        b.*,
        {', '.join(f'c.{col}' for col in closing.split(', '))}
    from bounds as b
    join {raw}.raw_social_post_snapshots as c
        on c.platform = b.platform and c.post_id = b.post_id and c.snapshot_at = b.snapshot_at;

    -- each post's first reading: only a post's first day reads its opening (the later days start from the day
    -- before), so one reading a post rather than one a post-day (at 50M rows, 2 threads: 23.4 s for the closing
    -- and opening of every post-day together, 7.4 + 2.1 s apart)
    create or replace temp table openings as
    with first_reading as (
        select platform, post_id, min(snapshot_at) as opening_snapshot_at
        from {raw}.raw_social_post_snapshots
        group by platform, post_id
    )
    select
        f.platform,
        f.post_id,
        f.opening_snapshot_at,
        {', '.join(f'o.{m} as opening_{m}' for m in ('impressions', *_INTERACTIONS))}
    from first_reading as f
    join {raw}.raw_social_post_snapshots as o
        on o.platform = f.platform and o.post_id = f.post_id and o.snapshot_at = f.opening_snapshot_at;

    -- each post's identity: per column, its latest non-null value (the time of it, then the reading at that time)
    create or replace temp table identity as
    with latest as (
        select
            platform,
            post_id,
            {', '.join(f'max(snapshot_at) filter (where {col} is not null) as {col}_at' for col in identity)}
        from {raw}.raw_social_post_snapshots
        group by platform, post_id
    )
    select
        latest.platform,
        latest.post_id,
        {', '.join(f'max(case when s.snapshot_at = latest.{col}_at then s.{col} end) as {col}' for col in identity)}
    from latest
    join {raw}.raw_social_post_snapshots as s
        on s.platform = latest.platform and s.post_id = latest.post_id
        and s.snapshot_at in ({', '.join(f'latest.{col}_at' for col in identity)})
    group by latest.platform, latest.post_id;

    create or replace table {schema}.fct_post_metrics_daily as
    with closing as (
        select
            platform, post_id, metric_date, snapshot_at, account_id, published_at, hook_type, media_type, topic,
            text_length, {counters}, {weighted} as weighted_interactions
        from post_days
    )
    select
        platform,
        post_id,
        metric_date,
        snapshot_at,
        account_id,
        published_at,
        cast(published_at as date) as published_date,
        cast(extract(hour from published_at) as integer) as publish_hour,
        cast(isodow(published_at) - 1 as integer) as publish_dow,
        hook_type,
        media_type,
        topic,
        text_length,
        cast(datediff('second', published_at, snapshot_at) as double) / 3600.0 as post_age_hours,
        impressions, likes, comments, shares, clicks, quotes, saves,
        cast({engagements('closing')} as bigint) as engagements,
        case when impressions is null or impressions = 0 then null
            else cast({engagements('closing')} as double) / impressions end as engagement_rate,
        case when impressions > 0 then least(cast(1000 as double), cast(weighted_interactions as double) * 10000 / impressions) end
            as engagement_score
    from closing;

    create or replace table {schema}.agg_account_daily as
    with previous as (
        select
            f.*,
            lag(f.metric_date) over w as previous_metric_date,
            lag(f.impressions) over w as previous_impressions,
            lag(f.engagements) over w as previous_engagements,
            lag(f.clicks) over w as previous_clicks,
            o.opening_snapshot_at,
            o.opening_impressions,
            {' + '.join(f'coalesce(o.opening_{m}, 0)' for m in _INTERACTIONS)} as opening_engagements,
            coalesce(o.opening_clicks, 0) as opening_clicks
        from {schema}.fct_post_metrics_daily as f
        join openings as o using (platform, post_id)
        window w as (partition by f.platform, f.post_id order by f.metric_date)
    ),
    increments as (
        select
            *,
            {', '.join(f'''{m} - case
                when previous_metric_date is not null then previous_{m}
                when datediff('second', published_at, opening_snapshot_at) / 3600.0 <= {POST_FIRST_POLL_MAX_HOURS} then 0
                else coalesce(opening_{m}, {m})
            end as {m}_increment''' for m in ('impressions', 'engagements', 'clicks'))}
        from previous
    )
    select
        metric_date,
        platform,
        account_id,
        'organic' as channel_type,
        cast(count(*) as integer) as posts,
        cast(sum(impressions_increment) as bigint) as impressions,
        cast(sum(engagements_increment) as bigint) as engagements,
        cast(sum(clicks_increment) as bigint) as clicks,
        cast(sum(engagement_score) as double) as engagement_score_sum,
        cast(count(engagement_score) as integer) as scored_posts,
        cast(0 as double) as spend_usd,
        cast(null as double) as conversions,
        cast(null as double) as revenue_usd
    from increments
    group by metric_date, platform, account_id;

    create or replace table {schema}.agg_platform_daily as
    with by_platform as (
        select
            metric_date, platform, channel_type,
            sum(posts) as posts, sum(impressions) as impressions, sum(engagements) as engagements,
            sum(clicks) as clicks, sum(engagement_score_sum) as engagement_score_sum,
            sum(scored_posts) as scored_posts, sum(spend_usd) as spend_usd, sum(conversions) as conversions,
            sum(revenue_usd) as revenue_usd
        from {schema}.agg_account_daily
        group by metric_date, platform, channel_type
    )
    select
        metric_date,
        platform,
        channel_type,
        cast(posts as integer) as posts,
        cast(impressions as bigint) as impressions,
        cast(engagements as bigint) as engagements,
        cast(clicks as bigint) as clicks,
        case when scored_posts is null or scored_posts = 0 then null else cast(engagement_score_sum as double) / scored_posts end
            as avg_engagement_score,
        cast(spend_usd as double) as spend_usd,
        cast(conversions as double) as conversions,
        cast(revenue_usd as double) as revenue_usd,
        case when impressions is null or impressions = 0 then null else cast(clicks as double) / impressions end as ctr,
        case when spend_usd is null or spend_usd = 0 then null else cast(revenue_usd as double) / spend_usd end as roas
    from by_platform;

    -- each post's latest day: an aggregate of dates, then a join on the unique key (arg_max(f, metric_date)
    -- carried every column through the hash table: 16.0 -> 2.7 s at 50M rows)
    create or replace table {schema}.dim_post as
    with spans as (
        select
            platform,
            post_id,
            max(metric_date) as latest_metric_date,
            min(metric_date) as first_metric_date,
            count(*) as days_observed
        from {schema}.fct_post_metrics_daily
        group by platform, post_id
    ),
    latest as (
        select f.*, spans.first_metric_date, spans.days_observed
        from {schema}.fct_post_metrics_daily as f
        join spans
            on f.platform = spans.platform and f.post_id = spans.post_id and f.metric_date = spans.latest_metric_date
    ),
    boosted as (
        select distinct organic_platform as platform, post_id from {raw}.raw_boosts
    )
    select
        latest.platform,
        latest.post_id,
        latest.account_id, latest.published_at, latest.published_date, latest.publish_hour, latest.publish_dow,
        latest.hook_type, latest.media_type, latest.topic, latest.text_length,
        latest.first_metric_date,
        latest.metric_date as latest_metric_date,
        latest.snapshot_at as latest_snapshot_at,
        latest.days_observed,
        latest.post_age_hours, latest.impressions, latest.likes, latest.comments, latest.shares, latest.clicks,
        latest.quotes, latest.saves, latest.engagements, latest.engagement_rate, latest.engagement_score,
        boosted.post_id is not null as is_boosted,
        identity.post_url, identity.post_excerpt, identity.author_name
    from latest
    left join identity on identity.platform = latest.platform and identity.post_id = latest.post_id
    left join boosted on boosted.platform = latest.platform and boosted.post_id = latest.post_id;

    create or replace table {schema}.agg_engagement_by_hour as
    select
        platform,
        publish_dow,
        publish_hour,
        cast(count(*) as integer) as posts,
        cast(avg(engagement_score) as double) as avg_engagement_score,
        cast(median(engagement_score) as double) as median_engagement_score,
        cast(avg(engagement_rate) as double) as avg_engagement_rate
    from {schema}.dim_post
    group by platform, publish_dow, publish_hour;

    drop table post_days;
    drop table openings;
    drop table identity;
    """


def run_duckdb_chain(con: duckdb.DuckDBPyConnection, schema: str = "hand", raw: str = "raw") -> None:
    con.execute("set enable_progress_bar = false")
    con.execute(duckdb_chain_sql(schema, raw))


# ------------------------------------------------------------------------------------------------- pandas

_RAW_COLUMNS = (
    "platform", "post_id", "account_id", "published_at", "snapshot_at", "hook_type", "media_type", "topic",
    "text_length", "impressions", *_INTERACTIONS, "post_url", "post_excerpt", "author_name",
)  # fmt: skip


def read_raw(con: duckdb.DuckDBPyConnection, raw: str = "raw") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The snapshots (the columns the chain reads) and the boosted posts, as pandas frames."""
    snapshots = con.execute(f"select {', '.join(_RAW_COLUMNS)} from {raw}.raw_social_post_snapshots").df()
    return snapshots, read_boosts(con, raw)


def read_boosts(con: duckdb.DuckDBPyConnection, raw: str = "raw") -> pd.DataFrame:
    return con.execute(f"select distinct organic_platform as platform, post_id from {raw}.raw_boosts").df()


def read_raw_buckets(con: duckdb.DuckDBPyConnection, buckets: int, raw: str = "raw") -> Iterator[pd.DataFrame]:
    """The snapshots in ``buckets`` frames, every reading of a post in the same one (bucketed by a hash of the post
    id): how pandas meets a table larger than memory, one bucket read and processed at a time."""
    for bucket in range(buckets):
        yield con.execute(
            f"select {', '.join(_RAW_COLUMNS)} from {raw}.raw_social_post_snapshots where hash(post_id) % ? = ?",
            [buckets, bucket],
        ).df()


def pandas_chain(s: pd.DataFrame, boosts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The chain in pandas, as a practitioner writes it: sort once, then vectorised operations on the sorted
    frame (groups are contiguous runs, found by comparing each row with the previous one)."""
    return _pandas_finish([_pandas_posts(s, boosts)])


def pandas_chain_buckets(buckets: Iterable[pd.DataFrame], boosts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The same chain over snapshots too large for one frame, given in buckets that each hold every reading of
    their posts (``read_raw_buckets``): everything per post runs a bucket at a time, the platform-day sums add
    across buckets, and the per-post tables are concatenated before the hour-of-week table (means and medians
    over posts) is computed once. Only one bucket's snapshots are in memory at a time."""
    parts = []
    for bucket in buckets:
        parts.append(_pandas_posts(bucket, boosts))
        del bucket  # before the next one is read (a comprehension would hold it through the read)
    return _pandas_finish(parts)


def _pandas_posts(s: pd.DataFrame, boosts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Everything of the chain that depends on one post's readings only, for the posts of ``s`` (consumed:
    columns are added to it): the post-day facts, the posts, and the platform-day sums of their increments."""
    weights = engagement_weights()
    for m in _OPTIONAL:
        s[m] = s[m].fillna(0).astype("int64")
    for m in ("impressions", "likes", "comments"):
        s[m] = s[m].astype("int64")
    s["engagements"] = s[list(_INTERACTIONS)].sum(axis=1)
    s["metric_date"] = s["snapshot_at"].dt.normalize()
    s.sort_values(["platform", "post_id", "snapshot_at"], inplace=True, ignore_index=True)
    post_day = ["platform", "post_id", "metric_date"]
    close = s.loc[~s.duplicated(post_day, keep="last")].reset_index(drop=True)
    opening = s.loc[~s.duplicated(post_day, keep="first"), ["snapshot_at", "impressions", "engagements", "clicks"]]
    opening = opening.reset_index(drop=True)  # the same post-days in the same order as close

    f = close[["platform", "post_id", "metric_date", "snapshot_at", "account_id", "published_at"]].copy()
    f["published_date"] = f["published_at"].dt.normalize()
    f["publish_hour"] = f["published_at"].dt.hour.astype("int32")
    f["publish_dow"] = f["published_at"].dt.dayofweek.astype("int32")  # Monday 0, as isodow - 1
    for col in ("hook_type", "media_type", "topic", "text_length"):
        f[col] = close[col]
    f["post_age_hours"] = (f["snapshot_at"] - f["published_at"]).dt.total_seconds() / 3600.0
    for m in ("impressions", *_INTERACTIONS, "engagements"):
        f[m] = close[m]
    impressions = f["impressions"].astype(float)
    f["engagement_rate"] = (f["engagements"] / impressions).where(impressions != 0)
    weighted = sum(close[m] * close["platform"].map({p: w[m] for p, w in weights.items()}) for m in _INTERACTIONS)
    f["engagement_score"] = np.minimum(1000.0, weighted * 10000 / impressions).where(impressions > 0)

    # increments: the previous post-day of the same post is the previous row (sorted by post, then day)
    same_post = (f["platform"] == f["platform"].shift()) & (f["post_id"] == f["post_id"].shift())
    age_hours = (opening["snapshot_at"] - f["published_at"]).dt.total_seconds() / 3600.0
    increments = f[["metric_date", "platform", "account_id", "engagement_score"]].copy()
    for m in ("impressions", "engagements", "clicks"):
        previous = f[m].shift()
        baseline = np.where(
            same_post, previous, np.where(age_hours <= POST_FIRST_POLL_MAX_HOURS, 0, opening[m].fillna(f[m]))
        )
        increments[m] = f[m] - baseline.astype("int64")
    account = increments.groupby(["metric_date", "platform", "account_id"], sort=False).agg(
        posts=("impressions", "size"),
        impressions=("impressions", "sum"),
        engagements=("engagements", "sum"),
        clicks=("clicks", "sum"),
        engagement_score_sum=("engagement_score", "sum"),
        scored_posts=("engagement_score", "count"),
    )
    platform_sums = account.groupby(["metric_date", "platform"], sort=False).sum()

    # dim_post: each post's latest post-day, its first day and how many it had
    last = ~f.duplicated(["platform", "post_id"], keep="last")
    run = (~same_post).cumsum()
    dim = f.loc[last].copy()
    dim["first_metric_date"] = f.loc[~same_post, "metric_date"].to_numpy()
    dim["days_observed"] = np.bincount(run)[1:]
    dim = dim.rename(columns={"metric_date": "latest_metric_date", "snapshot_at": "latest_snapshot_at"})
    for col in ("post_url", "post_excerpt", "author_name"):
        known = s.loc[s[col].notna(), ["platform", "post_id", col]]
        latest = known.loc[~known.duplicated(["platform", "post_id"], keep="last")]
        dim = dim.merge(latest, on=["platform", "post_id"], how="left")
    boosted = set(zip(boosts["platform"], boosts["post_id"]))
    dim["is_boosted"] = [key in boosted for key in zip(dim["platform"], dim["post_id"])] if boosted else False
    return {"fct_post_metrics_daily": f, "dim_post": dim, "platform_sums": platform_sums}


def _pandas_finish(parts: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """The chain's tables from the per-post work of one or more buckets of posts."""
    one = len(parts) == 1  # the whole table in one frame: no copy through concat
    f = parts[0]["fct_post_metrics_daily"] if one else pd.concat([p.pop("fct_post_metrics_daily") for p in parts], ignore_index=True)
    dim = parts[0]["dim_post"] if one else pd.concat([p.pop("dim_post") for p in parts], ignore_index=True)
    sums = parts[0]["platform_sums"] if one else pd.concat([p["platform_sums"] for p in parts]).groupby(level=[0, 1], sort=False).sum()
    platform = sums.reset_index()
    platform["channel_type"] = "organic"
    platform["avg_engagement_score"] = (platform["engagement_score_sum"] / platform["scored_posts"]).where(
        platform["scored_posts"] != 0
    )
    platform["ctr"] = (platform["clicks"] / platform["impressions"].astype(float)).where(platform["impressions"] != 0)
    platform["spend_usd"] = 0.0
    platform["conversions"] = platform["revenue_usd"] = platform["roas"] = np.nan
    platform = platform[
        ["metric_date", "platform", "channel_type", "posts", "impressions", "engagements", "clicks",
         "avg_engagement_score", "spend_usd", "conversions", "revenue_usd", "ctr", "roas"]
    ]  # fmt: skip

    by_hour = dim.groupby(["platform", "publish_dow", "publish_hour"], sort=False).agg(
        posts=("post_id", "size"),
        avg_engagement_score=("engagement_score", "mean"),
        median_engagement_score=("engagement_score", "median"),
        avg_engagement_rate=("engagement_rate", "mean"),
    )
    return {
        "fct_post_metrics_daily": f,
        "dim_post": dim,
        "agg_engagement_by_hour": by_hour.reset_index(),
        "agg_platform_daily": platform,
    }


def write_frames(con: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame], schema: str) -> None:
    """The pandas chain's tables into ``schema`` (for the checksums), dates as DATE as the models have them."""
    con.execute(f"create schema if not exists {schema}")
    for name, frame in frames.items():
        dates = [c for c in ("metric_date", "published_date", "first_metric_date", "latest_metric_date") if c in frame]
        casts = ", ".join(f"cast({c} as date) as {c}" for c in dates)
        con.register("_frame", frame)
        con.execute(f"create or replace table {schema}.{name} as select * {'replace (' + casts + ')' if casts else ''} from _frame")
        con.unregister("_frame")


# -------------------------------------------------------------------------------------------- comparison

# per final table: the figures compared across the ways (portable SQL: DuckDB and PostgreSQL)
CHECKSUMS = {
    "fct_post_metrics_daily": (
        "count(*)", "sum(impressions)", "sum(engagements)", "sum(clicks)", "sum(publish_hour + 24 * publish_dow)",
        "sum(engagement_score)", "sum(engagement_rate)", "sum(post_age_hours)", "count(engagement_score)",
    ),
    "dim_post": (
        "count(*)", "sum(impressions)", "sum(days_observed)", "sum(engagement_score)", "sum(text_length)",
        "count(post_url)", "sum(length(post_excerpt))", "count(distinct account_id)",
    ),
    "agg_engagement_by_hour": (
        "count(*)", "sum(posts)", "sum(avg_engagement_score)", "sum(median_engagement_score)", "sum(avg_engagement_rate)",
    ),
    "agg_platform_daily": (
        "count(*)", "sum(posts)", "sum(impressions)", "sum(engagements)", "sum(clicks)", "sum(avg_engagement_score)",
        "sum(ctr)",
    ),
}  # fmt: skip


def checksum_sql(schema: str, table: str) -> str:
    exprs = ", ".join(f"cast({e} as double precision)" for e in CHECKSUMS[table])
    # every row is counted, paid ones too: the benchmark's ad tables are empty, so a paid row is a way's bug
    return f"select {exprs} from {schema}.{table}"


def checksums(fetch, schema: str) -> dict[str, tuple[float, ...]]:
    """Each final table's figures; ``fetch(sql)`` returns the one row of a query on the way's engine."""
    return {table: tuple(float("nan") if v is None else float(v) for v in fetch(checksum_sql(schema, table))) for table in FINAL_TABLES}


def same_checksums(a: dict[str, tuple[float, ...]], b: dict[str, tuple[float, ...]], rel: float = 1e-9) -> list[str]:
    """The (table, figure) pairs that differ beyond float summation order; empty when the ways agree."""
    differ = []
    for table in FINAL_TABLES:
        for expr, x, y in zip(CHECKSUMS[table], a[table], b[table]):
            if not (math.isclose(x, y, rel_tol=rel, abs_tol=1e-6) or (math.isnan(x) and math.isnan(y))):
                differ.append(f"{table}.{expr}: {x!r} vs {y!r}")
    return differ


def table_differences(con: duckdb.DuckDBPyConnection, table: str, left: str, right: str, digits: int = 6) -> int:
    """Rows of ``left.table`` and ``right.table`` (same DuckDB file) in one but not the other, over ``left``'s
    columns by name (doubles rounded to ``digits`` decimals: summation order); raises if a column is missing."""
    columns = con.execute(
        "select column_name, data_type from information_schema.columns where table_catalog = current_database() "
        "and table_schema = ? and table_name = ? order by ordinal_position",
        [left, table],
    ).fetchall()
    if not columns:
        raise ValueError(f"no table {left}.{table}")
    select = ", ".join(f"round({c}, {digits})" if t in ("DOUBLE", "FLOAT") else c for c, t in columns)
    query = f"""
        select count(*) from (
            (select {select} from {left}.{table} except all select {select} from {right}.{table})
            union all
            (select {select} from {right}.{table} except all select {select} from {left}.{table})
        )"""
    return con.execute(query).fetchone()[0]
