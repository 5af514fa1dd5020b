"""7-day forecasts on the simulator's planted series (trend, weekly seasonality, holidays, level shifts:
``SimulatorConfig.patterns``): Cycle's forecaster (ml/forecasting.py) against statsforecast's SeasonalNaive(7),
AutoETS and AutoARIMA, by rolling-origin cross-validation on the same series.

    make benchmark-ml                        # every section; this one alone:
    python -m benchmarks.ml forecasts --forecast-seeds 5 --forecast-jobs 2

Each seed simulates ``--forecast-days`` days from ``--forecast-start`` of every always-on campaign's spend, clicks
and conversions and every platform's organic impressions and engagements; the last ``--forecast-windows`` weeks
are rolling origins (horizon 7). The holidays are planted on the deployment's default calendar
(``contracts/holidays.py``), and Cycle's forecaster reads the same calendar as known future inputs; the baselines
are statsforecast's as they come. Cycle's member weights at an origin come from the origins before it, its
interval widening from the earlier half of the origins; every model is scored on the later half. Goal, on every
seed and on the mean: Cycle's MASE below SeasonalNaive's and no worse than the best statsforecast model's; MAPE of
the aggregate series < 10%; 80% and 95% coverage within 5 points of nominal.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta

import pandas as pd

from analytics_assets.contracts.holidays import HolidayCalendar
from analytics_assets.sources.simulator import SeriesPatterns, SimulatorConfig
from analytics_assets.sources.simulator.anomaly_series import daily_series
from ml.forecasting import BASELINES, CYCLE, LEVELS, campaign_series_days, cross_validate, platform_series_days

GOAL_AGGREGATE_MAPE = 10.0
GOAL_COVERAGE_POINTS = 5.0
# The default window ends on Sunday 13 December: its six origins run from 1 November to 6 December, so the three
# scored ones forecast Thanksgiving and Black Friday (the first of their kinds in the history: Cycle's forecaster
# has only its kind priors to go on), Cyber Monday (a peak seen once, on Black Friday) and the week after, and the
# earlier three, which learn the member weights and the interval widening, hold no holiday. A window without a
# holiday would score nothing of the calendar, the one input the baselines lack.
START = date(2026, 8, 31)
DAYS = 105
# the deployment's holiday calendar (the CYCLE_HOLIDAY_CALENDAR default): the simulator plants its holidays on these
# days, and Cycle's forecaster reads the same calendar as known future inputs
CALENDAR = HolidayCalendar()


def simulated_series(seed: int, start: date, days: int, posts_per_day: int, campaigns_per_platform: int = 4,
                     calendar: HolidayCalendar = CALENDAR) -> pd.DataFrame:
    """The long daily series (ml.forecasting's columns) of one seed's planted patterns, the holidays planted on
    ``calendar``'s days."""
    config = SimulatorConfig(seed=seed, posts_per_day=posts_per_day, campaigns_per_platform=campaigns_per_platform,
                             patterns=SeriesPatterns(start=start, calendar=calendar))
    campaigns, platforms = daily_series(config, start, start + timedelta(days=days - 1))
    return pd.concat([campaign_series_days(campaigns), platform_series_days(platforms)], ignore_index=True)


def evaluate_seed(seed: int, start: date, days: int, windows: int, posts_per_day: int,
                  campaigns_per_platform: int) -> list[dict]:
    """One seed's scores per model (``ml.forecasting.score``), with the CPU seconds it took."""
    t = time.process_time()
    series = simulated_series(seed, start, days, posts_per_day, campaigns_per_platform)
    simulated = time.process_time() - t
    end = start + timedelta(days=days - 1)
    ev = cross_validate(series, windows=windows, holidays=CALENDAR.frame(start, end + timedelta(days=7)))
    fitted = time.process_time() - t - simulated
    print(f"seed {seed}: simulated in {simulated:.0f} CPU s, cross-validated in {fitted:.0f} CPU s", flush=True)
    return [{"seed": seed, "model": model, **s.to_dict(), "series": series["series_id"].nunique(),
             "simulate_cpu_s": simulated, "fit_cpu_s": fitted} for model, s in ev.scores.iterrows()]


def evaluate(seeds: list[int], start: date, days: int, windows: int, posts_per_day: int,
             campaigns_per_platform: int = 4, jobs: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per seed and model the scores of ``ml.forecasting.score``; and their mean over the seeds per model.
    ``jobs``: seeds evaluated at once, each in its own single-threaded process (the figures are the same)."""
    args = [(seed, start, days, windows, posts_per_day, campaigns_per_platform) for seed in seeds]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(evaluate_seed, *zip(*args)))
    else:
        results = [evaluate_seed(*a) for a in args]
    per_seed = pd.DataFrame([row for rows in results for row in rows])
    cols = ["mase", "smape", "aggregate_mape", *[f"coverage_{lv}" for lv in LEVELS]]
    return per_seed, per_seed.groupby("model", sort=False)[cols].mean()


def goals(scores: pd.Series, baselines: pd.DataFrame) -> dict[str, bool]:
    """Cycle's goals on one set of scores (``scores``: Cycle's row; ``baselines``: the baselines' rows)."""
    return {
        "MASE below SeasonalNaive": scores["mase"] < baselines.loc["SeasonalNaive", "mase"],
        "MASE no worse than the best baseline": scores["mase"] <= baselines["mase"].min(),
        f"aggregate MAPE < {GOAL_AGGREGATE_MAPE:g}%": scores["aggregate_mape"] < GOAL_AGGREGATE_MAPE,
        **{
            f"{lv}% coverage within {GOAL_COVERAGE_POINTS:g} points": abs(scores[f"coverage_{lv}"] - lv)
            <= GOAL_COVERAGE_POINTS
            for lv in LEVELS
        },
    }


def report(seeds: list[int], start: date, days: int, windows: int, posts_per_day: int,
           campaigns_per_platform: int = 4, jobs: int = 1) -> bool:
    """Print the section; True when Cycle meets every goal on every seed and on the mean."""
    t = time.perf_counter()
    per_seed, table = evaluate(seeds, start, days, windows, posts_per_day, campaigns_per_platform, jobs)
    series = int(per_seed["series"].iloc[0]) if len(per_seed) else 0
    end = start + timedelta(days=days - 1)
    print(f"\n== forecasts: {len(seeds)} seeds x {days} days ({start} .. {end}, ~{series} series each), {windows} "
          f"rolling origins (horizon 7), scored on the last {windows - windows // 2}; holidays in the window: "
          + (", ".join(f"{h.name} {h.day}" for h in CALENDAR.holidays(start, end)) or "none"))
    rows = []
    met_all = True
    for seed, g in per_seed.groupby("seed", sort=True):
        g = g.set_index("model")
        checks = goals(g.loc[CYCLE], g.loc[list(BASELINES)])
        met_all &= all(checks.values())
        rows.append({"seed": seed, **{f"MASE {m}": g.loc[m, "mase"] for m in (CYCLE, *BASELINES)},
                     "agg MAPE %": g.loc[CYCLE, "aggregate_mape"],
                     **{f"cover {lv}%": g.loc[CYCLE, f"coverage_{lv}"] for lv in LEVELS},
                     "goal": "met" if all(checks.values()) else
                     "NOT met (" + "; ".join(k for k, ok in checks.items() if not ok) + ")"})
    print("Cycle per seed (MASE beside the baselines'; aggregate MAPE and coverage are Cycle's):")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("mean over the seeds, every model:")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print("(MASE: mean absolute error over the seasonal-naive in-sample error, per series and origin; sMAPE in %; "
          "aggregate MAPE: each metric summed over its series, per day, in %; coverage in % of actuals inside)")
    checks = goals(table.loc[CYCLE], table.loc[list(BASELINES)])
    met_all &= all(checks.values())
    print("goal on the mean: " + "; ".join(f"{k} {'yes' if ok else 'NO'}" for k, ok in checks.items())
          + f"; on every seed: {'yes' if all(r['goal'] == 'met' for r in rows) else 'NO'}"
          + f" -> {'met' if met_all else 'NOT met'}")
    cpu = per_seed.drop_duplicates("seed")[["simulate_cpu_s", "fit_cpu_s"]].sum()
    print(f"runtime: {time.perf_counter() - t:.0f}s wall; {cpu['simulate_cpu_s'] + cpu['fit_cpu_s']:.0f} CPU s "
          f"({cpu['simulate_cpu_s']:.0f} simulating, {cpu['fit_cpu_s']:.0f} fitting), one thread per seed")
    return met_all


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--forecast-seeds", type=int, default=5, help="forecasts: seeds (1..n)")
    ap.add_argument("--forecast-start", type=date.fromisoformat, default=START,
                    help="forecasts: the first simulated day")
    ap.add_argument("--forecast-days", type=int, default=DAYS, help="forecasts: days per seed")
    ap.add_argument("--forecast-windows", type=int, default=6, help="forecasts: rolling origins a week apart")
    ap.add_argument("--forecast-posts-per-day", type=int, default=60)
    ap.add_argument("--forecast-campaigns-per-platform", type=int, default=4)
    ap.add_argument("--forecast-jobs", type=int, default=1, help="forecasts: seeds evaluated at once (processes)")


def run(args: argparse.Namespace) -> bool:
    return report(
        list(range(1, args.forecast_seeds + 1)), args.forecast_start, args.forecast_days, args.forecast_windows,
        args.forecast_posts_per_day, args.forecast_campaigns_per_platform, args.forecast_jobs,
    )


if __name__ == "__main__":  # the runner's options and summary, for this section only
    from benchmarks.ml import main

    raise SystemExit(main(["forecasts", *sys.argv[1:]]))
