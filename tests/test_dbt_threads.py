"""The dbt step can use the cores it has while it holds the warehouse pool (issue 16): every other warehouse step
waits for the pool meanwhile. CYCLE_DBT_DUCKDB_THREADS sets DuckDB's threads inside dbt (0: every core), while each
other step's connections keep their small per-connection setting (CYCLE_DUCKDB_THREADS). It is 1 by default: with
several threads DuckDB's float sums vary in their last digits between runs, and reruns must change nothing
(tests/test_pipeline_e2e.py)."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from analytics_assets.defs.resources import WarehouseResource, default_resources
from analytics_assets.defs.transform.dbt_invocation import dbt_invocation_env
from analytics_assets.settings import SettingsError, load_settings

# what dbt_invocation_env reads of the step's context: an unpartitioned step sets no window
UNPARTITIONED = SimpleNamespace(assets_def=SimpleNamespace(partitions_def=None))


def test_the_dbt_step_takes_the_threads_it_is_given_and_other_connections_keep_theirs(monkeypatch):
    monkeypatch.delenv("CYCLE_DBT_DUCKDB_THREADS", raising=False)
    monkeypatch.setenv("CYCLE_DUCKDB_THREADS", "1")
    warehouse = default_resources()["warehouse"]
    assert warehouse.threads == 1  # the connections of every other step
    assert dbt_invocation_env(UNPARTITIONED, warehouse)["CYCLE_DUCKDB_THREADS"] == "1"  # reruns byte-identical

    monkeypatch.setenv("CYCLE_DBT_DUCKDB_THREADS", "0")  # every core
    assert dbt_invocation_env(UNPARTITIONED, default_resources()["warehouse"])["CYCLE_DUCKDB_THREADS"] == str(os.cpu_count())

    monkeypatch.setenv("CYCLE_DBT_DUCKDB_THREADS", "3")
    assert dbt_invocation_env(UNPARTITIONED, default_resources()["warehouse"])["CYCLE_DUCKDB_THREADS"] == "3"
    explicit = WarehouseResource(path="w.duckdb", threads=1, dbt_threads=2)
    assert dbt_invocation_env(UNPARTITIONED, explicit)["CYCLE_DUCKDB_THREADS"] == "2"


def test_a_negative_thread_count_is_refused(monkeypatch):
    monkeypatch.setenv("CYCLE_DBT_DUCKDB_THREADS", "-1")
    with pytest.raises(SettingsError, match="dbt_duckdb_threads|CYCLE_DBT_DUCKDB_THREADS"):
        load_settings()
