"""Issue 16's goals, stated once for every scale benchmark (``scale``, ``raw_day``, ``day_graph``, ``dbt_window``),
and how a figure is judged against them."""

from __future__ import annotations

GOALS = {
    "dbt_vs_hand": 1.3,  # the dbt chain within 1.3x of tuned hand-written DuckDB
    "others_vs_dbt": 5.0,  # at least 5x faster than pandas and PostgreSQL (at 50M rows)
    "new_day_365_vs_30": 1.2,  # one new day at 365 days of history at most 1.2x the same day at 30 days
    "peak_gb": 4.0,  # peak memory of every step (at 50,000 posts a day)
    "new_day_s": 300.0,  # the whole graph for one day (at 50,000 posts a day)
}
GOAL_POSTS_PER_DAY = 50_000
GOAL_SNAPSHOT_ROWS = 50_000_000


def verdict(ok: bool, judged: bool = True) -> str:
    """PASS/MISS where the goal is stated for this size; a goal set for 50M rows or 50,000 posts a day is not
    judged on a smaller run (fixed costs dominate there)."""
    if not judged:
        return "not judged at this size"
    return "PASS" if ok else "MISS"
