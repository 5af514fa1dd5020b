"""``/dashboard/campaigns``: the paid platforms side by side (``/v1/platforms/comparison``) and every campaign's
lifetime spend against its conversion value (``/v1/campaigns``)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from plotly.subplots import make_subplots

from api.dashboard.layout import Panel, empty_panel, fetch, figure_panel, money, number, percent, render_page, walk
from api.dashboard.session import PREFIX, Viewer
from api.dashboard.text import label
from api.routes.campaigns import list_campaigns
from api.routes.rollups import platform_comparison

router = APIRouter(prefix=PREFIX, include_in_schema=False)

MAX_CAMPAIGNS = 25  # the largest by spend in the chart; every campaign in the table


def _platform_figure(platforms: list[Any]) -> go.Figure:
    names = [label(p.platform) for p in platforms]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=names, y=[p.spend_usd for p in platforms], name="Spend (USD)", marker_color="#f97316"))
    fig.add_trace(go.Bar(x=names, y=[p.revenue_usd for p in platforms], name="Revenue (USD, platform-reported)",
                         marker_color="#2563eb"))
    fig.add_trace(go.Scatter(x=names, y=[p.roas for p in platforms], name="ROAS", mode="markers",
                             marker={"size": 12, "color": "#111827", "symbol": "diamond"}), secondary_y=True)
    fig.update_layout(barmode="group", height=360)
    fig.update_yaxes(title_text="USD", secondary_y=False)
    fig.update_yaxes(title_text="ROAS", secondary_y=True, showgrid=False)
    return fig


def _campaign_figure(campaigns: list[Any]) -> go.Figure:
    top = sorted((c for c in campaigns if c.totals is not None), key=lambda c: -c.totals.spend_usd)[:MAX_CAMPAIGNS]
    names = [label(f"{c.platform} · {c.campaign_name or c.campaign_id}") for c in top]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[c.totals.spend_usd for c in top], name="Spend (USD)", marker_color="#f97316"))
    fig.add_trace(go.Bar(x=names, y=[c.totals.conversion_value_usd for c in top], name="Conversion value (USD)",
                         marker_color="#2563eb"))
    fig.update_layout(barmode="group", xaxis={"tickangle": -35}, yaxis={"title": "USD"}, height=420)
    return fig


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(request: Request, principal: Viewer) -> HTMLResponse:
    store = request.app.state.store
    panels: list[Panel] = []
    comparison = fetch(lambda: platform_comparison(store, principal, platform=None, start=None, end=None))
    title = "Paid platforms"
    if comparison.value is not None and comparison.value.platforms:
        rows = comparison.value.platforms
        table = [{"platform": p.platform, "spend": money(p.spend_usd), "revenue": money(p.revenue_usd),
                  "ROAS": number(p.roas, 2), "conversions": number(p.conversions, 1), "CPA": money(p.cpa_usd),
                  "CTR": percent(p.ctr, 2), "share of spend": percent(p.share_of_spend)} for p in rows]
        panels.append(figure_panel(title, _platform_figure(rows), "campaigns-platforms", table=table,
                                   columns=list(table[0]),
                                   note="Every served day, summed over the workspace's ad accounts."))
    else:
        panels.append(empty_panel(title, comparison if comparison.value is None else "No paid delivery yet."))
    campaigns = fetch(lambda: walk(list_campaigns, store=store, principal=principal, platform=None))
    title = "Campaigns"
    if campaigns.value and any(c.totals is not None for c in campaigns.value):
        table = [{"platform": c.platform, "campaign": c.campaign_name or c.campaign_id,
                  "status": c.campaign_status or "–",
                  "objective": c.objective or "–", "spend": money(c.totals.spend_usd if c.totals else None),
                  "conversions": number(c.totals.conversions if c.totals else None, 1),
                  "ROAS": number(c.totals.roas if c.totals else None, 2)} for c in campaigns.value]
        panels.append(figure_panel(title, _campaign_figure(campaigns.value), "campaigns-spend", table=table,
                                   columns=list(table[0]),
                                   note=f"Lifetime spend and conversion value, the {MAX_CAMPAIGNS} largest by spend."))
    else:
        panels.append(empty_panel(title, campaigns if campaigns.value is None else "No campaign delivered yet."))
    return render_page(request, principal, active="/campaigns", title="Campaigns and platforms", panels=panels)
