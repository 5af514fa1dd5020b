"""FastAPI application of Cycle: read-only endpoints over the published serving snapshot.

Run with ``uvicorn api.main:app``. The serving directory comes from ``$CYCLE_SERVING_DIR``
(default ``$CYCLE_HOME/serving`` or ``./data/serving``); see :mod:`api.settings`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, BeforeValidator, ValidationError

from api import __version__
from api.schemas import (
    AD_PLATFORMS,
    ATTRIBUTION_MODELS,
    ORGANIC_PLATFORMS,
    PLATFORMS,
    AssetStatus,
    AttributionModel,
    AttributionResponse,
    ChannelCredit,
    DailyRollup,
    DailyRollupsResponse,
    ErrorResponse,
    HealthResponse,
    HourRecommendation,
    OptimalHoursResponse,
    OrganicPlatform,
    Platform,
    PlatformOptimalHours,
    ServingFileStatus,
    ValidationErrorResponse,
    strict_iso_date,
)
from analytics_assets.contracts.serving import MAX_SNAPSHOT_AGE
from api.settings import Settings
from api.store import (
    ASSET_STATUS,
    ATTRIBUTION,
    MANIFEST,
    OPTIMAL_HOURS,
    PLATFORM_DAILY,
    PUBLISH_HINT,
    ServingFileInvalid,
    ServingFileMissing,
    ServingStore,
)
from api.overview import install as install_overview
from api.webhooks import WebhookSettings
from api.webhooks import install as install_webhooks

M = TypeVar("M", bound=BaseModel)

DESCRIPTION = """
Read-only API over Cycle's **serving snapshot**: Parquet files that the `serving_snapshot` Dagster
asset publishes atomically into `$CYCLE_SERVING_DIR` (default `data/serving/`). The API never opens
the DuckDB warehouse.

* `404`: the serving files have not been published yet: run `make demo` or materialize `serving_snapshot`.
* `422`: invalid query parameter; the message lists the valid values.
* `503`: a published file is unreadable or does not follow the serving contract.

`/webhooks/meta` and `/webhooks/linkedin` receive signed platform notifications: the HMAC is verified
(401 and nothing stored when it is missing or wrong) and the events are appended to the API's own
store, from which the pipeline loads them. They answer 503 while their secret is not configured.

All timestamps are UTC.
"""

_DATA_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Serving files not published yet (run `make demo`)."},
    422: {"model": ValidationErrorResponse, "description": "Invalid query parameter."},
    503: {"model": ErrorResponse, "description": "A serving file is unreadable or breaks the contract."},
}

# ---------------------------------------------------------------------------------------------------
# Query parameters
# ---------------------------------------------------------------------------------------------------

PlatformParam = Annotated[
    Platform | None,
    Query(description="Filter on one platform (organic or ad). Omit for all platforms."),
]
OrganicPlatformParam = Annotated[
    OrganicPlatform | None,
    Query(
        description="Organic platform to get recommendations for "
        "(linkedin, x, reddit, tiktok). Omit for all of them."
    ),
]
TopParam = Annotated[
    int, Query(ge=1, le=24, description="How many of the best hours to return per platform (1..24).")
]
StartParam = Annotated[
    date | None,
    BeforeValidator(strict_iso_date),
    Query(description="First day to include (YYYY-MM-DD, inclusive). Omit for no lower bound.",
          examples=["2024-03-01"]),
]
EndParam = Annotated[
    date | None,
    BeforeValidator(strict_iso_date),
    Query(description="Last day to include (YYYY-MM-DD, inclusive). Omit for no upper bound.",
          examples=["2024-03-31"]),
]
ModelParam = Annotated[
    AttributionModel,
    Query(description="Attribution model: " + ", ".join(ATTRIBUTION_MODELS) + "."),
]

# Valid values per query parameter, used to make "missing" errors actionable.
_REQUIRED_CHOICES = {"model": ATTRIBUTION_MODELS}


def _issue(field: str, msg: str, value: Any, type_: str = "value_error") -> dict[str, Any]:
    return {"type": type_, "loc": ("query", field), "msg": msg, "input": value}


def _describe(error: dict[str, Any], path: str) -> str:
    """Rewrite pydantic's message into one a user can act on."""
    loc = error.get("loc") or ()
    field = str(loc[-1]) if loc else ""
    kind = error.get("type", "")
    value = error.get("input")
    msg = str(error.get("msg", ""))
    if kind == "enum":
        expected = (error.get("ctx") or {}).get("expected", "")
        if field == "platform" and path.rstrip("/") == "/optimal-hours":
            valid = ", ".join(ORGANIC_PLATFORMS)
            if value in AD_PLATFORMS:
                return (f"'{value}' is an ad platform; optimal hours exist only for organic platforms. "
                        f"Valid values: {valid}")
            return f"Unknown platform '{value}'. Valid values: {valid}"
        if field == "platform":
            return f"Unknown platform '{value}'. Valid values: {', '.join(PLATFORMS)}"
        if field == "model":
            return f"Unknown attribution model '{value}'. Valid values: {', '.join(ATTRIBUTION_MODELS)}"
        return f"Unknown {field} '{value}'. Valid values: {expected}"
    if kind == "missing" and field in _REQUIRED_CHOICES:
        return f"Query parameter '{field}' is required. Valid values: {', '.join(_REQUIRED_CHOICES[field])}"
    if field == "top" and kind in {"greater_than_equal", "less_than_equal", "int_parsing", "int_from_float"}:
        return f"top must be an integer between 1 and 24 (got {value!r})"
    if msg.startswith("Value error, "):  # raised by our own validators (dates)
        msg = msg[len("Value error, "):]
        if field:
            msg = f"{field}: {msg}"
    return msg


async def _validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    detail = []
    for error in exc.errors():
        detail.append(
            {
                "loc": list(error.get("loc") or ()),
                "msg": _describe(error, request.url.path),
                "type": error.get("type", "value_error"),
                "input": error.get("input"),
            }
        )
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(detail)})


async def _missing_handler(request: Request, exc: ServingFileMissing) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": str(exc)})


async def _invalid_handler(request: Request, exc: ServingFileInvalid) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": str(exc)})


def _build(model: type[M], source: str, **data: Any) -> M:
    """Validate data read from a serving file; a contract break is the file's fault, not a 500."""
    try:
        return model(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ServingFileInvalid(source, f"{where}: {first.get('msg')}") from None


# ---------------------------------------------------------------------------------------------------
# App
# ---------------------------------------------------------------------------------------------------


def get_store(request: Request) -> ServingStore:
    return request.app.state.store


Store = Annotated[ServingStore, Depends(get_store)]


def _hours(age: timedelta) -> str:
    return f"{age.total_seconds() / 3600:.1f} h"


def create_app(
    serving_dir: Path | None = None,
    webhook_store: Path | None = None,
    *,
    max_snapshot_age: timedelta | None = MAX_SNAPSHOT_AGE,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """Build the API. ``serving_dir`` overrides ``$CYCLE_SERVING_DIR`` and ``webhook_store`` the
    webhook event store ``$CYCLE_API_STORE`` (default ``$CYCLE_HOME/api/store.sqlite3``).
    ``max_snapshot_age`` is the freshness limit of the serving snapshot (older: /health is degraded;
    None: no limit), ``clock`` what /health takes as now (default: the system clock, UTC)."""

    def now() -> datetime:
        t = clock() if clock is not None else datetime.now(timezone.utc)
        return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)  # naive means UTC

    settings = Settings.from_env()
    if serving_dir is not None:
        settings = Settings(serving_dir=Path(serving_dir), duckdb_memory_limit=settings.duckdb_memory_limit)

    app = FastAPI(
        title="Cycle API",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "status", "description": "Freshness of the published data."},
            {"name": "recommendations", "description": "Model outputs."},
            {"name": "analytics", "description": "Warehouse rollups and attribution."},
            {"name": "webhooks", "description": "Signed platform notifications, stored for the pipeline."},
        ],
    )
    app.state.settings = settings
    app.state.store = ServingStore(settings.serving_dir, memory_limit=settings.duckdb_memory_limit)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(ServingFileMissing, _missing_handler)  # type: ignore[arg-type]
    app.add_exception_handler(ServingFileInvalid, _invalid_handler)  # type: ignore[arg-type]
    install_webhooks(app, WebhookSettings.from_env(store_path=webhook_store))
    install_overview(app)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(url="/docs")

    @app.get(
        "/health",
        response_model=HealthResponse,
        tags=["status"],
        summary="Serving snapshot status and last materialization per asset",
    )
    def health(store: Store) -> HealthResponse:
        """Always 200. `status` is `no_data` until the serving snapshot has been published, and `degraded`
        when a served file is missing, unreadable or not the one the manifest names (size, SHA-256, rows),
        or when the snapshot is older than its freshness limit; `detail` says why, `file_checks` per file."""
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
            assets = [_build(AssetStatus, ASSET_STATUS, **row) for row in store.asset_status()]
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
        if problems and status == "ok":
            status = "degraded"
        return HealthResponse(
            status=status, published_at=published_at, files=files, assets=assets,
            detail="; ".join(problems) if problems else None,
            age_seconds=None if age is None else age.total_seconds(),
            max_age_seconds=None if max_snapshot_age is None else max_snapshot_age.total_seconds(),
            file_checks=checks,
            quality_gate=gate,
        )

    @app.get(
        "/optimal-hours",
        response_model=OptimalHoursResponse,
        responses=_DATA_ERRORS,
        tags=["recommendations"],
        summary="Best UTC publishing hours per organic platform",
    )
    def optimal_hours(
        store: Store, platform: OrganicPlatformParam = None, top: TopParam = 3
    ) -> OptimalHoursResponse:
        """The `top` hours with the highest expected engagement score, per platform (from
        `optimal_hours.parquet`), with their lift over the platform mean and the model that produced them."""
        rows = store.optimal_hours(platform.value if platform else None, top)
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            grouped.setdefault(row["platform"], []).append(row)
        platforms = []
        for name, items in grouped.items():
            best = items[0]
            platforms.append(
                _build(
                    PlatformOptimalHours,
                    OPTIMAL_HOURS,
                    platform=name,
                    model_name=best["model_name"],
                    model_version=best["model_version"],
                    generated_at=best["generated_at"],
                    hours=[
                        _build(
                            HourRecommendation,
                            OPTIMAL_HOURS,
                            rank=r["rank"],
                            publish_hour=r["publish_hour"],
                            expected_engagement_score=r["expected_engagement_score"],
                            lift_vs_platform_mean=r["lift_vs_platform_mean"],
                        )
                        for r in items
                    ],
                )
            )
        return OptimalHoursResponse(platform=platform, top=top, platforms=platforms)

    @app.get(
        "/rollups/daily",
        response_model=DailyRollupsResponse,
        responses=_DATA_ERRORS,
        tags=["analytics"],
        summary="Daily metrics per platform (organic and paid)",
    )
    def rollups_daily(
        store: Store, platform: PlatformParam = None, start: StartParam = None, end: EndParam = None
    ) -> DailyRollupsResponse:
        """Rows of `platform_daily.parquet`, filtered by platform and an inclusive date range,
        ordered by `metric_date` then `platform`. An empty range gives an empty list."""
        if start is not None and end is not None and start > end:
            raise RequestValidationError(
                [_issue("start", f"start ({start.isoformat()}) must be on or before end ({end.isoformat()})",
                        start.isoformat())]
            )
        rows = store.platform_daily(platform.value if platform else None, start, end)
        items = [_build(DailyRollup, PLATFORM_DAILY, **row) for row in rows]
        return DailyRollupsResponse(platform=platform, start=start, end=end, count=len(items), rows=items)

    @app.get(
        "/attribution",
        response_model=AttributionResponse,
        responses=_DATA_ERRORS,
        tags=["analytics"],
        summary="Conversion credit per channel under one attribution model",
    )
    def attribution(store: Store, model: ModelParam) -> AttributionResponse:
        """Channel credits from `attribution.parquet` for `model`, highest conversions first,
        with the model's totals."""
        rows = store.attribution(model.value)
        channels = [_build(ChannelCredit, ATTRIBUTION, **row) for row in rows]
        return AttributionResponse(
            model=model,
            total_conversions=sum(c.conversions or 0.0 for c in channels),
            total_conversion_value=sum(c.conversion_value or 0.0 for c in channels),
            channels=channels,
        )

    return app


app = create_app()

__all__ = ["app", "create_app"]
