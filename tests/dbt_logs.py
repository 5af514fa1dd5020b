"""What dbt logged for the dbt invocations of a Dagster run: each has its own target folder under
dbt/target, named after the run (``cycle_dbt_models-<run id[:7]>-<uuid>``), with dbt's JSON log in it."""

from __future__ import annotations

import json

from analytics_assets.defs.transform.dbt import DBT_PROJECT_DIR


def dbt_log_events(run_id: str) -> list[dict]:
    """The ``info`` part (name, msg, ts, ...) of every event dbt logged in the run's invocations, in order."""
    folders = sorted((DBT_PROJECT_DIR / "target").glob(f"*-{run_id[:7]}-*"))
    assert folders, f"no dbt target folder for run {run_id}"
    events = []
    for folder in folders:
        # dbt rotates its log at 10 MB: dbt.log.1 holds the start (the parse), dbt.log the end
        for log in sorted(folder.glob("dbt.log*"), reverse=True):
            for line in log.read_text().splitlines():
                try:
                    events.append(json.loads(line)["info"])
                except (ValueError, KeyError):
                    continue
    return events


def parse_events(run_id: str) -> list[tuple[str, str]]:
    """(name, msg) of dbt's parse outcome events in the run (UnableToPartialParse, PartialParsingSkipParsing, ...)."""
    return [(e["name"], e["msg"]) for e in dbt_log_events(run_id) if "PartialPars" in e["name"]]
