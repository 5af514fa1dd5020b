"""Content recommendations: the hook, media type and topic each account's next posts should use (``ml.content_policy``).

Per platform, each level of the three content factors is rated by its effect on log engagement against the
platform's current mix, with a 90% interval, over the last ``LOOKBACK_DAYS`` days of ``ml_training_dataset``;
the levels whose lower bound beats the mix are recommended, ranked by that lower bound. Each recommended level
becomes one ``content`` recommendation per account of the platform (every served row belongs to an account),
target ``'<platform>:<account>:<factor>=<level>'``, valid for the ``VALID_DAYS`` days after the newest post.
The action key carries the day the advice starts, so a rerun on the same data makes the same ids, and a new day
of data makes new ones (superseding the previous day's).

Writes ``ml.content_recommendation_proposals``; the posting policy's ``ml_recommendations`` step merges them.
"""

import json
from datetime import date, datetime, time, timedelta, timezone

import dagster as dg
import pandas as pd

from analytics_assets.contracts.recommendations import INTERVAL_LEVEL, recommendation_id
from analytics_assets.contracts.warehouse import CONTENT_RECOMMENDATION_PROPOSALS, table_metadata
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

CONTENT_KINDS = ("content",)
LOOKBACK_DAYS = 56  # recent posts the effects are estimated on: enough for every level, recent enough to move
ACCOUNT_LOOKBACK_DAYS = 28  # accounts that posted lately get the advice
VALID_DAYS = 7
EXPECTED_METRIC = "engagement_score_7d"
FACTOR_WORDS = {"hook_type": "hook", "media_type": "media type", "topic": "topic"}


def _evidence(row, since: date, until: date) -> str:
    return (
        f"OLS of log1p engagement score on hook, media type and topic, controlling for publish hour and weekday, "
        f"over {row.platform_posts} {row.platform} posts published {since.isoformat()}..{until.isoformat()} "
        f"(residual SD {row.residual_sd_log:.2f}). {FACTOR_WORDS[row.factor]} '{row.level}' ({row.n_posts} posts, "
        f"{row.share:.0%} of them): {row.effect_log:+.3f} [{row.effect_low:+.3f}, {row.effect_high:+.3f}] on the log "
        f"scale against the platform's current mix (90% interval), rank {row.rank} of {row.levels_rated} by lower "
        f"bound. The effect is the platform's: this account's own posts are not rated apart."
    )


def content_recommendations(
    effects: pd.DataFrame, accounts: pd.DataFrame, valid_from: date, since: date, until: date
) -> pd.DataFrame:
    """Contract rows (every column but the generation columns) for the recommended levels of ``effects``
    (``ml.content_policy.content_effects``), one per account of ``accounts`` (platform, account_id)."""
    from ml.content_policy import METHOD

    chosen = effects[effects["recommended"].astype(bool)]
    pairs = chosen.merge(accounts[["platform", "account_id"]].drop_duplicates(), on="platform", how="inner")
    expires_at = datetime.combine(valid_from + timedelta(days=VALID_DAYS), time())
    rows = []
    for row in pairs.sort_values(["platform", "account_id", "factor", "rank"]).itertuples(index=False):
        target_id = f"{row.platform}:{row.account_id}:{row.factor}={row.level}"
        fields = {
            "factor": row.factor,
            "level": row.level,
            "rank": int(row.rank),
            "valid_from": valid_from.isoformat(),
            "valid_days": VALID_DAYS,
            "effect_log": round(float(row.effect_log), 6),
            "effect_low_log": round(float(row.effect_low), 6),
            "effect_high_log": round(float(row.effect_high), 6),
        }
        rows.append(
            {
                "recommendation_id": recommendation_id(
                    "content", row.platform, row.account_id, "content", target_id, f"from {valid_from.isoformat()}"
                ),
                "kind": "content",
                "platform": row.platform,
                "account_id": row.account_id,
                "target_type": "content",
                "target_id": target_id,
                "action": f"Use {FACTOR_WORDS[row.factor]} '{row.level}' in {row.platform} posts published "
                f"{valid_from.isoformat()}..{(valid_from + timedelta(days=VALID_DAYS - 1)).isoformat()}",
                "action_fields": json.dumps(fields, sort_keys=True),
                "slot_start": None,
                "expected_metric": EXPECTED_METRIC,
                "expected_value": float(row.expected_value),
                "expected_low": float(row.expected_low),
                "expected_high": float(row.expected_high),
                "baseline_value": float(row.baseline_value),
                "confidence": float(row.confidence),
                "propensity": 1.0,  # ranked and deterministic: every recommended level is served
                "policy": "ranked",
                "model_name": METHOD,
                "model_version": f"{since.isoformat()}..{until.isoformat()}",
                "sample_size": int(row.n_posts),
                "evidence": _evidence(row, since, until),
                "expires_at": expires_at,
            }
        )
    return pd.DataFrame(rows, columns=list(PROPOSAL_COLUMNS))


@dg.asset(
    deps=["ml_training_dataset", "dim_post"],
    group_name="recommendations",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
    metadata=table_metadata(CONTENT_RECOMMENDATION_PROPOSALS),
    automation_condition=FOLLOW_UPSTREAM,
    description=f"Content recommendations of the latest data: per platform, the hooks, media types and topics whose "
    f"effect on log engagement (OLS over the last {LOOKBACK_DAYS} days, controlling for hour and weekday) beats the "
    "platform's current mix at the lower bound of its 90% interval, ranked by it, one per account. Merged into "
    "ml_recommendations (kind content). Method: ml/content_policy.py.",
    check_specs=[contract_check_spec("content_recommendation_proposals")],
)
def content_recommendation_proposals(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from ml.content_policy import ContentConfig, content_effects

    with warehouse.connect() as con:
        newest = con.execute("select max(published_date) from main.ml_training_dataset").fetchone()[0]
        latest_post_day = con.execute("select max(published_date) from main.dim_post").fetchone()[0]
        if newest is None:
            raise dg.Failure("main.ml_training_dataset is empty: no content to rate.")
        since = newest - timedelta(days=LOOKBACK_DAYS - 1)
        posts = con.execute("select * from main.ml_training_dataset where published_date >= ?", [since]).df()
        last_day = max(newest, latest_post_day or newest)
        accounts = con.execute(
            "select distinct platform, account_id from main.dim_post where published_date >= ? and account_id is not null",
            [last_day - timedelta(days=ACCOUNT_LOOKBACK_DAYS - 1)],
        ).df()
    effects = content_effects(posts, ContentConfig(interval_level=INTERVAL_LEVEL))
    valid_from = last_day + timedelta(days=1)
    proposed = content_recommendations(effects, accounts, valid_from, since, newest)
    proposed_at = datetime.now(timezone.utc).replace(tzinfo=None)
    with warehouse.connect() as con:
        write_proposals(con, CONTENT_RECOMMENDATION_PROPOSALS, proposed, proposed_at, datetime.combine(valid_from, time()))
    best = effects[effects["rank"] == 1]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(proposed),
            "levels_rated": len(effects),
            "levels_recommended": int(effects["recommended"].sum()) if len(effects) else 0,
            "posts": len(posts),
            "valid_from": valid_from.isoformat(),
            "best_level_by_platform": {
                p: {r.factor: r.level for r in g.itertuples() if r.recommended} for p, g in best.groupby("platform")
            },
            "preview": markdown_preview(
                effects[["platform", "factor", "level", "rank", "effect_log", "effect_low", "effect_high", "n_posts", "recommended"]]
            ),
        },
        check_results=[contract_check_result(proposed)],
    )
