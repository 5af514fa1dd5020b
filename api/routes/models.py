"""``GET /v1/models``: the engagement model's health, from ``model_health.parquet`` (``contracts.serving``): its recent
retrains (champion, challenger, retired) with the promotion gate's figures, decision and reason, the champion's live
accuracy against its holdout error with the ratios that warn and ask for a retrain, and the newest drift day's
per-column scores with its verdict.

Models are global, not any account's: like ``/v1/health``'s assets, the answer is the same for every read key,
with one exception. The post counts (holdout, shadow and live window posts, the drift windows' sizes), the gate's
reasons, which quote them, and the drift report page (distributions of every workspace's posts) total the posts of
every workspace: they go only to a key whose workspace owns every served account, as a platform's total does
(``api/routes/series.py``); for any other key they are null and ``withheld`` names them."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from analytics_assets.contracts.access import Account
from analytics_assets.contracts.serving import (
    ACCOUNTS,
    ASSET_STATUS,
    DRIFT_REPORT,
    DRIFT_SECTION,
    LIVE_SECTION,
    MODEL_HEALTH,
    MODEL_HEALTH_COLUMNS,
    MODEL_HEALTH_POST_COUNTS,
    VERSION_SECTION,
)
from api.auth import Principal, Reader
from api.routes.common import DATA_ERRORS, Store, build
from api.store import ServingFileInvalid, ServingFileMissing, ServingStore

router = APIRouter(tags=["status"])

WITHHELD = (*MODEL_HEALTH_POST_COUNTS, "reason", "drift_report")
SIGNIFICANT_DIGITS = 4

# every column of the contract, cast to its type: a missing column is the file's fault (503), not a 500
_SQL = (
    "SELECT " + ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in MODEL_HEALTH_COLUMNS.items())
    + " FROM src WHERE section IS NOT NULL ORDER BY section, trained_at DESC NULLS LAST, model_version, column_name"
)
_SKIP_REASON_SQL = """
SELECT CAST(skip_reason AS VARCHAR) AS skip_reason FROM src
WHERE asset_key = 'engagement_model' AND skip_reason IS NOT NULL
ORDER BY last_materialized_at DESC NULLS LAST LIMIT 1
"""
_ACCOUNTS_SQL = "SELECT DISTINCT CAST(platform AS VARCHAR) AS platform, CAST(account_id AS VARCHAR) AS account_id FROM src"


class ModelVersion(BaseModel):
    model_name: str | None = None
    model_version: str
    role: Literal["champion", "challenger", "retired"]
    trained_at: datetime | None = Field(None, description="When its training run recorded it (UTC).")
    decision: Literal["promoted", "kept"] | None = None
    reason: str | None = Field(None, description="The promotion gate's reason (withheld: it quotes post counts).")
    compared_with: str | None = Field(None, description="The champion version it was compared with.")
    holdout_posts: int | None = None
    holdout_rmse_log: float | None = Field(None, description="RMSE of log1p(engagement score) on its holdout posts.")
    holdout_mae: float | None = Field(None, description="Mean absolute error in engagement score units.")
    champion_holdout_rmse_log: float | None = Field(None, description="The champion's, on the same posts.")
    champion_holdout_mae: float | None = None
    holdout_improvement: float | None = Field(
        None, description="1 - holdout_rmse_log / champion_holdout_rmse_log (0.05: 5% below the champion's error).")
    shadow_posts: int | None = Field(None, description="Posts neither model saw.")
    shadow_rmse_log: float | None = Field(None, description="Null when too few posts to decide on.")
    shadow_mae: float | None = None
    champion_shadow_rmse_log: float | None = None
    champion_shadow_mae: float | None = None
    promotion_margin: float | None = Field(None, description="The relative gain on every set a promotion needs.")


class LiveAccuracy(BaseModel):
    model_name: str | None = None
    model_version: str
    as_of_date: date | None = None
    window_start: date | None = None
    window_end: date | None = None
    window_posts: int | None = None
    posts_since_training: int | None = None
    live_rmse_log: float | None = None
    live_mae: float | None = None
    holdout_rmse_log: float | None = None
    error_ratio: float | None = Field(None, description="live_rmse_log / holdout_rmse_log.")
    status: str = Field(description="ok | warn | retrain | insufficient_data")
    warn_ratio: float | None = None
    retrain_ratio: float | None = None


class DriftColumn(BaseModel):
    column: str
    test: str | None = None
    score: float | None = Field(None, description="The test's p-value: drift below the threshold.")
    threshold: float | None = None
    drifted: bool


class Drift(BaseModel):
    day: date
    model_version: str | None = Field(None, description="The champion whose training window is the reference.")
    drift_share: float | None = None
    drift_share_threshold: float | None = None
    dataset_drift: bool | None = None
    reference_start: date | None = None
    reference_end: date | None = None
    n_reference: int | None = None
    n_current: int | None = None
    columns: list[DriftColumn]
    report_available: bool = Field(description="Evidently's page of the day is served to this key (dashboard).")


class ModelHealthResponse(BaseModel):
    full_view: bool = Field(description="The key's workspace owns every served account: nothing is withheld.")
    withheld: list[str] = Field(description="Fields left null for this key: they total every workspace's posts.")
    versions: list[ModelVersion] = Field(description="The newest retrains first (and the champion, however old).")
    live_accuracy: LiveAccuracy | None = None
    drift: Drift | None = None
    detail: str | None = Field(None, description="Why a part is empty (nothing trained or evaluated yet).")


def _sig(value: Any) -> Any:
    """Floats to SIGNIFICANT_DIGITS significant digits (p-values span many decades: not to fixed decimals)."""
    if isinstance(value, float) and math.isfinite(value) and value != 0.0:
        return round(value, SIGNIFICANT_DIGITS - 1 - int(math.floor(math.log10(abs(value)))))
    return value


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _sig(v) for k, v in row.items()}


def owns_every_account(store: ServingStore, principal: Principal) -> bool:
    """Whether the key's workspace owns every account of the snapshot (no other workspace's posts are in it)."""
    try:
        served = store.query(ACCOUNTS, _ACCOUNTS_SQL)
    except (ServingFileMissing, ServingFileInvalid):
        return False
    return bool(served) and all(Account(r["platform"], r["account_id"]) in principal.accounts for r in served)


def _skip_reason(store: ServingStore) -> str | None:
    try:
        found = store.query(ASSET_STATUS, _SKIP_REASON_SQL)
    except (ServingFileMissing, ServingFileInvalid):  # an older snapshot without skip reasons: none to quote
        return None
    return found[0]["skip_reason"] if found else None


def model_health(store: ServingStore, principal: Principal) -> ModelHealthResponse:
    """The handler behind ``/v1/models`` (and the dashboard's model health page)."""
    try:
        rows = store.query(MODEL_HEALTH, _SQL)
    except ServingFileMissing:  # a snapshot published before the file existed: nothing to say yet, and why
        rows, unpublished = [], True
    else:
        unpublished = False
    full = owns_every_account(store, principal)
    withheld = [] if full else list(WITHHELD)
    if not full:
        rows = [{k: (None if k in withheld else v) for k, v in r.items()} for r in rows]
    versions = []
    for r in (r for r in rows if r["section"] == VERSION_SECTION):
        champion_error = r["champion_holdout_rmse_log"]
        improvement = (1.0 - r["holdout_rmse_log"] / champion_error
                       if r["holdout_rmse_log"] is not None and champion_error else None)
        fields = {k: r[k] for k in ModelVersion.model_fields if k in r}
        versions.append(build(ModelVersion, MODEL_HEALTH, **_rounded({**fields, "holdout_improvement": improvement})))
    versions.sort(key=lambda v: (v.trained_at is None, -(v.trained_at.timestamp() if v.trained_at else 0)))
    live_rows = [r for r in rows if r["section"] == LIVE_SECTION]
    live = None
    if live_rows:
        r = live_rows[0]
        live = build(LiveAccuracy, MODEL_HEALTH, **_rounded({k: r[k] for k in LiveAccuracy.model_fields if k in r}))
    drift_rows = [r for r in rows if r["section"] == DRIFT_SECTION]
    drift = None
    if drift_rows:
        first = drift_rows[0]
        summary = {k: first[k] for k in Drift.model_fields if k in first}
        columns = [build(DriftColumn, MODEL_HEALTH, column=r["column_name"], test=r["test"], score=_sig(r["score"]),
                         threshold=r["threshold"], drifted=r["drifted"]) for r in drift_rows]
        drift = build(Drift, MODEL_HEALTH, **_rounded(summary), day=first["drift_day"], columns=columns,
                      report_available=full and first["report_file"] == DRIFT_REPORT)
    missing = []
    if unpublished:
        missing.append(f"This snapshot holds no {MODEL_HEALTH} (published before it): re-materialize the "
                       "serving_snapshot asset to publish the models' health.")
    elif not versions:
        why = _skip_reason(store)
        missing.append("No engagement model has been trained yet" + (f": {why}" if why else "") + ".")
    elif live is None:
        missing.append("The champion's live accuracy has not been evaluated yet (ml_champion_live_accuracy).")
    if drift is None and not unpublished:
        missing.append("No drift report yet: ml_feature_drift compares each new day with the champion's training "
                       "window once there is a champion.")
    return ModelHealthResponse(full_view=full, withheld=withheld, versions=versions, live_accuracy=live, drift=drift,
                               detail=" ".join(missing) or None)


@router.get(
    "/models",
    response_model=ModelHealthResponse,
    responses=DATA_ERRORS,
    summary="The engagement model's retrains, live accuracy and drift",
)
def get_models(store: Store, principal: Reader) -> ModelHealthResponse:
    """The engagement model's newest retrains (champion, challenger, retired) with the promotion gate's figures on
    the same holdout and shadow posts, its decision and reason; the champion's live error against its holdout
    error (a ratio of 1.2 warns, 1.5 asks for a retrain); and the newest drift day's per-column test scores against
    the champion's training window. Errors are RMSE of log1p(engagement score), the scale the gate decides on, with
    MAE in score units beside it; figures to 4 significant digits. Before a model is trained or drift is computed
    (or in a snapshot published before model health was), the part is empty and `detail` says why."""
    return model_health(store, principal)
