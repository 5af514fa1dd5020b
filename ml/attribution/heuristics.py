"""Rule-based attribution: each touch of a converting path gets a fixed share of its conversions.

Weights are per touch (a channel touched twice on a path gets both touches' weights), as in
ChannelAttribution's heuristic models and the warehouse's ``int_attribution_weights``:

- ``first_touch`` / ``last_touch``: all of the path to its first / last touch.
- ``linear``: 1/n to each of the n touches.
- ``time_decay``: weight 0.5 ** (k / half_life) for the touch k steps before the last one, normalised
  over the path. Aggregated paths carry no timestamps, so distance is counted in touches: with the
  default half-life of 1 step the last touch gets twice the weight of the one before it. (The
  warehouse model decays by days before the conversion with a 7-day half-life; same formula, other
  clock.)
- ``position_based`` (U-shaped, 40/20/40): 40% to the first touch, 40% to the last, the remaining 20%
  shared equally by the touches in between; a 2-touch path splits 50/50 (first and last weights
  rescaled to sum to 1) and a 1-touch path gives its touch everything.

Every model hands out exactly the path's conversions and value, so credits sum to the totals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.attribution.paths import PathData

HEURISTIC_MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")
DEFAULT_HALF_LIFE_STEPS = 1.0
DEFAULT_POSITION_WEIGHTS = (0.4, 0.4)  # first, last; the rest goes to the middle touches


@dataclass(frozen=True)
class Touches:
    """The paths flattened to one entry per touch."""

    path: np.ndarray  # index of the touch's path
    position: np.ndarray  # 0-based position within the path
    length: np.ndarray  # length of the touch's path
    channel: np.ndarray  # index into ``channels``
    channels: tuple[str, ...]


def flatten(data: PathData) -> Touches:
    channels = data.channels
    code = {c: i for i, c in enumerate(channels)}
    lengths = np.fromiter((len(p) for p in data.paths), dtype=np.int64, count=len(data))
    path = np.repeat(np.arange(len(data)), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    position = np.arange(len(path)) - starts
    channel = np.fromiter((code[c] for p in data.paths for c in p), dtype=np.int64, count=len(path))
    return Touches(path, position, lengths[path], channel, channels)


def touch_weights(
    model: str,
    touches: Touches,
    *,
    half_life_steps: float = DEFAULT_HALF_LIFE_STEPS,
    position_weights: tuple[float, float] = DEFAULT_POSITION_WEIGHTS,
) -> np.ndarray:
    """Each touch's share of its path's conversions under ``model`` (shares of a path sum to 1)."""
    pos, n = touches.position, touches.length
    if model == "first_touch":
        return (pos == 0).astype(float)
    if model == "last_touch":
        return (pos == n - 1).astype(float)
    if model == "linear":
        return 1.0 / n
    if model == "time_decay":
        if not half_life_steps > 0:
            raise ValueError(f"half_life_steps must be positive, got {half_life_steps}")
        raw = 0.5 ** ((n - 1 - pos) / half_life_steps)
        return raw / np.bincount(touches.path, raw)[touches.path]
    if model == "position_based":
        first, last = position_weights
        if first < 0 or last < 0 or first + last > 1 or first + last == 0:
            raise ValueError(f"position weights must be >= 0 with a sum in (0, 1], got {position_weights}")
        middle = (1.0 - first - last) / np.maximum(n - 2, 1)
        w = np.where(pos == 0, first, np.where(pos == n - 1, last, middle))
        w = np.where(n == 2, np.where(pos == 0, first, last) / (first + last), w)
        return np.where(n == 1, 1.0, w)
    raise ValueError(f"unknown heuristic model {model!r}; expected one of {', '.join(HEURISTIC_MODELS)}")


def heuristic_credits(
    data: PathData,
    model: str,
    *,
    half_life_steps: float = DEFAULT_HALF_LIFE_STEPS,
    position_weights: tuple[float, float] = DEFAULT_POSITION_WEIGHTS,
    touches: Touches | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Conversions and value credited to each channel of ``data.channels``."""
    t = touches or flatten(data)
    w = touch_weights(model, t, half_life_steps=half_life_steps, position_weights=position_weights)
    k = len(t.channels)
    conversions = np.bincount(t.channel, w * data.conversions[t.path], minlength=k)
    value = np.bincount(t.channel, w * data.value[t.path], minlength=k)
    return conversions, value
