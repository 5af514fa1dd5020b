"""The marketer dashboard at ``/dashboard``, served by the API process.

It reads exactly what the API reads, through the API's own route functions: the published serving snapshot
(``ServingStore``), scoped to the key's workspace, and the API's inbound store for decisions taken since the
snapshot. It never opens the warehouse. Keys are the API's keys, carried by a cookie (``session``); figures are
drawn by plotly.js served from the plotly package (``static``); an open page follows new snapshots (``live``).
One module per page; ``layout`` holds what they share.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.dashboard import attribution, boosts, campaigns, content, health, heatmap, live, overview, recommendations, static
from api.dashboard import login
from api.dashboard.layout import render_error
from api.dashboard.session import PREFIX, DashboardRefusal, LoginRequired, login_redirect

ROUTERS = (
    static.router, login.router, live.router, overview.router, heatmap.router, content.router, boosts.router,
    attribution.router, campaigns.router, recommendations.router, health.router,
)
TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 413: "Too large", 429: "Too many requests"}


async def _login_required(request: Request, exc: LoginRequired) -> RedirectResponse:
    return login_redirect(exc, request)


async def _refused(request: Request, exc: DashboardRefusal) -> HTMLResponse:
    return render_error(TITLES.get(exc.status, "Refused"), exc.message, exc.status, exc.headers)


def install(app: FastAPI) -> None:
    """Serve the dashboard's pages, login and files under ``/dashboard`` (outside the OpenAPI schema)."""
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(LoginRequired, _login_required)  # type: ignore[arg-type]
    app.add_exception_handler(DashboardRefusal, _refused)  # type: ignore[arg-type]


__all__ = ["PREFIX", "install"]
