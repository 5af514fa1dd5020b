"""What the browser tests share besides their fixtures (tests/browser/conftest.py): every conftest is imported
as `conftest`, so a test module imports these from here."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest

from cycle_testing import E2E_END

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
# the API's clock: the first planned day of the fixture's snapshot, before any recommended slot has expired
CLOCK = datetime.combine(E2E_END + timedelta(days=1), datetime.min.time())
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """``$CYCLE_CHROMIUM``, else Debian's ``chromium`` (or another Chromium) on the PATH."""
    configured = os.environ.get("CYCLE_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def unavailable(why: str):
    if os.environ.get("CI"):
        pytest.fail(f"{why}; CI is set, so the browser tests must run (`make test` installs Chromium: `make chromium`)")
    pytest.skip(f"{why} (`make test` installs Chromium and Playwright)")


@dataclass
class Dashboard:
    base_url: str
    serving: Path
    token: str  # read and feedback scopes
    read_only_token: str


@dataclass
class Watched:
    """A browser page with everything that went wrong on it recorded, and every request to another host cut."""

    page: object
    console_errors: list[str]
    failed_requests: list[str]
    bad_responses: list[str]
    cut: list[str]  # requests to any host but 127.0.0.1, aborted

    def problems(self) -> list[str]:
        return self.console_errors + self.failed_requests + self.bad_responses + [f"left 127.0.0.1: {u}" for u in self.cut]


def is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname == "127.0.0.1"


def open_logged_in(w: Watched, dashboard: Dashboard, path: str, token: str | None = None) -> None:
    """``path`` with the key's cookie set as the login form sets it (the form itself is tested once, in
    test_login_keeps_the_key_out_of_urls_and_pages): one page load instead of three."""
    w.page.context.add_cookies([{
        "name": "cycle_dashboard_key", "value": token or dashboard.token, "url": dashboard.base_url + "/dashboard",
        "httpOnly": True, "sameSite": "Strict",
    }])
    w.page.goto(dashboard.base_url + path)
    landed = urlparse(w.page.url)
    assert landed.path + (f"?{landed.query}" if landed.query else "") == path, w.page.url


def log_in(w: Watched, dashboard: Dashboard, token: str | None = None, path: str = "/dashboard") -> None:
    """Through the login form, as a user would: paste the key, submit, land on ``path``."""
    page = w.page
    page.goto(dashboard.base_url + path)
    assert "/dashboard/login" in page.url
    page.fill("#api_key", token or dashboard.token)
    with page.expect_navigation():
        page.click("button[type=submit]")
    landed = urlparse(page.url)
    assert landed.path + (f"?{landed.query}" if landed.query else "") == path, page.url
