"""ML assets: the engagement model (PyTorch, MLflow registry) and its drift monitor.

Each retrain is registered as the challenger; it becomes the champion, which everything downstream reads, only
when it beats the champion on the holdout and on shadow posts (the gate: ``ml/governance.py``).

The model is trained on demand (first load, drift, weekly), not with every daily partition: the drift
monitor compares each new day with the champion's own training window, and the drift sensor asks for
a retrain when they differ.
"""


import hashlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from analytics_assets.contracts.warehouse import FEATURE_DRIFT_REPORTS, table_metadata
from analytics_assets.defs.quality_gate import QualityGateResource
from analytics_assets.defs.ml.model_plots import holdout_scatter_markdown, rounded, training_history_markdown
from analytics_assets.defs.partitions import WAREHOUSE_POOL, daily_partitions, partition_days
from analytics_assets.defs.resources import MlflowResource, WarehouseResource
from analytics_assets.storage.warehouse import replace_rows
from ml.drift import DRIFT_ONSET_TAG, DRIFT_WINDOW_DAYS, REFERENCE_START_METRIC

TRAINING_TABLE = "main.ml_training_dataset"
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


def champion_model(mlflow_store: MlflowResource):
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


def _kept_challenger(mlflow_store: MlflowResource, champion, fingerprint: str):
    """The challenger already trained on this data and kept out by the gate against this champion, if any:
    training again would mint an identical version and lose again."""
    from ml.governance import COMPARED_WITH_TAG, FINGERPRINT_TAG, KEPT, PROMOTION_TAG
    from ml.registry import describe_alias

    if champion is None:
        return None
    challenger = describe_alias(mlflow_store.tracking_uri, mlflow_store.model_name)
    if challenger is None:
        return None
    tags = challenger.tags
    same = tags.get(FINGERPRINT_TAG) == fingerprint and tags.get(COMPARED_WITH_TAG) == str(champion.version)
    return challenger if same and tags.get(PROMOTION_TAG) == KEPT else None


ENOUGH_DATA_CHECK = "has_enough_training_data"


def training_shortfall(dataset: pd.DataFrame) -> dict[str, object]:
    """What the training set has against what a first training needs (``ml.training``'s minimums: rows with
    an outcome, and publishing days for a time-ordered holdout), and ``short``: whether it falls below either.
    A new deployment's first days always do (a post joins the training set once a day old): that is a state
    to report, not a failed run."""
    from ml.features import TARGET_COLUMN
    from ml.training import DATE_COLUMN, MIN_TRAINING_DATES, MIN_TRAINING_ROWS

    scored = dataset[dataset[TARGET_COLUMN].notna()] if TARGET_COLUMN in dataset.columns else dataset.iloc[0:0]
    rows = len(scored)
    days = int(scored[DATE_COLUMN].nunique()) if DATE_COLUMN in scored.columns else 0
    return {
        "short": rows < MIN_TRAINING_ROWS or days < MIN_TRAINING_DATES,
        "training_rows": rows,
        "training_rows_needed": MIN_TRAINING_ROWS,
        "training_days": days,
        "training_days_needed": MIN_TRAINING_DATES,
    }


def _enough_data_check(shortfall: dict[str, object]) -> dg.AssetCheckResult:
    counts = {k: v for k, v in shortfall.items() if k != "short"}
    return dg.AssetCheckResult(
        check_name=ENOUGH_DATA_CHECK,
        passed=not shortfall["short"],
        severity=dg.AssetCheckSeverity.WARN,  # a young deployment, not broken data: never blocks the gate
        metadata={**counts, "reason": _shortfall_reason(shortfall) if shortfall["short"] else None},
    )


def _shortfall_reason(shortfall: dict[str, object]) -> str:
    return (
        f"too little training data: {shortfall['training_rows']} posts with a 24 h outcome over "
        f"{shortfall['training_days']} publishing day(s); training needs at least {shortfall['training_rows_needed']} "
        f"over {shortfall['training_days_needed']}"
    )


def _model_result(
    metrics: dict, model_name: str, version: object, training_rows: int, retrained: bool,
    check: dg.AssetCheckResult, **extra: object,
) -> dg.MaterializeResult:
    holdout = {f"holdout/{k}": rounded(v) for k, v in metrics.items() if isinstance(v, (int, float, str))}
    return dg.MaterializeResult(
        metadata={
            **holdout,
            "model_name": model_name,
            "model_version": str(version),
            "retrained": retrained,
            "training_rows": training_rows,
            **{k: rounded(v) for k, v in extra.items()},
        },
        check_results=[check],
    )


def _drift_reference_start(context: dg.AssetExecutionContext, metrics: dict, champion) -> date | None:
    """Where the new model's drift reference starts: the onset of the shift whose drift asked for this run
    (the sensor's ``cycle/drift_onset`` tag), else the champion's, else None (its whole training window)."""
    from ml.drift import reference_start_for_retrain

    onset = context.run.tags.get(DRIFT_ONSET_TAG)
    return reference_start_for_retrain(
        date.fromisoformat(str(metrics["model_data_start_date"])),
        date.fromisoformat(str(metrics["model_data_end_date"])),
        date.fromisoformat(onset) if onset else None,
        champion.metrics if champion is not None else None,
    )


@dg.asset(
    deps=["ml_training_dataset"],
    group_name="ml",
    kinds={"pytorch", "mlflow"},
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            ENOUGH_DATA_CHECK,
            asset="engagement_model",
            description="The training set has the posts and publishing days a training needs (WARN: below them, "
            "on a new deployment's first days, the model is not trained and the posting policy waits for it)",
        )
    ],
    description="Engagement-score model (wide & deep, PyTorch) trained on all posts, evaluated on a "
    "time-ordered holdout against a per-platform mean and a ridge regression on the same features (`holdout/ridge_*`, "
    "`holdout/rmse_improvement_vs_ridge`), registered in MLflow as the challenger; the champion "
    "alias moves to it only when its log-scale RMSE beats the champion's by the margin of ml/governance.py on "
    "the holdout and on the posts neither model saw. `promotion` and `gate/*` record the decision. With too "
    "little training data it trains nothing (`skipped`, `skip_reason` and the counts it has and needs) and keeps "
    "the champion, if any.",
)
def engagement_model(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    mlflow_store: MlflowResource,
    quality_gate: QualityGateResource,
) -> dg.MaterializeResult:
    quality_gate.require_open(context, "the champion model was not retrained")
    from ml.governance import KEPT, REASON_TAG, evaluate_challenger
    from ml.registry import CHALLENGER_ALIAS, log_and_register, record_promotion
    from ml.training import TrainingConfig, train_engagement_model

    with warehouse.connect() as con:
        dataset = con.execute(f"select * from {TRAINING_TABLE}").df()
    config = TrainingConfig()
    champion = champion_model(mlflow_store)
    shortfall = training_shortfall(dataset)
    check = _enough_data_check(shortfall)
    if shortfall["short"]:
        # a new deployment's first days: not a failed run, and nothing new to register
        reason = _shortfall_reason(shortfall)
        counts = {k: v for k, v in shortfall.items() if k != "short"}
        context.log.warning(f"{mlflow_store.model_name} not trained: {reason}.")
        if champion is not None:
            return _model_result(
                champion.metrics, mlflow_store.model_name, champion.version, shortfall["training_rows"],
                retrained=False, check=check, promotion=KEPT,
                promotion_reason=f"kept the champion v{champion.version}: {reason}", skipped=True, skip_reason=reason,
                **{k: v for k, v in counts.items() if k != "training_rows"},
            )
        return dg.MaterializeResult(
            metadata={
                "model_name": mlflow_store.model_name,
                "model_version": None,  # no champion: the posting policy says so rather than guess
                "retrained": False,
                "skipped": True,
                "skip_reason": reason,
                **counts,
            },
            check_results=[check],
        )
    fingerprint = dataset_fingerprint(dataset, config)
    if champion is not None and champion.metrics.get("dataset_fingerprint") == fingerprint:
        # same data, same config, same seed: retraining would only mint an identical version
        context.log.info(f"Training data unchanged since {mlflow_store.model_name} v{champion.version}: kept it.")
        return _model_result(
            champion.metrics, mlflow_store.model_name, champion.version, len(dataset), retrained=False,
            check=check, promotion=KEPT, promotion_reason=f"training data unchanged since the champion v{champion.version}",
        )
    kept = _kept_challenger(mlflow_store, champion, fingerprint)
    if kept is not None:
        reason = f"training data unchanged since the challenger v{kept.version}, kept out: {kept.tags.get(REASON_TAG)}"
        context.log.info(reason)
        return _model_result(
            champion.metrics, mlflow_store.model_name, champion.version, len(dataset), retrained=False,
            check=check, promotion=KEPT, promotion_reason=reason, challenger_version=kept.version,
        )
    result = train_engagement_model(dataset, config)
    result.metrics["dataset_fingerprint"] = fingerprint
    reference_start = _drift_reference_start(context, result.metrics, champion)
    if reference_start is not None:
        result.metrics[REFERENCE_START_METRIC] = reference_start.isoformat()
    decision = evaluate_challenger(result, champion, dataset)
    info = log_and_register(
        result,
        tracking_uri=mlflow_store.tracking_uri,
        artifact_root=mlflow_store.artifact_root,
        experiment_name=mlflow_store.experiment_name,
        model_name=mlflow_store.model_name,
        alias=CHALLENGER_ALIAS,
    )
    record_promotion(mlflow_store.tracking_uri, info, decision.promoted, decision.tags(), decision.figures())
    context.log.info(f"{info.name} v{info.version} {decision.outcome}: {decision.reason}")
    # model_version and holdout/* describe the champion after the decision: what downstream assets read
    shipped = (result.metrics, info.version) if decision.promoted else (champion.metrics, champion.version)
    champion_metrics, champion_version = shipped
    plots = {}
    if result.holdout_predictions is not None and len(result.holdout_predictions):
        # the new model's (the challenger's) pictures, whichever model the decision ships
        plots["challenger_holdout_plot"] = dg.MetadataValue.md(holdout_scatter_markdown(result.holdout_predictions))
    if result.history:
        plots["challenger_training_history"] = dg.MetadataValue.md(
            training_history_markdown(result.history, result.best_epoch)
        )
    return _model_result(
        champion_metrics, info.name, champion_version, len(dataset), retrained=True, check=check,
        mlflow_run_id=info.run_id, challenger_version=info.version,
        promotion=decision.outcome, promotion_reason=decision.reason, **decision.figures(), **plots,
    )


# the posts' content features, known at publication: the drift window reads them from dim_post, so a shift shows
# on its first day (ml_training_dataset only has posts whose outcomes are 24 h old)
PUBLISHED_FEATURES_SQL = """
    select post_id, platform, published_date, publish_hour, publish_dow,
        coalesce(hook_type, 'unknown') as hook_type, coalesce(media_type, 'unknown') as media_type,
        coalesce(topic, 'unknown') as topic, text_length
    from main.dim_post
    where published_date between ? and ?
"""


def _as_dates(frame: pd.DataFrame) -> pd.DataFrame:
    frame["published_date"] = pd.to_datetime(frame["published_date"]).dt.date
    return frame


@dg.asset(
    deps=["ml_training_dataset", "dim_post"],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="ml",
    kinds={"evidently", "duckdb"},
    pool=WAREHOUSE_POOL,
    metadata=table_metadata(DRIFT_TABLE),
    description=f"Evidently data drift of the posts published in the {DRIFT_WINDOW_DAYS} days up to the partition "
    "(their content features, known at publication) against the champion's reference: its training window, or "
    "after a shift only the days since the shift's onset. `latest_dataset_drift`, `drift_onset` and "
    "`trainable_through` drive the retrain sensor (one retrain per shift).",
)
def ml_feature_drift(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow_store: MlflowResource
) -> dg.MaterializeResult:
    from ml.drift import DEFAULT_DRIFT_COLUMNS, detect_feature_drift, drift_onset, reference_window, window_posts

    days = partition_days(context)
    champion = champion_model(mlflow_store)
    reports, onsets, trainable_through = [], {}, None
    latest_columns, latest_html = None, None
    if champion is None:
        context.log.warning("No champion model yet: nothing to compare with, drift not evaluated.")
    else:
        version = champion.version
        ref_start, ref_end = reference_window(champion.metrics)
        with warehouse.connect() as con:
            reference = _as_dates(
                con.execute(
                    f"select * from {TRAINING_TABLE} where published_date between ? and ?", [ref_start, ref_end]
                ).df()
            )
            posts = _as_dates(
                con.execute(PUBLISHED_FEATURES_SQL, [days[0] - timedelta(days=DRIFT_WINDOW_DAYS - 1), days[-1]]).df()
            )
            trainable_through = con.execute(f"select max(published_date) from {TRAINING_TABLE}").fetchone()[0]
        for day in days:
            current = window_posts(posts, day)
            # Evidently's report page of the run's last day (one a partition, replaced by a rerun): each page
            # embeds Evidently's scripts (megabytes), so a backfill keeps its last day's, not thirty
            html = drift_report_path(warehouse, day) if day == days[-1] else None
            try:
                drift = detect_feature_drift(reference, current, DEFAULT_DRIFT_COLUMNS, html_path=html)
            except ValueError as exc:  # too little data that day: report it, do not guess
                context.log.warning(f"{day}: drift not evaluated: {exc}")
                continue
            if html is not None:
                latest_columns, latest_html = drift, html
                prune_drift_reports(html.parent)
            if drift.dataset_drift:
                onsets[day] = drift_onset(reference, posts, day)
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
            "latest_dataset_drift": bool(latest["dataset_drift"]) if latest else False,
            # where the latest day's shift began (its first day that drifts alone) and the newest published day
            # with outcomes: the sensor retrains once the shifted posts can be learned from
            "drift_onset": onsets[latest["partition_date"]].isoformat() if latest and latest["dataset_drift"] else None,
            "trainable_through": trainable_through.isoformat() if trainable_through else None,
            "reference_start": latest["reference_start"].isoformat() if latest else None,
            "champion_version": latest["model_version"] if latest else None,
            "evaluated_days": len(reports),
            **drift_report_metadata(latest_columns, latest_html),
        }
    )


def drift_report_path(warehouse: WarehouseResource, day: date) -> Path:
    """Where the drift report page of ``day`` goes: ``reports/drift/`` beside the warehouse file (the Cycle
    home in the embedded default), outside the warehouse because a browser, not SQL, reads it."""
    return Path(warehouse.path).expanduser().resolve().parent / "reports" / "drift" / f"feature_drift_{day.isoformat()}.html"


DRIFT_REPORTS_KEPT = 30  # report pages kept (the newest partitions'): a few megabytes each, one a day


def prune_drift_reports(folder: Path) -> None:
    """Keep the pages of the newest DRIFT_REPORTS_KEPT partitions (names sort by date); the figures of every day
    stay in the drift table."""
    for old in sorted(folder.glob("feature_drift_*.html"))[:-DRIFT_REPORTS_KEPT]:
        old.unlink(missing_ok=True)


def drift_report_metadata(drift: Any, html: Path | None) -> dict[str, Any]:
    """The last day's report page and its per-column figures (the drift table keeps only the verdicts)."""
    if drift is None or html is None:
        return {}
    rows = [
        f"| {c} | {drift.methods[c]} | {drift.column_scores[c]:.4g} | "
        f"{drift.column_thresholds.get(c, float('nan')):.4g} | {'yes' if c in drift.drifted_columns else 'no'} |"
        for c in drift.column_scores
    ]
    table = "| column | test | score | threshold | drifted |\n|---|---|---|---|---|\n" + "\n".join(rows)
    return {
        "drift_report": dg.MetadataValue.path(str(html)),
        "drift_report_url": dg.MetadataValue.url(html.as_uri()),
        "latest_column_scores": dg.MetadataValue.md(table),
    }
