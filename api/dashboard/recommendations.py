"""``/dashboard/recommendations``: what to do next, with apply and dismiss buttons.

The list is ``/v1/recommendations``' own handler, so a status is what the JSON API says now: a decision stored
since the snapshot shows at once (its ``overlay`` of the API's store), an expiry as soon as it passes. A button
POSTs a form (the cookie's key, which must hold the ``feedback`` scope, and the page's CSRF token) that goes
through the JSON endpoints' own steps (``api.routes.feedback``: the body parsed and bounded as theirs, then
``_decide``: the workspace's row looked up, a repeated decision answered from the store, a conflict refused,
the decision stored in the API's inbound store), and the request leaves the same audit record. Then the browser
is sent back to the list (post, redirect, get), which says what happened.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import plotly.graph_objects as go
from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from analytics_assets.contracts.recommendations import KINDS, STATUSES
from api.dashboard.layout import (
    COLORS, Panel, empty_panel, fetch, figure_panel, number, percent, render_page, template_from_string, utc, walk,
)
from api.dashboard.session import (
    PREFIX, DashboardRefusal, Viewer, authenticate, check_csrf, csrf_token, read_form, safe_next, session_key,
)
from api.dashboard.text import label
from api.routes.feedback import RECOMMENDATION_ID_PATTERN, ApplyRequest, DismissRequest, _decide, _parse
from api.routes.recommendations import list_recommendations

router = APIRouter(prefix=PREFIX, include_in_schema=False)

MAX_ROWS = 100  # rows in the table (the chart counts them all); narrow with ?kind= and ?status=
DECISIONS = {"apply": ApplyRequest, "dismiss": DismissRequest}
OUTCOMES = {"stored", "repeated", "conflict", "gone", "invalid", "unavailable"}

_TABLE = """
<div class="table-wrap"><table class="recommendations">
<thead><tr><th>status</th><th>kind</th><th>account</th><th>action</th><th>expected</th><th>90% interval</th>
<th>confidence</th><th>expires</th><th></th></tr></thead>
<tbody>
{% for r in rows %}
<tr data-recommendation="{{ r.recommendation_id }}" data-status="{{ r.status }}">
  <td class="status">{{ r.status }}</td>
  <td>{{ r.kind }}</td>
  <td>{{ r.platform }} · {{ r.account_id }}</td>
  <td>{{ r.action }}<br><small class="note">{{ r.evidence }}</small></td>
  <td>{{ fmt(r.expected_value) }} {{ r.expected_metric }}</td>
  <td>{{ fmt(r.expected_low) }} – {{ fmt(r.expected_high) }}</td>
  <td>{{ pct(r.confidence) }}</td>
  <td>{{ when(r.expires_at) }}</td>
  <td class="actions">
  {% if r.status == "open" and can_decide %}
    <form method="post" action="{{ prefix }}/recommendations/{{ r.recommendation_id }}/apply">
      <input type="hidden" name="csrf_token" value="{{ csrf }}">
      <input type="hidden" name="back" value="{{ back }}">
      <button type="submit" class="apply">Apply</button>
    </form>
    <form method="post" action="{{ prefix }}/recommendations/{{ r.recommendation_id }}/dismiss">
      <input type="hidden" name="csrf_token" value="{{ csrf }}">
      <input type="hidden" name="back" value="{{ back }}">
      <button type="submit" class="dismiss">Dismiss</button>
    </form>
  {% endif %}
  </td>
</tr>
{% endfor %}
</tbody></table></div>
"""


def _status_figure(rows: list[Any]) -> go.Figure:
    counts = Counter((r.kind, r.status) for r in rows)
    kinds = [k for k in KINDS if any(kind == k for kind, _ in counts)]
    fig = go.Figure()
    for i, status in enumerate(STATUSES):
        fig.add_trace(go.Bar(x=kinds, y=[counts.get((k, status), 0) for k in kinds], name=status,
                             marker_color=COLORS[i % len(COLORS)]))
    fig.update_layout(barmode="stack", yaxis={"title": "recommendations"}, height=300)
    return fig


def _promise_figure(rows: list[Any]) -> go.Figure:
    shown = rows[:40]
    names = [label(f"{r.platform} · {r.action}") for r in shown]
    fig = go.Figure(go.Scatter(
        x=[r.expected_value for r in shown], y=names, mode="markers", name="expected",
        marker={"color": ["#2563eb" if r.kind == "posting_slot" else "#9333ea" for r in shown], "size": 9},
        error_x={"type": "data", "symmetric": False, "array": [r.expected_high - r.expected_value for r in shown],
                 "arrayminus": [r.expected_value - r.expected_low for r in shown]},
        hovertemplate="%{y}<br>expected %{x:.1f}<extra></extra>",
    ))
    fig.update_layout(xaxis={"title": "expected outcome with its 90% interval"}, yaxis={"automargin": True},
                      height=max(300, 22 * len(shown) + 80), showlegend=False)
    return fig


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


def _flash(params: dict[str, str]) -> tuple[str | None, str]:
    """The line that says what a decision did (from the redirect's query: our own values, checked again)."""
    outcome = params.get("outcome")
    if outcome not in OUTCOMES:
        return None, "good"
    rec = params.get("decided", "")
    rec = rec if re.fullmatch(RECOMMENDATION_ID_PATTERN, rec) else None
    status = params.get("became", "")
    status = status if status in STATUSES else "decided"
    if outcome == "gone" or (rec is None and outcome in ("stored", "repeated", "conflict")):
        return "No such recommendation in this workspace; nothing was stored.", "bad"
    return {
        "stored": (f"Recommendation {rec} is now {status}.", "good"),
        "repeated": (f"Recommendation {rec} was already {status}; nothing new was stored.", "good"),
        "conflict": (f"Recommendation {rec} is already {status}; nothing was stored.", "bad"),
        "invalid": ("That decision could not be read; nothing was stored.", "bad"),
        "unavailable": ("The API's store cannot be written now; nothing was stored. Try again later.", "bad"),
    }[outcome]


@router.get("/recommendations", response_class=HTMLResponse)
def recommendations_page(request: Request, principal: Viewer, kind: str | None = None, status: str | None = None) -> HTMLResponse:
    store = request.app.state.store
    kind, status = _choice(kind, KINDS), _choice(status, STATUSES)
    listed = fetch(lambda: walk(list_recommendations, request=request, store=store, principal=principal,
                                feedback=request.app.state.feedback_store, status=None, kind=kind, platform=None,
                                account_id=None))
    flash, flash_kind = _flash(dict(request.query_params))
    title = "Recommendations"
    if not listed.value:
        panel = empty_panel(title, listed if listed.value is None else "No recommendation yet.")
        return render_page(request, principal, active="/recommendations", title=title, panels=[panel], flash=flash,
                           flash_kind=flash_kind)
    rows = listed.value
    shown = [r for r in rows if status is None or r.status == status]
    token = session_key(request)  # checked by Viewer just now
    can_decide = principal.key.allows("feedback")
    filters = {k: v for k, v in (("kind", kind), ("status", status)) if v}
    back = request.url.path + (f"?{urlencode(filters)}" if filters else "")
    table = template_from_string(_TABLE).render(
        rows=shown[:MAX_ROWS], prefix=PREFIX, csrf=csrf_token(token), back=back, can_decide=can_decide,
        fmt=lambda v: number(v, 1), pct=percent, when=utc,
    )
    open_rows = [r for r in rows if r.status == "open"]
    panels: list[Panel] = [
        figure_panel("By kind and status", _status_figure(rows), "recommendations-status",
                     note="Status now: decisions taken since the snapshot count at once."),
    ]
    if open_rows:
        panels.append(figure_panel("Open promises", _promise_figure(open_rows), "recommendations-promises",
                                   note="The soonest open recommendations: expected outcome and its 90% interval."))
    note = f"{len(shown)} recommendations ({' · '.join(f'{k}={v}' for k, v in filters.items()) or 'all'}); the first {MAX_ROWS} are listed, soonest slot first."
    if not can_decide:
        note += " This key lacks the 'feedback' scope: it can read recommendations but not apply or dismiss them."
    panels.append(Panel(title="List", note=note, html=Markup(table)))
    return render_page(request, principal, active="/recommendations", title=title, panels=panels, flash=flash,
                       flash_kind=flash_kind,
                       intro=f"Filter with ?status={'|'.join(STATUSES)} and ?kind={'|'.join(KINDS)}.")


@router.post("/recommendations/{recommendation_id}/{decision}")
async def decide(request: Request, recommendation_id: str, decision: str) -> RedirectResponse:
    if decision not in DECISIONS:
        raise DashboardRefusal(404, "No such action: a recommendation is applied or dismissed.")
    principal, token = await run_in_threadpool(authenticate, request, "feedback")
    form = await read_form(request)
    check_csrf(form, token)
    back = safe_next(form.get("back"))
    if not back.startswith(f"{PREFIX}/recommendations"):
        back = f"{PREFIX}/recommendations"
    if not re.fullmatch(RECOMMENDATION_ID_PATTERN, recommendation_id):  # names no recommendation: never echoed
        return _back(back, {"outcome": "gone"})
    params = {"decided": recommendation_id}  # names apart from the list's own filters (kind, status)
    fields = {k: v for k, v in form.items() if k in ("reason", "applied_post_id") and v.strip()}
    try:
        body = _parse(DECISIONS[decision], json.dumps(fields).encode("utf-8"))
        status, answer = await run_in_threadpool(
            _decide, request.app.state.store, request.app.state.feedback_store, principal, recommendation_id,
            decision, body, request.app.state.now(),
        )
    except RequestValidationError:
        return _back(back, {**params, "outcome": "invalid"})
    except HTTPException as exc:
        return _back(back, {**params, "outcome": "gone" if exc.status_code == 404 else "unavailable"})
    if isinstance(answer, JSONResponse):  # 409: the other decision, an expiry or a newer run closed it
        conflict = json.loads(answer.body)
        return _back(back, {**params, "outcome": "conflict", "became": conflict.get("status", "")})
    return _back(back, {**params, "outcome": "stored" if status == 201 else "repeated", "became": answer.status})


def _back(back: str, params: dict[str, Any]) -> RedirectResponse:
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}{urlencode(params)}", status_code=303)
