"""Metric forecasts: 7-day forecasts with 80% and 95% intervals of each always-on campaign's spend, clicks and
conversions and each organic platform's impressions and engagements (method: ``ml/forecasting.py``, chosen by
rolling-origin cross-validation against statsforecast's baselines in ``benchmarks/forecasts.py``).

Daily partitions: the partition day is the forecast origin. Each origin is forecast from the history up to and
including it, read from the warehouse on each run, so a rerun or a backfill of an origin replaces exactly that
origin's rows with the same ones.
"""

from datetime import timedelta

import dagster as dg
import numpy as np
import pandas as pd

from analytics_assets.contracts.holidays import HolidayCalendar
from analytics_assets.contracts.warehouse import METRIC_FORECASTS, table_metadata
from analytics_assets.defs.analysis.daily_series import read_daily_series
from analytics_assets.defs.metadata import markdown_preview, problems_check
from analytics_assets.defs.partitions import WAREHOUSE_POOL, daily_partitions, partition_days
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.settings import load_settings
from analytics_assets.storage.warehouse import replace_rows
from ml.forecasting import (
    FORECAST_COLUMNS,
    HORIZON,
    MIN_HISTORY,
    campaign_series_days,
    forecast,
    horizon_holiday_effects,
    platform_series_days,
)

METRIC_FORECAST_COLUMNS = {
    "series_id": "VARCHAR",
    "entity_type": "VARCHAR",
    "platform": "VARCHAR",
    # the campaign's ad account (null for a platform's series, which sums every account of the platform): whose
    # rows the served copy is (contracts.serving.ServedTable.platform_rows)
    "account_id": "VARCHAR",
    "campaign_id": "VARCHAR",
    "metric": "VARCHAR",
    "origin_date": "DATE",
    "forecast_date": "DATE",
    "horizon": "INTEGER",
    "forecast": "DOUBLE",
    "lo_80": "DOUBLE",
    "hi_80": "DOUBLE",
    "lo_95": "DOUBLE",
    "hi_95": "DOUBLE",
    "model": "VARCHAR",
    "history_days": "INTEGER",
}
# one shape: the library's rows are the table's, plus the account the asset adds
assert [c for c in METRIC_FORECAST_COLUMNS if c != "account_id"] == FORECAST_COLUMNS

class MetricForecastsConfig(dg.Config):
    history_days: int = 182  # days of history each origin's models are fitted on
    # days of history each origin's holiday effects are measured on: over a year (a year and five weeks), so a
    # holiday in the horizon moves its forecast by what the same holiday did last year (Thanksgiving's date moves
    # by up to a week, and its measurement needs the same weekday a week either side), at the cost of reading
    # the rows, not of fitting them
    holiday_history_days: int = 400
    min_history: int = MIN_HISTORY  # days below which a series is not forecast
    # rolling origins just before each origin the interval widening is learned on (0: the members' own bounds)
    calibration_windows: int = 2
    # the holiday calendar the models take as known future inputs; None: the deployment's settings
    # (CYCLE_HOLIDAY_CALENDAR: us_retail or none; CYCLE_HOLIDAY_DATES: YYYY-MM-DD=name:kind, comma-separated)
    holiday_calendar: str | None = None
    holiday_dates: str | None = None

    def calendar(self) -> HolidayCalendar:
        settings = load_settings() if self.holiday_calendar is None or self.holiday_dates is None else None
        return HolidayCalendar.from_settings(
            self.holiday_calendar if self.holiday_calendar is not None else settings.holiday_calendar,
            self.holiday_dates if self.holiday_dates is not None else settings.holiday_dates,
        )


@dg.asset(
    deps=["fct_campaign_performance", "agg_campaign_daily_summary", "agg_platform_daily"],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="insights",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
    metadata=table_metadata(METRIC_FORECASTS),
    description="7-day forecasts, with 80% and 95% intervals, of each always-on campaign's spend, clicks and "
    "conversions and each platform's organic impressions and engagements, one row per series, origin (the "
    "partition day) and day ahead (horizon 1..7). Model: per series AutoETS and AutoARIMA (weekly season, log "
    "scale) weighted by their errors at rolling origins before the origin, the holiday calendar "
    "(CYCLE_HOLIDAY_CALENDAR) as known future inputs, each campaign series fitted per unit of its daily budget "
    "(agg_campaign_daily_summary) and forecast at the budget expected ahead, intervals widened by what those origins "
    "show they miss. Writes "
    "analysis.metric_forecasts. Method: ml/forecasting.py; measured against statsforecast's baselines in "
    "benchmarks/forecasts.py.",
    check_specs=[
        dg.AssetCheckSpec(
            "forecasts_are_well_formed",
            asset="metric_forecasts",
            description="Horizons 1..7 once each per series and origin, no missing or infinite value, and "
            "lo_95 <= lo_80 <= forecast <= hi_80 <= hi_95",
        )
    ],
)
def metric_forecasts(
    context: dg.AssetExecutionContext, config: MetricForecastsConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    days = partition_days(context)
    lookback = max(config.history_days, config.holiday_history_days) + config.calibration_windows * HORIZON
    read_from = days[0] - timedelta(days=lookback)
    calendar = config.calendar()  # a malformed setting fails here, before anything is read or written
    holidays = calendar.frame(read_from, days[-1] + timedelta(days=HORIZON))
    with warehouse.connect() as con:
        campaigns, platforms = read_daily_series(con, read_from, days[-1])
    frames = []
    effects = pd.DataFrame()  # what the holidays in the last origin's horizon do to its forecasts
    for origin in days:
        # each origin sees exactly its own history window: the same rows whether run alone or in a backfill
        since = pd.Timestamp(origin - timedelta(days=lookback))
        c = campaigns[(pd.to_datetime(campaigns["metric_date"]) > since)
                      & (pd.to_datetime(campaigns["metric_date"]) <= pd.Timestamp(origin))]
        p = platforms[(pd.to_datetime(platforms["metric_date"]) > since)
                      & (pd.to_datetime(platforms["metric_date"]) <= pd.Timestamp(origin))]
        parts = [campaign_series_days(c)] if len(c) else []
        parts += [platform_series_days(p)] if len(p) else []
        if not parts:
            continue  # nothing loaded up to this origin: nothing to forecast
        series = pd.concat(parts, ignore_index=True)
        predicted = forecast(series, origin, min_history=config.min_history,
                             calibration_windows=config.calibration_windows, holidays=holidays,
                             fit_days=config.history_days)
        frames.append(with_accounts(predicted, c))
        if origin == days[-1]:
            effects = horizon_holiday_effects(series, origin, holidays, min_history=config.min_history,
                                              fit_days=config.history_days)
    rows = [f for f in frames if len(f)]
    forecasts = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=list(METRIC_FORECAST_COLUMNS))
    with warehouse.connect() as con:
        # a table created before forecasts named their account gets the column (null on its old rows)
        con.execute(f"alter table if exists {METRIC_FORECASTS} add column if not exists account_id VARCHAR")
        replace_rows(
            con, METRIC_FORECASTS, METRIC_FORECAST_COLUMNS, forecasts, "origin_date between ? and ?", [days[0], days[-1]]
        )
    problems = _malformed(forecasts)
    # the holidays the forecasts knew of: from the first day read (their effects learned) through the horizons
    loaded = [pd.to_datetime(f["metric_date"]).min() for f in (campaigns, platforms) if len(f)]
    known = holidays[holidays["holiday_date"] >= min(loaded)] if loaded else holidays.iloc[:0]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(forecasts),
            "origins": f"{days[0]} .. {days[-1]}",
            "series": int(forecasts["series_id"].nunique()) if len(forecasts) else 0,
            "by_metric": forecasts.groupby("metric")["series_id"].nunique().to_dict() if len(forecasts) else {},
            "holiday_calendar": calendar.rules,
            "holidays": ", ".join(f"{d:%Y-%m-%d} {n}" for d, n in zip(known["holiday_date"], known["name"]))
            or "none",
            # per holiday in the last origin's horizon and family of series (every campaign's spend, every
            # platform's impressions...): the factor it moves the median series by, the range, and how many
            # series took the kind's prior for want of a measured effect
            "holiday_effects": holiday_effects_markdown(effects, days[-1]),
            "preview": markdown_preview(
                forecasts[["origin_date", "series_id", "horizon", "forecast", "lo_80", "hi_80", "lo_95", "hi_95"]]
            ),
        },
        check_results=[problems_check("forecasts_are_well_formed", problems)],
    )


def holiday_effects_markdown(effects: pd.DataFrame, origin) -> dg.MetadataValue:
    """``ml.forecasting.horizon_holiday_effects``'s rows for ``origin`` as a table, factors as multipliers."""
    if effects.empty:
        return dg.MetadataValue.md(f"No holiday in the horizon of {origin}.")
    shown = effects.assign(holiday_date=pd.to_datetime(effects["holiday_date"]).dt.strftime("%Y-%m-%d"))
    for c in ("factor", "lowest", "highest"):
        shown[c] = shown[c].map(lambda x: f"x{x:.2f}")
    return dg.MetadataValue.md(f"Holidays in the horizon of {origin}:\n\n" + shown.to_markdown(index=False))


def with_accounts(forecasts: pd.DataFrame, campaign_days: pd.DataFrame) -> pd.DataFrame:
    """``forecasts`` with each campaign series' ad account (from its days up to the origin, the latest where an
    account ever changed); a platform's series keeps a null account: it sums every account of the platform."""
    out = forecasts.copy()
    if len(campaign_days):
        latest = campaign_days.sort_values("metric_date").drop_duplicates(["platform", "campaign_id"], keep="last")
        account = latest.set_index(["platform", "campaign_id"])["account_id"]
        keys = pd.MultiIndex.from_arrays([out["platform"], out["campaign_id"]])
        out["account_id"] = account.reindex(keys).to_numpy()
    else:
        out["account_id"] = None
    out.loc[out["entity_type"] != "campaign", "account_id"] = None
    return out[list(METRIC_FORECAST_COLUMNS)]


def _malformed(forecasts: pd.DataFrame) -> list[str]:
    """What is wrong with the rows, in words (empty: nothing)."""
    problems = []
    values = forecasts[["forecast", "lo_80", "hi_80", "lo_95", "hi_95"]].apply(pd.to_numeric, errors="coerce")
    bad = int((~np.isfinite(values.to_numpy(float))).any(axis=1).sum())
    if bad:
        problems.append(f"{bad} rows with a missing or infinite value")
    v = values.to_numpy(float)
    unordered = int((~((v[:, 3] <= v[:, 1]) & (v[:, 1] <= v[:, 0]) & (v[:, 0] <= v[:, 2]) & (v[:, 2] <= v[:, 4]))).sum())
    if unordered:
        problems.append(f"{unordered} rows whose intervals are not ordered lo_95 <= lo_80 <= forecast <= hi_80 <= hi_95")
    horizons = forecasts.groupby(["series_id", "origin_date"])["horizon"].apply(sorted)
    wrong = int(sum(h != list(range(1, HORIZON + 1)) for h in horizons))
    if wrong:
        problems.append(f"{wrong} series-origins without horizons 1..{HORIZON} once each")
    return problems


# Forecasting fits AutoETS and AutoARIMA per series and origin (seconds per series), so it runs on its own daily
# schedule, for the latest origin, rather than inside every pipeline run: a 30-day `cycle backfill` or the
# simulated loop's weeks would otherwise fit every series once per day of the window. Past origins are backfilled
# deliberately, from the UI (forecast_job over a range) or `dagster job backfill`.
forecast_job = dg.define_asset_job(
    "forecast_job",
    selection=dg.AssetSelection.assets(metric_forecasts),
    partitions_def=daily_partitions,
    description="7-day forecasts from the latest day's history (metric_forecasts), after the daily pipeline.",
)

forecast_schedule = dg.build_schedule_from_partitioned_job(
    forecast_job,
    hour_of_day=5,  # after daily_pipeline_schedule (03:00) has loaded the day
    name="forecast_schedule",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
