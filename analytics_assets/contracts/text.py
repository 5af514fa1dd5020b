"""Text that every store can hold: the one check the API's request bodies and the tracked events share."""

from __future__ import annotations


def valid_unicode(value: str | None) -> str | None:
    """``value`` unchanged, or a ``ValueError`` (a pydantic validation message) when it is not valid Unicode.

    JSON escapes can spell lone UTF-16 surrogates ("\\ud800") that ``json.loads`` keeps as they are and that no
    UTF-8 store (SQLite, DuckDB, Parquet) can hold."""
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("is not valid Unicode (a lone surrogate such as \\ud800)") from None
    return value
