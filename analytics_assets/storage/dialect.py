"""SQL that DuckDB and PostgreSQL spell differently, for the statements Cycle writes outside dbt (dbt's own are its
cross-database macros). A connection is PostgreSQL's when it says so (``storage/postgres_warehouse.py``);
anything else is DuckDB's."""

from __future__ import annotations

from collections.abc import Sequence

from analytics_assets.contracts.raw import RAW_SCHEMA


def is_postgres(con) -> bool:
    return getattr(con, "dialect", "duckdb") == "postgres"


def row_hash(con, columns: Sequence[str]) -> str:
    """A 64-bit hash of the row's ``columns`` (an order-free fingerprint sums them): DuckDB's ``hash``, or
    PostgreSQL's ``hashtextextended`` of the row's text. The engines' values differ; a fingerprint is only ever
    compared with one computed by the same engine."""
    if is_postgres(con):
        return f"hashtextextended(row({', '.join(columns)})::text, 0)"
    return f"hash({', '.join(columns)})"


def sha256_hex(con, text_sql: str) -> str:
    """The lowercase hex SHA-256 of a text expression (``contracts.privacy.user_hash`` in SQL)."""
    if is_postgres(con):
        return f"encode(sha256(convert_to({text_sql}, 'UTF8')), 'hex')"
    return f"sha256({text_sql})"


def json_text(con, document_sql: str, key: str) -> str:
    """The top-level ``key`` of a JSON text as text; null where the text is not a JSON object or lacks the key (a
    quarantined record's payload may be anything). PostgreSQL reads it through ``ensure_json_text``'s function."""
    if is_postgres(con):
        return f"{JSON_TEXT_FUNCTION}({document_sql}, '{key}')"
    return f"try(json_extract_string({document_sql}, '$.{key}'))"


def matches(con, text_sql: str, pattern_sql: str) -> str:
    """Whether a regular expression matches anywhere in the text."""
    if is_postgres(con):
        return f"({text_sql} ~ {pattern_sql})"
    return f"regexp_matches({text_sql}, {pattern_sql})"


def matches_whole(con, text_sql: str, pattern: str) -> str:
    """Whether a regular expression (a literal) matches the whole text."""
    if is_postgres(con):
        return f"({text_sql} ~ '^(?:{pattern})$')"
    return f"regexp_full_match({text_sql}, '{pattern}')"


# PostgreSQL's `->>` fails on a text that is not JSON, where DuckDB's try() gives null: a function that catches it
JSON_TEXT_FUNCTION = f"{RAW_SCHEMA}.cycle_json_text"


def ensure_json_text(con) -> None:
    """Create ``JSON_TEXT_FUNCTION`` on PostgreSQL (nothing to do on DuckDB)."""
    if not is_postgres(con):
        return
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    con.execute(
        f"""create or replace function {JSON_TEXT_FUNCTION}(document text, key text) returns text
            language plpgsql immutable as $body$
            begin
              return case when jsonb_typeof(document::jsonb) = 'object' then document::jsonb ->> key end;
            exception when others then
              return null;
            end
            $body$"""
    )
