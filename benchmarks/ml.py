"""The ML benchmarks, one section per model, each measured against its baselines and goal in the same run on the
simulator's planted truth (``make benchmark-ml``).

    python -m benchmarks.ml                  # every section
    python -m benchmarks.ml drift            # the named sections only
    python -m benchmarks.ml drift --drift-seeds 3

A section is a module of this package with ``add_arguments(parser)`` (its options, prefixed with its name) and
``run(args) -> bool`` (prints its figures beside their baselines and goal; True when the goal is met). Add one
by adding its module name to SECTIONS. The exit status is 1 when any section misses its goal.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SECTIONS = ("anomalies", "budget", "drift", "forecasts")


def _module(section: str):
    return importlib.import_module(f"benchmarks.{section}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sections", nargs="*", choices=[[], *SECTIONS], default=[], metavar="SECTION",
                    help=f"sections to run (default: all of {', '.join(SECTIONS)})")
    for section in SECTIONS:
        _module(section).add_arguments(ap.add_argument_group(section))
    args = ap.parse_args(argv)
    chosen = args.sections or list(SECTIONS)
    met = {section: _module(section).run(args) for section in chosen}
    print("\n== summary: " + ", ".join(f"{s} {'met' if ok else 'NOT met'}" for s, ok in met.items()))
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
