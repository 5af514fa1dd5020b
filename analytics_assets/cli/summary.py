"""What a run produced, in one screen: spend and ROAS, the recommendations, insights, attribution and quality.

Figures come from the published serving snapshot (the files the API serves, so the summary and the API
agree) and, for the quarantine share, from the warehouse's raw schema, opened read-only through the warehouse
resource the settings configure (DuckDB's file, or PostgreSQL with ``CYCLE_WAREHOUSE_ENGINE=postgres``). Every DuckDB
connection is closed before returning: a handle alive at interpreter exit makes DuckDB's bindings print a
reference-leak report.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import psycopg2

from analytics_assets.contracts.sql_text import sql_string
from analytics_assets.settings import load_settings

if TYPE_CHECKING:
    from analytics_assets.defs.resources import WarehouseResource

TOP_RECOMMENDATIONS = 3
TOP_INSIGHTS = 3
SEVERITY_ORDER = "case severity when 'high' then 0 when 'medium' then 1 else 2 end"


@contextlib.contextmanager
def _connection(database: str = ":memory:", **kwargs) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(database, config={"threads": 1}, **kwargs)
    try:
        yield con
    finally:
        con.close()


def _parquet(serving: Path, name: str) -> str | None:
    path = serving / f"{name}.parquet"
    return sql_string(path) if path.exists() else None


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.0f}"


def spend_lines(con: duckdb.DuckDBPyConnection, serving: Path) -> list[str]:
    campaigns, overview = _parquet(serving, "campaign_daily"), _parquet(serving, "overview_daily")
    lines: list[str] = []
    if campaigns:
        first, last, spend, value, conversions = con.execute(
            f"select min(metric_date)::date, max(metric_date)::date, sum(spend_usd), sum(conversion_value_usd), sum(conversions) "
            f"from {campaigns}"
        ).fetchone()
        if first is None:
            return ["Paid: no campaign rows in the serving snapshot"]
        roas = f"{value / spend:.2f}" if spend else "n/a (no spend)"
        lines.append(
            f"Paid {first} .. {last}: spend {_money(spend)}, conversion value {_money(value)}, ROAS {roas}, "
            f"{conversions or 0:,.0f} conversions"
        )
        for platform, p_spend, p_value in con.execute(
            f"select platform, sum(spend_usd), sum(conversion_value_usd) from {campaigns} "
            "group by platform order by sum(spend_usd) desc"
        ).fetchall():
            p_roas = f"{p_value / p_spend:.2f}" if p_spend else "n/a"
            lines.append(f"  {platform:<13} spend {_money(p_spend):>9}  ROAS {p_roas}")
    if overview:
        posts, impressions, engagements = con.execute(
            f"select sum(posts_published), sum(organic_impressions), sum(organic_engagements) from {overview}"
        ).fetchone()
        lines.append(
            f"Organic: {posts or 0:,.0f} posts, {impressions or 0:,.0f} impressions, {engagements or 0:,.0f} engagements"
        )
    return lines


def recommendation_lines(con: duckdb.DuckDBPyConnection, serving: Path) -> list[str]:
    recs = _parquet(serving, "recommendations")
    if not recs:
        return []
    counts = con.execute(
        f"select kind, count(*) from {recs} where status = 'open' group by kind order by count(*) desc"
    ).fetchall()
    lines = ["Open recommendations: " + (", ".join(f"{n} {kind}" for kind, n in counts) or "none")]
    # the largest expected gains over their baseline, one per platform first so one platform cannot fill the list
    for platform, action, expected, baseline, metric in con.execute(
        f"""select platform, action, expected_value, baseline_value, expected_metric from {recs}
        where status = 'open' and baseline_value > 0 and kind <> 'exploration'
        qualify row_number() over (partition by platform order by expected_value / baseline_value desc) = 1
        order by expected_value / baseline_value desc limit {TOP_RECOMMENDATIONS}"""
    ).fetchall():
        lines.append(f"  {platform:<9} {action} ({expected / baseline - 1:+.0%} {metric} vs baseline)")
    return lines


def insight_lines(con: duckdb.DuckDBPyConnection, serving: Path) -> list[str]:
    insights = _parquet(serving, "insights")
    if not insights:
        return []
    rows = con.execute(
        f"""select any_value(severity), title from {insights} where acknowledged_at is null
        group by title order by min({SEVERITY_ORDER}), min(rank), max(abs(coalesce(effect, 0))) desc
        limit {TOP_INSIGHTS}"""
    ).fetchall()
    return ["Top insights:"] + [f"  [{severity}] {title}" for severity, title in rows] if rows else []


def recommended_attribution_model(shares: dict[str, dict[str, float]]) -> tuple[str | None, str]:
    """The model to read, by the README's rule ("Which attribution model"): Shapley's incremental game fits
    journeys where exposure shapes intent; a negative credit is its fit warning, the sign that every visit
    comes from a touch, where Markov's removal effect is the right counterfactual."""
    shapley, markov = shares.get("shapley"), shares.get("markov")
    if shapley and min(shapley.values()) >= 0:
        return "shapley", "no negative credit: exposure shapes intent"
    if markov:
        return "markov", "shapley gives a channel negative credit: visits come from touches" if shapley else "no shapley"
    return None, "no data-driven model in the snapshot"


def attribution_lines(con: duckdb.DuckDBPyConnection, serving: Path) -> list[str]:
    models = _parquet(serving, "attribution_models")
    if not models:
        return []
    shares: dict[str, dict[str, float]] = {}
    for model, channel, share in con.execute(
        f"select model, channel, sum(conversions) / sum(sum(conversions)) over (partition by model) "
        f"from {models} where model in ('shapley', 'markov') group by model, channel"
    ).fetchall():
        shares.setdefault(model, {})[channel] = float(share or 0.0)
    model, why = recommended_attribution_model(shares)
    if model is None:
        return [f"Attribution: {why}"]
    top = sorted(shares[model].items(), key=lambda kv: -kv[1])[:5]
    return [
        f"Attribution ({model}, {why}):",
        "  " + ", ".join(f"{channel} {share:.0%}" for channel, share in top),
    ]


def posting_hour_lines(con: duckdb.DuckDBPyConnection, serving: Path) -> list[str]:
    hours = _parquet(serving, "optimal_hours")
    if not hours:
        return []
    columns = {row[0] for row in con.execute(f"describe select * from {hours}").fetchall()}
    if not {"platform", "publish_hour", "rank"} <= columns:
        return []
    rows = con.execute(
        f"select platform, list(distinct publish_hour order by publish_hour) from {hours} "
        "where rank = 1 group by platform order by platform"
    ).fetchall()
    return ["Best posting hour (UTC, champion model): " + ", ".join(
        f"{platform} " + "/".join(f"{h:02d}:00" for h in hours_) for platform, hours_ in rows
    )] if rows else []


def _warehouse() -> WarehouseResource:
    """The warehouse the settings name, DuckDB's file or PostgreSQL (``CYCLE_WAREHOUSE_ENGINE``)."""
    from analytics_assets.defs.resources import warehouse_resource

    return warehouse_resource(load_settings(), password_by_reference=False)


def _exists(resource: WarehouseResource) -> bool:
    """Whether there is a warehouse to read: DuckDB's file once a run wrote it; a PostgreSQL database is taken to
    be there (reading it says when it cannot be reached)."""
    return resource.on_postgres or Path(resource.path).exists()


def _where(resource: WarehouseResource) -> str:
    if resource.on_postgres:
        r = resource
        return f"PostgreSQL {r.postgres_user}@{r.postgres_host}:{r.postgres_port}/{r.postgres_dbname}"
    return resource.path


def _from_warehouse(resource: WarehouseResource, read: Callable[[Any], list[str]]) -> list[str]:
    """``read``'s lines from a read-only connection to the warehouse; where the warehouse cannot be opened now (a
    PostgreSQL server that cannot be reached, a DuckDB file another process holds), one line that says so: the
    serving snapshot's summary still prints."""
    try:
        with resource.connect(read_only=True) as con:
            return read(con)
    except (psycopg2.OperationalError, duckdb.IOException) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return [f"Warehouse {_where(resource)} cannot be read now: {reason}"]


def _raw_tables(con) -> list[str]:
    return [
        name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' order by table_name"
        ).fetchall()
    ]


def quarantine_lines(resource: WarehouseResource) -> list[str]:
    """The share of raw records the raw checks quarantined, and the tables with the most, on either engine."""
    if not _exists(resource):
        return []
    return _from_warehouse(resource, _quarantine)


def _quarantine(con) -> list[str]:
    tables = _raw_tables(con)
    if "raw_quarantine" not in tables:
        return []
    quarantined = dict(
        con.execute("select source_table, count(*) from raw.raw_quarantine group by source_table").fetchall()
    )
    loaded = {t: con.execute(f'select count(*) from raw."{t}"').fetchone()[0] for t in tables if t != "raw_quarantine"}
    bad, total = sum(quarantined.values()), sum(quarantined.values()) + sum(loaded.values())
    if not total:
        return ["Quarantine: no raw rows yet"]
    worst = sorted(quarantined.items(), key=lambda kv: -kv[1])[:3]
    detail = ", ".join(f"{t} {n:,}" for t, n in worst)
    return [f"Quarantine: {bad:,} of {total:,} raw records ({bad / total:.2%})" + (f": {detail}" if detail else "")]


def summary_lines() -> list[str]:
    """The summary of what the serving snapshot and the warehouse hold now (``cycle summary``, ``cycle demo``)."""
    settings = load_settings()
    serving = settings.serving
    resource = _warehouse()
    if not (serving / "manifest.json").exists() and not _exists(resource):
        return [f"Nothing published yet under {settings.cycle_home}: run `make demo` or `cycle backfill`."]
    lines = ["", "== Summary " + "=" * 60]
    with _connection() as con:
        for section in (spend_lines, recommendation_lines, insight_lines, attribution_lines, posting_hour_lines):
            lines += section(con, serving)
    lines += quarantine_lines(resource)
    lines += [
        f"Warehouse {_where(resource)}; serving snapshot {serving}",
        "UI:  make dev  -> http://127.0.0.1:3000  (asset graph, partitions, schedules, sensors)",
        "API: make api  -> http://127.0.0.1:8000/v1/docs  (every /v1 route needs a key: `cycle keys create`)",
    ]
    return lines


def table_rows() -> list[str]:
    """Rows per warehouse table (``cycle summary --tables``), on either engine."""
    resource = _warehouse()
    if not _exists(resource):
        return [f"No warehouse at {_where(resource)} yet: run `make demo` or `cycle backfill`."]
    return [f"Warehouse: {_where(resource)}", "Rows per table:", *_from_warehouse(resource, table_row_lines)]


def table_row_lines(con) -> list[str]:
    lines = []
    for schema, name in con.execute(
        "select table_schema, table_name from information_schema.tables "
        # PostgreSQL lists its catalogs and each session's temporary schema too
        "where table_schema not in ('information_schema', 'pg_catalog') and table_schema not like 'pg_temp%' "
        "and table_schema not like 'pg_toast%' order by table_schema, table_name"
    ).fetchall():
        n = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
        lines.append(f"  {schema}.{name:<40} {n:>10,}")
    return lines
