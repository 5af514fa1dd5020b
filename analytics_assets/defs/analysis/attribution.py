"""Every attribution model side by side on the warehouse's journeys: heuristics, Markov, Shapley.

The dbt marts credit each conversion's touches with the rule-based models; the Markov and Shapley
models need whole paths, the non-converting ones included, so they run here on ``ml.attribution``.
Journeys belong to a web property (the account ``platform='web', account_id=<property id>`` they are
served under): each property gets its own comparison, on its own paths only, over the same window.
"""

import warnings
from datetime import date, timedelta
from typing import TYPE_CHECKING

import dagster as dg
import pandas as pd
from pydantic import Field

from analytics_assets.contracts.serving import WEB_PLATFORM
from analytics_assets.contracts.warehouse import ATTRIBUTION_MODEL_COMPARISON, table_metadata
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.storage.warehouse import replace_table

if TYPE_CHECKING:
    from ml.attribution import PathData

# One row per (path, touch) from dbt: each conversion owns its journey's touches since the previous
# conversion; the touches after a journey's last conversion, or of a journey that never converted, form a
# path that ended without conversion (a null). A path_id is unique within its property.
# Only the window's rows are read: the table holds every path of the history, the comparison its last days.
PATH_TOUCHES_SQL = """select property_id, path_id, channel, position, path_date, converted, value
from main.int_attribution_paths where path_date between ? and ? order by property_id, path_id, position"""

# the comparison's column types, whatever the frame's dtypes (an empty comparison keeps its schema)
COMPARISON_TYPES = {
    "platform": "varchar",
    "account_id": "varchar",
    "channel": "varchar",
    "model": "varchar",
    "conversions": "double",
    "value": "double",
    "share": "double",
    "value_share": "double",
    "markov_order": "integer",
    "window_start": "date",
    "window_end": "date",
}


class AttributionComparisonConfig(dg.Config):
    markov_order: int = Field(default=1, ge=1, le=4, description="Order of the Markov chain (states = k channels)")
    lookback_days: int = Field(
        default=90, ge=1, description="Paths that ended in the last N days of the warehouse's journeys"
    )
    seed: int = Field(default=0, description="Seed of every random draw (Shapley sampling of long paths)")
    shapley_game: str = Field(default="incremental", description="incremental or path_subsets")


def _window(newest: date, lookback_days: int) -> tuple[date, date]:
    """The modelled window: the last ``lookback_days`` days of the warehouse's journeys (``newest``: their newest
    path day), the same for every property (a property that stopped tracking earlier is compared on what it has
    in the window, if any)."""
    end = pd.Timestamp(newest).date()
    return end - timedelta(days=lookback_days - 1), end


def _compare_property(
    touches: pd.DataFrame, config: AttributionComparisonConfig
) -> tuple["PathData", pd.DataFrame, list[str]]:
    """One property's comparison: its paths (``touches``: one row per path and position, of this property
    only) and every model's credits on them, with the fit warnings the models raised."""
    from ml.attribution import AttributionFitWarning, PathDataError, attribute, paths_from_journeys

    outcomes = touches.drop_duplicates("path_id")[["path_id", "converted", "value"]]
    data = paths_from_journeys(
        touches[["path_id", "channel", "position"]],
        outcomes,
        journey_column="path_id",
        order_columns=("position",),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AttributionFitWarning)
        try:
            credits = attribute(data, order=config.markov_order, seed=config.seed, shapley_game=config.shapley_game)
            fallback = []
        except PathDataError as exc:
            # a property's first days of tracking (a few journeys, each channel seen once or twice) can leave the
            # incremental game nothing to share: the path-subsets game still credits every conversion, so the
            # comparison is kept (and says so) instead of failing the whole graph's run
            if config.shapley_game != "incremental":
                raise
            credits = attribute(data, order=config.markov_order, seed=config.seed, shapley_game="path_subsets")
            fallback = [f"Shapley: the path_subsets game instead of the incremental one ({exc})"]
    fit_warnings = [str(w.message) for w in caught if issubclass(w.category, AttributionFitWarning)] + fallback
    return data, credits, fit_warnings


@dg.asset(
    deps=["int_attribution_paths"],
    metadata=table_metadata(ATTRIBUTION_MODEL_COMPARISON),
    group_name="attribution",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "credits_sum_to_totals",
            asset="agg_attribution_model_comparison",
            description="Every model hands out exactly the conversions and the conversion value of each "
            "property's paths.",
        )
    ],
    description="Conversions and USD value credited to each channel by every attribution model "
    "(first/last touch, linear, time decay, position based, Markov removal effect, Shapley) over the "
    "journeys of the lookback window, converted and not: one comparison per web property "
    "(platform 'web', account_id = the property id), on that property's journeys only.",
)
def agg_attribution_model_comparison(
    context: dg.AssetExecutionContext, config: AttributionComparisonConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from ml.attribution import MODELS

    fit_warnings: list[str] = []
    compared = {}  # property id -> (its paths, its credits)

    with warehouse.connect() as con:
        newest = con.execute("select max(path_date) from main.int_attribution_paths").fetchone()[0]
        start = end = None
        if newest is not None:
            start, end = _window(newest, config.lookback_days)
            rows = con.execute(PATH_TOUCHES_SQL, [start, end]).df()
            # each property alone: its Markov chain, Shapley game and totals never see another's journeys
            for property_id, touches in rows.groupby("property_id", sort=True):
                data, credits, caught = _compare_property(touches, config)
                compared[str(property_id)] = (data, credits)
                for message in caught:
                    fit_warnings.append(f"{property_id}: {message}")
                    context.log.warning(f"property {property_id}: {message}")
        frames = [credits.assign(account_id=pid) for pid, (_, credits) in compared.items()]
        credits = (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=["channel", "model", "conversions", "value", "account_id"])
        )
        # shares within (property, model): each property's channels split its own conversions
        totals = credits.groupby(["account_id", "model"])[["conversions", "value"]].transform("sum")
        table = credits.assign(
            platform=WEB_PLATFORM,
            share=(credits["conversions"] / totals["conversions"]).fillna(0.0),
            value_share=(credits["value"] / totals["value"]).fillna(0.0),
            markov_order=config.markov_order,
            window_start=start,
            window_end=end,
        )
        replace_table(con, ATTRIBUTION_MODEL_COMPARISON, table[list(COMPARISON_TYPES)], casts=COMPARISON_TYPES)

    if not compared:
        context.log.warning("No journeys in the warehouse yet: wrote an empty comparison.")
        return dg.MaterializeResult(
            metadata={"dagster/row_count": 0, "paths": 0, "properties": 0},
            check_results=[dg.AssetCheckResult(check_name="credits_sum_to_totals", passed=True)],
        )
    off = {}
    for property_id, (data, property_credits) in compared.items():
        sums = property_credits.groupby("model")[["conversions", "value"]].sum()
        for m, r in sums.iterrows():
            if abs(r.conversions - data.total_conversions) > 1e-6 * max(1.0, data.total_conversions) or abs(
                r.value - data.total_value
            ) > 1e-6 * max(1.0, data.total_value):
                off[(property_id, m)] = (float(r.conversions - data.total_conversions), float(r.value - data.total_value))
    # the tables in the metadata: every property's credits added up
    summed = credits.groupby(["channel", "model"])[["conversions", "value"]].sum().reset_index()
    pivot = summed.pivot(index="channel", columns="model", values="conversions")[list(MODELS)]
    value_pivot = summed.pivot(index="channel", columns="model", values="value")[list(MODELS)]
    order = pivot["markov"].sort_values(ascending=False).index
    datas = [data for data, _ in compared.values()]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "markov_order": config.markov_order,
            "shapley_game": config.shapley_game,
            "window_start": str(start),
            "window_end": str(end),
            "properties": len(compared),
            "paths": sum(len(d) for d in datas),
            "journeys": int(sum(d.total_journeys for d in datas)),
            "conversions": float(sum(d.total_conversions for d in datas)),
            "conversion_value_usd": round(sum(d.total_value for d in datas), 2),
            "credited_conversions": dg.MetadataValue.md(pivot.loc[order].round(1).to_markdown()),
            "credited_value_usd": dg.MetadataValue.md(value_pivot.loc[order].round(0).to_markdown()),
            # a model whose assumptions a property's paths contradict (README: Which attribution model)
            "model_fit_warnings": "\n".join(fit_warnings) or "none",
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="credits_sum_to_totals",
                passed=not off,
                metadata={"property_models_off_by_conversions_value": str(off) if off else "none"},
            )
        ],
    )
