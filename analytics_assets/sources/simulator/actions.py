"""The simulated account's actions log: what it decided to do on each day, which the simulator then publishes.

In closed-loop mode (``SimulatorConfig.actions_dir``) the account follows some of Cycle's recommendations. The
"act" step (``closed_loop.act``) writes, for each day, one Parquet file ``<actions_dir>/<YYYY-MM-DD>.parquet``
holding one row per applied recommendation: the account's post number that day, the hour it publishes it in
and, where the recommendation carries them, its content. Generating that day reads the file back, so the log is
the only state between the two sides: re-materializing a partition reproduces the same posts as long as the log
is kept, and a day without a file is the open-loop simulator's, unchanged.

A boost the account runs for a recommendation changes no post: it goes to a sibling log,
``<actions_dir>/boosts/<YYYY-MM-DD>.parquet``, keyed by the day the boosted post was published (the day whose
boosts ``core.boosts_started_for_posts_of`` gives), one row per boosted post with the flight's start, duration and
daily budget. Without a file the day's boosts are the simulator's own draw, unchanged.

A day's file is written whole (a temporary file renamed over it) and only when its content changes, so a
rerun of the act step leaves it byte for byte as it was.
"""

from __future__ import annotations

import functools
import math
import os
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import pandas as pd


class AppliedPost(NamedTuple):
    """One post the account publishes as a recommendation told it to (a row of the log)."""

    recommendation_id: str
    kind: str
    platform: str
    account_seq: int  # the simulator's account number on the platform (``core.account_id`` names it)
    post_number: int  # the account's n-th post that day, counting from 0, as the recommendation's target says
    publish_hour: int | None  # UTC hour the post goes out in (None: the hour the account would have chosen)
    hook_type: str | None = None  # content, when the recommendation sets it (else the account's own draw)
    media_type: str | None = None
    topic: str | None = None
    text_length: int | None = None


COLUMNS = list(AppliedPost._fields)
_DTYPES = {
    "recommendation_id": "string",
    "kind": "string",
    "platform": "string",
    "account_seq": "int64",
    "post_number": "int64",
    "publish_hour": "Int64",
    "hook_type": "string",
    "media_type": "string",
    "topic": "string",
    "text_length": "Int64",
}
DayActions = tuple[AppliedPost, ...]


def day_path(actions_dir: str | Path, day: date) -> Path:
    return Path(actions_dir) / f"{day.isoformat()}.parquet"


def _frame(actions: list[AppliedPost]) -> pd.DataFrame:
    rows = sorted(set(actions), key=lambda a: (a.platform, a.account_seq, a.post_number, a.recommendation_id))
    return pd.DataFrame([a._asdict() for a in rows], columns=COLUMNS).astype(_DTYPES).reset_index(drop=True)


def validate(actions: list[AppliedPost]) -> None:
    """Refuse a log the simulator could not follow: two posts in one (account, post number) place, bad hours."""
    seen: dict[tuple[str, int, int], str] = {}
    for a in actions:
        if a.publish_hour is not None and not 0 <= a.publish_hour <= 23:
            raise ValueError(f"{a.recommendation_id}: publish_hour {a.publish_hour} is not an hour of the day (0-23)")
        if a.post_number < 0 or a.account_seq < 0:
            raise ValueError(f"{a.recommendation_id}: post_number and account_seq must not be negative")
        place = (a.platform, a.account_seq, a.post_number)
        if seen.setdefault(place, a.recommendation_id) != a.recommendation_id:
            raise ValueError(
                f"{a.recommendation_id} and {seen[place]} both place post {a.post_number} of "
                f"{a.platform} account {a.account_seq}: one post follows one recommendation"
            )


def write_day(actions_dir: str | Path, day: date, actions: list[AppliedPost]) -> bool:
    """Make ``actions`` the log of ``day`` (an empty list removes the day's file). Returns whether it changed."""
    validate(actions)
    return _write_log(day_path(actions_dir, day), _frame(actions) if actions else None, _DTYPES)


def _write_log(path: Path, frame: pd.DataFrame | None, dtypes: dict[str, str]) -> bool:
    """Make ``frame`` the log file ``path`` (None removes it), written whole and only when its content changes
    (a temporary file renamed over it), so a rerun leaves it byte for byte. Returns whether it changed."""
    if frame is None:
        if path.exists():
            path.unlink()
            return True
        return False
    if path.exists() and pd.read_parquet(path).astype(dtypes).equals(frame):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return True


def read_day(actions_dir: str | Path | None, day: date) -> DayActions:
    """The day's applied posts (empty when there is no log, or none for that day)."""
    if actions_dir is None:
        return ()
    path = day_path(actions_dir, day)
    version = _file_version(path)
    return () if version is None else _read(str(path), *version)


def _file_version(path: Path) -> tuple[int, int] | None:
    """(mtime, size) of a log file, the key its cached reading is kept under (a rewrite changes it); None
    without a file."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=256)
def _read(path: str, mtime_ns: int, size: int) -> DayActions:  # noqa: ARG001 (the file's version is the cache key)
    frame = pd.read_parquet(path)
    missing = set(COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"actions log {path} lacks columns {sorted(missing)}")
    frame = frame[COLUMNS].astype(_DTYPES)
    out = []
    for row in frame.itertuples(index=False):
        values = {k: (None if pd.isna(v) else v) for k, v in row._asdict().items()}
        for k in ("account_seq", "post_number"):
            values[k] = int(values[k])
        for k in ("publish_hour", "text_length"):
            if values[k] is not None:
                values[k] = int(values[k])
        out.append(AppliedPost(**values))
    validate(out)
    return tuple(out)


# ------------------------------------------------------------------------------------------------- boosts

# A boost's flight starts after the day its post was published (at midnight UTC, as the simulator's own boosts do)
# and at most this many days after: the simulator tracks a post for a week, and a flight it cannot see lift
# anything is not a boost it delivers. A flight lasts at most MAX_BOOST_FLIGHT_DAYS. The two bound how far back
# a day's deliveries look for the boosts in flight (core.APPLIED_BOOST_LOOKBACK_DAYS).
MAX_BOOST_START_DAYS = 7
MAX_BOOST_FLIGHT_DAYS = 14


class AppliedBoost(NamedTuple):
    """A boost the account runs on one of its posts as a recommendation told it to (a row of the boost log)."""

    recommendation_id: str
    platform: str
    account_seq: int
    post_id: str  # the boosted post (published on the log's day)
    start_date: date  # the flight's first day
    duration_days: int  # the flight lasts start_date .. start_date + duration_days - 1
    daily_budget_usd: float

    @property
    def end_date(self) -> date:
        return self.start_date + timedelta(days=self.duration_days - 1)


BOOST_COLUMNS = list(AppliedBoost._fields)
_BOOST_DTYPES = {
    "recommendation_id": "string",
    "platform": "string",
    "account_seq": "int64",
    "post_id": "string",
    "start_date": "string",  # ISO day: a text column reads back the same on every engine
    "duration_days": "int64",
    "daily_budget_usd": "float64",
}
DayBoosts = tuple[AppliedBoost, ...]


def boost_day_path(actions_dir: str | Path, publish_day: date) -> Path:
    return Path(actions_dir) / "boosts" / f"{publish_day.isoformat()}.parquet"


def validate_boosts(publish_day: date, boosts: list[AppliedBoost]) -> None:
    """Refuse a boost log the simulator could not deliver: two boosts of one post, a flight that does not start
    after the post's day (or starts past the week the simulator tracks it), a bad duration or budget."""
    seen: dict[tuple[str, str], str] = {}
    for b in boosts:
        first, last = publish_day + timedelta(days=1), publish_day + timedelta(days=MAX_BOOST_START_DAYS)
        if not first <= b.start_date <= last:
            raise ValueError(
                f"{b.recommendation_id}: a boost of a post published on {publish_day} must start between {first} "
                f"and {last}, got {b.start_date}"
            )
        if not 1 <= b.duration_days <= MAX_BOOST_FLIGHT_DAYS:
            raise ValueError(
                f"{b.recommendation_id}: duration_days must be 1..{MAX_BOOST_FLIGHT_DAYS}, got {b.duration_days}"
            )
        if not (math.isfinite(b.daily_budget_usd) and b.daily_budget_usd > 0):
            raise ValueError(f"{b.recommendation_id}: daily_budget_usd must be a positive amount, got {b.daily_budget_usd}")
        if b.account_seq < 0:
            raise ValueError(f"{b.recommendation_id}: account_seq must not be negative")
        post = (b.platform, b.post_id)
        if seen.setdefault(post, b.recommendation_id) != b.recommendation_id:
            raise ValueError(
                f"{b.recommendation_id} and {seen[post]} both boost {b.platform} post {b.post_id}: "
                "a post is boosted for one recommendation"
            )


def _boost_frame(boosts: list[AppliedBoost]) -> pd.DataFrame:
    rows = sorted(set(boosts), key=lambda b: (b.platform, b.post_id, b.recommendation_id))
    records = [{**b._asdict(), "start_date": b.start_date.isoformat()} for b in rows]
    return pd.DataFrame(records, columns=BOOST_COLUMNS).astype(_BOOST_DTYPES).reset_index(drop=True)


def write_boosts(actions_dir: str | Path, publish_day: date, boosts: list[AppliedBoost]) -> bool:
    """Make ``boosts`` the boost log of the posts published on ``publish_day`` (an empty list removes the file).
    Returns whether it changed."""
    validate_boosts(publish_day, boosts)
    return _write_log(boost_day_path(actions_dir, publish_day), _boost_frame(boosts) if boosts else None, _BOOST_DTYPES)


def read_boosts(actions_dir: str | Path | None, publish_day: date) -> DayBoosts:
    """The boosts the account runs on the posts of ``publish_day`` (empty without a log, or none for that day)."""
    if actions_dir is None:
        return ()
    path = boost_day_path(actions_dir, publish_day)
    version = _file_version(path)
    return () if version is None else _read_boosts(str(path), publish_day, *version)


@functools.lru_cache(maxsize=256)
def _read_boosts(path: str, publish_day: date, mtime_ns: int, size: int) -> DayBoosts:  # noqa: ARG001 (cache key)
    frame = pd.read_parquet(path)
    missing = set(BOOST_COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"boost log {path} lacks columns {sorted(missing)}")
    frame = frame[BOOST_COLUMNS].astype(_BOOST_DTYPES)
    out = [
        AppliedBoost(
            recommendation_id=str(r.recommendation_id),
            platform=str(r.platform),
            account_seq=int(r.account_seq),
            post_id=str(r.post_id),
            start_date=date.fromisoformat(str(r.start_date)),
            duration_days=int(r.duration_days),
            daily_budget_usd=float(r.daily_budget_usd),
        )
        for r in frame.itertuples(index=False)
    ]
    validate_boosts(publish_day, out)
    return tuple(out)


def read_all(actions_dir: str | Path) -> pd.DataFrame:
    """Every logged day, with a ``publish_date`` column (empty frame when nothing is logged)."""
    files = sorted(Path(actions_dir).glob("*.parquet")) if Path(actions_dir).exists() else []
    frames = [pd.read_parquet(f).assign(publish_date=date.fromisoformat(f.stem)) for f in files]
    if not frames:
        return pd.DataFrame(columns=[*COLUMNS, "publish_date"])
    return pd.concat(frames, ignore_index=True)
