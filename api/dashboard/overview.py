"""``/dashboard``: the overview cards (``/v1/overview``'s metrics over a window against the previous window of
equal length, with the change; flagged when the previous window is incomplete, exactly as the API computes it)
and the window's daily spend, revenue and organic engagement (``/v1/rollups/daily``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.dashboard.layout import Panel, empty_panel, fetch, figure_panel, money, number, percent, render_page, walk
from api.dashboard.session import PREFIX, Viewer
from api.overview import OverviewResponse, overview
from api.routes.rollups import rollups_daily

router = APIRouter(prefix=PREFIX, include_in_schema=False)

WINDOWS = (7, 14, 28)  # days a window may span here (any other value reads as the default)
LABELS = {
    "spend_usd": "Spend", "revenue_usd": "Revenue", "profit_usd": "Profit", "margin": "Margin", "roas": "ROAS",
    "paid_conversions": "Conversions", "cpa_usd": "CPA", "paid_impressions": "Paid impressions",
    "paid_clicks": "Paid clicks", "ctr": "CTR", "organic_impressions": "Organic impressions",
    "organic_engagements": "Organic engagements", "organic_engagement_rate": "Engagement rate",
    "posts_published": "Posts published", "ai_calls": "AI calls", "ai_cost_usd": "AI cost",
}
MONEY = {"spend_usd", "revenue_usd", "profit_usd", "cpa_usd", "ai_cost_usd"}
RATES = {"margin", "ctr", "organic_engagement_rate"}
LOWER_IS_BETTER = {"spend_usd", "cpa_usd", "ai_cost_usd"}


def _format(metric: str, value: float | None) -> str:
    if metric in MONEY:
        return money(value)
    if metric in RATES:
        return percent(value, 2)
    if metric == "roas":
        return "–" if value is None else f"{value:.2f}x"
    return number(value)


def cards(answer: OverviewResponse) -> list[dict[str, Any]]:
    out = []
    for m in answer.metrics:
        if m.change_pct is None:
            change = "change n/a" if not answer.previous_complete else "no change figure"
            direction = "none"
        else:
            change = f"{'+' if m.change_pct >= 0 else ''}{m.change_pct * 100:.1f}%"
            better = (m.change_pct < 0) if m.metric in LOWER_IS_BETTER else (m.change_pct > 0)
            direction = "none" if m.change_pct == 0 else ("up" if better else "down")
        out.append({
            "metric": m.metric, "label": LABELS.get(m.metric, m.metric), "value": _format(m.metric, m.current),
            "previous": _format(m.metric, m.previous), "change": change, "direction": direction,
            "flag": not answer.previous_complete, "platform_reported": m.platform_reported,
        })
    return out


def _daily_figure(rows: list[Any]) -> go.Figure:
    paid: dict[Any, dict[str, float]] = defaultdict(lambda: {"spend": 0.0, "revenue": 0.0})
    organic: dict[Any, float] = defaultdict(float)
    for r in rows:
        if r.channel_type == "paid":
            paid[r.metric_date]["spend"] += r.spend_usd or 0.0
            paid[r.metric_date]["revenue"] += r.revenue_usd or 0.0
        else:
            organic[r.metric_date] += r.engagements or 0
    days = sorted(set(paid) | set(organic))
    fig = go.Figure()
    fig.add_trace(go.Bar(x=days, y=[paid[d]["spend"] for d in days], name="Spend (USD)", marker_color="#f97316"))
    fig.add_trace(go.Bar(x=days, y=[paid[d]["revenue"] for d in days], name="Revenue (USD, platform-reported)",
                         marker_color="#2563eb"))
    fig.add_trace(go.Scatter(x=days, y=[organic[d] for d in days], name="Organic engagements", yaxis="y2",
                             mode="lines+markers", line={"color": "#16a34a"}))
    fig.update_layout(barmode="group", yaxis={"title": "USD"},
                      yaxis2={"title": "engagements", "overlaying": "y", "side": "right", "showgrid": False})
    return fig


@router.get("", response_class=HTMLResponse)
def overview_page(request: Request, principal: Viewer, days: str | None = None) -> HTMLResponse:
    store = request.app.state.store
    window = next((d for d in WINDOWS if days == str(d)), WINDOWS[0])  # anything else reads as the default
    answer = fetch(lambda: _window(store, principal, window))
    panels: list[Panel] = []
    intro = (
        "Each metric over the window ending on the latest day with data, against the window of equal length just "
        "before it. * rests on the conversions each ad platform reports (summed across platforms)."
    )
    links = [(f"{PREFIX}?days={d}", f"{d} days", d == window) for d in WINDOWS]
    if answer.value is None:
        return render_page(request, principal, active="", title="Overview", intro=intro, links=links,
                           panels=[empty_panel("Overview", answer)])
    result: OverviewResponse = answer.value
    flash, kind = None, "good"
    if not result.previous_complete:
        flash, kind = f"Change not shown: {result.change_unavailable_reason}.", "warn"
    daily = fetch(lambda: walk(rollups_daily, store=store, principal=principal, platform=None,
                               start=result.previous_start, end=result.end))
    title = f"Daily paid and organic results, {result.previous_start} to {result.end}"
    if daily.value:
        panels.append(figure_panel(title, _daily_figure(daily.value), "overview-daily",
                                   note="The window and the previous one: spend and revenue of the ad platforms, "
                                        "engagements of the organic posts."))
    else:
        panels.append(empty_panel(title, daily if daily.value is None else "No day of data in this window yet."))
    return render_page(
        request, principal, active="", title=f"Overview: {result.start} to {result.end} ({result.days} days)",
        intro=intro, cards=cards(result), panels=panels, flash=flash, flash_kind=kind, links=links,
    )


def _window(store, principal, days: int) -> OverviewResponse:
    """The API's own overview over the ``days`` ending on the latest day with data (its default end; its default
    window is 7 days)."""
    latest = overview(store, principal, start=None, end=None)
    if latest.days == days:
        return latest
    return overview(store, principal, start=latest.end - timedelta(days=days - 1), end=latest.end)
