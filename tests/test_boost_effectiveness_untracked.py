"""``boost_effectiveness`` and a boost of a post Cycle does not track organically (a Meta ad promoting a Facebook
page post or Instagram media): no organic curve to estimate a lift from, so it is skipped, not estimated nor
dropped. Its row says why (status organic_untracked), keeps its paid side, leaves every organic figure null,
and belongs to the ad account that paid for it; the asset's metadata counts the skipped boosts with the reason.
A hand-made warehouse of the four tables the asset reads: no simulator, no dbt."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import pandas as pd

from analytics_assets.defs.analysis.boosts import boost_effectiveness
from analytics_assets.defs.resources import WarehouseResource
from ml.boost_lift import NO_PRE_BOOST_HISTORY, ORGANIC_UNTRACKED, UNTRACKED_REASON

ORGANIC = ["observed_engagements", "counterfactual_engagements", "organic_lift", "organic_lift_low",
           "organic_lift_high", "relative_lift", "significant", "incremental_engagements",
           "cost_per_incremental_engagement_usd", "roi", "effectiveness_score"]


def _warehouse(path) -> None:
    contribution = pd.DataFrame({
        "boost_id": ["b_fb", "b_ig", "b_li"],
        "post_id": ["100_200", "17890", "urn:li:share:1"],
        "organic_platform": ["facebook", "instagram", "linkedin"],
        "start_date": [date(2026, 11, 10)] * 3,
        "end_date": [date(2026, 11, 12)] * 3,
        "spend_usd": [40.0, 25.0, 10.0],
        "paid_engagements": [20, 9, 4],
        "is_organic_tracked": [False, False, True],
    })
    # the owners fct_boost_organic_vs_paid gives: the ad account for an untracked post, the post's account else
    owners = pd.DataFrame({
        "boost_id": ["b_fb", "b_ig", "b_li"],
        "platform": ["meta_ads", "meta_ads", "linkedin"],
        "account_id": ["act_42", "act_42", "urn:li:organization:1"],
    })
    posts = pd.DataFrame({"platform": ["linkedin"], "post_id": ["urn:li:share:1"], "account_id": ["urn:li:organization:1"],
                          "published_at": [pd.Timestamp("2026-11-11 09:00")]})
    # the LinkedIn post was published after its flight started: not estimated either, for its own reason
    snapshots = pd.DataFrame({"platform": ["linkedin"], "post_id": ["urn:li:share:1"], "account_id": ["urn:li:organization:1"],
                              "published_at": [pd.Timestamp("2026-11-11 09:00")],
                              "snapshot_at": [pd.Timestamp("2026-11-11 15:00")], "engagements": [12]})
    con = duckdb.connect(str(path))
    try:
        for name, frame in (("fct_boost_contribution", contribution), ("fct_boost_organic_vs_paid", owners),
                            ("dim_post", posts), ("stg_social_post_snapshots", snapshots)):
            con.register("_frame", frame)
            con.execute(f"create or replace table main.{name} as select * from _frame")
            con.unregister("_frame")
    finally:
        con.close()


def test_untracked_boosts_are_skipped_with_their_paid_side_under_the_ad_account(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    _warehouse(path)
    result = dg.materialize([boost_effectiveness], resources={"warehouse": WarehouseResource(path=str(path), threads=1)})
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert all(c.passed for c in checks.values()), {n: c.metadata for n, c in checks.items() if not c.passed}
    assert checks["every_boost_is_assessed"].metadata["boosts"].value == 3

    (materialization,) = result.asset_materializations_for_node("boost_effectiveness")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["skipped_untracked_boosts"] == 2
    assert metadata["skipped_untracked_reason"] == UNTRACKED_REASON
    assert metadata["status_counts"] == {ORGANIC_UNTRACKED: 2, NO_PRE_BOOST_HISTORY: 1}

    con = duckdb.connect(str(path), read_only=True)
    try:
        stored = con.execute("select * from analysis.boost_effectiveness order by boost_id").df().set_index("boost_id")
        trajectory = con.execute("select distinct boost_id from analysis.boost_counterfactual_trajectory").df()
    finally:
        con.close()
    assert list(stored.index) == ["b_fb", "b_ig", "b_li"]
    untracked = stored.loc[["b_fb", "b_ig"]]
    assert (untracked["status"] == ORGANIC_UNTRACKED).all()
    # owned by the ad account that paid (the served snapshot filters on these two columns)
    assert untracked[["platform", "account_id"]].values.tolist() == [["meta_ads", "act_42"]] * 2
    assert untracked["spend_usd"].tolist() == [40.0, 25.0]
    assert untracked["paid_engagements"].tolist() == [20.0, 9.0]
    assert untracked["flight_start_at"].tolist() == [pd.Timestamp("2026-11-10")] * 2
    assert untracked["flight_end_at"].tolist() == [pd.Timestamp("2026-11-13")] * 2  # to the end of end_date
    # nothing organic was measured: null, never 0
    assert untracked[ORGANIC].isna().all().all()
    assert stored.loc["b_li", "platform"] == "linkedin" and stored.loc["b_li", "account_id"] == "urn:li:organization:1"
    assert trajectory.empty
