"""Test harness: an isolated Cycle home (warehouse, MLflow, serving copy, Dagster instance) and helpers
to run jobs in it. A uniquely named module: every conftest.py is imported as `conftest`, so shared code
imported from one would be shadowed by another folder's."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

# keep every process small: the suite shares 2 cores with dbt and DuckDB
os.environ.setdefault("CYCLE_TORCH_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# the partitions the tests' fixed dates live in, whatever a `make demo` recorded in the default home
# (data/partition_start); `cycle` subprocesses get their own fresh home and record their own (cycle_env)
os.environ.setdefault("CYCLE_PARTITION_START", "2025-01-01")

# the installed `cycle` command, and the environment that points it at a test home
CYCLE = str(Path(sys.executable).with_name("cycle"))


def cycle_env(home: Path, posts_per_day: int, journeys_per_day: int) -> dict[str, str]:
    env = {
        **os.environ,
        "CYCLE_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
        "CYCLE_SIM_POSTS_PER_DAY": str(posts_per_day),
        "CYCLE_SIM_JOURNEYS_PER_DAY": str(journeys_per_day),
    }
    env.pop("CYCLE_WAREHOUSE_PATH", None)  # derived from CYCLE_HOME
    env.pop("CYCLE_PARTITION_START", None)  # the fresh home's own start, as a new user's `cycle demo` records it
    return env


E2E_END = date(2026, 10, 14)
E2E_START = E2E_END - timedelta(days=2)  # three daily partitions
E2E_SIM = {"seed": 11, "posts_per_day": 480, "journeys_per_day": 300, "malformed_rate": 0.01}


@dataclass
class CycleHome:
    root: Path
    instance: dg.DagsterInstance
    # the warehouse the runs write (a WarehouseResource on PostgreSQL); None: the home's DuckDB file
    warehouse_resource: object | None = None

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def serving(self) -> Path:
        return self.root / "serving"

    def resources(self, **simulator: object) -> dict:
        from analytics_assets.defs.resources import MlflowResource, ServingResource, SimulatorResource, WarehouseResource

        return {
            "warehouse": self.warehouse_resource or WarehouseResource(path=str(self.warehouse), threads=1, memory_limit="1GB"),
            "simulator": SimulatorResource(**{**E2E_SIM, **simulator}),
            "mlflow_store": MlflowResource(
                tracking_uri=f"sqlite:///{self.root / 'mlflow' / 'mlflow.db'}",
                artifact_root=str(self.root / "mlflow" / "artifacts"),
            ),
            "serving": ServingResource(serving_dir=str(self.serving)),
        }

    def defs(self, **simulator: object) -> dg.Definitions:
        from analytics_assets.definitions import build_defs

        return build_defs(self.resources(**simulator))

    def run(self, start: date, end: date, job: str = "full_pipeline_job", **simulator: object):
        result = self.defs(**simulator).resolve_job_def(job).execute_in_process(
            instance=self.instance,
            tags={
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
            },
            raise_on_error=False,
        )
        failures = [e for e in result.all_events if e.is_step_failure]
        assert result.success, "\n".join(str(e.event_specific_data.error) for e in failures)
        return result

    def _with_api_store(self) -> tuple[dg.Definitions, dict]:
        from analytics_assets.definitions import build_defs
        from analytics_assets.defs.resources import WebhookStoreResource

        store = WebhookStoreResource(path=str(self.root / "api" / "inbound.sqlite3"))
        return build_defs({**self.resources(), "webhook_store": store}), {"webhook_store": store}

    def tick_api_store_sensor(self, sensor_name: str):
        """One evaluation of ``sensor_name`` over the API's store (``<home>/api/inbound.sqlite3``)."""
        defs, resources = self._with_api_store()
        with dg.build_sensor_context(instance=self.instance, resources=resources) as context:
            return defs.resolve_sensor_def(sensor_name)(context)

    def ingest_api_store(self, sensor_name: str) -> set[str]:
        """What the API's store holds past the last load, brought in as Dagster does: one tick of
        ``sensor_name``, which must request a run, then that run. Returns the assets it materialized."""
        request = self.tick_api_store_sensor(sensor_name)
        assert isinstance(request, dg.RunRequest), request
        defs, _ = self._with_api_store()
        job = defs.resolve_job_def(defs.resolve_sensor_def(sensor_name).job_name)
        run = job.execute_in_process(instance=self.instance, tags=request.tags)
        assert run.success
        return {e.asset_key.to_user_string() for e in run.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql, params or []).df()
        finally:
            con.close()


def new_home(root: Path) -> CycleHome:
    from analytics_assets.cli.instance import sqlite_storage_yaml

    root.mkdir(parents=True, exist_ok=True)
    dagster_home = root / "dagster_home"
    dagster_home.mkdir(exist_ok=True)
    # the storage a Cycle home's instance has (SQLite, its event log's connections kept open); nothing else of
    # analytics_assets/dagster.yaml, so runs here claim no pool slots unless a test asks for Cycle's settings
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(sqlite_storage_yaml(dagster_home))
    instance = dg.DagsterInstance.local_temp(str(dagster_home))
    return CycleHome(root=root, instance=instance)


def run_privacy_requests(instance: dg.DagsterInstance, resources: dict, cursor: list[str]) -> tuple[list[dict], list]:
    """One tick of privacy_requests_sensor and the runs it requests, in order (their op outputs); then one tick of
    privacy_rebuild_sensor (its cursor kept in ``cursor``) and the rebuild runs it requests (their results).
    ``resources``: a home's, with the API's store as ``webhook_store``."""
    from analytics_assets.definitions import build_defs
    from analytics_assets.defs.privacy.rebuild import privacy_rebuild_sensor
    from analytics_assets.defs.privacy.requests import privacy_request_job, privacy_requests_sensor

    store = {"webhook_store": resources["webhook_store"]}
    with dg.build_sensor_context(instance=instance, resources=store) as ctx:
        requested = privacy_requests_sensor(ctx)
    outputs = []
    for request in [] if isinstance(requested, dg.SkipReason) else requested:
        result = privacy_request_job.execute_in_process(
            run_config=request.run_config, instance=instance, resources=resources, tags=request.tags
        )
        assert result.success
        outputs.append(result.output_for_node("carry_out_privacy_request"))
    with dg.build_sensor_context(instance=instance, resources=store, cursor=cursor[0]) as ctx:
        rebuilds = privacy_rebuild_sensor(ctx)
        cursor[0] = ctx.cursor or "0"
    job = build_defs(resources).resolve_job_def("privacy_rebuild_job")
    results = []
    for request in [] if isinstance(rebuilds, dg.SkipReason) else rebuilds:
        result = job.execute_in_process(
            instance=instance, asset_selection=request.asset_selection, tags=request.tags, raise_on_error=False
        )
        failures = [e for e in result.all_events if e.is_step_failure]
        assert result.success, "\n".join(str(e.event_specific_data.error) for e in failures)
        results.append((request, result))
    return outputs, results


def simulated_journey_events(world: str, *, seed: int, journeys_per_day: int, days: int) -> pd.DataFrame:
    """The tracked journey events of ``days`` simulated days from 2025-06-02 in one journey world
    (``SimulatorConfig.journey_model``), with each event's time (``at``, UTC) and each touch's channel
    (``channel``; None for conversions). The other entities are kept tiny: journeys do not depend on them."""
    from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
    from analytics_assets.sources.simulator import ground_truth as gt

    config = SimulatorConfig(
        seed=seed,
        posts_per_day=20,
        campaigns_per_platform=1,
        ai_generations_per_day=5,
        journeys_per_day=journeys_per_day,
        journey_model=world,
    )
    sim = PlatformSimulator(config)
    start = date(2025, 6, 2)
    events = pd.concat([sim.day(start + timedelta(days=k)).touchpoints for k in range(days)], ignore_index=True)
    channel_of = {utm: channel for channel, utm in gt.CHANNEL_UTM.items()}
    return events.assign(
        at=pd.to_datetime(events["timestamp"]),
        channel=[channel_of.get((s, m)) for s, m in zip(events["utm_source"], events["utm_medium"])],
    )
