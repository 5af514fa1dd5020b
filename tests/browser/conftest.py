"""A real browser against a real server: headless Chromium (Debian's ``chromium`` package, driven by Playwright)
and the API under uvicorn on 127.0.0.1, over a copy of the e2e fixture's published snapshot (three simulated
days through the whole graph). One server and one browser per session.

Without a Chromium the browser tests skip, saying why, unless ``CI`` is set: in CI they must run, so there they
fail instead. ``make test`` installs it (the Makefile's ``chromium`` target).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

from dashboard_testing import CHROMIUM_CANDIDATES, CLOCK, Dashboard, Watched, chromium_path, is_local, unavailable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def dashboard(pipeline, tmp_path_factory):
    """The API (and its dashboard) served by uvicorn on a free port of 127.0.0.1, over a private copy of the
    pipeline's snapshot (a test republishes it), with its own registry and inbound store."""
    import uvicorn

    from analytics_assets.contracts.access import AccessRegistry, grant_served_accounts
    from api.main import create_app

    home, _ = pipeline
    root = tmp_path_factory.mktemp("dashboard")
    serving = root / "serving"
    shutil.copytree(home.serving, serving)
    registry = AccessRegistry(root / "access.sqlite3")
    grant_served_accounts(registry, serving)
    token = registry.create_key("default", "browser", ("read", "feedback")).token
    read_only = registry.create_key("default", "viewer", ("read",)).token
    app = create_app(serving, root / "inbound.sqlite3", access_store=registry.path, rate_limit="100000/minute",
                     clock=lambda: CLOCK)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1, lifespan="on"))
    thread = threading.Thread(target=server.run, name="dashboard-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield Dashboard(f"http://127.0.0.1:{port}", serving, token, read_only)
    server.should_exit = True
    thread.join(timeout=10)


# module-scoped, not session-scoped: Playwright's sync API keeps an asyncio loop running in the main thread while
# it is open, and any later test of the same worker that calls asyncio.run() (Dagster's automation condition
# tester does) fails with "cannot be called from a running event loop"
@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        unavailable("no Chromium found (looked for $CYCLE_CHROMIUM, " + ", ".join(CHROMIUM_CANDIDATES) + ")")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed")
    with sync_playwright() as playwright:
        # --no-sandbox: the tests may run as root (CI containers), where Chromium's sandbox refuses to start
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def watched(browser):
    """A fresh browser context (no cookies) whose page records console errors, failed requests and 4xx/5xx
    answers, with the network cut: every request that is not to 127.0.0.1 is aborted."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    cut: list[str] = []

    def network_cut(route):
        if is_local(route.request.url):
            route.continue_()
        else:
            cut.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", network_cut)
    page = context.new_page()
    w = Watched(page, [], [], [], cut)
    page.on("console", lambda m: w.console_errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: w.console_errors.append(f"page error: {e}"))
    # the live-update stream is closed on purpose when a page is left: that is not a failed request
    page.on("requestfailed", lambda r: None if r.url.endswith("/dashboard/events") else
            w.failed_requests.append(f"failed {r.url}: {r.failure}"))
    page.on("response", lambda r: w.bad_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    yield w
    context.close()


