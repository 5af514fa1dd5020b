"""``/dashboard/attribution``: each channel's share of the conversions under all seven attribution models side by
side, over the window the data-driven models were fitted on (``/v1/attribution/models``)."""

from __future__ import annotations

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.dashboard.layout import COLORS, empty_panel, fetch, figure_panel, number, render_page
from api.dashboard.session import PREFIX, Viewer
from api.dashboard.text import label
from api.routes.attribution import ModelComparisonResponse, attribution_models

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _figure(answer: ModelComparisonResponse) -> go.Figure:
    fig = go.Figure()
    channels = [c.channel for c in answer.channels]
    for i, model in enumerate(answer.models):
        shares = []
        for channel in answer.channels:
            credit = next((m for m in channel.models if m.model == model), None)
            shares.append(None if credit is None else credit.share)
        fig.add_trace(go.Bar(x=[label(c) for c in channels], y=shares, name=label(model.value),
                             marker_color=COLORS[i % len(COLORS)],
                             hovertemplate="%{x}: %{y:.1%}<extra>%{fullData.name}</extra>"))
    fig.update_layout(barmode="group", yaxis={"title": "share of conversions", "tickformat": ".0%"}, height=400)
    return fig


@router.get("/attribution", response_class=HTMLResponse)
def attribution_page(request: Request, principal: Viewer) -> HTMLResponse:
    store = request.app.state.store
    answer = fetch(lambda: attribution_models(store, principal))
    title = "Credit per channel under each model"
    if answer.value is None or not answer.value.channels:
        panel = empty_panel(title, answer if answer.value is None else "No tracked conversion in this workspace yet.")
        return render_page(request, principal, active="/attribution", title="Attribution", panels=[panel])
    result: ModelComparisonResponse = answer.value
    models = [m.value for m in result.models]
    table = []
    for channel in result.channels:
        row = {"channel": channel.channel}
        for credit in channel.models:
            row[credit.model.value] = number(credit.conversions, 1)
        table.append({"channel": row["channel"], **{m: row.get(m, "–") for m in models}})
    panel = figure_panel(
        title, _figure(result), "attribution-models", table=table, columns=["channel", *models],
        note=f"Conversions of {result.window_start} to {result.window_end}: rule-based models (first touch, last touch, "
             "linear, time decay, position based) beside the data-driven ones (Markov removal effect, Shapley value). "
             "The table gives the credited conversions.",
    )
    return render_page(request, principal, active="/attribution", title="Attribution by model", panels=[panel])
