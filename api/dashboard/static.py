"""The dashboard's files, served by the API itself under ``/dashboard/static/``: no CDN, so it works offline and
tells no third party who reads it.

* ``plotly.min.js``: the plotly.js bundle that the installed plotly package ships (``plotly/package_data``), the
  same version the server's ``plotly.graph_objects`` figures are built for;
* ``dashboard.js``: draws each page's figures from their embedded JSON and keeps the page live (it listens to
  ``/dashboard/events`` and swaps in the page's new content when a snapshot is published);
* ``dashboard.css``.

Kept as strings in this module (and plotly's file from its package) rather than as package data, so an install
of the package always carries them. None of them needs a key: they hold no data.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

PLOTLY_JS = Path(str(files("plotly") / "package_data" / "plotly.min.js"))

DASHBOARD_JS = r"""(function () {
  "use strict";

  // each figure's JSON sits in a <script type="application/json"> next to its element (no inline scripts)
  function draw(root) {
    if (!window.Plotly) { return; }
    root.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-figure"));
      if (!source) { return; }
      var fig = JSON.parse(source.textContent);
      window.Plotly.newPlot(el, fig.data, fig.layout, {displaylogo: false, responsive: true});
    });
  }

  // a published snapshot replaces the page's content in place: the overview is live without a reload
  function refresh(main, snapshot) {
    fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("content");
        if (!fresh) { return; }
        main.innerHTML = fresh.innerHTML;
        main.setAttribute("data-snapshot", fresh.getAttribute("data-snapshot") || snapshot);
        draw(main);
      })
      .catch(function () { /* the next snapshot event tries again */ });
  }

  function live() {
    var main = document.getElementById("content");
    if (!main || !window.EventSource || !main.getAttribute("data-live")) { return; }
    var events = new EventSource(main.getAttribute("data-live"));
    events.addEventListener("snapshot", function (event) {
      if (event.data !== main.getAttribute("data-snapshot")) {
        main.setAttribute("data-snapshot", event.data);
        refresh(main, event.data);
      }
    });
    window.addEventListener("pagehide", function () { events.close(); });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); live(); });
})();
"""

DASHBOARD_CSS = """
:root { color-scheme: light; --ink: #111827; --muted: #6b7280; --line: #e5e7eb; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f8fafc; }
.nav { display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: center; padding: 10px 20px; background: #0f172a; }
.nav a { color: #cbd5e1; text-decoration: none; padding: 4px 2px; }
.nav a.active, .nav a:hover { color: #fff; border-bottom: 2px solid #60a5fa; }
.nav .brand { color: #fff; font-weight: 700; margin-right: 10px; }
.nav .who { margin-left: auto; color: #94a3b8; }
.nav .logout button { background: none; color: #cbd5e1; border: 1px solid #334155; border-radius: 4px; padding: 3px 8px; cursor: pointer; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 22px; margin: 4px 0; }
h2 { font-size: 16px; margin: 0 0 6px; }
.snapshot, .note, .intro { color: var(--muted); margin: 2px 0 8px; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin: 14px 0; }
.panel.error { border-color: #fca5a5; }
.figure { min-height: 320px; }
.no-data { padding: 24px; text-align: center; color: var(--muted); background: #f1f5f9; border-radius: 6px; }
.no-data.unreadable { color: #991b1b; background: #fef2f2; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; margin: 12px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card.flagged { border-style: dashed; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 20px; font-weight: 600; }
.card .change.up { color: #15803d; } .card .change.down { color: #b91c1c; } .card .change.none { color: var(--muted); }
.card .previous { color: var(--muted); font-size: 12px; }
.flash { padding: 8px 12px; border-radius: 6px; }
.flash.good { background: #ecfdf5; color: #065f46; } .flash.bad { background: #fef2f2; color: #991b1b; }
.flash.warn { background: #fffbeb; color: #92400e; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td form { display: inline; }
button { font: inherit; }
.actions button { border: 1px solid var(--line); background: #fff; border-radius: 4px; padding: 2px 8px; cursor: pointer; }
.actions button.apply { border-color: #16a34a; color: #166534; }
.status { font-weight: 600; }
.login { max-width: 460px; margin: 60px auto; }
.login input[type=password] { width: 100%; padding: 8px; margin: 6px 0 10px; border: 1px solid var(--line); border-radius: 6px; }
.login button { background: var(--accent); color: #fff; border: 0; padding: 8px 14px; border-radius: 6px; cursor: pointer; }
.windows a { margin-right: 10px; }
.windows a.current { font-weight: 700; color: var(--ink); text-decoration: none; }
"""

_JS_ETAG = f'"{hashlib.sha256(DASHBOARD_JS.encode()).hexdigest()[:16]}"'
_CSS_ETAG = f'"{hashlib.sha256(DASHBOARD_CSS.encode()).hexdigest()[:16]}"'
# the files change only with a new install: a browser may keep them for an hour
_CACHE = "public, max-age=3600"

router = APIRouter(prefix="/dashboard/static", include_in_schema=False)


@router.get("/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": _CACHE})


@router.get("/dashboard.js")
def dashboard_js() -> Response:
    return Response(DASHBOARD_JS, media_type="text/javascript", headers={"Cache-Control": _CACHE, "ETag": _JS_ETAG})


@router.get("/dashboard.css")
def dashboard_css() -> Response:
    return Response(DASHBOARD_CSS, media_type="text/css", headers={"Cache-Control": _CACHE, "ETag": _CSS_ETAG})
