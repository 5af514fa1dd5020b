"""Typed Dagster resources, and how the embedded default configures them from ``settings``.

Secrets (none for the embedded default) reach resources as ``dg.EnvVar``."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, Literal

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource
from pydantic import Field, field_validator

from analytics_assets.contracts.inbound import WebhookStore
from analytics_assets.contracts.warehouse import DBT_SCHEMA
from analytics_assets.settings import PROJECT_ROOT, WAREHOUSE_ENGINES, CycleSettings, load_settings
from analytics_assets.contracts.holidays import HolidayCalendar
from analytics_assets.sources.simulator import (
    AnomalyPlan,
    BudgetResponsePlan,
    PlatformSimulator,
    SeriesPatterns,
    SimulatorConfig,
)
from analytics_assets.storage import postgres_warehouse, warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file. Each connection is short-lived and resource-bounded."""

    path: str
    threads: int = Field(default=1, description="DuckDB threads per connection (2 cores are shared)")
    memory_limit: str = "2GB"
    dbt_threads: int = Field(
        default=1,
        ge=0,
        description="DuckDB threads of the dbt step, which holds the warehouse pool alone while it runs, so no other "
        "warehouse step competes for the cores; 0: every core of the machine. 1 by default: with several threads "
        "DuckDB sums doubles in an order that varies between runs, so a rerun of a partition would change the last "
        "digits of the marts' float aggregates (and what ranks on them) until those sums are exact decimals",
    )

    engine: str = Field(
        default="duckdb", description="duckdb: the file at `path`; postgres: the database of the postgres_* fields"
    )

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if value not in WAREHOUSE_ENGINES:
            raise ValueError(f"warehouse engine must be one of {', '.join(WAREHOUSE_ENGINES)}, not {value!r}")
        return value
    postgres_host: str = "localhost"
    postgres_port: int = 5432
    postgres_user: str = "cycle"
    postgres_password: str = Field(default="", description="dg.EnvVar('CYCLE_PG_PASSWORD') where one is set")
    postgres_dbname: str = "cycle"
    postgres_sslmode: str = "prefer"

    def dbt_duckdb_threads(self) -> int:
        return self.dbt_threads or os.cpu_count() or 1

    @property
    def on_postgres(self) -> bool:
        return self.engine == "postgres"

    def postgres_dsn(self) -> str:
        return postgres_warehouse.postgres_dsn(
            self.postgres_host, self.postgres_port, self.postgres_user, self.postgres_password, self.postgres_dbname,
            self.postgres_sslmode,
        )

    def dbt_target_env(self) -> dict[str, str]:
        """What dbt/profiles.yml reads to build on a PostgreSQL warehouse: its postgres output on the database the
        raw layer is written to, in the schema DuckDB's file calls ``main``. Nothing on DuckDB (the profile's default
        output, or CYCLE_DBT_TARGET as set)."""
        if not self.on_postgres:
            return {}
        return {
            "CYCLE_DBT_TARGET": "postgres",
            "CYCLE_PG_HOST": self.postgres_host,
            "CYCLE_PG_PORT": str(self.postgres_port),
            "CYCLE_PG_USER": self.postgres_user,
            "CYCLE_PG_PASSWORD": self.postgres_password,
            "CYCLE_PG_DBNAME": self.postgres_dbname,
            # the schema every reader names dbt's models by (contracts/warehouse.py), on either engine
            "CYCLE_PG_SCHEMA": DBT_SCHEMA,
            "CYCLE_PG_SSLMODE": self.postgres_sslmode,
        }

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection: DuckDB's, or on PostgreSQL one with the same surface
        (``storage/postgres_warehouse.py``)."""
        if self.on_postgres:
            with postgres_warehouse.connect(self.postgres_dsn(), read_only=read_only, memory_limit=self.memory_limit) as con:
                yield con
            return
        with warehouse.connect(self.path, self.threads, self.memory_limit, read_only=read_only) as con:
            yield con


class SimulatorDisabledError(RuntimeError):
    """The simulator was asked for data in live source mode, where nothing may be simulated."""


class SimulatorResource(dg.ConfigurableResource):
    """The built-in platform simulator, the default source when no platform credentials are set.

    In live source mode (``CYCLE_SOURCE_MODE=live``) it refuses to produce anything: live data can never be
    mixed with invented rows by a code path that forgot to ask which mode it runs in."""

    source_mode: Literal["simulator", "live"] = Field(
        default="simulator", description="live: the simulator produces nothing (CYCLE_SOURCE_MODE)"
    )
    seed: int = 7
    posts_per_day: int = 240
    campaigns_per_platform: int = 4
    journeys_per_day: int = 400
    ai_generations_per_day: int = 150
    boost_rate: float = 0.08
    shift_start: str | None = Field(default=None, description="ISO date from which behaviour shifts (drift)")
    spike_days: list[str] = []
    malformed_rate: float = 0.0
    boost_lift_scale: float = Field(default=1.0, description="Scales the planted organic lift of boosts (0: none)")
    experiment_units_per_day: int = 150
    journey_model: str = Field(
        default="exposure",
        description="What a channel's touch does to a journey: raises its odds of converting (exposure) or "
        "brings the user back for a chance to convert (funnel); see simulator/ground_truth.py",
    )
    # closed-loop mode (sources/simulator/closed_loop.py, `cycle loop`)
    adoption: float = Field(default=0.0, description="Share of the open recommendations the simulated account applies")
    dismissal: float = Field(default=0.0, description="Share of the open recommendations it dismisses")
    actions_dir: str | None = Field(
        default=None, description="The account's actions log (one Parquet file a day) the simulator publishes from"
    )
    peak_shift_hours: int = Field(default=0, description="Hours every platform's peak moves by from peak_shift_start")
    peak_shift_start: str | None = Field(default=None, description="ISO date from which the peaks move (only they)")
    # planted structure in the daily ad and post series, for the forecasts, anomalies and budgets to be judged on
    # (all off by default: the open-loop demo's data are unchanged); each can be set from the UI's launchpad
    anomaly_days: list[str] = Field(
        default=[], description="ISO days on which one labeled anomaly of every kind is planted (sources/simulator/anomalies.py)"
    )
    anomaly_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Chance a day of each campaign and organic platform gets an anomaly"
    )
    anomaly_kinds: list[str] = Field(
        default=[], description="Kinds to plant: spend_spike, tracking_outage, ctr_collapse, viral_spike (empty: all)"
    )
    series_patterns_start: str | None = Field(
        default=None,
        description="ISO day from which trend, weekly seasonality, holidays (the deployment's calendar) and level "
        "shifts shape the ad and post series (sources/simulator/series_patterns.py); unset: none",
    )
    budget_response_start: str | None = Field(
        default=None,
        description="ISO day from which campaigns' conversions follow known response curves to planned budget changes "
        "(sources/simulator/budget_response.py), so the budget optimizer's oracle allocation is known; unset: none",
    )

    raw_chunk_rows: int = Field(
        default=200_000,
        ge=1,
        description="Most social snapshot rows raw_platform_data simulates, parses, validates and writes at once (a "
        "day streams through in slices of whole posts, in the one transaction that replaces the partition): its "
        "memory follows this, not the day's volume (CYCLE_SIM_RAW_CHUNK_ROWS)",
    )

    def _anomaly_plan(self) -> AnomalyPlan | None:
        if not self.anomaly_days and self.anomaly_rate == 0.0:
            return None
        kinds = {"kinds": tuple(self.anomaly_kinds)} if self.anomaly_kinds else {}
        return AnomalyPlan(days=tuple(date.fromisoformat(d) for d in self.anomaly_days), rate=self.anomaly_rate, **kinds)

    def _series_patterns(self) -> SeriesPatterns | None:
        if self.series_patterns_start is None:
            return None
        settings = load_settings()  # holidays land on the days the forecasts take as known (CYCLE_HOLIDAY_*)
        calendar = HolidayCalendar.from_settings(settings.holiday_calendar, settings.holiday_dates)
        return SeriesPatterns(start=date.fromisoformat(self.series_patterns_start), calendar=calendar)

    def config(self) -> SimulatorConfig:
        return SimulatorConfig(
            seed=self.seed,
            posts_per_day=self.posts_per_day,
            campaigns_per_platform=self.campaigns_per_platform,
            journeys_per_day=self.journeys_per_day,
            ai_generations_per_day=self.ai_generations_per_day,
            boost_rate=self.boost_rate,
            shift_start=date.fromisoformat(self.shift_start) if self.shift_start else None,
            spike_days=tuple(date.fromisoformat(d) for d in self.spike_days),
            malformed_rate=self.malformed_rate,
            boost_lift_scale=self.boost_lift_scale,
            experiment_units_per_day=self.experiment_units_per_day,
            journey_model=self.journey_model,
            adoption=self.adoption,
            dismissal=self.dismissal,
            actions_dir=self.actions_dir,
            peak_shift_hours=self.peak_shift_hours,
            peak_shift_start=date.fromisoformat(self.peak_shift_start) if self.peak_shift_start else None,
            anomalies=self._anomaly_plan(),
            patterns=self._series_patterns(),
            budget_response=(
                BudgetResponsePlan(start=date.fromisoformat(self.budget_response_start))
                if self.budget_response_start
                else None
            ),
        )

    @property
    def is_live(self) -> bool:
        return self.source_mode == "live"

    def simulator(self) -> PlatformSimulator:
        if self.is_live:
            raise SimulatorDisabledError(
                "The simulator is off in live source mode (CYCLE_SOURCE_MODE=live): an entity without a configured "
                "source stays empty; set CYCLE_SOURCE_MODE=simulator for the embedded demo"
            )
        return PlatformSimulator(self.config())


class MlflowResource(dg.ConfigurableResource):
    """Local MLflow: SQLite backend store and an explicit artifact root under the data directory."""

    tracking_uri: str
    artifact_root: str
    experiment_name: str = "cycle-engagement"
    model_name: str = "engagement_model"


class ServingResource(dg.ConfigurableResource):
    """Folder of Parquet files the API reads; the API never opens the warehouse."""

    serving_dir: str

    @property
    def path(self) -> Path:
        return Path(self.serving_dir)


class WebhookStoreResource(dg.ConfigurableResource):
    """The API's append-only inbound store (SQLite). Read here, written only by the API."""

    path: str

    def store(self) -> WebhookStore:
        return WebhookStore(self.path)


def dbt_executable() -> str:
    """dbt from this interpreter's environment (an un-activated venv still finds it), through ``cycle-dbt``
    so that it dies with the run that started it (``analytics_assets/dbt_process.py``)."""
    for name in ("cycle-dbt", "dbt"):
        beside = Path(sys.executable).with_name(name)
        if beside.exists():
            return str(beside)
    return shutil.which("dbt") or "dbt"


def warehouse_resource(settings: CycleSettings, *, password_by_reference: bool = True) -> WarehouseResource:
    """The warehouse the ``CYCLE_*`` settings name. ``password_by_reference``: the PostgreSQL password as
    ``dg.EnvVar`` (Dagster resolves it when a run starts, and the UI shows the variable's name, never the password);
    False outside Dagster (the CLI), where nothing would resolve it."""
    password: str = ""
    if settings.pg_password is not None:
        password = dg.EnvVar("CYCLE_PG_PASSWORD") if password_by_reference else settings.pg_password.get_secret_value()
    return WarehouseResource(
        path=str(settings.warehouse),
        threads=settings.duckdb_threads,
        memory_limit=settings.duckdb_memory_limit,
        dbt_threads=settings.dbt_duckdb_threads,
        engine=settings.warehouse_engine,
        postgres_host=settings.pg_host,
        postgres_port=settings.pg_port,
        postgres_user=settings.pg_user,
        postgres_password=password,
        postgres_dbname=settings.pg_dbname,
        postgres_sslmode=settings.pg_sslmode,
    )


def default_resources() -> dict[str, Any]:
    """Resources of the embedded default, configured from the ``CYCLE_*`` settings."""
    from analytics_assets.defs.ingest.connector_resources import connector_resources_from_env

    settings = load_settings()
    dbt_dir = PROJECT_ROOT / "dbt"
    return {
        "warehouse": warehouse_resource(settings),
        "simulator": SimulatorResource(
            source_mode=settings.source_mode,
            seed=settings.sim_seed,
            posts_per_day=settings.sim_posts_per_day,
            campaigns_per_platform=settings.sim_campaigns_per_platform,
            journeys_per_day=settings.sim_journeys_per_day,
            ai_generations_per_day=settings.sim_ai_generations_per_day,
            shift_start=settings.sim_shift_start.isoformat() if settings.sim_shift_start else None,
            malformed_rate=settings.sim_malformed_rate,
            journey_model=settings.sim_journey_model,
            anomaly_days=[d.isoformat() for d in settings.sim_anomaly_days],
            anomaly_rate=settings.sim_anomaly_rate,
            series_patterns_start=settings.sim_series_patterns_start.isoformat() if settings.sim_series_patterns_start else None,
            budget_response_start=settings.sim_budget_response_start.isoformat() if settings.sim_budget_response_start else None,
            raw_chunk_rows=settings.sim_raw_chunk_rows,
            # the simulated account's actions log (`cycle loop`): a rerun of a loop's day publishes what it followed
            actions_dir=str(settings.cycle_home / "simulator" / "actions"),
        ),
        "dbt": DbtCliResource(project_dir=str(dbt_dir), profiles_dir=str(dbt_dir), dbt_executable=dbt_executable()),
        "mlflow_store": MlflowResource(
            tracking_uri=settings.mlflow_uri, artifact_root=str(settings.mlflow_dir / "artifacts")
        ),
        "serving": ServingResource(serving_dir=str(settings.serving)),
        "webhook_store": WebhookStoreResource(path=str(settings.inbound_store)),
        # one per platform (linkedin, x, reddit, tiktok, google_ads, meta_ads, linkedin_ads): unconfigured
        # ones leave the platform to the simulator
        **connector_resources_from_env(),
    }
