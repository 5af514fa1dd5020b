"""The dashboard's shared page: nav bar, panels, figures, the "no data yet" panel, and the login form.

Everything is rendered by Jinja2 with autoescaping on, so account names, post excerpts and every other value
that came from a platform or a user are text, never markup. Figures are built server-side with
``plotly.graph_objects`` and embedded as their JSON (``fig.to_json()``) in a ``<script type="application/json">``
element, with ``<``, ``>`` and ``&`` written as JSON escapes so no value can close the element; the dashboard's
own script (``/dashboard/static/dashboard.js``) draws them with the plotly.js the plotly package ships. No page
holds an inline script, so the Content-Security-Policy allows scripts from this origin only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import plotly.graph_objects as go
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import DictLoader, Environment, select_autoescape
from markupsafe import Markup

from api.auth import Principal
from api.dashboard.session import PREFIX, csrf_token
from api.store import ServingFileInvalid, ServingFileMissing

T = TypeVar("T")

# (path under /dashboard, label): the nav bar, in order
PAGES = (
    ("", "Overview"),
    ("/heatmap", "Posting heatmap"),
    ("/content", "Content"),
    ("/boosts", "Boosts"),
    ("/attribution", "Attribution"),
    ("/campaigns", "Campaigns"),
    ("/recommendations", "Recommendations"),
    ("/health", "Model health"),
)

# scripts and styles from this origin only; plotly.js sets element styles and draws images from data: URIs
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages hold the workspace's numbers: never kept by a shared cache
}

PLOT_CONFIG = {"displaylogo": False, "responsive": True}
COLORS = ("#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777")


# ---------------------------------------------------------------------------------------------------
# What a page is made of
# ---------------------------------------------------------------------------------------------------


@dataclass
class Panel:
    """One box of a page: a title, a line saying what it shows, and a figure, a table or a "no data" note."""

    title: str
    note: str | None = None
    figure: str | None = None  # the figure's JSON, escaped for a script element (figure_json)
    figure_id: str | None = None
    table: list[dict[str, Any]] | None = None
    columns: list[str] = field(default_factory=list)
    empty: str | None = None  # why there is nothing to show (no data yet, an unreadable file)
    error: bool = False  # the served file is unreadable, not merely empty
    html: Markup | None = None  # extra markup built by the page's own template (forms)


@dataclass
class Fetched:
    """A route function's answer, or why there is none (nothing published yet, an unreadable file)."""

    value: Any = None
    empty: str | None = None
    error: bool = False


NO_DATA = "No data yet: run `make demo`, or materialize the serving_snapshot asset, to publish the serving files."


def fetch(call: Callable[[], T]) -> Fetched:
    """Run one of the API's own route functions; a missing or unreadable served file becomes a panel's note."""
    try:
        return Fetched(call())
    except ServingFileMissing:
        return Fetched(empty=NO_DATA)
    except ServingFileInvalid as exc:
        return Fetched(empty=f"This data cannot be shown: {exc}", error=True)
    except HTTPException as exc:
        if exc.status_code == 404:
            return Fetched(empty=f"No data yet: {exc.detail}")
        raise


def walk(page: Callable[..., Any], **kwargs: Any) -> list[Any]:
    """Every item of a paginated route function (``items``/``rows`` and ``next_cursor``)."""
    items: list[Any] = []
    cursor = None
    while True:
        answer = page(limit=1000, cursor=cursor, **kwargs)
        items += answer.rows if hasattr(answer, "rows") else answer.items
        cursor = answer.next_cursor
        if cursor is None:
            return items


def figure_json(fig: go.Figure) -> str:
    """The figure as JSON that is safe inside ``<script type="application/json">`` (no ``<``, ``>``, ``&``)."""
    fig.update_layout(
        margin={"l": 50, "r": 20, "t": 40, "b": 40}, template="plotly_white", font={"family": "system-ui, sans-serif"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )
    raw = fig.to_json()
    return raw.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def figure_panel(title: str, fig: go.Figure, figure_id: str, note: str | None = None, **extra: Any) -> Panel:
    return Panel(title=title, note=note, figure=figure_json(fig), figure_id=figure_id, **extra)


def empty_panel(title: str, why: Fetched | str, note: str | None = None) -> Panel:
    if isinstance(why, Fetched):
        return Panel(title=title, note=note, empty=why.empty or NO_DATA, error=why.error)
    return Panel(title=title, note=note, empty=why)


def money(value: float | None) -> str:
    return "–" if value is None else f"${value:,.2f}"


def number(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def utc(value: datetime | None) -> str:
    return "–" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------------

_BASE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · Cycle</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{ prefix }}/static/dashboard.css">
{% if figures %}<script src="{{ prefix }}/static/plotly.min.js" defer></script>{% endif %}
<script src="{{ prefix }}/static/dashboard.js" defer></script>
</head>
<body>
{% if nav %}
<nav class="nav">
  <span class="brand">Cycle</span>
  {% for path, label in pages %}
  <a href="{{ prefix }}{{ path }}"{% if path == active %} class="active" aria-current="page"{% endif %}>{{ label }}</a>
  {% endfor %}
  <span class="who">workspace {{ workspace }}</span>
  <form method="post" action="{{ prefix }}/logout" class="logout"><button type="submit">Log out</button></form>
</nav>
{% endif %}
<main id="content"{% if nav %} data-live="{{ prefix }}/events" data-snapshot="{{ snapshot }}"{% endif %}>
{% block main %}{% endblock %}
</main>
</body>
</html>
"""

_PAGE = """{% extends "base" %}
{% block main %}
<header class="page-head">
  <h1>{{ title }}</h1>
  <p class="snapshot">Snapshot published <span id="published-at">{{ published }}</span></p>
  {% if intro %}<p class="intro">{{ intro }}</p>{% endif %}
  {% if links %}<p class="windows">{% for href, text, current in links %}<a href="{{ href }}"{% if current %} aria-current="true" class="current"{% endif %}>{{ text }}</a>{% endfor %}</p>{% endif %}
  {% if flash %}<p class="flash {{ flash_kind }}" role="status">{{ flash }}</p>{% endif %}
</header>
{% if cards %}
<section class="cards">
  {% for card in cards %}
  <div class="card{% if card.flag %} flagged{% endif %}" data-metric="{{ card.metric }}">
    <div class="label">{{ card.label }}{% if card.platform_reported %} <abbr title="platform-reported conversions, summed across ad platforms">*</abbr>{% endif %}</div>
    <div class="value">{{ card.value }}</div>
    <div class="change {{ card.direction }}">{{ card.change }}</div>
    <div class="previous">previous {{ card.previous }}</div>
  </div>
  {% endfor %}
</section>
{% endif %}
{% for panel in panels %}
<section class="panel{% if panel.error %} error{% endif %}">
  <h2>{{ panel.title }}</h2>
  {% if panel.note %}<p class="note">{{ panel.note }}</p>{% endif %}
  {% if panel.empty %}
  <div class="no-data{% if panel.error %} unreadable{% endif %}">{{ panel.empty }}</div>
  {% else %}
  {% if panel.figure %}
  <div class="figure" id="{{ panel.figure_id }}" data-figure="{{ panel.figure_id }}-data"></div>
  <script type="application/json" id="{{ panel.figure_id }}-data">{{ panel.figure | safe }}</script>
  {% endif %}
  {% if panel.table %}
  <div class="table-wrap"><table>
    <thead><tr>{% for column in panel.columns %}<th>{{ column }}</th>{% endfor %}</tr></thead>
    <tbody>
    {% for row in panel.table %}
      <tr>{% for column in panel.columns %}<td>{{ row[column] }}</td>{% endfor %}</tr>
    {% endfor %}
    </tbody>
  </table></div>
  {% endif %}
  {% if panel.html %}{{ panel.html }}{% endif %}
  {% endif %}
</section>
{% endfor %}
{% endblock %}
"""

_LOGIN = """{% extends "base" %}
{% block main %}
<section class="panel login">
  <h1>Cycle dashboard</h1>
  <p>Paste an API key with the <code>read</code> scope (<code>cycle keys create --workspace default --name dashboard --scopes read,feedback</code>;
  the <code>feedback</code> scope lets you apply and dismiss recommendations). It is kept in a cookie that only
  this dashboard's server reads.</p>
  {% if error %}<p class="flash bad" role="alert">{{ error }}</p>{% endif %}
  <form method="post" action="{{ prefix }}/login" autocomplete="off">
    <input type="hidden" name="next" value="{{ next }}">
    <label for="api_key">API key</label>
    <input type="password" id="api_key" name="api_key" required maxlength="200" placeholder="cyk_..." autofocus>
    <button type="submit">Log in</button>
  </form>
</section>
{% endblock %}
"""

_ERROR = """{% extends "base" %}
{% block main %}
<section class="panel error"><h1>{{ title }}</h1><p>{{ message }}</p><p><a href="{{ prefix }}">Back to the dashboard</a></p></section>
{% endblock %}
"""

_ENV = Environment(
    loader=DictLoader({"base": _BASE, "page": _PAGE, "login": _LOGIN, "error": _ERROR}),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def _template(name: str):
    return _ENV.get_template(name)


def template_from_string(source: str):
    """A page's own fragment (forms), autoescaped like the rest."""
    return _ENV.from_string(source)


def snapshot_tag(request: Request) -> tuple[str, str]:
    """What names the published snapshot (its publication time; the live updates compare it) and its label."""
    try:
        published = request.app.state.store.manifest().published_at
    except ServingFileMissing:
        return "none", "never (nothing published yet)"
    except ServingFileInvalid:
        return "invalid", "unreadable (the manifest cannot be read)"
    if published is None:
        return "unknown", "at an unknown time"
    return published.isoformat(), utc(published)


def _response(body: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def render_page(
    request: Request,
    principal: Principal,
    *,
    active: str,
    title: str,
    panels: Iterable[Panel],
    intro: str | None = None,
    cards: list[dict[str, Any]] | None = None,
    flash: str | None = None,
    flash_kind: str = "good",
    links: list[tuple[str, str, bool]] | None = None,
    status: int = 200,
) -> HTMLResponse:
    panels = list(panels)
    snapshot, published = snapshot_tag(request)
    body = _template("page").render(
        prefix=PREFIX, pages=PAGES, active=active, title=title, panels=panels, intro=intro, cards=cards,
        nav=True, workspace=principal.workspace_id, published=published, snapshot=snapshot, flash=flash,
        flash_kind=flash_kind, figures=any(p.figure for p in panels), links=links,
    )
    return _response(body, status)


def render_login(request: Request, next_path: str, error: str | None = None, status: int = 200,
                 headers: dict[str, str] | None = None) -> HTMLResponse:
    body = _template("login").render(prefix=PREFIX, nav=False, title="Log in", next=next_path, error=error, figures=False)
    return _response(body, status, headers)


def render_error(title: str, message: str, status: int, headers: dict[str, str] | None = None) -> HTMLResponse:
    body = _template("error").render(prefix=PREFIX, nav=False, title=title, message=message, figures=False)
    return _response(body, status, headers)


def form_token(key: str) -> str:
    return csrf_token(key)
