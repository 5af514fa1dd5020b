"""The ids the simulator mints: unique at any volume, and at the usual volumes the very ids it always minted.

Each id packs the day (its ordinal) and a counter of that day. The first schemes gave the counter a fixed number
of digits: 100 boosts a day (a boost's LinkedIn campaign id), 100,000 posts a platform a day (a post's native id),
50,000 drawn posts a platform before the extra posts of the closed loop and 1,000 posts an account. A busier day
spilled into the next day's (or platform's) ids: at about 4,200 posts a day two boosts shared a campaign id, and
the raw campaign and creative tables held two rows per key.

Every scheme keeps its first ("narrow") form while the counter fits it, so the default volumes' ids, and with them
every digest, fingerprint and truth test, stay as they were; past that it mints a "wide" id in a digit range no
narrow id reaches (the largest day ordinal, 9999-12-31's, included), with room for far more than a day can hold,
and refuses what even that cannot hold with a ValueError rather than minting a duplicate.
"""

from __future__ import annotations

from datetime import date

_MAX_ORDINAL = date.max.toordinal()  # 3,652,059

# ---- posts: a platform's native id for (day, platform, post_seq)
_POST_NARROW = 7_100_000_000_000_000_000  # + ordinal * 1e6 + p_idx * 1e5 + seq: at most 7.100_003_653e21
_POST_NARROW_PER_DAY = 1_000_000
_POST_NARROW_PER_PLATFORM = 100_000
_POST_WIDE = 7_200_000_000_000_000_000  # + ordinal * 1e11 + p_idx * 1e10 + seq: 7.2e21 .. 7.2004e21
_POST_WIDE_PER_DAY = 100_000_000_000
_POST_WIDE_PER_PLATFORM = 10_000_000_000

# ---- extra posts (closed loop): the post_seq of an account's post beyond the ones it drew
EXTRA_POST_SEQ = 50_000  # narrow: EXTRA_POST_SEQ + account * MAX_POSTS_PER_ACCOUNT + post number
MAX_POSTS_PER_ACCOUNT = 1_000
_EXTRA_WIDE = 1_000_000_000  # wide: + account * 1e8 + post number, above any drawn post_seq
WIDE_POSTS_PER_ACCOUNT = 100_000_000
_MAX_ACCOUNTS = 10

# ---- boosts: the LinkedIn campaign id of boost ``i`` of the posts published on a day
_BOOST_NARROW = 700_000_000  # + ordinal * 100 + i: at most 1_065_205_999
_BOOST_NARROW_PER_DAY = 100
_BOOST_WIDE = 800_000_000_000_000  # + ordinal * 1e7 + i: 8.0e14 .. 8.37e14
_BOOST_WIDE_PER_DAY = 10_000_000
# ---- applied boosts (closed loop): the campaign of the boost the account runs on a post for a recommendation
_BOOST_APPLIED = 900_000_000_000_000_000  # + ordinal * 1e11 + the post's post_seq: 9.0e17 .. 1.27e18 (< 2**63)
_BOOST_APPLIED_PER_DAY = 100_000_000_000


def post_native_id(day: date, p_idx: int, post_seq: int) -> str:
    """The native id of post ``post_seq`` of platform ``p_idx`` (``ground_truth.PLATFORMS`` order) on ``day``."""
    if not 0 <= p_idx < _POST_WIDE_PER_DAY // _POST_WIDE_PER_PLATFORM:
        raise ValueError(f"no platform index {p_idx} in the post id scheme")
    if 0 <= post_seq < _POST_NARROW_PER_PLATFORM:
        return str(_POST_NARROW + day.toordinal() * _POST_NARROW_PER_DAY + p_idx * _POST_NARROW_PER_PLATFORM + post_seq)
    if 0 <= post_seq < _POST_WIDE_PER_PLATFORM:
        return str(_POST_WIDE + day.toordinal() * _POST_WIDE_PER_DAY + p_idx * _POST_WIDE_PER_PLATFORM + post_seq)
    raise ValueError(f"post_seq {post_seq} is beyond what a platform's day of post ids can hold")


def extra_post_seq(n_drawn: int, account_seq: int, post_number: int) -> int:
    """The post_seq of the extra post number ``post_number`` of ``account_seq`` on a day its platform drew
    ``n_drawn`` posts (``0..n_drawn-1``): stable whatever else the actions log holds, and never a drawn one's."""
    if not 0 <= account_seq < _MAX_ACCOUNTS or post_number < 0:
        raise ValueError(f"no post {post_number} of account {account_seq} in the post id scheme")
    if n_drawn <= EXTRA_POST_SEQ and post_number < MAX_POSTS_PER_ACCOUNT:
        return EXTRA_POST_SEQ + account_seq * MAX_POSTS_PER_ACCOUNT + post_number
    if n_drawn <= _EXTRA_WIDE and post_number < WIDE_POSTS_PER_ACCOUNT:
        return _EXTRA_WIDE + account_seq * WIDE_POSTS_PER_ACCOUNT + post_number
    raise ValueError(f"post {post_number} of account {account_seq} is beyond what a day of post ids can hold")


def boost_campaign_ids(publish_day: date, n: int) -> list[str]:
    """The LinkedIn Ads campaign ids of the ``n`` boosts of the posts published on ``publish_day``."""
    if n > _BOOST_WIDE_PER_DAY:
        raise ValueError(f"{n} boosts in a day is beyond what a day of boost campaign ids can hold")
    ordinal = publish_day.toordinal()
    return [
        str(_BOOST_NARROW + ordinal * _BOOST_NARROW_PER_DAY + i)
        if i < _BOOST_NARROW_PER_DAY
        else str(_BOOST_WIDE + ordinal * _BOOST_WIDE_PER_DAY + i)
        for i in range(n)
    ]


def applied_boost_campaign_id(publish_day: date, post_seq: int) -> str:
    """The LinkedIn Ads campaign id of the boost the account runs, for a recommendation, on the post ``post_seq``
    (its platform's post sequence number) published on ``publish_day``. Keyed by the post, not by a counter, so it
    stays the same whatever else the account boosts; in a range no drawn boost's id reaches (narrow or wide), and
    below 2**63 for a store that keeps campaign ids as integers."""
    if not 0 <= post_seq < _BOOST_APPLIED_PER_DAY:
        raise ValueError(f"post_seq {post_seq} is beyond what the applied boosts' campaign ids can hold")
    return str(_BOOST_APPLIED + publish_day.toordinal() * _BOOST_APPLIED_PER_DAY + post_seq)
