"""``/dashboard/heatmap``: engagement by weekday and UTC hour of publication per organic platform
(``/v1/engagement/heatmap``), with the slots the posting policy recommends now marked on it (the posting-slot
recommendations of ``/v1/recommendations`` that are open or applied: the current plan)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.dashboard.layout import Panel, empty_panel, fetch, figure_panel, number, render_page, walk
from api.dashboard.session import PREFIX, Viewer
from api.routes.posts import heatmap
from api.routes.recommendations import list_recommendations

router = APIRouter(prefix=PREFIX, include_in_schema=False)

WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")  # publish_dow 0..6
CURRENT = ("open", "applied")  # the plan as it stands: not expired, superseded or dismissed
MARKER_NAME = "Recommended slot"


def publish_dow(weekday: int) -> int:
    """Python's weekday (Monday 0) as the heatmap's publish_dow (Sunday 0)."""
    return (weekday + 1) % 7


def recommended_slots(recommendations: list[Any]) -> dict[str, dict[tuple[int, int], list[Any]]]:
    """platform -> (publish_dow, hour) -> the current posting-slot recommendations for that slot."""
    slots: dict[str, dict[tuple[int, int], list[Any]]] = defaultdict(lambda: defaultdict(list))
    for rec in recommendations:
        if rec.kind == "posting_slot" and rec.status in CURRENT and rec.slot_start is not None:
            slots[rec.platform][(publish_dow(rec.slot_start.weekday()), rec.slot_start.hour)].append(rec)
    return slots


def _figure(cells: list[Any], marked: dict[tuple[int, int], list[Any]]) -> go.Figure:
    z: list[list[float | None]] = [[None] * 24 for _ in WEEKDAYS]
    posts: list[list[int]] = [[0] * 24 for _ in WEEKDAYS]
    for c in cells:
        z[c.publish_dow][c.publish_hour] = c.avg_engagement_score
        posts[c.publish_dow][c.publish_hour] = c.posts
    fig = go.Figure(go.Heatmap(
        z=z, x=list(range(24)), y=list(WEEKDAYS), customdata=posts, colorscale="Blues", name="Engagement",
        colorbar={"title": "mean score"}, hoverongaps=False,
        hovertemplate="%{y} %{x}:00 UTC<br>mean engagement score %{z:.1f}<br>%{customdata} posts<extra></extra>",
    ))
    if marked:
        keys = sorted(marked)
        fig.add_trace(go.Scatter(
            x=[hour for _, hour in keys], y=[WEEKDAYS[dow] for dow, _ in keys], mode="markers", name=MARKER_NAME,
            marker={"symbol": "star", "size": 15, "color": "#f97316", "line": {"color": "#111827", "width": 1}},
            customdata=[len(marked[k]) for k in keys],
            hovertemplate="recommended: %{y} %{x}:00 UTC<br>%{customdata} planned post(s)<extra></extra>",
        ))
    fig.update_layout(xaxis={"title": "hour of publication (UTC)", "dtick": 2},
                      yaxis={"autorange": "reversed"}, height=340, showlegend=bool(marked))
    return fig


@router.get("/heatmap", response_class=HTMLResponse)
def heatmap_page(request: Request, principal: Viewer) -> HTMLResponse:
    store = request.app.state.store
    grid = fetch(lambda: heatmap(store, principal, platform=None))
    recs = fetch(lambda: walk(list_recommendations, request=request, store=store, principal=principal,
                              feedback=request.app.state.feedback_store, status=None, kind="posting_slot",
                              platform=None, account_id=None))
    slots = recommended_slots(recs.value or [])
    intro = ("Mean engagement score of the workspace's posts by weekday and hour of publication (UTC). Stars mark the "
             "slots the posting policy recommends now (open or applied posting-slot recommendations).")
    if grid.value is None or not grid.value.cells:
        panel = empty_panel("Engagement by hour", grid if grid.value is None else "No posts published yet.")
        return render_page(request, principal, active="/heatmap", title="Posting heatmap", intro=intro, panels=[panel])
    by_platform: dict[str, list[Any]] = defaultdict(list)
    for cell in grid.value.cells:
        by_platform[cell.platform].append(cell)
    panels: list[Panel] = []
    for platform in sorted(by_platform):
        marked = slots.get(platform, {})
        table = [
            {"weekday": WEEKDAYS[dow], "hour (UTC)": f"{hour:02d}:00", "planned posts": len(items),
             "expected score": number(sum(r.expected_value for r in items) / len(items), 1)}
            for (dow, hour), items in sorted(marked.items())
        ]
        note = (f"{sum(c.posts for c in by_platform[platform])} posts; {len(marked)} recommended slot(s)"
                if marked else f"{sum(c.posts for c in by_platform[platform])} posts; no recommended slot open now")
        panels.append(figure_panel(
            platform, _figure(by_platform[platform], marked), f"heatmap-{platform}", note=note,
            table=table or None, columns=["weekday", "hour (UTC)", "planned posts", "expected score"],
        ))
    if recs.value is None:
        panels.append(empty_panel("Recommended slots", recs))
    return render_page(request, principal, active="/heatmap", title="Posting heatmap", intro=intro, panels=panels)
