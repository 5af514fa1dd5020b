"""``GET /v1/health`` (a read key: the snapshot's freshness, each served file checked against the manifest,
the quality gate, the assets' last materializations) and ``GET /v1/livez`` (no key: the status word only,
for load balancers and probes; nothing else is disclosed without a key)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from analytics_assets.contracts.serving import ASSET_STATUS, AUTOMATION_STATUS, MANIFEST
from api.auth import Reader
from api.routes.common import DATA_ERRORS, Store, build
from api.schemas import AssetStatus, AutomationStatus, HealthResponse, ServingFileStatus
from api.store import PUBLISH_HINT, ServingFileInvalid, ServingFileMissing

router = APIRouter(tags=["status"])


_AUTOMATION_SQL = """
SELECT CAST(name AS VARCHAR) AS name, CAST(kind AS VARCHAR) AS kind, CAST(status AS VARCHAR) AS status,
       CAST(cron_schedule AS VARCHAR) AS cron_schedule, CAST(last_tick_at AS TIMESTAMP) AS last_tick_at,
       CAST(last_tick_status AS VARCHAR) AS last_tick_status
FROM src WHERE name IS NOT NULL ORDER BY kind, name
"""


# the assets' last materializations with why one computed nothing (skip_reason: the engagement model before there is
# enough data, the posting slots before there is a model); a snapshot from before skip reasons has no such column
_ASSETS_SQL = """
SELECT CAST(asset_key AS VARCHAR) AS asset_key, CAST(last_materialized_at AS TIMESTAMP) AS last_materialized_at,
       CAST(last_partition AS VARCHAR) AS last_partition, CAST(run_id AS VARCHAR) AS run_id,
       CAST(skip_reason AS VARCHAR) AS skip_reason
FROM src
WHERE asset_key IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY asset_key ORDER BY last_materialized_at DESC NULLS LAST) = 1
ORDER BY asset_key
"""
_HAS_SKIP_REASON_SQL = "SELECT count(*) AS n FROM (DESCRIBE src) WHERE column_name = 'skip_reason'"


def _assets(store) -> list[AssetStatus]:
    """Each asset's last materialization, with its skip reason where the snapshot names one."""
    with_reason = store.query(ASSET_STATUS, _HAS_SKIP_REASON_SQL)[0]["n"] > 0
    rows = store.query(ASSET_STATUS, _ASSETS_SQL) if with_reason else store.asset_status()
    return [build(AssetStatus, ASSET_STATUS, **row) for row in rows]


def _automation(store) -> list[AutomationStatus]:
    """The schedules and sensors as published with the snapshot; none from a publisher that predates them."""
    try:
        return [build(AutomationStatus, AUTOMATION_STATUS, **row) for row in store.query(AUTOMATION_STATUS, _AUTOMATION_SQL)]
    except (ServingFileMissing, ServingFileInvalid):
        return []


def _hours(age: timedelta) -> str:
    return f"{age.total_seconds() / 3600:.1f} h"


@router.get(
    "/health",
    response_model=HealthResponse,
    tags=["status"],
    summary="Serving snapshot status and last materialization per asset",
    responses={code: DATA_ERRORS[code] for code in (401, 403, 422, 429)},  # never 404/503: it reports them
)
def health(request: Request, store: Store, principal: Reader) -> HealthResponse:
    """Always 200. `status` is `no_data` until the serving snapshot has been published, and `degraded`
    when a served file is missing, unreadable or not the one the manifest names (size, SHA-256, rows),
    or when the snapshot is older than its freshness limit; `detail` says why, `file_checks` per file."""
    now: Callable[[], datetime] = request.app.state.now
    max_snapshot_age: timedelta | None = request.app.state.max_snapshot_age
    status, published_at, files = "ok", None, {}
    problems: list[str] = []
    checks: list[ServingFileStatus] = []
    age: timedelta | None = None
    try:
        manifest, file_checks = store.check_files()
        published_at, files = manifest.published_at, manifest.files
        checks = [
            ServingFileStatus(name=c.name, status=c.status, rows=c.rows, bytes=c.size, sha256=c.sha256,
                              detail=c.detail)
            for c in file_checks
        ]
        problems += [f"{c.name}: {c.detail}" for c in file_checks if c.broken]
        if published_at is None:
            problems.append(f"{MANIFEST} has no published_at: the snapshot's age is unknown")
        else:
            age = now() - published_at
            if max_snapshot_age is not None and age > max_snapshot_age:
                problems.append(
                    f"the serving snapshot is stale: published {_hours(age)} ago, more than its freshness "
                    f"limit of {_hours(max_snapshot_age)}. {PUBLISH_HINT}"
                )
    except ServingFileMissing:
        status = "no_data"
        problems.append(f"No serving snapshot published yet. {PUBLISH_HINT}")
    except ServingFileInvalid as exc:
        problems.append(str(exc))

    assets: list[AssetStatus] = []
    try:
        assets = _assets(store)
    except (ServingFileMissing, ServingFileInvalid) as exc:
        if status == "ok" and not any(p.startswith(f"{ASSET_STATUS}:") for p in problems):
            problems.append(str(exc))

    gate = store.quality_gate()
    if gate is not None and gate.get("status") != "passed":
        failed = [str(c) for c in gate.get("failed_checks") or []]
        problems.append(
            f"quality gate {gate.get('status')} at {gate.get('checked_at')}: {len(failed)} blocking check(s) "
            f"failed ({'; '.join(failed[:3])}{'; ...' if len(failed) > 3 else ''}), so the snapshot published "
            f"at {gate.get('serving_published_at')} is still served"
        )
    automation = _automation(store)
    for job in automation:  # a running schedule or sensor whose last evaluation failed needs a look
        if job.status == "running" and job.last_tick_status == "failure":
            problems.append(f"{job.kind} {job.name}: its last tick failed at {job.last_tick_at}")
    if problems and status == "ok":
        status = "degraded"
    return HealthResponse(
        status=status, published_at=published_at, files=files, assets=assets, automation=automation,
        detail="; ".join(problems) if problems else None,
        age_seconds=None if age is None else age.total_seconds(),
        max_age_seconds=None if max_snapshot_age is None else max_snapshot_age.total_seconds(),
        file_checks=checks,
        quality_gate=gate,
    )


class LiveResponse(BaseModel):
    status: Literal["ok", "no_data", "degraded"]


@router.get("/livez", response_model=LiveResponse, summary="Liveness and data status, without a key")
def livez(request: Request, store: Store) -> LiveResponse:
    """The status word of `/v1/health` and nothing else: for probes that hold no key."""
    try:
        manifest, checks = store.check_files()
    except ServingFileMissing:
        return LiveResponse(status="no_data")
    except ServingFileInvalid:
        return LiveResponse(status="degraded")
    broken = any(c.broken for c in checks)
    age = None if manifest.published_at is None else request.app.state.now() - manifest.published_at
    limit: timedelta | None = request.app.state.max_snapshot_age
    stale = age is None or (limit is not None and age > limit)
    gate = store.quality_gate()
    failed_gate = gate is not None and gate.get("status") != "passed"
    return LiveResponse(status="degraded" if broken or stale or failed_gate else "ok")
