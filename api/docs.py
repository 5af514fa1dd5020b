"""The API's documentation pages, served by the API itself: they work without internet access.

FastAPI's own ``/docs`` loads Swagger UI from a CDN (a blank page offline, and every reader's browser tells
a third party which API it reads). Here Swagger UI (``/v1/docs``) and ReDoc (``/v1/redoc``) load their
JavaScript, CSS and icon from ``/v1/docs/assets/``: the files the ``fastapi-offline`` package ships (pinned in
pyproject.toml), served as static files. Nothing on the pages names another host: Swagger UI's validator
badge (a request to validator.swagger.io per page view) and ReDoc's Google Fonts are off.

Like the OpenAPI schema they read, the pages need no API key: they describe the routes, never data.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

# Swagger UI's bundle and CSS, ReDoc's standalone bundle and an icon, as released with the package's version
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
# no validator badge: Swagger UI would fetch it from validator.swagger.io for every public spec URL
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def install(app: FastAPI, prefix: str) -> None:
    """Serve ``{prefix}/docs`` (Swagger UI), ``{prefix}/redoc`` (ReDoc) and their files under
    ``{prefix}/docs/assets``. The app must be created with ``docs_url=None, redoc_url=None``."""
    assets = f"{prefix}/docs/assets"
    app.mount(assets, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    def base(request: Request) -> str:
        return request.scope.get("root_path", "") or ""  # behind a proxy that mounts the API under a path

    @app.get(f"{prefix}/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = base(request)
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets}/favicon.png",
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), **SWAGGER_UI_PARAMETERS},
        )

    @app.get(f"{prefix}/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = base(request)
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{assets}/favicon.png",
            with_google_fonts=False,
        )
