"""Content fingerprints of everything Cycle produces, to prove a refactoring changed no result.

    python -m benchmarks.fingerprint run --out before.json     # a seeded run through the whole graph
    python -m benchmarks.fingerprint run --out again.json      # the same commit again: finds volatile fields
    python -m benchmarks.fingerprint compare before.json after.json --volatile again.json

``run`` materializes ``full_pipeline_job`` with ``cycle backfill`` in a fresh home (fixed seed and days,
so the run does not depend on today's date), then hashes:
- every warehouse table, column by column (values sorted, floats to 10 significant digits);
- every served file (Parquet the same way; JSON by key path);
- the API's answers to a fixed list of requests, by JSON key path.

``compare`` names each table, file, answer or column whose hash differs. What differs between two runs of
the same commit (load times, run ids, MLflow versions) is volatile and left out when ``--volatile`` names
the second run. A table is matched by name across schemas, so moving a table to another schema compares it
with its old self.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

START, END = "2026-10-12", "2026-10-14"
SIMULATOR = {
    "CYCLE_SIM_SEED": "11",
    "CYCLE_SIM_POSTS_PER_DAY": "480",
    "CYCLE_SIM_JOURNEYS_PER_DAY": "300",
    "CYCLE_SIM_MALFORMED_RATE": "0.01",
}
ATTRIBUTION_MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley")
REQUESTS = (
    "/v1/health",
    "/v1/accounts",
    "/v1/optimal-hours",
    "/v1/optimal-hours?platform=linkedin&top=5",
    "/v1/rollups/daily?limit=1000",
    f"/v1/rollups/daily?platform=meta_ads&start={END}&end={END}",
    "/v1/platforms/comparison",
    *(f"/v1/attribution?model={m}" for m in ATTRIBUTION_MODELS),
    "/v1/attribution/models",
    "/v1/overview",
    f"/v1/overview?start={START}&end={END}",
    "/v1/campaigns?limit=1000",
    "/v1/posts/top?limit=20",
    "/v1/engagement/heatmap",
    "/v1/boosts?limit=1000",
)


def _scalar(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return value.isoformat()
    return str(value)


def _digest(values: list[str]) -> str:
    return hashlib.sha256("\x1f".join(sorted(values)).encode()).hexdigest()[:16]


def frame_fingerprint(frame: pd.DataFrame) -> dict[str, Any]:
    columns = {}
    for column in sorted(frame.columns):
        values = frame[column].astype(object).where(frame[column].notna(), None)
        columns[column] = _digest([_scalar(v) for v in values])
    return {"rows": len(frame), "columns": columns}


def _flatten(payload: Any, prefix: str = "") -> dict[str, list[str]]:
    """Key path -> the values found there (list indices folded into ``[]``)."""
    out: dict[str, list[str]] = {}
    if isinstance(payload, dict):
        for key, value in payload.items():
            for path, values in _flatten(value, f"{prefix}.{key}").items():
                out.setdefault(path, []).extend(values)
    elif isinstance(payload, list):
        for item in payload:
            for path, values in _flatten(item, f"{prefix}[]").items():
                out.setdefault(path, []).extend(values)
        out.setdefault(f"{prefix}#len", []).append(str(len(payload)))
    else:
        out[prefix or "."] = [_scalar(payload)]
    return out


def json_fingerprint(payload: Any) -> dict[str, Any]:
    return {"rows": 1, "columns": {path: _digest(values) for path, values in sorted(_flatten(payload).items())}}


def warehouse_fingerprints(path: Path) -> dict[str, Any]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() order by 1, 2"
        ).fetchall()
        return {f"{s}.{t}": frame_fingerprint(con.execute(f'select * from "{s}"."{t}"').df()) for s, t in tables}
    finally:
        con.close()


def serving_fingerprints(serving: Path) -> dict[str, Any]:
    out = {}
    for file in sorted(serving.iterdir()):
        if file.name.startswith("."):
            continue
        if file.suffix == ".parquet":
            out[file.name] = frame_fingerprint(pd.read_parquet(file))
        elif file.suffix == ".json":
            out[file.name] = json_fingerprint(json.loads(file.read_text()))
    return out


def api_fingerprints(serving: Path, store: Path) -> dict[str, Any]:
    from api.local import local_client

    client = local_client(serving, store.parent / "fingerprint-api", webhook_store=store)
    out = {}
    for url in REQUESTS:
        response = client.get(url)
        out[url] = json_fingerprint({"status": response.status_code, "body": response.json()})
    return out


def run(out: Path, home: Path | None) -> None:
    home = home or Path(tempfile.mkdtemp(prefix="cycle-fingerprint-"))
    env = {
        **os.environ,
        **SIMULATOR,
        "CYCLE_HOME": str(home),
        "CYCLE_WAREHOUSE_PATH": str(home / "warehouse.duckdb"),
        "CYCLE_SERVING_DIR": str(home / "serving"),
        "DAGSTER_HOME": str(home / "dagster_home"),
    }
    cmd = [sys.executable, "-m", "analytics_assets.cli", "backfill", "--start", START, "--end", END]
    subprocess.run(cmd, env=env, check=True)
    result = {
        "home": str(home),
        "warehouse": warehouse_fingerprints(home / "warehouse.duckdb"),
        "serving": serving_fingerprints(home / "serving"),
        "api": api_fingerprints(home / "serving", home / "api" / "store.sqlite3"),
    }
    out.write_text(json.dumps(result, indent=1, sort_keys=True))
    counts = {section: len(result[section]) for section in ("warehouse", "serving", "api")}
    print(f"fingerprinted {counts} -> {out}")


def _by_name(section: dict[str, Any], qualified: bool) -> dict[str, Any]:
    """Warehouse tables keyed by bare name (schema moves compare the same table), others as they are."""
    if not qualified:
        return section
    return {name.split(".", 1)[1]: value for name, value in section.items()}


def compare(before: dict, after: dict, volatile: dict | None) -> list[str]:
    differences: list[str] = []
    for section in ("warehouse", "serving", "api"):
        old, new = _by_name(before[section], section == "warehouse"), _by_name(after[section], section == "warehouse")
        noisy = _by_name(volatile[section], section == "warehouse") if volatile else {}
        for name in sorted(set(old) | set(new)):
            if name not in new or name not in old:
                differences.append(f"{section}: {name} only {'before' if name in old else 'after'}")
                continue
            a, b = old[name], new[name]
            if a["rows"] != b["rows"]:
                differences.append(f"{section}: {name} rows {a['rows']} -> {b['rows']}")
            skip = {c for c, h in noisy.get(name, {}).get("columns", {}).items() if a["columns"].get(c) != h}
            for column in sorted(set(a["columns"]) | set(b["columns"])):
                if column in skip:
                    continue
                if column not in a["columns"] or column not in b["columns"]:
                    differences.append(f"{section}: {name}.{column} only {'before' if column in a['columns'] else 'after'}")
                elif a["columns"][column] != b["columns"][column]:
                    differences.append(f"{section}: {name}.{column} differs")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fingerprint", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="materialize the seeded days and fingerprint everything")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--home", type=Path, help="Cycle home to create (default: a new temporary folder)")
    c = sub.add_parser("compare", help="name what differs between two fingerprint files")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--volatile", type=Path, help="a second run of BEFORE's commit: what differs there is noise")
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.out, args.home)
        return 0
    load = lambda p: json.loads(p.read_text())  # noqa: E731
    differences = compare(load(args.before), load(args.after), load(args.volatile) if args.volatile else None)
    before = load(args.before)
    total = {s: len(before[s]) for s in ("warehouse", "serving", "api")}
    for line in differences:
        print(line)
    print(f"compared {total}: {len(differences)} differences")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
