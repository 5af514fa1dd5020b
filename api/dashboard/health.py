"""``/dashboard/health``: are the models and the data behind the advice healthy?

What the serving snapshot holds about them, through the API's own handlers: the models that produced the served
hours and recommendations (name and version, ``/v1/optimal-hours`` and ``/v1/recommendations``), whether the
applied recommendations kept their promise (outcome coverage of the 90% intervals and bias per kind,
``/v1/recommendations/performance``), and the pipeline's state (``/v1/health``: snapshot age, quality gate,
each asset's last materialization, schedules and sensors). The engagement model's holdout figures (champion
against challenger) and the drift reports are kept by the warehouse and MLflow, not by the snapshot, and the
dashboard reads only the snapshot: the page says so rather than guess them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from analytics_assets.contracts.recommendations import INTERVAL_LEVEL, KINDS
from api.dashboard.layout import Panel, empty_panel, fetch, figure_panel, number, percent, render_page, utc, walk
from api.dashboard.session import PREFIX, Viewer
from api.dashboard.text import label
from api.routes.optimal_hours import optimal_hours
from api.routes.recommendations import list_recommendations, recommendation_performance
from api.routes.status import health

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _coverage_figure(per_kind: dict[str, dict[str, float]]) -> go.Figure:
    kinds = [k for k in KINDS if k in per_kind]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=kinds, y=[per_kind[k]["coverage"] for k in kinds], name="outcomes inside their interval",
                         marker_color="#2563eb", customdata=[per_kind[k]["measured"] for k in kinds],
                         hovertemplate="%{x}: %{y:.0%} of %{customdata} measured outcomes<extra></extra>"))
    fig.add_trace(go.Scatter(x=kinds, y=[INTERVAL_LEVEL] * len(kinds), mode="lines+markers", name="promised (90%)",
                             line={"color": "#dc2626", "dash": "dash"}))
    fig.update_layout(yaxis={"title": "interval coverage", "tickformat": ".0%", "range": [0, 1.05]}, height=320)
    return fig


def _freshness_figure(assets: list[Any], now) -> go.Figure:
    rows = sorted((a for a in assets if a.last_materialized_at is not None), key=lambda a: a.asset_key)
    hours = [(now - a.last_materialized_at).total_seconds() / 3600 for a in rows]
    fig = go.Figure(go.Bar(
        y=[label(a.asset_key) for a in rows], x=hours, orientation="h", marker_color="#0891b2",
        customdata=[utc(a.last_materialized_at) for a in rows],
        hovertemplate="%{y}: %{x:.1f} h ago (%{customdata})<extra></extra>",
    ))
    fig.update_layout(xaxis={"title": "hours since the last materialization"}, yaxis={"automargin": True},
                      height=max(300, 18 * len(rows) + 80), showlegend=False)
    return fig


def coverage_by_kind(items: list[Any]) -> dict[str, dict[str, float]]:
    """Per kind, over the workspace's accounts: measured outcomes and the share inside their interval."""
    measured: Counter[str] = Counter()
    inside: dict[str, float] = defaultdict(float)
    for item in items:
        if item.measured_count and item.interval_coverage is not None:
            measured[item.kind] += item.measured_count
            inside[item.kind] += item.interval_coverage * item.measured_count
    return {k: {"measured": measured[k], "coverage": inside[k] / measured[k]} for k in measured}


@router.get("/health", response_class=HTMLResponse)
def health_page(request: Request, principal: Viewer) -> HTMLResponse:
    store = request.app.state.store
    panels: list[Panel] = []
    state = health(request, store, principal)  # always answers: it reports missing files itself
    flash = f"Status {state.status}: " + (state.detail or "every served file matches its manifest.")

    # the models behind what is served
    hours = fetch(lambda: optimal_hours(store, principal, platform=None, top=3))
    recs = fetch(lambda: walk(list_recommendations, request=request, store=store, principal=principal,
                              feedback=request.app.state.feedback_store, status=None, kind=None, platform=None,
                              account_id=None))
    models = []
    for p in (hours.value.platforms if hours.value is not None else []):
        models.append({"platform": p.platform, "serves": "optimal hours", "model": p.model_name or "–",
                       "version": p.model_version or "–", "since": utc(p.generated_at),
                       "top hours (UTC)": ", ".join(f"{h.publish_hour:02d}:00" for h in p.hours)})
    versions = Counter((r.platform, r.model_name, r.model_version) for r in recs.value or [] if r.model_name)
    evidence = {(r.platform, r.model_name, r.model_version): r.evidence for r in recs.value or [] if r.model_name}
    for (platform, name, version), count in sorted(versions.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        models.append({"platform": platform, "serves": f"{count} recommendations", "model": name,
                       "version": version or "–", "since": "–", "top hours (UTC)": "–",
                       "evidence (one of them)": evidence[(platform, name, version)]})
    for row in models:
        row.setdefault("evidence (one of them)", "–")
    note = ("The engagement model's champion and challenger holdout figures and its drift reports are kept in the "
            "warehouse and MLflow (the Dagster UI shows them); the serving snapshot carries the model each served "
            "answer came from.")
    if models:
        panels.append(Panel(title="Models in service", note=note, table=models, columns=list(models[0])))
    else:
        panels.append(empty_panel("Models in service", hours if hours.value is None else "No model output served yet.",
                                  note=note))

    performance = fetch(lambda: recommendation_performance(store, principal, platform=None))
    title = "Did the recommendations keep their promise?"
    per_kind = coverage_by_kind(performance.value.items) if performance.value is not None else {}
    if per_kind:
        table = [
            {"kind": i.kind, "account": f"{i.platform} · {i.account_id}", "applied": i.applied_count,
             "dismissed": i.dismissed_count, "adoption": percent(i.adoption_rate), "measured": i.measured_count,
             "coverage": percent(i.interval_coverage), "bias": percent(i.bias),
             "lift vs baseline": percent(i.realized_lift_vs_baseline)}
            for i in performance.value.items
        ]
        panels.append(figure_panel(title, _coverage_figure(per_kind), "health-coverage", table=table,
                                   columns=list(table[0]),
                                   note="Share of the measured outcomes of applied recommendations that fell inside "
                                        "their promised 90% interval, per kind, against the 90% promised."))
    else:
        waiting = None
        if performance.value is not None:
            applied = sum(i.applied_count for i in performance.value.items)
            waiting = (f"No measured outcome yet: {applied} applied recommendation(s) are waiting for their outcome "
                       "(a post's engagement at 7 days).")
        panels.append(empty_panel(title, performance if performance.value is None else waiting))

    title = "Pipeline freshness"
    if state.assets:
        age = ""
        if state.age_seconds is not None:
            age = (f", {number(state.age_seconds / 3600, 1)} h ago" if state.age_seconds >= 0
                   else ", after the API's clock's now")
        limit = f" (limit {number(state.max_age_seconds / 3600)} h)." if state.max_age_seconds else "."
        panels.append(figure_panel(title, _freshness_figure(state.assets, request.app.state.now()), "health-assets",
                                   note=f"Snapshot published {utc(state.published_at)}{age}{limit}"))
        skipped = [a for a in state.assets if getattr(a, "skip_reason", None)]
        if skipped:
            panels.append(Panel(title="Skipped assets", note="Materialized without computing anything, and why.",
                                table=[{"asset": a.asset_key, "why": a.skip_reason} for a in skipped],
                                columns=["asset", "why"]))
    else:
        panels.append(empty_panel(title, "No asset has been materialized into the snapshot yet."
                                  if state.status != "no_data" else "No data yet: nothing has been published."))
    if state.quality_gate:
        gate = state.quality_gate
        panels.append(Panel(title="Quality gate", table=[{
            "status": gate.get("status", "–"), "checked at": gate.get("checked_at", "–"),
            "failed checks": ", ".join(str(c) for c in gate.get("failed_checks") or []) or "none",
        }], columns=["status", "checked at", "failed checks"]))
    if state.automation:
        panels.append(Panel(title="Schedules and sensors", table=[
            {"name": a.name, "kind": a.kind, "status": a.status, "last tick": utc(a.last_tick_at),
             "result": a.last_tick_status or "–"} for a in state.automation
        ], columns=["name", "kind", "status", "last tick", "result"]))
    return render_page(request, principal, active="/health", title="Model and pipeline health", panels=panels,
                       flash=flash, flash_kind="good" if state.status == "ok" else "warn")
