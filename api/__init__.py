"""Cycle read-only HTTP API.

The API serves the Parquet snapshot that the ``serving_snapshot`` Dagster asset publishes into the
serving directory (``$CYCLE_SERVING_DIR``). It never opens the DuckDB warehouse and never imports
dagster: the warehouse allows a single writer, and the API must not get in the pipeline's way. Signed
platform webhooks (``api.webhooks``) are appended to the API's own SQLite store instead, which the
pipeline loads from (one way, never back).

Run it with ``uvicorn api.main:app``.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
