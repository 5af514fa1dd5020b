"""How well the champion predicts the posts it never saw: its rolling error on realized outcomes.

The posts of ``main.ml_training_dataset`` published after the champion's ``model_data_end_date`` (their
outcomes arrived after it was fitted), over the newest ``LIVE_WINDOW_DAYS`` days of them, scored by the
champion; their log-scale RMSE divided by the champion's own holdout RMSE is the error ratio (method and
thresholds: ``ml/governance.py``). At +20% the check ``champion_error_within_tolerance`` warns; at +50%
``engagement_live_accuracy_sensor`` requests a retrain, and after 1,000 such posts ``engagement_new_data_sensor``
does: both read this asset's metadata, never the warehouse a run may be writing.
"""

from datetime import datetime, timezone

import dagster as dg
import pandas as pd

from analytics_assets.contracts.warehouse import CHAMPION_LIVE_ACCURACY, table_metadata
from analytics_assets.defs.ml.assets import TRAINING_TABLE, champion_model, engagement_model
from analytics_assets.defs.partitions import WAREHOUSE_POOL
from analytics_assets.defs.resources import MlflowResource, WarehouseResource
from analytics_assets.storage.warehouse import replace_rows

LIVE_ACCURACY_TABLE = CHAMPION_LIVE_ACCURACY
LIVE_ACCURACY_COLUMNS = {
    "as_of_date": "DATE",  # newest published_date in the training dataset when evaluated
    "model_name": "VARCHAR",
    "model_version": "VARCHAR",
    "model_data_end_date": "DATE",
    "posts_since_training": "BIGINT",
    "window_start": "DATE",
    "window_end": "DATE",
    "n_window_posts": "BIGINT",
    "live_rmse_log": "DOUBLE",
    "live_mae": "DOUBLE",
    "holdout_rmse_log": "DOUBLE",
    "error_ratio": "DOUBLE",
    "status": "VARCHAR",
    "generated_at": "TIMESTAMP",  # when evaluated (volatile: reruns differ only here)
}
TOLERANCE_CHECK = "champion_error_within_tolerance"
NO_CHAMPION = "no_champion"


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


@dg.asset(
    deps=["ml_training_dataset", engagement_model],
    group_name="ml",
    kinds={"pytorch", "duckdb"},
    pool=WAREHOUSE_POOL,
    metadata=table_metadata(LIVE_ACCURACY_TABLE),
    check_specs=[
        dg.AssetCheckSpec(
            TOLERANCE_CHECK,
            asset="ml_champion_live_accuracy",
            description="The champion's log-scale RMSE on the newest realized posts it never saw stays below "
            "120% of its holdout RMSE (warns; at 150% a sensor requests a retrain)",
        )
    ],
    description="The champion's rolling error on realized outcomes: the posts published after its training "
    "data, newest 7 days of them, against its holdout error (one row per champion version and data day). "
    "`error_ratio` and `posts_since_training` drive the retrain sensors.",
)
def ml_champion_live_accuracy(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow_store: MlflowResource
) -> dg.MaterializeResult:
    from ml.governance import LIVE_WINDOW_DAYS, RETRAIN_ERROR_RATIO, WARN_ERROR_RATIO, live_accuracy, model_data_end

    thresholds = {"window_days": LIVE_WINDOW_DAYS, "warn_ratio": WARN_ERROR_RATIO, "retrain_ratio": RETRAIN_ERROR_RATIO}
    champion = champion_model(mlflow_store)
    if champion is None:
        context.log.warning("No champion model yet: nothing to evaluate.")
        return dg.MaterializeResult(
            metadata={"status": NO_CHAMPION, "champion_version": None, "posts_since_training": 0, **thresholds},
            check_results=[
                dg.AssetCheckResult(
                    check_name=TOLERANCE_CHECK, passed=True, severity=dg.AssetCheckSeverity.WARN,
                    description="No champion model yet: not evaluated",
                )
            ],
        )
    end = model_data_end(champion.metrics)
    if end is None:
        raise dg.Failure(f"Champion v{champion.version} records no training window (model_data_end_date)")
    with warehouse.connect() as con:
        as_of = con.execute(f"select max(published_date) from {TRAINING_TABLE}").fetchone()[0]
        posts = con.execute(f"select * from {TRAINING_TABLE} where published_date > ?", [end.date()]).df()
    acc = live_accuracy(champion.model, champion.spec, champion.metrics, posts)
    row = {
        "as_of_date": as_of,
        "model_name": mlflow_store.model_name,
        "model_version": str(champion.version),
        "model_data_end_date": acc.model_data_end_date,
        "posts_since_training": acc.posts_since_training,
        "window_start": acc.window_start,
        "window_end": acc.window_end,
        "n_window_posts": acc.n_window_posts,
        "live_rmse_log": acc.live_rmse_log,
        "live_mae": acc.live_mae,
        "holdout_rmse_log": acc.holdout_rmse_log,
        "error_ratio": acc.error_ratio,
        "status": acc.status,
        "generated_at": datetime.now(timezone.utc).replace(tzinfo=None),
    }
    with warehouse.connect() as con:
        replace_rows(
            con, LIVE_ACCURACY_TABLE, LIVE_ACCURACY_COLUMNS, pd.DataFrame([row]),
            "model_name = ? and model_version = ? and as_of_date is not distinct from ?",
            [mlflow_store.model_name, str(champion.version), as_of],
        )
    ratio = acc.error_ratio
    context.log.info(
        f"champion v{champion.version}: {acc.posts_since_training} posts since its training data, "
        f"error ratio {ratio if ratio is None else round(ratio, 3)} ({acc.status})"
    )
    return dg.MaterializeResult(
        metadata={
            "status": acc.status,
            "champion_version": str(champion.version),
            "model_data_end_date": _iso(acc.model_data_end_date),
            "posts_since_training": acc.posts_since_training,
            "window_start": _iso(acc.window_start),
            "window_end": _iso(acc.window_end),
            "n_window_posts": acc.n_window_posts,
            "live_rmse_log": acc.live_rmse_log,
            "live_mae": acc.live_mae,
            "holdout_rmse_log": acc.holdout_rmse_log,
            "error_ratio": ratio,
            **thresholds,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=TOLERANCE_CHECK,
                passed=ratio is None or ratio < WARN_ERROR_RATIO,
                severity=dg.AssetCheckSeverity.WARN,
                description=(
                    f"Too few realized posts since the champion's training data ({acc.n_window_posts} in the window)"
                    if ratio is None
                    else f"Live rmse_log is {ratio:.0%} of the champion's holdout rmse_log"
                ),
                metadata={"error_ratio": ratio, "n_window_posts": acc.n_window_posts, **thresholds},
            )
        ],
    )
