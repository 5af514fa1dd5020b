"""Typed Dagster resources. Secrets (none for the embedded default) come from ``dg.EnvVar``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field

from analytics_assets import warehouse
from analytics_assets.simulator import PlatformSimulator, SimulatorConfig


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file. Each connection is short-lived and resource-bounded."""

    path: str
    threads: int = Field(default=1, description="DuckDB threads per connection (2 cores are shared)")
    memory_limit: str = "2GB"

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(self.path, self.threads, self.memory_limit, read_only=read_only) as con:
            yield con


class SimulatorResource(dg.ConfigurableResource):
    """The built-in platform simulator, the default source when no platform credentials are set."""

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
        )

    def simulator(self) -> PlatformSimulator:
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
