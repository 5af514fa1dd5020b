"""How long each dashboard page takes to load and draw, in a real browser, on the demo's data.

    make bench-dashboard      # after make demo; or: python -m benchmarks.dashboard --repeats 5

Goal (issue 15): every page loads in under a second on the demo data. For each page of ``api/dashboard/layout.PAGES``
the API (with its dashboard) runs under uvicorn on 127.0.0.1 over the demo's published snapshot
(``$CYCLE_SERVING_DIR``, default ``$CYCLE_HOME/serving``), with a throwaway key registry granting the served
accounts, and Debian's Chromium (headless, Playwright, every request that is not to 127.0.0.1 aborted) opens the
page logged in. A load is timed from navigation until the page's ``load`` event and every Plotly figure on it is
drawn (an SVG in each ``[data-figure]``): what a marketer waits for.

Printed per page: the first load (the server reads and verifies the snapshot's files on its first request for
them: the baseline a page pays once per published snapshot), then the median and the worst of ``--repeats``
warm loads, against the goal. Exit 1 when a warm median misses it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

GOAL_S = 1.0
DRAWN = (
    "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n && "
    "document.querySelectorAll('.js-plotly-plot').length === n"
)


def _is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname == "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(serving: Path, state: Path) -> tuple[str, str, object, threading.Thread]:
    """The API on a free port of 127.0.0.1 over ``serving``; returns (base url, a read+feedback key, server, thread)."""
    import uvicorn

    from analytics_assets.contracts.access import AccessRegistry, grant_served_accounts
    from api.main import create_app

    registry = AccessRegistry(state / "access.sqlite3")
    grant_served_accounts(registry, serving)
    token = registry.create_key("default", "bench-dashboard", ("read", "feedback")).token
    app = create_app(serving, state / "inbound.sqlite3", access_store=registry.path, rate_limit="100000/minute")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="bench-dashboard-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("benchmarks.dashboard: the API did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", token, server, thread


def _load(page, url: str) -> float:
    """Seconds from navigation to the load event with every figure of the page drawn."""
    began = time.perf_counter()
    page.goto(url, wait_until="load")
    expected = page.locator("[data-figure]").count()
    page.wait_for_function(DRAWN, arg=expected, timeout=30_000)
    elapsed = time.perf_counter() - began
    if "/dashboard/login" in page.url:
        raise SystemExit(f"benchmarks.dashboard: {url} sent to the login form (the key was refused)")
    return elapsed


def run(serving: Path, repeats: int) -> int:
    from playwright.sync_api import sync_playwright

    from analytics_assets.contracts.serving import MANIFEST
    from api.dashboard.layout import PAGES
    from api.dashboard.session import COOKIE

    if not (serving / MANIFEST).exists():
        raise SystemExit(f"benchmarks.dashboard: no published snapshot in {serving}: run `make demo` first")
    executable = os.environ.get("CYCLE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise SystemExit("benchmarks.dashboard: no Chromium (`make chromium` installs Debian's)")
    with tempfile.TemporaryDirectory(prefix="cycle-bench-dashboard-") as state:
        base, token, server, thread = _serve(serving, Path(state))
        rows, cut = [], []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.route("**/*", lambda route: route.continue_() if _is_local(route.request.url)
                              else (cut.append(route.request.url), route.abort("internetdisconnected")))
                context.add_cookies([{"name": COOKIE, "value": token, "url": base + "/dashboard", "httpOnly": True,
                                      "sameSite": "Strict"}])
                page = context.new_page()
                for path, title in PAGES:
                    url = f"{base}/dashboard{path}"
                    first = _load(page, url)
                    warm = [_load(page, url) for _ in range(repeats)]
                    figures = page.locator("[data-figure]").count()
                    rows.append((title, figures, first, statistics.median(warm), max(warm)))
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    print(f"Dashboard pages on {serving} ({repeats} warm loads each; goal: under {GOAL_S:.1f} s a page)")
    print(f"{'page':<18} {'figures':>7} {'first load (baseline)':>22} {'warm median':>12} {'warm worst':>11}  goal")
    missed = 0
    for title, figures, first, median, worst in rows:
        ok = median < GOAL_S
        missed += not ok
        print(f"{title:<18} {figures:>7} {first:>20.3f} s {median:>10.3f} s {worst:>9.3f} s  "
              f"{'met' if ok else 'MISSED'} (< {GOAL_S:.1f} s)")
    if cut:
        print(f"requests cut (left 127.0.0.1): {len(cut)}, e.g. {cut[0]}")
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    from analytics_assets.settings import load_settings

    parser = argparse.ArgumentParser(prog="benchmarks.dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--serving", type=Path, default=None, help="published snapshot (default: the settings')")
    parser.add_argument("--repeats", type=int, default=5, help="warm loads per page")
    args = parser.parse_args(argv)
    return run(args.serving or load_settings().serving, max(1, args.repeats))


if __name__ == "__main__":
    sys.exit(main())
