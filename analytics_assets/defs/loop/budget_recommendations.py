"""Budget recommendations: how to split the always-on campaigns' total daily budget (``ml.budget``).

Each campaign's daily spend and conversions (``fct_campaign_performance``, with the day's budget from
``agg_campaign_daily_summary``) give it a response curve with carryover and saturation, and a bootstrap of it; a
campaign whose spend never varied enough, or whose conversions never showed where returns diminish, is reported
as unidentified and keeps its budget. The identified ones share what the total leaves (default: today's total
budget of the delivering campaigns) within ``min_share_of_current..max_share_of_current`` of their budgets, at
equal marginal returns. Every campaign whose budget moves by at least ``min_change`` gets a recommendation (kind
``budget``, target the campaign): "set the daily budget to X (from Y)", with the expected conversions a day at
the new and the current budget (90% intervals of a realized day) and the probability that the whole allocation
beats the current budgets. The action key carries both budgets: a rerun on the same data makes the same ids.

On flat spend (the default simulator: budgets that barely move, conversions in proportion to spend) every curve is
unidentified and nothing is proposed, as the materialization's metadata says per campaign.

Writes ``ml.budget_recommendation_proposals``; the posting policy's ``ml_recommendations`` step merges them.
"""

import json
from datetime import datetime, timedelta, timezone
from typing import Optional

import dagster as dg
import numpy as np
import pandas as pd

from analytics_assets.contracts.recommendations import INTERVAL_LEVEL, recommendation_id
from analytics_assets.contracts.warehouse import BUDGET_RECOMMENDATION_PROPOSALS, table_metadata
from analytics_assets.defs.analysis.daily_series import read_campaign_days
from analytics_assets.defs.automation import FOLLOW_UPSTREAM
from analytics_assets.defs.loop.proposals import (
    PROPOSAL_COLUMNS,
    contract_check_result,
    contract_check_spec,
    write_proposals,
)
from analytics_assets.defs.metadata import markdown_preview
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.resources import WarehouseResource

BUDGET_KINDS = ("budget",)
VALID_DAYS = 7  # a budget plan is for the coming week: the next run re-plans on the newer data
PACING_DAYS = 28  # recent days whose spend per budget dollar converts a budget into the spend a curve reads


class BudgetRecommendationConfig(dg.Config):
    # the total daily budget (USD) to split; None: the current budgets of the campaigns delivering today
    total_budget_usd: Optional[float] = None
    min_share_of_current: float = 0.5  # a campaign's budget stays within these shares of its current one
    max_share_of_current: float = 2.0
    min_change: float = 0.05  # a smaller move of a budget is no recommendation
    history_days: int = 182  # days of spend and conversions the curves are fitted on
    bootstraps: int = 100


def config_problems(config: BudgetRecommendationConfig) -> list[str]:
    """What is wrong with a run's config, in words (empty: nothing)."""
    problems = []
    if not 0 <= config.min_share_of_current <= 1:
        problems.append(f"min_share_of_current must be in 0..1, got {config.min_share_of_current}")
    if config.max_share_of_current < 1:
        problems.append(f"max_share_of_current must be at least 1, got {config.max_share_of_current}")
    if config.total_budget_usd is not None and not config.total_budget_usd > 0:
        problems.append(f"total_budget_usd must be positive (or unset: today's total), got {config.total_budget_usd}")
    if config.min_change < 0:
        problems.append(f"min_change must be >= 0, got {config.min_change}")
    if config.history_days < 28:
        problems.append(f"history_days must be at least 28 (a curve needs 28 days with spend), got {config.history_days}")
    if config.bootstraps < 10:
        problems.append(f"bootstraps must be at least 10 for a 90% interval, got {config.bootstraps}")
    return problems


def campaign_series(days: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each campaign's consecutive days (metric_date, spend_usd, conversions, daily_budget_usd) from its first to
    the newest day of ``days``; a day without a row delivered nothing (spend and conversions 0)."""
    days = days.assign(metric_date=pd.to_datetime(days["metric_date"]))
    newest = days["metric_date"].max()
    out = {}
    for cid, g in days.groupby("campaign_id", sort=True):
        calendar = pd.date_range(g["metric_date"].min(), newest, freq="D")
        g = g.groupby("metric_date")[["spend_usd", "conversions", "daily_budget_usd"]].sum(min_count=1).reindex(calendar)
        g[["spend_usd", "conversions"]] = g[["spend_usd", "conversions"]].fillna(0.0).clip(lower=0)
        out[str(cid)] = g.rename_axis("metric_date").reset_index()
    return out


def current_budgets(days: pd.DataFrame, series: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per campaign: platform, account_id, campaign_id, current_budget_usd (its budget on the newest day),
    is_active (it spent on that day) and pacing (median spend per budget dollar of its active recent days)."""
    meta = days.assign(campaign_id=days["campaign_id"].astype(str)).drop_duplicates("campaign_id").set_index("campaign_id")
    rows = []
    for cid, s in series.items():
        last = s.iloc[-1]
        recent = s.tail(PACING_DAYS)
        delivering = recent[(recent["spend_usd"] > 0) & (recent["daily_budget_usd"] > 0)]
        pacing = float((delivering["spend_usd"] / delivering["daily_budget_usd"]).median()) if len(delivering) else 0.0
        budget = last["daily_budget_usd"]
        rows.append(
            {
                "platform": meta.loc[cid, "platform"],
                "account_id": meta.loc[cid, "account_id"],
                "campaign_id": cid,
                "current_budget_usd": 0.0 if pd.isna(budget) else float(budget),
                "is_active": bool(last["spend_usd"] > 0),
                "pacing": pacing,
            }
        )
    return pd.DataFrame(rows, columns=["platform", "account_id", "campaign_id", "current_budget_usd", "is_active", "pacing"])


def _evidence(row, fit, totals: dict, n_allocated: int) -> str:
    weekly = f"; its {fit.holdout_days // 7}-week totals {fit.holdout_weekly_r2:.2f}" if not np.isnan(fit.holdout_weekly_r2) else ""
    r2 = (
        f"held-out R² {fit.holdout_r2:.2f} on the {fit.holdout_days} active days of the last weeks (daily{weekly}), "
        "fitted without them"
        if fit.holdout_days
        else "no held-out score (too few days)"
    )
    return (
        f"Response curve fitted on {fit.active_days} days with spend (${fit.spend_p10:,.0f}..${fit.spend_p90:,.0f} a "
        f"day, 10th..90th percentile): carryover decay {fit.decay:.2f} a day, half-saturation ${fit.half_saturation:,.0f} "
        f"of spend a day, ceiling {fit.ceiling:,.1f} conversions a day; {r2}. Expected conversions a day at the new "
        f"budget {row.new_expected:,.1f} [{row.new_low:,.1f}, {row.new_high:,.1f}] against {row.now_expected:,.1f} "
        f"[{row.now_low:,.1f}, {row.now_high:,.1f}] now (90% intervals of a day, moving-block bootstrap of the curve "
        f"plus the day's noise), at {row.pacing:.0%} of the budget spent. Part of one allocation of "
        f"${totals['allocated_budget_usd']:,.2f} a day over {n_allocated} campaigns with identified curves: "
        f"{totals['new_expected']:,.1f} conversions a day against {totals['now_expected']:,.1f} now, better with "
        f"probability {totals['confidence']:.0%}."
    )


def budget_recommendations(plan, fits: dict, as_of: datetime, min_change: float) -> pd.DataFrame:
    """Contract rows (every column but the generation columns) for the budgets of ``plan`` (``ml.budget.Allocation``)
    that move by at least ``min_change``; ``as_of`` is the newest day of data."""
    from ml.budget import EXPECTED_METRIC, METHOD

    frame, totals = plan.campaigns, plan.totals
    moved = frame[
        frame["allocated"]
        & ((frame["recommended_budget_usd"] - frame["current_budget_usd"]).abs() >= min_change * frame["current_budget_usd"])
    ]
    valid_from = (pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)).date()
    rows = []
    for row in moved.itertuples(index=False):
        fit = fits[row.campaign_id]
        new, cur = float(row.recommended_budget_usd), float(row.current_budget_usd)
        fields = {
            "daily_budget_usd": round(new, 2),
            "current_daily_budget_usd": round(cur, 2),
            "change_share": round(new / cur - 1, 4),
            "valid_from": valid_from.isoformat(),
            "pacing": round(float(row.pacing), 4),
            "decay": round(fit.decay, 4),
            "half_saturation_spend_usd": round(fit.half_saturation, 2),
            "ceiling_conversions": round(fit.ceiling, 3),
            "holdout_r2": None if np.isnan(fit.holdout_r2) else round(fit.holdout_r2, 4),
            "holdout_weekly_r2": None if np.isnan(fit.holdout_weekly_r2) else round(fit.holdout_weekly_r2, 4),
            "total_budget_usd": round(totals["total_budget_usd"], 2),
        }
        action_key = f"daily_budget={new:.2f};from={cur:.2f}"
        rows.append(
            {
                "recommendation_id": recommendation_id("budget", row.platform, row.account_id, "campaign", row.campaign_id, action_key),
                "kind": "budget",
                "platform": row.platform,
                "account_id": row.account_id,
                "target_type": "campaign",
                "target_id": row.campaign_id,
                "action": f"Set the daily budget of campaign {row.campaign_id} to ${new:,.2f} (from ${cur:,.2f}) "
                f"from {valid_from.isoformat()}",
                "action_fields": json.dumps(fields, sort_keys=True),
                "slot_start": None,
                "expected_metric": EXPECTED_METRIC,
                "expected_value": float(row.new_expected),
                "expected_low": float(row.new_low),
                "expected_high": float(row.new_high),
                "baseline_value": float(row.now_expected),  # the same campaign at its current budget
                # the recommendations of a run are one plan: the probability that the plan beats the current budgets
                "confidence": float(totals["confidence"]),
                "propensity": 1.0,  # deterministic: the optimum of the fitted curves
                "policy": "greedy",
                "model_name": METHOD,
                "model_version": f"data to {pd.Timestamp(as_of).date().isoformat()}",
                "sample_size": int(fit.active_days),
                "evidence": _evidence(row, fit, totals, int(frame["allocated"].sum())),
                "expires_at": pd.Timestamp(as_of).to_pydatetime() + timedelta(days=VALID_DAYS),
            }
        )
    return pd.DataFrame(rows, columns=list(PROPOSAL_COLUMNS))


def _campaign_table(frame: pd.DataFrame) -> pd.DataFrame:
    def money(x) -> str:
        return "" if pd.isna(x) else f"${x:,.2f}"

    def conv(e, lo, hi) -> str:
        return "" if pd.isna(e) else f"{e:,.1f} [{lo:,.1f}, {hi:,.1f}]"

    return pd.DataFrame(
        {
            "campaign": frame["platform"] + " " + frame["campaign_id"],
            "current budget": frame["current_budget_usd"].map(money),
            "recommended": frame["recommended_budget_usd"].map(money),
            "conversions/day now": [conv(*v) for v in zip(frame["now_expected"], frame["now_low"], frame["now_high"])],
            "at recommended": [conv(*v) for v in zip(frame["new_expected"], frame["new_low"], frame["new_high"])],
            "curve": np.where(frame["allocated"], "identified", frame["reason"]),
        }
    )


@dg.asset(
    deps=["fct_campaign_performance", "agg_campaign_daily_summary"],
    group_name="recommendations",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
    metadata=table_metadata(BUDGET_RECOMMENDATION_PROPOSALS),
    automation_condition=FOLLOW_UPSTREAM,
    description="Budget recommendations of the latest data: each always-on campaign's response curve (carryover "
    "and saturation) fitted from its daily spend and conversions with a moving-block bootstrap, and the split of "
    "the total daily budget that maximizes the expected conversions within 50%..200% of each current budget; "
    "each moved budget with the expected conversions a day at it and now (90% intervals). Campaigns whose curve "
    "the data cannot identify keep their budget and are listed with the reason. Merged into ml_recommendations "
    "(kind budget). Method: ml/budget.py.",
    check_specs=[contract_check_spec("budget_recommendation_proposals")],
)
def budget_recommendation_proposals(
    context: dg.AssetExecutionContext, config: BudgetRecommendationConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from ml.budget import BudgetConfig, fit_curve, plan_budgets

    problems = config_problems(config)
    if problems:  # before anything is read or written: the last proposals stay as they were
        raise dg.Failure("budget_recommendation_proposals: bad config: " + "; ".join(problems))
    with warehouse.connect() as con:
        as_of = con.execute(
            "select max(metric_date) from main.agg_campaign_daily_summary where not is_boost"
        ).fetchone()[0]
        days = (
            read_campaign_days(con, as_of - timedelta(days=config.history_days - 1), as_of)
            if as_of is not None
            else pd.DataFrame()
        )
    proposed_at = datetime.now(timezone.utc).replace(tzinfo=None)
    if days.empty:
        with warehouse.connect() as con:
            write_proposals(con, BUDGET_RECOMMENDATION_PROPOSALS, pd.DataFrame(columns=list(PROPOSAL_COLUMNS)), proposed_at, proposed_at)
        reason = "no always-on campaign has any day in the warehouse yet: no budget to split"
        context.log.info(reason)
        return dg.MaterializeResult(
            metadata={"dagster/row_count": 0, "skipped": True, "skip_reason": reason},
            check_results=[contract_check_result(pd.DataFrame(columns=list(PROPOSAL_COLUMNS)))],
        )
    as_of = pd.Timestamp(as_of).to_pydatetime()
    series = campaign_series(days)
    budget_config = BudgetConfig(interval_level=INTERVAL_LEVEL, bootstraps=config.bootstraps)
    campaigns = current_budgets(days, series)
    # only a campaign delivering on the newest day can be allocated (plan_budgets keeps the others, "paused on the
    # latest day"): the ended campaigns of the window, more of them the longer the history, are not fitted
    delivering = set(campaigns.loc[campaigns["is_active"], "campaign_id"])
    fits = {
        cid: fit_curve(s["spend_usd"], s["conversions"], budget_config) for cid, s in series.items() if cid in delivering
    }
    try:
        plan = plan_budgets(
            campaigns, fits, config.total_budget_usd, config.min_share_of_current, config.max_share_of_current, budget_config
        )
    except ValueError as e:  # a total the bounds cannot hold: nothing is written, the last proposals stay
        raise dg.Failure(f"budget_recommendation_proposals: {e}. Change total_budget_usd or the shares.") from e
    proposed = budget_recommendations(plan, fits, as_of, config.min_change)
    with warehouse.connect() as con:
        write_proposals(con, BUDGET_RECOMMENDATION_PROPOSALS, proposed, proposed_at, as_of)
    frame, totals = plan.campaigns, plan.totals
    unidentified = {f"{r.platform} {r.campaign_id}": r.reason for r in frame[~frame["allocated"]].itertuples()}
    if not frame["allocated"].any():
        context.log.info(f"no campaign has an identified response curve: nothing proposed ({len(frame)} kept)")

    def interval(which: str) -> str:
        if f"{which}_expected" not in totals:
            return "n/a: no campaign with an identified curve"
        return f"{totals[f'{which}_expected']:,.1f} [{totals[f'{which}_low']:,.1f}, {totals[f'{which}_high']:,.1f}]"

    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(proposed),
            "as_of": str(as_of.date()),
            "campaigns": len(frame),
            "identified_curves": int(frame["allocated"].sum()),
            "total_budget_usd": round(totals["total_budget_usd"], 2),
            "allocated_budget_usd": round(totals["allocated_budget_usd"], 2),
            "kept_budget_usd": round(totals["kept_budget_usd"], 2),
            "expected_conversions_per_day_now": interval("now"),
            "expected_conversions_per_day_allocated": interval("new"),
            "probability_allocation_beats_current": round(totals["confidence"], 3) if "confidence" in totals else None,
            "unidentified": unidentified,
            "campaigns_table": markdown_preview(_campaign_table(frame), n=len(frame)),
        },
        check_results=[contract_check_result(proposed)],
    )
