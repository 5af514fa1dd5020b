"""Content fingerprints of every warehouse table, to prove reruns change nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

# columns that record when something ran, not what the data is (a recommendation's created_at is when a run first
# made it: two warehouses built apart differ there; a rerun keeping it is test_closed_loop_e2e's to check)
VOLATILE_COLUMNS = {"loaded_at", "quarantined_at", "generated_at", "created_at", "last_generated_at", "status_as_of"}


def table_fingerprints(warehouse: Path) -> dict[str, tuple[int, int]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        out = {}
        for schema, name in tables:
            df = con.execute(f'select * from "{schema}"."{name}"').df()
            df = df.drop(columns=[c for c in df.columns if c in VOLATILE_COLUMNS])
            for col in df.select_dtypes(include="float").columns:
                df[col] = df[col].round(9)
            df = df.astype(str).sort_values(list(df.columns)).reset_index(drop=True)
            out[f"{schema}.{name}"] = (len(df), int(pd.util.hash_pandas_object(df, index=False).sum()))
        return out
    finally:
        con.close()
