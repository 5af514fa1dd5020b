"""Who is looking at the dashboard: the API's own keys, carried by a cookie instead of a header.

A browser cannot send ``Authorization: Bearer`` when it navigates, so ``/dashboard/login`` takes the key once
(pasted into a form, POSTed, never in a URL), checks it with the API's own dependency (``api.auth.require``:
the same registry, revocation, rate limits and ``read`` scope as every ``/v1`` route, and the key lands on
``request.state.api_key`` for the audit record) and keeps it in a cookie the page's scripts cannot read
(HttpOnly), that no other site's page can make the browser send (SameSite=Strict) and that travels only over
https when the dashboard is reached over https (Secure). Every page checks the cookie's key again, so a
revoked key is out on its next click.

Decisions (apply, dismiss) change state, so besides the cookie they need a CSRF token: an HMAC of the
``csrf`` purpose keyed by the cookie's key. Only a page of this origin can read it (it is in the page, never
in a cookie); it is stateless, so it holds across API workers and restarts, and it reveals nothing of the key.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Principal, require
from api.request_body import read_limited

COOKIE = "cycle_dashboard_key"
PREFIX = "/dashboard"
# a key is "cyk_" and a few dozen URL-safe characters: anything far longer is not one, and is not looked at
MAX_KEY_CHARS = 200
MAX_FORM_BYTES = 4096  # a login or decision form: a key, a CSRF token, a reason of at most 500 characters
MAX_NEXT_CHARS = 500
COOKIE_MAX_AGE_S = 12 * 3600  # a working day; the key itself may be revoked at any time


class LoginRequired(Exception):
    """No cookie, or its key is unknown, wrong or revoked: back to the login form."""

    def __init__(self, next_path: str, clear: bool):
        self.next_path = next_path
        self.clear = clear


class DashboardRefusal(Exception):
    """A valid key that may not do this (403: scope; 429: rate limit; 400/413: a malformed form)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        self.status = status
        self.message = message
        self.headers = headers or {}


def csrf_token(key: str) -> str:
    return hmac.new(key.encode("utf-8"), b"cycle-dashboard-csrf", hashlib.sha256).hexdigest()


def safe_next(value: str | None) -> str:
    """A path to return to after logging in: a dashboard page of this site only (no open redirect)."""
    if value and len(value) <= MAX_NEXT_CHARS and value.startswith(PREFIX) and "//" not in value and "\\" not in value \
            and value.isascii():
        if all(c.isprintable() and c not in "\r\n" for c in value):
            return value
    return PREFIX


def check_key(request: Request, token: str, scope: str) -> Principal:
    """The API's key check (``require(scope)``) for ``token``: 401, 403 or 429 as HTTPException."""
    return require(scope)(request, None, token)


def session_key(request: Request) -> str:
    """The cookie's key, once ``authenticate`` (or ``Viewer``) accepted it in this request: for its CSRF token."""
    return request.cookies[COOKIE]


def _cookie_key(request: Request) -> str | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > MAX_KEY_CHARS:
        return None
    return token


def authenticate(request: Request, scope: str = "read") -> tuple[Principal, str]:
    """The cookie's key as a :class:`Principal` holding ``scope``, and the key (for its CSRF token)."""
    # back here after logging in; a form's target is no page to return to (a decision is taken again by hand)
    path = PREFIX
    if request.method == "GET":
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    token = _cookie_key(request)
    if token is None:
        raise LoginRequired(safe_next(path), clear=COOKIE in request.cookies)
    try:
        return check_key(request, token, scope), token
    except HTTPException as exc:
        if exc.status_code == 401:
            raise LoginRequired(safe_next(path), clear=True) from None
        raise DashboardRefusal(exc.status_code, str(exc.detail), dict(exc.headers or {})) from None


def viewer(request: Request) -> Principal:
    return authenticate(request, "read")[0]


Viewer = Annotated[Principal, Depends(viewer)]


async def read_form(request: Request) -> dict[str, str]:
    """A URL-encoded form of at most ``MAX_FORM_BYTES``, one value per field (400/413 otherwise)."""
    body = await read_limited(request, MAX_FORM_BYTES, lambda status, msg: DashboardRefusal(status, msg))
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise DashboardRefusal(400, "The form could not be read.") from None
    return {name: values[0] for name, values in fields.items() if values}


def check_csrf(form: dict[str, str], key: str) -> None:
    sent = form.get("csrf_token", "")
    if not hmac.compare_digest(sent.encode("utf-8", "replace"), csrf_token(key).encode("ascii")):
        raise DashboardRefusal(
            403, "The form has expired or did not come from this dashboard: reload the page and try again."
        )


def set_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE, token, max_age=COOKIE_MAX_AGE_S, path=PREFIX, httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=request.url.scheme == "https")


def login_redirect(exc: LoginRequired, request: Request) -> RedirectResponse:
    response = RedirectResponse(f"{PREFIX}/login?next={quote(exc.next_path, safe='/')}", status_code=303)
    if exc.clear:
        clear_cookie(response, request)
    return response
