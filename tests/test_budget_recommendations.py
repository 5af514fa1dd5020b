"""budget_recommendation_proposals end to end from the simulator: the marts it reads (fct_campaign_performance,
agg_campaign_daily_summary) written from the simulator's days the way dbt shapes them. With planted response
curves and planned budget changes it proposes contract-valid budget recommendations that beat the current budgets
against the truth, merged into ml_recommendations and stable on a rerun; on the default simulator's spend it says
every curve is unidentified and proposes nothing. The simulator's plan leaves the default data alone."""

from __future__ import annotations

import json
from datetime import date, timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics_assets.contracts.recommendations import RECOMMENDATIONS_TABLE
from analytics_assets.contracts.warehouse import BUDGET_RECOMMENDATION_PROPOSALS
from analytics_assets.defs.loop.budget_recommendations import budget_recommendation_proposals
from analytics_assets.defs.loop.proposals import contract_violations, merge_proposals, read_proposals
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.sources.simulator import BudgetResponsePlan, PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import budget_response, core
from analytics_assets.sources.simulator import ground_truth as gt

START, DAYS = date(2026, 3, 2), 98
END = START + timedelta(days=DAYS - 1)
SMALL = {"seed": 4, "posts_per_day": 20, "campaigns_per_platform": 2}
PLANTED = SimulatorConfig(**SMALL, budget_response=BudgetResponsePlan(start=START))
DEFAULT = SimulatorConfig(**SMALL)
RUN_CONFIG = {"ops": {"budget_recommendation_proposals": {"config": {"bootstraps": 30}}}}


def _campaign_days(config: SimulatorConfig) -> pd.DataFrame:
    frames = []
    for k in range(DAYS):
        a = core._ad_day(config, START + timedelta(days=k))
        usd = a["currency"].map(gt.USD_PER_UNIT)
        frames.append(
            pd.DataFrame(
                {
                    "metric_date": a["metric_date"], "platform": a["platform"], "account_id": a["account_id"],
                    "campaign_id": a["campaign_id"], "daily_budget_usd": a["daily_budget_local"] * usd,
                    "spend_usd": a["spend_local"] * usd, "impressions": a["impressions"], "clicks": a["clicks"],
                    "conversions": a["conversions"],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _warehouse(path: str, days: pd.DataFrame) -> str:
    with duckdb.connect(path) as con:
        con.register("_days", days)
        con.execute(
            """create table main.fct_campaign_performance as select metric_date, platform, account_id, campaign_id,
               spend_usd, impressions, clicks, conversions from _days"""
        )
        con.execute(
            """create table main.agg_campaign_daily_summary as
               select metric_date, platform, campaign_id, daily_budget_usd, false as is_boost from _days"""
        )
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> str:
    return _warehouse(str(tmp_path_factory.mktemp("budget") / "planted.duckdb"), _campaign_days(PLANTED))


def _run(path: str) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [budget_recommendation_proposals],
        resources={"warehouse": WarehouseResource(path=path, threads=1, memory_limit="1GB")},
        run_config=RUN_CONFIG,
    )
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed, check.metadata
    return result


def _proposals(path: str) -> pd.DataFrame:
    with duckdb.connect(path, read_only=True) as con:
        return read_proposals(con, BUDGET_RECOMMENDATION_PROPOSALS)[0]


def test_planted_curves_give_contract_valid_budget_recommendations_that_beat_the_current_budgets(planted):
    meta = _run(planted).asset_materializations_for_node("budget_recommendation_proposals")[0].metadata
    proposed = _proposals(planted)
    assert len(proposed) >= 2 and contract_violations(proposed) == {k: 0 for k in contract_violations(proposed)}
    assert set(proposed["kind"]) == {"budget"} and set(proposed["target_type"]) == {"campaign"}
    assert proposed["action"].str.match(r"Set the daily budget of campaign \d+ to \$[\d,.]+ \(from \$[\d,.]+\)").all()
    assert proposed["evidence"].str.contains("held-out R²").all() and (proposed["sample_size"] >= 28).all()
    assert meta["identified_curves"].value >= len(proposed)

    # against the planted curves: the new budgets convert more than the current ones, within the same total
    fields = pd.json_normalize(proposed["action_fields"].map(json.loads))
    truth = PlatformSimulator(PLANTED).budget_curves().set_index("campaign_id").loc[proposed["target_id"]]
    spend_new = fields["daily_budget_usd"].to_numpy() * fields["pacing"].to_numpy()
    spend_now = fields["current_daily_budget_usd"].to_numpy() * fields["pacing"].to_numpy()
    gain = budget_response.steady_state_conversions(truth, spend_new) - budget_response.steady_state_conversions(truth, spend_now)
    assert gain.sum() > 0
    # the moved budgets trade within the total: what some gain, the others give up (up to the unmoved ones' slack)
    moved = (fields["daily_budget_usd"] - fields["current_daily_budget_usd"]).sum()
    assert abs(moved) <= 0.05 * meta["allocated_budget_usd"].value + 0.05

    # merged into ml_recommendations as the posting policy does, and a rerun on the same data changes nothing
    with duckdb.connect(planted) as con:
        n, merged = merge_proposals(con, BUDGET_RECOMMENDATION_PROPOSALS, ("budget",), pd.Timestamp("2026-06-08").to_pydatetime())
        assert n == len(proposed) and merged.created == n
        first = con.execute(f"select * from {RECOMMENDATIONS_TABLE} order by recommendation_id").df()
    _run(planted)
    with duckdb.connect(planted) as con:
        _, again = merge_proposals(con, BUDGET_RECOMMENDATION_PROPOSALS, ("budget",), pd.Timestamp("2026-06-09").to_pydatetime())
        assert (again.created, again.superseded) == (0, 0)
        after = con.execute(f"select * from {RECOMMENDATIONS_TABLE} order by recommendation_id").df()
    pd.testing.assert_frame_equal(first.drop(columns="last_generated_at"), after.drop(columns="last_generated_at"))


def test_on_the_default_spend_every_curve_is_unidentified_and_nothing_is_proposed(tmp_path):
    path = _warehouse(str(tmp_path / "default.duckdb"), _campaign_days(DEFAULT))
    meta = _run(path).asset_materializations_for_node("budget_recommendation_proposals")[0].metadata
    assert meta["identified_curves"].value == 0 and meta["dagster/row_count"].value == 0
    reasons = meta["unidentified"].value
    assert len(reasons) == 6 and all(("barely varied" in r or "no saturation" in r or "paused" in r) for r in reasons.values())
    assert _proposals(path).empty
    # a bad config fails before anything is written, saying what is wrong
    bad = dg.materialize(
        [budget_recommendation_proposals],
        resources={"warehouse": WarehouseResource(path=path, threads=1, memory_limit="1GB")},
        run_config={"ops": {"budget_recommendation_proposals": {"config": {"min_share_of_current": 1.5, "total_budget_usd": -1.0}}}},
        raise_on_error=False,
    )
    assert not bad.success
    [failure] = [e for e in bad.all_events if e.is_step_failure]
    message = str(failure.event_specific_data.error)
    assert "min_share_of_current must be in 0..1" in message and "total_budget_usd must be positive" in message


def test_without_the_plan_the_simulator_is_unchanged_and_with_it_budgets_move_and_conversions_follow_the_curves():
    day = START + timedelta(days=40)
    ads = core._ad_day(DEFAULT, day)
    budgets = ads["daily_budget_usd"]
    assert budget_response.scale_budget(DEFAULT, day, ads, budgets) is budgets
    conv = ads["conversions"].to_numpy()
    assert budget_response.planted_conversions(DEFAULT, day, core.campaigns(DEFAULT), ads["clicks"], conv, None) is conv
    with pytest.raises(ValueError, match="no budget response plan"):
        PlatformSimulator(DEFAULT).budget_curves()
    # the plan: budgets step around the base, and the days' conversions average what the curves expect
    days = [START + timedelta(days=k) for k in range(0, 70)]
    spend = np.array([core._spend_usd(PLANTED, d) for d in days])
    conversions = np.array([core._ad_day(PLANTED, d)["conversions"].to_numpy() for d in days])
    truth = PlatformSimulator(PLANTED).budget_curves()
    base = truth["base_budget_usd"].to_numpy()
    active = spend > 0
    ratio = np.where(active, spend / (base * 0.9), np.nan)
    assert (np.nanpercentile(ratio, 90, axis=0) > 1.5 * np.nanpercentile(ratio, 10, axis=0)).all()
    history = np.array([core._spend_usd(PLANTED, START - timedelta(days=k)) for k in range(budget_response.HISTORY_DAYS, 0, -1)])
    full = np.vstack([history, spend])
    for i, curve in enumerate(truth.itertuples(index=False)):
        mu = budget_response.expected_conversions(curve, full[:, i], initial=curve.base_budget_usd * 0.9)[len(history):]
        assert conversions[active[:, i], i].sum() == pytest.approx(mu[active[:, i]].sum(), rel=0.05)
    # the oracle allocation equalizes the marginal returns, within bounds and total
    now = spend[-1] + (spend[-1] == 0) * base * 0.9
    x = budget_response.oracle_allocation(truth, now.sum(), now * 0.5, now * 2)
    assert x.sum() == pytest.approx(now.sum()) and (x >= now * 0.5 - 1e-6).all() and (x <= now * 2 + 1e-6).all()
    assert budget_response.steady_state_conversions(truth, x).sum() >= budget_response.steady_state_conversions(truth, now).sum()
