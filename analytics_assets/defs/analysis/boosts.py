"""Boost effectiveness: what each boost added to its post's organic reach, against the post's
counterfactual (method: ``ml/boost_lift.py``).

Unpartitioned: a boost's lift needs its comparables' full week, so the tables are replaced on each run. A boost
whose inputs are those of the last run keeps its rows (``boost_reuse``: fingerprints of its own row, its window's
snapshots, the settings and the method), so a run estimates only the boosts whose data moved: its cost follows the
new boosts, not the history. The snapshots are read once, in slabs of publication days, and held as curves only
while the boosts being estimated (``window_chunk_days`` of publications) reach them with their comparables'
``publish_window_days`` either side: memory follows a few weeks of the boosted platforms' posts, never the history.
"""

import functools

import dagster as dg
import pandas as pd

from analytics_assets.contracts.warehouse import (
    BOOST_COUNTERFACTUAL_TRAJECTORY,
    BOOST_EFFECTIVENESS,
    BOOST_EFFECTIVENESS_INPUTS,
    table_metadata,
)
from analytics_assets.defs.analysis.boost_reuse import input_fingerprints, reusable_estimates
from analytics_assets.defs.metadata import markdown_preview
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.storage.warehouse import replace_tables

# ----------------------------------------------------------------------------------- boost effectiveness


class BoostEffectivenessConfig(dg.Config):
    value_per_engagement_usd: float = 3.0  # what one engagement is worth to the business (ROI, score)
    confidence: float = 0.90
    n_comparables: int = 39
    publish_window_days: float = 7.0
    # boosts estimated together, by their post's publication: a chunk holds its own days' posts plus the window
    # either side (as curves); a narrower one holds fewer at once, a wider one runs fewer, larger comparisons
    window_chunk_days: float = 7.0
    # keep the rows of boosts whose inputs did not change since the last run (false: estimate every boost again)
    reuse_unchanged: bool = True


_BOOST_DESCRIPTION = """Per boost: the boosted post's counterfactual organic-only engagement trajectory from its
own pre-boost history and the nearest comparable unboosted posts (same platform, published within a week,
closest pre-boost level and growth), the organic lift at its latest snapshot with a 90% split-conformal
interval, paid + organic incremental engagements, cost per incremental engagement, ROI at a configurable
value per engagement, and an effectiveness score = 100 * x / (1 + x), x = max(0, (paid engagements + lift
lower bound) * value per engagement / spend): 50 breaks even in the pessimistic case. Each boost carries its
post's platform and account (dim_post): the account it is served under. A boost of a post Cycle does not track
organically (a Meta ad promoting a Facebook page post or Instagram media) is not estimated: it has no organic
curve. Its row says so (status organic_untracked) with its paid side and null organic figures, under the ad
account that paid for it (fct_boost_organic_vs_paid). Writes analysis.boost_effectiveness and
analysis.boost_counterfactual_trajectory. Method: ml/boost_lift.py."""


def _boosts(con) -> pd.DataFrame:
    """Every boost of a tracked post with its post's account (a boost is served to the workspace that owns the post)
    and its post's publication as the snapshots give it (null for a post never polled): where its window of
    comparables lies."""
    return con.execute(
        """with boosted as (
               select s.platform, s.post_id, min(s.published_at) as published_at
               from main.stg_social_post_snapshots s
               where s.post_id in (select post_id from main.fct_boost_contribution)
               group by s.platform, s.post_id
           )
           select b.boost_id, b.post_id, b.organic_platform as platform, p.account_id, b.start_date,
                  b.end_date, b.spend_usd, b.paid_engagements, s.published_at
           from main.fct_boost_contribution b
           left join main.dim_post p on p.platform = b.organic_platform and p.post_id = b.post_id
           left join boosted s on s.platform = b.organic_platform and s.post_id = b.post_id
           where b.is_organic_tracked
           order by b.boost_id"""
    ).df()


def _untracked_boosts(con) -> pd.DataFrame:
    """The boosts of posts Cycle does not track, with the owner fct_boost_organic_vs_paid gives them (the ad
    account that paid for the boost: a post of no tracked account has no other)."""
    return con.execute(
        """select b.boost_id, b.post_id, o.platform, o.account_id, b.start_date, b.end_date, b.spend_usd,
                  b.paid_engagements
           from main.fct_boost_contribution b
           left join main.fct_boost_organic_vs_paid o on o.boost_id = b.boost_id
           where not b.is_organic_tracked
           order by b.boost_id"""
    ).df()


def _snapshots(con, platforms: list[str], published_from: pd.Timestamp, published_before: pd.Timestamp) -> pd.DataFrame:
    """Every snapshot of the posts of ``platforms`` published in ``[published_from, published_before)``: the filter
    on published_at reaches the raw table's scan, whose row groups follow the load order (days), so a slab of days
    reads about its own days, not the history."""
    marks = ", ".join("?" for _ in platforms)
    return con.execute(
        f"""select platform, post_id, published_at, snapshot_at, engagements
            from main.stg_social_post_snapshots
            where platform in ({marks}) and published_at >= ? and published_at < ?""",
        [*platforms, published_from.to_pydatetime(), published_before.to_pydatetime()],
    ).df()


def _with_kept(
    boosts: pd.DataFrame,
    effectiveness: pd.DataFrame,
    trajectory: pd.DataFrame,
    kept: pd.DataFrame,
    kept_trajectory: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """This run's estimates and the kept rows as one, in the boosts' order (as estimating them all orders them)."""
    position = pd.Series(range(len(boosts)), index=boosts["boost_id"].to_numpy())
    rows = _stacked(effectiveness, kept[list(effectiveness.columns)])
    paths = _stacked(trajectory, kept_trajectory[list(trajectory.columns)])
    rows = rows.iloc[position.loc[rows["boost_id"]].to_numpy().argsort(kind="stable")].reset_index(drop=True)
    order = pd.DataFrame({"at": position.loc[paths["boost_id"]].to_numpy(), "age": paths["age_hours"].to_numpy()})
    paths = paths.iloc[order.sort_values(["at", "age"], kind="stable").index.to_numpy()].reset_index(drop=True)
    return rows, paths


def _stacked(estimated: pd.DataFrame, kept: pd.DataFrame) -> pd.DataFrame:
    """The estimated rows, then the kept ones. The kept rows come back with the warehouse's types; the estimates'
    (nullable ints and booleans) win where there are estimates, so a column has one dtype (nothing estimated:
    the stored types, as they were written)."""
    if not len(estimated):
        return kept
    return pd.concat([estimated, kept.astype(estimated.dtypes.to_dict())], ignore_index=True)


@dg.asset(
    deps=["fct_boost_contribution", "fct_boost_organic_vs_paid", "dim_post", "stg_social_post_snapshots"],
    group_name="boosts",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
    metadata=table_metadata(BOOST_EFFECTIVENESS),
    description=_BOOST_DESCRIPTION,
    check_specs=[
        dg.AssetCheckSpec(
            "every_boost_is_assessed",
            asset="boost_effectiveness",
            description="One row per boost of fct_boost_contribution, estimated or with the reason it is not "
            "(organic_untracked: a boost of a post Cycle does not track)",
        ),
        dg.AssetCheckSpec(
            "intervals_bracket_estimates",
            asset="boost_effectiveness",
            description="lift_low <= lift <= lift_high and the score within 0..100 on every estimated boost",
        ),
        dg.AssetCheckSpec(
            "every_boost_has_an_account",
            asset="boost_effectiveness",
            description="Every boost carries its owner: its post's account, or for an untracked post the ad "
            "account that paid for it (the served snapshot refuses a row without one)",
        ),
    ],
)
def boost_effectiveness(
    context: dg.AssetExecutionContext, config: BoostEffectivenessConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from ml.boost_lift import (
        ESTIMATED,
        UNTRACKED_REASON,
        LiftConfig,
        estimate_boost_lift_by_window,
        untracked_boost_rows,
    )

    lift_config = LiftConfig(
        n_comparables=config.n_comparables,
        confidence=config.confidence,
        publish_window_days=config.publish_window_days,
        value_per_engagement_usd=config.value_per_engagement_usd,
    )
    with warehouse.connect() as con:
        boosts = _boosts(con)
        untracked = _untracked_boosts(con)
        fingerprints = input_fingerprints(con, boosts, lift_config)
        kept, kept_trajectory = (
            reusable_estimates(con, boosts, fingerprints) if config.reuse_unchanged else (pd.DataFrame(), pd.DataFrame())
        )
        kept_ids = set(kept["boost_id"]) if len(kept) else set()
        changed = boosts[~boosts["boost_id"].isin(kept_ids)]
        effectiveness, trajectory = estimate_boost_lift_by_window(
            changed,
            functools.partial(_snapshots, con),
            lift_config,
            config.window_chunk_days,
            # the kept boosts' posts stay out of the comparables, as when every boost is estimated
            other_boosted_post_ids=set(boosts.loc[boosts["boost_id"].isin(kept_ids), "post_id"]),
        )
    if kept_ids:
        effectiveness, trajectory = _with_kept(boosts, effectiveness, trajectory, kept, kept_trajectory)
    # skipped, not dropped: the served boosts list them with their paid side (GET /v1/boosts)
    skipped = untracked_boost_rows(untracked)
    if len(skipped) and len(effectiveness):
        # the skipped rows' all-null columns take the estimate's dtypes (a float lift column stays float)
        skipped = skipped.astype({c: t for c, t in effectiveness.dtypes.items() if skipped[c].isna().all()})
        effectiveness = pd.concat([effectiveness, skipped], ignore_index=True)
    elif len(skipped):
        effectiveness = skipped
    if len(skipped):
        effectiveness = effectiveness.sort_values("boost_id", kind="stable").reset_index(drop=True)
    n_assessed = len(boosts) + len(untracked)
    with warehouse.connect() as con:
        estimated_ids = set(effectiveness["boost_id"])
        inputs = pd.DataFrame(
            {"boost_id": boosts["boost_id"].to_numpy(), "input_fingerprint": fingerprints.to_numpy()}
        )[boosts["boost_id"].isin(estimated_ids).to_numpy()]
        replace_tables(
            con,
            {
                BOOST_EFFECTIVENESS: effectiveness,
                BOOST_COUNTERFACTUAL_TRAJECTORY: trajectory,
                BOOST_EFFECTIVENESS_INPUTS: inputs,
            },
            {BOOST_EFFECTIVENESS_INPUTS: {"boost_id": "varchar", "input_fingerprint": "varchar"}},
        )

    estimated = effectiveness[effectiveness["status"] == ESTIMATED]
    bad_intervals = int(
        (
            (estimated["organic_lift_low"] > estimated["organic_lift"] + 1e-9)
            | (estimated["organic_lift"] > estimated["organic_lift_high"] + 1e-9)
            | ~estimated["effectiveness_score"].between(0, 100)
        ).sum()
    )
    missing = sorted((set(boosts["boost_id"]) | set(untracked["boost_id"])) - set(effectiveness["boost_id"]))
    without_account = sorted(effectiveness.loc[effectiveness["account_id"].isna(), "boost_id"])
    preview_cols = ["boost_id", "status", "organic_lift", "organic_lift_low", "organic_lift_high", "roi", "effectiveness_score"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(effectiveness),
            "estimated_boosts": len(estimated),
            # of the tracked boosts: estimated by this run, and kept from the last (their inputs unchanged)
            "boosts_estimated_this_run": len(changed),
            "boosts_kept_unchanged": len(kept_ids),
            "skipped_untracked_boosts": len(untracked),
            "skipped_untracked_reason": UNTRACKED_REASON,
            "status_counts": effectiveness["status"].value_counts().to_dict(),
            "significant_lift_share": float(estimated["significant"].mean()) if len(estimated) else None,
            "total_organic_lift": float(estimated["organic_lift"].sum()) if len(estimated) else None,
            "median_effectiveness_score": float(estimated["effectiveness_score"].median()) if len(estimated) else None,
            "value_per_engagement_usd": config.value_per_engagement_usd,
            "trajectory_rows": len(trajectory),
            "preview": markdown_preview(estimated.sort_values("effectiveness_score", ascending=False)[preview_cols]),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="every_boost_is_assessed",
                passed=not missing and len(effectiveness) == n_assessed,
                metadata={
                    "boosts": n_assessed, "untracked": len(untracked), "rows": len(effectiveness), "missing": missing[:20]
                },
            ),
            dg.AssetCheckResult(
                check_name="intervals_bracket_estimates",
                passed=bad_intervals == 0,
                metadata={"estimated": len(estimated), "violations": bad_intervals},
            ),
            dg.AssetCheckResult(
                check_name="every_boost_has_an_account",
                passed=not without_account,
                metadata={"without_account": len(without_account), "boost_ids": without_account[:20]},
            ),
        ],
    )
