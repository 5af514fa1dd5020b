"""SQL text built from values that cannot be bound as parameters.

DuckDB takes no parameter for a file path in ``read_parquet``/``copy ... to`` or in a catalog listing built into
a statement, so those values are written into the SQL as string literals, quoted here, once. It sits with the
contracts, the one layer every writer of SQL text may import (storage, the assets, the CLI).
"""

from pathlib import Path


def sql_string(value: str | Path) -> str:
    """``value`` as a SQL string literal: single quotes doubled, so a path or a name holding one stays one value."""
    return "'" + str(value).replace("'", "''") + "'"
