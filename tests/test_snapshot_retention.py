"""Retention: raw snapshot partitions older than 90 days move to Parquet and leave the hot table, and an
archived day reads back exactly; reruns archive nothing twice and a reloaded day replaces its file."""

from __future__ import annotations

import functools
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from analytics_assets.defs.ingest.retention import raw_snapshot_archive
from analytics_assets.storage import archive as retention
from analytics_assets.storage.archive import ArchiveVerificationError, archive_path, archived_days, read_archived_day
from analytics_assets.sources.parsing.loader import parse_day
from analytics_assets.contracts.raw import RAW_TABLES
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.storage.warehouse import connect, replace_partitions

SNAPSHOTS = RAW_TABLES["raw_social_post_snapshots"]
OLD_DAYS = [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)]
NEWEST = OLD_DAYS[0] + timedelta(days=94)  # the three old days are 92..94 days older than this one
SIM = SimulatorConfig(seed=21, posts_per_day=60, journeys_per_day=20, ai_generations_per_day=10, malformed_rate=0.01)


@functools.lru_cache(maxsize=1)
def simulated_day() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One simulated day of snapshots (rows, quarantine); other days are this one moved in time."""
    batch = parse_day(PlatformSimulator(SIM).day(OLD_DAYS[0]))[SNAPSHOTS.name]
    return batch.rows, batch.quarantine


def rows_for(day: date, share: float = 1.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, quarantine = simulated_day()
    shift = pd.Timedelta(days=(day - OLD_DAYS[0]).days)
    rows = rows.iloc[: int(len(rows) * share)].copy()
    for col in ("published_at", "snapshot_at", "loaded_at"):
        rows[col] = rows[col] + shift
    rows["partition_date"] = day
    quarantine = quarantine.assign(partition_date=day)
    return rows, quarantine


def load(warehouse: Path, days: list[date], share: float = 1.0) -> None:
    with connect(warehouse) as con:
        for day in days:
            rows, quarantine = rows_for(day, share)
            replace_partitions(con, SNAPSHOTS, rows, quarantine, day, day)


def hot_rows(warehouse: Path, day: date | None = None) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        where = "where partition_date = ?" if day else ""
        return con.execute(f"select * from {SNAPSHOTS.qualified_name} {where}", [day] if day else []).df()
    finally:
        con.close()


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(SNAPSHOTS.key)).reset_index(drop=True)


def run_archive(warehouse: Path, **config) -> dict:
    result = dg.materialize(
        [raw_snapshot_archive],
        resources={"warehouse": WarehouseResource(path=str(warehouse), memory_limit="512MB")},
        run_config={"ops": {"raw_snapshot_archive": {"config": config}}} if config else None,
    )
    assert result.success
    return result.asset_materializations_for_node("raw_snapshot_archive")[0].metadata


@pytest.fixture(scope="module")
def warehouse_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("retention") / "template.duckdb"
    load(path, [*OLD_DAYS, NEWEST])
    return path


@pytest.fixture
def warehouse(tmp_path, warehouse_template, monkeypatch) -> Path:
    monkeypatch.delenv("CYCLE_ARCHIVE_DIR", raising=False)
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(warehouse_template.read_bytes())
    return path


def test_old_partitions_move_to_parquet_and_read_back_exactly(warehouse):
    before = {day: canonical(hot_rows(warehouse, day)) for day in OLD_DAYS}
    assert all(len(frame) > 100 for frame in before.values())
    newest_rows = len(hot_rows(warehouse, NEWEST))

    meta = run_archive(warehouse)  # defaults: 90 days before the newest partition

    root = warehouse.parent / "archive"  # beside the warehouse, i.e. $CYCLE_HOME/archive
    assert meta["archive_root"].value == str(root)
    assert meta["cutoff_by_table"].value == {SNAPSHOTS.name: (NEWEST - timedelta(days=90)).isoformat()}
    assert meta["archived_days"].value == 3
    assert meta["archived_rows"].value == sum(len(f) for f in before.values())
    hot = hot_rows(warehouse)
    assert set(hot["partition_date"].dt.date) == {NEWEST} and len(hot) == newest_rows
    assert archived_days(SNAPSHOTS.name, root) == OLD_DAYS
    for day, expected in before.items():
        assert archive_path(root, SNAPSHOTS.name, day) == root / SNAPSHOTS.name / f"partition_date={day}" / "part-0.parquet"
        back = canonical(read_archived_day(SNAPSHOTS.name, day, root))
        pd.testing.assert_frame_equal(back, expected, check_dtype=True)
    assert not list(root.rglob("*.tmp"))


def test_rerun_archives_nothing_twice(warehouse):
    run_archive(warehouse)
    root = warehouse.parent / "archive"
    files = {p: p.read_bytes() for p in root.rglob("*.parquet")}
    meta = run_archive(warehouse)
    assert meta["archived_days"].value == 0 and meta["archived_rows"].value == 0
    assert {p: p.read_bytes() for p in root.rglob("*.parquet")} == files


def test_a_day_reloaded_after_archiving_replaces_its_file(warehouse):
    run_archive(warehouse)
    root = warehouse.parent / "archive"
    day = OLD_DAYS[1]
    original = canonical(read_archived_day(SNAPSHOTS.name, day, root))
    load(warehouse, [day], share=0.5)  # a corrected reload of that day with other content
    reloaded = canonical(hot_rows(warehouse, day))
    assert len(reloaded) != len(original)

    meta = run_archive(warehouse)
    assert meta["archived_days"].value == 1
    assert list((root / SNAPSHOTS.name / f"partition_date={day}").iterdir()) == [archive_path(root, SNAPSHOTS.name, day)]
    pd.testing.assert_frame_equal(canonical(read_archived_day(SNAPSHOTS.name, day, root)), reloaded)
    assert hot_rows(warehouse, day).empty


def test_retention_window_and_reference_date_are_configurable(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("CYCLE_ARCHIVE_DIR", str(tmp_path / "elsewhere"))
    # measured from a pinned day, only the first old day is more than 92 days older
    meta = run_archive(warehouse, retention_days=92, reference_date=(OLD_DAYS[0] + timedelta(days=93)).isoformat())
    assert meta["archived_days"].value == 1
    assert archived_days(SNAPSHOTS.name, tmp_path / "elsewhere") == OLD_DAYS[:1]
    assert not (warehouse.parent / "archive").exists()
    with pytest.raises(FileNotFoundError, match="not archived"):
        read_archived_day(SNAPSHOTS.name, OLD_DAYS[1], tmp_path / "elsewhere")


def test_unknown_tables_are_refused(warehouse):
    result = dg.materialize(
        [raw_snapshot_archive],
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
        run_config={"ops": {"raw_snapshot_archive": {"config": {"tables": ["raw_nope"]}}}},
        raise_on_error=False,
    )
    assert not result.success
    assert "raw_nope" in str(result.all_events)


def test_a_file_that_does_not_read_back_identically_deletes_nothing(warehouse, monkeypatch):
    real = retention._fingerprint_sql

    def lossy(table, relation, where="true"):  # as if the written file had lost its rows
        return real(table, relation, "false" if relation.startswith("read_parquet") else where)

    monkeypatch.setattr(retention, "_fingerprint_sql", lossy)
    before = len(hot_rows(warehouse))
    root = warehouse.parent / "archive"
    with connect(warehouse) as con, pytest.raises(ArchiveVerificationError, match="nothing was deleted"):
        retention.archive_day(con, SNAPSHOTS, root, OLD_DAYS[0])
    assert len(hot_rows(warehouse)) == before
    assert not list(root.rglob("*.parquet")) and not list(root.rglob("*.tmp"))
