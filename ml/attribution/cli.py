"""``cycle attribution PATHS.csv``: every channel's credit under every model, as CSV, outside the pipeline.

Also runs as ``python -m ml.attribution PATHS.csv``.
"""

from __future__ import annotations

import argparse
import sys

from ml.attribution import MODELS, SHAPLEY_GAMES, PathDataError, attribute, read_paths_csv
from ml.attribution.heuristics import DEFAULT_HALF_LIFE_STEPS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        help="CSV in ChannelAttribution's layout: path (channels separated by ' > '), total_conversions, "
        "total_conversion_value, total_null; '-' reads standard input",
    )
    parser.add_argument(
        "--model",
        action="append",
        metavar="MODEL",
        help=f"a model to run (repeat or comma-separate; default all): {', '.join(MODELS)}",
    )
    parser.add_argument("--order", type=int, default=1, help="Markov chain order (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--out", metavar="FILE", help="write the CSV here instead of standard output")
    parser.add_argument(
        "--markov-method",
        choices=["exact", "simulate"],
        default="exact",
        help="solve the absorbing chain exactly (default) or simulate journeys through it",
    )
    parser.add_argument(
        "--shapley-game",
        choices=SHAPLEY_GAMES,
        default="incremental",
        help="coalition value: conversions the journeys would make with only those channels (default), "
        "or conversions of the paths within the coalition",
    )
    parser.add_argument(
        "--half-life",
        type=float,
        default=DEFAULT_HALF_LIFE_STEPS,
        help=f"time-decay half-life in touches (default {DEFAULT_HALF_LIFE_STEPS:g})",
    )
    parser.add_argument("--sep", default=">", help="channel separator within a path (default '>')")


def run(args: argparse.Namespace, prog: str = "cycle attribution") -> int:
    try:
        data = read_paths_csv(sys.stdin if args.paths == "-" else args.paths, sep=args.sep)
        credits = attribute(
            data,
            args.model,
            order=args.order,
            seed=args.seed,
            markov_method=args.markov_method,
            shapley_game=args.shapley_game,
            half_life_steps=args.half_life,
        )
    except (PathDataError, ValueError, OSError) as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    if args.out:
        credits.to_csv(args.out, index=False)
    else:
        credits.to_csv(sys.stdout, index=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.attribution", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv), prog=parser.prog)


if __name__ == "__main__":
    sys.exit(main())
