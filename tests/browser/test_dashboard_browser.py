"""The dashboard in a real headless Chromium, over the e2e fixture's snapshot, with the network cut (only 127.0.0.1
answers): every page draws its charts with no console error and no failed request, the heatmap marks the slots
the JSON API recommends, apply and dismiss change a recommendation's status as the JSON API reports it, an open
page follows a new snapshot without a reload, and Swagger UI renders offline. Each page's screenshot is written
to tests/artifacts/screenshots/ (``CYCLE_UPDATE_DOCS_IMAGES=1`` also refreshes the README's, in docs/images/)."""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from datetime import datetime, timedelta

import httpx
import pytest

from dashboard_testing import ROOT, SCREENSHOTS, log_in, open_logged_in

pytestmark = pytest.mark.slow

PAGES = {
    "overview": "/dashboard",
    "heatmap": "/dashboard/heatmap",
    "content": "/dashboard/content",
    "boosts": "/dashboard/boosts",
    "attribution": "/dashboard/attribution",
    "campaigns": "/dashboard/campaigns",
    "recommendations": "/dashboard/recommendations",
    "health": "/dashboard/health",
}
README_IMAGES = ("overview", "heatmap")
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def _api(dashboard, path: str, **params) -> dict:
    answer = httpx.get(dashboard.base_url + path, params=params, headers={"Authorization": f"Bearer {dashboard.token}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _walk(dashboard, path: str, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        body = _api(dashboard, path, limit=1000, **params, **({"cursor": cursor} if cursor else {}))
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def _wait_for_charts(page) -> int:
    """Every figure of the page drawn by plotly.js; returns how many."""
    expected = page.locator("[data-figure]").count()
    page.wait_for_function(
        "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n && "
        "document.querySelectorAll('.js-plotly-plot').length === n", arg=expected, timeout=15_000,
    )
    return expected


def test_login_keeps_the_key_out_of_urls_and_pages(watched, dashboard):
    page = watched.page
    page.goto(dashboard.base_url + "/dashboard/heatmap")
    assert page.url.endswith("/dashboard/login?next=/dashboard/heatmap")  # no cookie: the login form
    page.fill("#api_key", "cyk_0000000000_not-a-key")
    with page.expect_navigation():  # the refused form's page fully loaded: leaving it early aborts its stylesheet
        page.click("button[type=submit]")
    assert "unknown, wrong or revoked" in page.inner_text(".flash")
    watched.bad_responses.clear()  # the refused key's 401 (and the console line saying so) was the point
    watched.console_errors.clear()
    log_in(watched, dashboard, path="/dashboard/heatmap")
    cookie = next(c for c in page.context.cookies() if c["name"] == "cycle_dashboard_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/dashboard"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it
    assert dashboard.token not in page.content() and dashboard.token not in page.url
    with page.expect_navigation():
        page.click(".logout button")
    assert "/dashboard/login" in page.url and not page.context.cookies()
    assert watched.problems() == []


def test_every_page_draws_its_charts_with_no_error(watched, dashboard):
    open_logged_in(watched, dashboard, "/dashboard")
    page = watched.page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    timings = {}
    for name, path in PAGES.items():
        started = time.perf_counter()
        page.goto(dashboard.base_url + path)
        charts = _wait_for_charts(page)
        timings[name] = time.perf_counter() - started
        assert charts >= 1, f"{name}: no chart"
        assert page.locator(".no-data").count() == 0 or name == "health", f"{name}: {page.inner_text('.no-data')}"
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        assert watched.problems() == [], f"{name}: {watched.problems()}"
    print("page load and draw, s:", {k: round(v, 2) for k, v in timings.items()})
    assert max(timings.values()) < 5, timings  # a generous bound on a shared CI core; ~0.1-0.5 s alone
    if os.environ.get("CYCLE_UPDATE_DOCS_IMAGES"):
        _update_readme_images()


def _update_readme_images() -> None:
    """The README's copies, as 256-colour PNGs (a third of the size; the pages are flat colour)."""
    from PIL import Image

    for name in README_IMAGES:
        image = Image.open(SCREENSHOTS / f"{name}.png").convert("RGB")
        image = image.quantize(colors=256, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
        image.save(ROOT / "docs" / "images" / f"dashboard-{name}.png", optimize=True)


def test_the_heatmap_marks_the_slots_the_api_recommends(watched, dashboard):
    recommended = defaultdict(set)
    for rec in _walk(dashboard, "/v1/recommendations", kind="posting_slot"):
        if rec["status"] in ("open", "applied"):
            start = datetime.fromisoformat(rec["slot_start"])
            recommended[rec["platform"]].add((WEEKDAYS[(start.weekday() + 1) % 7], start.hour))
    assert recommended, "the fixture's snapshot recommends no posting slot"
    open_logged_in(watched, dashboard, "/dashboard/heatmap")
    _wait_for_charts(watched.page)
    marked = watched.page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('.js-plotly-plot')].map(el => [
            el.id.replace('heatmap-', ''),
            (el.data.find(t => t.name === 'Recommended slot') || {x: [], y: []})
        ]).map(([platform, t]) => [platform, t.x.map((hour, i) => [t.y[i], hour])])
    )""")
    assert {p: {tuple(s) for s in slots} for p, slots in marked.items() if slots} == dict(recommended)
    assert watched.problems() == []


def test_apply_and_dismiss_change_the_status_the_api_reports(watched, dashboard):
    open_logged_in(watched, dashboard, "/dashboard/recommendations?kind=posting_slot")
    page = watched.page
    rows = page.locator("tr[data-status=open]")
    assert rows.count() >= 2
    first, second = (rows.nth(i).get_attribute("data-recommendation") for i in (0, 1))
    assert _api(dashboard, f"/v1/recommendations/{first}")["status"] == "open"
    with page.expect_navigation():
        page.click(f"tr[data-recommendation={first}] button.apply")
    assert f"Recommendation {first} is now applied" in page.inner_text(".flash")
    with page.expect_navigation():
        page.click(f"tr[data-recommendation={second}] button.dismiss")
    assert f"Recommendation {second} is now dismissed" in page.inner_text(".flash")
    # through the JSON API: the decisions are in the API's store, and the list shows them at once
    assert _api(dashboard, f"/v1/recommendations/{first}")["status"] == "applied"
    assert _api(dashboard, f"/v1/recommendations/{second}")["status"] == "dismissed"
    assert page.get_attribute(f"tr[data-recommendation={first}]", "data-status") == "applied"
    assert page.get_attribute(f"tr[data-recommendation={second}]", "data-status") == "dismissed"
    assert page.locator(f"tr[data-recommendation={first}] button").count() == 0
    assert watched.problems() == []


def test_a_read_only_key_gets_no_buttons_and_a_forged_form_stores_nothing(watched, dashboard):
    open_logged_in(watched, dashboard, "/dashboard/recommendations?status=open", token=dashboard.read_only_token)
    page = watched.page
    assert page.locator("tr[data-status=open]").count() > 0 and page.locator("button.apply").count() == 0
    assert "lacks the 'feedback' scope" in page.inner_text("main")
    target = page.get_attribute("tr[data-status=open]", "data-recommendation")
    # a request with the full key's cookie but without the page's CSRF token (what another site could forge)
    forged = httpx.post(f"{dashboard.base_url}/dashboard/recommendations/{target}/apply",
                        cookies={"cycle_dashboard_key": dashboard.token}, data={"csrf_token": "0" * 64},
                        follow_redirects=False)
    assert forged.status_code == 403
    read_only = httpx.post(f"{dashboard.base_url}/dashboard/recommendations/{target}/apply",
                           cookies={"cycle_dashboard_key": dashboard.read_only_token}, data={}, follow_redirects=False)
    assert read_only.status_code == 403 and "feedback" in read_only.text
    assert _api(dashboard, f"/v1/recommendations/{target}")["status"] == "open"


def test_an_open_page_follows_a_new_snapshot_without_a_reload(watched, dashboard):
    open_logged_in(watched, dashboard, "/dashboard")
    page = watched.page
    _wait_for_charts(page)
    before = page.inner_text("#published-at")
    page.evaluate("window.__sameDocument = true")
    manifest_path = dashboard.serving / "manifest.json"
    original = manifest_path.read_bytes()
    manifest = json.loads(original)
    manifest["published_at"] = (datetime.fromisoformat(manifest["published_at"]) + timedelta(hours=1)).isoformat()
    try:
        _publish_manifest(manifest_path, json.dumps(manifest).encode())
        page.wait_for_function("b => document.getElementById('published-at').textContent !== b", arg=before,
                               timeout=10_000)
        assert page.evaluate("window.__sameDocument") is True  # updated in place: not a reload
        _wait_for_charts(page)
        assert watched.problems() == []
    finally:
        _publish_manifest(manifest_path, original)


def _publish_manifest(path, data: bytes) -> None:
    fresh = path.with_name(".manifest.json.tmp")
    fresh.write_bytes(data)
    os.replace(fresh, path)  # as the publisher does: the manifest last, atomically


def test_swagger_ui_renders_with_the_network_cut(watched, dashboard):
    page = watched.page
    page.goto(dashboard.base_url + "/v1/docs")
    page.wait_for_selector("#swagger-ui .information-container .title", timeout=15_000)
    page.wait_for_selector("#swagger-ui .opblock", timeout=15_000)
    assert "Cycle API" in page.inner_text("#swagger-ui .title")
    assert watched.cut == [] and watched.problems() == []


def test_the_health_page_shows_champion_and_challengers_and_opens_the_drift_report(watched, dashboard):
    models = _api(dashboard, "/v1/models")
    (champion,) = [v for v in models["versions"] if v["role"] == "champion"]
    assert models["drift"] and models["drift"]["report_available"], models["detail"]
    open_logged_in(watched, dashboard, "/dashboard/health")
    page = watched.page
    _wait_for_charts(page)
    assert page.locator("#health-models.js-plotly-plot").count() == 1  # holdout error per version, with the threshold
    versions = page.locator("section.panel", has=page.locator("#health-models")).locator("tbody tr")
    assert versions.count() == len(models["versions"])
    rows = [versions.nth(i).inner_text() for i in range(versions.count())]
    assert any(f"v{champion['model_version']}\tchampion" in row for row in rows), rows
    drift = page.locator("section.panel", has=page.locator("#drift-report-link"))
    assert drift.locator("tbody tr").count() == len(models["drift"]["columns"])
    assert watched.problems() == []
    href = page.get_attribute("#drift-report-link", "href")
    assert href == "/dashboard/health/drift-report"
    report = httpx.get(dashboard.base_url + href, cookies={"cycle_dashboard_key": dashboard.token})
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert report.headers["content-security-policy"].startswith("sandbox allow-scripts;")
    # Evidently's page draws itself in the sandbox with the network cut: no origin, no request leaves 127.0.0.1
    page.goto(dashboard.base_url + href)
    page.wait_for_function("() => document.body && document.body.innerText.length > 200", timeout=15_000)
    assert watched.cut == [], watched.cut
    page.screenshot(path=str(SCREENSHOTS / "drift-report.png"))
