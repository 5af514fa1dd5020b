"""``/dashboard/login`` and ``/dashboard/logout``: the form that takes an API key once and the cookie that keeps
it (``api.dashboard.session`` says how the key is checked and kept)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.dashboard.layout import render_login
from api.dashboard.session import MAX_KEY_CHARS, PREFIX, check_key, clear_cookie, read_form, safe_next, set_cookie

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render_login(request, safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await read_form(request)
    target = safe_next(form.get("next"))
    token = form.get("api_key", "").strip()
    if not token or len(token) > MAX_KEY_CHARS:
        return render_login(request, target, error="Paste an API key (cyk_...).", status=400)
    try:
        await run_in_threadpool(check_key, request, token, "read")  # the registry is a SQLite file
    except HTTPException as exc:
        message = {401: "That key is unknown, wrong or revoked.", 403: "That key lacks the 'read' scope."}.get(
            exc.status_code, str(exc.detail)
        )
        return render_login(request, target, error=message, status=exc.status_code, headers=dict(exc.headers or {}))
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, token)
    return response


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    # no CSRF token needed: logging someone out is harmless, and SameSite=Strict keeps other sites' forms out
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    clear_cookie(response, request)
    return response
