"""Multi-touch attribution on aggregated journey paths (plain numpy/pandas/scipy, no Dagster).

``attribute(paths)`` credits every channel under every model, on conversions and on conversion
value, as one tidy frame ``channel, model, conversions, value``. Models:

- heuristics (``ml.attribution.heuristics``): ``first_touch``, ``last_touch``, ``linear``,
  ``time_decay`` (half-life in touches), ``position_based`` (40/20/40);
- ``markov`` (``ml.attribution.markov``): removal effects of a Markov chain of order k, exact;
- ``shapley`` (``ml.attribution.shapley``): Shapley values of the incremental-conversions game
  (default) or of the path-subset game.

Each model's credits sum to the total conversions and the total value.

The Markov and Shapley models estimate different counterfactuals of "this channel switched off": the
removal effect assumes the journeys that would reach the channel end there (every visit comes from a
touch), the incremental game that they go on at lower odds of converting (touches raise the odds). No
path data tells the two apart; the simulator plants both worlds and tests each model in each (README,
"Which attribution model"). The incremental game warns (``AttributionFitWarning``) when the paths look
like the first world.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ml.attribution.heuristics import (
    DEFAULT_HALF_LIFE_STEPS,
    DEFAULT_POSITION_WEIGHTS,
    HEURISTIC_MODELS,
    flatten,
    heuristic_credits,
)
from ml.attribution.markov import MarkovResult, build_chain, markov_attribution
from ml.attribution.paths import (
    PathData,
    PathDataError,
    aggregate_paths,
    paths_from_frame,
    paths_from_journeys,
    read_paths_csv,
    split_path,
)
from ml.attribution.shapley import SHAPLEY_GAMES, AttributionFitWarning, shapley_credits

MODELS = (*HEURISTIC_MODELS, "markov", "shapley")
RESULT_COLUMNS = ["channel", "model", "conversions", "value"]

__all__ = [
    "AttributionFitWarning",
    "HEURISTIC_MODELS",
    "MODELS",
    "RESULT_COLUMNS",
    "SHAPLEY_GAMES",
    "MarkovResult",
    "PathData",
    "PathDataError",
    "aggregate_paths",
    "attribute",
    "build_chain",
    "heuristic_credits",
    "markov_attribution",
    "parse_models",
    "paths_from_frame",
    "paths_from_journeys",
    "read_paths_csv",
    "shapley_credits",
    "split_path",
]


def parse_models(models: Iterable[str] | str | None) -> tuple[str, ...]:
    """``None`` -> every model; names may also come comma-separated. Unknown names are an error."""
    if models is None:
        return MODELS
    names = [models] if isinstance(models, str) else list(models)
    picked: list[str] = []
    for name in (n.strip() for item in names for n in item.split(",")):
        if not name:
            continue
        if name not in MODELS:
            raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
        if name not in picked:
            picked.append(name)
    if not picked:
        raise ValueError(f"no model given; choose from {', '.join(MODELS)}")
    return tuple(m for m in MODELS if m in picked)


def attribute(
    data: PathData,
    models: Iterable[str] | str | None = None,
    *,
    order: int = 1,
    seed: int = 0,
    markov_method: str = "exact",
    max_steps: int | None = None,
    n_simulations: int = 100_000,
    shapley_game: str = "incremental",
    half_life_steps: float = DEFAULT_HALF_LIFE_STEPS,
    position_weights: tuple[float, float] = DEFAULT_POSITION_WEIGHTS,
) -> pd.DataFrame:
    """Credits of every channel under each model: one row per (channel, model), models in ``MODELS``
    order, channels sorted. ``order``, ``markov_method``, ``max_steps`` and ``n_simulations`` go to the
    Markov model, ``shapley_game`` to the Shapley model; ``seed`` fixes the only randomness there is
    (Markov simulation, Shapley permutation sampling of journeys with many channels)."""
    picked = parse_models(models)
    channels = data.channels
    touches = flatten(data) if any(m in HEURISTIC_MODELS for m in picked) else None
    frames = []
    for model in picked:
        if model in HEURISTIC_MODELS:
            conv, value = heuristic_credits(
                data, model, half_life_steps=half_life_steps, position_weights=position_weights, touches=touches
            )
        elif model == "markov":
            res = markov_attribution(
                data, order, method=markov_method, max_steps=max_steps, n_simulations=n_simulations, seed=seed
            )
            conv, value = res.conversions, res.value
        else:
            conv, value = shapley_credits(data, shapley_game, seed=seed)
        frames.append(pd.DataFrame({"channel": channels, "model": model, "conversions": conv, "value": value}))
    return pd.concat(frames, ignore_index=True)[RESULT_COLUMNS]
