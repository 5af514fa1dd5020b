"""``/dashboard/content``: what content engages. Hook templates per account with the 95% interval the
warehouse computed (``/v1/content/hooks``), and media types and topics per platform (``/v1/content/performance``):
each value's mean daily engagement rate with a 95% t interval over the days it was active, so a value seen on
two days does not look as sure as one seen on thirty."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from scipy import stats

from api.dashboard.layout import COLORS, Panel, empty_panel, fetch, figure_panel, render_page, walk
from api.dashboard.session import PREFIX, Viewer
from api.dashboard.text import label
from api.routes.content import content_performance, hook_success

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def daily_rate_interval(
    days: list[tuple[float, float]], level: float = 0.95
) -> tuple[float, float | None, float | None, int]:
    """Mean of the daily engagement rates (engagements / impressions of each day with impressions) and its t
    interval; the bounds are None with fewer than two days."""
    rates = [e / i for e, i in days if i > 0]
    n = len(rates)
    mean = sum(rates) / n
    if n < 2:
        return mean, None, None, n
    sd = math.sqrt(sum((r - mean) ** 2 for r in rates) / (n - 1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return mean, max(0.0, mean - half), mean + half, n


def _hooks_figure(hooks: list[Any]) -> go.Figure:
    fig = go.Figure()
    by_account: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for h in hooks:
        if h.mean_engagement_rate is not None:
            by_account[(h.platform, h.account_id)].append(h)
    for i, ((platform, account), rows) in enumerate(sorted(by_account.items())):
        rows.sort(key=lambda h: h.hook_type)
        fig.add_trace(go.Bar(
            x=[label(h.hook_type) for h in rows], y=[h.mean_engagement_rate for h in rows],
            name=label(f"{platform} · {account}"), marker_color=COLORS[i % len(COLORS)],
            error_y={"type": "data", "symmetric": False,
                     "array": [None if h.ci_upper is None else h.ci_upper - h.mean_engagement_rate for h in rows],
                     "arrayminus": [None if h.ci_lower is None else h.mean_engagement_rate - h.ci_lower for h in rows]},
            customdata=[[h.posts, h.hook_rank if h.hook_rank is not None else "–"] for h in rows],
            hovertemplate="%{x}: %{y:.2%}<br>%{customdata[0]} posts, rank %{customdata[1]}<extra>%{fullData.name}</extra>",
        ))
    fig.update_layout(barmode="group", yaxis={"title": "mean engagement rate", "tickformat": ".1%"}, height=380)
    return fig


def _dimension_figure(rows: list[Any]) -> tuple[go.Figure, list[dict[str, Any]]]:
    days: dict[tuple[str, str], dict[Any, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for r in rows:
        day = days[(r.platform, r.dimension_value)][r.metric_date]
        day[0] += r.engagements or 0
        day[1] += r.impressions or 0
    table = []
    fig = go.Figure()
    platforms = sorted({p for p, _ in days})
    for i, platform in enumerate(platforms):
        values = sorted(v for p, v in days if p == platform)
        points = []
        for value in values:
            series = [(e, imp) for e, imp in days[(platform, value)].values()]
            if not any(imp > 0 for _, imp in series):
                continue
            mean, low, high, n = daily_rate_interval(series)
            points.append((value, mean, low, high, n))
            table.append({"platform": platform, "value": value, "days": n, "mean daily rate": f"{mean:.2%}",
                          "95% interval": "–" if low is None else f"{low:.2%} – {high:.2%}"})
        fig.add_trace(go.Bar(
            x=[label(v) for v, *_ in points], y=[m for _, m, *_ in points], name=label(platform),
            marker_color=COLORS[i % len(COLORS)],
            error_y={"type": "data", "symmetric": False,
                     "array": [None if hi is None else hi - m for _, m, _, hi, _ in points],
                     "arrayminus": [None if lo is None else m - lo for _, m, lo, _, _ in points]},
            customdata=[n for *_, n in points],
            hovertemplate="%{x}: %{y:.2%} over %{customdata} days<extra>%{fullData.name}</extra>",
        ))
    fig.update_layout(barmode="group", yaxis={"title": "mean daily engagement rate", "tickformat": ".1%"}, height=360)
    return fig, table


@router.get("/content", response_class=HTMLResponse)
def content_page(request: Request, principal: Viewer) -> HTMLResponse:
    store = request.app.state.store
    panels: list[Panel] = []
    hooks = fetch(lambda: walk(hook_success, store=store, principal=principal, platform=None, account=None))
    title = "Hook templates"
    if hooks.value:
        panels.append(figure_panel(
            title, _hooks_figure(hooks.value), "content-hooks",
            note="Mean engagement rate of each account's posts per hook template, with its 95% interval "
                 "(agg_account_hook_success; no bar for a single post's interval).",
        ))
    else:
        panels.append(empty_panel(title, hooks if hooks.value is None else "No scored posts yet."))
    for dimension, title in (("media_type", "Media types"), ("topic", "Topics")):
        rows = fetch(lambda: walk(content_performance, store=store, principal=principal, platform=None, account=None,
                                  dimension=dimension, start=None, end=None))
        if rows.value:
            fig, table = _dimension_figure(rows.value)
            panels.append(figure_panel(
                title, fig, f"content-{dimension}", table=table,
                columns=["platform", "value", "days", "mean daily rate", "95% interval"],
                note="Per platform: the mean of the daily engagement rates of the posts with each value, with a 95% "
                     "t interval over the days they were active.",
            ))
        else:
            panels.append(empty_panel(title, rows if rows.value is None else "No content data yet."))
    return render_page(request, principal, active="/content", title="Content effectiveness", panels=panels,
                       intro="Which hooks, media types and topics engage, and how sure that is.")
