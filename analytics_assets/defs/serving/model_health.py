"""The engagement model's health for the serving snapshot (``contracts.serving.MODEL_HEALTH``): what the API and
the dashboard show of the models without opening MLflow or the warehouse.

Where each part is recorded, and read from here:

- **retrains**: every run of ``engagement_model`` that trained a version records, in its materialization's
  metadata, the new version (``challenger_version``), the gate's decision and reason (``promotion``,
  ``promotion_reason``), its figures and the champion's on the same posts (``gate/*``, ``ml/governance.py``), and
  the champion after the decision (``model_version``, ``holdout/*``). The Dagster instance keeps them, as it keeps
  the last materializations that ``asset_status.parquet`` publishes: the same figures the asset's page shows
  (rounded to 4 significant digits there, so here too).
- **live accuracy**: the champion's newest row of ``ml.champion_live_accuracy`` (``ml_champion_live_accuracy``).
- **drift**: the newest day whose Evidently report page ``ml_feature_drift`` saved, its per-column scores (the
  asset's ``latest_column_scores`` table), its day's row of ``ml.ml_feature_drift_reports``, and the page itself,
  copied into the snapshot.

Before a part exists (no model trained, no drift computed yet) it has no rows, and ``absent`` names why.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa

from analytics_assets.contracts.serving import (
    CHALLENGER_ROLE,
    CHAMPION_ROLE,
    DRIFT_REPORT,
    DRIFT_SECTION,
    LIVE_SECTION,
    MODEL_HEALTH_COLUMNS,
    MODEL_HEALTH_VERSIONS,
    RETIRED_ROLE,
    VERSION_SECTION,
)
from analytics_assets.contracts.warehouse import CHAMPION_LIVE_ACCURACY, FEATURE_DRIFT_REPORTS
from analytics_assets.storage.warehouse import table_exists

log = logging.getLogger(__name__)

MODEL_ASSET = dg.AssetKey("engagement_model")
DRIFT_ASSET = dg.AssetKey("ml_feature_drift")
MODEL_HEALTH_DEPS = ("engagement_model", "ml_champion_live_accuracy", "ml_feature_drift")
# materializations read back: the model asset runs once a day at most (and on retrain requests); the drift
# asset once per partition, a backfill recording one per day with the same report
MODEL_EVENTS_SCANNED = 500
DRIFT_EVENTS_SCANNED = 200
_REPORT_DAY = re.compile(r"feature_drift_(\d{4}-\d{2}-\d{2})\.html$")
_ARROW = {
    "VARCHAR": pa.string(), "DOUBLE": pa.float64(), "BIGINT": pa.int64(), "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"), "DATE": pa.date32(),
}
SCHEMA = pa.schema([(name, _ARROW[kind]) for name, kind in MODEL_HEALTH_COLUMNS.items()])


@dataclass
class ModelHealth:
    frame: pd.DataFrame  # MODEL_HEALTH_COLUMNS, of their types
    report: bytes | None = None  # the drift day's report page (DRIFT_REPORT), when there is one
    report_source: Path | None = None
    absent: list[str] = field(default_factory=list)  # what is not there yet, and why
    problems: list[str] = field(default_factory=list)  # recorded but unreadable (published without it)


def _value(metadata: Mapping[str, Any], key: str) -> Any:
    entry = metadata.get(key)
    value = getattr(entry, "value", entry)
    return None if value is None else value


def _float(metadata: Mapping[str, Any], key: str) -> float | None:
    value = _value(metadata, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _int(metadata: Mapping[str, Any], key: str) -> int | None:
    value = _float(metadata, key)
    return None if value is None else int(round(value))


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc).replace(tzinfo=None)


def frame_of(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows (any subset of the columns each) as a frame of every column, of the contract's types (an empty file
    keeps them too)."""
    table = pa.Table.from_pylist([{c: r.get(c) for c in SCHEMA.names} for r in rows], schema=SCHEMA)
    return table.to_pandas(types_mapper=pd.ArrowDtype)


# ------------------------------------------------------------------------------------------------ retrains


def _retrain_row(metadata: Mapping[str, Any], trained_at: datetime, champion_before: str | None) -> dict[str, Any]:
    """One retrain as its engagement_model materialization recorded it."""
    decision = _value(metadata, "promotion")
    promoted = decision == "promoted"
    gated = _float(metadata, "gate/holdout_challenger_rmse_log") is not None
    row: dict[str, Any] = {
        "section": VERSION_SECTION,
        "model_name": _value(metadata, "model_name"),
        "model_version": str(_value(metadata, "challenger_version")),
        "trained_at": trained_at,
        "decision": decision,
        "reason": _value(metadata, "promotion_reason"),
        # kept: the champion after the decision is the one it lost to; promoted: the one before it
        "compared_with": (champion_before if promoted else _value(metadata, "model_version")) if gated else None,
        "promotion_margin": _float(metadata, "gate/margin"),
    }
    if gated:  # both models on the challenger's holdout posts, and on the posts neither saw where there were enough
        row.update({
            "holdout_posts": _int(metadata, "gate/holdout_posts"),
            "holdout_rmse_log": _float(metadata, "gate/holdout_challenger_rmse_log"),
            "holdout_mae": _float(metadata, "gate/holdout_challenger_mae"),
            "champion_holdout_rmse_log": _float(metadata, "gate/holdout_champion_rmse_log"),
            "champion_holdout_mae": _float(metadata, "gate/holdout_champion_mae"),
            "shadow_posts": _int(metadata, "gate/shadow_posts"),
            "shadow_rmse_log": _float(metadata, "gate/shadow_challenger_rmse_log"),
            "shadow_mae": _float(metadata, "gate/shadow_challenger_mae"),
            "champion_shadow_rmse_log": _float(metadata, "gate/shadow_champion_rmse_log"),
            "champion_shadow_mae": _float(metadata, "gate/shadow_champion_mae"),
        })
    elif promoted:  # the first model (no champion to compare with): its own holdout figures, now the champion's
        row.update({
            "holdout_posts": _int(metadata, "holdout/n_holdout"),
            "holdout_rmse_log": _float(metadata, "holdout/rmse_log"),
            "holdout_mae": _float(metadata, "holdout/mae"),
        })
    return row


def version_rows(instance: dg.DagsterInstance) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """The newest ``MODEL_HEALTH_VERSIONS`` retrains, each with its role, and the champion's row however old;
    also the champion's version and the model's name (None before the first model)."""
    records = instance.fetch_materializations(MODEL_ASSET, limit=MODEL_EVENTS_SCANNED).records  # newest first
    if not records:
        return [], None, None
    latest = records[0].asset_materialization.metadata if records[0].asset_materialization else {}
    champion = _value(latest, "model_version")
    champion = None if champion is None else str(champion)
    model_name = _value(latest, "model_name")
    retrains: dict[str, dict[str, Any]] = {}
    champion_before: str | None = None
    for record in reversed(records):  # oldest first: each promotion's predecessor is the champion before it
        materialization = record.asset_materialization
        metadata = materialization.metadata if materialization else {}
        if _value(metadata, "retrained") is True and _value(metadata, "challenger_version") is not None:
            row = _retrain_row(metadata, _when(record.timestamp), champion_before)
            retrains.pop(row["model_version"], None)  # a version recorded twice: its newest record
            retrains[row["model_version"]] = row
        shipped = _value(metadata, "model_version")
        champion_before = str(shipped) if shipped is not None else champion_before
    ordered = list(reversed(retrains.values()))  # newest first
    newest = ordered[0]["model_version"] if ordered else None
    for row in ordered:
        if row["model_version"] == champion:
            row["role"] = CHAMPION_ROLE
        elif row["model_version"] == newest and row["decision"] != "promoted":
            row["role"] = CHALLENGER_ROLE  # the newest retrain, kept out: the contender
        else:
            row["role"] = RETIRED_ROLE
    kept = ordered[:MODEL_HEALTH_VERSIONS]
    if champion is not None and all(r["model_version"] != champion for r in kept):
        older = [r for r in ordered if r["model_version"] == champion]
        if older:
            kept.append(older[0])
        else:  # trained before the history read here: its own figures, as every model run records them
            kept.append({
                "section": VERSION_SECTION, "model_name": model_name, "model_version": champion,
                "role": CHAMPION_ROLE, "holdout_posts": _int(latest, "holdout/n_holdout"),
                "holdout_rmse_log": _float(latest, "holdout/rmse_log"), "holdout_mae": _float(latest, "holdout/mae"),
            })
    return kept, champion, None if model_name is None else str(model_name)


# ------------------------------------------------------------------------------------------- live accuracy


def live_row(con, model_name: str | None, champion: str) -> dict[str, Any] | None:
    """The champion's newest live accuracy row (None before ml_champion_live_accuracy evaluated it)."""
    from ml.governance import RETRAIN_ERROR_RATIO, WARN_ERROR_RATIO

    if not table_exists(con, CHAMPION_LIVE_ACCURACY):
        return None
    found = con.execute(
        f"""select model_name, model_version, as_of_date, window_start, window_end, n_window_posts,
                posts_since_training, live_rmse_log, live_mae, holdout_rmse_log, error_ratio, status
            from {CHAMPION_LIVE_ACCURACY}
            where model_version = ? and (? is null or model_name = ?)
            order by as_of_date desc nulls last, generated_at desc limit 1""",
        [champion, model_name, model_name],
    ).df()
    if found.empty:
        return None
    r = found.iloc[0].to_dict()
    return {
        "section": LIVE_SECTION, "model_name": r["model_name"], "model_version": r["model_version"],
        "as_of_date": _day(r["as_of_date"]), "window_start": _day(r["window_start"]), "window_end": _day(r["window_end"]),
        "window_posts": _maybe_int(r["n_window_posts"]), "posts_since_training": _maybe_int(r["posts_since_training"]),
        "live_rmse_log": _maybe_float(r["live_rmse_log"]), "live_mae": _maybe_float(r["live_mae"]),
        "holdout_rmse_log": _maybe_float(r["holdout_rmse_log"]), "error_ratio": _maybe_float(r["error_ratio"]),
        "status": r["status"], "warn_ratio": WARN_ERROR_RATIO, "retrain_ratio": RETRAIN_ERROR_RATIO,
    }


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _day(value: Any) -> date | None:
    return None if _missing(value) else pd.Timestamp(value).date()


def _maybe_int(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _maybe_float(value: Any) -> float | None:
    return None if _missing(value) else float(value)


# ---------------------------------------------------------------------------------------------------- drift


def parse_column_scores(markdown: str) -> list[dict[str, Any]]:
    """The per-column table ``ml_feature_drift`` records (``drift_report_metadata``: column, test, score,
    threshold, drifted); ``ValueError`` when it is not that table."""
    lines = [line.strip() for line in markdown.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        raise ValueError("no table")
    cells = lambda line: [c.strip() for c in line.strip("|").split("|")]  # noqa: E731
    header = cells(lines[0])
    wanted = ("column", "test", "score", "threshold", "drifted")
    missing = [c for c in wanted if c not in header]
    if missing:
        raise ValueError(f"no {', '.join(missing)} column in the header {header}")
    at = {c: header.index(c) for c in wanted}
    rows = []
    for line in lines[2:]:  # after the header and its |---| line
        values = cells(line)
        if len(values) != len(header):
            raise ValueError(f"row {line!r} has {len(values)} cells, the header {len(header)}")
        drifted = values[at["drifted"]]
        if drifted not in ("yes", "no"):
            raise ValueError(f"drifted is {drifted!r}, not yes or no")
        rows.append({
            "column_name": values[at["column"]], "test": values[at["test"]],
            "score": float(values[at["score"]]), "threshold": float(values[at["threshold"]]),
            "drifted": drifted == "yes",
        })
    return rows


def _report_day(path: str) -> date | None:
    found = _REPORT_DAY.search(path)
    return date.fromisoformat(found.group(1)) if found else None


def latest_drift_record(instance: dg.DagsterInstance) -> tuple[date, Path, Mapping[str, Any]] | None:
    """The newest drift day whose report page exists, with the materialization that saved it (of two runs of one
    day, the newer: a rerun replaces the page)."""
    best: tuple[date, Path, Mapping[str, Any]] | None = None
    for record in instance.fetch_materializations(DRIFT_ASSET, limit=DRIFT_EVENTS_SCANNED).records:  # newest first
        metadata = record.asset_materialization.metadata if record.asset_materialization else {}
        path = _value(metadata, "drift_report")
        day = _report_day(str(path)) if path is not None else None
        if day is None or (best is not None and day <= best[0]):
            continue
        if Path(str(path)).is_file():
            best = (day, Path(str(path)), metadata)
    return best


def _drift_share_threshold() -> float:
    """The share of drifted columns at which ml_feature_drift calls the day drifted (it uses the default)."""
    from ml.drift import detect_feature_drift

    return float(inspect.signature(detect_feature_drift).parameters["drift_share_threshold"].default)


def drift_rows(con, day: date, metadata: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per column of ``day``'s drift, with the day's verdict (its row of the drift table where there is
    one, else the materialization's figures)."""
    summary = {
        "model_version": _value(metadata, "champion_version"), "drift_share": _float(metadata, "latest_drift_share"),
        "dataset_drift": _value(metadata, "latest_dataset_drift"),
        "reference_start": _day(_value(metadata, "reference_start")), "reference_end": None, "n_reference": None,
        "n_current": None,
    }
    if table_exists(con, FEATURE_DRIFT_REPORTS):
        found = con.execute(
            f"""select model_version, drift_share, dataset_drift, reference_start, reference_end, n_reference, n_current
                from {FEATURE_DRIFT_REPORTS} where partition_date = ? limit 1""",
            [day],
        ).df()
        if not found.empty:
            r = found.iloc[0].to_dict()
            summary = {
                "model_version": r["model_version"], "drift_share": _maybe_float(r["drift_share"]),
                "dataset_drift": None if _missing(r["dataset_drift"]) else bool(r["dataset_drift"]),
                "reference_start": _day(r["reference_start"]), "reference_end": _day(r["reference_end"]),
                "n_reference": _maybe_int(r["n_reference"]), "n_current": _maybe_int(r["n_current"]),
            }
    columns = parse_column_scores(str(_value(metadata, "latest_column_scores") or ""))
    threshold = _drift_share_threshold()
    return [
        {"section": DRIFT_SECTION, "drift_day": day, **summary, **column, "drift_share_threshold": threshold,
         "report_file": DRIFT_REPORT}
        for column in columns
    ]


# -------------------------------------------------------------------------------------------------- the file


def model_health(instance: dg.DagsterInstance, con) -> ModelHealth:
    """Everything the model health file holds, read from the instance and the warehouse (``con``)."""
    rows, absent, problems = [], [], []
    versions, champion, model_name = version_rows(instance)
    rows += versions
    if champion is None:
        absent.append("engagement_model (no model trained yet)")
    else:
        live = live_row(con, model_name, champion)
        if live is None:
            absent.append(f"{CHAMPION_LIVE_ACCURACY} (the champion v{champion} not evaluated yet)")
        else:
            rows.append(live)
    report = source = None
    latest = latest_drift_record(instance)
    if latest is None:
        absent.append("ml_feature_drift (no drift report yet)")
    else:
        day, path, metadata = latest
        try:
            drift = drift_rows(con, day, metadata)
            report = path.read_bytes()
        except (ValueError, OSError) as exc:  # published without it, the rest served: say why
            problems.append(f"drift of {day.isoformat()} ({path}): {exc}")
            log.warning("model health: drift of %s not published: %s", day, exc)
        else:
            rows += drift
            source = path
    return ModelHealth(frame_of(rows), report, source, absent, problems)
