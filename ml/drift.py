"""Feature drift between a reference window (training data) and recent posts, and the loop around it: the
champion's reference window, where a shift began, and when to ask for one retrain per shift.

Wraps Evidently's ``DataDriftPreset`` (evidently >= 0.7 API). Evidently is
imported lazily: it takes seconds to import.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: publish_dow is deliberately excluded: a window of a few recent days always
#: has a different weekday mix than the training period.
DEFAULT_DRIFT_COLUMNS: tuple[str, ...] = (
    "platform",
    "hook_type",
    "media_type",
    "topic",
    "text_length",
    "publish_hour",
)
NUMERICAL_DRIFT_COLUMNS: frozenset[str] = frozenset({"text_length", "publish_hour", "publish_dow"})
MIN_CURRENT_ROWS = 30
MIN_REFERENCE_ROWS = 30

# Two-sample tests rather than Evidently's automatic choice: with > 1000
# reference rows Evidently switches to Jensen-Shannon / Wasserstein distances
# with a fixed 0.1 threshold, which ignores the size of the current window; a
# few days of posts (~100-300 rows) then "drift" on sampling noise alone.
# Evidently's own "chisquare" is a goodness-of-fit test that treats the
# reference proportions as exact; when reference and current are of similar
# size (a young model's training window vs. the last 3 days) its false-alarm
# rate is several times alpha. So categoricals use a chi-square test of
# homogeneity on the 2 x K contingency table, registered with Evidently below.
CONTINGENCY_CHI2_METHOD = "cycle_chi2_contingency"
DEFAULT_CATEGORICAL_METHOD = CONTINGENCY_CHI2_METHOD
DEFAULT_NUMERICAL_METHOD = "ks"
DEFAULT_P_VALUE_THRESHOLD = 0.05


@dataclass
class DriftResult:
    """Outcome of :func:`detect_feature_drift`.

    ``column_scores`` holds each column's Evidently drift score: a p-value for
    statistical tests (drift when below the threshold) or a distance (drift
    when at/above it), see ``methods``.
    """

    dataset_drift: bool
    drift_share: float
    drifted_columns: list[str]
    column_scores: dict[str, float]
    methods: dict[str, str]
    n_reference: int
    n_current: int
    drift_share_threshold: float = 0.5
    column_thresholds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable copy (e.g. for Dagster metadata or a report file)."""
        return asdict(self)


def _chi2_contingency_test(
    reference_data: pd.Series, current_data: pd.Series, feature_type: Any, threshold: float
) -> tuple[float, bool]:
    """Chi-square test of homogeneity (two-sample); returns (p-value, drifted)."""
    from scipy.stats import chi2_contingency

    ref_counts = reference_data.dropna().value_counts()
    cur_counts = current_data.dropna().value_counts()
    keys = ref_counts.index.union(cur_counts.index)
    table = np.vstack(
        [ref_counts.reindex(keys, fill_value=0).to_numpy(), cur_counts.reindex(keys, fill_value=0).to_numpy()]
    )
    if table.shape[1] < 2 or table.sum(axis=1).min() == 0:
        # A single category on both sides (or an empty side): nothing to compare.
        return 1.0, False
    p_value = float(chi2_contingency(table, correction=False)[1])
    return p_value, p_value < threshold


_registered = False


def _register_stattests() -> None:
    """Register the contingency chi-square test with Evidently (idempotent)."""
    global _registered
    if _registered:
        return
    from evidently.legacy.calculations.stattests.registry import StatTest, register_stattest
    from evidently.legacy.core import ColumnType

    register_stattest(
        StatTest(
            name=CONTINGENCY_CHI2_METHOD,
            display_name="chi-square contingency p_value",
            allowed_feature_types=[ColumnType.Categorical],
            default_threshold=DEFAULT_P_VALUE_THRESHOLD,
        ),
        default_impl=_chi2_contingency_test,
    )
    _registered = True


def _column_type(df: pd.DataFrame, column: str) -> str:
    if column in NUMERICAL_DRIFT_COLUMNS:
        return "numerical"
    if pd.api.types.is_bool_dtype(df[column]) or not pd.api.types.is_numeric_dtype(df[column]):
        return "categorical"
    return "numerical"


def _prepare(df: pd.DataFrame, columns: Sequence[str], types: dict[str, str]) -> pd.DataFrame:
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for column in columns:
        values = df[column].reset_index(drop=True)
        if types[column] == "numerical":
            out[column] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            # One string representation on both sides so "9" and 9 match.
            out[column] = values.astype("string").str.strip().astype(object).where(values.notna(), None)
    return out


def _status(value: Any) -> str:
    return str(getattr(value, "value", value)).upper()


def detect_feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Sequence[str] | None = None,
    drift_share_threshold: float = 0.5,
    categorical_method: str | None = DEFAULT_CATEGORICAL_METHOD,
    numerical_method: str | None = DEFAULT_NUMERICAL_METHOD,
    threshold: float | None = DEFAULT_P_VALUE_THRESHOLD,
    html_path: Path | None = None,
) -> DriftResult:
    """Per-column drift tests and a dataset-level verdict; with ``html_path``, Evidently's own report of them is
    saved there as a self-contained HTML page (written to a temporary name, then moved into place).

    ``dataset_drift`` is ``drift_share >= drift_share_threshold`` where
    ``drift_share`` is the share of ``columns`` whose test flags drift. Method
    names are Evidently stat-test names; pass ``None`` for Evidently's automatic
    choice (then also ``threshold=None`` for its per-method default). The
    default categorical test is a two-sample chi-square test of homogeneity,
    numerics use the two-sample Kolmogorov-Smirnov test. Raises
    ``ValueError`` when ``current`` has fewer than 30 rows or columns are missing.
    """
    columns = list(columns) if columns is not None else list(DEFAULT_DRIFT_COLUMNS)
    if not columns:
        raise ValueError("columns must not be empty")
    for name, frame in (("reference", reference), ("current", current)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} is missing drift columns: {missing}")
    if len(current) < MIN_CURRENT_ROWS:
        raise ValueError(
            f"Too few current rows for drift detection: {len(current)} (need at least {MIN_CURRENT_ROWS})"
        )
    if len(reference) < MIN_REFERENCE_ROWS:
        raise ValueError(
            f"Too few reference rows for drift detection: {len(reference)} (need at least {MIN_REFERENCE_ROWS})"
        )
    if not 0.0 < drift_share_threshold <= 1.0:
        raise ValueError("drift_share_threshold must be in (0, 1]")

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    _register_stattests()

    types = {c: _column_type(reference, c) for c in columns}
    definition = DataDefinition(
        numerical_columns=[c for c in columns if types[c] == "numerical"],
        categorical_columns=[c for c in columns if types[c] == "categorical"],
    )
    preset = DataDriftPreset(
        columns=columns,
        drift_share=drift_share_threshold,
        cat_method=categorical_method,
        num_method=numerical_method,
        threshold=threshold,
    )
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        # Evidently's goodness-of-fit chi-square (if chosen) divides by zero for
        # categories absent from the reference; scipy warns loudly about it.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        snapshot = Report([preset], include_tests=True).run(
            current_data=Dataset.from_pandas(_prepare(current, columns, types), data_definition=definition),
            reference_data=Dataset.from_pandas(_prepare(reference, columns, types), data_definition=definition),
        )
    if html_path is not None:
        html_path = Path(html_path)
        html_path.parent.mkdir(parents=True, exist_ok=True)
        partial = html_path.with_name(f".{html_path.name}.partial")
        snapshot.save_html(str(partial))
        os.replace(partial, html_path)  # a reader never opens half a report
    payload = snapshot.dict()

    scores: dict[str, float] = {}
    methods: dict[str, str] = {}
    thresholds: dict[str, float] = {}
    for metric in payload.get("metrics", []):
        config = metric.get("config", {})
        if str(config.get("type", "")).endswith("ValueDrift") and config.get("column") in columns:
            column = str(config["column"])
            scores[column] = float(metric["value"])
            methods[column] = str(config.get("method"))
            if config.get("threshold") is not None:
                thresholds[column] = float(config["threshold"])
    # Evidently's own per-column verdict (test FAIL = drift detected) so that
    # p-value vs distance semantics are applied exactly as Evidently does.
    drifted: set[str] = set()
    for test in payload.get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        if str(params.get("type", "")).endswith("ValueDrift") and _status(test.get("status")) == "FAIL":
            drifted.add(str(params.get("column")))
    missing_scores = [c for c in columns if c not in scores]
    if missing_scores:
        raise RuntimeError(f"Evidently returned no drift score for columns: {missing_scores}")

    drifted_columns = [c for c in columns if c in drifted]
    share = len(drifted_columns) / len(columns)
    result = DriftResult(
        dataset_drift=share >= drift_share_threshold,
        drift_share=share,
        drifted_columns=drifted_columns,
        column_scores={c: scores[c] for c in columns},
        methods={c: methods[c] for c in columns},
        n_reference=int(len(reference)),
        n_current=int(len(current)),
        drift_share_threshold=float(drift_share_threshold),
        column_thresholds={c: thresholds[c] for c in columns if c in thresholds},
    )
    logger.info(
        "Feature drift: %s (share %.2f, drifted %s)", result.dataset_drift, share, drifted_columns
    )
    return result


# ---- the drift loop: which reference, which window, when a shift has begun, when to retrain ----------------

DRIFT_WINDOW_DAYS = 3  # recent days of posts compared with the champion's reference
#: the champion's metric naming the first day of the behaviour its reference describes (set by a retrain that a
#: drift triggered: the shift's onset; carried over by later retrains so a weekly one does not bring back the
#: pre-shift days)
REFERENCE_START_METRIC = "drift_reference_start"
#: the run tag by which the drift sensor hands the shift's onset to the retrain it requests
DRIFT_ONSET_TAG = "cycle/drift_onset"


def _iso_date(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value not in (None, "") else None


def reference_window(metrics: dict[str, Any]) -> tuple[date, date]:
    """The days of the champion's training data the drift monitor compares new posts with.

    Its whole training window, except after a behaviour shift: then only the days since the shift's onset that
    it was trained on (``drift_reference_start``). Against the whole window a retrain on shifted data would
    still drift (the old days outnumber the new for weeks), and the sensor would ask for a retrain every day.
    """
    start = _iso_date(metrics.get("model_data_start_date") or metrics.get("train_start_date"))
    end = _iso_date(metrics.get("model_data_end_date") or metrics.get("train_end_date"))
    if start is None or end is None:
        raise ValueError("The champion's metrics name no training window (model_data_start_date/end_date)")
    since = _iso_date(metrics.get(REFERENCE_START_METRIC))
    if since is not None and start < since <= end:
        start = since
    return start, end


def reference_start_for_retrain(
    data_start: date, data_end: date, drift_onset: date | None, champion_metrics: dict[str, Any] | None
) -> date | None:
    """``drift_reference_start`` of a model trained on ``data_start..data_end``: the onset of the shift that
    asked for it when its data covers that day, else the champion's own (a weekly retrain after a shift keeps
    describing the shifted behaviour), else None (the whole window)."""
    inherited = _iso_date((champion_metrics or {}).get(REFERENCE_START_METRIC))
    for candidate in (drift_onset, inherited):
        if candidate is not None and data_start < candidate <= data_end:
            return candidate
    return None


def window_posts(posts: pd.DataFrame, day: date, window_days: int = DRIFT_WINDOW_DAYS) -> pd.DataFrame:
    """The posts published in the ``window_days`` days up to ``day`` (``published_date`` column, dates)."""
    start = day - timedelta(days=window_days - 1)
    return posts[(posts["published_date"] >= start) & (posts["published_date"] <= day)]


def drift_onset(
    reference: pd.DataFrame, posts: pd.DataFrame, day: date, window_days: int = DRIFT_WINDOW_DAYS, **tests: Any
) -> date:
    """The first day of the drifted window up to ``day`` whose own posts drift from ``reference``: where the
    shift began (the retrain's new reference starts there). The window's first day when no single day has
    enough posts, or drifts on its own (a slow drift that only the pooled window shows)."""
    start = day - timedelta(days=window_days - 1)
    for offset in range(window_days):
        one_day = posts[posts["published_date"] == start + timedelta(days=offset)]
        if len(one_day) < MIN_CURRENT_ROWS:
            continue
        if detect_feature_drift(reference, one_day, **tests).dataset_drift:
            return start + timedelta(days=offset)
    return start


@dataclass(frozen=True)
class RetrainDecision:
    """What the drift sensor does with one evaluation: a run key to request (None: nothing) and why."""

    run_key: str | None
    reason: str


def drift_retrain_decision(
    dataset_drift: bool, onset: date | None, trainable_through: date | None, champion_version: str | None
) -> RetrainDecision:
    """One retrain per shift: keyed by the champion it replaces (Dagster runs a run key once per sensor), and
    only once the shifted posts have outcomes to learn from (``ml_training_dataset`` keeps posts 24 h old, so
    a shift seen on its first day waits a day). A retrain kept out by the gate is not asked for again: the
    champion stays, its drift stays reported, and the weekly schedule and the live-accuracy sensor remain."""
    if not dataset_drift:
        return RetrainDecision(None, "No drift")
    if onset is None or champion_version is None:
        return RetrainDecision(None, "Drift reported without its onset or champion: nothing to retrain against")
    if trainable_through is None or trainable_through < onset:
        shown = trainable_through.isoformat() if trainable_through else "nothing"
        return RetrainDecision(
            None,
            f"Drift since {onset.isoformat()}: its posts have no outcomes yet (training data through {shown}); "
            "the retrain is requested once they do",
        )
    return RetrainDecision(f"drift-v{champion_version}", f"Drift since {onset.isoformat()}: retrain champion v{champion_version}")
