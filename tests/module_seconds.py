"""Seconds each test module took (setup, calls and teardown) in a full run, so ``make test`` can start the
longest modules first.

``make test`` spreads whole modules over two workers (``--dist loadfile --no-loadscope-reorder``) in the order
``conftest.pytest_collection_modifyitems`` gives them: longest first, which keeps both workers busy to the end
(the longest-processing-time rule) instead of one running the last long module alone. Without figures the order
would be a guess; these come from a measured run and only steer the order, never a result. Refresh them after
adding or changing a long module: ``make test-timings`` (writes ``tests/module_seconds.json`` from the run's
JUnit report).

    python tests/module_seconds.py REPORT.xml   # rewrite tests/module_seconds.json from a JUnit report
"""

from __future__ import annotations

import collections
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

FIGURES = Path(__file__).with_name("module_seconds.json")
UNKNOWN_SLOW = 60.0  # a module missing from the figures that holds a slow test: assume it is long
UNKNOWN = 1.0


def load() -> dict[str, float]:
    """Seconds per module path (relative to the repository, e.g. ``tests/test_cli.py``); empty without figures."""
    try:
        return {str(k): float(v) for k, v in json.loads(FIGURES.read_text()).items()}
    except (FileNotFoundError, ValueError):
        return {}


def from_junit(report: Path) -> dict[str, float]:
    seconds: collections.Counter[str] = collections.Counter()
    for case in ET.parse(report).iter("testcase"):
        module = case.get("file") or case.get("classname", "").replace(".", "/") + ".py"
        seconds[module] += float(case.get("time") or 0.0)
    return {module: round(s, 1) for module, s in sorted(seconds.items())}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    figures = from_junit(Path(argv[0]))
    if not figures:
        print(f"no test cases in {argv[0]}", file=sys.stderr)
        return 1
    FIGURES.write_text(json.dumps(figures, indent=1) + "\n")
    print(f"{FIGURES}: {len(figures)} modules, {sum(figures.values()) / 60:.1f} min in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
