"""7-day forecasts of the daily campaign and organic platform series, with 80% and 95% intervals.

What Cycle ships is chosen by rolling-origin cross-validation (``cross_validate``: horizon 7, several origins a
week apart) against statsforecast's SeasonalNaive(7), AutoETS and AutoARIMA fitted to the same series
(``benchmarks/forecasts.py`` prints the comparison). Cycle's forecaster ``CYCLE`` is an ensemble of AutoETS and
AutoARIMA (weekly season), whose errors are weakly correlated:

- holidays are known future inputs: the deployment's calendar (``analytics_assets/contracts/holidays.py``,
  ``CYCLE_HOLIDAY_CALENDAR``) is passed in as rows (holiday_date, name, kind); each past holiday's effect on a
  series is taken out of the history the members fit, and a holiday in the horizon adds back the effect its
  earlier occurrences (else its kind's) had on that series, pooled with the same measurements of its family
  (the same metric of the other campaigns or platforms: ``partial_pooling``), the family's mean itself pooled
  with the family's other holidays where they barely differ (``across_holidays``), else, in a campaign series, the
  kind's shrunken prior ``KIND_PRIORS`` (``holiday_adjustment``), its bounds moved apart by what the measurement
  can miss (the series' noise between a day and its seasonal neighbours, less where its family's pooled);
- a campaign's daily budget is a known input as far as today (``budget_paths``): the members fit each campaign
  series per unit of its budget, and each horizon day adds back the budget expected then, today's decayed towards
  the campaign's usual one by how long budget changes have lasted in the history (``budget_persistence``);
- the holiday effects read the whole history given, the members only its last ``fit_days`` (when given): a year's
  history holds last year's Black Friday, and a fit of a few months costs a fraction of a year's;
- per series the members weigh by their errors at the rolling origins before the origin (``member_weights``:
  inverse mean absolute error), never by the origin's own actuals; equal weights without such origins;
- its intervals average the members' bounds with the same weights (quantile averaging), then widen by a factor
  learned on those earlier origins where the members' own intervals prove too narrow (a level shift, a holiday).

Series are fitted on log1p of the values: the ad and post series are multiplicative (a trend, a weekday or a
holiday moves them by a share, not an amount), their noise grows with the level, and the forecasts and bounds
come back non-negative. Every series is one ``series_id`` (``campaign_series_days`` / ``platform_series_days``).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist

import numpy as np
import pandas as pd

HORIZON = 7
SEASON = 7
LEVELS = (80, 95)
MIN_HISTORY = 28  # days of history below which a series is not forecast: AutoETS needs a few weekly seasons
BASELINES = ("SeasonalNaive", "AutoETS", "AutoARIMA")
CYCLE = "Cycle"
CYCLE_MEMBERS = ("AutoETS", "AutoARIMA")
MODEL_NAME = "ensemble(" + "+".join(CYCLE_MEMBERS) + ")+holidays+budgets"

FORECAST_COLUMNS = [
    "series_id", "entity_type", "platform", "campaign_id", "metric", "origin_date", "forecast_date", "horizon",
    "forecast", "lo_80", "hi_80", "lo_95", "hi_95", "model", "history_days",
]
_SERIES_META = ["series_id", "entity_type", "platform", "campaign_id", "metric"]


# ------------------------------------------------------------------------------------------------ series


def campaign_series_days(days: pd.DataFrame) -> pd.DataFrame:
    """The campaigns' long daily series: series_id, entity_type, platform, campaign_id, metric, metric_date, value.

    ``days``: metric_date, platform, campaign_id, spend_usd, clicks, conversions (``fct_campaign_performance``),
    and, where the settings give it, daily_budget_usd (each day's budget: the ``budget`` column, ``budget_paths``).
    A day a campaign spent nothing (paused, or no row) is no observation of any of its series, as in
    ``ml/anomalies.py``: a pause is a decision, not a demand to forecast, and on the log scale one zero day would
    drag the level of every day after it (``regular`` carries the last delivering day over it)."""
    d = days.copy()
    d["metric_date"] = pd.to_datetime(d["metric_date"])
    d["campaign_id"] = d["campaign_id"].astype(str)
    metrics = {"spend_usd": "spend", "clicks": "clicks", "conversions": "conversions"}
    for c in metrics:
        d[c] = pd.to_numeric(d[c], errors="coerce").astype(float)
    keys = ["metric_date", "platform", "campaign_id"]
    budgets = "daily_budget_usd" in d
    if budgets:
        d["daily_budget_usd"] = pd.to_numeric(d["daily_budget_usd"], errors="coerce").astype(float)
        budget = d.groupby(keys)["daily_budget_usd"].max()
    d = d.groupby(keys, as_index=False)[list(metrics)].sum(min_count=1)
    if budgets:
        d["budget"] = pd.MultiIndex.from_frame(d[keys]).map(budget).to_numpy(float)
    long = d.melt([*keys, *(["budget"] if budgets else [])], list(metrics), var_name="metric", value_name="value")
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
    extra = ["budget"] if "budget" in long else []  # a campaign's daily budget (campaign_series_days)
    columns = [*_SERIES_META, "metric_date", "value", "observed", *extra]
    if long.empty:
        return pd.DataFrame(columns=columns)
    long = long[[*_SERIES_META, "metric_date", "value", *extra]].copy()
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
        out = meta.assign(value=value, observed=observed)
        if extra:  # a filled day's budget is the one its filled value was spent under
            out["budget"] = pd.to_numeric(s["budget"], errors="coerce").where(observed).ffill().bfill()
        frames.append(out.rename_axis("metric_date").reset_index())
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


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
    """unique_id, ds, y (log1p of the value), observed and log_budget (the log of a campaign's daily budget, NaN
    without one). No model sees the last two: statsforecast would take an extra column for an exogenous regressor;
    the holiday effects, the member weights and the budget paths read them."""
    budget = (pd.to_numeric(series["budget"], errors="coerce").to_numpy(float) if "budget" in series
              else np.full(len(series), np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_budget = np.where(np.isfinite(budget) & (budget > 0), np.log(budget), np.nan)
    return pd.DataFrame(
        {
            "unique_id": series["series_id"].to_numpy(),
            "ds": pd.to_datetime(series["metric_date"]).to_numpy(),
            "y": np.log1p(series["value"].to_numpy(float)),
            "observed": series["observed"].astype(bool).to_numpy(),
            "log_budget": log_budget,
        }
    )


def _sf_forecast(models: tuple[str, ...], fit: pd.DataFrame) -> pd.DataFrame:
    """The models' next ``HORIZON`` days (log1p scale) after the last day of ``fit``, with their bounds."""
    sf = _statsforecast(models)
    with _quiet():
        fc = sf.forecast(df=fit[["unique_id", "ds", "y"]], h=HORIZON, level=list(LEVELS))
    return fc.reset_index() if "unique_id" not in fc else fc


def _window(frame: pd.DataFrame, cutoff: pd.Timestamp, fit_days: int | None) -> pd.DataFrame:
    """The rows of ``frame`` (``_fit_frame``'s columns) in the last ``fit_days`` days up to ``cutoff`` (all of
    them when None): what the models fit, where the holiday effects read the whole history."""
    if fit_days is None:
        return frame
    return frame[frame["ds"] > cutoff - pd.Timedelta(days=fit_days)]


def _check_fit_days(fit_days: int | None, min_history: int) -> None:
    if fit_days is not None and fit_days < min_history:
        raise ValueError(f"fit_days must be at least min_history ({min_history}): the models need that many days, "
                         f"got {fit_days}")


def _columns(model: str) -> list[str]:
    return [model, *[f"{model}-{side}-{lv}" for lv in LEVELS for side in ("lo", "hi")]]


def _back(frame: pd.DataFrame, models: tuple[str, ...]) -> pd.DataFrame:
    """The models' columns (point forecasts and bounds) back from log1p to the series' own scale."""
    frame = frame.copy()
    for m in models:
        for col in _columns(m):
            frame[col] = np.expm1(frame[col].to_numpy(float)).clip(min=0.0)
    return frame


def _forecastable(series: pd.DataFrame, min_history: int) -> pd.DataFrame:
    """The series with at least ``min_history`` days and some observed non-zero value in their last four weeks (a
    campaign paused for a month has nothing to forecast, and no model fits a constant)."""
    days = series.groupby("series_id")["metric_date"].transform("size")
    recent = series["metric_date"] > series["metric_date"].max() - pd.Timedelta(days=28)
    alive = series[recent & series["observed"].astype(bool)].groupby("series_id")["value"].max()
    alive_ids = set(alive[alive > 0].index)
    return series[(days >= min_history) & series["series_id"].isin(alive_ids)]


# ------------------------------------------------------------------------------------------------ budgets
#
# A campaign spends what its daily budget lets it: the simulator's campaigns spend 80-100% of it, a real account's
# pace towards it, and clicks and conversions follow the money. An advertiser moves budgets (a push for a week,
# a pause), so a spend series is mostly its budget's steps, and a model of the spend alone chases each step: after
# a week at 1.5x its budget a campaign's level reads 1.5x, and the day the budget goes back the forecast is 50%
# over. The budget is in the data (the settings valid each day, ``agg_campaign_daily_summary``), so the members fit
# each campaign series per unit of budget (log1p of the value less the log budget: the share of the budget spent,
# and the clicks and conversions per dollar budgeted, which move with the calendar and the market, not with the
# advertiser's decisions), and the forecast is that times the budget each horizon day is expected to have.
# The budget ahead is not known, only today's. How long a budget stays away from the campaign's usual one is
# learned from the history: the log budget's deviation from its median over the window the members fit decays by
# ``phi`` a day, one AR(1) coefficient fitted through the origin over every campaign's consecutive days (a budget
# that steps back after a short push gives phi well below 1; an account whose changes persist, phi near 1, and
# the forecast keeps today's budget). The error of that path is the budget steps no one announced: measured the
# same way on the history's days (``_path_errors``, per horizon), it widens the campaign series' bounds, as a
# holiday's measurement error does (``_with_effects``).
# Not every campaign spends its budget: one held back by its bids or a small audience spends a part of it, and a
# bigger budget moves nothing. So how far a campaign's spend follows its budget is measured on its own history
# (``budget_elasticity``: its spend's week-on-week change against its budget's, on the days the budget moved),
# and the budget enters its series scaled by that, 0 (not at all) to 1 (in proportion).


def _campaign(series_id: pd.Series) -> pd.Series:
    """The campaign of each campaign series id (the id less its metric: ``campaign:meta_ads:123``)."""
    return series_id.str.rsplit(":", n=1).str[0]


def budget_elasticity(window: pd.DataFrame) -> pd.Series:
    """Per campaign (``_campaign``) with a budget move in ``window`` (``_fit_frame``'s columns: the days the
    members fit), how far its spend follows its budget, 0..1: the regression through the origin of the spend's
    week-on-week log change on its budget's, over the observed days whose budget differs from a week before (the
    week-on-week change holds the weekday fixed). A campaign whose budget never moved has none."""
    rows = window[window["unique_id"].str.startswith(_PRIOR_SERIES) & window["unique_id"].str.endswith(":spend")
                  & window["observed"].astype(bool) & window["log_budget"].notna()][["unique_id", "ds", "y",
                                                                                      "log_budget"]]
    pairs = rows.merge(rows.assign(ds=rows["ds"] + pd.Timedelta(days=SEASON)), on=["unique_id", "ds"],
                       suffixes=("", "_before"))
    budget = pairs["log_budget"] - pairs["log_budget_before"]
    moved = budget.abs() > 1e-9
    if not moved.any():
        return pd.Series(dtype=float)
    spend = (pairs["y"] - pairs["y_before"])[moved]
    budget = budget[moved]
    by = _campaign(pairs.loc[moved, "unique_id"]).to_numpy()
    slope = (spend * budget).groupby(by).sum() / (budget * budget).groupby(by).sum()
    return slope.clip(0.0, 1.0)


def _budget_bound(fit: pd.DataFrame, window: pd.DataFrame) -> pd.DataFrame:
    """``fit`` with each campaign's log budget scaled by its ``budget_elasticity`` in ``window`` (as it is where
    the budget never moved there: a constant budget moves nothing)."""
    elasticity = budget_elasticity(window)
    if elasticity.empty:
        return fit
    fit = fit.copy()
    scale = _campaign(fit["unique_id"]).map(elasticity).fillna(1.0).to_numpy(float)
    fit["log_budget"] = fit["log_budget"].to_numpy(float) * scale
    return fit


def _per_budget(fit: pd.DataFrame) -> pd.DataFrame:
    """``fit`` with each campaign day's log budget taken out of y (the rows without a budget as they are): what
    the members fit and the holiday effects are measured on."""
    known = fit["log_budget"].notna()
    if not known.any():
        return fit
    fit = fit.copy()
    fit.loc[known, "y"] = fit.loc[known, "y"] - fit.loc[known, "log_budget"]
    return fit


def budget_persistence(history: pd.DataFrame) -> float:
    """The daily AR(1) coefficient (0..1) of the log budgets' deviations from each series' median in ``history``
    (``_fit_frame``'s columns), fitted through the origin on every pair of consecutive observed days; 1 where the
    budgets never left their medians (nothing says a change would not last)."""
    rows = history[history["observed"].astype(bool) & history["log_budget"].notna()]
    if rows.empty:
        return 1.0
    rows = rows.sort_values(["unique_id", "ds"])
    dev = rows["log_budget"] - rows.groupby("unique_id")["log_budget"].transform("median")
    same = rows["unique_id"].eq(rows["unique_id"].shift()) & rows["ds"].diff().eq(pd.Timedelta(days=1))
    now, before = dev[same].to_numpy(float), dev.shift()[same].to_numpy(float)
    denominator = float(np.sum(before * before))
    if denominator <= 0:
        return 1.0
    return float(np.clip(np.sum(before * now) / denominator, 0.0, 1.0))


def budget_paths(history: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per series with a budget in ``history`` (``_fit_frame``'s columns, up to ``cutoff``: the window the members
    fit) the log budget expected on each of the ``HORIZON`` days after ``cutoff`` (unique_id, ds, log_budget): the
    last known budget's deviation from the series' median, decayed by ``budget_persistence`` a day."""
    rows = history[(history["ds"] <= cutoff) & history["observed"].astype(bool) & history["log_budget"].notna()]
    if rows.empty:
        return pd.DataFrame({"unique_id": [], "ds": pd.Series(dtype="datetime64[ns]"), "log_budget": [], "se": []})
    phi = budget_persistence(rows)
    by = rows.sort_values("ds").groupby("unique_id")["log_budget"]
    median, last = by.median(), by.last()
    h = np.arange(1, HORIZON + 1)
    path = median.to_numpy()[:, None] + (last - median).to_numpy()[:, None] * phi ** h[None, :]
    return pd.DataFrame({"unique_id": np.repeat(median.index.to_numpy(), HORIZON),
                         "ds": np.tile(cutoff + pd.to_timedelta(h, unit="D"), len(median)),
                         "log_budget": path.ravel(), "se": np.tile(_path_errors(rows, median, phi), len(median))})


def _path_errors(rows: pd.DataFrame, median: pd.Series, phi: float) -> np.ndarray:
    """Per horizon 1..``HORIZON`` the error of a budget path made the same way on the days of ``rows`` (observed
    days with a budget): the root mean square of the deviation ``h`` days later less ``phi ** h`` times the day's,
    over every series and day with both. It is what the path cannot know (the budget steps no one announced) and
    widens the campaign series' bounds; 0 where no budget ever moved."""
    dev = rows.pivot(index="ds", columns="unique_id", values="log_budget")
    dev = dev.reindex(pd.date_range(dev.index.min(), dev.index.max(), freq="D")) - median.reindex(dev.columns)
    out = np.zeros(HORIZON)
    for k in range(1, HORIZON + 1):
        err = (dev.shift(-k) - phi ** k * dev).to_numpy(float)
        err = err[np.isfinite(err)]
        out[k - 1] = float(np.sqrt(np.mean(err * err))) if len(err) else 0.0
    return out


def _with_budgets(fc: pd.DataFrame, paths: pd.DataFrame, models: tuple[str, ...]) -> pd.DataFrame:
    """The models' forecasts and bounds (log1p, per unit of budget) back per campaign: plus each day's expected
    log budget (``budget_paths``), each half-width combined in quadrature with the level's normal quantile of the
    path's error ``se`` (the model's error and the advertiser's next step are independent); a series without a
    budget as it is."""
    if paths.empty:
        return fc
    fc = fc.merge(paths, on=["unique_id", "ds"], how="left")
    offset = fc.pop("log_budget").fillna(0.0).to_numpy(float)
    se = fc.pop("se").fillna(0.0).to_numpy(float)
    for m in models:
        point = fc[m].to_numpy(float)
        for lv in LEVELS:
            z = NormalDist().inv_cdf(0.5 + lv / 200)
            lo, hi = fc[f"{m}-lo-{lv}"].to_numpy(float), fc[f"{m}-hi-{lv}"].to_numpy(float)
            fc[f"{m}-lo-{lv}"] = point + offset - np.hypot(np.clip(point - lo, 0.0, None), z * se)
            fc[f"{m}-hi-{lv}"] = point + offset + np.hypot(np.clip(hi - point, 0.0, None), z * se)
        fc[m] = point + offset
    return fc


# ------------------------------------------------------------------------------------------------ holidays
#
# The holidays are known future inputs (the deployment's calendar, contracts/holidays.py: holiday_date, name,
# kind). statsforecast's AutoETS takes no exogenous regressor (it ignores X), and a holiday dummy in AutoARIMA's
# X_df needs the holiday in every series' history to be estimable and costs one regressor per holiday, so both
# members get the same treatment, a regression on the holiday days done before the models: each past holiday's
# effect on a series (log1p scale) is its deviation from the same weekday a week before and after (the seasonal
# neighbours that are no holiday themselves: that contrast holds the weekday, the trend and the level fixed, where
# a dummy against the whole history would absorb them), the history is fitted with those effects taken out, and a
# holiday in the horizon adds back the mean effect of the same holiday's earlier occurrences in the series, else
# of its kind's (closure, peak), pooled with its family's (``partial_pooling``), else (a campaign series) the
# kind's prior (``KIND_PRIORS``).
# One series' measurement of last year's Black Friday is one noisy day (a contrast error of 0.2..0.3 on the log
# scale in the simulator's campaigns, more than the effect's spread between them); the same day measured on
# a dozen campaigns of the same metric is known far better. So the measurements of a family (entity type and
# metric: every campaign's clicks, every organic platform's impressions) are pooled as a random-effects
# meta-analysis: each shrinks towards the family's mean by how much of its spread is noise, campaigns that truly
# differ keep their own effect, and a campaign launched after last year's holiday takes its family's effect (and
# its family's uncertainty) instead of the kind's prior.
# One level up, the family's mean for the holiday is pooled the same way with the family's means of every holiday
# it has measured (``across_holidays``). An organic platform's day is mostly the growth of posts published on
# earlier days, so a holiday moves it by a few percent (-0.02 to -0.13 on the log scale over the simulator's
# seeds), while last year's day measures it with an error of about 0.1 even pooled over the platforms: seed 1
# measured +0.18 on last year's Cyber Monday and got -0.23 this year. There the holidays' true spread is small
# against that error, and one holiday's mean moves much of the way to what the family's holidays do on the whole.
# The campaigns' holidays truly differ (spend x0.67 on Christmas Day, x1.7 on Black Friday), so theirs stay put.
# A measured effect is one day's contrast (or the mean of a few): it carries that day's noise and its neighbours',
# which the members' bounds know nothing of (the day was taken out of what they fit). So the day's bounds move
# apart by it: per series the spread of the same contrast on ordinary days (``_ordinary_contrasts``) over the root of
# the occurrences averaged, added in quadrature to the members' half-widths at each level's normal quantile
# (``_with_effects``): with last year's Black Friday as the only measurement, this year's day is as uncertain as
# that day's noise plus the model's.


# The effect (log1p scale) of a holiday whose series has seen neither an earlier occurrence of it nor any holiday
# of its kind: the first Black Friday of a campaign launched in September, or the first closure of a young series.
# Leaving such a day at the plain forecast bets on no effect at all, the one size a calendar entry rules out; its
# kind says which way the day goes, not how far (a closure may take a tenth off organic reach or half a day's ad
# spend). So the prior is a shrunken default, a fifth down for a closure and a quarter up for a peak (the same
# size on the log scale): a guess that misses the size costs less than a bold one, and the day's intervals widen
# by the prior's size on both sides (``_with_effects``: from no effect at all to twice the prior). A series
# replaces the prior by its family's measured effect as soon as two series of its family have measured one, and by
# its own (pooled) from the first day of the kind in its history on.
# The prior is for the campaign series only: their day is the day's auctions and budgets, which a holiday moves on
# the day itself. An organic platform series has no prior (a first holiday moves it by nothing): its day is the
# growth of every polled post's counters, most of it from posts published on earlier days, so how much of a
# holiday lands on the day itself, and when, is for the platforms' own measurements to say (from the first holiday
# of the kind two of them have seen).
KIND_PRIORS: dict[str, float] = {"closure": float(np.log(0.8)), "peak": float(np.log(1.25))}
_PRIOR_SERIES = "campaign:"  # the series_id prefix of the series a kind prior applies to (campaign_series_days)


@dataclass(frozen=True)
class HolidayAdjustment:
    """The fit frame with each past holiday's own effect taken out (``history``), and per series the log1p effect
    each holiday of the next ``HORIZON`` days adds to its forecast (``effects``: unique_id, ds, effect, spread:
    how much further its bounds move apart, the prior's size where the effect is a ``KIND_PRIORS`` guess, else 0;
    se: the standard error of a measured effect, 0 for a prior's guess)."""

    history: pd.DataFrame
    effects: pd.DataFrame


def _holiday_frame(holidays: pd.DataFrame | None) -> pd.DataFrame:
    if holidays is None or len(holidays) == 0:
        return pd.DataFrame({"holiday_date": pd.Series(dtype="datetime64[ns]"), "name": [], "kind": []})
    h = holidays[["holiday_date", "name", "kind"]].copy()
    unknown = sorted(set(h["kind"].astype(str)) - set(KIND_PRIORS))
    if unknown:
        raise ValueError(f"holiday kind must be one of {', '.join(KIND_PRIORS)}, got {', '.join(map(repr, unknown))}")
    h["holiday_date"] = pd.to_datetime(h["holiday_date"]).dt.normalize()
    return h.drop_duplicates("holiday_date", keep="last")


def holiday_adjustment(fit: pd.DataFrame, holidays: pd.DataFrame | None) -> tuple[HolidayAdjustment, bool]:
    """``fit`` (``_fit_frame``'s columns, every series up to the same last day) adjusted for ``holidays``, and
    whether anything moved (False: the history and the forecasts are the unadjusted models')."""
    empty = pd.DataFrame({"unique_id": [], "ds": pd.Series(dtype="datetime64[ns]"), "effect": [], "spread": [],
                          "se": []})
    hol = _holiday_frame(holidays)
    cutoff, first = fit["ds"].max(), fit["ds"].min()
    hol = hol[(hol["holiday_date"] >= first) & (hol["holiday_date"] <= cutoff + pd.Timedelta(days=HORIZON))]
    if hol.empty:
        return HolidayAdjustment(fit, empty), False
    wide = fit[fit["observed"]].pivot(index="ds", columns="unique_id", values="y")
    wide = wide.reindex(index=pd.date_range(first, cutoff, freq="D"), columns=sorted(fit["unique_id"].unique()))
    holiday_days = set(hol["holiday_date"])
    past = hol[hol["holiday_date"] <= cutoff]
    week = pd.Timedelta(days=SEASON)
    deviations = {}
    for day in past["holiday_date"]:
        neighbours = [n for n in (day - week, day + week) if n in wide.index and n not in holiday_days]
        if neighbours:
            deviations[day] = wide.loc[day] - wide.loc[neighbours].mean(axis=0)
    dev = pd.DataFrame(deviations).T if deviations else pd.DataFrame(columns=wide.columns, dtype=float)
    dev = dev.reindex(columns=wide.columns)
    moved = False
    history = fit
    if len(dev) and dev.notna().any().any():
        taken = dev.rename_axis(index="ds", columns="unique_id").stack().rename("effect").reset_index()
        history = fit.merge(taken, on=["unique_id", "ds"], how="left")
        history["y"] = history["y"] - history["effect"].fillna(0.0)
        history = history.drop(columns="effect")
        moved = True
    future = hol[hol["holiday_date"] > cutoff]
    rows = []
    contrasts = _ordinary_contrasts(wide, holiday_days) if len(future) and len(dev) else None
    noise = contrasts.std(axis=0) if contrasts is not None else None
    together = contrasts.corr() if contrasts is not None else None
    # what each family's holidays do on the whole, for a holiday whose own measurement is mostly noise
    across = across_holidays(dev, noise, together) if contrasts is not None else None
    for day, name, kind in zip(future["holiday_date"], future["name"], future["kind"]):
        same = dev.loc[dev.index.isin(past.loc[past["name"] == name, "holiday_date"])]
        alike = dev.loc[dev.index.isin(past.loc[past["kind"] == kind, "holiday_date"])]
        if len(dev):
            effect = same.mean(axis=0).fillna(alike.mean(axis=0))
            # how many measured days the effect averages: its own occurrences, else those of its kind
            measured = same.notna().sum(axis=0).where(same.notna().any(axis=0), alike.notna().sum(axis=0))
            se = (noise / np.sqrt(measured.where(measured > 0))).where(effect.notna())
            effect, se = partial_pooling(effect, se, together, across)
            se = se.fillna(0.0)
        else:
            effect = pd.Series(np.nan, index=wide.columns)
            se = pd.Series(0.0, index=wide.columns)
        # a holiday with no earlier occurrence of its own or of its kind in a campaign series: the kind's prior
        guessed = effect.isna().to_numpy() & effect.index.str.startswith(_PRIOR_SERIES)
        effect = effect.mask(guessed, KIND_PRIORS[kind]).fillna(0.0)
        if not effect.any():
            continue
        rows.append(pd.DataFrame({"unique_id": effect.index, "ds": day, "effect": effect.to_numpy(float),
                                  "spread": np.where(guessed, abs(KIND_PRIORS[kind]), 0.0),
                                  "se": se.reindex(effect.index).fillna(0.0).to_numpy(float)}))
    effects = pd.concat(rows, ignore_index=True) if rows else empty
    return HolidayAdjustment(history, effects), moved or bool(len(effects))


def _family(series_id: str) -> str:
    """The family a series' holiday effects pool in: its entity type and metric (``campaign:...:clicks``,
    ``platform:...:impressions``); an id of another shape is a family of its own."""
    parts = series_id.split(":")
    return f"{parts[0]}:{parts[-1]}" if len(parts) > 1 else series_id


_SE_FLOOR = 1e-3  # a measured effect's standard error is never taken below this (a constant series has none)


def _random_effects(e: np.ndarray, v: np.ndarray) -> tuple[float, float, float]:
    """DerSimonian-Laird on measurements ``e`` with error variances ``v``: the spread of the true values beyond
    the measurements' own errors (``tau2``), their random-effects mean and its variance (independent errors)."""
    w = 1.0 / v
    fixed = float((w * e).sum() / w.sum())
    q = float((w * (e - fixed) ** 2).sum())
    c = float(w.sum() - (w ** 2).sum() / w.sum())
    tau2 = max(0.0, (q - (len(e) - 1)) / c) if c > 0 else 0.0
    w_random = 1.0 / (tau2 + v)
    return float((w_random * e).sum() / w_random.sum()), 1.0 / float(w_random.sum()), tau2


@dataclass(frozen=True)
class FamilyPool:
    """One holiday's measurements in one family, pooled: the family's mean effect and its variance, the spread of
    the true effects between its series (``tau2``), and the weight each measured series keeps of its own
    (``own``, by series id; the rest goes to the mean)."""

    mean: float
    var: float
    tau2: float
    own: pd.Series


def _family_pools(effect: pd.Series, se: pd.Series,
                  correlation: pd.DataFrame | None = None) -> dict[str, FamilyPool]:
    """``partial_pooling``'s meta-analysis per family of two or more measured series (see there)."""
    pools = {}
    families = pd.Series(effect.index.map(_family), index=effect.index)
    for family, ids in families.groupby(families).groups.items():
        e, s = effect[ids], se[ids]
        measured = e.notna() & s.notna()
        if measured.sum() < 2:
            continue
        em, v = e[measured], np.maximum(s[measured], _SE_FLOOR) ** 2
        mu, var_mu, tau2 = _random_effects(em.to_numpy(float), v.to_numpy(float))
        if correlation is not None:
            r = correlation.reindex(index=em.index, columns=em.index).fillna(0.0).clip(lower=0.0).to_numpy(float)
            np.fill_diagonal(r, 0.0)
            sd = np.sqrt(v.to_numpy(float))
            w_random = 1.0 / (tau2 + v.to_numpy(float))
            share = w_random / w_random.sum()
            var_mu += float(share @ (r * np.outer(sd, sd)) @ share)  # the errors' covariances
        pools[family] = FamilyPool(mu, var_mu, tau2, tau2 / (tau2 + v))
    return pools


# A family's effects across holidays (``across_holidays``) need this many measured holidays before one holiday's
# family mean is pooled with them: fewer cannot tell the holidays' true spread from the measurements' noise.
MIN_HOLIDAYS_ACROSS = 3


@dataclass(frozen=True)
class AcrossHolidays:
    """What a family's holidays do on the whole: the random-effects mean of its holidays' family means, its
    variance, and the spread of the true effects between holidays (``tau2``)."""

    mean: float
    var: float
    tau2: float


def across_holidays(dev: pd.DataFrame, se: pd.Series,
                    correlation: pd.DataFrame | None = None) -> dict[str, AcrossHolidays]:
    """Per family, its past holidays' family means (``dev``: a row per past holiday, a column per series, the
    measured contrasts; ``se``: one measurement's standard error per series) pooled across the holidays, for a
    family with ``MIN_HOLIDAYS_ACROSS`` or more measured holidays.

    Where a family's holidays truly differ (a campaign's spend halves at Christmas and nearly doubles on Black
    Friday) the spread between holidays dwarfs each mean's error and nothing moves. Where they barely do (an
    organic platform's day is mostly the growth of posts published earlier, so a holiday moves it by a few
    percent, under the noise of one day's contrast even pooled over the platforms) one holiday's measurement is
    mostly that noise, and its mean is better told by every holiday the family has seen."""
    means: dict[str, list[tuple[float, float]]] = {}
    for _, row in dev.iterrows():
        for family, pool in _family_pools(row, se.where(row.notna()), correlation).items():
            means.setdefault(family, []).append((pool.mean, pool.var))
    out = {}
    for family, pairs in means.items():
        if len(pairs) >= MIN_HOLIDAYS_ACROSS:
            e, v = np.array(pairs).T
            mean, var, tau2 = _random_effects(e, np.maximum(v, _SE_FLOOR ** 2))
            out[family] = AcrossHolidays(mean, var, tau2)
    return out


def partial_pooling(effect: pd.Series, se: pd.Series, correlation: pd.DataFrame | None = None,
                    across: dict[str, AcrossHolidays] | None = None) -> tuple[pd.Series, pd.Series]:
    """One holiday's measured effects per series (``effect``, NaN where a series has no measurement) and their
    standard errors (``se``), each pooled with its family's (``_family``): a random-effects meta-analysis per
    family (DerSimonian-Laird: the spread of the true effects between series, ``tau``, is what the measurements
    spread beyond their own errors), each measurement shrunk towards the family's mean by its share of noise
    (``se**2 / (se**2 + tau**2)``), and a series without a measurement given the family's mean, its error the
    spread between series. Families with fewer than two measured series are left as they are.

    ``correlation``: between series, how their measurement errors go together (the ordinary days' contrasts'
    correlation): campaigns of one account share days of demand, so the family's mean is known less well than
    from independent measurements; its variance takes the covariances in (none where not given).

    ``across``: per family, what its holidays do on the whole (``across_holidays``): the family's mean for this
    holiday is first shrunk towards it by its share of noise (``var / (var + tau2)``, tau2 the spread between
    holidays), the same step one level up."""
    effect, se = effect.astype(float).copy(), se.astype(float).copy()
    families = effect.index.map(_family)
    for family, pool in _family_pools(effect, se, correlation).items():
        ids = effect.index[families == family]
        mu, var_mu = pool.mean, pool.var
        level = (across or {}).get(family)
        if level is not None:
            keep = level.tau2 / (level.tau2 + var_mu)
            mu, var_mu = level.mean + keep * (mu - level.mean), keep * var_mu + (1.0 - keep) ** 2 * level.var
        own, measured = pool.own, pool.own.index
        v = np.maximum(se[measured], _SE_FLOOR) ** 2
        effect[measured] = mu + own * (effect[measured] - pool.mean)
        se[measured] = np.sqrt(own * v + (1.0 - own) ** 2 * var_mu)
        unmeasured = ids[effect[ids].isna()]
        effect[unmeasured] = mu
        se[unmeasured] = np.sqrt(pool.tau2 + var_mu)
    return effect, se


def _ordinary_contrasts(wide: pd.DataFrame, holiday_days: set) -> pd.DataFrame:
    """Per series (``wide``: log1p values, a row per day) each ordinary day's contrast with the same weekday a week
    before and after (none of the three a holiday): a measured holiday effect is that contrast on the holiday, so
    these days' standard deviation is the error of one measurement (NaN where the history holds fewer than two
    such days), and their correlation between series how far the measurements of a family err together."""
    week = pd.Timedelta(days=SEASON)
    days = wide.index
    ordinary = ~(days.isin(holiday_days) | (days - week).isin(holiday_days) | (days + week).isin(holiday_days))
    # the index is every day from the first to the last, so a shift by SEASON rows is a shift by a week
    contrast = wide - (wide.shift(SEASON) + wide.shift(-SEASON)) / 2
    return contrast[ordinary]


def _with_effects(fc: pd.DataFrame, effects: pd.DataFrame, models: tuple[str, ...]) -> pd.DataFrame:
    """The models' forecasts and bounds (log1p) moved by each day's holiday effect, the bounds ``spread`` further
    apart where the effect is a prior's guess, and, where it was measured, each half-width combined in quadrature
    with the level's normal quantile of its standard error ``se`` (the model's error and last year's noise are
    independent)."""
    if effects.empty:
        return fc
    fc = fc.merge(effects, on=["unique_id", "ds"], how="left")
    shift = fc.pop("effect").fillna(0.0).to_numpy(float)
    spread = fc.pop("spread").fillna(0.0).to_numpy(float)
    se = fc.pop("se").fillna(0.0).to_numpy(float) if "se" in fc else np.zeros(len(fc))
    for m in models:
        point = fc[m].to_numpy(float)
        for lv in LEVELS:
            z = NormalDist().inv_cdf(0.5 + lv / 200)
            lo, hi = fc[f"{m}-lo-{lv}"].to_numpy(float), fc[f"{m}-hi-{lv}"].to_numpy(float)
            lo_half = np.hypot(np.clip(point - lo, 0.0, None), z * se)
            hi_half = np.hypot(np.clip(hi - point, 0.0, None), z * se)
            fc[f"{m}-lo-{lv}"] = point + shift - lo_half - spread
            fc[f"{m}-hi-{lv}"] = point + shift + hi_half + spread
        fc[m] = point + shift
    return fc


# ------------------------------------------------------------------------------------------------ ensemble


def _member(model: str) -> str:
    """A member's columns as Cycle fits it: on the holiday-adjusted history, the effects added back."""
    return f"{model}+holidays"


WEIGHT_POWER = 1  # members weigh by the inverse of their earlier mean absolute error (2 chases noise: 7-day errors)


def member_weights(cv_log: pd.DataFrame) -> pd.DataFrame:
    """Per series (index unique_id) each member's weight (columns ``CYCLE_MEMBERS``, summing to 1) from its mean
    absolute error (log1p scale) over the observed days of the rolling origins in ``cv_log``."""
    rows = cv_log[cv_log["observed"].astype(bool)] if "observed" in cv_log else cv_log
    if rows.empty:
        return pd.DataFrame(columns=list(CYCLE_MEMBERS), dtype=float)
    err = pd.DataFrame({m: (rows["y"] - rows[_member(m)]).abs() for m in CYCLE_MEMBERS})
    mae = err.groupby(rows["unique_id"].to_numpy()).mean()
    inverse = np.power(np.maximum(mae, 1e-6), -WEIGHT_POWER)
    return inverse.div(inverse.sum(axis=1), axis=0)


def _add_cycle(frame: pd.DataFrame, weights: pd.DataFrame | None = None,
               widen: dict[int, float] | None = None) -> pd.DataFrame:
    """The ensemble's columns from its members' (log1p scale): per series the members' forecasts and bounds
    weighted by ``weights`` (equal where a series has none), each bound's distance from the forecast times
    ``widen[level]`` (1 when not given)."""
    frame = frame.copy()
    equal = 1.0 / len(CYCLE_MEMBERS)
    w = {
        m: (weights[m].reindex(frame["unique_id"]).fillna(equal).to_numpy(float)
            if weights is not None and len(weights) else np.full(len(frame), equal))
        for m in CYCLE_MEMBERS
    }

    def blend(suffix: str) -> np.ndarray:
        return sum(w[m] * frame[f"{_member(m)}{suffix}"].to_numpy(float) for m in CYCLE_MEMBERS)

    frame[CYCLE] = blend("")
    for lv in LEVELS:
        k = (widen or {}).get(lv, 1.0)
        lo, hi = blend(f"-lo-{lv}"), blend(f"-hi-{lv}")
        frame[f"{CYCLE}-lo-{lv}"] = frame[CYCLE] - k * np.clip(frame[CYCLE] - lo, 0.0, None)
        frame[f"{CYCLE}-hi-{lv}"] = frame[CYCLE] + k * np.clip(hi - frame[CYCLE], 0.0, None)
    return frame


def _ensemble_by_origin(cv_log: pd.DataFrame, widen: dict[int, float] | None = None) -> pd.DataFrame:
    """Cycle's columns at every origin of ``cv_log``, each weighted by the members' errors at the origins before
    it only (equal weights at the first): an origin's own actuals never choose its weights."""
    frames = []
    for cutoff, rows in cv_log.groupby("cutoff", sort=True):
        frames.append(_add_cycle(rows, member_weights(cv_log[cv_log["cutoff"] < cutoff]), widen))
    return pd.concat(frames, ignore_index=True)


def _rolling(fit: pd.DataFrame, holidays: pd.DataFrame | None, cutoffs: list[pd.Timestamp],
             baselines: tuple[str, ...], fit_days: int | None = None) -> pd.DataFrame:
    """Every origin in ``cutoffs``: ``baselines`` fitted to the raw history up to it, Cycle's members to the
    holiday-adjusted history, each forecasting the next ``HORIZON`` days (log1p), next to the actuals (y,
    observed). Where no holiday touches the days the models fit or the horizon, the members are the baselines'
    own fits (the same days in, the same forecasts out). ``fit_days``: every model fits the last that many days
    up to the origin; the holiday effects are measured on the whole history up to it."""
    frames = []
    horizon = pd.Timedelta(days=HORIZON)
    for cutoff in cutoffs:
        history = fit[fit["ds"] <= cutoff]
        actual = fit[(fit["ds"] > cutoff) & (fit["ds"] <= cutoff + horizon)]
        history = _budget_bound(history, _window(history, cutoff, fit_days))
        raw = _window(history, cutoff, fit_days)
        fc = _sf_forecast(baselines, raw) if baselines else None
        paths = budget_paths(raw, cutoff)
        adjustment, moved = holiday_adjustment(_per_budget(history), holidays)
        adjusted = _window(adjustment.history, cutoff, fit_days)
        untouched = paths.empty and (not moved or (adjustment.effects.empty and len(adjusted) == len(raw)
                                                   and all(np.array_equal(adjusted[c].to_numpy(), raw[c].to_numpy())
                                                           for c in ("unique_id", "ds", "y"))))
        if fc is not None and untouched and set(CYCLE_MEMBERS) <= set(baselines):
            members = fc[["unique_id", "ds", *[c for m in CYCLE_MEMBERS for c in _columns(m)]]]
        else:
            members = _with_effects(_sf_forecast(CYCLE_MEMBERS, adjusted), adjustment.effects, CYCLE_MEMBERS)
            members = _with_budgets(members, paths, CYCLE_MEMBERS)
        members = members.rename(columns={c: c.replace(m, _member(m), 1)
                                          for m in CYCLE_MEMBERS for c in _columns(m)})
        out = members if fc is None else fc.merge(members, on=["unique_id", "ds"])
        out = out.merge(actual[["unique_id", "ds", "y", "observed"]], on=["unique_id", "ds"])
        frames.append(out.assign(cutoff=cutoff))
    return pd.concat(frames, ignore_index=True)


def _cutoffs(fit: pd.DataFrame, windows: int) -> list[pd.Timestamp]:
    """``windows`` origins a week apart, the last one ``HORIZON`` days before the end of ``fit``."""
    last = fit["ds"].max()
    return [last - pd.Timedelta(days=HORIZON * (windows - i)) for i in range(windows)]


# ------------------------------------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class Evaluation:
    """A cross-validation's outcome: every scored origin's forecasts next to the actuals (``cv``), per model the
    scores (``scores``: mase, smape, aggregate_mape, coverage_80, coverage_95) and the interval widening."""

    cv: pd.DataFrame
    scores: pd.DataFrame
    widen: dict[int, float]


def cross_validate(series: pd.DataFrame, *, windows: int = 4, min_history: int = MIN_HISTORY,
                   calibrate: bool = True, holidays: pd.DataFrame | None = None,
                   fit_days: int | None = None) -> Evaluation:
    """Rolling-origin cross-validation of every baseline and Cycle's ensemble: ``windows`` origins a week apart,
    the last one ``HORIZON`` days before the end, each forecasting the next ``HORIZON`` days from the history up to
    it. Cycle's members see ``holidays`` (the calendar, known ahead); the baselines are statsforecast's as they
    come. Cycle's member weights at each origin come from the origins before it; ``calibrate``: its interval
    widening is learned on the earlier half of the origins (``interval_widening``) and every model is scored on
    the later half, never on the residuals that chose Cycle's weights or widening. ``fit_days``: every model fits
    the last that many days up to each origin (MASE scales on the same days), Cycle's holiday effects are measured
    on the whole history up to it (None: everything fits the whole history)."""
    _check_fit_days(fit_days, min_history)
    series = _forecastable(series, min_history + windows * HORIZON)
    if series.empty:
        raise ValueError(f"no series has {min_history + windows * HORIZON} days of history to cross-validate on")
    fit = _fit_frame(series)
    cutoffs = _cutoffs(fit, windows)
    cv_log = _rolling(fit, holidays, cutoffs, BASELINES, fit_days)
    widen = {lv: 1.0 for lv in LEVELS}
    if calibrate and len(cutoffs) >= 2:
        early = cutoffs[: len(cutoffs) // 2]
        widen = interval_widening(_ensemble_by_origin(cv_log[cv_log["cutoff"].isin(early)]))
        cv = _ensemble_by_origin(cv_log, widen)
        cv = cv[~cv["cutoff"].isin(early)]
    else:
        cv = _ensemble_by_origin(cv_log)
    cv = _back(cv.drop(columns=[c for m in CYCLE_MEMBERS for c in _columns(_member(m))]), (*BASELINES, CYCLE))
    cv["y"] = np.expm1(cv["y"])
    cv["horizon"] = ((cv["ds"] - cv["cutoff"]).dt.days).astype(int)
    return Evaluation(cv=cv, scores=score(cv, series, (*BASELINES, CYCLE), fit_days), widen=widen)


def interval_widening(cv_log: pd.DataFrame) -> dict[int, float]:
    """Per level, the factor Cycle's bounds must move away from its forecast (log1p scale) for the share of
    actuals inside them to reach the level on ``cv_log`` (rolling-origin rows with Cycle's columns, as
    ``_ensemble_by_origin`` gives them). Never below 1: the members' intervals narrow only when they have earned
    it, which they never have here."""
    rows = cv_log[cv_log["observed"].astype(bool)] if "observed" in cv_log else cv_log
    out = {}
    for lv in LEVELS:
        err = rows["y"] - rows[CYCLE]
        half = np.where(err >= 0, rows[f"{CYCLE}-hi-{lv}"] - rows[CYCLE], rows[CYCLE] - rows[f"{CYCLE}-lo-{lv}"])
        ratio = np.abs(err.to_numpy(float)) / np.maximum(half, 1e-9)
        out[lv] = float(max(1.0, np.quantile(ratio, lv / 100))) if len(ratio) else 1.0
    return out


def score(cv: pd.DataFrame, series: pd.DataFrame, models: tuple[str, ...],
          fit_days: int | None = None) -> pd.DataFrame:
    """Per model: MASE (each series' mean absolute error over the seasonal-naive in-sample error of its history up
    to the origin, the last ``fit_days`` days of it when given: what the models fit, averaged over series and
    origins), sMAPE (%), MAPE (%) of the aggregate series (each metric summed over its series, per day: total
    spend, clicks, conversions, organic impressions, engagements) and the share of actuals inside the 80% and
    95% intervals."""
    scales = _mase_scales(series, cv[["unique_id", "cutoff"]].drop_duplicates(), fit_days)
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


def _mase_scales(series: pd.DataFrame, origins: pd.DataFrame, fit_days: int | None = None) -> pd.DataFrame:
    """Each series' MASE scale at each origin: the mean absolute seasonal (lag 7) difference of its history up
    to the origin (its last ``fit_days`` days when given)."""
    rows = []
    by_id = {sid: s.sort_values("metric_date") for sid, s in series.groupby("series_id")}
    for sid, cutoff in zip(origins["unique_id"], origins["cutoff"]):
        s = by_id[sid]
        since = cutoff - pd.Timedelta(days=fit_days) if fit_days is not None else pd.Timestamp.min
        y = s.loc[(s["metric_date"] <= cutoff) & (s["metric_date"] > since), "value"].to_numpy(float)
        diff = np.abs(y[SEASON:] - y[:-SEASON])
        rows.append((sid, cutoff, float(diff.mean()) if len(diff) else np.nan))
    return pd.DataFrame(rows, columns=["unique_id", "cutoff", "scale"])


# ------------------------------------------------------------------------------------------------ forecasts


def _history_to(series: pd.DataFrame, origin: pd.Timestamp, min_history: int) -> pd.DataFrame:
    """The rows of ``series`` up to and including ``origin`` of the series with something to forecast there."""
    series = series[pd.to_datetime(series["metric_date"]) <= origin]
    return _forecastable(series, min_history) if len(series) else series


def forecast(series: pd.DataFrame, origin: date, *, min_history: int = MIN_HISTORY,
             widen: dict[int, float] | None = None, calibration_windows: int = 2,
             holidays: pd.DataFrame | None = None, fit_days: int | None = None) -> pd.DataFrame:
    """Cycle's 7-day forecasts (``FORECAST_COLUMNS``) of every series with ``min_history`` days up to and including
    ``origin``, for ``origin + 1 .. origin + 7``, from the history up to ``origin`` only (so a rerun or a
    backfill of an origin gives the same rows, whatever was loaded after it). ``holidays``: the calendar
    (holiday_date, name, kind), known ahead: a holiday in the horizon moves the forecast by the effect its
    earlier occurrences (else its kind's; else, in a campaign series, its kind's prior) had on the series.

    ``widen``: the interval widening per level, with equal member weights; None learns the member weights and the
    widening from ``calibration_windows`` rolling origins just before ``origin`` on the series with the history
    for them (else equal weights and the members' own bounds).

    ``fit_days``: the members fit the last that many days up to each origin (``history_days`` says how many they
    had), while the holiday effects are measured on the whole of ``series`` up to ``origin``: give it a year and
    more, and a holiday's forecast moves by what the same holiday did last year (None: the members fit it all)."""
    _check_fit_days(fit_days, min_history)
    origin_ts = pd.Timestamp(origin)
    series = _history_to(series, origin_ts, min_history)
    if series.empty:
        return pd.DataFrame(columns=FORECAST_COLUMNS)
    fit = _fit_frame(series)
    weights = None
    if widen is None:
        weights, widen = _calibrate(series, holidays, min_history, calibration_windows, fit_days)
    fit = _budget_bound(fit, _window(fit, origin_ts, fit_days))
    adjustment, _ = holiday_adjustment(_per_budget(fit), holidays)
    fc = _with_effects(_sf_forecast(CYCLE_MEMBERS, _window(adjustment.history, origin_ts, fit_days)),
                       adjustment.effects, CYCLE_MEMBERS)
    fc = _with_budgets(fc, budget_paths(_window(fit, origin_ts, fit_days), origin_ts), CYCLE_MEMBERS)
    fc = fc.rename(columns={c: c.replace(m, _member(m), 1) for m in CYCLE_MEMBERS for c in _columns(m)})
    fc = _back(_add_cycle(fc, weights, widen), (CYCLE,))
    meta = series.drop_duplicates("series_id").set_index("series_id")[_SERIES_META[1:]]
    history = series.groupby("series_id")["metric_date"].size()
    if fit_days is not None:
        history = history.clip(upper=fit_days)
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
    out["model"] = MODEL_NAME
    out["history_days"] = out["series_id"].map(history).astype(int)
    # a bound that moved past the forecast by rounding would unorder the interval; a count never goes below 0
    out["lo_80"] = np.minimum(out["lo_80"], out["forecast"])
    out["hi_80"] = np.maximum(out["hi_80"], out["forecast"])
    out["lo_95"] = np.minimum(out["lo_95"], out["lo_80"]).clip(lower=0.0)
    out["hi_95"] = np.maximum(out["hi_95"], out["hi_80"])
    return out[FORECAST_COLUMNS].sort_values(["series_id", "horizon"], ignore_index=True)


HOLIDAY_EFFECT_COLUMNS = ["holiday_date", "holiday", "family", "series", "factor", "lowest", "highest", "from_prior"]


def horizon_holiday_effects(series: pd.DataFrame, origin: date, holidays: pd.DataFrame | None, *,
                            min_history: int = MIN_HISTORY, fit_days: int | None = None) -> pd.DataFrame:
    """What each holiday in the ``HORIZON`` days after ``origin`` does to ``forecast``'s series, per family
    (``_family``: entity type and metric): how many series it moves, the factor on the median one (exp of the
    effect on the log1p scale) and the lowest and highest, and how many of them take the kind's prior rather than a
    measured effect (``HOLIDAY_EFFECT_COLUMNS``; empty without a holiday in the horizon). The same effects
    ``forecast`` adds back, from the same history up to ``origin`` (``fit_days``: as ``forecast``'s, the window
    the campaigns' budget elasticities are measured on): what a materialization shows of them."""
    origin_ts = pd.Timestamp(origin)
    series = _history_to(series, origin_ts, min_history)
    if series.empty:
        return pd.DataFrame(columns=HOLIDAY_EFFECT_COLUMNS)
    fit = _fit_frame(series)
    fit = _budget_bound(fit, _window(fit, origin_ts, fit_days))
    effects = holiday_adjustment(_per_budget(fit), holidays)[0].effects
    effects = effects[effects["ds"] > origin_ts]
    if effects.empty:
        return pd.DataFrame(columns=HOLIDAY_EFFECT_COLUMNS)
    names = _holiday_frame(holidays).set_index("holiday_date")["name"]
    effects = effects.assign(family=effects["unique_id"].map(_family), factor=np.exp(effects["effect"]),
                             prior=effects["spread"] > 0)
    out = effects.groupby(["ds", "family"], as_index=False).agg(
        series=("unique_id", "size"), factor=("factor", "median"), lowest=("factor", "min"),
        highest=("factor", "max"), from_prior=("prior", "sum"))
    out = out.rename(columns={"ds": "holiday_date"}).assign(holiday=lambda f: f["holiday_date"].map(names))
    return out[HOLIDAY_EFFECT_COLUMNS].sort_values(["holiday_date", "family"], ignore_index=True)


def _calibrate(series: pd.DataFrame, holidays: pd.DataFrame | None, min_history: int,
               windows: int, fit_days: int | None = None) -> tuple[pd.DataFrame | None, dict[int, float]]:
    """Member weights per series and the interval widening from ``windows`` rolling origins a week apart, the
    last a week before the end of ``series``: the weights from every one of them, the widening from Cycle's
    forecasts at each, weighted by the origins before it (as ``cross_validate`` scores it)."""
    eligible = _forecastable(series, min_history + windows * HORIZON) if windows >= 1 else series.iloc[:0]
    if eligible.empty:
        return None, {lv: 1.0 for lv in LEVELS}
    fit = _fit_frame(eligible)
    cv_log = _rolling(fit, holidays, _cutoffs(fit, windows), (), fit_days)
    return member_weights(cv_log), interval_widening(_ensemble_by_origin(cv_log))
