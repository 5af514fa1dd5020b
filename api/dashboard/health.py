"""``/dashboard/health``: are the models and the data behind the advice healthy?

What the serving snapshot holds about them, through the API's own handlers: the engagement model's recent
retrains, champion against challenger, with the promotion gate's holdout errors and the threshold a challenger had
to beat, the champion's live error against its holdout error and the ratios that warn and ask for a retrain, and
the newest drift day's per-column tests with a link to Evidently's report page (``/v1/models``, published from the
Dagster instance and the warehouse by the serving asset); the models that produced the served hours and
recommendations (``/v1/optimal-hours``, ``/v1/recommendations``); whether the applied recommendations kept their
promise (outcome coverage of the 90% intervals and bias per kind, ``/v1/recommendations/performance``); and the
pipeline's state (``/v1/health``: snapshot age, quality gate, each asset's last materialization, schedules and
sensors).

The drift report page (``/dashboard/health/drift-report``) is Evidently's own, inline scripts included: it is served
as published, behind the dashboard's login, with a sandboxing Content-Security-Policy of its own (no origin, so no
cookie or storage of the dashboard; no network), to a key whose workspace owns every served account only (it draws
every workspace's posts).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from analytics_assets.contracts.recommendations import INTERVAL_LEVEL, KINDS
from analytics_assets.contracts.serving import DRIFT_REPORT
from api.dashboard.layout import (
    Panel, empty_panel, fetch, figure_panel, number, percent, render_page, template_from_string, utc, walk,
)
from api.dashboard.session import PREFIX, DashboardRefusal, Viewer
from api.dashboard.text import label
from api.routes.optimal_hours import optimal_hours
from api.routes.recommendations import list_recommendations, recommendation_performance
from api.routes.models import model_health, owns_every_account
from api.routes.status import health
from api.store import ServingFileInvalid, ServingFileMissing

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


# Evidently's page runs its own inline scripts; sandboxed without allow-same-origin it has an opaque origin (no
# cookie, no storage of the dashboard), and default-src 'none' leaves it no network at all
REPORT_CSP = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
REPORT_PATH = "/health/drift-report"
ROLE_COLORS = {"champion": "#16a34a", "challenger": "#f97316", "retired": "#94a3b8"}


def _sig(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _versions_figure(versions: list[Any]) -> go.Figure:
    """Each retrain's holdout error beside the champion's on the same posts, and the error it had to reach."""
    shown = list(reversed([v for v in versions if v.holdout_rmse_log is not None]))  # oldest on the left
    x = [f"v{v.model_version} ({v.role})" for v in shown]
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=x, y=[v.holdout_rmse_log for v in shown], name="its holdout rmse_log",
        marker_color=[ROLE_COLORS.get(v.role, "#2563eb") for v in shown],
        customdata=[v.decision or "–" for v in shown], hovertemplate="%{x}: %{y:.4g} (%{customdata})<extra></extra>",
        width=[0.5] * len(shown) if len(shown) < 4 else None,  # one or two versions: not a wall of colour
    ))
    compared = [(xi, v) for xi, v in zip(x, shown) if v.champion_holdout_rmse_log is not None]
    if compared:
        fig.add_trace(go.Scatter(
            x=[xi for xi, _ in compared], y=[v.champion_holdout_rmse_log for _, v in compared], mode="markers",
            name="the champion's, same posts", marker={"color": "#111827", "symbol": "diamond", "size": 10},
            hovertemplate="champion v%{customdata}: %{y:.4g}<extra></extra>",
            customdata=[v.compared_with or "?" for _, v in compared],
        ))
        fig.add_trace(go.Scatter(
            x=[xi for xi, _ in compared],
            y=[(1 - (v.promotion_margin or 0)) * v.champion_holdout_rmse_log for _, v in compared],
            mode="markers", name="promotion threshold", marker={"color": "#dc2626", "symbol": "line-ew-open",
                                                                 "size": 26, "line": {"width": 3}},
            hovertemplate="needed at most %{y:.4g}<extra></extra>",
        ))
    fig.update_layout(yaxis={"title": "holdout rmse_log (log1p engagement)", "rangemode": "tozero"}, height=320)
    return fig


def _live_figure(live: Any) -> go.Figure:
    fig = go.Figure(go.Bar(
        x=[live.error_ratio], y=[f"champion v{live.model_version}"], orientation="h", name="live / holdout error",
        marker_color={"ok": "#16a34a", "warn": "#ca8a04", "retrain": "#dc2626"}.get(live.status, "#2563eb"),
        hovertemplate="live error %{x:.2f}x its holdout error<extra></extra>",
    ))
    for ratio, name, color in ((live.warn_ratio, "warns", "#ca8a04"), (live.retrain_ratio, "retrain", "#dc2626")):
        if ratio is not None:
            fig.add_vline(x=ratio, line={"color": color, "dash": "dash"},
                          annotation={"text": f"{name} at {ratio - 1:+.0%}", "font": {"color": color}})
    top = max(v for v in (live.error_ratio, live.retrain_ratio, 1.0) if v is not None) * 1.15
    fig.update_layout(xaxis={"title": "live rmse_log / holdout rmse_log", "range": [0, top]}, height=220,
                      showlegend=False)
    return fig


_REPORT_LINK = template_from_string(
    '<p class="report-link"><a id="drift-report-link" href="{{ href }}" target="_blank" rel="noopener">'
    "Evidently's drift report of {{ day }}</a> (opens in a sandbox: its own scripts, no network).</p>"
)


def model_panels(answer: Any) -> list[Panel]:
    """The engagement model's retrains, live accuracy and drift (``/v1/models``), or why there are none."""
    title = "Engagement model: champion and challengers"
    if answer.value is None:
        return [empty_panel(title, answer)]
    health = answer.value
    panels: list[Panel] = []
    if health.versions:
        table = [
            {"version": f"v{v.model_version}", "role": v.role, "trained": utc(v.trained_at), "decision": v.decision or "–",
             "vs champion": f"v{v.compared_with}" if v.compared_with else "–",
             "holdout rmse_log": _sig(v.holdout_rmse_log), "champion's": _sig(v.champion_holdout_rmse_log),
             "gain": percent(v.holdout_improvement), "holdout MAE": _sig(v.holdout_mae),
             "shadow rmse_log": _sig(v.shadow_rmse_log), "champion's shadow": _sig(v.champion_shadow_rmse_log),
             "posts (holdout / shadow)": f"{number(v.holdout_posts)} / {number(v.shadow_posts)}",
             "reason": v.reason or ("withheld" if "reason" in health.withheld else "–")}
            for v in health.versions
        ]
        margin = next((v.promotion_margin for v in health.versions if v.promotion_margin is not None), None)
        note = ("Each retrain is a challenger: it replaces the champion only when its error (RMSE of log1p "
                f"engagement) is at least {percent(margin, 0)} below the champion's on the same holdout posts and on "
                "the posts neither model saw. Bars: each version's holdout error; diamonds: the champion's on the "
                "same posts; red marks: the error a promotion needed.")
        if health.withheld:
            note += " Post counts and reasons total every workspace's posts: shown to a workspace that owns every account."
        panels.append(figure_panel(title, _versions_figure(health.versions), "health-models", note=note, table=table,
                                   columns=list(table[0])))
    else:
        panels.append(empty_panel(title, health.detail or "No engagement model has been trained yet."))

    title = "Champion's live accuracy"
    live = health.live_accuracy
    if live is not None and live.error_ratio is not None:
        table = [{"champion": f"v{live.model_version}", "window": f"{live.window_start} – {live.window_end}",
                  "posts": number(live.window_posts), "live rmse_log": _sig(live.live_rmse_log),
                  "holdout rmse_log": _sig(live.holdout_rmse_log), "ratio": f"{live.error_ratio:.2f}x",
                  "status": live.status}]
        panels.append(figure_panel(
            title, _live_figure(live), "health-live", table=table, columns=list(table[0]),
            note="Its error on the newest realized posts it never saw, against its own holdout error: "
                 f"{percent((live.warn_ratio or 0) - 1, 0)} above warns, {percent((live.retrain_ratio or 0) - 1, 0)} "
                 "above asks for a retrain.",
        ))
    elif live is not None:
        panels.append(empty_panel(title, f"Too few realized posts since the champion v{live.model_version}'s training "
                                         f"data to compare ({live.status})."))
    elif health.versions:
        panels.append(empty_panel(title, "Not evaluated yet (ml_champion_live_accuracy)."))

    title = "Feature drift"
    drift = health.drift
    if drift is not None:
        table = [{"column": c.column, "test": c.test or "–", "score": _sig(c.score), "threshold": _sig(c.threshold),
                  "drifted": "yes" if c.drifted else "no"} for c in drift.columns]
        verdict = "drifted" if drift.dataset_drift else "no dataset drift"
        note = (f"{drift.day}: posts of the last days against the champion v{drift.model_version}'s reference window "
                f"({drift.reference_start} – {drift.reference_end or '…'}): {percent(drift.drift_share, 0)} of the "
                f"columns drifted, {verdict} (the dataset drifts at {percent(drift.drift_share_threshold, 0)}). "
                "A column drifts when its test's p-value is below the threshold.")
        link = (_REPORT_LINK.render(href=f"{PREFIX}{REPORT_PATH}", day=drift.day) if drift.report_available
                else "<p>Evidently's report page draws every workspace's posts: shown to a workspace that owns every "
                     "account.</p>")
        panels.append(Panel(title=f"{title} ({drift.day}: {verdict})", note=note, table=table,
                            columns=list(table[0]) if table else [], html=Markup(link)))
    else:
        panels.append(empty_panel(title, "No drift report yet: ml_feature_drift compares each new day with the "
                                         "champion's training window once there is a champion."))
    return panels


@router.get(REPORT_PATH, include_in_schema=False)
def drift_report(request: Request, principal: Viewer) -> Response:
    """Evidently's report page of the newest drift day, as published, sandboxed (``REPORT_CSP``)."""
    store = request.app.state.store
    if not owns_every_account(store, principal):
        raise DashboardRefusal(403, "The drift report draws the posts of every workspace: it is shown to a "
                                    "workspace that owns every account.")
    try:
        page = store.published_bytes(DRIFT_REPORT)
    except ServingFileMissing:
        raise DashboardRefusal(404, "No drift report has been published yet.") from None
    except ServingFileInvalid as exc:
        raise DashboardRefusal(503, f"The drift report cannot be shown: {exc.reason}") from None
    return Response(page, media_type="text/html; charset=utf-8", headers={
        "Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    })


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
    panels += model_panels(fetch(lambda: model_health(store, principal)))
    note = "The model each served answer came from."
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
