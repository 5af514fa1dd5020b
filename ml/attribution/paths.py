"""Journeys as aggregated paths: the input of every attribution model.

The layout is ChannelAttribution's: one row per distinct path, ``path`` holding the channels in order
separated by ``>`` (``"google_ads > linkedin_organic"``), ``total_conversions`` (journeys on that path that
converted), ``total_conversion_value`` (their summed value) and ``total_null`` (journeys on that path that
did not convert). Identical paths are merged, summing their counts, so any journey-level export can be
fed as is.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

PATH_COLUMN = "path"
CONVERSIONS_COLUMN = "total_conversions"
VALUE_COLUMN = "total_conversion_value"
NULL_COLUMN = "total_null"
SEPARATOR = ">"


class PathDataError(ValueError):
    """Journey data that cannot be attributed, with what is wrong and where."""


@dataclass(frozen=True)
class PathData:
    """Distinct paths (tuples of channel names) with their conversions, conversion value and nulls."""

    paths: tuple[tuple[str, ...], ...]
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.paths)
        for name in ("conversions", "value", "nulls"):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != (n,):
                raise PathDataError(f"{name} has {arr.shape} entries for {n} paths")
            object.__setattr__(self, name, arr)

    @functools.cached_property
    def channels(self) -> tuple[str, ...]:
        """Every channel seen on any path, sorted."""
        return tuple(sorted({c for p in self.paths for c in p}))

    @property
    def total_conversions(self) -> float:
        return float(self.conversions.sum())

    @property
    def total_value(self) -> float:
        return float(self.value.sum())

    @property
    def total_journeys(self) -> float:
        return float(self.conversions.sum() + self.nulls.sum())

    def __len__(self) -> int:
        return len(self.paths)

    def to_frame(self, sep: str = " > ") -> pd.DataFrame:
        """Back to ChannelAttribution's layout."""
        return pd.DataFrame(
            {
                PATH_COLUMN: [sep.join(p) for p in self.paths],
                CONVERSIONS_COLUMN: self.conversions,
                VALUE_COLUMN: self.value,
                NULL_COLUMN: self.nulls,
            }
        )


def aggregate_paths(
    paths: Iterable[Sequence[str]],
    conversions: Iterable[float],
    value: Iterable[float] | None = None,
    nulls: Iterable[float] | None = None,
) -> PathData:
    """Merge identical paths (summing their counts) after validating every row.

    Rows are rejected, not skipped, when a path is empty, holds an empty channel name, or has a
    negative or non-finite count or value, or value without conversions: attribution of partly
    dropped data would silently misstate every channel's credit.
    """
    paths = [tuple(p) for p in paths]
    n = len(paths)
    conv = _numbers(conversions, n, CONVERSIONS_COLUMN)
    val = np.zeros(n) if value is None else _numbers(value, n, VALUE_COLUMN)
    null = np.zeros(n) if nulls is None else _numbers(nulls, n, NULL_COLUMN)
    for i, p in enumerate(paths):
        if not p:
            raise PathDataError(f"row {i}: empty path")
        for c in p:
            if not isinstance(c, str) or not c.strip():
                raise PathDataError(f"row {i}: empty channel name in path {p!r}")
    bad = np.flatnonzero((val > 0) & (conv == 0))
    if len(bad):
        raise PathDataError(f"row {int(bad[0])}: {VALUE_COLUMN} {val[bad[0]]} with no conversions")
    index: dict[tuple[str, ...], int] = {}  # first-seen order
    codes = np.fromiter((index.setdefault(p, len(index)) for p in paths), dtype=np.int64, count=n)
    m = len(index)
    return PathData(
        paths=tuple(index),
        conversions=np.bincount(codes, conv, minlength=m),
        value=np.bincount(codes, val, minlength=m),
        nulls=np.bincount(codes, null, minlength=m),
    )


def _numbers(values: Iterable[float], n: int, name: str) -> np.ndarray:
    raw = pd.Series(list(values) if not isinstance(values, (pd.Series, np.ndarray)) else values)
    if len(raw) != n:
        raise PathDataError(f"{name}: {len(raw)} values for {n} paths")
    arr = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(arr))
    if len(bad):
        raise PathDataError(f"row {int(bad[0])}: {name} is not a number ({raw.iloc[bad[0]]!r})")
    neg = np.flatnonzero(arr < 0)
    if len(neg):
        raise PathDataError(f"row {int(neg[0])}: {name} is negative ({arr[neg[0]]:g})")
    return arr


def split_path(text: object, sep: str = SEPARATOR) -> tuple[str, ...]:
    """``"a > b >c"`` -> ``("a", "b", "c")``; an empty path or channel name is an error."""
    if not isinstance(text, str) or not text.strip():
        raise PathDataError(f"empty path ({text!r})")
    parts = tuple(part.strip() for part in text.split(sep.strip() or sep))
    if any(not part for part in parts):
        raise PathDataError(f"empty channel name in path {text!r}")
    return parts


def paths_from_frame(
    frame: pd.DataFrame,
    *,
    path_column: str = PATH_COLUMN,
    conversions_column: str = CONVERSIONS_COLUMN,
    value_column: str | None = VALUE_COLUMN,
    null_column: str | None = NULL_COLUMN,
    sep: str = SEPARATOR,
) -> PathData:
    """Paths in ChannelAttribution's layout. ``path`` and ``total_conversions`` are required; without a
    value column every value is 0, without a null column no journey is known to have failed (the
    Markov model then has no path to the null state)."""
    missing = [c for c in (path_column, conversions_column) if c not in frame.columns]
    if missing:
        raise PathDataError(
            f"missing column(s) {', '.join(missing)}; expected {path_column}, {conversions_column}"
            f"{', ' + value_column if value_column else ''}{', ' + null_column if null_column else ''}"
            f" (found: {', '.join(map(str, frame.columns)) or 'none'})"
        )
    if frame.empty:
        raise PathDataError("no paths")
    paths = []
    for i, text in enumerate(frame[path_column].tolist()):
        try:
            paths.append(split_path(text, sep))
        except PathDataError as err:
            raise PathDataError(f"row {i}: {err}") from None
    value = frame[value_column] if value_column and value_column in frame.columns else None
    nulls = frame[null_column] if null_column and null_column in frame.columns else None
    return aggregate_paths(paths, frame[conversions_column], value, nulls)


def read_paths_csv(source: str | os.PathLike | io.IOBase, sep: str = SEPARATOR, **columns: str) -> PathData:
    """Read a ChannelAttribution-style CSV (compressed files work too)."""
    try:
        frame = pd.read_csv(source, dtype={PATH_COLUMN: str}, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise PathDataError("empty CSV: no header, no paths") from None
    except pd.errors.ParserError as err:
        raise PathDataError(f"not a readable CSV: {err}") from None
    return paths_from_frame(frame, sep=sep, **columns)


def paths_from_journeys(
    touches: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    journey_column: str = "journey_id",
    channel_column: str = "channel",
    order_columns: Sequence[str] = ("touched_at",),
    converted_column: str = "converted",
    value_column: str = "value",
) -> PathData:
    """Aggregate journey-level data: ``touches`` (one row per touch, ordered within a journey by
    ``order_columns``) and ``outcomes`` (one row per journey: converted 0/1, value). A journey with no
    touch has no path and is not attributable; it is left out, as are touches of unknown journeys."""
    for name, frame, cols in (
        ("touches", touches, [journey_column, channel_column, *order_columns]),
        ("outcomes", outcomes, [journey_column, converted_column, value_column]),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise PathDataError(f"{name}: missing column(s) {', '.join(missing)}")
    if outcomes[journey_column].duplicated().any():
        dup = outcomes.loc[outcomes[journey_column].duplicated(), journey_column].iloc[0]
        raise PathDataError(f"outcomes: journey {dup!r} appears more than once")
    ordered = touches.sort_values([journey_column, *order_columns], kind="stable")
    by_journey = ordered.groupby(journey_column, sort=False)[channel_column].agg(tuple)
    joined = outcomes.set_index(journey_column).join(by_journey.rename("_path"), how="inner")
    if joined.empty:
        raise PathDataError("no journey has a touch")
    converted = pd.to_numeric(joined[converted_column], errors="coerce").astype(float)
    if not converted.isin([0.0, 1.0]).all():
        raise PathDataError(f"outcomes: {converted_column} must be 0 or 1")
    value = pd.to_numeric(joined[value_column], errors="coerce").fillna(0.0) * converted
    return aggregate_paths(joined["_path"], converted, value, 1.0 - converted)
