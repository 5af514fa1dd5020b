"""``/dashboard/boosts``: what paying to boost an organic post did. Organic against paid engagements per boost
(the split of ``/v1/boosts/{id}``), and each boost's organic lift over its counterfactual with its interval,
incremental engagements and their cost (``/v1/boosts``)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.dashboard.layout import Panel, empty_panel, fetch, figure_panel, money, number, percent, render_page, walk
from api.dashboard.session import PREFIX, Viewer
from api.dashboard.text import label
from api.routes.boosts import get_boost, list_boosts

router = APIRouter(prefix=PREFIX, include_in_schema=False)

# the newest boosts get a split each (one lookup per boost, as /v1/boosts/{id} answers): a page stays fast
MAX_SPLITS = 30


def _split_figure(details: list[Any]) -> go.Figure:
    names = [label(f"{d.platform} · {d.boost_id}") for d in details]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[d.organic_vs_paid.organic_engagements for d in details], name="Organic engagements",
                         marker_color="#16a34a"))
    fig.add_trace(go.Bar(x=names, y=[d.organic_vs_paid.paid_engagements for d in details], name="Paid engagements",
                         marker_color="#f97316"))
    fig.update_layout(barmode="stack", yaxis={"title": "engagements"}, xaxis={"tickangle": -35}, height=380)
    return fig


def _lift_figure(boosts: list[Any]) -> go.Figure:
    names = [label(f"{b.platform} · {b.boost_id}") for b in boosts]
    fig = go.Figure(go.Bar(
        x=names, y=[b.organic_lift for b in boosts], name="Organic lift",
        marker_color=["#2563eb" if b.significant else "#93c5fd" for b in boosts],
        error_y={"type": "data", "symmetric": False,
                 "array": [None if b.organic_lift_high is None else b.organic_lift_high - b.organic_lift
                           for b in boosts],
                 "arrayminus": [None if b.organic_lift_low is None else b.organic_lift - b.organic_lift_low
                                for b in boosts]},
        customdata=[[money(b.spend_usd), number(b.incremental_engagements), money(b.cost_per_incremental_engagement_usd)]
                    for b in boosts],
        hovertemplate="%{x}<br>organic lift %{y:.0f}<br>spend %{customdata[0]}, incremental %{customdata[1]}, "
                      "%{customdata[2]} each<extra></extra>",
    ))
    fig.update_layout(yaxis={"title": "organic lift (engagements)"}, xaxis={"tickangle": -35},
                      height=380, showlegend=False)
    return fig


@router.get("/boosts", response_class=HTMLResponse)
def boosts_page(request: Request, principal: Viewer) -> HTMLResponse:
    store = request.app.state.store
    listed = fetch(lambda: walk(list_boosts, store=store, principal=principal, platform=None, status=None))
    panels: list[Panel] = []
    if not listed.value:
        panels.append(empty_panel("Boosts", listed if listed.value is None else "No boosted post yet."))
        return render_page(request, principal, active="/boosts", title="Boosts", panels=panels)
    boosts = listed.value
    details = []
    for boost in boosts[:MAX_SPLITS]:
        detail = fetch(lambda: get_boost(store, principal, boost.boost_id))
        if detail.value is not None and detail.value.organic_vs_paid is not None:
            details.append(detail.value)
    title = "Organic against paid, per boost"
    if details:
        panels.append(figure_panel(title, _split_figure(details), "boosts-split",
                                   note=f"Engagements of the boosted post during the flight, the newest {len(details)} "
                                        "boosts with a delivery split."))
    else:
        panels.append(empty_panel(title, "No boost has a delivery split yet."))
    estimated = [b for b in boosts if b.status == "estimated" and b.organic_lift is not None]
    title = "Boost effectiveness"
    if estimated:
        table = [
            {"boost": b.boost_id, "platform": b.platform, "post": b.post_id, "spend": money(b.spend_usd),
             "organic lift": number(b.organic_lift), "relative lift": percent(b.relative_lift),
             "incremental engagements": number(b.incremental_engagements),
             "cost per incremental": money(b.cost_per_incremental_engagement_usd), "ROI": percent(b.roi)}
            for b in estimated
        ]
        panels.append(figure_panel(
            title, _lift_figure(estimated), "boosts-lift", table=table, columns=list(table[0]),
            note="Organic engagements over a counterfactual of comparable unboosted posts, with its interval "
                 "(dark: the interval excludes 0).",
        ))
    else:
        waiting = ", ".join(sorted({b.status for b in boosts}))
        panels.append(empty_panel(title, f"No boost has an estimate yet ({waiting})."))
    return render_page(request, principal, active="/boosts", title="Boosts", panels=panels,
                       intro=f"{len(boosts)} boosted posts in this workspace.")
