"""ML assets: the engagement model (PyTorch, MLflow registry), its drift monitor and the recommendations.

The model is trained on demand (first load, drift, weekly), not with every daily partition: the drift
monitor compares each new day with the champion's own training window, and the drift sensor asks for
a retrain when they differ. Recommendations are rescored daily with the champion.
"""


import hashlib
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pandas as pd

from analytics_assets.contracts.warehouse import FEATURE_DRIFT_REPORTS, POSTING_HOUR_RECOMMENDATIONS, table_metadata
from analytics_assets.defs.automation import FOLLOW_UPSTREAM
from analytics_assets.defs.quality_gate import QualityGateResource
from analytics_assets.defs.partitions import WAREHOUSE_POOL, daily_partitions, partition_days
from analytics_assets.defs.resources import MlflowResource, WarehouseResource
from analytics_assets.storage.warehouse import replace_rows, replace_table

TRAINING_TABLE = "main.ml_training_dataset"
RECOMMENDATIONS_TABLE = POSTING_HOUR_RECOMMENDATIONS
DRIFT_TABLE = FEATURE_DRIFT_REPORTS
DRIFT_COLUMNS = {
    "partition_date": "DATE",
    "model_version": "VARCHAR",
    "reference_start": "DATE",
    "reference_end": "DATE",
    "n_reference": "BIGINT",
    "n_current": "BIGINT",
    "drift_share": "DOUBLE",
    "dataset_drift": "BOOLEAN",
    "drifted_columns": "VARCHAR",
}
DRIFT_WINDOW_DAYS = 3  # recent days compared with the training reference
RECOMMENDATION_LOOKBACK_DAYS = 28


def _champion(mlflow_store: MlflowResource):
    from ml.registry import load_model

    try:
        return load_model(mlflow_store.tracking_uri, mlflow_store.model_name, alias="champion", flavor="state_dict")
    except LookupError:
        return None


def dataset_fingerprint(dataset: pd.DataFrame, config: object) -> str:
    """Content hash of the training data and config: equal fingerprints train the same model."""
    rows = dataset.sort_values("post_id").reset_index(drop=True).astype(str)
    digest = int(pd.util.hash_pandas_object(rows, index=False).sum()) & (2**64 - 1)
    return hashlib.sha256(f"{digest:016x}:{config!r}".encode()).hexdigest()[:16]


def _model_result(
    metrics: dict, model_name: str, version: object, training_rows: int, retrained: bool, **extra: object
) -> dg.MaterializeResult:
    holdout = {f"holdout/{k}": v for k, v in metrics.items() if isinstance(v, (int, float, str))}
    return dg.MaterializeResult(
        metadata={
            **holdout,
            "model_name": model_name,
            "model_version": str(version),
            "retrained": retrained,
            "training_rows": training_rows,
            **extra,
        }
    )


@dg.asset(
    deps=["ml_training_dataset"],
    group_name="ml",
    kinds={"pytorch", "mlflow"},
    pool=WAREHOUSE_POOL,
    description="Engagement-score model (wide & deep, PyTorch) trained on all posts, evaluated on a "
    "time-ordered holdout against a per-platform baseline, registered in MLflow as the champion.",
)
def engagement_model(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    mlflow_store: MlflowResource,
    quality_gate: QualityGateResource,
) -> dg.MaterializeResult:
    quality_gate.require_open(context, "the champion model was not retrained")
    from ml.registry import log_and_register
    from ml.training import TrainingConfig, train_engagement_model

    with warehouse.connect() as con:
        dataset = con.execute(f"select * from {TRAINING_TABLE}").df()
    config = TrainingConfig()
    fingerprint = dataset_fingerprint(dataset, config)
    champion = _champion(mlflow_store)
    if champion is not None and champion.metrics.get("dataset_fingerprint") == fingerprint:
        # same data, same config, same seed: retraining would only mint an identical version
        context.log.info(f"Training data unchanged since {mlflow_store.model_name} v{champion.version}: kept it.")
        return _model_result(champion.metrics, mlflow_store.model_name, champion.version, len(dataset), retrained=False)
    result = train_engagement_model(dataset, config)
    result.metrics["dataset_fingerprint"] = fingerprint
    info = log_and_register(
        result,
        tracking_uri=mlflow_store.tracking_uri,
        artifact_root=mlflow_store.artifact_root,
        experiment_name=mlflow_store.experiment_name,
        model_name=mlflow_store.model_name,
    )
    context.log.info(f"registered {info.name} v{info.version}: {result.metrics}")
    return _model_result(
        result.metrics, info.name, info.version, len(dataset), retrained=True, mlflow_run_id=info.run_id
    )


@dg.asset(
    deps=["ml_training_dataset", engagement_model],
    group_name="ml",
    kinds={"pytorch", "duckdb"},
    pool=WAREHOUSE_POOL,
    metadata=table_metadata(RECOMMENDATIONS_TABLE),
    automation_condition=FOLLOW_UPSTREAM,
    description="Posting hours per platform ranked by the champion model's expected engagement score, "
    "averaged over each platform's recent content mix.",
)
def posting_hour_recommendations(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    mlflow_store: MlflowResource,
    quality_gate: QualityGateResource,
) -> dg.MaterializeResult:
    quality_gate.require_open(context, "the recommendations were not replaced")
    from ml.recommend import recommend_posting_hours

    champion = _champion(mlflow_store)
    if champion is None:
        raise dg.Failure("No champion engagement model in MLflow yet: materialize `engagement_model` first.")
    model, spec, version = champion.model, champion.spec, champion.version
    with warehouse.connect() as con:
        recent = con.execute(
            f"""select * from {TRAINING_TABLE}
                where published_date > (select max(published_date) from {TRAINING_TABLE}) - ?""",
            [RECOMMENDATION_LOOKBACK_DAYS],
        ).df()
        recs = recommend_posting_hours(model, spec, recent)
        recs["model_name"] = mlflow_store.model_name
        recs["model_version"] = str(version)
        recs["generated_at"] = datetime.now(timezone.utc).replace(tzinfo=None)
        replace_table(con, RECOMMENDATIONS_TABLE, recs)
    best = recs[recs["rank"] == 1].set_index("platform")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(recs),
            "model_version": str(version),
            "best_hour_by_platform": {p: int(h) for p, h in best["publish_hour"].items()},
            "preview": dg.MetadataValue.md(recs[recs["rank"] <= 3].to_markdown(index=False)),
        }
    )



@dg.asset(
    deps=["ml_training_dataset"],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="ml",
    kinds={"evidently", "duckdb"},
    pool=WAREHOUSE_POOL,
    metadata=table_metadata(DRIFT_TABLE),
    description=f"Evidently data drift of the posts of the {DRIFT_WINDOW_DAYS} days up to the partition "
    "against the champion model's training window. `dataset_drift` drives the retrain sensor.",
)
def ml_feature_drift(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow_store: MlflowResource
) -> dg.MaterializeResult:
    from ml.drift import DEFAULT_DRIFT_COLUMNS, detect_feature_drift

    days = partition_days(context)
    champion = _champion(mlflow_store)
    reports = []
    if champion is None:
        context.log.warning("No champion model yet: nothing to compare with, drift not evaluated.")
    else:
        version, metrics = champion.version, champion.metrics
        # the champion was refit on everything up to model_data_end_date: that is its reference
        ref_start = date.fromisoformat(str(metrics.get("model_data_start_date", metrics["train_start_date"])))
        ref_end = date.fromisoformat(str(metrics.get("model_data_end_date", metrics["train_end_date"])))
        with warehouse.connect() as con:
            posts = con.execute(
                f"select * from {TRAINING_TABLE} where published_date between ? and ?",
                [min(ref_start, days[0] - timedelta(days=DRIFT_WINDOW_DAYS - 1)), max(ref_end, days[-1])],
            ).df()
        posts["published_date"] = pd.to_datetime(posts["published_date"]).dt.date
        reference = posts[(posts["published_date"] >= ref_start) & (posts["published_date"] <= ref_end)]
        for day in days:
            window_start = day - timedelta(days=DRIFT_WINDOW_DAYS - 1)
            current = posts[(posts["published_date"] >= window_start) & (posts["published_date"] <= day)]
            try:
                drift = detect_feature_drift(reference, current, DEFAULT_DRIFT_COLUMNS)
            except ValueError as exc:  # too little data that day: report it, do not guess
                context.log.warning(f"{day}: drift not evaluated: {exc}")
                continue
            reports.append(
                {
                    "partition_date": day,
                    "model_version": str(version),
                    "reference_start": ref_start,
                    "reference_end": ref_end,
                    "n_reference": drift.n_reference,
                    "n_current": drift.n_current,
                    "drift_share": float(drift.drift_share),
                    "dataset_drift": bool(drift.dataset_drift),
                    "drifted_columns": ",".join(drift.drifted_columns),
                }
            )
    frame = pd.DataFrame(reports)
    with warehouse.connect() as con:
        replace_rows(
            con, DRIFT_TABLE, DRIFT_COLUMNS, frame, "partition_date between ? and ?", [days[0], days[-1]]
        )
    latest = reports[-1] if reports else None
    return dg.MaterializeResult(
        metadata={
            "dataset_drift": bool(frame["dataset_drift"].any()) if len(frame) else False,
            "drifted_days": [r["partition_date"].isoformat() for r in reports if r["dataset_drift"]],
            "latest_drift_share": latest["drift_share"] if latest else None,
            "latest_drifted_columns": latest["drifted_columns"] if latest else None,
            "champion_version": latest["model_version"] if latest else None,
            "evaluated_days": len(reports),
        }
    )
