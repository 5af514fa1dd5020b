"""Feature specification: vocabularies, scaling and tensor encoding.

A :class:`FeatureSpec` is fitted on the training rows of the
``main.ml_training_dataset`` contract and then encodes any frame with the same
columns into one packed float tensor (see :meth:`FeatureSpec.encode`). The spec
is plain JSON so it can be logged next to the model and reloaded anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

CATEGORICAL_COLUMNS: tuple[str, ...] = (
    "platform",
    "hook_type",
    "media_type",
    "topic",
    "publish_hour",
    "publish_dow",
)
NUMERIC_COLUMNS: tuple[str, ...] = ("text_length",)
TARGET_COLUMN = "engagement_score"
HOUR_COLUMN = "publish_hour"
PLATFORM_COLUMN = "platform"
#: Upper cap of engagement_score in the data contract.
TARGET_MAX = 1000.0

# Integer-valued categoricals have a known, closed domain. Using the full domain
# (rather than only values seen in training) keeps embedding indices stable
# across retrains and lets recommendations score hours nobody posted at yet.
_FIXED_DOMAINS: dict[str, list[str]] = {
    "publish_hour": [str(h) for h in range(24)],
    "publish_dow": [str(d) for d in range(7)],
}

UNKNOWN_INDEX = 0
SPEC_FORMAT_VERSION = 1


@dataclass
class EncodedFeatures:
    """Packed model input and (optionally) the log1p target.

    ``x`` columns are laid out as ``FeatureSpec.feature_names``: categorical
    indices (as floats), standardised numerics, then the raw publish hour
    (``-1`` when unknown) used by the model's Fourier features.
    """

    x: torch.Tensor
    y: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])


def canonical_categorical(values: pd.Series, column: str) -> pd.Series:
    """Normalise raw values to the string keys used in vocabularies."""
    if column in _FIXED_DOMAINS:
        numeric = pd.to_numeric(values, errors="coerce")
        # Non-integral or missing values cannot be matched and become unknown.
        as_int = numeric.where(numeric.notna() & (numeric == np.floor(numeric)))
        return as_int.map(lambda v: "" if pd.isna(v) else str(int(v)))
    return values.astype("string").fillna("").str.strip().str.lower()


def _transform_numeric(values: pd.Series) -> np.ndarray:
    """log1p of non-negative values; missing stays NaN (imputed later)."""
    numeric = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    return np.log1p(np.clip(numeric, 0.0, None))


def transform_target(score: pd.Series | np.ndarray) -> np.ndarray:
    """Map engagement_score (0..1000) to the log1p training scale."""
    arr = np.asarray(pd.to_numeric(pd.Series(score), errors="coerce"), dtype="float64")
    return np.log1p(np.clip(arr, 0.0, TARGET_MAX))


def inverse_target(log_score: np.ndarray | torch.Tensor) -> np.ndarray:
    """Map a log1p-scale prediction back to engagement_score units."""
    arr = log_score.detach().cpu().numpy() if isinstance(log_score, torch.Tensor) else np.asarray(log_score)
    return np.clip(np.expm1(arr.astype("float64")), 0.0, TARGET_MAX)


def _require_columns(df: pd.DataFrame, columns: tuple[str, ...] | list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"DataFrame is missing required columns: {missing}")


@dataclass
class FeatureSpec:
    """Fitted preprocessing state. Index 0 of every vocabulary is 'unknown'."""

    vocabularies: dict[str, list[str]]
    numeric_stats: dict[str, dict[str, float]]
    categorical_columns: list[str] = field(default_factory=lambda: list(CATEGORICAL_COLUMNS))
    numeric_columns: list[str] = field(default_factory=lambda: list(NUMERIC_COLUMNS))
    target_column: str = TARGET_COLUMN
    target_transform: str = "log1p"
    format_version: int = SPEC_FORMAT_VERSION

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, df: pd.DataFrame, min_category_count: int = 1) -> "FeatureSpec":
        """Fit vocabularies and numeric scaling on training rows.

        String categories seen fewer than ``min_category_count`` times are left
        out of the vocabulary, i.e. they share the unknown bucket.
        """
        _require_columns(df, list(CATEGORICAL_COLUMNS) + list(NUMERIC_COLUMNS))
        if len(df) == 0:
            raise ValueError("Cannot fit a FeatureSpec on an empty DataFrame")
        vocabularies: dict[str, list[str]] = {}
        for column in CATEGORICAL_COLUMNS:
            if column in _FIXED_DOMAINS:
                vocabularies[column] = list(_FIXED_DOMAINS[column])
                continue
            counts = canonical_categorical(df[column], column).value_counts()
            keep = counts[(counts >= min_category_count) & (counts.index != "")]
            vocabularies[column] = sorted(str(v) for v in keep.index)
        numeric_stats: dict[str, dict[str, float]] = {}
        for column in NUMERIC_COLUMNS:
            values = _transform_numeric(df[column])
            finite = values[np.isfinite(values)]
            mean = float(finite.mean()) if finite.size else 0.0
            std = float(finite.std()) if finite.size > 1 else 1.0
            # A constant column would divide by zero; scale 1 keeps it at 0.
            numeric_stats[column] = {"mean": mean, "std": std if std > 1e-9 else 1.0}
        return cls(vocabularies=vocabularies, numeric_stats=numeric_stats)

    # -------------------------------------------------------------- properties
    @property
    def cardinalities(self) -> list[int]:
        """Embedding table sizes (vocabulary + unknown bucket) per categorical."""
        return [len(self.vocabularies[c]) + 1 for c in self.categorical_columns]

    @property
    def platforms(self) -> list[str]:
        """Known platforms, in embedding-index order (index = position + 1)."""
        return list(self.vocabularies[PLATFORM_COLUMN])

    @property
    def platform_position(self) -> int:
        """Position of the platform column within the categorical block."""
        return self.categorical_columns.index(PLATFORM_COLUMN)

    @property
    def feature_names(self) -> list[str]:
        """Column names of the packed tensor returned by :meth:`encode`."""
        return (
            [f"{c}_index" for c in self.categorical_columns]
            + [f"{c}_scaled" for c in self.numeric_columns]
            + [f"{HOUR_COLUMN}_raw"]
        )

    @property
    def input_columns(self) -> list[str]:
        """Raw DataFrame columns needed by :meth:`encode`."""
        return list(dict.fromkeys(self.categorical_columns + self.numeric_columns))

    # ---------------------------------------------------------------- encoding
    def encode(self, df: pd.DataFrame, with_target: bool | None = None) -> EncodedFeatures:
        """Encode ``df`` into tensors.

        ``with_target=None`` includes the log1p target when the column exists.
        Rows with a missing target are rejected because they cannot be trained on.
        """
        _require_columns(df, self.input_columns)
        n_rows = len(df)
        blocks: list[np.ndarray] = []
        for column in self.categorical_columns:
            lookup = {value: i + 1 for i, value in enumerate(self.vocabularies[column])}
            keys = canonical_categorical(df[column], column)
            blocks.append(keys.map(lookup).fillna(UNKNOWN_INDEX).to_numpy(dtype="float64"))
        for column in self.numeric_columns:
            stats = self.numeric_stats[column]
            values = _transform_numeric(df[column])
            scaled = (values - stats["mean"]) / stats["std"]
            # Missing numerics are imputed at the training mean (0 after scaling).
            blocks.append(np.where(np.isfinite(scaled), scaled, 0.0))
        hour_keys = canonical_categorical(df[HOUR_COLUMN], HOUR_COLUMN)
        hours = pd.to_numeric(hour_keys, errors="coerce").to_numpy(dtype="float64")
        hours = np.where(np.isfinite(hours) & (hours >= 0) & (hours <= 23), hours, -1.0)
        blocks.append(hours)
        packed = np.column_stack(blocks) if n_rows else np.zeros((0, len(blocks)))
        x = torch.as_tensor(packed, dtype=torch.float32)

        y: torch.Tensor | None = None
        include_target = (self.target_column in df.columns) if with_target is None else with_target
        if include_target:
            _require_columns(df, [self.target_column])
            target = transform_target(df[self.target_column].to_numpy())
            if not np.all(np.isfinite(target)):
                raise ValueError(f"Column {self.target_column!r} contains missing or non-numeric values")
            y = torch.as_tensor(target, dtype=torch.float32)
        return EncodedFeatures(x=x, y=y)

    # ----------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable representation."""
        return {
            "format_version": self.format_version,
            "categorical_columns": list(self.categorical_columns),
            "numeric_columns": list(self.numeric_columns),
            "target_column": self.target_column,
            "target_transform": self.target_transform,
            "vocabularies": {k: list(v) for k, v in self.vocabularies.items()},
            "numeric_stats": {k: dict(v) for k, v in self.numeric_stats.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FeatureSpec":
        """Inverse of :meth:`to_dict`; rejects unknown format versions."""
        version = int(data.get("format_version", SPEC_FORMAT_VERSION))
        if version != SPEC_FORMAT_VERSION:
            raise ValueError(f"Unsupported FeatureSpec format_version {version}")
        return cls(
            vocabularies={str(k): [str(v) for v in vals] for k, vals in data["vocabularies"].items()},
            numeric_stats={
                str(k): {"mean": float(v["mean"]), "std": float(v["std"])}
                for k, v in data["numeric_stats"].items()
            },
            categorical_columns=[str(c) for c in data["categorical_columns"]],
            numeric_columns=[str(c) for c in data["numeric_columns"]],
            target_column=str(data["target_column"]),
            target_transform=str(data.get("target_transform", "log1p")),
            format_version=version,
        )
