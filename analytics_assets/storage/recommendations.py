"""Writes a run's recommendations into ``ml.ml_recommendations`` (contracts.recommendations) without ever
changing a promise.

A run proposes recommendations of some kinds. In one transaction:
- ids the table does not hold yet are inserted with their promise (``created_at`` = the run's time);
- ids it holds already keep their promise and only record the run (``last_generated_at``), and lose a
  ``superseded_at`` a later run had set (the same recommendation is current again);
- current ids of the same kinds that the run no longer proposes and that can still be acted on
  (``expires_at`` after ``replaces_from``) are marked ``superseded_at``. Older ones are left to expire.

So a rerun on the same inputs changes nothing but ``last_generated_at``, and outcomes are always measured
against what was promised when the id was first made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from analytics_assets.contracts.recommendations import RECOMMENDATION_COLUMNS, RECOMMENDATIONS_TABLE
from analytics_assets.storage.warehouse import registered, transaction

GENERATION_COLUMNS = ("created_at", "last_generated_at", "superseded_at")


@dataclass(frozen=True)
class MergeResult:
    created: int  # new ids
    confirmed: int  # ids made again
    superseded: int  # current ids the run dropped


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    schema = RECOMMENDATIONS_TABLE.split(".", 1)[0]
    con.execute(f"create schema if not exists {schema}")
    columns = ", ".join(f"{c} {t}" for c, t in RECOMMENDATION_COLUMNS.items())
    con.execute(f"create table if not exists {RECOMMENDATIONS_TABLE} ({columns}, primary key (recommendation_id))")


def merge_generation(
    con: duckdb.DuckDBPyConnection,
    proposed: pd.DataFrame,
    kinds: Sequence[str],
    generated_at: datetime,
    replaces_from: datetime,
) -> MergeResult:
    """Merge one run's ``proposed`` recommendations of ``kinds`` (every contract column but the generation
    columns, which are set here) into the table; see the module docstring."""
    missing = [c for c in RECOMMENDATION_COLUMNS if c not in GENERATION_COLUMNS and c not in proposed.columns]
    if missing:
        raise ValueError(f"proposed recommendations lack contract columns: {missing}")
    foreign = sorted(set(proposed["kind"]) - set(kinds))
    if foreign:
        raise ValueError(f"proposed recommendations of kinds {foreign} outside this run's kinds {list(kinds)}")
    if proposed["recommendation_id"].duplicated().any():
        raise ValueError("proposed recommendations repeat an id")
    ensure_table(con)
    incoming = proposed.assign(created_at=generated_at, last_generated_at=generated_at, superseded_at=pd.NaT)
    select = ", ".join(f"cast({c} as {t}) as {c}" for c, t in RECOMMENDATION_COLUMNS.items())
    kind_list = ", ".join(f"'{k}'" for k in kinds)  # kinds come from the contract's KINDS, never from users
    with transaction(con), registered(con, "_proposed", incoming):
        confirmed = con.execute(
            f"""update {RECOMMENDATIONS_TABLE} t set last_generated_at = ?, superseded_at = null
                from _proposed p where t.recommendation_id = p.recommendation_id""",
            [generated_at],
        ).fetchone()[0]
        created = con.execute(
            f"""insert into {RECOMMENDATIONS_TABLE} ({', '.join(RECOMMENDATION_COLUMNS)})
                select {select} from _proposed
                where recommendation_id not in (select recommendation_id from {RECOMMENDATIONS_TABLE})"""
        ).fetchone()[0]
        superseded = con.execute(
            f"""update {RECOMMENDATIONS_TABLE} set superseded_at = ?
                where kind in ({kind_list}) and superseded_at is null and expires_at > ?
                  and recommendation_id not in (select recommendation_id from _proposed)""",
            [generated_at, replaces_from],
        ).fetchone()[0]
    return MergeResult(created=int(created), confirmed=int(confirmed), superseded=int(superseded))
