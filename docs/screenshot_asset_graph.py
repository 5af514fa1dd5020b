"""Screenshots of Cycle's asset graph in the Dagster UI, for the README (``make docs-screenshots``).

Starts ``dagster-webserver`` on a free port of 127.0.0.1 over ``workspace.yaml`` with a fresh temporary
``DAGSTER_HOME`` and ``CYCLE_HOME`` (nothing of a real home is read or written), waits until the code location
has loaded, then drives headless Chromium (Debian's ``chromium``, through Playwright, every request to another
host aborted, as the browser tests do) to the global asset lineage and saves ``docs/images/asset_graph.png``:
one box per asset group (raw -> dbt's reference, staging, intermediate, marts, snapshots -> ml, attribution,
boosts, recommendations, insights -> serving), zoomed as far as the whole graph still fits the picture.

It fails loudly (exit 1, with the server's log) when the server does not start, the definitions do not load,
or the graph does not draw every group the definitions hold.

    python docs/screenshot_asset_graph.py [--out-dir docs/images] [--width 1800] [--height 1100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
LOCATION = "cycle"  # workspace.yaml's location_name
START_TIMEOUT_S = 240  # the definitions load dbt's manifest and every domain: about a minute on 2 shared cores
RENDER_TIMEOUT_MS = 60_000
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


class ScreenshotError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str:
    """``$CYCLE_CHROMIUM``, else a Chromium on the PATH (``make chromium`` installs Debian's)."""
    configured = os.environ.get("CYCLE_CHROMIUM")
    if configured:
        if not Path(configured).exists():
            raise ScreenshotError(f"CYCLE_CHROMIUM={configured} does not exist")
        return configured
    for name in CHROMIUM_CANDIDATES:
        if found := shutil.which(name):
            return found
    looked = ", ".join(CHROMIUM_CANDIDATES)
    raise ScreenshotError(f"no Chromium found (looked for $CYCLE_CHROMIUM, {looked}): make chromium")


def _graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]


def _wait_for_location(base: str, server: subprocess.Popen, log: Path) -> list[str]:
    """Wait until the server answers and the code location has loaded; the asset groups it defines."""
    deadline = time.monotonic() + START_TIMEOUT_S
    query = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
                 locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
    while True:
        if server.poll() is not None:
            raise ScreenshotError(f"dagster-webserver exited with {server.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise ScreenshotError(f"the code location did not load within {START_TIMEOUT_S} s:\n{_tail(log)}")
        try:
            entries = _graphql(base, query)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, TypeError):
            time.sleep(1)
            continue
        entry = next((e for e in entries if e["name"] == LOCATION), None)
        if entry and entry["loadStatus"] == "LOADED":
            loaded = entry["locationOrLoadError"]
            if loaded["__typename"] == "PythonError":
                raise ScreenshotError(f"the definitions failed to load: {loaded['message']}")
            break
        time.sleep(1)
    return sorted({n["groupName"] for n in _executable_assets(base)})


def _executable_assets(base: str) -> list[dict]:
    """The assets Cycle materializes (the UI's lineage leaves out the external ``raw_quarantine``)."""
    nodes = _graphql(base, "{ assetNodes { groupName isExecutable assetKey { path } } }")["assetNodes"]
    return [n for n in nodes if n["isExecutable"] and n["groupName"]]


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


def _is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname == "127.0.0.1"


def _prepare(page) -> None:
    """Dismiss the first-visit community dialog (it shows once per instance) and hide the left navigation and
    the asset sidebar, so the graph gets the whole picture."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(state="visible", timeout=4000)
        skip.click()
    except PlaywrightTimeout:  # no dialog this time
        pass
    hide = page.get_by_text("Hide navigation")
    if hide.count():
        hide.click()
    sidebar = page.locator("button:has([aria-label='panel_show_right'])")
    if sidebar.count():
        sidebar.first.click()


# JavaScript: which of ``names`` no drawn node shows (a group's box starts with its name)
_MISSING_JS = """([selector, names]) => {
  const texts = Array.from(document.querySelectorAll(selector)).map(e => e.textContent || '');
  return names.filter(n => !texts.some(t => t.startsWith(n)));
}"""


def _missing(page, selector: str, names: list[str]) -> list[str]:
    return page.evaluate(_MISSING_JS, [selector, names])


def _bounds(page, nodes: str) -> list[float]:
    """The box around the drawn nodes (the UI leaves out those outside the view)."""
    return page.evaluate(
        """(selector) => {
             const r = Array.from(document.querySelectorAll(selector)).map(e => e.getBoundingClientRect());
             return [Math.min(...r.map(b => b.left)), Math.min(...r.map(b => b.top)),
                     Math.max(...r.map(b => b.right)), Math.max(...r.map(b => b.bottom))]; }""",
        nodes,
    )


def _centre(page, nodes: str, graph_top: int) -> None:
    """Drag the canvas so the drawn nodes sit in the middle of the graph area."""
    viewport = page.viewport_size
    left, top, right, bottom = _bounds(page, nodes)
    dx = viewport["width"] / 2 - (left + right) / 2
    dy = (viewport["height"] + graph_top) / 2 - (top + bottom) / 2
    start = (140, viewport["height"] - 40)  # the canvas's bottom left corner, clear of the zoom controls: a drag pans
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + dx, start[1] + dy, steps=8)
    page.mouse.up()
    page.wait_for_timeout(500)


def _zoom_to_fit(page, nodes: str, names: list[str], graph_top: int) -> None:
    """Zoom (the UI's own buttons) to the largest step at which every one of ``names`` is drawn inside the
    picture: the UI fits a large graph small, and a group's page large. Each step is centred first."""
    viewport = page.viewport_size
    zoom_in = page.locator("button:has([aria-label='zoom_in'])")
    zoom_out = page.locator("button:has([aria-label='zoom_out'])")

    def fits() -> bool:
        if _missing(page, nodes, names):
            return False
        left, top, right, bottom = _bounds(page, nodes)
        return left >= 20 and top >= graph_top and right <= viewport["width"] - 70 and bottom <= viewport["height"] - 20

    def step(button) -> None:
        button.click()
        page.wait_for_timeout(500)
        _centre(page, nodes, graph_top)

    _centre(page, nodes, graph_top)
    for _ in range(10):  # out until everything is in the picture
        if fits():
            break
        step(zoom_out)
    for _ in range(10):  # then in while it stays there
        step(zoom_in)
        if not fits():
            step(zoom_out)
            break
    if not fits():
        raise ScreenshotError(f"the graph does not fit the picture; missing {_missing(page, nodes, names)}, "
                              f"nodes within {_bounds(page, nodes)}")


def _require_rendered(page, selector: str, names: list[str], what: str) -> None:
    """Every one of ``names`` drawn as a node of the graph, or an error naming what is missing."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"(arg) => ({_MISSING_JS})(arg).length === 0", arg=[selector, names],
                               timeout=RENDER_TIMEOUT_MS)
    except PlaywrightTimeout as exc:
        raise ScreenshotError(f"{what}: no node shows {_missing(page, selector, names)} ({exc})") from exc


def take(base: str, groups: list[str], out_dir: Path, width: int, height: int) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as playwright:
        # --no-sandbox: root (a container) cannot start Chromium's sandbox
        browser = playwright.chromium.launch(executable_path=_chromium(), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            context.route("**/*", lambda route: route.continue_() if _is_local(route.request.url) else route.abort())
            page = context.new_page()

            # the global lineage: every group collapsed to one box, edges between groups
            page.goto(f"{base}/asset-groups", wait_until="networkidle", timeout=RENDER_TIMEOUT_MS)
            _prepare(page)
            _require_rendered(page, "foreignObject.group", groups, "global asset lineage")
            _zoom_to_fit(page, "foreignObject.group", groups, graph_top=90)
            _require_rendered(page, "foreignObject.group", groups, "global asset lineage after zooming")
            written.append(out_dir / "asset_graph.png")
            page.screenshot(path=str(written[-1]))
        finally:
            browser.close()
    return written


def _stop(server: subprocess.Popen) -> None:
    """Stop the webserver's own process group (it and the code server it started, nothing else): Ctrl-C first,
    which lets the webserver shut its code server down, then a kill for whatever is left after 30 s."""
    def alive() -> bool:
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return False
        return True

    if alive():
        os.killpg(server.pid, signal.SIGINT)
    deadline = time.monotonic() + 30
    while alive() and time.monotonic() < deadline:
        server.poll()  # reaps the webserver once it has exited
        time.sleep(0.5)
    if alive():
        os.killpg(server.pid, signal.SIGKILL)
    server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--width", type=int, default=1800)
    parser.add_argument("--height", type=int, default=1100)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="cycle-screenshots-") as tmp:
        home = Path(tmp)
        (home / "dagster_home").mkdir()
        shutil.copy(ROOT / "analytics_assets" / "dagster.yaml", home / "dagster_home" / "dagster.yaml")
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home / "dagster_home"),
            "CYCLE_HOME": str(home),
            "CYCLE_WAREHOUSE_PATH": str(home / "warehouse.duckdb"),
        }
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        log = home / "webserver.log"
        webserver = str(Path(sys.executable).with_name("dagster-webserver"))
        with log.open("w") as out:
            server = subprocess.Popen(
                [webserver, "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            groups = _wait_for_location(base, server, log)
            written = take(base, groups, args.out_dir, args.width, args.height)
        except ScreenshotError as exc:
            print(f"screenshot failed: {exc}", file=sys.stderr)
            return 1
        finally:
            _stop(server)
    for path in written:
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
