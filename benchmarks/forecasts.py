"""7-day forecasts on the simulator's planted series (trend, weekly seasonality, holidays, level shifts:
``SimulatorConfig.patterns``): Cycle's forecaster (ml/forecasting.py) against statsforecast's SeasonalNaive(7),
AutoETS and AutoARIMA, by rolling-origin cross-validation on the same series.

    make benchmark-ml                        # every section; this one alone:
    python -m benchmarks.ml forecasts --forecast-seeds 3 --forecast-days 105

Each seed simulates ``--forecast-days`` days of every always-on campaign's spend, clicks and conversions and every
platform's organic impressions and engagements; the last ``--forecast-windows`` weeks are rolling origins
(horizon 7). Cycle's interval widening is learned on the earlier half of the origins and scored on the later
half (every model is scored on those). Goal: Cycle's MASE below SeasonalNaive's and no worse than the best
statsforecast model's; MAPE of the aggregate series < 10%; 80% and 95% coverage within 5 points of nominal.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta

import pandas as pd

from analytics_assets.sources.simulator import SeriesPatterns, SimulatorConfig
from analytics_assets.sources.simulator.anomaly_series import daily_series
from ml.forecasting import BASELINES, CYCLE, LEVELS, campaign_series_days, cross_validate, platform_series_days

GOAL_AGGREGATE_MAPE = 10.0
GOAL_COVERAGE_POINTS = 5.0
START = date(2026, 1, 5)


def simulated_series(seed: int, days: int, posts_per_day: int) -> pd.DataFrame:
    """The long daily series (ml.forecasting's columns) of one seed's planted patterns."""
    config = SimulatorConfig(seed=seed, posts_per_day=posts_per_day, patterns=SeriesPatterns(start=START))
    campaigns, platforms = daily_series(config, START, START + timedelta(days=days - 1))
    return pd.concat([campaign_series_days(campaigns), platform_series_days(platforms)], ignore_index=True)


def evaluate(seeds: list[int], days: int, windows: int, posts_per_day: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per seed and model the scores of ``ml.forecasting.score``; and their mean over the seeds per model."""
    rows = []
    for seed in seeds:
        series = simulated_series(seed, days, posts_per_day)
        t = time.perf_counter()
        ev = cross_validate(series, windows=windows)
        seconds = time.perf_counter() - t
        for model, s in ev.scores.iterrows():
            rows.append({"seed": seed, "model": model, **s.to_dict(), "series": series["series_id"].nunique(),
                         "seconds": seconds})
    per_seed = pd.DataFrame(rows)
    cols = ["mase", "smape", "aggregate_mape", *[f"coverage_{lv}" for lv in LEVELS]]
    return per_seed, per_seed.groupby("model", sort=False)[cols].mean()


def report(seeds: list[int], days: int, windows: int, posts_per_day: int) -> bool:
    """Print the section; True when Cycle meets every goal."""
    per_seed, table = evaluate(seeds, days, windows, posts_per_day)
    series = int(per_seed["series"].iloc[0]) if len(per_seed) else 0
    print(f"\n== forecasts: {len(seeds)} seeds x {days} days (~{series} series each), {windows} rolling origins "
          f"(horizon 7), scored on the last {windows - windows // 2}")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print("(MASE: mean absolute error over the seasonal-naive in-sample error, per series and origin; sMAPE in %; "
          "aggregate MAPE: each metric summed over its series, per day, in %; coverage in % of actuals inside)")
    cycle = table.loc[CYCLE]
    best = min(table.loc[m, "mase"] for m in BASELINES)
    checks = {
        "MASE below SeasonalNaive": cycle["mase"] < table.loc["SeasonalNaive", "mase"],
        "MASE no worse than the best baseline": cycle["mase"] <= best,
        f"aggregate MAPE < {GOAL_AGGREGATE_MAPE:g}%": cycle["aggregate_mape"] < GOAL_AGGREGATE_MAPE,
        **{
            f"{lv}% coverage within {GOAL_COVERAGE_POINTS:g} points": abs(cycle[f"coverage_{lv}"] - lv)
            <= GOAL_COVERAGE_POINTS
            for lv in LEVELS
        },
    }
    print("goal: " + "; ".join(f"{k} {'yes' if ok else 'NO'}" for k, ok in checks.items())
          + f" -> {'met' if all(checks.values()) else 'NOT met'}")
    return all(checks.values())


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--forecast-seeds", type=int, default=3, help="forecasts: seeds (1..n)")
    ap.add_argument("--forecast-days", type=int, default=105, help="forecasts: days per seed")
    ap.add_argument("--forecast-windows", type=int, default=6, help="forecasts: rolling origins a week apart")
    ap.add_argument("--forecast-posts-per-day", type=int, default=60)


def run(args: argparse.Namespace) -> bool:
    return report(
        list(range(1, args.forecast_seeds + 1)), args.forecast_days, args.forecast_windows,
        args.forecast_posts_per_day,
    )


if __name__ == "__main__":  # the runner's options and summary, for this section only
    from benchmarks.ml import main

    raise SystemExit(main(["forecasts", *sys.argv[1:]]))
