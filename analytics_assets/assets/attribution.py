"""Every attribution model side by side on the warehouse's journeys: heuristics, Markov, Shapley.

The dbt marts credit each conversion's touches with the rule-based models; the Markov and Shapley
models need whole paths, the non-converting ones included, so they run here on ``ml.attribution``.
"""

import warnings
from datetime import date, timedelta

import dagster as dg
import pandas as pd
from pydantic import Field

from analytics_assets.partitions import WAREHOUSE_POOL
from analytics_assets.resources import WarehouseResource

COMPARISON_TABLE = "main.agg_attribution_model_comparison"

# One row per path: each conversion owns its journey's touches since the previous conversion
# (int_attribution_touchpoints); the touches after a journey's last conversion, or of a journey that
# never converted, form a path that ended without conversion (a null).
PATH_TOUCHES_SQL = """
with conversions as (
    select conversion_id, journey_id, converted_at, conversion_date, conversion_value_usd
    from main.int_journey_conversions
),
last_conversion as (
    select journey_id, max(converted_at) as last_converted_at from conversions group by journey_id
),
converted as (
    select conversion_id as path_id, channel, touch_position as position, conversion_date as path_date
    from main.int_attribution_touchpoints
),
open_touches as (
    select
        touches.journey_id || '/open' as path_id,
        touches.channel,
        row_number() over (partition by touches.journey_id order by touches.event_at, touches.event_id) as position,
        max(touches.event_date) over (partition by touches.journey_id) as path_date
    from main.stg_touchpoints as touches
    left join last_conversion using (journey_id)
    where touches.event_type = 'touchpoint'
      and (last_conversion.last_converted_at is null or touches.event_at > last_conversion.last_converted_at)
)
select path_id, channel, position, path_date, 1 as converted, conversion_value_usd as value
from converted join conversions on conversions.conversion_id = converted.path_id
union all
select path_id, channel, position, path_date, 0 as converted, 0.0 as value
from open_touches
order by path_id, position
"""


class AttributionComparisonConfig(dg.Config):
    markov_order: int = Field(default=1, ge=1, le=4, description="Order of the Markov chain (states = k channels)")
    lookback_days: int = Field(
        default=90, ge=1, description="Paths that ended in the last N days of the warehouse's journeys"
    )
    seed: int = Field(default=0, description="Seed of every random draw (Shapley sampling of long paths)")
    shapley_game: str = Field(default="incremental", description="incremental or path_subsets")


def _window(touches: pd.DataFrame, lookback_days: int) -> tuple[date, date]:
    end = pd.Timestamp(touches["path_date"].max()).date()
    return end - timedelta(days=lookback_days - 1), end


@dg.asset(
    deps=["int_attribution_touchpoints", "int_journey_conversions", "stg_touchpoints"],
    group_name="attribution",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "credits_sum_to_totals",
            asset="agg_attribution_model_comparison",
            description="Every model hands out exactly the conversions and the conversion value of the paths.",
        )
    ],
    description="Conversions and USD value credited to each channel by every attribution model "
    "(first/last touch, linear, time decay, position based, Markov removal effect, Shapley) over the "
    "journeys of the lookback window, converted and not.",
)
def agg_attribution_model_comparison(
    context: dg.AssetExecutionContext, config: AttributionComparisonConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from ml.attribution import MODELS, AttributionFitWarning, attribute, paths_from_journeys

    fit_warnings: list[str] = []

    with warehouse.connect() as con:
        rows = con.execute(PATH_TOUCHES_SQL).df()
        if rows.empty:
            credits = pd.DataFrame(columns=["channel", "model", "conversions", "value"])
            start = end = None
            data = None
        else:
            start, end = _window(rows, config.lookback_days)
            rows = rows[(rows["path_date"] >= pd.Timestamp(start)) & (rows["path_date"] <= pd.Timestamp(end))]
            outcomes = rows.drop_duplicates("path_id")[["path_id", "converted", "value"]]
            data = paths_from_journeys(
                rows[["path_id", "channel", "position"]],
                outcomes,
                journey_column="path_id",
                order_columns=("position",),
            )
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", AttributionFitWarning)
                credits = attribute(data, order=config.markov_order, seed=config.seed, shapley_game=config.shapley_game)
            fit_warnings = [str(w.message) for w in caught if issubclass(w.category, AttributionFitWarning)]
            for message in fit_warnings:
                context.log.warning(message)
        totals = credits.groupby("model")[["conversions", "value"]].transform("sum")
        table = credits.assign(
            share=(credits["conversions"] / totals["conversions"]).fillna(0.0),
            value_share=(credits["value"] / totals["value"]).fillna(0.0),
            markov_order=config.markov_order,
            window_start=start,
            window_end=end,
        )
        con.register("_credits", table)
        con.execute(
            f"""create or replace table {COMPARISON_TABLE} as
                select cast(channel as varchar) as channel, cast(model as varchar) as model,
                       cast(conversions as double) as conversions, cast(value as double) as value,
                       cast(share as double) as share, cast(value_share as double) as value_share,
                       cast(markov_order as integer) as markov_order,
                       cast(window_start as date) as window_start, cast(window_end as date) as window_end
                from _credits"""
        )
        con.unregister("_credits")

    if data is None:
        context.log.warning("No journeys in the warehouse yet: wrote an empty comparison.")
        return dg.MaterializeResult(
            metadata={"dagster/row_count": 0, "paths": 0},
            check_results=[dg.AssetCheckResult(check_name="credits_sum_to_totals", passed=True)],
        )
    sums = credits.groupby("model")[["conversions", "value"]].sum()
    off = {
        m: (float(r.conversions - data.total_conversions), float(r.value - data.total_value))
        for m, r in sums.iterrows()
        if abs(r.conversions - data.total_conversions) > 1e-6 * max(1.0, data.total_conversions)
        or abs(r.value - data.total_value) > 1e-6 * max(1.0, data.total_value)
    }
    pivot = credits.pivot(index="channel", columns="model", values="conversions")[list(MODELS)]
    value_pivot = credits.pivot(index="channel", columns="model", values="value")[list(MODELS)]
    order = pivot["markov"].sort_values(ascending=False).index
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "markov_order": config.markov_order,
            "shapley_game": config.shapley_game,
            "window_start": str(start),
            "window_end": str(end),
            "paths": len(data),
            "journeys": int(data.total_journeys),
            "conversions": float(data.total_conversions),
            "conversion_value_usd": round(data.total_value, 2),
            "credited_conversions": dg.MetadataValue.md(pivot.loc[order].round(1).to_markdown()),
            "credited_value_usd": dg.MetadataValue.md(value_pivot.loc[order].round(0).to_markdown()),
            # a model whose assumptions the paths contradict (README: Which attribution model)
            "model_fit_warnings": "\n".join(fit_warnings) or "none",
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="credits_sum_to_totals",
                passed=not off,
                metadata={"models_off_by_conversions_value": str(off) if off else "none"},
            )
        ],
    )
