"""Proposal tables carry a kind's run to the one writer of ml.ml_recommendations: merged, a rerun of the same
proposals changes no promise, a new run supersedes what it dropped (an empty run too), and a kind never touches
another kind's recommendations."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pandas as pd

from analytics_assets.contracts.recommendations import RECOMMENDATION_COLUMNS, RECOMMENDATIONS_TABLE, recommendation_id
from analytics_assets.defs.loop.proposals import PROPOSAL_COLUMNS, contract_violations, merge_proposals, read_proposals, write_proposals
from analytics_assets.storage.recommendations import merge_generation

T0 = datetime(2026, 10, 15)
TABLE = "ml.content_recommendation_proposals"


def _row(kind: str, target: str, value: float = 100.0, **over) -> dict:
    row = {
        "recommendation_id": recommendation_id(kind, "x", "acct", "content" if kind == "content" else "slot", target, "from 2026-10-15"),
        "kind": kind, "platform": "x", "account_id": "acct", "target_type": "content" if kind == "content" else "slot",
        "target_id": target, "action": f"do {target}", "action_fields": "{}", "slot_start": None,
        "expected_metric": "engagement_score_7d", "expected_value": value, "expected_low": value / 2,
        "expected_high": value * 2, "baseline_value": 80.0, "confidence": 0.9, "propensity": 1.0, "policy": "ranked",
        "model_name": "m", "model_version": "1", "sample_size": 10, "evidence": "because", "expires_at": T0 + timedelta(days=7),
    }
    return {**row, **over}


def _table(con) -> pd.DataFrame:
    return con.execute(f"select * from {RECOMMENDATIONS_TABLE} order by recommendation_id").df()


def test_proposals_merge_once_rerun_idempotently_and_supersede_what_a_later_run_drops():
    con = duckdb.connect()
    assert merge_proposals(con, TABLE, ("content",), T0) is None  # the proposing asset never ran: nothing to do
    slot = pd.DataFrame([_row("posting_slot", "2026-10-16#0", policy="greedy")])
    merge_generation(con, slot, ("posting_slot",), T0, T0)
    first = pd.DataFrame([_row("content", "x:acct:hook_type=story"), _row("content", "x:acct:media_type=video")])
    assert contract_violations(first) == {k: 0 for k in contract_violations(first)}
    write_proposals(con, TABLE, first, T0, T0)
    proposed, proposed_at, replaces_from = read_proposals(con, TABLE)
    assert list(proposed.columns) == list(PROPOSAL_COLUMNS) and len(proposed) == 2 and proposed_at == replaces_from == T0
    n, merged = merge_proposals(con, TABLE, ("content",), T0)
    assert n == 2 and merged.created == 2
    before = _table(con)
    assert list(before.columns) == list(RECOMMENDATION_COLUMNS)

    # the same proposals again, with other numbers: same ids, the first promise kept
    write_proposals(con, TABLE, pd.DataFrame([_row("content", "x:acct:hook_type=story", 999.0), _row("content", "x:acct:media_type=video")]), T0, T0)
    _, again = merge_proposals(con, TABLE, ("content",), T0 + timedelta(hours=1))
    assert (again.created, again.confirmed, again.superseded) == (0, 2, 0)
    after = _table(con)
    pd.testing.assert_frame_equal(before.drop(columns="last_generated_at"), after.drop(columns="last_generated_at"))

    # a run that proposes nothing supersedes the content recommendations still actionable, never the slot
    write_proposals(con, TABLE, pd.DataFrame(columns=list(PROPOSAL_COLUMNS)), T0 + timedelta(days=1), T0 + timedelta(days=1))
    n, emptied = merge_proposals(con, TABLE, ("content",), T0 + timedelta(days=1))
    assert n == 0 and emptied.superseded == 2
    final = _table(con).set_index("kind")
    assert final.loc["content", "superseded_at"].notna().all() and pd.isna(final.loc["posting_slot", "superseded_at"])


def test_contract_violations_name_each_broken_rule():
    bad = pd.DataFrame(
        [
            _row("content", "a", expected_low=500.0),  # interval above its expected value
            _row("content", "b", propensity=0.0, account_id=None),
            _row("content", "c", evidence=""),
        ]
    )
    v = contract_violations(bad)
    assert v["interval_not_bracketing_expected_value"] == 1 and v["propensity_outside_0_1"] == 1
    assert v["without_account"] == 1 and v["without_evidence"] == 1 and v["repeated_id"] == 0
