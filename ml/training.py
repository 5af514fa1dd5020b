"""Training, time-ordered evaluation and refit of the engagement model."""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from ml.features import PLATFORM_COLUMN, TARGET_COLUMN, EncodedFeatures, FeatureSpec, transform_target
from ml.model import EngagementModel, prepare_for_inference
from ml.runtime import configure_torch_threads, seed_everything

logger = logging.getLogger(__name__)

DATE_COLUMN = "published_date"
TIME_COLUMN = "published_at"
MIN_TRAINING_ROWS = 50
MIN_TRAINING_DATES = 2


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters and split settings (all logged to MLflow as params)."""

    seed: int = 42
    holdout_fraction: float = 0.2  # share of distinct published_date values (newest)
    validation_fraction: float = 0.15  # newest share of the training rows, for early stopping
    max_epochs: int = 200
    min_epochs: int = 10
    patience: int = 15
    batch_size: int = 256
    learning_rate: float = 5e-3
    weight_decay: float = 1e-4
    hidden_dims: tuple[int, ...] = (64, 32)
    dropout: float = 0.1
    fourier_order: int = 3
    # True feeds the hour embedding to the MLP too; it then fits per-hour noise
    # and exact peak-hour recovery drops sharply (measured on synthetic data).
    hour_in_deep: bool = False
    min_category_count: int = 1
    refit_on_all_data: bool = True
    num_threads: int | None = None  # None: CYCLE_TORCH_THREADS env or 1

    def to_params(self) -> dict[str, Any]:
        """Flat, string/number-only params for experiment tracking."""
        params = asdict(self)
        params["hidden_dims"] = ",".join(str(h) for h in self.hidden_dims)
        params["num_threads"] = "env" if self.num_threads is None else self.num_threads
        return params


@dataclass
class TrainingResult:
    """Shipped model + spec, holdout metrics and training diagnostics."""

    model: EngagementModel
    spec: FeatureSpec
    metrics: dict[str, Any]
    config: TrainingConfig
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    holdout_predictions: pd.DataFrame | None = None
    # What the holdout metrics measured: the model fitted before the holdout period (the shipped model
    # itself when refit_on_all_data is off) and its spec. The champion/challenger gate (ml.governance)
    # scores it and the champion on the same holdout rows.
    holdout_model: EngagementModel | None = None
    holdout_spec: FeatureSpec | None = None

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """engagement_score predictions of the shipped model for ``df``."""
        return predict_scores(self.model, self.spec, df)


def predict_scores(model: torch.nn.Module, spec: FeatureSpec, df: pd.DataFrame) -> np.ndarray:
    """Score-unit predictions (float64 array) for a contract-shaped frame.

    ``model`` is an :class:`EngagementModel` or the module returned by
    :func:`ml.registry.load_model`.
    """
    if len(df) == 0:
        return np.zeros(0, dtype="float64")
    encoded = spec.encode(df, with_target=False)
    prepare_for_inference(model)
    with torch.no_grad():
        return model(encoded.x).double().numpy()


# ----------------------------------------------------------------- splitting
def _prepare(df: pd.DataFrame) -> pd.DataFrame:
    required = [DATE_COLUMN, TARGET_COLUMN, PLATFORM_COLUMN]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"Training data is missing required columns: {missing}")
    data = df.copy()
    data[DATE_COLUMN] = pd.to_datetime(data[DATE_COLUMN]).dt.normalize()
    target = pd.to_numeric(data[TARGET_COLUMN], errors="coerce")
    n_bad = int(target.isna().sum())
    if n_bad:
        # Posts without a score cannot be learned from; drop rather than fail
        # the whole asset, but say so.
        logger.warning("Dropping %d rows with missing %s", n_bad, TARGET_COLUMN)
        data = data[target.notna()]
    sort_cols = [DATE_COLUMN] + ([TIME_COLUMN] if TIME_COLUMN in data.columns else [])
    if "post_id" in data.columns:
        sort_cols.append("post_id")
    # Stable time order makes the validation split (tail of train) well defined.
    return data.sort_values(sort_cols, kind="mergesort").reset_index(drop=True)


def time_holdout_split(df: pd.DataFrame, holdout_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split on the newest ~``holdout_fraction`` of distinct dates (>= 1 day)."""
    if len(df) < MIN_TRAINING_ROWS:
        raise ValueError(
            f"Not enough training data: {len(df)} rows (need at least {MIN_TRAINING_ROWS})"
        )
    dates = np.sort(df[DATE_COLUMN].unique())
    if len(dates) < MIN_TRAINING_DATES:
        raise ValueError(
            f"Not enough training data: {len(dates)} distinct published_date values "
            f"(need at least {MIN_TRAINING_DATES} for a time-ordered holdout)"
        )
    n_holdout = int(round(len(dates) * holdout_fraction))
    n_holdout = min(max(1, n_holdout), len(dates) - 1)
    cutoff = dates[-n_holdout]
    return df[df[DATE_COLUMN] < cutoff], df[df[DATE_COLUMN] >= cutoff]


def _validation_split(df: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Newest rows validate: early stopping then picks the epoch count that
    # generalises forward in time, which is what the holdout (and prod) need.
    n_val = max(1, int(round(len(df) * fraction)))
    n_val = min(n_val, len(df) - 1)
    return df.iloc[: len(df) - n_val], df.iloc[len(df) - n_val :]


# ------------------------------------------------------------------ training
def _build_model(spec: FeatureSpec, config: TrainingConfig, target_mean: float) -> EngagementModel:
    hour_pos = spec.categorical_columns.index("publish_hour")
    return EngagementModel.from_spec(
        spec,
        fourier_order=config.fourier_order,
        hidden_dims=config.hidden_dims,
        dropout=config.dropout,
        deep_exclude_positions=[] if config.hour_in_deep else [hour_pos],
        wide_exclude_positions=[hour_pos],
        target_mean=target_mean,
    )


def _make_optimizer(model: EngagementModel, config: TrainingConfig) -> torch.optim.Optimizer:
    # Weight decay on weights/embeddings only: decaying the global bias would
    # pull every prediction towards 0 on the log scale.
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if name == "bias" or name.endswith(".bias") else decay).append(param)
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.learning_rate,
        # Multi-tensor update: fewer tiny kernel launches per step on CPU.
        foreach=True,
    )


def _run_epoch(
    model: EngagementModel,
    optimizer: torch.optim.Optimizer,
    data: EncodedFeatures,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    assert data.y is not None
    model.train()
    order = torch.randperm(len(data), generator=generator)
    total = 0.0
    for start in range(0, len(data), batch_size):
        idx = order[start : start + batch_size]
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model.predict_log(data.x[idx]), data.y[idx])
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(idx)
    return total / len(data)


def _mse_log(model: EngagementModel, data: EncodedFeatures) -> float:
    assert data.y is not None
    model.eval()
    with torch.no_grad():
        return float(torch.mean((model.predict_log(data.x) - data.y) ** 2))


def _set_smearing(model: EngagementModel, data: EncodedFeatures) -> None:
    """Duan smearing from in-sample log residuals (mean of exp(residual))."""
    assert data.y is not None
    model.eval()
    with torch.no_grad():
        resid = data.y - model.predict_log(data.x)
        model.smearing.fill_(float(torch.exp(resid.double()).mean()))


def _fit_fixed_epochs(
    df: pd.DataFrame, spec: FeatureSpec, config: TrainingConfig, epochs: int, seed: int
) -> EngagementModel:
    seed_everything(seed)
    data = spec.encode(df, with_target=True)
    assert data.y is not None
    model = _build_model(spec, config, float(data.y.mean()))
    optimizer = _make_optimizer(model, config)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        _run_epoch(model, optimizer, data, config.batch_size, generator)
    _set_smearing(model, data)
    model.eval()
    return model


def _fit_early_stopping(
    train_df: pd.DataFrame, spec: FeatureSpec, config: TrainingConfig
) -> tuple[EngagementModel, int, list[dict[str, float]], int]:
    """Train on the older part of ``train_df``; returns model, best epoch, history, n_fit."""
    fit_df, val_df = _validation_split(train_df, config.validation_fraction)
    seed_everything(config.seed)
    fit_data = spec.encode(fit_df, with_target=True)
    val_data = spec.encode(val_df, with_target=True)
    assert fit_data.y is not None
    model = _build_model(spec, config, float(fit_data.y.mean()))
    optimizer = _make_optimizer(model, config)
    generator = torch.Generator().manual_seed(config.seed)

    best_loss, best_epoch, best_state = float("inf"), 0, copy.deepcopy(model.state_dict())
    history: list[dict[str, float]] = []
    for epoch in range(1, config.max_epochs + 1):
        train_loss = _run_epoch(model, optimizer, fit_data, config.batch_size, generator)
        val_loss = _mse_log(model, val_data)
        history.append({"epoch": float(epoch), "train_mse_log": train_loss, "val_mse_log": val_loss})
        if val_loss < best_loss - 1e-6:
            best_loss, best_epoch, best_state = val_loss, epoch, copy.deepcopy(model.state_dict())
        elif epoch >= config.min_epochs and epoch - best_epoch >= config.patience:
            break
    best_epoch = max(best_epoch, 1)
    model.load_state_dict(best_state)
    # Smearing from all training rows the model was fitted on.
    _set_smearing(model, fit_data)
    model.eval()
    return model, best_epoch, history, len(fit_df)


# ------------------------------------------------------------------- metrics
def _rmse(err: np.ndarray) -> float:
    return float(np.sqrt(np.mean(err**2)))


def _baseline_predictions(train_df: pd.DataFrame, eval_df: pd.DataFrame) -> np.ndarray:
    """Per-platform mean of the training target; global mean for new platforms."""
    target = pd.to_numeric(train_df[TARGET_COLUMN]).astype("float64")
    per_platform = target.groupby(train_df[PLATFORM_COLUMN]).mean()
    return eval_df[PLATFORM_COLUMN].map(per_platform).fillna(float(target.mean())).to_numpy(dtype="float64")


#: the strong baseline's features: the hour inside each platform (each platform has its own peak), the content
#: and the day of week one-hot, the text length on the log scale the model sees
RIDGE_CATEGORICAL = ("platform_hour", "platform", "hook_type", "media_type", "topic", "publish_dow")
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-2, 3, 11))


def _ridge_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for column in ("platform", "hook_type", "media_type", "topic", "publish_dow"):
        out[column] = df[column].astype("string").fillna("missing").astype(str)
    out["platform_hour"] = out["platform"] + "@" + df["publish_hour"].astype("string").fillna("missing").astype(str)
    text_length = pd.to_numeric(df["text_length"], errors="coerce").astype("float64")
    out["log_text_length"] = np.log1p(text_length.clip(lower=0))
    return out


def ridge_baseline(train_df: pd.DataFrame, eval_df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, float]:
    """A regularized linear model on the model's own features: ``RidgeCV`` (alpha by efficient leave-one-out)
    on one-hot platform x hour, platform, hook, media, topic and weekday plus log text length, fitted to the
    log1p target of ``train_df``. Returns its ``eval_df`` predictions in score units (Duan-smeared, as the
    model's) and on the log scale, and the chosen alpha. The model must beat this, not just a per-platform mean."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from ml.features import inverse_target

    features = ColumnTransformer(
        [
            ("onehot", OneHotEncoder(handle_unknown="ignore"), list(RIDGE_CATEGORICAL)),
            # keep_empty_features: live platforms' payloads carry no text length (Cycle's own posts do), and an
            # all-missing column dropped here would leave the scaler no feature at all
            ("length", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()),
             ["log_text_length"]),
        ]
    )
    ridge = Pipeline([("features", features), ("ridge", RidgeCV(alphas=RIDGE_ALPHAS))])
    y = transform_target(train_df[TARGET_COLUMN])
    ridge.fit(_ridge_frame(train_df), y)
    smearing = float(np.mean(np.exp(y - ridge.predict(_ridge_frame(train_df)))))
    log_pred = ridge.predict(_ridge_frame(eval_df))
    return inverse_target(log_pred + np.log(smearing)), log_pred, float(ridge.named_steps["ridge"].alpha_)


def _iso(value: Any) -> str:
    return pd.Timestamp(value).date().isoformat()


# ----------------------------------------------------------------------- API
def train_engagement_model(df: pd.DataFrame, config: TrainingConfig | None = None) -> TrainingResult:
    """Train, evaluate on a time-ordered holdout, optionally refit on all rows.

    Raises ``ValueError`` when there are fewer than 50 rows or fewer than two
    distinct ``published_date`` values.
    """
    config = config or TrainingConfig()
    threads = configure_torch_threads(config.num_threads)
    started = time.perf_counter()

    data = _prepare(df)
    train_df, holdout_df = time_holdout_split(data, config.holdout_fraction)
    if len(train_df) < 2:
        raise ValueError("Not enough training rows before the holdout period")

    spec = FeatureSpec.fit(train_df, min_category_count=config.min_category_count)
    model, best_epoch, history, n_fit = _fit_early_stopping(train_df, spec, config)

    y_true = pd.to_numeric(holdout_df[TARGET_COLUMN]).to_numpy(dtype="float64")
    y_pred = predict_scores(model, spec, holdout_df)
    y_base = _baseline_predictions(train_df, holdout_df)
    holdout_log = spec.encode(holdout_df, with_target=True)
    assert holdout_log.y is not None
    with torch.no_grad():
        rmse_log = float(torch.sqrt(torch.mean((model.predict_log(holdout_log.x) - holdout_log.y) ** 2)))

    rmse, mae = _rmse(y_pred - y_true), float(np.mean(np.abs(y_pred - y_true)))
    y_ridge, ridge_log, ridge_alpha = ridge_baseline(train_df, holdout_df)
    ridge_rmse, ridge_mae = _rmse(y_ridge - y_true), float(np.mean(np.abs(y_ridge - y_true)))
    ridge_rmse_log = _rmse(ridge_log - transform_target(holdout_df[TARGET_COLUMN]))
    baseline_rmse, baseline_mae = _rmse(y_base - y_true), float(np.mean(np.abs(y_base - y_true)))
    metrics: dict[str, Any] = {
        "rmse": rmse,
        "mae": mae,
        "baseline_rmse": baseline_rmse,
        "baseline_mae": baseline_mae,
        "rmse_improvement": (1.0 - rmse / baseline_rmse) if baseline_rmse > 0 else 0.0,
        "mae_improvement": (1.0 - mae / baseline_mae) if baseline_mae > 0 else 0.0,
        # the strong baseline on the same features and holdout (ridge_baseline): improvement <= 0 means the
        # network adds nothing a linear model does not
        "ridge_rmse": ridge_rmse,
        "ridge_mae": ridge_mae,
        "ridge_rmse_log": ridge_rmse_log,
        "ridge_alpha": ridge_alpha,
        "rmse_improvement_vs_ridge": (1.0 - rmse / ridge_rmse) if ridge_rmse > 0 else 0.0,
        "rmse_log_improvement_vs_ridge": (1.0 - rmse_log / ridge_rmse_log) if ridge_rmse_log > 0 else 0.0,
        "rmse_log": rmse_log,
        "n_train": int(len(train_df)),
        "n_holdout": int(len(holdout_df)),
        "best_epoch": int(best_epoch),
        "train_start_date": _iso(train_df[DATE_COLUMN].min()),
        "train_end_date": _iso(train_df[DATE_COLUMN].max()),
        "holdout_start_date": _iso(holdout_df[DATE_COLUMN].min()),
        "holdout_end_date": _iso(holdout_df[DATE_COLUMN].max()),
    }
    holdout_predictions = pd.DataFrame(
        {
            "platform": holdout_df[PLATFORM_COLUMN].to_numpy(),
            "y_true": y_true,
            "y_pred": y_pred,
            "y_baseline": y_base,
        }
    )

    holdout_model, holdout_spec = model, spec
    if config.refit_on_all_data:
        # Same epoch count as early stopping chose (slightly more rows per
        # epoch is fine); the shipped model then knows the newest days.
        spec = FeatureSpec.fit(data, min_category_count=config.min_category_count)
        model = _fit_fixed_epochs(data, spec, config, best_epoch, config.seed)
    metrics["refit_on_all_data"] = bool(config.refit_on_all_data)
    # Window of the data the *shipped* model was fitted on (drift reference).
    metrics["model_data_start_date"] = _iso(data[DATE_COLUMN].min())
    metrics["model_data_end_date"] = _iso((data if config.refit_on_all_data else train_df)[DATE_COLUMN].max())
    metrics["n_model_rows"] = int(len(data) if config.refit_on_all_data else n_fit)
    metrics["training_seconds"] = float(time.perf_counter() - started)
    logger.info(
        "Trained engagement model on %d rows (%d threads) in %.1fs: rmse=%.2f baseline_rmse=%.2f",
        metrics["n_model_rows"], threads, metrics["training_seconds"], rmse, baseline_rmse,
    )
    return TrainingResult(
        model=model,
        spec=spec,
        metrics=metrics,
        config=config,
        best_epoch=best_epoch,
        history=history,
        holdout_predictions=holdout_predictions,
        holdout_model=holdout_model,
        holdout_spec=holdout_spec,
    )
