"""``/v1/experiments``: the A/B tests run on the workspace's boosts, each with its variants, effect, interval,
p-value, planned sample and call (running, inconclusive, winner).

The experimentation export names no account; an experiment belongs to the accounts with a boost in flight during
it (``account_experiments`` in defs/analysis/experiments.py), and a workspace sees the experiments of its own
accounts, each once, with those of its accounts it ran on (never another workspace's).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from analytics_assets.contracts.serving import EXPERIMENTS
from api.auth import Principal, Reader
from api.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, paginate
from api.routes.common import DATA_ERRORS, OrganicPlatformParam, Store, build, snapshot_tag
from api.schemas import Rate
from api.store import ServingStore

router = APIRouter(tags=["experiments"])

Status = Literal["running", "inconclusive", "winner"]
Factor = Literal["boost_timing", "budget", "targeting", "creative"]


class Variant(BaseModel):
    variant: str | None = Field(examples=["short_video"])
    role: Literal["control", "treatment"]
    units: int = Field(description="Units exposed to the variant so far.")
    mean: Rate | None = Field(description="Mean outcome per unit over the tested units (a rate for a 0/1 metric).")


class ExperimentAccount(BaseModel):
    platform: str = Field(examples=["linkedin"])
    account_id: str = Field(examples=["urn:li:organization:1001"])
    boosts_in_window: int = Field(description="The account's boosts in flight during the experiment.")


class Experiment(BaseModel):
    experiment_id: str = Field(examples=["exp_20261003_creative"])
    experiment_name: str | None = Field(examples=["creative: short_video vs static_image"])
    factor: str = Field(description="What the test varies: boost_timing, budget, targeting or creative.",
                        examples=["creative"])
    metric: str = Field(examples=["watch_seconds"])
    metric_kind: str = Field(description="binary (0/1 per unit) or continuous.")
    start_date: date
    end_date: date
    variants: list[Variant] = Field(description="Control first, then treatment.")
    decision_rule: str = Field(description="fixed_horizon (call only at the planned sample) or sequential (mSPRT).")
    test: str = Field(description="two_proportion_z or welch_t.")
    alpha: Rate
    mde: Rate | None = Field(description="Minimum detectable effect the test was planned for (absolute).")
    required_n_per_arm: int | None
    n_tested_per_arm: int | None = Field(description="Units per arm the reported test used.")
    effect: Rate | None = Field(description="Treatment mean - control mean (absolute, in the metric's unit).")
    ci_low: Rate | None = Field(description="Lower bound of the effect's interval at 1 - alpha.")
    ci_high: Rate | None
    p_value: float | None
    always_valid_p_value: float | None = Field(description="mSPRT p-value, valid at every daily look.")
    status: Status
    winner: str | None = Field(description="The winning variant; null unless status is winner.")
    reason: str | None = Field(description="Why this call, in words.")
    accounts: list[ExperimentAccount] = Field(description="The workspace's accounts it ran on.")


class ExperimentPage(BaseModel):
    items: list[Experiment]
    next_cursor: str | None
    total: int


_EXPERIMENTS_SQL = """
SELECT * FROM src
WHERE experiment_id IS NOT NULL
  AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
  AND (CAST($account AS VARCHAR) IS NULL OR account_id = CAST($account AS VARCHAR))
  AND (CAST($status AS VARCHAR) IS NULL OR status = CAST($status AS VARCHAR))
  AND (CAST($factor AS VARCHAR) IS NULL OR factor = CAST($factor AS VARCHAR))
  AND (CAST($experiment_id AS VARCHAR) IS NULL OR experiment_id = CAST($experiment_id AS VARCHAR))
ORDER BY start_date DESC, experiment_id, platform, account_id
"""


def _experiments(rows: list[dict[str, Any]]) -> list[Experiment]:
    """One experiment per id (the rows of its accounts, in order), newest first."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["experiment_id"]].append(row)
    out = []
    for rows_of in grouped.values():
        r = rows_of[0]
        variants = [
            {"variant": r.get("control_variant"), "role": "control", "units": r.get("n_control") or 0,
             "mean": r.get("control_mean")},
            {"variant": r.get("treatment_variant"), "role": "treatment", "units": r.get("n_treatment") or 0,
             "mean": r.get("treatment_mean")},
        ]
        accounts = [
            {"platform": a["platform"], "account_id": a["account_id"], "boosts_in_window": a.get("boosts_in_window") or 0}
            for a in rows_of
        ]
        data = {k: r.get(k) for k in Experiment.model_fields if k not in ("variants", "accounts")}
        out.append(build(Experiment, EXPERIMENTS, **data, variants=variants, accounts=accounts))
    return out


def _query(store: ServingStore, principal: Principal, **filters: Any) -> list[Experiment]:
    params = {"platform": None, "account": None, "status": None, "factor": None, "experiment_id": None, **filters}
    return _experiments(store.scoped_query(EXPERIMENTS, principal.accounts, _EXPERIMENTS_SQL, params))


@router.get("/experiments", response_model=ExperimentPage, responses=DATA_ERRORS, summary="The workspace's A/B tests")
def list_experiments(
    store: Store,
    principal: Reader,
    platform: OrganicPlatformParam = None,
    account: Annotated[str | None, Query(min_length=1, max_length=200, description="Only those this account boosted during.")] = None,
    status: Annotated[Status | None, Query(description="Only experiments with this call.")] = None,
    factor: Annotated[Factor | None, Query(description="Only experiments of this factor.")] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> ExperimentPage:
    """Every A/B test run on the workspace's boosts, newest first, with its call."""
    tag = snapshot_tag(store)
    items = _query(store, principal, platform=platform.value if platform else None, account=account,
                   status=status, factor=factor)
    page, next_cursor = paginate(items, limit, cursor, tag)
    return ExperimentPage(items=page, next_cursor=next_cursor, total=len(items))


@router.get("/experiments/{experiment_id}", response_model=Experiment, responses=DATA_ERRORS, summary="One A/B test")
def get_experiment(
    store: Store,
    principal: Reader,
    experiment_id: Annotated[str, Path(min_length=1, max_length=200, description="The experiment's id.")],
) -> Experiment:
    """The experiment's variants, effect, interval, winner and status; 404 when none of the workspace's accounts
    boosted during it (or there is no such experiment)."""
    items = _query(store, principal, experiment_id=experiment_id)
    if not items:
        raise HTTPException(status_code=404, detail=f"No experiment {experiment_id} in this workspace.")
    return items[0]


__all__ = ["Experiment", "ExperimentAccount", "ExperimentPage", "Variant", "router"]
