"""Wide & deep engagement model with per-platform Fourier hour features."""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from ml.features import TARGET_MAX, FeatureSpec


def default_embedding_dim(cardinality: int, max_dim: int = 8) -> int:
    """Small embeddings: the vocabularies are tiny and the data is a few k rows."""
    return int(max(2, min(max_dim, math.ceil(cardinality / 2))))


class EngagementModel(nn.Module):
    """Engagement-score model over the packed tensor of ``FeatureSpec.encode``.

    * wide part: a scalar effect per categorical value (hour excluded by
      default), a linear term on the
      numerics and, per platform, a 2*K-coefficient Fourier series of the
      publish hour (sin/cos of 2*pi*k*h/24, k=1..K). The Fourier series is a
      smooth, low-parameter daily curve, so each platform's peak hour can be
      estimated from a few hundred posts where a free per-hour effect would
      mostly fit noise.
    * deep part: embeddings of the content categoricals + numerics -> MLP, for
      interactions (e.g. hook x media). Hour is kept out of the deep part by
      default so the hour curve stays the smooth Fourier one.

    ``forward`` returns engagement_score units (what a pyfunc/serving caller
    wants); training uses :meth:`predict_log`.
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        n_numeric: int,
        platform_position: int,
        hour_position: int,
        fourier_order: int = 3,
        embedding_dims: Sequence[int] | None = None,
        hidden_dims: Sequence[int] = (64, 32),
        dropout: float = 0.1,
        deep_exclude_positions: Sequence[int] | None = None,
        wide_exclude_positions: Sequence[int] | None = None,
        target_mean: float = 0.0,
    ) -> None:
        super().__init__()
        cardinalities = [int(c) for c in cardinalities]
        if embedding_dims is None:
            embedding_dims = [default_embedding_dim(c) for c in cardinalities]
        if len(embedding_dims) != len(cardinalities):
            raise ValueError("embedding_dims must match cardinalities")
        # By default the hour enters only through the Fourier terms (see above).
        default_exclude = [hour_position]
        deep_exclude = sorted(
            {int(p) for p in (default_exclude if deep_exclude_positions is None else deep_exclude_positions)}
        )
        wide_exclude = sorted(
            {int(p) for p in (default_exclude if wide_exclude_positions is None else wide_exclude_positions)}
        )
        # Everything needed to rebuild the module from a state_dict.
        self.config: dict[str, Any] = {
            "cardinalities": cardinalities,
            "n_numeric": int(n_numeric),
            "platform_position": int(platform_position),
            "hour_position": int(hour_position),
            "fourier_order": int(fourier_order),
            "embedding_dims": [int(d) for d in embedding_dims],
            "hidden_dims": [int(h) for h in hidden_dims],
            "dropout": float(dropout),
            "deep_exclude_positions": deep_exclude,
            "wide_exclude_positions": wide_exclude,
            "target_mean": float(target_mean),
        }
        self.n_categorical = len(cardinalities)
        self.n_numeric = int(n_numeric)
        self.platform_position = int(platform_position)
        self.fourier_order = int(fourier_order)
        self.deep_positions = [i for i in range(self.n_categorical) if i not in deep_exclude]
        self.wide_positions = [i for i in range(self.n_categorical) if i not in wide_exclude]

        # padding_idx=0 pins the unknown bucket to a zero vector / zero effect:
        # unseen values then get the "average" prediction instead of a random one.
        self.embeddings = nn.ModuleList(
            nn.Embedding(cardinalities[i], embedding_dims[i], padding_idx=0) for i in self.deep_positions
        )
        # All scalar wide effects live in one table (column offsets into it):
        # one embedding lookup per batch instead of one per column, which
        # matters because training this small model is per-op-overhead bound.
        wide_sizes = [cardinalities[i] for i in self.wide_positions]
        offsets = [0]
        for size in wide_sizes[:-1]:
            offsets.append(offsets[-1] + size)
        self.register_buffer("wide_offsets", torch.tensor(offsets, dtype=torch.long), persistent=False)
        self.register_buffer("wide_columns", torch.tensor(self.wide_positions, dtype=torch.long), persistent=False)
        self.wide_effects = nn.Embedding(max(1, sum(wide_sizes)), 1)
        self.wide_numeric = nn.Linear(n_numeric, 1, bias=False) if n_numeric else None
        self.hour_fourier = nn.Embedding(cardinalities[platform_position], 2 * fourier_order, padding_idx=0)
        deep_in = sum(embedding_dims[i] for i in self.deep_positions) + n_numeric
        layers: list[nn.Module] = []
        for width in hidden_dims:
            layers += [nn.Linear(deep_in, int(width)), nn.ReLU(), nn.Dropout(dropout)]
            deep_in = int(width)
        layers.append(nn.Linear(deep_in, 1))
        self.deep = nn.Sequential(*layers)
        self.bias = nn.Parameter(torch.tensor(float(target_mean)))
        # Duan smearing factor: E[exp(eps)] of log-scale residuals, so that
        # score-unit predictions estimate the mean rather than the median.
        self.register_buffer("smearing", torch.tensor(1.0))
        self.register_buffer("harmonics", torch.arange(1, fourier_order + 1, dtype=torch.float32))
        self._reset_parameters()

    @classmethod
    def from_spec(cls, spec: FeatureSpec, **kwargs: Any) -> "EngagementModel":
        """Build a model whose input layout matches ``spec.encode``."""
        return cls(
            cardinalities=spec.cardinalities,
            n_numeric=len(spec.numeric_columns),
            platform_position=spec.platform_position,
            hour_position=spec.categorical_columns.index("publish_hour"),
            **kwargs,
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "EngagementModel":
        """Rebuild an (untrained) model from :attr:`config`."""
        return cls(**config)

    def _reset_parameters(self) -> None:
        # Small embeddings/effects: rows that never see data (e.g. an hour with
        # no posts) stay close to neutral instead of adding random offsets.
        for emb in self.embeddings:
            nn.init.normal_(emb.weight, std=0.05)
            emb.weight.data[0].zero_()
        nn.init.zeros_(self.wide_effects.weight)
        nn.init.zeros_(self.hour_fourier.weight)
        if self.wide_numeric is not None:
            nn.init.zeros_(self.wide_numeric.weight)
        # Zero final layer: training starts from the global mean prediction.
        last = self.deep[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def fourier_features(self, hours: torch.Tensor) -> torch.Tensor:
        """[n] raw hours -> [n, 2K] sin/cos features; unknown hours (<0) -> 0."""
        angle = (2.0 * math.pi / 24.0) * hours.unsqueeze(1) * self.harmonics.unsqueeze(0)
        feats = torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)
        return feats * (hours >= 0).unsqueeze(1).to(feats.dtype)

    def predict_log(self, x: torch.Tensor) -> torch.Tensor:
        """log1p(engagement_score) prediction for a packed input, shape [n]."""
        x = x.to(torch.float32)
        cats = x[:, : self.n_categorical].round().long()
        nums = x[:, self.n_categorical : self.n_categorical + self.n_numeric]
        hours = x[:, self.n_categorical + self.n_numeric]

        out = self.bias.expand(x.shape[0])
        if self.wide_positions:
            wide_cats = cats.index_select(1, self.wide_columns)
            # Unknown (index 0) of every column is masked to a zero effect.
            effects = self.wide_effects(wide_cats + self.wide_offsets).squeeze(2) * (wide_cats > 0)
            out = out + effects.sum(dim=1)
        if self.wide_numeric is not None:
            out = out + self.wide_numeric(nums).squeeze(1)
        platform_coef = self.hour_fourier(cats[:, self.platform_position])
        out = out + (platform_coef * self.fourier_features(hours)).sum(dim=1)

        deep_in = [emb(cats[:, pos]) for emb, pos in zip(self.embeddings, self.deep_positions)]
        if self.n_numeric:
            deep_in.append(nums)
        out = out + self.deep(torch.cat(deep_in, dim=1)).squeeze(1)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """engagement_score prediction (mean estimate, capped to 0..1000), shape [n]."""
        log_pred = self.predict_log(x)
        score = torch.exp(log_pred) * self.smearing - 1.0
        return score.clamp(0.0, TARGET_MAX)


def prepare_for_inference(model: nn.Module) -> nn.Module:
    """Put a model in inference mode if it supports it.

    Models loaded from MLflow's ``pt2`` format are torch.export modules that
    were exported in eval mode and raise on ``.eval()``; they are returned as is.
    """
    if isinstance(model, EngagementModel):
        model.eval()
    return model
