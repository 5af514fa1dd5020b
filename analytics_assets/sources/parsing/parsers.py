"""Parse native platform records (flattened JSON, as ``pandas.json_normalize`` gives them) into the
canonical raw tables, and send every record that cannot be parsed or fails validation to quarantine
with the reason. Vectorized: one pass per field, never a Python loop over rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from urllib.parse import quote

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandas.api.types import infer_dtype

from analytics_assets.contracts.raw import (
    AD_CAMPAIGN_METRICS,
    AD_CREATIVE_METRICS,
    AI_GENERATIONS,
    BOOSTS,
    EXPERIMENT_OBSERVATIONS,
    POST_EXCERPT_CHARS,
    SOCIAL_POST_SNAPSHOTS,
    TOUCHPOINTS,
    RawTable,
)
from analytics_assets.sources.parsing.content_features import content_features

# kind -> converter(values, missing mask) -> (parsed values, unparsable mask, reason). The missing mask
# is computed once per field by the caller: a value that is absent is not also "unparsable".
Converter = Callable[[pd.Series, pd.Series], tuple[pd.Series, pd.Series, str]]


def per_distinct_text(values: pd.Series, fn: Callable[[object], object]) -> pd.Series:
    """``values.map(fn)`` as object values, with ``fn`` called once per distinct value where the values are strings
    (or missing): a post's id, text and author repeat in every one of its polls, so a day of 2.2 million snapshot
    rows holds some 400,000 distinct posts. Anything else (numbers, lists, a mix) goes value by value, as a hash
    would take 1, 1.0 and True for one value; each missing value is passed as it is."""
    if infer_dtype(values, skipna=True) != "string":
        return pd.Series(values.map(fn), index=values.index, dtype=object)
    return _each_distinct_text(values, fn)


def _each_distinct_text(values: pd.Series, fn: Callable[[object], object]) -> pd.Series:
    """``per_distinct_text`` for values already known to be strings or missing."""
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    out = np.array([fn(v) for v in distinct] + [None], dtype=object)[codes]  # code -1 (missing): the None, for now
    missing = np.flatnonzero(codes == -1)
    if len(missing):
        out[missing] = [fn(v) for v in values.to_numpy()[missing]]
    return pd.Series(out, index=values.index, dtype=object)


def _missing(s: pd.Series) -> pd.Series:
    if s.dtype != object:  # only free-form values can be empty strings
        return s.isna()
    # hash lookup, not a Python loop; whitespace-only ids are caught by the min-length rules after strip
    return s.isna() | s.isin(("",))


def _as_str(s: pd.Series, missing: pd.Series) -> tuple[pd.Series, pd.Series, str]:
    # object dtype with None for missing: what pandera's `str` columns and DuckDB's VARCHAR expect
    if infer_dtype(s, skipna=True) == "string":  # ids and names repeat in every poll of a post: strip each once
        out = _each_distinct_text(s, lambda v: v.strip() if isinstance(v, str) else v)
    else:
        out = s.astype(str).str.strip().astype(object)
    return out.where(~missing, None), pd.Series(False, index=s.index), ""


def _as_number(s: pd.Series, missing: pd.Series) -> tuple[pd.Series, pd.Series, str]:
    num = pd.to_numeric(s, errors="coerce").astype("float64")  # "12,5", "1.2k", "n/a" become NaN: reported
    return num, num.isna() & ~missing, "not a number"


def _as_int(s: pd.Series, missing: pd.Series) -> tuple[pd.Series, pd.Series, str]:
    num, bad, _ = _as_number(s, missing)
    frac = num.notna() & (num != np.floor(num))
    return num.where(~frac).round().astype("Int64"), bad | frac, "not an integer"


def _as_micros(s: pd.Series, missing: pd.Series) -> tuple[pd.Series, pd.Series, str]:
    num, bad, _ = _as_number(s, missing)
    return num / 1_000_000, bad, "not an amount in micros"


def _as_iso_ts(s: pd.Series, missing: pd.Series) -> tuple[pd.Series, pd.Series, str]:
    ts = pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601").dt.tz_convert(None)
    return ts, ts.isna() & ~missing, "not an ISO-8601 timestamp"


def _as_epoch(unit: str) -> Converter:
    def convert(s: pd.Series, missing: pd.Series) -> tuple[pd.Series, pd.Series, str]:
        num, bad, _ = _as_number(s, missing)
        return pd.to_datetime(num, unit=unit, errors="coerce"), bad, f"not an epoch time in {unit}"

    return convert


def _as_date(s: pd.Series, missing: pd.Series) -> tuple[pd.Series, pd.Series, str]:
    d = pd.to_datetime(s, errors="coerce", format="%Y-%m-%d")
    return d.dt.date, d.isna() & ~missing, "not a YYYY-MM-DD date"


def _as_minor_units(s: pd.Series, missing: pd.Series) -> tuple[pd.Series, pd.Series, str]:
    # Meta budgets are in the currency's minor unit (cents for every currency of the raw contract)
    num, bad, _ = _as_number(s, missing)
    return num / 100, bad, "not an amount in minor units"


CONVERTERS: dict[str, Converter] = {
    "str": _as_str,
    "int": _as_int,
    "float": _as_number,
    "micros": _as_micros,
    "iso": _as_iso_ts,
    "epoch_s": _as_epoch("s"),
    "epoch_ms": _as_epoch("ms"),
    "date": _as_date,
    "minor_units": _as_minor_units,
}


# a field absent from a batch (real APIs omit optional ones) still gets its column's dtype
_CONSTANT_DTYPES = {"int": "Int64", "float": "float64", "micros": "float64", "minor_units": "float64"}


@dataclass(frozen=True)
class Field:
    source: str | None  # native field; None = constant or derived
    kind: str = "str"
    required: bool = True
    constant: object = None


@dataclass(frozen=True)
class PlatformMapping:
    table: RawTable
    platform: str | None
    key_field: str  # native field that identifies a record in quarantine
    fields: dict[str, Field]
    derive: Callable[[pd.DataFrame], pd.DataFrame] | None = None  # adds derived native fields


@dataclass
class ParseResult:
    rows: pd.DataFrame  # canonical rows that passed every check
    quarantine: pd.DataFrame  # source_table, platform, record_key, reason, payload


def _f(source: str | None, kind: str = "str", required: bool = True, constant: object = None) -> Field:
    return Field(source, kind, required, constant)


def _social(
    platform: str,
    key: str,
    native: dict[str, tuple[str | None, str, bool]],
    derive: Callable[[pd.DataFrame], pd.DataFrame],
) -> PlatformMapping:
    meta = {
        "snapshot_at": _f("cycle.polled_at", "iso"),
        # Cycle's own record of a post it published (``cycle.*``) where the batch carries one, else what
        # ``derive`` reads in the platform's payload (_content_features)
        "hook_type": _f("_hook_type", required=False),
        "media_type": _f("_media_type", required=False),
        "topic": _f("_topic", required=False),
        "text_length": _f("_text_length", "int", required=False),
        # derived by ``derive`` from each platform's own fields (_post_identity)
        "post_url": _f("_post_url", required=False),
        "post_excerpt": _f("_post_excerpt", required=False),
    }
    fields = {"platform": _f(None, constant=platform)}
    fields.update({col: _f(src, kind, req) for col, (src, kind, req) in native.items()})
    fields.update(meta)
    return PlatformMapping(SOCIAL_POST_SNAPSHOTS, platform, key, fields, derive)


# ---- post identity: a permalink and an excerpt of the text, from the fields each platform gives


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    """``column`` as text where it is a non-blank string or a number; None elsewhere (absent, null, an object)."""
    values = df[column] if column in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)
    return per_distinct_text(values, _text_of)


def _text_of(value: object) -> str | None:
    text = str(value) if isinstance(value, (str, int, float)) and not pd.isna(value) else None
    return text if text and text.strip() else None


def _excerpt_of(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    collapsed = " ".join(text.split())  # every run of whitespace (line breaks, tabs, NBSP) becomes one space
    if len(collapsed) <= POST_EXCERPT_CHARS:
        return collapsed or None
    return collapsed[: POST_EXCERPT_CHARS - 1].rstrip() + "\u2026"


def post_excerpt(text: pd.Series) -> pd.Series:
    """At most ``POST_EXCERPT_CHARS`` characters of each text, whitespace collapsed to single spaces; a text
    cut short ends in an ellipsis. None where there is no text. (A comprehension: str.split beats a regex
    over long posts several times over; once per distinct text, as a post's polls repeat it.)"""
    return per_distinct_text(text, _excerpt_of)


def _url_part(values: pd.Series, safe: str = "") -> pd.Series:
    return per_distinct_text(values, lambda v: quote(v, safe=safe) if isinstance(v, str) else None)


def _content_features(df: pd.DataFrame, text: pd.Series, media: Callable[[pd.DataFrame], pd.Series]) -> pd.DataFrame:
    """hook, media, topic and text length: Cycle's own ``cycle.*`` fields where the batch has them (the
    simulator's posts, which carry their truth), else read from the payload: the text's length, hook and
    topic by the rules of ``content_features`` (null where unsure), the media from the platform's fields."""
    own = {name: f"cycle.{name}" for name in ("hook_type", "media_type", "topic", "text_length")}
    if all(col in df.columns for col in own.values()):
        return df.assign(**{f"_{name}": df[col] for name, col in own.items()})
    read = content_features(text).set_index(df.index)
    return df.assign(
        _hook_type=read["hook_type"], _topic=read["topic"], _text_length=read["text_length"], _media_type=media(df).astype(object)
    )


def _post_identity(
    url: Callable[[pd.DataFrame], pd.Series],
    text_field: str | Callable[[pd.DataFrame], pd.Series],
    media: Callable[[pd.DataFrame], pd.Series],
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def derive(df: pd.DataFrame) -> pd.DataFrame:
        text = text_field(df) if callable(text_field) else _text(df, text_field)
        df = df.assign(_post_url=url(df).astype(object), _post_excerpt=post_excerpt(text))
        return _content_features(df, text, media)

    return derive


# ---- media: each platform's own words for what a post carries, in the contract's vocabulary
# (text, image, video, carousel, link); None where the payload does not say


def _column(df: pd.DataFrame, column: str) -> pd.Series:
    return df[column] if column in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)


def _present(values: pd.Series) -> pd.Series:
    """True where a value is there: a non-empty list or dict, a non-blank string, a number, True."""
    def there(v: object) -> bool:
        if isinstance(v, (list, tuple, dict, str)):
            return len(v) > 0 and (not isinstance(v, str) or bool(v.strip()))
        return v is not None and not (isinstance(v, float) and np.isnan(v)) and v is not False

    return values.map(there)


def _any_column(df: pd.DataFrame, prefix: str) -> pd.Series:
    """True where any flattened column under ``prefix`` (``prefix`` itself or ``prefix.*``) holds a value."""
    cols = [c for c in df.columns if c == prefix or c.startswith(prefix + ".")]
    if not cols:
        return pd.Series(False, index=df.index)
    return pd.concat([_present(df[c]) for c in cols], axis=1).any(axis=1)


def _x_media(df: pd.DataFrame) -> pd.Series:
    # ``media``: the tweet's ``attachments.media_keys`` resolved in ``includes.media`` (media.fields=type),
    # joined by the client; a video or GIF makes a video post, several photos a carousel
    def kind(media: object) -> str | None:
        types = [m.get("type") for m in media if isinstance(m, dict)] if isinstance(media, list) else []
        if any(t in ("video", "animated_gif") for t in types):
            return "video"
        photos = sum(t == "photo" for t in types)
        return "carousel" if photos > 1 else "image" if photos == 1 else None

    from_media = _column(df, "media").map(kind)
    has_text = _text(df, "text").notna()
    keys = _any_column(df, "attachments.media_keys")
    link = _any_column(df, "entities.urls")
    plain = pd.Series(np.where(link, "link", "text"), index=df.index, dtype=object)
    # media keys the expansion did not resolve say "some media" but not which: unknown
    return from_media.where(from_media.notna(), plain.where(has_text & ~keys, None))


_LINKEDIN_MEDIA_URNS = {"image": "image", "video": "video", "document": "carousel"}  # a document post pages like a carousel


def _linkedin_media(df: pd.DataFrame) -> pd.Series:
    # ``content`` of the Posts API (joined from the listing by the client): media (an image, video or
    # document URN), multiImage, carousel, article; a post with commentary and no content is text only
    urn_kind = _column(df, "content.media.id").map(
        lambda u: _LINKEDIN_MEDIA_URNS.get(u.split(":")[2]) if isinstance(u, str) and u.count(":") >= 3 else None
    )
    out = pd.Series(urn_kind.astype(object), index=df.index)
    out = out.mask(_any_column(df, "content.multiImage") | _any_column(df, "content.carousel"), "carousel")
    out = out.mask(_any_column(df, "content.article"), "link")
    has_content = _any_column(df, "content")
    text_only = _text(df, "commentary").notna() & ~has_content
    return out.mask(text_only, "text").where(out.notna() | text_only, None)


def _reddit_media(df: pd.DataFrame) -> pd.Series:
    # a gallery, a video (hosted or embedded), then ``post_hint``; a self post is text
    hint = _column(df, "post_hint")
    is_true = lambda col: _column(df, col).map(lambda v: v is True)  # noqa: E731
    out = pd.Series(hint.map({"image": "image", "link": "link", "hosted:video": "video", "rich:video": "video", "self": "text"}),
                    index=df.index, dtype=object)
    out = out.mask(is_true("is_self") & out.isna(), "text")
    out = out.mask(is_true("is_video"), "video")
    return out.mask(is_true("is_gallery"), "carousel").where(lambda s: s.notna(), None)


def _tiktok_media(df: pd.DataFrame) -> pd.Series:
    return pd.Series("video", index=df.index, dtype=object)  # the Research API lists videos


def _linkedin_url(df: pd.DataFrame) -> pd.Series:
    # a share's or ugcPost's URN is its address on linkedin.com
    share = _url_part(_text(df, "share"), safe=":")
    return ("https://www.linkedin.com/feed/update/" + share + "/").where(share.notna(), None)


def _x_url(df: pd.DataFrame) -> pd.Series:
    # the author's handle comes with the `author_id` expansion; without it X's own redirect serves the post
    post, user = _url_part(_text(df, "id")), _url_part(_text(df, "author.username"))
    by_user = "https://x.com/" + user + "/status/" + post
    return by_user.where(user.notna(), "https://x.com/i/web/status/" + post).where(post.notna(), None)


def _reddit_url(df: pd.DataFrame) -> pd.Series:
    # `permalink` is a path on reddit.com; a payload without it still has the post's fullname (t3_<id>)
    permalink = _text(df, "permalink")
    relative = permalink.map(lambda p: isinstance(p, str) and p.startswith("/"))
    from_name = "https://www.reddit.com/comments/" + _url_part(_text(df, "name").str.removeprefix("t3_")) + "/"
    # anything else is kept as given: the row check names it rather than Cycle guessing a link
    return ("https://www.reddit.com" + permalink).where(relative, permalink).where(permalink.notna(), from_name)


_REDDIT_GONE_BODIES = {"[removed]", "[deleted]"}  # what Reddit serves in place of a moderated or deleted body


def _reddit_text(df: pd.DataFrame) -> pd.Series:
    # a self post's text is its title, then its body (``selftext``, markdown); a link or media post has an
    # empty body and keeps its title (its address is the permalink, as for every post)
    title = _text(df, "title")
    body = _text(df, "selftext")
    body = body.where(~body.map(lambda b: isinstance(b, str) and b.strip() in _REDDIT_GONE_BODIES), None)
    both = title.notna() & body.notna()
    joined = (title + "\n\n" + body).where(both, title.where(title.notna(), body))
    return joined.astype(object).where(joined.notna(), None)


def _tiktok_url(df: pd.DataFrame) -> pd.Series:
    # the Display API's `share_url`; the Research API has none: the public address of a creator's video
    user, video = _url_part(_text(df, "username")), _url_part(_text(df, "id"))
    built = ("https://www.tiktok.com/@" + user + "/video/" + video).where(user.notna() & video.notna(), None)
    share = _text(df, "share_url")
    return share.where(share.notna(), built)


def _absent() -> tuple[None, str, bool]:
    """A canonical metric the platform does not report: a typed null."""
    return (None, "int", False)


SOCIAL_MAPPINGS = {
    "linkedin": _social(
        "linkedin",
        "share",
        {
            "post_id": ("share", "str", True),
            "account_id": ("organizationalEntity", "str", False),
            "published_at": ("created.time", "epoch_ms", True),
            "impressions": ("totalShareStatistics.impressionCount", "int", True),
            "likes": ("totalShareStatistics.likeCount", "int", True),
            "comments": ("totalShareStatistics.commentCount", "int", True),
            "shares": ("totalShareStatistics.shareCount", "int", True),
            "clicks": ("totalShareStatistics.clickCount", "int", True),
            "quotes": _absent(),
            "saves": _absent(),
            # the organization's name: not in a share's payload; the client decorates it from
            # ``GET /rest/organizations/{id}`` the way a Rest.li projection does (``organizationalEntity~``)
            "author_name": ("organizationalEntity~.localizedName", "str", False),
        },
        _post_identity(_linkedin_url, "commentary", _linkedin_media),
    ),
    "x": _social(
        "x",
        "id",
        {
            "post_id": ("id", "str", True),
            "account_id": ("author_id", "str", False),
            "published_at": ("created_at", "iso", True),
            "impressions": ("public_metrics.impression_count", "int", True),
            "likes": ("public_metrics.like_count", "int", True),
            "comments": ("public_metrics.reply_count", "int", True),
            "shares": ("public_metrics.retweet_count", "int", True),
            "clicks": _absent(),
            "quotes": ("public_metrics.quote_count", "int", True),
            "saves": ("public_metrics.bookmark_count", "int", False),
            "author_name": ("author.username", "str", False),
        },
        _post_identity(_x_url, "text", _x_media),
    ),
    "reddit": _social(
        "reddit",
        "name",
        {
            "post_id": ("name", "str", True),
            "account_id": ("author_fullname", "str", False),
            "published_at": ("created_utc", "epoch_s", True),
            "impressions": ("view_count", "int", True),
            "likes": ("ups", "int", True),
            "comments": ("num_comments", "int", True),
            "shares": ("num_crossposts", "int", False),
            "clicks": _absent(),
            "quotes": _absent(),
            "saves": _absent(),
            "author_name": ("author", "str", False),
        },
        _post_identity(_reddit_url, _reddit_text, _reddit_media),
    ),
    "tiktok": _social(
        "tiktok",
        "id",
        {
            "post_id": ("id", "str", True),
            "account_id": ("username", "str", False),
            "published_at": ("create_time", "epoch_s", True),
            "impressions": ("view_count", "int", True),
            "likes": ("like_count", "int", True),
            "comments": ("comment_count", "int", True),
            "shares": ("share_count", "int", True),
            "clicks": _absent(),
            "quotes": _absent(),
            "saves": ("favorites_count", "int", False),
            "author_name": ("username", "str", False),
        },
        _post_identity(_tiktok_url, "video_description", _tiktok_media),
    ),
}


def _meta_action(action_types: tuple[str, ...]) -> Callable[[pd.Series], pd.Series]:
    def extract(s: pd.Series) -> pd.Series:
        def total(actions: object) -> object:
            if not isinstance(actions, list):
                return 0 if actions is None or (isinstance(actions, float) and np.isnan(actions)) else actions
            vals = [a.get("value") for a in actions if isinstance(a, dict) and a.get("action_type") in action_types]
            nums = pd.to_numeric(pd.Series(vals, dtype=object), errors="coerce")
            return "not-a-number" if nums.isna().any() else float(nums.sum())

        return s.map(total)

    return extract


# Meta reports one purchase under several action types at once (the pixel's, the website's `purchase`, the
# cross-channel `omni_purchase`): adding them up counts it two or three times. A row's conversions are those
# of ONE type, the first of this priority list the row reports (Fivetran's `conversion_action_types`); a
# deployment sets its own list with CYCLE_META_CONVERSION_ACTION_TYPES.
META_CONVERSION_ACTION_TYPES: tuple[str, ...] = ("omni_purchase", "purchase", "offsite_conversion.fb_pixel_purchase")

# conversion action types of the Insights API a deployment may count (purchases, leads, registrations on
# each channel); a custom conversion is `offsite_conversion.custom.<id>`
META_KNOWN_CONVERSION_ACTION_TYPES = frozenset(
    {
        "omni_purchase",
        "purchase",
        "offsite_conversion.fb_pixel_purchase",
        "onsite_web_purchase",
        "onsite_web_app_purchase",
        "onsite_conversion.purchase",
        "web_in_store_purchase",
        "app_custom_event.fb_mobile_purchase",
        "offline_conversion.purchase",
        "omni_complete_registration",
        "complete_registration",
        "offsite_conversion.fb_pixel_complete_registration",
        "lead",
        "offsite_conversion.fb_pixel_lead",
        "onsite_conversion.lead_grouped",
    }
)
_META_SETTING = "Meta conversion action types (CYCLE_META_CONVERSION_ACTION_TYPES)"
_META_CUSTOM_CONVERSION = re.compile(r"offsite_conversion\.custom\.\d+")


def meta_conversion_action_types(types: Sequence[str] | str) -> tuple[str, ...]:
    """The validated priority list (a sequence, or a comma-separated string as an env var holds it).
    Empty, duplicated or unknown types raise ``ValueError`` naming them: a typo would silently count 0."""
    items = [t.strip() for t in (types.split(",") if isinstance(types, str) else types)]
    items = [t for t in items if t]
    if not items:
        raise ValueError(
            f"{_META_SETTING}: the list is empty; give at least one, in priority order, e.g. "
            + ",".join(META_CONVERSION_ACTION_TYPES)
        )
    unknown = [t for t in items if t not in META_KNOWN_CONVERSION_ACTION_TYPES and not _META_CUSTOM_CONVERSION.fullmatch(t)]
    if unknown:
        raise ValueError(
            f"{_META_SETTING}: unknown {unknown}; known: {sorted(META_KNOWN_CONVERSION_ACTION_TYPES)} "
            "or offsite_conversion.custom.<id>"
        )
    duplicated = sorted({t for t in items if items.count(t) > 1})
    if duplicated:
        raise ValueError(f"{_META_SETTING}: listed more than once: {duplicated}")
    return tuple(items)


def _meta_value(entries: object, action_type: str | None) -> object:
    """The value ``entries`` (an ``actions`` or ``action_values`` list) report for ``action_type``: 0 when
    the type is absent (Meta leaves out what did not happen), the native value when it is not a list."""
    if not isinstance(entries, list):
        return 0 if entries is None or (isinstance(entries, float) and np.isnan(entries)) else entries
    if action_type is None:
        return 0
    vals = [a.get("value") for a in entries if isinstance(a, dict) and a.get("action_type") == action_type]
    nums = pd.to_numeric(pd.Series(vals, dtype=object), errors="coerce")
    return "not-a-number" if nums.isna().any() else float(nums.sum())


def _meta_chosen_type(actions: object, priority: tuple[str, ...]) -> str | None:
    if not isinstance(actions, list):
        return None
    present = {a.get("action_type") for a in actions if isinstance(a, dict)}
    return next((t for t in priority if t in present), None)


def meta_conversions_deriver(priority: Sequence[str] = META_CONVERSION_ACTION_TYPES) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Adds ``_conversions`` and ``_conversion_value``: the first type of ``priority`` present in a row's
    ``actions`` gives its conversions, and the same type's entry of ``action_values`` their value. A row
    whose ``actions`` hold none of them (a count rounded down to 0 while its value is not) takes the value
    of the first type of ``priority`` that ``action_values`` reports: still one type, never a sum."""
    priority = meta_conversion_action_types(priority)

    def derive(df: pd.DataFrame) -> pd.DataFrame:
        empty = pd.Series([None] * len(df), index=df.index, dtype=object)
        actions, values = df.get("actions", empty), df.get("action_values", empty)
        counted = [_meta_chosen_type(a, priority) for a in actions]
        valued = [t or _meta_chosen_type(v, priority) for t, v in zip(counted, values)]
        return df.assign(
            _conversions=pd.Series([_meta_value(a, t) for a, t in zip(actions, counted)], index=df.index, dtype=object),
            _conversion_value=pd.Series([_meta_value(v, t) for v, t in zip(values, valued)], index=df.index, dtype=object),
        )

    return derive


_derive_meta = meta_conversions_deriver()


def _derive_linkedin_ads(df: pd.DataFrame) -> pd.DataFrame:
    def campaign(pivots: object) -> object:
        if isinstance(pivots, list) and pivots and isinstance(pivots[0], str):
            return pivots[0].rsplit(":", 1)[-1]
        return None

    def day(d: object) -> object:
        if isinstance(d, dict) and {"year", "month", "day"} <= d.keys():
            return f"{int(d['year']):04d}-{int(d['month']):02d}-{int(d['day']):02d}"
        return None

    return df.assign(_campaign_id=df["pivotValues"].map(campaign), _date=df["dateRange.start"].map(day))


def _ads(platform: str, key: str, fields: dict[str, Field], derive=None) -> PlatformMapping:
    return PlatformMapping(AD_CAMPAIGN_METRICS, platform, key, {"platform": _f(None, constant=platform), **fields}, derive)


# The same native fields carry an ad account's ids and delivery at campaign and at ad level: one
# definition per platform serves both reports (key order = column order of the parsed rows).
_AD_IDS = {
    "google_ads": {"account_id": _f("customer.id"), "campaign_id": _f("campaign.id")},
    "meta_ads": {"account_id": _f("account_id"), "campaign_id": _f("campaign_id")},
    "linkedin_ads": {"account_id": _f("cycle.account_id"), "campaign_id": _f("_campaign_id")},
}
_AD_DELIVERY = {
    "google_ads": {
        "metric_date": _f("segments.date", "date"),
        "currency": _f("customer.currencyCode"),
        "impressions": _f("metrics.impressions", "int"),
        "clicks": _f("metrics.clicks", "int"),
        "spend": _f("metrics.costMicros", "micros"),
        "conversions": _f("metrics.conversions", "float"),
        "conversion_value": _f("metrics.conversionsValue", "float"),
        "reach": _f(None, "int", required=False),
    },
    "meta_ads": {
        "metric_date": _f("date_start", "date"),
        "currency": _f("account_currency"),
        "impressions": _f("impressions", "int"),
        "clicks": _f("clicks", "int"),
        "spend": _f("spend", "float"),
        "conversions": _f("_conversions", "float"),
        "conversion_value": _f("_conversion_value", "float"),
        "reach": _f("reach", "int", required=False),
    },
    "linkedin_ads": {
        "metric_date": _f("_date", "date"),
        "currency": _f("cycle.currency"),
        "impressions": _f("impressions", "int"),
        "clicks": _f("clicks", "int"),
        "spend": _f("costInLocalCurrency", "float"),
        "conversions": _f("externalWebsiteConversions", "float"),
        "conversion_value": _f("conversionValueInLocalCurrency", "float"),
        "reach": _f("approximateMemberReach", "int", required=False),
    },
}

AD_MAPPINGS = {
    "google_ads": _ads(
        "google_ads",
        "campaign.id",
        {
            **_AD_IDS["google_ads"],
            "campaign_name": _f("campaign.name", required=False),
            **_AD_DELIVERY["google_ads"],
            "campaign_status": _f("campaign.status", required=False),
            # Google Ads has no campaign objective: the advertising channel type plays that role
            "objective": _f("campaign.advertisingChannelType", required=False),
            "daily_budget": _f("campaignBudget.amountMicros", "micros", required=False),
            "bidding_strategy": _f("campaign.biddingStrategyType", required=False),
        },
    ),
    "meta_ads": _ads(
        "meta_ads",
        "campaign_id",
        {
            **_AD_IDS["meta_ads"],
            "campaign_name": _f("campaign_name", required=False),
            **_AD_DELIVERY["meta_ads"],
            "campaign_status": _f("campaign.effective_status", required=False),
            "objective": _f("objective", required=False),
            "daily_budget": _f("campaign.daily_budget", "minor_units", required=False),
            "bidding_strategy": _f("campaign.bid_strategy", required=False),
        },
        _derive_meta,
    ),
    "linkedin_ads": _ads(
        "linkedin_ads",
        "_campaign_id",
        {
            **_AD_IDS["linkedin_ads"],
            "campaign_name": _f("cycle.campaign_name", required=False),
            **_AD_DELIVERY["linkedin_ads"],
            "campaign_status": _f("campaign.status", required=False),
            "objective": _f("campaign.objectiveType", required=False),
            "daily_budget": _f("campaign.dailyBudget.amount", "float", required=False),
            "bidding_strategy": _f("campaign.optimizationTargetType", required=False),
        },
        _derive_linkedin_ads,
    ),
}

# ---- ad-level (creative) reports: Google Ads `ad_group_ad` GAQL rows, Meta insights `level=ad`,
# LinkedIn adAnalytics `pivots=CAMPAIGN,CREATIVE`; video quartiles as view counts (raw contract)

_GOOGLE_QUARTILE_RATES = {
    "video_p25_views": "metrics.videoQuartileP25Rate",
    "video_p50_views": "metrics.videoQuartileP50Rate",
    "video_p75_views": "metrics.videoQuartileP75Rate",
    "video_p100_views": "metrics.videoQuartileP100Rate",
}


def _derive_google_creatives(df: pd.DataFrame) -> pd.DataFrame:
    # Google reports quartiles as shares of impressions: views = rate * impressions (rounded). A rate or
    # impression count that is not a number stays as given, so the converters below report it.
    impressions = pd.to_numeric(df.get("metrics.impressions"), errors="coerce")
    derived = {}
    for column, source in _GOOGLE_QUARTILE_RATES.items():
        if source not in df.columns:
            continue
        rate = pd.to_numeric(df[source], errors="coerce")
        views = (rate * impressions).round()
        derived[f"_{column}"] = views.astype(object).where(views.notna(), df[source].where(rate.isna()))
    return df.assign(**derived)


def meta_creatives_deriver(priority: Sequence[str] = META_CONVERSION_ACTION_TYPES) -> Callable[[pd.DataFrame], pd.DataFrame]:
    conversions = meta_conversions_deriver(priority)

    def derive(df: pd.DataFrame) -> pd.DataFrame:
        df = conversions(df)
        empty = pd.Series([None] * len(df), index=df.index, dtype=object)
        quartiles = {}
        for q in ("p25", "p50", "p75", "p100"):
            actions = df.get(f"video_{q}_watched_actions", empty)
            # an ad without video has no such field at all: keep it missing rather than 0 views
            has_value = actions.map(lambda a: isinstance(a, list))
            quartiles[f"_video_{q}_views"] = _meta_action(("video_view",))(actions).where(has_value, None)
        return df.assign(**quartiles)

    return derive


_derive_meta_creatives = meta_creatives_deriver()


def _derive_linkedin_creatives(df: pd.DataFrame) -> pd.DataFrame:
    def pivot(prefix: str) -> Callable[[object], object]:
        def find(pivots: object) -> object:
            if isinstance(pivots, list):
                for urn in pivots:
                    if isinstance(urn, str) and urn.startswith(prefix):
                        return urn.rsplit(":", 1)[-1]
            return None

        return find

    df = _derive_linkedin_ads(df)
    return df.assign(
        _campaign_id=df["pivotValues"].map(pivot("urn:li:sponsoredCampaign:")),
        _creative_id=df["pivotValues"].map(pivot("urn:li:sponsoredCreative:")),
    )


def _creatives(platform: str, key: str, fields: dict[str, Field], derive) -> PlatformMapping:
    return PlatformMapping(
        AD_CREATIVE_METRICS, platform, key, {"platform": _f(None, constant=platform), **fields}, derive
    )


CREATIVE_MAPPINGS = {
    "google_ads": _creatives(
        "google_ads",
        "adGroupAd.ad.id",
        {
            **_AD_IDS["google_ads"],
            "ad_id": _f("adGroupAd.ad.id"),
            "ad_name": _f("adGroupAd.ad.name", required=False),
            "creative_format": _f("adGroupAd.ad.type", required=False),
            **_AD_DELIVERY["google_ads"],
            **{col: _f(f"_{col}", "int", required=False) for col in _GOOGLE_QUARTILE_RATES},
        },
        _derive_google_creatives,
    ),
    "meta_ads": _creatives(
        "meta_ads",
        "ad_id",
        {
            **_AD_IDS["meta_ads"],
            "ad_id": _f("ad_id"),
            "ad_name": _f("ad_name", required=False),
            "creative_format": _f("creative.object_type", required=False),
            **_AD_DELIVERY["meta_ads"],
            **{f"video_{q}_views": _f(f"_video_{q}_views", "int", required=False) for q in ("p25", "p50", "p75", "p100")},
        },
        _derive_meta_creatives,
    ),
    "linkedin_ads": _creatives(
        "linkedin_ads",
        "_creative_id",
        {
            **_AD_IDS["linkedin_ads"],
            "ad_id": _f("_creative_id"),
            "ad_name": _f("cycle.creative_name", required=False),
            "creative_format": _f("cycle.creative_type", required=False),
            **_AD_DELIVERY["linkedin_ads"],
            "video_p25_views": _f("videoFirstQuartileCompletions", "int", required=False),
            "video_p50_views": _f("videoMidpointCompletions", "int", required=False),
            "video_p75_views": _f("videoThirdQuartileCompletions", "int", required=False),
            "video_p100_views": _f("videoCompletions", "int", required=False),
        },
        _derive_linkedin_creatives,
    ),
}

def ad_mappings(meta_conversion_types: Sequence[str] = META_CONVERSION_ACTION_TYPES) -> dict[str, PlatformMapping]:
    """The campaign-report mappings with the deployment's Meta conversion action types (validated here)."""
    return {**AD_MAPPINGS, "meta_ads": replace(AD_MAPPINGS["meta_ads"], derive=meta_conversions_deriver(meta_conversion_types))}


def creative_mappings(meta_conversion_types: Sequence[str] = META_CONVERSION_ACTION_TYPES) -> dict[str, PlatformMapping]:
    """The ad-level report mappings with the deployment's Meta conversion action types (validated here)."""
    return {
        **CREATIVE_MAPPINGS,
        "meta_ads": replace(CREATIVE_MAPPINGS["meta_ads"], derive=meta_creatives_deriver(meta_conversion_types)),
    }


BOOST_MAPPING = PlatformMapping(
    BOOSTS,
    None,
    "boost_id",
    {
        "boost_id": _f("boost_id"),
        "organic_platform": _f("organic.platform"),
        "post_id": _f("organic.post_id"),
        "ad_platform": _f("paid.platform"),
        "campaign_id": _f("paid.campaign_id"),
        "boost_date": _f("delivery.date", "date"),
        "start_date": _f("flight.start_date", "date"),
        "end_date": _f("flight.end_date", "date"),
        "currency": _f("budget.currency"),
        "daily_budget": _f("budget.daily_amount", "float"),
        "spend": _f("delivery.spend", "float"),
        "paid_impressions": _f("delivery.impressions", "int"),
        "paid_engagements": _f("delivery.engagements", "int"),
        "paid_clicks": _f("delivery.clicks", "int"),
    },
)



def _derive_linkedin_boosts(df: pd.DataFrame) -> pd.DataFrame:
    """A boost's id from its creative, and its flight as UTC days from the campaign's ``runSchedule`` (epoch
    ms; ``end`` is the instant delivery stops, so a flight ending at midnight ends the day before). A value
    that is not an epoch stays as given, for the date converter to report."""

    def day(values: pd.Series | None, exclusive: bool) -> pd.Series:
        if values is None:
            return pd.Series([None] * len(df), index=df.index, dtype=object)
        ms = pd.to_numeric(values, errors="coerce")
        ts = pd.to_datetime(ms - (1 if exclusive else 0), unit="ms", errors="coerce")
        return ts.dt.strftime("%Y-%m-%d").astype(object).where(ts.notna(), values.where(ms.isna()))

    df = _derive_linkedin_creatives(df)
    return df.assign(
        _boost_id=("li_" + df["_creative_id"].astype(str)).where(df["_creative_id"].notna(), None),
        _start_date=day(df.get("cycle.run_start"), exclusive=False),
        _end_date=day(df.get("cycle.run_end"), exclusive=True),
    )


# LinkedIn Ads boosts: the creative-level delivery (adAnalytics pivot CREATIVE) of sponsored creatives whose
# ``content.reference`` is an organic post of the company page, joined by the client with that post's URN, the
# campaign's flight and daily budget and the account's currency (``cycle.*``)
LINKEDIN_BOOST_MAPPING = PlatformMapping(
    BOOSTS,
    "linkedin_ads",
    "_boost_id",
    {
        "boost_id": _f("_boost_id"),
        "organic_platform": _f(None, constant="linkedin"),
        "post_id": _f("cycle.post_urn"),
        "ad_platform": _f(None, constant="linkedin_ads"),
        "campaign_id": _f("_campaign_id"),
        "boost_date": _f("_date", "date"),
        "start_date": _f("_start_date", "date"),
        "end_date": _f("_end_date", "date"),
        "currency": _f("cycle.currency"),
        "daily_budget": _f("cycle.daily_budget", "float"),
        "spend": _f("costInLocalCurrency", "float"),
        "paid_impressions": _f("impressions", "int"),
        "paid_engagements": _f("totalEngagements", "int"),
        "paid_clicks": _f("clicks", "int"),
    },
    _derive_linkedin_boosts,
)

def _derive_meta_boosts(df: pd.DataFrame) -> pd.DataFrame:
    """A boost's id from its ad, its flight as the account's local days of its ad set's ``start_time`` and
    ``end_time`` (ISO 8601 with the account's offset, the clock insights' ``date_start`` days follow; ``end_time``
    is the instant delivery stops, so an end at midnight ends the day before), its daily budget in major units
    (Meta gives budgets in the currency's minor unit: cents for every currency of the contract) and its paid
    engagements (the ``post_engagement`` action: every action on the promoted post). A value that is not what
    Meta sends stays as given, for the converters to report."""

    def day(values: pd.Series | None, exclusive: bool) -> pd.Series:
        if values is None:
            return pd.Series([None] * len(df), index=df.index, dtype=object)

        def local_day(value: object) -> object:
            if not isinstance(value, str):
                return value
            try:  # the wall-clock time as written: its offset is the account's, as its insights' days are
                at = datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
            except ValueError:
                return value
            return (at - timedelta(seconds=1) if exclusive else at).date().isoformat()

        return values.map(local_day).astype(object)

    empty = pd.Series([None] * len(df), index=df.index, dtype=object)
    cents = pd.to_numeric(df.get("cycle.daily_budget", empty), errors="coerce")
    budget = df.get("cycle.daily_budget", empty)
    return df.assign(
        _boost_id=("meta_" + df["ad_id"].astype(str)).where(df["ad_id"].notna(), None),
        _start_date=day(df.get("cycle.run_start"), exclusive=False),
        _end_date=day(df.get("cycle.run_end"), exclusive=True),
        _daily_budget=(cents / 100).astype(object).where(cents.notna(), budget),
        _engagements=_meta_action(("post_engagement",))(df.get("actions", empty)),
    )


# Meta boosts: the ad-level insights (level=ad) of ads whose creative promotes an already published Facebook
# page post or Instagram media (MetaAdsClient.fetch_boosts: ``cycle.*`` carries the post, its platform and the
# ad set's flight and budget). Those posts are none Cycle tracks organically: the boost is measured paid side only
META_BOOST_MAPPING = PlatformMapping(
    BOOSTS,
    "meta_ads",
    "_boost_id",
    {
        "boost_id": _f("_boost_id"),
        "organic_platform": _f("cycle.organic_platform"),
        "post_id": _f("cycle.post_id"),
        "ad_platform": _f(None, constant="meta_ads"),
        "campaign_id": _f("campaign_id"),
        "boost_date": _f("date_start", "date"),
        "start_date": _f("_start_date", "date"),
        "end_date": _f("_end_date", "date"),
        "currency": _f("account_currency"),
        "daily_budget": _f("_daily_budget", "float"),
        "spend": _f("spend", "float"),
        "paid_impressions": _f("impressions", "int"),
        "paid_engagements": _f("_engagements", "int"),
        "paid_clicks": _f("clicks", "int"),
    },
    _derive_meta_boosts,
)

# the ad platforms whose reports Cycle discovers boosts of organic posts in (Meta's: of Facebook and Instagram
# posts, which Cycle does not track organically; see contracts.raw.UNTRACKED_BOOST_PLATFORMS)
BOOST_MAPPINGS = {"linkedin_ads": LINKEDIN_BOOST_MAPPING, "meta_ads": META_BOOST_MAPPING}


def boost_mappings(meta_conversion_types: Sequence[str] = META_CONVERSION_ACTION_TYPES) -> dict[str, PlatformMapping]:
    """The boost mappings by ad platform (the same signature as the other ad entities' mappings)."""
    return dict(BOOST_MAPPINGS)


TOUCHPOINT_MAPPING = PlatformMapping(
    TOUCHPOINTS,
    None,
    "event_id",
    {
        # optional: a snippet that sets no property tracks for the deployment's default one (staging)
        "property_id": _f("property_id", required=False),
        "event_id": _f("event_id"),
        "journey_id": _f("journey_id"),
        "user_id": _f("anonymous_id"),
        "event_at": _f("timestamp", "iso"),
        "event_type": _f("event"),
        "utm_source": _f("utm_source", required=False),
        "utm_medium": _f("utm_medium", required=False),
        "utm_campaign": _f("utm_campaign", required=False),
        "utm_content": _f("utm_content", required=False),
        "conversion_value": _f("revenue", "float", required=False),
        "currency": _f("currency", required=False),
    },
)

AI_GENERATION_MAPPING = PlatformMapping(
    AI_GENERATIONS,
    None,
    "id",
    {
        "generation_id": _f("id"),
        "generated_at": _f("created", "epoch_s"),
        "model": _f("model"),
        "platform": _f("cycle.platform"),
        "post_id": _f("cycle.post_id", required=False),
        "status": _f("cycle.status"),
        "prompt_tokens": _f("usage.prompt_tokens", "int"),
        "completion_tokens": _f("usage.completion_tokens", "int"),
        "latency_ms": _f("cycle.latency_ms", "int"),
        "cost_usd": _f("cycle.cost_usd", "float"),
    },
)


EXPERIMENT_OBSERVATION_MAPPING = PlatformMapping(
    EXPERIMENT_OBSERVATIONS,
    None,
    "unit.id",
    {
        "experiment_id": _f("experiment.id"),
        "experiment_name": _f("experiment.name", required=False),
        "factor": _f("experiment.factor"),
        "start_date": _f("experiment.start_date", "date"),
        "end_date": _f("experiment.end_date", "date"),
        "metric": _f("experiment.metric.name"),
        "metric_kind": _f("experiment.metric.type"),
        "baseline_mean": _f("experiment.design.baseline_mean", "float"),
        "baseline_sd": _f("experiment.design.baseline_sd", "float"),
        "mde": _f("experiment.design.mde", "float"),
        "alpha": _f("experiment.design.alpha", "float"),
        "power": _f("experiment.design.power", "float"),
        "variant": _f("variant.key"),
        "variant_role": _f("variant.role"),
        "unit_id": _f("unit.id"),
        "exposed_at": _f("exposure.timestamp", "iso"),
        "value": _f("outcome.value", "float"),
    },
)


def _append_reason(reasons: pd.Series, mask: pd.Series, reason: str | pd.Series) -> pd.Series:
    mask = mask.fillna(False).astype(bool)
    if not mask.any():
        return reasons
    add = reason[mask] if isinstance(reason, pd.Series) else reason
    return reasons.mask(mask, reasons.where(reasons == "", reasons + "; ").where(mask, "") + add)


def _payload_json(native: pd.DataFrame) -> pd.Series:
    return pd.Series(
        [json.dumps(rec, default=str) for rec in native.to_dict(orient="records")], index=native.index, dtype=object
    )


def _outside_days(values: pd.Series, days: Sequence[date]) -> pd.Series:
    """True where a parsed day column's date is not one of ``days``."""
    return ~pd.to_datetime(values).dt.date.isin(set(days))


def _window_reason(column: str, days: Sequence[date]) -> str:
    first, last = min(days), max(days)
    if first == last:
        return f"{column} is not on the partition day {first.isoformat()}"
    return f"{column} outside the requested days {first}..{last}"


def parse_records(native: pd.DataFrame, mapping: PlatformMapping, days: Sequence[date] | None = None) -> ParseResult:
    """Map one platform's native records to canonical rows; invalid records go to quarantine with their
    native payload. With ``days``, a record whose day (the table's ``day_column``) is not one of them is
    quarantined too: it belongs to a partition this load does not own."""
    native = native.reset_index(drop=True)
    if mapping.derive is not None and len(native):
        native = mapping.derive(native)
    table = mapping.table
    reasons = pd.Series("", index=native.index, dtype=object)
    out = pd.DataFrame(index=native.index)
    for col, spec in mapping.fields.items():
        if spec.source is None:
            out[col] = pd.Series([spec.constant] * len(native), index=native.index, dtype=_CONSTANT_DTYPES.get(spec.kind, object))
            continue
        if spec.source not in native.columns:
            if spec.required:
                reasons = _append_reason(reasons, pd.Series(True, index=native.index), f"missing required field '{spec.source}'")
            out[col] = pd.Series([None] * len(native), index=native.index, dtype=_CONSTANT_DTYPES.get(spec.kind, object))
            continue
        raw = native[spec.source]
        missing = _missing(raw)
        values, bad, why = CONVERTERS[spec.kind](raw, missing)
        if bad.any():  # messages only for the failing rows: the common case must stay vectorized
            msgs = raw[bad].astype(str).map(lambda v, f=spec.source, w=why: f"field '{f}' {w}: {v!r}")
            reasons = _append_reason(reasons, bad, msgs.reindex(native.index))
        if spec.required:
            reasons = _append_reason(reasons, missing, f"missing required field '{spec.source}'")
        out[col] = values

    # pandera row rules (ranges, vocabularies, cross-field checks) on the rows that parsed
    parsed = reasons == ""
    candidates = out[parsed]
    try:
        if len(candidates):
            table.row_schema.validate(candidates, lazy=True)
    except pa.errors.SchemaErrors as exc:
        failures = exc.failure_cases
        row_level = failures[failures["index"].notna()]
        table_level = failures[failures["index"].isna()]
        if len(table_level):
            raise ValueError(f"{table.name}: batch does not match the table schema:\n{table_level.to_string()}") from exc
        for idx, group in row_level.groupby("index"):
            msgs = [
                # a dataframe-wide check reports every column of the row: its message is enough
                f"check failed: {k}" if ctx == "DataFrameSchema" else f"{c}: check {k} failed (value {v})"
                for ctx, c, k, v in zip(group["schema_context"], group["column"], group["check"], group["failure_case"])
            ]
            reasons.loc[int(idx)] = "; ".join(sorted(set(msgs)))

    if days is not None and table.day_column is not None:
        parsed = reasons == ""
        outside = parsed & _outside_days(out[table.day_column].where(parsed), days)
        reasons = _append_reason(reasons, outside, _window_reason(table.day_column, days))

    bad = reasons != ""
    key = native[mapping.key_field].astype("string") if mapping.key_field in native.columns else pd.Series(pd.NA, index=native.index)
    quarantine = pd.DataFrame(
        {
            "source_table": table.name,
            "platform": mapping.platform,
            "record_key": key[bad],
            "reason": reasons[bad],
            "payload": _payload_json(native[bad].drop(columns=[c for c in native.columns if c.startswith("_")])),
        }
    )
    rows = out[~bad].reset_index(drop=True)
    return ParseResult(rows=rows, quarantine=quarantine.reset_index(drop=True))
