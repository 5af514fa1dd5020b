"""Read access to the serving snapshot published by the ``serving_snapshot`` Dagster asset.

The publisher writes each file to a temporary name in the serving directory and ``os.replace``s it
into place, so a file path always points at one complete file. That alone is not enough for a
reader that opens the path more than once per query: DuckDB's ``read_parquet(path)`` reads the
footer when binding the query and opens the path again when executing it, so a replacement in
between mixes two generations (wrong rows, "corrupt statistics" errors, and with DuckDB's external
file cache even a segfault; see tests/api/test_api_concurrency.py). This store therefore opens each
file exactly once per request, reads its bytes through that single handle, and lets an in-memory
DuckDB query the resulting Arrow table with bound parameters. The DuckDB connection has no file
system access at all (``enable_external_access = false``) and one thread; every request runs on a
fresh cursor, which makes concurrent requests safe.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

from analytics_assets.contracts.serving import (  # noqa: F401 (re-exported for the API's modules)
    ASSET_STATUS,
    ATTRIBUTION,
    MANIFEST,
    OPTIMAL_HOURS,
    PLATFORM_DAILY,
    SERVING_FILES,
)

PUBLISH_HINT = (
    "Run `make demo`, or materialize the `serving_snapshot` Dagster asset, to publish the serving "
    "files (the API reads them from $CYCLE_SERVING_DIR, default data/serving)."
)


class ServingFileMissing(Exception):
    """A serving file has not been published (yet)."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"Serving file '{name}' has not been published yet. {PUBLISH_HINT}")


class ServingFileInvalid(Exception):
    """A serving file exists but cannot be read or does not follow the contract."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(
            f"Serving file '{name}' is unreadable or does not match the serving contract ({reason}). "
            "Re-materialize the `serving_snapshot` asset to republish it."
        )


@dataclass(frozen=True)
class Manifest:
    published_at: datetime | None
    files: dict[str, int | None]


def _utc(value: datetime | None) -> datetime | None:
    """Naive timestamps in the serving files mean UTC; make that explicit."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _clean(value: Any) -> Any:
    """NaN/inf are not valid JSON; report them as missing values."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return _utc(value)
    return value


def _naive_utc_timestamps(table: pa.Table) -> pa.Table:
    """The contract's timestamps are naive UTC; a time-zone-aware column is made naive the same way
    (Arrow stores UTC instants, so dropping the zone keeps UTC wall time)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = table.column(i).cast(pa.timestamp(field.type.unit))
            table = table.set_column(i, pa.field(field.name, naive.type), naive)
    return table


# Each query selects (and casts) exactly the contract's columns, so extra columns are ignored and a
# missing column is reported as a contract violation rather than a server error.
_ASSET_STATUS_SQL = """
SELECT
    CAST(asset_key AS VARCHAR)               AS asset_key,
    CAST(last_materialized_at AS TIMESTAMP)  AS last_materialized_at,
    CAST(last_partition AS VARCHAR)          AS last_partition,
    CAST(run_id AS VARCHAR)                  AS run_id
FROM src
WHERE asset_key IS NOT NULL
QUALIFY row_number() OVER (
    PARTITION BY asset_key ORDER BY last_materialized_at DESC NULLS LAST
) = 1
ORDER BY asset_key
"""

_OPTIMAL_HOURS_SQL = """
SELECT platform, rank, publish_hour, expected_engagement_score, lift_vs_platform_mean,
       model_name, model_version, generated_at
FROM (
    SELECT
        CAST(platform AS VARCHAR)                   AS platform,
        CAST(rank AS INTEGER)                       AS rank,
        CAST(publish_hour AS INTEGER)               AS publish_hour,
        CAST(expected_engagement_score AS DOUBLE)   AS expected_engagement_score,
        CAST(lift_vs_platform_mean AS DOUBLE)       AS lift_vs_platform_mean,
        CAST(model_name AS VARCHAR)                 AS model_name,
        CAST(model_version AS VARCHAR)              AS model_version,
        CAST(generated_at AS TIMESTAMP)             AS generated_at,
        row_number() OVER (PARTITION BY platform ORDER BY rank, publish_hour) AS position
    FROM src
    WHERE platform IS NOT NULL AND rank IS NOT NULL AND publish_hour IS NOT NULL
      AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
)
WHERE position <= $top
ORDER BY platform, position
"""

_PLATFORM_DAILY_SQL = """
SELECT * FROM (
    SELECT
        CAST(metric_date AS DATE)             AS metric_date,
        CAST(platform AS VARCHAR)             AS platform,
        CAST(channel_type AS VARCHAR)         AS channel_type,
        CAST(posts AS BIGINT)                 AS posts,
        CAST(impressions AS BIGINT)           AS impressions,
        CAST(engagements AS BIGINT)           AS engagements,
        CAST(clicks AS BIGINT)                AS clicks,
        CAST(avg_engagement_score AS DOUBLE)  AS avg_engagement_score,
        CAST(spend_usd AS DOUBLE)             AS spend_usd,
        CAST(conversions AS DOUBLE)           AS conversions,
        CAST(revenue_usd AS DOUBLE)           AS revenue_usd,
        CAST(ctr AS DOUBLE)                   AS ctr,
        CAST(roas AS DOUBLE)                  AS roas
    FROM src
)
WHERE metric_date IS NOT NULL AND platform IS NOT NULL
  AND (CAST($platform AS VARCHAR) IS NULL OR platform = CAST($platform AS VARCHAR))
  AND (CAST($start AS DATE) IS NULL OR metric_date >= CAST($start AS DATE))
  AND (CAST($end AS DATE) IS NULL OR metric_date <= CAST($end AS DATE))
ORDER BY metric_date, platform
"""

_ATTRIBUTION_SQL = """
SELECT
    CAST(channel AS VARCHAR)           AS channel,
    CAST(conversions AS DOUBLE)        AS conversions,
    CAST(conversion_value AS DOUBLE)   AS conversion_value,
    CAST(share AS DOUBLE)              AS share
FROM src
WHERE channel IS NOT NULL AND CAST(model AS VARCHAR) = CAST($model AS VARCHAR)
ORDER BY conversions DESC NULLS LAST, channel
"""


class ServingStore:
    """Reads the serving snapshot. Thread-safe; one instance per app."""

    def __init__(self, serving_dir: Path, *, memory_limit: str = "256MB"):
        self.serving_dir = Path(serving_dir)
        self._con = duckdb.connect(
            ":memory:",
            config={
                "threads": 1,
                "memory_limit": memory_limit,
                # Files are read by this module, never by DuckDB (see module docstring).
                "enable_external_access": False,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            },
        )
        try:  # TIMESTAMPTZ columns (if a publisher ever writes them) are converted in UTC
            self._con.execute("SET TimeZone = 'UTC'")
        except duckdb.Error:  # builds without ICU have no time zones and already use UTC
            pass
        self._cursor_lock = threading.Lock()

    def close(self) -> None:
        self._con.close()

    def path(self, name: str) -> Path:
        return self.serving_dir / name

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    # -- low level -----------------------------------------------------------------------------

    def _read_bytes(self, name: str) -> bytes:
        # One open() per request: whatever os.replace does meanwhile, these bytes are one file.
        try:
            with open(self.path(name), "rb") as fh:
                return fh.read()
        except (FileNotFoundError, NotADirectoryError):
            raise ServingFileMissing(name) from None
        except OSError as exc:
            log.warning("cannot read serving file %s: %s", self.path(name), exc)
            raise ServingFileInvalid(name, f"cannot be read: {exc.strerror or exc}") from None

    def _read_table(self, name: str) -> pa.Table:
        data = self._read_bytes(name)
        try:
            table = pq.ParquetFile(pa.BufferReader(data)).read(use_pandas_metadata=False)
        except (pa.ArrowException, OSError, ValueError) as exc:
            log.warning("invalid parquet file %s: %s", self.path(name), exc)
            raise ServingFileInvalid(name, "not a valid Parquet file") from None
        return _naive_utc_timestamps(table)

    def _query(self, name: str, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        table = self._read_table(name)
        with self._cursor_lock:  # creating a cursor on a shared connection is not thread-safe
            cur = self._con.cursor()
        try:
            cur.register("src", table)
            result = cur.execute(sql, params)
            columns = [d[0] for d in result.description]
            rows = result.fetchall()
        except duckdb.Error as exc:
            log.warning("query on serving file %s failed: %s", self.path(name), exc)
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ServingFileInvalid(name, reason) from None
        finally:
            cur.close()
        return [{c: _clean(v) for c, v in zip(columns, row)} for row in rows]

    # -- serving files ---------------------------------------------------------------------------

    def manifest(self) -> Manifest:
        raw = self._read_bytes(MANIFEST)
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("top level is not an object")
            published_raw = doc.get("published_at")
            published_at = None
            if published_raw is not None:
                published_at = _utc(datetime.fromisoformat(str(published_raw)))
            files: dict[str, int | None] = {}
            for fname, meta in (doc.get("files") or {}).items():
                rows = meta.get("rows") if isinstance(meta, dict) else None
                files[str(fname)] = rows if isinstance(rows, int) and not isinstance(rows, bool) else None
        except (ValueError, TypeError, AttributeError) as exc:
            raise ServingFileInvalid(MANIFEST, f"invalid manifest: {exc}") from None
        return Manifest(published_at=published_at, files=files)

    def asset_status(self) -> list[dict[str, Any]]:
        return self._query(ASSET_STATUS, _ASSET_STATUS_SQL, {})

    def optimal_hours(self, platform: str | None, top: int) -> list[dict[str, Any]]:
        return self._query(OPTIMAL_HOURS, _OPTIMAL_HOURS_SQL, {"platform": platform, "top": top})

    def platform_daily(
        self, platform: str | None, start: date | None, end: date | None
    ) -> list[dict[str, Any]]:
        return self._query(
            PLATFORM_DAILY, _PLATFORM_DAILY_SQL, {"platform": platform, "start": start, "end": end}
        )

    def attribution(self, model: str) -> list[dict[str, Any]]:
        return self._query(ATTRIBUTION, _ATTRIBUTION_SQL, {"model": model})

    def query(self, name: str, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run ``sql`` over the serving file ``name`` (registered as ``src``) with bound parameters:
        for endpoints that keep their own serving contract in their own module (api/overview.py)."""
        return self._query(name, sql, params or {})
