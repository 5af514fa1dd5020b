"""Anomalies in the daily campaign and platform series: which day, which series, what kind, how far off.

Each series is judged against its own recent history, one day at a time, as it would be on the morning after:

- the value is read on a log scale (``y``), where a doubling is the same distance at every level. Ratios are
  read as counts given their exposure: a campaign's clicks given its impressions (click-through), its
  conversions given its clicks (tracking), so a day with more traffic is not an anomaly of the ratio;
- the expected ``y`` is the median of the last ``level_days`` clean days plus, from the first judged day,
  only when it explains the history (cuts its mean absolute residual by a fifth), a weekday offset: the median of the
  same weekday against the median of all;
- the spread is the MAD of the history's residuals (x1.4826), never below the day's own counting noise
  (binomial: ``sqrt((1 - r) / (n r))`` on the log scale for a ratio ``r`` over ``n``) nor ``min_scale``;
- a day is flagged when its robust z-score passes ``z_threshold`` *and* it is off by at least ``min_change``
  (a factor): statistically unusual and large enough to act on. A flagged day of a known kind is left out of
  later days' history, so a two-day outage does not become the norm on its second day; a run of ``shift_days`` flags in
  one direction is a level shift instead, and goes back into the history;
- the kind comes from the series and the direction it moved (``SERIES``): spend above its budget pacing is a
  spend spike, conversions falling given clicks a tracking outage, clicks falling given impressions a CTR
  collapse, a platform's organic impressions or engagements jumping a viral spike; any other move is "other",
  and must be off by ``other_min_change`` (twice or half) to be told: it has no known cause to act on;
- a count (clicks, conversions) must also be far in its Poisson tail (``count_z``): a small campaign's day
  without a conversion is chance, not an outage.

Plain library: pandas, numpy and scipy. ``isolation_forest_flags`` (scikit-learn) and ``interval_flags``
(statsforecast's AutoETS prediction intervals) are the baselines the benchmark compares with.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

KINDS = ("spend_spike", "tracking_outage", "ctr_collapse", "viral_spike", "other")
SEVERITIES = ("critical", "high", "medium")


@dataclass(frozen=True)
class SeriesKind:
    """What one metric of an entity means when it moves: the kind of a rise and of a fall."""

    metric: str
    entity_type: str  # campaign or platform
    up: str
    down: str


SERIES = {
    s.metric: s
    for s in (
        # spend against the day's budget (pacing): a budget change is a decision, not an anomaly
        SeriesKind("spend", "campaign", up="spend_spike", down="other"),
        SeriesKind("clicks", "campaign", up="other", down="ctr_collapse"),  # given impressions
        SeriesKind("conversions", "campaign", up="other", down="tracking_outage"),  # given clicks
        SeriesKind("impressions", "platform", up="viral_spike", down="other"),
        SeriesKind("engagements", "platform", up="viral_spike", down="other"),
    )
}

ANOMALY_COLUMNS = [
    "series_id", "entity_type", "platform", "account_id", "campaign_id", "metric", "metric_date", "kind", "severity",
    "observed", "expected", "expected_low", "expected_high", "change", "score", "history_days",
]


@dataclass(frozen=True)
class DetectorConfig:
    z_threshold: float = 5.0  # robust z-score a day must pass
    min_change: float = 1.5  # ... and the factor it must be off by (1.5: +50% or -33%)
    window_days: int = 28  # history a day is judged against
    level_days: int = 14  # recent clean days whose median is the level
    min_history: int = 10  # clean days of history below which a day is not judged
    min_span_days: int = 14  # ... nor before the series is two weeks old: every weekday seen twice
    min_scale: float = 0.02  # smallest spread on the log scale (2%): exact series must not flag every wobble
    # a count (clicks, conversions) must also be this far in its Poisson tail given its expected count (3.72: a
    # chance of 1 in 10,000), so a small campaign's day without conversions is not an outage
    count_z: float = 3.72
    # a move of no known kind ("other": spend under its pacing, an organic day that falls) must be off by this factor
    other_min_change: float = 2.0
    shift_days: int = 3  # flags in a row, one direction: a level shift, not an anomaly any more
    seasonal_gain: float = 0.8  # the weekday profile is used when it cuts the residual spread below this share


# ------------------------------------------------------------------------------------------------ series


def campaign_series(days: pd.DataFrame) -> pd.DataFrame:
    """The long series of campaign days: one row per campaign, metric and delivering day.

    ``days``: metric_date, platform, account_id, campaign_id, spend_usd, impressions, clicks, conversions and
    optionally daily_budget_usd (the budget of the version valid that day). A day without delivery (paused) is
    no observation of any series: nothing is expected of it."""
    d = days.copy()
    d["metric_date"] = pd.to_datetime(d["metric_date"])
    metrics = ["spend_usd", "impressions", "clicks", "conversions"]
    for c in [*metrics, "daily_budget_usd"]:
        if c in d:
            d[c] = pd.to_numeric(d[c], errors="coerce").astype(float).where(lambda v: np.isfinite(v))
    # one row per campaign and day, whatever the input repeats (split rows add up)
    key = ["metric_date", "platform", "account_id", "campaign_id"]
    agg = {**{c: "sum" for c in metrics}, **({"daily_budget_usd": "max"} if "daily_budget_usd" in d else {})}
    d = d.groupby(key, dropna=False, sort=False).agg(agg).reset_index()
    d = d[(d["spend_usd"] > 0) & (d["impressions"] > 0)].sort_values("metric_date")
    budget = pd.to_numeric(d.get("daily_budget_usd", pd.Series(np.nan, index=d.index)), errors="coerce")
    budget = budget.where(budget > 0)
    # a day without a known budget takes the campaign's last (else next) known one: a series read half against
    # its budget and half in dollars would jump between the two scales
    by_campaign = budget.groupby([d["platform"], d["campaign_id"]])
    budget = by_campaign.ffill().groupby([d["platform"], d["campaign_id"]]).bfill()
    paced = budget.notna()
    base = d[["metric_date", "platform", "account_id", "campaign_id"]]
    frames = [
        # spend: its share of the budget where one is known (the observed and expected values stay in USD)
        base.assign(metric="spend", observed=d["spend_usd"], exposure=np.where(paced, budget, 1.0), count_based=False),
        base.assign(metric="clicks", observed=d["clicks"], exposure=d["impressions"], count_based=True),
        base[d["clicks"] > 0].assign(
            metric="conversions", observed=d["conversions"], exposure=d["clicks"], count_based=True
        ),
    ]
    out = pd.concat([f.dropna(subset=["observed"]) for f in frames], ignore_index=True)
    out["entity_type"] = "campaign"
    out["series_id"] = "campaign:" + out["platform"] + ":" + out["campaign_id"].astype(str) + ":" + out["metric"]
    return out


def platform_series(days: pd.DataFrame) -> pd.DataFrame:
    """The long series of organic platform days (``agg_platform_daily``'s organic rows): metric_date, platform,
    impressions, engagements."""
    d = days.copy()
    d["metric_date"] = pd.to_datetime(d["metric_date"])
    for metric in ("impressions", "engagements"):
        d[metric] = pd.to_numeric(d[metric], errors="coerce").astype(float).where(lambda v: np.isfinite(v))
    totals = d.groupby(["metric_date", "platform"], sort=False)[["impressions", "engagements"]]
    d = totals.sum(min_count=1).reset_index()
    frames = []
    for metric in ("impressions", "engagements"):
        frames.append(
            d[["metric_date", "platform"]].assign(metric=metric, observed=d[metric], exposure=1.0, count_based=False)
        )
    out = pd.concat(frames, ignore_index=True).dropna(subset=["observed"])
    out = out[out["observed"] > 0]
    out["entity_type"] = "platform"
    out["account_id"] = None
    out["campaign_id"] = None
    out["series_id"] = "platform:" + out["platform"] + ":" + out["metric"]
    return out


def _log_value(observed: np.ndarray, exposure: np.ndarray, count_based: bool) -> np.ndarray:
    """The series on the log scale: a count given its exposure (half a count added, so zero has a place)."""
    if count_based:
        return np.log((observed + 0.5) / exposure)
    return np.log(np.maximum(observed, 1e-9) / exposure)


# ------------------------------------------------------------------------------------------------ detector


def _expected(y_hist: np.ndarray, dow_hist: np.ndarray, dow: int, config: DetectorConfig) -> tuple[float, np.ndarray]:
    """The expected log value of a day of weekday ``dow`` and the history's residuals against its own expectation.

    The weekday offsets are medians of one to four points (up to four weeks of history): a history day's residual
    uses the offset of the other days of its weekday (leave one out), else each weekday's median day would read
    exactly as expected and the spread would shrink to nothing."""
    recent = slice(-config.level_days, None)
    level = float(np.median(y_hist[recent]))
    plain = y_hist - level
    if len(y_hist) >= config.min_history:
        centre = float(np.median(y_hist))
        offsets = np.zeros(7)
        loo = np.zeros(len(y_hist))
        for w in range(7):
            same = np.flatnonzero(dow_hist == w)
            if len(same) == 0:
                continue
            offsets[w] = float(np.median(y_hist[same])) - centre
            if len(same) >= 2:  # a weekday seen once has no other day to be judged by: its residual stays plain
                for i in same:
                    loo[i] = float(np.median(y_hist[same[same != i]])) - centre
        seasonal_level = float(np.median((y_hist - offsets[dow_hist])[recent]))
        seasonal = y_hist - seasonal_level - loo
        # the mean absolute residual, not the MAD: a weekend is two days in seven, a minority the MAD would ignore
        if np.mean(np.abs(seasonal)) < config.seasonal_gain * np.mean(np.abs(plain)):
            return seasonal_level + offsets[dow], seasonal
    return level, plain


def _mad(x: np.ndarray) -> float:
    return 1.4826 * float(np.median(np.abs(x - np.median(x)))) if len(x) else 0.0


def _judge_series(s: pd.DataFrame, config: DetectorConfig, evaluate_from: pd.Timestamp | None) -> list[dict]:
    s = s.sort_values("metric_date")
    dates = s["metric_date"].to_numpy()
    observed = s["observed"].to_numpy(float)
    exposure = s["exposure"].to_numpy(float)
    count_based = bool(s["count_based"].iloc[0])
    y = _log_value(observed, exposure, count_based)
    dow = pd.DatetimeIndex(dates).dayofweek.to_numpy()
    spec = SERIES[s["metric"].iloc[0]]
    clean = np.ones(len(y), dtype=bool)  # days that may serve as history
    run: list[int] = []  # the current run of flags in one direction
    run_sign = 0
    window = np.timedelta64(config.window_days, "D")
    flags = []
    for i in range(len(y)):
        in_window = (dates >= dates[i] - window) & (np.arange(len(y)) < i) & clean
        hist = np.flatnonzero(in_window)
        young = dates[i] - dates[0] < np.timedelta64(config.min_span_days, "D")
        if len(hist) < config.min_history or young or not np.isfinite(y[i]):
            continue
        expected, residuals = _expected(y[hist], dow[hist], int(dow[i]), config)
        scale = max(_mad(residuals), config.min_scale)
        if count_based:
            rate = float(np.exp(expected))
            scale = max(scale, float(np.sqrt(max(1 - rate, 0.0) / max(exposure[i] * rate, 1e-9))))
        diff = float(y[i] - expected)
        z = diff / scale
        kind = spec.up if diff > 0 else spec.down
        min_change = config.other_min_change if kind == "other" else config.min_change
        flagged = abs(z) >= config.z_threshold and abs(diff) >= np.log(min_change)
        if flagged and count_based:
            flagged = _count_z(observed[i], exposure[i] * np.exp(expected) - 0.5, diff > 0) >= config.count_z
        sign = int(np.sign(diff)) if flagged else 0
        if flagged:
            # a day of a known kind stays out of later history; an unexplained move stays in (it may be a new normal)
            clean[i] = kind == "other"
            run = run + [i] if sign == run_sign else [i]
            run_sign = sign
            if len(run) >= config.shift_days:
                clean[run] = True  # a level shift: the new level is the history from now on
        else:
            run, run_sign = [], 0
        if not flagged or (evaluate_from is not None and dates[i] < evaluate_from):
            continue
        band = config.z_threshold * scale
        to_value = (lambda v: exposure[i] * np.exp(v) - (0.5 if count_based else 0.0))
        expected_value = max(float(to_value(expected)), 0.0)
        flags.append(
            {
                "metric_date": pd.Timestamp(dates[i]).date(),
                "kind": kind,
                "severity": _severity(kind, z, config),
                "observed": float(observed[i]),
                "expected": expected_value,
                "expected_low": max(float(to_value(expected - band)), 0.0),
                "expected_high": float(to_value(expected + band)),
                "change": float(observed[i] / expected_value - 1) if expected_value > 0 else None,
                "score": float(z),
                "history_days": int(len(hist)),
            }
        )
    return flags


def _count_z(observed: float, expected: float, up: bool) -> float:
    """How far ``observed`` is in the Poisson tail of ``expected`` (in the direction it moved), as a normal score."""
    mean = max(expected, 1e-9)
    p = stats.poisson.sf(observed - 1, mean) if up else stats.poisson.cdf(observed, mean)
    return float(stats.norm.isf(max(p, 1e-300)))


def _severity(kind: str, z: float, config: DetectorConfig) -> str:
    """Critical: the data itself is broken (a tracking outage), or the day is three thresholds out; high: two."""
    if kind == "tracking_outage" or abs(z) >= 3 * config.z_threshold:
        return "critical"
    return "high" if abs(z) >= 2 * config.z_threshold else "medium"


def _series_to_judge(series: pd.DataFrame, start: pd.Timestamp | None) -> Iterator[tuple[str, pd.DataFrame]]:
    """Each series of ``series`` by id, less those that ended before ``start`` (a campaign over): none of their
    days is evaluated. ``detect_anomalies`` and ``series_days`` both judge these, so the false alarms' numerator
    and denominator cover the same series."""
    for series_id, s in series.groupby("series_id", sort=True):
        if start is not None and s["metric_date"].max() < start:
            continue
        yield series_id, s


def detect_anomalies(
    series: pd.DataFrame, config: DetectorConfig | None = None, *, evaluate_from=None
) -> pd.DataFrame:
    """Every flagged day of every series of ``series`` (``campaign_series`` and/or ``platform_series`` rows),
    one row each (``ANOMALY_COLUMNS``), ordered by date and series. With ``evaluate_from`` (a date) only the
    days from then on are reported; the earlier ones serve as history (and their flags still keep a bad day
    out of it), so a run over one day's partition reports what a run over the whole range reports for that day."""
    config = config or DetectorConfig()
    start = pd.Timestamp(evaluate_from) if evaluate_from is not None else None
    rows = []
    if len(series):
        for series_id, s in _series_to_judge(series, start):
            first = s.iloc[0]
            for flag in _judge_series(s, config, start):
                rows.append(
                    {
                        "series_id": series_id,
                        "entity_type": first["entity_type"],
                        "platform": first["platform"],
                        "account_id": first["account_id"],
                        "campaign_id": first["campaign_id"],
                        "metric": first["metric"],
                        **flag,
                    }
                )
    out = pd.DataFrame(rows, columns=ANOMALY_COLUMNS)
    return out.sort_values(["metric_date", "series_id"], ignore_index=True)


def series_days(series: pd.DataFrame, config: DetectorConfig | None = None, *, evaluate_from=None) -> int:
    """How many series-days ``detect_anomalies`` judges (each with enough history): the denominator of false
    alarms per 100 series-days."""
    config = config or DetectorConfig()
    start = pd.Timestamp(evaluate_from) if evaluate_from is not None else None
    total = 0
    for _, s in _series_to_judge(series, start):
        dates = np.sort(s["metric_date"].to_numpy())
        history = np.arange(len(dates))  # days before each (every one counted clean: an upper bound of a few)
        window = np.timedelta64(config.window_days, "D")
        seen = np.array([np.sum((dates[:i] >= dates[i] - window)) for i in history])
        judged = (seen >= config.min_history) & (dates - dates[0] >= np.timedelta64(config.min_span_days, "D"))
        if start is not None:
            judged &= dates >= start
        total += int(judged.sum())
    return total


def entity_days(anomalies: pd.DataFrame) -> pd.DataFrame:
    """The anomalies per entity and day (a viral spike moves a platform's impressions and its engagements: one
    event): entity_type, platform, campaign_id, metric_date, kind (the most severe row's), metrics (joined)."""
    if anomalies.empty:
        return pd.DataFrame(columns=["entity_type", "platform", "campaign_id", "metric_date", "kind", "metrics"])
    a = anomalies.assign(_rank=anomalies["score"].abs()).sort_values("_rank", ascending=False)
    key = ["entity_type", "platform", "campaign_id", "metric_date"]
    a["campaign_id"] = a["campaign_id"].fillna("")
    grouped = a.groupby(key, sort=True)
    out = grouped.agg(kind=("kind", "first"), metrics=("metric", lambda m: ",".join(sorted(set(m))))).reset_index()
    out["campaign_id"] = out["campaign_id"].replace("", None)
    return out


# ------------------------------------------------------------------------------------------------ baselines


def _deviation_features(series: pd.DataFrame, window_days: int, min_history: int) -> pd.DataFrame:
    """Per series-day: its log value minus the median of its trailing window (no exclusions, no seasonality)."""
    rows = []
    for series_id, s in series.groupby("series_id", sort=True):
        s = s.sort_values("metric_date")
        y = _log_value(s["observed"].to_numpy(float), s["exposure"].to_numpy(float), bool(s["count_based"].iloc[0]))
        dates = s["metric_date"].to_numpy()
        for i in range(len(y)):
            hist = y[(dates >= dates[i] - np.timedelta64(window_days, "D")) & (dates < dates[i])]
            if len(hist) < min_history:
                continue
            rows.append((series_id, s["entity_type"].iloc[0], s["platform"].iloc[0], s["campaign_id"].iloc[0],
                         s["metric"].iloc[0], dates[i], y[i] - float(np.median(hist)), _mad(hist)))
    return pd.DataFrame(
        rows, columns=["series_id", "entity_type", "platform", "campaign_id", "metric", "metric_date", "deviation", "mad"]
    )


def isolation_forest_flags(
    series: pd.DataFrame, *, contamination: float, window_days: int = 28, min_history: int = 7, seed: int = 0
) -> pd.DataFrame:
    """IsolationForest (scikit-learn, what the ad analytics design names) over entity-days: the features are each
    metric's deviation from its trailing median; one forest per entity type; ``contamination`` is the share of
    entity-days it flags. The kind is the metric that deviates most (in MADs) and its direction. Returns the
    ``entity_days`` columns."""
    from sklearn.ensemble import IsolationForest

    feats = _deviation_features(series, window_days, min_history)
    out = []
    for entity_type, f in feats.groupby("entity_type"):
        f = f.assign(campaign_id=f["campaign_id"].fillna(""))
        key = ["platform", "campaign_id", "metric_date"]
        wide = f.pivot_table(index=key, columns="metric", values="deviation").fillna(0.0)
        forest = IsolationForest(n_estimators=200, contamination=contamination, random_state=seed)
        flagged = forest.fit_predict(wide.to_numpy()) == -1
        mads = f.pivot_table(index=key, columns="metric", values="mad").reindex(columns=wide.columns).fillna(1.0)
        standardized = wide / mads.clip(lower=0.02)
        for (platform, campaign_id, day), row in standardized[flagged].iterrows():
            metric = str(row.abs().idxmax())
            spec = SERIES[metric]
            out.append(
                {
                    "entity_type": entity_type, "platform": platform, "campaign_id": campaign_id or None,
                    "metric_date": pd.Timestamp(day).date(), "kind": spec.up if row[metric] > 0 else spec.down,
                    "metrics": metric,
                }
            )
    return pd.DataFrame(out, columns=["entity_type", "platform", "campaign_id", "metric_date", "kind", "metrics"])


def interval_flags(series: pd.DataFrame, *, level: int = 99, evaluate_from=None) -> pd.DataFrame:
    """statsforecast's prediction-interval method: AutoETS (weekly season) fitted per series on the log values,
    a day flagged when it falls outside its one-step-ahead ``level``% interval (the in-sample fitted values).
    Returns the ``entity_days`` columns; the kind follows the series and the direction, as Cycle's."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    frames = []
    meta = {}
    for series_id, s in series.groupby("series_id", sort=True):
        s = s.sort_values("metric_date")
        y = _log_value(s["observed"].to_numpy(float), s["exposure"].to_numpy(float), bool(s["count_based"].iloc[0]))
        frames.append(pd.DataFrame({"unique_id": series_id, "ds": s["metric_date"].to_numpy(), "y": y}))
        meta[series_id] = s.iloc[0]
    data = pd.concat(frames, ignore_index=True)
    sf = StatsForecast(models=[AutoETS(season_length=7)], freq="D", n_jobs=1)
    sf.forecast(df=data, h=1, level=[level], fitted=True)
    fitted = sf.forecast_fitted_values()
    lo, hi = fitted[f"AutoETS-lo-{level}"], fitted[f"AutoETS-hi-{level}"]
    out_of_band = fitted[(fitted["y"] < lo) | (fitted["y"] > hi)]
    if evaluate_from is not None:
        out_of_band = out_of_band[out_of_band["ds"] >= pd.Timestamp(evaluate_from)]
    rows = []
    for r in out_of_band.itertuples(index=False):
        m = meta[r.unique_id]
        spec = SERIES[m["metric"]]
        rows.append(
            {
                "entity_type": m["entity_type"], "platform": m["platform"], "campaign_id": m["campaign_id"],
                "metric_date": pd.Timestamp(r.ds).date(), "kind": spec.up if r.y > r.AutoETS else spec.down,
                "metrics": m["metric"],
            }
        )
    flags = pd.DataFrame(rows, columns=["entity_type", "platform", "campaign_id", "metric_date", "kind", "metrics"])
    return flags.drop_duplicates(["entity_type", "platform", "campaign_id", "metric_date"], ignore_index=True)


# ------------------------------------------------------------------------------------------------ scoring


def score_against_truth(flags: pd.DataFrame, truth: pd.DataFrame, judged_series_days: int) -> dict[str, float]:
    """Precision, recall, F1 (an event found when its entity is flagged on its day with its kind) and false alarms
    per 100 series-days. ``flags``: ``entity_days`` columns; ``truth``: kind, platform, campaign_id, metric_date
    (the simulator's ``planted_anomalies``)."""
    def key(frame: pd.DataFrame) -> pd.Series:
        campaign = frame["campaign_id"].fillna("").astype(str)
        entity = np.where(campaign != "", "campaign:" + campaign, "platform:" + frame["platform"].astype(str))
        return pd.Series(entity, index=frame.index) + "@" + pd.to_datetime(frame["metric_date"]).dt.strftime("%Y-%m-%d")

    planted = dict(zip(key(truth), truth["kind"])) if len(truth) else {}
    flagged = dict(zip(key(flags), flags["kind"])) if len(flags) else {}
    hits = sum(1 for k, kind in flagged.items() if planted.get(k) == kind)
    found_by_kind = {kind: 0 for kind in sorted(set(planted.values()))}
    for k, kind in planted.items():
        found_by_kind[kind] += flagged.get(k) == kind
    false_alarms = sum(1 for k in flagged if k not in planted)
    precision = hits / len(flagged) if flagged else 1.0
    recall = hits / len(planted) if planted else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "planted": len(planted),
        "flagged": len(flagged),
        "hits": hits,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_alarms": false_alarms,
        "false_alarms_per_100": 100 * false_alarms / judged_series_days if judged_series_days else 0.0,
        # per planted kind: (found, planted)
        "by_kind": {kind: (found_by_kind[kind], list(planted.values()).count(kind)) for kind in found_by_kind},
    }


# ------------------------------------------------------------------------------------------------ insights

_KIND_WORDS = {
    "spend_spike": ("Spend spike", "Check the campaign's pacing and budget settings and cap its daily spend; these "
                    "days' cost per result is not the campaign's usual."),
    "tracking_outage": ("Conversion tracking outage", "Check the conversion tag or pixel and the platform's "
                        "conversion settings; do not judge the campaign on these days' conversions."),
    "ctr_collapse": ("CTR collapse", "Check the creatives' approval status and the landing page; pause what stopped "
                     "earning clicks if it stays down."),
    "viral_spike": ("Viral spike", "Find the post that took off and reuse its hook and format; leave these days out "
                    "of trend baselines."),
    "other": ("Unusual day", "Check for a tracking change, an outage or bot traffic before using these days for "
              "decisions."),
}
_SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


def anomaly_insights(anomalies: pd.DataFrame) -> list[dict]:
    """One finding per entity and kind of ``anomalies`` (rows of ``detect_anomalies``, as
    ``analysis.metric_anomalies`` holds them), as the fields of an ``ml.insights.Finding`` (which builds them:
    this module stays below the insights), naming the dates and series, each day's observed value and expected
    range in its evidence. Its account is the campaign's ad account (none for a platform's organic series)."""
    if anomalies is None or anomalies.empty:
        return []
    a = anomalies.assign(
        metric_date=pd.to_datetime(anomalies["metric_date"]).dt.date,
        _entity=np.where(
            anomalies["entity_type"] == "campaign",
            anomalies["platform"].astype(str) + " campaign " + anomalies["campaign_id"].fillna("").astype(str),
            anomalies["platform"].astype(str) + " organic",
        ),
    )
    findings = []
    for (entity, kind), g in a.groupby(["_entity", "kind"], sort=True):
        g = g.sort_values(["metric_date", "metric"])
        worst = g.loc[g["score"].abs().idxmax()]
        dates = sorted({d.isoformat() for d in g["metric_date"]})
        label, action = _KIND_WORDS.get(kind, _KIND_WORDS["other"])
        when = dates[0] if len(dates) == 1 else f"{', '.join(dates[:-1])} and {dates[-1]}"
        title = (
            f"{label} on {entity} on {when}: {worst['metric']} {worst['observed']:,.0f} on {worst['metric_date']} "
            f"against an expected {worst['expected_low']:,.0f}-{worst['expected_high']:,.0f}"
        )
        account = worst["account_id"] if worst["entity_type"] == "campaign" and pd.notna(worst["account_id"]) else None
        findings.append(
            dict(
                category="anomaly",
                subject=f"{entity} {kind}",
                title=title,
                action=action,
                severity=min(g["severity"], key=lambda s: _SEVERITY_ORDER.get(s, len(SEVERITIES))),
                metric=str(worst["metric"]),
                effect=None if pd.isna(worst["change"]) else float(worst["change"]),
                n=len(dates),
                platform=str(worst["platform"]),
                account_id=None if account is None else str(account),
                evidence={
                    "kind": kind,
                    "dates": dates,
                    "series": sorted(set(g["series_id"])),
                    "days": [
                        {
                            "date": r.metric_date.isoformat(), "series_id": r.series_id, "observed": float(r.observed),
                            "expected": float(r.expected), "expected_low": float(r.expected_low),
                            "expected_high": float(r.expected_high), "robust_z": float(r.score),
                        }
                        for r in g.itertuples(index=False)
                    ],
                    "method": "ml.anomalies: robust level and weekday profile of each series' own history, MAD-scaled",
                },
            )
        )
    return findings
