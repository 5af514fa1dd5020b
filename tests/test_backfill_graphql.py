"""A partition-range backfill launched through the webserver's GraphQL API (the call the UI makes)
completes against a running `dagster dev`, as one run over the range, and lands every partition."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from analytics_assets.contracts.raw import RAW_TABLES

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = ["2026-09-01", "2026-09-02"]
ASSETS = [
    *RAW_TABLES,
    "stg_social_post_snapshots",
    "int_post_snapshots_latest_daily",
    "platform_engagement_weights",
    "fct_post_metrics_daily",
    # the fact's relationship tests (asset checks) read the dimensions it references
    "dim_date",
    "dim_time",
]

LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
    ... on InvalidSubsetError { message }
  }
}"""

STATUS = """
query Status($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status runs(limit: 10) { runId status } }
    ... on PythonError { message }
  }
}"""

LOCATIONS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name locationOrLoadError { __typename
  ... on PythonError { message } } } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gql(client: httpx.Client, query: str, variables: dict | None = None) -> dict:
    response = client.post("/graphql", json={"query": query, "variables": variables or {}})
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture()
def dagster_dev(tmp_path):
    home = tmp_path / "cycle"
    (home / "dagster_home").mkdir(parents=True)
    shutil.copy(ROOT / "analytics_assets" / "dagster.yaml", home / "dagster_home" / "dagster.yaml")
    port = _free_port()
    env = {
        **os.environ,
        "CYCLE_HOME": str(home),
        "CYCLE_WAREHOUSE_PATH": str(home / "warehouse.duckdb"),
        "DAGSTER_HOME": str(home / "dagster_home"),
        "CYCLE_SIM_POSTS_PER_DAY": "80",
        "CYCLE_SIM_JOURNEYS_PER_DAY": "50",
    }
    dagster = Path(sys.executable).with_name("dagster")
    log = open(tmp_path / "dagster_dev.log", "w")
    proc = subprocess.Popen(
        [str(dagster), "dev", "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "dagster_dev.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "dagster dev did not load the code location in time"
            try:
                entries = _gql(client, LOCATIONS)["workspaceOrError"]["locationEntries"]
                loaded = [e["locationOrLoadError"] for e in entries]
                if loaded and all(x and x["__typename"] == "RepositoryLocation" for x in loaded):
                    break
                errors = [x for x in loaded if x and x["__typename"] == "PythonError"]
                assert not errors, errors
            except httpx.HTTPError:
                pass
            time.sleep(2)
        yield client, home
    finally:
        client.close()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_graphql_partition_backfill_completes_as_one_run(dagster_dev):
    client, home = dagster_dev
    launched = _gql(
        client,
        LAUNCH,
        {
            "params": {
                "partitionNames": PARTITIONS,
                "assetSelection": [{"path": [key]} for key in ASSETS],
                "title": "test backfill",
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    deadline = time.monotonic() + 420
    while True:
        backfill = _gql(client, STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        if backfill["status"] not in ("REQUESTED", "CANCELING", "FAILING"):
            break
        assert time.monotonic() < deadline, f"backfill still {backfill['status']}"
        time.sleep(3)
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), backfill
    # single-run backfill policy: one run covers the whole range, as the CLI's run does
    assert len(backfill["runs"]) == 1 and backfill["runs"][0]["status"] == "SUCCESS", backfill["runs"]

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        days = con.execute(
            "select distinct cast(partition_date as varchar) from raw.raw_social_post_snapshots order by 1"
        ).fetchall()
        facts = con.execute("select count(distinct metric_date) from main.fct_post_metrics_daily").fetchone()[0]
    finally:
        con.close()
    assert [d[0] for d in days] == PARTITIONS
    assert facts == len(PARTITIONS)
