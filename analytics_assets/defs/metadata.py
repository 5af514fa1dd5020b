"""Small helpers that shape asset metadata the same way everywhere."""

import dagster as dg
import pandas as pd


def markdown_preview(frame: pd.DataFrame, n: int = 10) -> dg.MetadataValue:
    """The first ``n`` rows as a Markdown table (the UI renders it), or a note that there are none."""
    return dg.MetadataValue.md(frame.head(n).to_markdown(index=False) if len(frame) else "(no rows)")
