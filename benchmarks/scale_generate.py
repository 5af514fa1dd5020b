"""Bulk generation of ``raw.raw_social_post_snapshots`` in DuckDB, from the simulator's own distributions.

The simulator (``analytics_assets/sources/simulator``) makes ~2,000 snapshot rows a second through pandas and its
native payloads and parsers: 50M rows would take hours. This writes the same key structure and the same
distributions as one set-based INSERT, tens of millions of rows a minute:

* posts per day per platform: ``round(posts_per_day * share_of_posts)`` as ``core._posts_published_on``, the
  simulator's native post ids (LinkedIn share URNs, X/TikTok numeric ids, Reddit ``t3_`` base 36), 5 accounts a
  platform with the simulator's account ids;
* publication uniform over the day's hours and seconds; hook, media (the platform's mix), topic and text length
  drawn as the simulator draws them;
* lifetime counters: impressions ``median * exp(N(0, 0.6))``; each interaction the platform reports
  ``Poisson(impressions * base_rate * exp(log-multiplier))``, the multiplier being the planted hour, hook, media and
  topic effects plus ``N(0, 0.3)`` noise (here the Poisson is its normal approximation, rounded, floored at 0);
* polls at ``core.SNAPSHOT_AGES_HOURS`` (every 2 h to 48 h, every 6 h to 168 h: 44 per post) with the pollers'
  fixed delay, each reading ``floor(total * (1 - 0.5 ** (age / half_life)))``: monotone counters, the half-life the
  platform's times ``exp(N(0, 0.25))``.

Not generated: boosts' organic lift, viral take-offs, behaviour shifts, closed-loop posts (none are on by default
in the simulator either) and the post texts (the excerpt is a short synthetic sentence). Every draw is a hash
of (seed, post, stream), so the same arguments give the same rows on any machine and any thread count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from analytics_assets.contracts.raw import SOCIAL_POST_SNAPSHOTS
from analytics_assets.sources.simulator import core
from analytics_assets.sources.simulator import ground_truth as gt

POLLS_PER_POST = len(core.SNAPSHOT_AGES_HOURS)  # 44
# the simulator's narrow post-id scheme (ids.post_native_id) holds 100,000 posts a platform a day
_MAX_POSTS_PER_PLATFORM_DAY = 100_000
_NARROW_POST_ID = 7_100_000_000_000_000_000
_METRICS = ("likes", "comments", "shares", "clicks", "quotes", "saves")


@dataclass(frozen=True)
class Volume:
    """What one generation makes: ``posts_per_day`` (split over the platforms as the simulator splits it) published
    on each of ``days`` days from ``first_day``; of their polls only those dated ``snapshot_from``..``snapshot_to``
    (inclusive, None: open) and, with ``max_rows``, only the first ``max_rows`` in (post, poll) order."""

    posts_per_day: int
    first_day: date
    days: int
    seed: int = 7
    max_rows: int | None = None
    snapshot_from: date | None = None
    snapshot_to: date | None = None

    def __post_init__(self) -> None:
        if self.posts_per_day < len(gt.PLATFORMS) or self.days < 1:
            raise ValueError(f"need at least {len(gt.PLATFORMS)} posts a day and 1 day, got {self.posts_per_day} and {self.days}")
        if max(platform_counts(self.posts_per_day)) >= _MAX_POSTS_PER_PLATFORM_DAY:
            raise ValueError(
                f"{self.posts_per_day:,} posts a day is beyond the simulator's narrow post ids "
                f"({_MAX_POSTS_PER_PLATFORM_DAY:,} a platform a day)"
            )
        if self.max_rows is not None and self.max_rows < 1:
            raise ValueError(f"max_rows must be positive, got {self.max_rows}")


def platform_counts(posts_per_day: int) -> list[int]:
    """Posts a day of each platform, as ``core._posts_published_on`` rounds them."""
    return [int(round(posts_per_day * prof.share_of_posts)) for prof in gt.PLATFORMS.values()]


def for_rows(snapshot_rows: int, posts_per_day: int, last_day: date, seed: int = 7) -> Volume:
    """The days of ``posts_per_day`` whose polls first reach ``snapshot_rows`` rows, ending on ``last_day``."""
    per_day = sum(platform_counts(posts_per_day))
    days = max(1, math.ceil(math.ceil(snapshot_rows / POLLS_PER_POST) / per_day))
    return Volume(posts_per_day, last_day - timedelta(days=days - 1), days, seed, max_rows=snapshot_rows)


def _u(stream: int) -> str:
    """A uniform draw in (0, 1) of each post for ``stream``: 53 bits of a hash of (seed, post, stream)."""
    return f"((hash(seed, post_n, {stream}) >> 11)::double + 0.5) / 9007199254740992.0"


def _z(stream: int) -> str:
    """A standard normal draw (Box-Muller on two uniforms)."""
    return f"(sqrt(-2 * ln({_u(stream)})) * cos(2 * pi() * {_u(stream + 1)}))"


def _case(platform_col: str, values: dict[str, str], default: str = "null") -> str:
    whens = " ".join(f"when '{p}' then {v}" for p, v in values.items())
    return f"case {platform_col} {whens} else {default} end"


def _pick(options: list[str], weights: list[float], u: str) -> str:
    """The option a uniform ``u`` falls on along the cumulative weights."""
    total = sum(weights)
    cum, whens = 0.0, []
    for option, w in zip(options[:-1], weights[:-1]):
        cum += w / total
        whens.append(f"when {u} < {cum!r} then '{option}'")
    if not whens:  # one option (TikTok: video only)
        return f"'{options[-1]}'"
    return f"case {' '.join(whens)} else '{options[-1]}' end"


def _sql_list(values) -> str:
    return "[" + ", ".join(repr(float(v)) if isinstance(v, float) else f"'{v}'" for v in values) + "]"


def posts_sql(volume: Volume) -> str:
    """One row per post: its place, content and lifetime counters."""
    counts = platform_counts(volume.posts_per_day)
    per_day = sum(counts)
    platforms = list(gt.PLATFORMS)
    offsets = np.cumsum([0, *counts]).tolist()
    platform_of = "case " + " ".join(
        f"when seq_of_day < {offsets[i + 1]} then {i}" for i in range(len(platforms) - 1)
    ) + f" else {len(platforms) - 1} end"
    hooks, topics = list(gt.HOOK_TYPES), list(gt.TOPICS)
    media = {p: _pick(list(prof.media_mix), list(prof.media_mix.values()), _u(20)) for p, prof in gt.PLATFORMS.items()}
    text_length = {
        p: f"{prof.text_length_range[0]} + floor({_u(21)} * {prof.text_length_range[1] - prof.text_length_range[0] + 1})::integer"
        for p, prof in gt.PLATFORMS.items()
    }
    peak = {p: f"{prof.peak_hour + 0.5!r}" for p, prof in gt.PLATFORMS.items()}
    effect = lambda table: "case {col} " + " ".join(f"when '{k}' then {v!r}" for k, v in table.items()) + " end"  # noqa: E731
    lifetime = {
        metric: _case(
            "platform",
            {
                p: f"greatest(0, round(lambda_base * {prof.base_rates[metric]!r} + sqrt(lambda_base * {prof.base_rates[metric]!r}) * {_z(30 + 2 * i)}))::bigint"
                for p, prof in gt.PLATFORMS.items()
                if prof.base_rates.get(metric)
            },
        )
        for i, metric in enumerate(_METRICS)
    }
    offset_of = _case("p_idx", {str(i): str(offsets[i]) for i in range(len(platforms))})
    return f"""
    with numbered as (
        select
            range as post_n,
            {volume.seed} as seed,
            range // {per_day} as day_n,
            range % {per_day} as seq_of_day
        from range({volume.days * per_day})
    ),
    placed as (
        select *, {platform_of} as p_idx from numbered
    ),
    drawn as (
        select
            post_n,
            seed,
            p_idx,
            {_sql_list(platforms)}[p_idx + 1] as platform,
            seq_of_day - {offset_of} as post_seq,
            date '{volume.first_day.isoformat()}' + day_n::integer as publish_day,
            floor({_u(10)} * {core.ACCOUNTS_PER_PLATFORM})::integer as account_seq,
            floor({_u(11)} * 24)::integer as publish_hour,
            floor({_u(12)} * 3600)::integer as publish_second,
            {_sql_list(hooks)}[floor({_u(13)} * {len(hooks)})::integer + 1] as hook_type,
            {_sql_list(topics)}[floor({_u(14)} * {len(topics)})::integer + 1] as topic,
            greatest(round({_case('platform', {p: repr(prof.median_impressions) for p, prof in gt.PLATFORMS.items()})}
                * exp({gt.IMPRESSIONS_SIGMA!r} * {_z(15)})), 1)::bigint as impressions_total,
            {_case('platform', {p: repr(prof.half_life_hours) for p, prof in gt.PLATFORMS.items()})}
                * exp({gt.HALF_LIFE_SIGMA!r} * {_z(17)}) as half_life_hours,
            {gt.ENGAGEMENT_NOISE_SIGMA!r} * {_z(18)} as noise
        from placed
    ),
    content as (
        select
            *,
            publish_day + to_seconds(publish_hour * 3600 + publish_second) as published_at,
            {_case('platform', media)} as media_type,
            {_case('platform', text_length)} as text_length
        from drawn
    ),
    effects as (
        select
            *,
            -- the planted log-multiplier: hour bump around the platform's peak (circular), hook, media, topic, noise
            {gt.HOUR_EFFECT_AMPLITUDE!r} * exp(-power(least(
                    abs(publish_hour + publish_second / 3600.0 - {_case('platform', peak)}) % 24,
                    24 - abs(publish_hour + publish_second / 3600.0 - {_case('platform', peak)}) % 24), 2)
                / {2 * gt.HOUR_EFFECT_WIDTH_HOURS**2!r})
            + {effect(gt.HOOK_EFFECTS).format(col='hook_type')}
            + {effect(gt.MEDIA_EFFECTS).format(col='media_type')}
            + {effect(gt.TOPIC_EFFECTS).format(col='topic')}
            + noise as log_multiplier
        from content
    ),
    expected as (
        select *, impressions_total * exp(log_multiplier) as lambda_base from effects
    ),
    identified as (
        select
            *,
            ({_NARROW_POST_ID}::hugeint + (publish_day - date '0001-01-01' + 1)::hugeint * 1000000
                + p_idx * 100000 + post_seq)::varchar as native_id,
            lower(to_base(((publish_day - date '0001-01-01' + 1)::bigint * 1000000 + p_idx * 100000 + post_seq), 36)) as reddit_id
        from expected
    )
    select
        post_n,
        post_seq,
        platform,
        case platform
            when 'linkedin' then 'urn:li:share:' || native_id
            when 'reddit' then 't3_' || reddit_id
            else native_id
        end as post_id,
        case platform
            when 'linkedin' then 'urn:li:organization:' || (80000 + account_seq)
            when 'x' then '14' || (account_seq + 1000)
            when 'reddit' then 't2_cycle' || account_seq
            else 'cycle_brand_' || account_seq
        end as account_id,
        account_seq,
        published_at,
        hook_type,
        media_type,
        topic,
        text_length,
        half_life_hours,
        impressions_total,
        {', '.join(f'{lifetime[m]} as {m}_total' for m in _METRICS)}
    from identified
    """


def snapshots_sql(volume: Volume, posts: str) -> str:
    """Every kept poll of the posts in relation ``posts``, in the raw contract's columns and order."""
    ages = _sql_list([float(a) for a in core.SNAPSHOT_AGES_HOURS])
    where = []
    if volume.max_rows is not None:
        where.append(f"post_n * {POLLS_PER_POST} + poll < {volume.max_rows}")
    if volume.snapshot_from is not None:
        where.append(f"cast(snapshot_at as date) >= date '{volume.snapshot_from.isoformat()}'")
    if volume.snapshot_to is not None:
        where.append(f"cast(snapshot_at as date) <= date '{volume.snapshot_to.isoformat()}'")
    share = "(1 - power(0.5, age_hours / half_life_hours))"
    counter = lambda m: f"floor({m}_total * {share})::bigint"  # noqa: E731
    url = (
        "case platform"
        " when 'linkedin' then 'https://www.linkedin.com/feed/update/' || post_id || '/'"
        " when 'x' then 'https://x.com/cycle_brand_' || account_seq || '/status/' || post_id"
        " when 'reddit' then 'https://www.reddit.com/comments/' || substr(post_id, 4) || '/'"
        " else 'https://www.tiktok.com/@cycle_brand_' || account_seq || '/video/' || post_id end"
    )
    columns = {
        "platform": "platform",
        "post_id": "post_id",
        "account_id": "account_id",
        "published_at": "published_at",
        "snapshot_at": "snapshot_at",
        "hook_type": "hook_type",
        "media_type": "media_type",
        "topic": "topic",
        "text_length": "text_length",
        "impressions": counter("impressions"),
        **{m: counter(m) for m in _METRICS},
        "post_url": url,
        "post_excerpt": "'A ' || replace(topic, '_', ' ') || ' post (' || replace(hook_type, '_', ' ') || ' hook), number ' || post_n",
        "author_name": "case platform when 'linkedin' then 'Cycle Brand ' || account_seq when 'reddit' then 'cycle' || account_seq else 'cycle_brand_' || account_seq end",
        "partition_date": "cast(snapshot_at as date)",
        # the ingest writes a day's snapshots at the next day's 03:00 UTC run
        "loaded_at": "cast(snapshot_at as date) + interval 27 hour",
    }
    unknown = sorted(set(columns) - set(SOCIAL_POST_SNAPSHOTS.columns))
    if unknown:
        raise ValueError(f"generated columns {unknown} are not in the raw contract any more")
    # the contract's columns in its order; one added to it later (nullable, as every later column) is null here
    select = ",\n        ".join(
        f"cast({columns.get(name, 'null')} as {type_}) as {name}" for name, type_ in SOCIAL_POST_SNAPSHOTS.columns.items()
    )
    return f"""
    with polls as (
        select range as poll, {ages}[range + 1] as age_hours from range({POLLS_PER_POST})
    ),
    read as (
        select
            posts.*,
            polls.poll,
            polls.age_hours,
            -- pollers run a few minutes late, by a delay fixed per post and poll (core._polls)
            posts.published_at + to_minutes(cast(polls.age_hours * 60 + (posts.post_seq * 7 + cast(polls.age_hours as integer) * 3) % 11 as bigint)) as snapshot_at
        from {posts} as posts
        cross join polls
    )
    select
        {select}
    from read
    {('where ' + ' and '.join(where)) if where else ''}
    """


def generate(con: duckdb.DuckDBPyConnection, volume: Volume, table: str = SOCIAL_POST_SNAPSHOTS.qualified_name) -> int:
    """Append the volume's snapshots to ``table`` (created with the contract's DDL when missing); the rows written."""
    con.execute("set enable_progress_bar = false")
    con.execute("create schema if not exists raw")
    if table == SOCIAL_POST_SNAPSHOTS.qualified_name:
        con.execute(SOCIAL_POST_SNAPSHOTS.ddl())
    con.execute(f"create or replace temp table _scale_posts as {posts_sql(volume)}")
    before = con.execute(f"select count(*) from {table}").fetchone()[0]
    con.execute(f"insert into {table} {snapshots_sql(volume, '_scale_posts')}")
    con.execute("drop table _scale_posts")
    return con.execute(f"select count(*) from {table}").fetchone()[0] - before


def validate_sample(con: duckdb.DuckDBPyConnection, table: str = SOCIAL_POST_SNAPSHOTS.qualified_name, rows: int = 20_000, share: int = 50) -> int:
    """Validate a random sample of ``table`` against the raw contract's pandera rules and its natural key (the
    ingest's checks, so the dbt models accept the rows), and the natural key's uniqueness and the counters'
    monotony on every poll of one post in ``share``; raises on the first failure. Returns the sampled rows checked."""
    sample = con.execute(f"select * from {table} using sample reservoir({int(rows)} rows) repeatable (7)").df()
    frame = _as_contract_dtypes(sample)
    SOCIAL_POST_SNAPSHOTS.row_schema.validate(frame, lazy=True)
    key = ", ".join(SOCIAL_POST_SNAPSHOTS.key)
    # the key and the counters are checked on every post of a hash-drawn share (whole posts: every poll of each)
    posts = f"(select * from {table} where hash(post_id) % {int(share)} = 0)"
    duplicates = con.execute(
        f"select count(*) from (select {key} from {posts} group by {key} having count(*) > 1)"
    ).fetchone()[0]
    if duplicates:
        raise ValueError(f"{table}: {duplicates} duplicated keys ({key})")
    # counters are cumulative: no poll reads less than the post's previous poll
    falling = con.execute(
        f"""select count(*) from (
            select impressions < lag(impressions) over w or likes < lag(likes) over w as falls
            from {posts} window w as (partition by platform, post_id order by snapshot_at)
        ) where falls"""
    ).fetchone()[0]
    if falling:
        raise ValueError(f"{table}: {falling} polls read less than the post's previous poll")
    return len(frame)


def _as_contract_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """DuckDB's frame in the dtypes the ingest validates (nullable Int64 counters, datetime64[ns])."""
    out = frame.copy()
    for column, type_ in SOCIAL_POST_SNAPSHOTS.columns.items():
        if type_ in ("BIGINT", "INTEGER"):
            out[column] = out[column].astype("Int64")
        elif type_ == "TIMESTAMP":
            out[column] = pd.to_datetime(out[column]).astype("datetime64[ns]")
    return out
