"""FastAPI application of Cycle: read-only endpoints over the published serving snapshot.

Run with ``uvicorn api.main:app``. The serving directory comes from ``$CYCLE_SERVING_DIR``
(default ``$CYCLE_HOME/serving`` or ``./data/serving``); see :mod:`api.settings`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from analytics_assets.contracts.inbound import FeedbackStore, InsightAcknowledgementStore
from analytics_assets.contracts.serving import MAX_SNAPSHOT_AGE
from analytics_assets.settings import load_settings
from api import __version__
from api.audit import install as install_audit
from api.auth import access_control
from api.cache import install as install_cache
from api.dashboard import install as install_dashboard
from api.docs import install as install_docs
from api.graphql import install as install_graphql
from api.overview import router as overview_router
from api.routes import (
    accounts, attribution, boosts, campaigns, feedback, optimal_hours, posts, recommendations, rollups, status,
)
from api.routes import content, experiments, insights
from api.routes import privacy
from api.routes import events
from api.routes import anomalies, forecasts
from api.routes import models
from api.errors import describe
from api.settings import Settings
from api.store import ServingFileInvalid, ServingFileMissing, ServingStore
from api.webhooks import WebhookSettings
from api.webhooks import install as install_webhooks

DESCRIPTION = """
Cycle's API over its **serving snapshot**: Parquet files that the `serving_snapshot` Dagster asset
publishes atomically into `$CYCLE_SERVING_DIR` (default `data/serving/`). The API never opens the DuckDB
warehouse.

Every route under `/v1` needs an API key (`Authorization: Bearer cyk_...` or `X-API-Key: cyk_...`; create
one with `cycle keys create`). A key belongs to one workspace, which owns a set of accounts; it reads only
their rows. Without a key, only `/v1/livez` answers (with the status word alone) and these docs: Swagger UI
at `/v1/docs`, ReDoc at `/v1/redoc` and the schema at `/v1/openapi.json`, all served by the API itself, so
they work offline.

* `401`: missing, invalid or revoked key. `403`: the key lacks the route's scope.
* `404`: nothing of that id in the key's workspace (another workspace's id gets the same answer), or
  nothing published yet (run `make demo`).
* `409`: a decision on a recommendation that the other decision, its expiry or a newer run already closed.
* `422`: invalid parameter; the message lists the valid values.
* `429`: the key's rate limit is spent; `Retry-After` says when to retry.
* `503`: a published file is unreadable or does not follow the serving contract.

Lists are paginated with `limit` and `cursor` (`next_cursor` of the previous page). Money is rounded to
cents, rates and shares to 4 decimals. The unversioned paths of 0.1 (`/health`, `/optimal-hours`,
`/rollups/daily`, `/attribution`, `/overview`) answer like their `/v1` twins until 0.2.

`/webhooks/meta` and `/webhooks/linkedin` receive signed platform notifications: the HMAC is verified
(401 and nothing stored when it is missing or wrong) and the events are appended to the API's own
store, from which the pipeline loads them. They answer 503 while their secret is not configured.

All timestamps are UTC.
"""

async def _validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    detail = []
    for error in exc.errors():
        detail.append(
            {
                "loc": list(error.get("loc") or ()),
                "msg": describe(error, request.url.path),
                "type": error.get("type", "value_error"),
                "input": error.get("input"),
            }
        )
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(detail)})


async def _missing_handler(request: Request, exc: ServingFileMissing) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": str(exc)})


async def _invalid_handler(request: Request, exc: ServingFileInvalid) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": str(exc)})


async def _method_not_allowed_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """405 with every method of the path in ``Allow``: Starlette names only those of the first route that
    matches the path (GET of /webhooks/meta, whose POST is another route)."""
    methods = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        probe = {"type": "http", "method": method, "path": request.scope["path"],
                 "root_path": request.scope.get("root_path", ""), "headers": []}
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            methods.append(method)
    allow = ", ".join(methods) if methods else (exc.headers or {}).get("Allow", "")
    return JSONResponse(status_code=405, content={"detail": exc.detail}, headers={"Allow": allow})


# ---------------------------------------------------------------------------------------------------
# App
# ---------------------------------------------------------------------------------------------------


V1 = "/v1"
# the paths of 0.1, answered by the same handlers as their /v1 twins (deprecated; removed in 0.2)
ALIASES = ("/health", "/optimal-hours", "/rollups/daily", "/attribution", "/overview")
# routers whose answers are a function of the snapshot, the workspace's accounts, the path and the query alone:
# served from the response cache (api/cache.py); /health and /livez look at the disk and the clock, /accounts
# names the workspace, /recommendations applies the decisions in the API's store and the clock, /insights the
# acknowledgements in the API's store
CACHED = (
    optimal_hours.router, rollups.router, overview_router, attribution.router, campaigns.router, posts.router,
    boosts.router, experiments.router, content.router, anomalies.router, forecasts.router, models.router,
)
ROUTERS = (
    status.router,
    accounts.router,
    optimal_hours.router,
    recommendations.router,
    feedback.router,
    rollups.router,
    overview_router,
    attribution.router,
    campaigns.router,
    posts.router,
    boosts.router,
    insights.router,
    experiments.router,
    content.router,
    privacy.router,
    events.router,
    anomalies.router,
    forecasts.router,
    models.router,
)


def create_app(
    serving_dir: Path | None = None,
    webhook_store: Path | None = None,
    *,
    access_store: Path | None = None,
    rate_limit: str | None = None,
    max_snapshot_age: timedelta | None = MAX_SNAPSHOT_AGE,
    clock: Callable[[], datetime] | None = None,
    response_cache_mb: float | None = None,
) -> FastAPI:
    """Build the API. ``serving_dir`` overrides ``$CYCLE_SERVING_DIR``, ``webhook_store`` the API's inbound
    store ``$CYCLE_API_STORE`` (webhook events and audit records), ``access_store`` the workspaces and keys
    ``$CYCLE_ACCESS_STORE``, ``rate_limit`` the per-key limit ``$CYCLE_API_RATE_LIMIT``.
    ``response_cache_mb`` the response cache ``$CYCLE_API_CACHE_MB`` (0: off).
    ``max_snapshot_age`` is the freshness limit of the serving snapshot (older: /health is degraded;
    None: no limit), ``clock`` what /health takes as now (default: the system clock, UTC)."""

    def now() -> datetime:
        t = clock() if clock is not None else datetime.now(timezone.utc)
        return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)  # naive means UTC

    cycle = load_settings()
    settings = Settings.from_env()
    if serving_dir is not None:
        settings = Settings(serving_dir=Path(serving_dir), duckdb_memory_limit=settings.duckdb_memory_limit)
    inbound = Path(webhook_store) if webhook_store is not None else cycle.inbound_store

    app = FastAPI(
        title="Cycle API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=f"{V1}/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc from the API's own files (api/docs.py), never a CDN
        redoc_url=None,
        openapi_tags=[
            {"name": "status", "description": "Freshness of the published data."},
            {"name": "workspace", "description": "The key's workspace and its accounts."},
            {"name": "recommendations", "description": "What to do next, with the expected effect, its interval and "
             "evidence; apply or dismiss each (the decisions teach the models)."},
            {"name": "analytics", "description": "Rollups, platforms and the overview."},
            {"name": "attribution", "description": "Conversion credit per channel under seven models."},
            {"name": "campaigns", "description": "Ad campaigns and their daily metrics."},
            {"name": "content", "description": "Top posts and engagement by hour."},
            {"name": "boosts", "description": "Boosted posts and their measured effect."},
            {"name": "insights", "description": "Ranked findings with a suggested action, per account; acknowledge "
             "each."},
            {"name": "experiments", "description": "A/B tests run on the workspace's boosts and their calls."},
            {"name": "webhooks", "description": "Signed platform notifications, stored for the pipeline."},
            {"name": "privacy", "description": "GDPR export and erasure of one tracked person (admin keys)."},
        ],
    )
    app.state.settings = settings
    app.state.now = now
    app.state.max_snapshot_age = max_snapshot_age
    app.state.store = ServingStore(settings.serving_dir, memory_limit=settings.duckdb_memory_limit)
    app.state.feedback_store = FeedbackStore(inbound)  # decisions on recommendations, newer than the snapshot
    app.state.insight_acknowledgements = InsightAcknowledgementStore(inbound)  # likewise, acknowledged insights
    app.state.access = access_control(
        Path(access_store) if access_store is not None else cycle.access, rate_limit or cycle.api_rate_limit
    )
    app.add_exception_handler(RequestValidationError, _validation_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(ServingFileMissing, _missing_handler)  # type: ignore[arg-type]
    app.add_exception_handler(ServingFileInvalid, _invalid_handler)  # type: ignore[arg-type]
    app.add_exception_handler(405, _method_not_allowed_handler)  # type: ignore[arg-type]
    cached = install_cache(app, cycle.api_cache_mb if response_cache_mb is None else response_cache_mb)
    for router in ROUTERS:
        app.include_router(router, prefix=V1, dependencies=cached if router in CACHED else None)
    for router in ROUTERS:  # the 0.1 paths, hidden from the schema
        aliases = [r for r in router.routes if isinstance(r, APIRoute) and r.path in ALIASES]
        for route in aliases:
            app.add_api_route(
                route.path, route.endpoint, methods=list(route.methods), response_model=route.response_model,
                include_in_schema=False, deprecated=True, dependencies=cached if router in CACHED else None,
            )
    install_docs(app, V1)  # /v1/docs and /v1/redoc, offline
    install_graphql(app)  # /v1/graphql: the same handlers, keys and scopes (outside the OpenAPI schema)
    install_dashboard(app)  # /dashboard: charts over the same snapshot, the same keys (in a cookie)
    install_webhooks(app, WebhookSettings.from_env(store_path=inbound))
    install_audit(app, inbound)  # every request, answered or refused, leaves a record (no secrets)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(url=f"{V1}/docs")

    return app


app = create_app()

__all__ = ["app", "create_app"]
