"""Pictures of a training run for the engagement model's page in the Dagster UI: predicted against actual on the
holdout, and the loss per epoch. Drawn with matplotlib (a dependency of MLflow) into PNGs embedded in Markdown
metadata, so the page shows them without a file server; small figures, a few tens of kilobytes each."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

SIGNIFICANT_DIGITS = 4  # model figures on the asset page: more digits are noise, not information


def rounded(value: object) -> object:
    """A float to SIGNIFICANT_DIGITS significant digits (others unchanged): 0.123456789 -> 0.1235."""
    if isinstance(value, float) and math.isfinite(value) and value != 0.0:
        return round(value, SIGNIFICANT_DIGITS - 1 - int(math.floor(math.log10(abs(value)))))
    return value


def _png_markdown(figure, alt: str) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    return f"![{alt}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})"


def holdout_scatter_markdown(predictions: pd.DataFrame, max_points: int = 3000) -> str:
    """Predicted against actual engagement score on the holdout posts, per platform, on log1p axes (scores span
    orders of magnitude), with the diagonal a perfect model would sit on."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    sample = predictions.sample(max_points, random_state=0) if len(predictions) > max_points else predictions
    figure, axes = plt.subplots(figsize=(5, 4.2))
    for platform, rows in sample.groupby("platform", sort=True):
        axes.scatter(np.log1p(rows["y_true"]), np.log1p(rows["y_pred"]), s=6, alpha=0.5, label=str(platform))
    top = float(np.log1p(max(sample["y_true"].max(), sample["y_pred"].max(), 1.0)))
    axes.plot([0, top], [0, top], color="black", linewidth=1)
    axes.set_xlabel("actual engagement score (log1p)")
    axes.set_ylabel("predicted (log1p)")
    axes.set_title(f"Holdout: {len(predictions):,} posts")
    axes.legend(fontsize=7, markerscale=2)
    return _png_markdown(figure, "predicted against actual engagement on the holdout")


def training_history_markdown(history: Sequence[dict[str, float]], best_epoch: int) -> str:
    """Training and validation loss (MSE of the log score) per epoch, the epoch early stopping kept marked."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    figure, axes = plt.subplots(figsize=(5, 3.2))
    axes.plot(epochs, [row["train_mse_log"] for row in history], label="training")
    axes.plot(epochs, [row["val_mse_log"] for row in history], label="validation")
    axes.axvline(best_epoch, color="grey", linestyle="--", linewidth=1, label=f"kept: epoch {best_epoch}")
    axes.set_xlabel("epoch")
    axes.set_ylabel("MSE (log score)")
    axes.legend(fontsize=7)
    return _png_markdown(figure, "training and validation loss per epoch")
