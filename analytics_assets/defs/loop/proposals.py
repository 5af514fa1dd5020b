"""Proposal tables: a kind's recommendations of its latest run, waiting to be merged into ``ml.ml_recommendations``.

Only one asset can be ``ml_recommendations`` (the dbt source of the loop models maps onto it), so the kinds
computed outside the posting policy (content, boost) write their run's contract rows to a proposal table of
their own, and the posting policy's ``ml_recommendations`` step merges every kind in one place, each with
``storage.recommendations.merge_generation`` and its own ``replaces_from``. A proposal table holds the contract
columns but the generation ones, plus:

- ``generated_at``: when the proposing run computed it (a run time, like the provenance column of the other ML tables);
- ``replaces_from``: the earliest expiry a recommendation of this kind must have to be superseded when the run
  no longer makes it (older ones are left to expire).

A run that proposes nothing writes one row with a null ``recommendation_id`` and its times only, so that the
merge still supersedes what that run no longer makes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import dagster as dg
import duckdb
import pandas as pd

from analytics_assets.contracts.recommendations import KINDS, POLICIES, RECOMMENDATION_COLUMNS, TARGET_TYPES
from analytics_assets.storage.recommendations import GENERATION_COLUMNS, MergeResult, merge_generation
from analytics_assets.storage.warehouse import replace_tables

PROPOSAL_COLUMNS = {c: t for c, t in RECOMMENDATION_COLUMNS.items() if c not in GENERATION_COLUMNS}
RUN_COLUMNS = {"generated_at": "TIMESTAMP", "replaces_from": "TIMESTAMP"}


CONTRACT_CHECK = "every_proposal_passes_the_contract"


def contract_check_spec(asset: str) -> dg.AssetCheckSpec:
    """The check every proposing asset runs on the rows it wrote (``contract_check_result``)."""
    return dg.AssetCheckSpec(
        CONTRACT_CHECK,
        asset=asset,
        description="Intervals bracket the expected values, propensity in (0, 1], known kinds, an account, evidence",
    )


def contract_check_result(proposed: pd.DataFrame) -> dg.AssetCheckResult:
    violations = contract_violations(proposed)
    return dg.AssetCheckResult(
        check_name=CONTRACT_CHECK, passed=not any(violations.values()), metadata={"rows": len(proposed), **violations}
    )


def contract_violations(proposed: pd.DataFrame) -> dict[str, int]:
    """How many rows break each rule of the recommendation contract (all 0: every row passes)."""
    missing = sum(c not in proposed.columns for c in PROPOSAL_COLUMNS)
    if missing:
        return {"missing_contract_columns": missing}
    if proposed.empty:
        return {}
    low, value, high = proposed["expected_low"], proposed["expected_value"], proposed["expected_high"]
    return {
        "interval_not_bracketing_expected_value": int((~((low <= value + 1e-9) & (value <= high + 1e-9))).sum()),
        "propensity_outside_0_1": int((~proposed["propensity"].between(0, 1, inclusive="right")).sum()),
        "confidence_outside_0_1": int((~proposed["confidence"].between(0, 1)).sum()),
        "unknown_kind_target_or_policy": int(
            (~proposed["kind"].isin(KINDS) | ~proposed["target_type"].isin(TARGET_TYPES) | ~proposed["policy"].isin(POLICIES)).sum()
        ),
        "without_account": int((proposed["account_id"].isna() | proposed["platform"].isna()).sum()),
        "repeated_id": int(proposed["recommendation_id"].duplicated().sum()),
        "without_evidence": int((proposed["evidence"].fillna("").str.len() == 0).sum()),
    }


def write_proposals(
    con: duckdb.DuckDBPyConnection, table: str, proposed: pd.DataFrame, proposed_at: datetime, replaces_from: datetime
) -> None:
    """Replace ``table`` with this run's proposals (typed as the contract, also when there are none)."""
    frame = proposed.reindex(columns=list(PROPOSAL_COLUMNS)).assign(generated_at=proposed_at, replaces_from=replaces_from)
    if frame.empty:  # an empty run still records when it ran and what it replaces
        frame = pd.DataFrame([{c: None for c in PROPOSAL_COLUMNS} | {"generated_at": proposed_at, "replaces_from": replaces_from}])
        frame["recommendation_id"] = None
    casts = {**PROPOSAL_COLUMNS, **RUN_COLUMNS}
    replace_tables(con, {table: frame}, {table: casts})


def read_proposals(con: duckdb.DuckDBPyConnection, table: str) -> tuple[pd.DataFrame, datetime, datetime] | None:
    """The latest proposals in ``table`` with their run's times; None until the proposing asset first ran."""
    schema, name = table.split(".", 1)
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchone()[0]
    if not exists:
        return None
    frame = con.execute(f"select * from {table}").df()
    if frame.empty:
        return None
    proposed_at, replaces_from = frame["generated_at"].iloc[0], frame["replaces_from"].iloc[0]
    rows = frame[frame["recommendation_id"].notna()].drop(columns=list(RUN_COLUMNS)).reset_index(drop=True)
    return rows, pd.Timestamp(proposed_at).to_pydatetime(), pd.Timestamp(replaces_from).to_pydatetime()


def merge_proposals(
    con: duckdb.DuckDBPyConnection, table: str, kinds: Sequence[str], generated_at: datetime
) -> tuple[int, MergeResult] | None:
    """Merge the proposals of ``table`` (of ``kinds``) into ``ml.ml_recommendations``; None when there are none
    yet. Returns how many were proposed and what the merge did."""
    found = read_proposals(con, table)
    if found is None:
        return None
    rows, _, replaces_from = found
    return len(rows), merge_generation(con, rows, kinds, generated_at, replaces_from)
