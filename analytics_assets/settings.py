"""Cycle's settings: the one reader of the process environment, shared by Dagster, the API and the CLI.

Every ``CYCLE_*`` variable is declared here, typed, with its default; nothing else in the code base reads
``os.environ``. A value that does not parse raises ``SettingsError`` naming the variable and the value.

Everything generated lives under ``CYCLE_HOME`` (default ``data/`` in the project root, whatever the working
directory): the DuckDB warehouse, the MLflow store, the serving copy the API reads, the API's inbound store,
the raw archive and the Dagster instance. Nothing there is tracked by git.

Secrets (platform tokens, webhook secrets) are read here too, so the API can verify signatures, but Dagster
resources receive them as ``dg.EnvVar`` references (the UI shows the variable's name, never its value).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "CYCLE_"
WAREHOUSE_ENGINES = ("duckdb", "postgres")  # CYCLE_WAREHOUSE_ENGINE
POSTGRES_URL_SCHEME = "postgresql+psycopg2://"  # SQLAlchemy URL of Dagster's storage on PostgreSQL


class SettingsError(ValueError):
    """An environment variable holds a value Cycle cannot use."""


_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("cycle_settings_environ", default=None)


class _Environment(EnvSettingsSource):
    """The process environment, or the mapping handed to ``load_settings`` (tests, explicit configs)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        if environ is None:
            return super()._load_env_vars()
        return {
            (k if self.case_sensitive else k.lower()): v
            for k, v in environ.items()
            if not (self.env_ignore_empty and v == "")
        }


class CycleSettings(BaseSettings):
    """Every ``CYCLE_*`` setting (the variable is the field name in upper case, with the prefix)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, case_sensitive=False, env_ignore_empty=True, extra="ignore")

    # ---- where state lives
    home: Path = Field(default=PROJECT_ROOT / "data", description="Root of everything Cycle generates")
    warehouse_path: Path | None = Field(default=None, description="DuckDB warehouse file; default $CYCLE_HOME/warehouse.duckdb")
    serving_dir: Path | None = Field(default=None, description="Published serving files; default $CYCLE_HOME/serving")
    archive_dir: Path | None = Field(default=None, description="Raw archive; default `archive/` beside the warehouse")
    api_store: Path | None = Field(default=None, description="The API's inbound store; default $CYCLE_HOME/api/store.sqlite3")
    access_store: Path | None = Field(
        default=None, description="Workspaces, accounts and API keys; default $CYCLE_HOME/api/access.sqlite3"
    )
    mlflow_tracking_uri: str | None = Field(default=None, description="MLflow backend; default SQLite under $CYCLE_HOME/mlflow")
    events_landing_dir: Path | None = Field(
        default=None, description="Tracked-event files (CSV, JSON lines, Parquet) to import; default $CYCLE_HOME/landing/events"
    )

    # ---- which engine holds the warehouse (the raw layer Cycle writes and the project dbt builds)
    warehouse_engine: Literal[WAREHOUSE_ENGINES] = Field(
        default="duckdb",
        description="duckdb: the embedded file (CYCLE_WAREHOUSE_PATH); postgres: the database of CYCLE_PG_*, where the raw "
        "layer is written and dbt builds (its postgres target)",
    )
    # the database of the postgres engine and of dbt's postgres target (dbt/profiles.yml reads the same variables)
    pg_host: str = Field(default="localhost", description="PostgreSQL warehouse: host")
    pg_port: int = Field(default=5432, ge=1, le=65535, description="PostgreSQL warehouse: port")
    pg_user: str = Field(default="cycle", description="PostgreSQL warehouse: user")
    pg_password: SecretStr | None = Field(default=None, description="PostgreSQL warehouse: password")
    pg_dbname: str = Field(
        default="cycle",
        validation_alias=AliasChoices("CYCLE_PG_DBNAME", "CYCLE_PG_DATABASE"),
        description="PostgreSQL warehouse: database (CYCLE_PG_DBNAME, or CYCLE_PG_DATABASE as the dbt profile reads it)",
    )
    pg_schema: str = Field(
        default="analytics",
        description="The schema dbt builds the models in when dbt alone runs on PostgreSQL (the postgres warehouse "
        "engine keeps them in main, the schema every reader names them by)",
    )
    pg_sslmode: str = Field(default="prefer", description="PostgreSQL warehouse: libpq sslmode")

    # ---- resources of each process (two cores are shared by Dagster, dbt, DuckDB and torch)
    duckdb_threads: int = Field(default=1, ge=1, description="DuckDB threads per warehouse connection and in dbt")
    duckdb_memory_limit: str = Field(default="2GB", description="DuckDB memory limit per warehouse connection")
    dbt_duckdb_threads: int = Field(
        default=1,
        ge=0,
        description="DuckDB threads of the dbt step (it holds the warehouse pool alone); 0: every core. More than one "
        "makes float aggregates differ in their last digits between reruns",
    )
    api_duckdb_memory_limit: str = Field(default="256MB", description="Memory cap of the API's in-memory DuckDB")
    api_rate_limit: str = Field(
        default="1200/minute;100/second",
        description="Requests allowed per API key (the `limits` library's notation, several separated by ';')",
    )
    api_cache_mb: float = Field(
        default=64.0, ge=0, description="Response cache of the API's read routes, MiB per API process (0: off)"
    )
    torch_threads: int = Field(default=1, ge=1, description="torch intra-op threads")

    # ---- partitions
    partition_start: date | None = Field(
        default=None,
        description="First daily partition (the newest is always the last complete day); unset: the first day "
        "`cycle demo` loaded into this home ($CYCLE_HOME/partition_start), else 2025-01-01",
    )

    # ---- the holiday calendar (contracts/holidays.py): known future inputs of metric_forecasts
    holiday_calendar: str = Field(
        default="us_retail",
        description="Built-in holiday rules the forecasts take as known future inputs: us_retail or none",
    )
    holiday_dates: str | None = Field(
        default=None,
        description="Extra holidays, comma-separated YYYY-MM-DD=name:kind (kind: closure or peak), e.g. "
        "2026-03-17=spring_sale:peak",
    )

    # ---- where the raw tables come from (defs/ingest/raw.py)
    source_mode: Literal["simulator", "live"] = Field(
        default="simulator",
        description="simulator: platforms without a connector, boosts, creatives, journeys, AI usage and experiments "
        "are simulated (the embedded demo); live: nothing is simulated, an entity without a configured source "
        "stays empty and its raw check says why",
    )

    # ---- the simulator (the embedded default source)
    sim_seed: int = 7
    sim_posts_per_day: int = Field(default=240, ge=0)
    sim_campaigns_per_platform: int = Field(default=4, ge=0)
    sim_journeys_per_day: int = Field(default=400, ge=0)
    sim_ai_generations_per_day: int = Field(default=150, ge=0)
    sim_shift_start: date | None = Field(default=None, description="ISO day from which planted behaviour shifts")
    sim_malformed_rate: float = Field(default=0.002, ge=0.0, le=1.0)
    sim_journey_model: Literal["exposure", "funnel"] = "exposure"
    # comma-separated in the environment (NoDecode: not JSON), like the other lists Cycle reads
    sim_anomaly_days: Annotated[list[date], NoDecode] = Field(
        default=[], description="Days (comma-separated ISO dates) on which one labeled anomaly of every kind is planted"
    )
    sim_anomaly_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="Daily chance of an anomaly per series")
    sim_series_patterns_start: date | None = Field(
        default=None, description="Day from which trend, weekly seasonality, holidays and level shifts are planted"
    )
    sim_budget_response_start: date | None = Field(
        default=None, description="Day from which conversions follow known response curves to planned budgets"
    )
    sim_raw_chunk_rows: int = Field(
        default=200_000,
        ge=1,
        description="Most snapshot rows the raw load simulates, parses and writes at once: its memory follows this, "
        "not the day's volume",
    )

    # ---- how platform reports are read
    meta_conversion_action_types: str = Field(
        default="omni_purchase,purchase,offsite_conversion.fb_pixel_purchase",
        description="Meta action types that count as conversions, in priority order, comma-separated: a row's "
        "conversions and value are those of the first type it reports (Meta repeats a purchase under several)",
    )

    # ---- secrets
    token_encryption_key: SecretStr | None = Field(default=None, description="base64 AES-256 key for platform tokens at rest")
    meta_app_secret: SecretStr | None = Field(default=None, description="Signs Meta webhook deliveries")
    meta_verify_token: SecretStr | None = Field(default=None, description="Meta webhook subscription handshake")
    linkedin_client_secret: SecretStr | None = Field(default=None, description="Signs LinkedIn webhook deliveries")

    # ---- alerts (analytics_assets/defs/alerts.py)
    alert_webhook_url: SecretStr | None = Field(
        default=None, description="Slack-compatible incoming webhook for alerts; unset: alerts are only recorded"
    )
    alert_timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="Timeout of one alert delivery attempt")
    alert_store: Path | None = Field(default=None, description="The alerts' SQLite store; default $CYCLE_HOME/ops/alerts.sqlite3")

    # ---- Dagster's instance (analytics_assets/cli/instance.py writes $DAGSTER_HOME/dagster.yaml)
    dagster_pg_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL for Dagster's runs, event logs, schedules and pool claims (postgresql+psycopg2"
        "://user:password@host:port/db); unset: SQLite files in $DAGSTER_HOME. Read from the environment by Dagster "
        "itself, never written to dagster.yaml",
    )

    # ---- outside Cycle's prefix: Dagster's own
    dagster_home_dir: Path | None = Field(
        default=None, validation_alias="DAGSTER_HOME", description="Dagster instance; default $CYCLE_HOME/dagster_home"
    )

    @field_validator("dagster_pg_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        # checked here, so a wrong URL is one line at startup rather than SQLAlchemy's traceback inside the
        # instance. The driver is named: SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, which is not
        # installed (dagster-postgres brings psycopg2)
        if value is not None and not value.get_secret_value().startswith(POSTGRES_URL_SCHEME):
            raise ValueError(f"must be a PostgreSQL URL with its driver: {POSTGRES_URL_SCHEME}user:password@host:port/database")
        return value

    @field_validator("sim_anomaly_days", mode="before")
    @classmethod
    def _comma_separated_days(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_rate_limit")
    @classmethod
    def _rate_limits(cls, value: str) -> str:
        import limits  # the API's limiter: the notation is checked once, here, not on the first request

        try:
            limits.parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit such as '1200/minute;100/second' ({exc})") from None
        return value

    @field_validator("meta_conversion_action_types")
    @classmethod
    def _meta_conversion_action_types(cls, value: str) -> str:
        # the list's shape is checked here; Meta's vocabulary belongs to the parser, which checks each type
        # when the raw load starts (sources.parsing.parsers.meta_conversion_action_types)
        types = [t.strip() for t in value.split(",") if t.strip()]
        if not types:
            raise ValueError("no action type: give at least one, in priority order")
        repeated = sorted({t for t in types if types.count(t) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        malformed = [t for t in types if not re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*", t)]
        if malformed:
            raise ValueError(f"not an action type: {', '.join(malformed)}")
        return ",".join(types)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, **_: PydanticBaseSettingsSource
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _Environment(settings_cls)

    # ---- derived locations (absolute, whatever the working directory)
    @property
    def cycle_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def warehouse(self) -> Path:
        return (self.warehouse_path or self.cycle_home / "warehouse.duckdb").expanduser().resolve()

    @property
    def serving(self) -> Path:
        return (self.serving_dir or self.cycle_home / "serving").expanduser().resolve()

    @property
    def archive(self) -> Path:
        """``CYCLE_ARCHIVE_DIR``, else ``archive/`` beside the warehouse file (what dbt derives too)."""
        return (self.archive_dir or self.warehouse.parent / "archive").expanduser().resolve()

    @property
    def inbound_store(self) -> Path:
        return (self.api_store or self.cycle_home / "api" / "store.sqlite3").expanduser().resolve()

    @property
    def events_landing(self) -> Path:
        """Where tracked-event files are dropped for import (``defs.ingest.tracked_events``)."""
        return (self.events_landing_dir or self.cycle_home / "landing" / "events").expanduser().resolve()

    @property
    def access(self) -> Path:
        return (self.access_store or self.cycle_home / "api" / "access.sqlite3").expanduser().resolve()

    @property
    def mlflow_dir(self) -> Path:
        return self.cycle_home / "mlflow"

    @property
    def mlflow_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def partition_start_marker(self) -> Path:
        """Where ``cycle demo`` records the first day it loaded (``defs.partitions.first_partition_day``)."""
        return self.cycle_home / "partition_start"

    @property
    def dagster_home(self) -> Path:
        return (self.dagster_home_dir or self.cycle_home / "dagster_home").expanduser().resolve()

    @staticmethod
    def secret(value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None


def _variable(error: Mapping[str, Any]) -> str:
    field = str(error["loc"][0]) if error.get("loc") else "?"
    if field == "DAGSTER_HOME":
        return field
    return PREFIX + field.upper()


def load_settings(environ: Mapping[str, str] | None = None) -> CycleSettings:
    """The settings from ``environ`` (default: the process environment), read now: a test or a CLI that
    changes a variable sees it on the next call."""
    token = _ENVIRON.set(environ)
    try:
        return CycleSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{_variable(e)}={e.get('input')!r}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise SettingsError(f"Invalid Cycle setting: {problems}") from None
    finally:
        _ENVIRON.reset(token)


# The first daily partition when neither CYCLE_PARTITION_START nor the home's recorded demo start says otherwise.
DEFAULT_PARTITION_START = date(2025, 1, 1)


def recorded_partition_start(settings: CycleSettings) -> date | None:
    """The first day ``cycle demo`` recorded in this home (``settings.partition_start_marker``), if any."""
    marker = settings.partition_start_marker
    if not marker.exists():
        return None
    text = marker.read_text().strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"{marker} holds {text!r}, not an ISO day (YYYY-MM-DD): fix or delete it") from None


def environ_values(names: list[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Raw values of the named variables that are set and not blank: for settings whose names and
    types their owner declares (each platform connector's credentials and options)."""
    env = os.environ if environ is None else environ
    return {name: env[name].strip() for name in names if env.get(name, "").strip()}


def parse_int(name: str, value: str) -> int:
    """``value`` of variable ``name`` as an integer, or a ``SettingsError`` that names both."""
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"Invalid Cycle setting: {name}={value!r}: not an integer") from None


@contextlib.contextmanager
def scoped_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set variables only for the block (a subprocess started inside inherits them), then restore them:
    how dbt receives the warehouse and the partition window without them leaking into later commands."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def library_defaults(values: Mapping[str, str]) -> None:
    """Defaults for third-party libraries configured only through the environment (MLflow, GitPython);
    a value the operator set wins."""
    for name, value in values.items():
        os.environ.setdefault(name, value)


def use_dagster_home(home: Path) -> None:
    """Point this process (and what it spawns) at the Dagster instance in ``home``."""
    os.environ["DAGSTER_HOME"] = str(home)
