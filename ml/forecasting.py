"""7-day forecasts of the daily campaign and organic platform series, with 80% and 95% intervals.

What Cycle ships is chosen by rolling-origin cross-validation (``cross_validate``: horizon 7, several origins a
week apart) against statsforecast's SeasonalNaive(7), AutoETS and AutoARIMA fitted to the same series
(``benchmarks/forecasts.py`` prints the comparison). The winner on MASE is the ensemble ``CYCLE``: per series the
mean of AutoETS and AutoARIMA (weekly season), whose errors are weakly correlated, so the mean is steadier than
either; its intervals average the members' bounds (quantile averaging), then widen by a factor learned from the
cross-validation residuals where the members' own intervals prove too narrow (a level shift, a holiday).

Series are fitted on log1p of the values: the ad and post series are multiplicative (a trend or a weekday moves
them by a share, not an amount), their noise grows with the level, and the forecasts and bounds come back
non-negative. Every series is one ``series_id`` (``campaign_series_days`` / ``platform_series_days``).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

HORIZON = 7
SEASON = 7
LEVELS = (80, 95)
MIN_HISTORY = 28  # days of history below which a series is not forecast: AutoETS needs a few weekly seasons
BASELINES = ("SeasonalNaive", "AutoETS", "AutoARIMA")
CYCLE = "Cycle"
CYCLE_MEMBERS = ("AutoETS", "AutoARIMA")

FORECAST_COLUMNS = [
    "series_id", "entity_type", "platform", "campaign_id", "metric", "origin_date", "forecast_date", "horizon",
    "forecast", "lo_80", "hi_80", "lo_95", "hi_95", "model", "history_days",
]
_SERIES_META = ["series_id", "entity_type", "platform", "campaign_id", "metric"]


# ------------------------------------------------------------------------------------------------ series


def campaign_series_days(days: pd.DataFrame) -> pd.DataFrame:
    """The campaigns' long daily series: series_id, entity_type, platform, campaign_id, metric, metric_date, value.

    ``days``: metric_date, platform, campaign_id, spend_usd, clicks, conversions (``fct_campaign_performance``).
    A day a campaign spent nothing (paused, or no row) is no observation of any of its series, as in
    ``ml/anomalies.py``: a pause is a decision, not a demand to forecast, and on the log scale one zero day would
    drag the level of every day after it (``regular`` carries the last delivering day over it)."""
    d = days.copy()
    d["metric_date"] = pd.to_datetime(d["metric_date"])
    d["campaign_id"] = d["campaign_id"].astype(str)
    metrics = {"spend_usd": "spend", "clicks": "clicks", "conversions": "conversions"}
    for c in metrics:
        d[c] = pd.to_numeric(d[c], errors="coerce").astype(float)
    d = d.groupby(["metric_date", "platform", "campaign_id"], as_index=False)[list(metrics)].sum(min_count=1)
    long = d.melt(["metric_date", "platform", "campaign_id"], list(metrics), var_name="metric", value_name="value")
    long["metric"] = long["metric"].map(metrics)
    long["entity_type"] = "campaign"
    long["series_id"] = "campaign:" + long["platform"] + ":" + long["campaign_id"] + ":" + long["metric"]
    spent = d.set_index(["metric_date", "platform", "campaign_id"])["spend_usd"].gt(0)
    delivering = pd.MultiIndex.from_frame(long[["metric_date", "platform", "campaign_id"]]).map(spent)
    long.loc[~delivering.to_numpy(bool), "value"] = np.nan
    return regular(long)


def platform_series_days(days: pd.DataFrame) -> pd.DataFrame:
    """The organic platforms' long daily series (``agg_platform_daily``'s organic rows: metric_date, platform,
    impressions, engagements), in ``campaign_series_days``' columns. A missing day is a gap in the data, not a day
    without reach (``regular``)."""
    d = days.copy()
    d["metric_date"] = pd.to_datetime(d["metric_date"])
    for c in ("impressions", "engagements"):
        d[c] = pd.to_numeric(d[c], errors="coerce").astype(float)
    d = d.groupby(["metric_date", "platform"], as_index=False)[["impressions", "engagements"]].sum(min_count=1)
    long = d.melt(["metric_date", "platform"], ["impressions", "engagements"], var_name="metric", value_name="value")
    long["entity_type"] = "platform"
    long["campaign_id"] = None
    long["series_id"] = "platform:" + long["platform"] + ":" + long["metric"]
    return regular(long)


def regular(long: pd.DataFrame) -> pd.DataFrame:
    """Each series on every day from its first to the last day of any series; a day without a value (missing,
    or no observation) takes the day before's, else the day after's, so no model sees a hole, and is marked
    ``observed`` False, so no score counts it."""
    if long.empty:
        return pd.DataFrame(columns=[*_SERIES_META, "metric_date", "value", "observed"])
    long = long[[*_SERIES_META, "metric_date", "value"]].copy()
    long["value"] = pd.to_numeric(long["value"], errors="coerce").astype(float)
    long.loc[~np.isfinite(long["value"]), "value"] = np.nan
    long["value"] = long["value"].clip(lower=0.0)  # every metric here is a count or an amount spent
    last = long["metric_date"].max()
    frames = []
    for _, s in long.groupby("series_id", sort=True):
        s = s.drop_duplicates("metric_date", keep="last").set_index("metric_date").sort_index()
        s = s.reindex(pd.date_range(s.index.min(), last, freq="D"))
        meta = s[_SERIES_META].ffill().bfill()
        observed = s["value"].notna()
        if not observed.any():
            continue
        value = s["value"].ffill().bfill()
        frames.append(meta.assign(value=value, observed=observed).rename_axis("metric_date").reset_index())
    if not frames:
        return pd.DataFrame(columns=[*_SERIES_META, "metric_date", "value", "observed"])
    return pd.concat(frames, ignore_index=True)[[*_SERIES_META, "metric_date", "value", "observed"]]


# ------------------------------------------------------------------------------------------------ models


def _statsforecast(models: tuple[str, ...]):
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, SeasonalNaive

    make = {
        "SeasonalNaive": lambda: SeasonalNaive(season_length=SEASON),
        "AutoETS": lambda: AutoETS(season_length=SEASON),
        "AutoARIMA": lambda: AutoARIMA(season_length=SEASON),
    }
    return StatsForecast(models=[make[m]() for m in models], freq="D", n_jobs=1)


@contextmanager
def _quiet():
    """AutoARIMA warns of every candidate order whose optimizer stopped early; the order search drops those
    candidates itself, so the warnings say nothing about the model it keeps."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="statsforecast")
        yield


def _fit_frame(series: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {"unique_id": series["series_id"], "ds": series["metric_date"], "y": np.log1p(series["value"].to_numpy(float))}
    )


def _back(frame: pd.DataFrame, models: tuple[str, ...]) -> pd.DataFrame:
    """The models' columns (point forecasts and bounds) back from log1p to the series' own scale."""
    frame = frame.copy()
    for m in models:
        for col in [m, *[f"{m}-{side}-{lv}" for lv in LEVELS for side in ("lo", "hi")]]:
            frame[col] = np.expm1(frame[col].to_numpy(float)).clip(min=0.0)
    return frame


def _add_cycle(frame: pd.DataFrame, widen: dict[int, float] | None = None) -> pd.DataFrame:
    """The ensemble's columns from its members' (on the log1p scale): the mean forecast, the mean bounds, each
    bound's distance from the forecast times ``widen[level]`` (1 when not given)."""
    frame = frame.copy()
    frame[CYCLE] = frame[list(CYCLE_MEMBERS)].mean(axis=1)
    for lv in LEVELS:
        k = (widen or {}).get(lv, 1.0)
        lo = frame[[f"{m}-lo-{lv}" for m in CYCLE_MEMBERS]].mean(axis=1)
        hi = frame[[f"{m}-hi-{lv}" for m in CYCLE_MEMBERS]].mean(axis=1)
        frame[f"{CYCLE}-lo-{lv}"] = frame[CYCLE] - k * (frame[CYCLE] - lo).clip(lower=0.0)
        frame[f"{CYCLE}-hi-{lv}"] = frame[CYCLE] + k * (hi - frame[CYCLE]).clip(lower=0.0)
    return frame


def _forecastable(series: pd.DataFrame, min_history: int) -> pd.DataFrame:
    """The series with at least ``min_history`` days and some observed non-zero value in their last four weeks (a
    campaign paused for a month has nothing to forecast, and no model fits a constant)."""
    days = series.groupby("series_id")["metric_date"].transform("size")
    recent = series["metric_date"] > series["metric_date"].max() - pd.Timedelta(days=28)
    alive = series[recent & series["observed"].astype(bool)].groupby("series_id")["value"].max()
    alive_ids = set(alive[alive > 0].index)
    return series[(days >= min_history) & series["series_id"].isin(alive_ids)]


# ------------------------------------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class Evaluation:
    """A cross-validation's outcome: every origin's forecasts next to the actuals (``cv``), and per model the
    scores (``scores``: mase, smape, aggregate_mape, coverage_80, coverage_95)."""

    cv: pd.DataFrame
    scores: pd.DataFrame
    widen: dict[int, float]


def cross_validate(series: pd.DataFrame, *, windows: int = 4, min_history: int = MIN_HISTORY,
                   calibrate: bool = True) -> Evaluation:
    """Rolling-origin cross-validation of every baseline and Cycle's ensemble: ``windows`` origins a week apart,
    the last one ``HORIZON`` days before the end, each forecasting the next ``HORIZON`` days from the history up to
    it. ``calibrate``: Cycle's interval widening is learned on the earlier origins (``interval_widening``) and
    scored on the later ones, never on the residuals it is scored against."""
    models = BASELINES
    series = _forecastable(series, min_history + windows * HORIZON)
    if series.empty:
        raise ValueError(f"no series has {min_history + windows * HORIZON} days of history to cross-validate on")
    sf = _statsforecast(models)
    with _quiet():
        cv = sf.cross_validation(df=_fit_frame(series), h=HORIZON, n_windows=windows, step_size=HORIZON,
                                 level=list(LEVELS))
    if "unique_id" not in cv:
        cv = cv.reset_index()
    cv = _add_cycle(cv)
    cutoffs = sorted(cv["cutoff"].unique())
    widen = {lv: 1.0 for lv in LEVELS}
    if calibrate and len(cutoffs) >= 2:
        fit_on = cv[cv["cutoff"].isin(cutoffs[: len(cutoffs) // 2])]
        widen = interval_widening(fit_on)
        cv = _add_cycle(cv[cv["cutoff"].isin(cutoffs[len(cutoffs) // 2:])], widen)
    cv = _back(cv, (*models, CYCLE))
    cv["y"] = np.expm1(cv["y"])
    cv["horizon"] = ((cv["ds"] - cv["cutoff"]).dt.days).astype(int)
    return Evaluation(cv=cv, scores=score(cv, series, (*models, CYCLE)), widen=widen)


def interval_widening(cv_log: pd.DataFrame) -> dict[int, float]:
    """Per level, the factor Cycle's bounds must move away from its forecast (log1p scale) for the share of
    actuals inside them to reach the level on ``cv_log`` (cross-validation rows with the members' columns). Never
    below 1: the members' intervals narrow only when they have earned it, which they never have here."""
    cv_log = _add_cycle(cv_log)
    out = {}
    for lv in LEVELS:
        err = cv_log["y"] - cv_log[CYCLE]
        half = np.where(err >= 0, cv_log[f"{CYCLE}-hi-{lv}"] - cv_log[CYCLE], cv_log[CYCLE] - cv_log[f"{CYCLE}-lo-{lv}"])
        ratio = np.abs(err.to_numpy(float)) / np.maximum(half, 1e-9)
        out[lv] = float(max(1.0, np.quantile(ratio, lv / 100))) if len(ratio) else 1.0
    return out


def score(cv: pd.DataFrame, series: pd.DataFrame, models: tuple[str, ...]) -> pd.DataFrame:
    """Per model: MASE (each series' mean absolute error over the seasonal-naive in-sample error of its history up
    to the origin, averaged over series and origins), sMAPE (%), MAPE (%) of the aggregate series (each metric
    summed over its series, per day: total spend, clicks, conversions, organic impressions, engagements) and the
    share of actuals inside the 80% and 95% intervals."""
    scales = _mase_scales(series, cv[["unique_id", "cutoff"]].drop_duplicates())
    cv = cv.merge(scales, on=["unique_id", "cutoff"], how="inner")
    # a day without an observation (a paused campaign's) is scored by no model
    observed = series[series["observed"].astype(bool)][["series_id", "metric_date"]]
    cv = cv.merge(observed.rename(columns={"series_id": "unique_id", "metric_date": "ds"}), on=["unique_id", "ds"])
    cv = cv[cv["scale"] > 0]
    metric_of = series.drop_duplicates("series_id").set_index("series_id")["metric"]
    cv = cv.assign(metric=cv["unique_id"].map(metric_of))
    rows = []
    for m in models:
        err = (cv["y"] - cv[m]).abs()
        mase = (err / cv["scale"]).groupby([cv["unique_id"], cv["cutoff"]]).mean().mean()
        denom = cv["y"].abs() + cv[m].abs()
        smape = float(np.mean(np.where(denom > 0, 2 * err / np.where(denom > 0, denom, 1), 0.0)) * 100)
        agg = cv.groupby(["metric", "cutoff", "ds"])[["y", m]].sum()
        agg = agg[agg["y"] > 0]
        mape = float(((agg["y"] - agg[m]).abs() / agg["y"]).mean() * 100)
        cover = {
            f"coverage_{lv}": float(((cv["y"] >= cv[f"{m}-lo-{lv}"]) & (cv["y"] <= cv[f"{m}-hi-{lv}"])).mean() * 100)
            for lv in LEVELS
        }
        rows.append({"model": m, "mase": float(mase), "smape": smape, "aggregate_mape": mape, **cover})
    return pd.DataFrame(rows).set_index("model")


def _mase_scales(series: pd.DataFrame, origins: pd.DataFrame) -> pd.DataFrame:
    """Each series' MASE scale at each origin: the mean absolute seasonal (lag 7) difference of its history up
    to the origin."""
    rows = []
    by_id = {sid: s.sort_values("metric_date") for sid, s in series.groupby("series_id")}
    for sid, cutoff in zip(origins["unique_id"], origins["cutoff"]):
        s = by_id[sid]
        y = s.loc[s["metric_date"] <= cutoff, "value"].to_numpy(float)
        diff = np.abs(y[SEASON:] - y[:-SEASON])
        rows.append((sid, cutoff, float(diff.mean()) if len(diff) else np.nan))
    return pd.DataFrame(rows, columns=["unique_id", "cutoff", "scale"])


# ------------------------------------------------------------------------------------------------ forecasts


def forecast(series: pd.DataFrame, origin: date, *, min_history: int = MIN_HISTORY,
             widen: dict[int, float] | None = None, calibration_windows: int = 2) -> pd.DataFrame:
    """Cycle's 7-day forecasts (``FORECAST_COLUMNS``) of every series with ``min_history`` days up to and including
    ``origin``, for ``origin + 1 .. origin + 7``, from the history up to ``origin`` only (so a rerun or a
    backfill of an origin gives the same rows, whatever was loaded after it).

    ``widen``: the interval widening per level; None learns it from ``calibration_windows`` rolling origins
    just before ``origin`` where every series has the history (else the bounds stay the members' own)."""
    origin_ts = pd.Timestamp(origin)
    series = series[series["metric_date"] <= origin_ts]
    series = _forecastable(series, min_history) if len(series) else series
    if series.empty:
        return pd.DataFrame(columns=FORECAST_COLUMNS)
    if widen is None:
        widen = _recent_widening(series, min_history, calibration_windows)
    sf = _statsforecast(CYCLE_MEMBERS)
    with _quiet():
        fc = sf.forecast(df=_fit_frame(series), h=HORIZON, level=list(LEVELS))
    if "unique_id" not in fc:
        fc = fc.reset_index()
    fc = _back(_add_cycle(fc, widen), (CYCLE,))
    meta = series.drop_duplicates("series_id").set_index("series_id")[_SERIES_META[1:]]
    history = series.groupby("series_id")["metric_date"].size()
    out = pd.DataFrame(
        {
            "series_id": fc["unique_id"].to_numpy(),
            "origin_date": origin_ts,
            "forecast_date": pd.to_datetime(fc["ds"]).to_numpy(),
            "forecast": fc[CYCLE].to_numpy(float),
            **{f"{side}_{lv}": fc[f"{CYCLE}-{side}-{lv}"].to_numpy(float) for lv in LEVELS for side in ("lo", "hi")},
        }
    )
    out = out.join(meta, on="series_id")
    out["horizon"] = (out["forecast_date"] - out["origin_date"]).dt.days.astype(int)
    out["model"] = "ensemble(" + "+".join(CYCLE_MEMBERS) + ")"
    out["history_days"] = out["series_id"].map(history).astype(int)
    # a bound that moved past the forecast by rounding would unorder the interval; a count never goes below 0
    out["lo_95"] = np.minimum(out["lo_95"], out["lo_80"]).clip(lower=0.0)
    out["hi_95"] = np.maximum(out["hi_95"], out["hi_80"])
    return out[FORECAST_COLUMNS].sort_values(["series_id", "horizon"], ignore_index=True)


def _recent_widening(series: pd.DataFrame, min_history: int, windows: int) -> dict[int, float]:
    need = min_history + windows * HORIZON
    eligible = _forecastable(series, need)
    if windows < 1 or eligible.empty:
        return {lv: 1.0 for lv in LEVELS}
    sf = _statsforecast(CYCLE_MEMBERS)
    with _quiet():
        cv = sf.cross_validation(df=_fit_frame(eligible), h=HORIZON, n_windows=windows, step_size=HORIZON,
                                 level=list(LEVELS))
    return interval_widening(cv)

