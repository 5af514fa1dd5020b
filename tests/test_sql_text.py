"""A value written into SQL as a literal comes back as itself, whatever quotes it holds."""

from pathlib import Path

import duckdb
from hypothesis import given, settings, strategies as st

from analytics_assets.contracts.sql_text import sql_string


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")))
def test_a_literal_reads_back_as_the_value(value):
    with duckdb.connect() as con:
        assert con.execute(f"select {sql_string(value)}").fetchone()[0] == value


def test_a_path_with_a_quote_is_one_file(tmp_path):
    # an archive or serving folder under a user's "O'Brien" directory: an unquoted path ends the string early
    folder = tmp_path / "O'Brien's data"
    folder.mkdir()
    path = folder / "day.parquet"
    with duckdb.connect() as con:
        con.execute(f"copy (select 42 as answer) to {sql_string(path)} (format parquet)")
        assert con.execute(f"select answer from read_parquet({sql_string(Path(path))})").fetchone() == (42,)
