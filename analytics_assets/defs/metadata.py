"""Small helpers that shape asset metadata the same way everywhere."""

import dagster as dg
import pandas as pd


def markdown_preview(frame: pd.DataFrame, n: int = 10) -> dg.MetadataValue:
    """The first ``n`` rows as a Markdown table (the UI renders it), or a note that there are none."""
    return dg.MetadataValue.md(frame.head(n).to_markdown(index=False) if len(frame) else "(no rows)")


def problems_check(check_name: str, problems: list[str]) -> dg.AssetCheckResult:
    """A check that passes when ``problems`` (what is wrong with the rows, in words) is empty, and lists them."""
    return dg.AssetCheckResult(check_name=check_name, passed=not problems, metadata={"problems": "; ".join(problems) or "none"})


def store_cursor(instance: dg.DagsterInstance, key: dg.AssetKey, cursor_field: str) -> tuple[str, int] | None:
    """(store id, sequence number) that the latest materialization of ``key`` copied its store through: how
    the sensors that copy an append-only store (webhook events, alerts) know whether anything is new."""
    event = instance.get_latest_materialization_event(key)
    meta = event.asset_materialization.metadata if event and event.asset_materialization else {}
    if "store_id" not in meta or cursor_field not in meta:
        return None
    return str(meta["store_id"].value), int(meta[cursor_field].value)
