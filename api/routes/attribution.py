"""``GET /v1/attribution`` (one model, any date window) and ``GET /v1/attribution/models`` (all seven side
by side). Journeys belong to a web property, an account of platform ``web``: the workspace sees its
properties' conversions.

The five rule-based models credit each conversion on its own day (``attribution_daily.parquet``), so any
window is an exact sum. Markov and Shapley are fitted on the set of paths of the modelled window
(``attribution_models.parquet``); they are served for that window only, and a request for another window
says so (422) rather than answer for a window they were not fitted on.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from analytics_assets.contracts.serving import ATTRIBUTION_DAILY, ATTRIBUTION_MODELS
from api.auth import Reader
from api.routes.common import DATA_ERRORS, EndParam, StartParam, Store, build, check_window, issue
from api.schemas import (
    ATTRIBUTION_MODELS as MODEL_NAMES,
    RULE_BASED_MODELS,
    Amount,
    AttributionModel,
    AttributionResponse,
    ChannelCredit,
    Money,
    Rate,
)

router = APIRouter(tags=["attribution"])

ModelParam = Annotated[AttributionModel, Query(description="Attribution model: " + ", ".join(MODEL_NAMES) + ".")]

_DAILY_SQL = """
SELECT CAST(channel AS VARCHAR) AS channel,
       sum(CAST(conversions AS DOUBLE)) AS conversions,
       sum(CAST(conversion_value AS DOUBLE)) AS conversion_value,
       min(CAST(conversion_date AS DATE)) AS first_day, max(CAST(conversion_date AS DATE)) AS last_day
FROM src
WHERE channel IS NOT NULL AND CAST(model AS VARCHAR) = $model
  AND (CAST($start AS DATE) IS NULL OR CAST(conversion_date AS DATE) >= CAST($start AS DATE))
  AND (CAST($end AS DATE) IS NULL OR CAST(conversion_date AS DATE) <= CAST($end AS DATE))
GROUP BY ALL
ORDER BY conversions DESC NULLS LAST, channel
"""

# the comparison table: one row per property, model and channel over the property's modelled window
_MODELS_SQL = """
SELECT CAST(model AS VARCHAR) AS model, CAST(channel AS VARCHAR) AS channel,
       sum(CAST(conversions AS DOUBLE)) AS conversions, sum(CAST(value AS DOUBLE)) AS conversion_value,
       min(CAST(window_start AS DATE)) AS window_start, max(CAST(window_end AS DATE)) AS window_end
FROM src
WHERE channel IS NOT NULL AND model IS NOT NULL
  AND (CAST($model AS VARCHAR) IS NULL OR CAST(model AS VARCHAR) = CAST($model AS VARCHAR))
GROUP BY ALL
ORDER BY model, conversions DESC NULLS LAST, channel
"""


def _with_shares(rows: list[dict[str, Any]]) -> tuple[float, float, list[ChannelCredit]]:
    total = sum(r["conversions"] or 0.0 for r in rows)
    value = sum(r["conversion_value"] or 0.0 for r in rows)
    channels = [
        build(
            ChannelCredit, ATTRIBUTION_DAILY, channel=r["channel"], conversions=r["conversions"],
            conversion_value=r["conversion_value"], share=(r["conversions"] or 0.0) / total if total else None,
        )
        for r in rows
    ]
    return total, value, channels


@router.get(
    "/attribution",
    response_model=AttributionResponse,
    responses=DATA_ERRORS,
    summary="Conversion credit per channel under one attribution model",
)
def attribution(
    store: Store, principal: Reader, model: ModelParam, start: StartParam = None, end: EndParam = None
) -> AttributionResponse:
    """Channel credit for the conversions of `start..end` (conversion days, inclusive) under `model`,
    highest first, with the totals; `share` is the channel's share of the credited conversions. Markov and
    Shapley answer for their modelled window only."""
    check_window(start, end)
    if model.value in RULE_BASED_MODELS:
        rows = store.scoped_query(
            ATTRIBUTION_DAILY, principal.accounts, _DAILY_SQL, {"model": model.value, "start": start, "end": end}
        )
        first = min((r["first_day"] for r in rows if r["first_day"]), default=None)
        last = max((r["last_day"] for r in rows if r["last_day"]), default=None)
    else:
        rows = store.scoped_query(ATTRIBUTION_MODELS, principal.accounts, _MODELS_SQL, {"model": model.value})
        first = min((r["window_start"] for r in rows if r["window_start"]), default=None)
        last = max((r["window_end"] for r in rows if r["window_end"]), default=None)
        if (start is not None and start != first) or (end is not None and end != last):
            raise issue(
                "start" if start is not None and start != first else "end",
                f"the {model.value} model is fitted on the paths of its modelled window "
                f"({first.isoformat() if first else '?'}..{last.isoformat() if last else '?'}) and answers for that "
                "window only: omit start and end, or use a rule-based model "
                f"({', '.join(RULE_BASED_MODELS)}) for any other window",
                (start or end).isoformat(),  # type: ignore[union-attr]
            )
    total, value, channels = _with_shares(rows)
    return AttributionResponse(
        model=model, start=start or first, end=end or last,
        total_conversions=total, total_conversion_value=value, channels=channels,
    )


class ModelCredit(BaseModel):
    model: AttributionModel
    conversions: Amount
    conversion_value: Money
    share: Rate | None = Field(description="The channel's share of the model's conversions.")


class ChannelComparison(BaseModel):
    channel: str
    models: list[ModelCredit] = Field(description="One entry per model, in the order of `models`.")


class ModelComparisonResponse(BaseModel):
    window_start: date | None = Field(description="First conversion day of the modelled window.")
    window_end: date | None
    models: list[AttributionModel]
    channels: list[ChannelComparison] = Field(description="Ordered by channel.")


@router.get(
    "/attribution/models",
    response_model=ModelComparisonResponse,
    responses=DATA_ERRORS,
    summary="Every attribution model side by side over the modelled window",
)
def attribution_models(store: Store, principal: Reader) -> ModelComparisonResponse:
    """Each channel's credit under all seven models (first touch, last touch, linear, time decay, position
    based, Markov removal effect, Shapley value), over the window the data-driven models were fitted on."""
    rows = store.scoped_query(ATTRIBUTION_MODELS, principal.accounts, _MODELS_SQL, {"model": None})
    totals: dict[str, float] = {}
    for r in rows:
        totals[r["model"]] = totals.get(r["model"], 0.0) + (r["conversions"] or 0.0)
    models = [m for m in MODEL_NAMES if m in totals]
    by_channel: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        if r["model"] in totals:
            by_channel.setdefault(r["channel"], {})[r["model"]] = r
    channels = [
        ChannelComparison(
            channel=channel,
            models=[
                build(
                    ModelCredit, ATTRIBUTION_MODELS, model=m, conversions=per[m]["conversions"] or 0.0,
                    conversion_value=per[m]["conversion_value"] or 0.0,
                    share=(per[m]["conversions"] or 0.0) / totals[m] if totals[m] else None,
                )
                for m in models if m in per
            ],
        )
        for channel, per in sorted(by_channel.items())
    ]
    return ModelComparisonResponse(
        window_start=min((r["window_start"] for r in rows if r["window_start"]), default=None),
        window_end=max((r["window_end"] for r in rows if r["window_end"]), default=None),
        models=[AttributionModel(m) for m in models],
        channels=channels,
    )
