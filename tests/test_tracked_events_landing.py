"""Tracked-event files that load robustly and per workspace (defs/ingest/tracked_events.py,
storage/tracked_events.py), on a simulated day's events:

* a load that fails on the warehouse is requested again by ``tracked_events_sensor`` (its own run key, after a
  back-off), and given up after a few failed attempts of the same state, saying so;
* ``<landing>/<workspace>/<file>`` loads as that workspace's rows, its journeys checked against the workspace's
  web properties; rows naming another workspace's property are quarantined with the reason; a folder naming no
  workspace, and an unscoped file once the registry holds several workspaces, are rejected whole with the
  reason and requested again only once they change;
* ``tracked_events_dbt_sensor`` asks for the touched days only: consecutive days as one range, a run each.

No dbt here: the storage and the sensors, on an ephemeral instance and a small warehouse file.
"""

from __future__ import annotations

import json
import os
from datetime import date

import dagster as dg
import duckdb
import pandas as pd
import pytest

from analytics_assets.contracts.access import AccessRegistry, Account
from analytics_assets.defs.ingest import tracked_events as defs
from analytics_assets.defs.ingest.tracked_events import (
    day_ranges,
    raw_tracked_events,
    tracked_events_job,
    tracked_events_sensor,
)
from analytics_assets.defs.resources import WarehouseResource, WebhookStoreResource
from analytics_assets.storage import tracked_events as storage
from test_tracked_events_ingest import simulated_events


@pytest.fixture(scope="module")
def events() -> dict[str, list[dict]]:
    return simulated_events()


class Landing:
    """A landing folder, a warehouse, an access registry and a Dagster instance: the sensor ticks, the job runs."""

    def __init__(self, root, env: pytest.MonkeyPatch):
        self.root, self.folder = root, root / "landing"
        self.folder.mkdir()
        self.registry = AccessRegistry(root / "access.sqlite3")
        env.setenv("CYCLE_EVENTS_LANDING_DIR", str(self.folder))
        env.setenv("CYCLE_ACCESS_STORE", str(self.registry.path))
        self.warehouse = root / "warehouse.duckdb"
        self.instance = dg.DagsterInstance.ephemeral()
        self.resources = {
            "webhook_store": WebhookStoreResource(path=str(root / "api" / "inbound.sqlite3")),
            "warehouse": WarehouseResource(path=str(self.warehouse), threads=1, memory_limit="1GB"),
        }
        self.defs = dg.Definitions(assets=[raw_tracked_events], jobs=[tracked_events_job],
                                   sensors=[tracked_events_sensor], resources=self.resources)
        self.job = self.defs.resolve_job_def("tracked_events_job")

    def tick(self):
        with dg.build_sensor_context(instance=self.instance, resources=self.resources, definitions=self.defs) as context:
            return tracked_events_sensor(context)

    def run(self, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
        return self.job.execute_in_process(instance=self.instance, tags=request.tags, raise_on_error=False)

    def query(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql).df()

    def write(self, name: str, rows: list[dict]) -> None:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".jsonl"):
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        else:
            pd.DataFrame(rows).to_csv(path, index=False)


@pytest.fixture
def landing(tmp_path):
    with pytest.MonkeyPatch.context() as env:
        yield Landing(tmp_path, env)


def _touch(path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


# ------------------------------------------------------------------------------------ failed loads


def test_a_failed_load_is_requested_again_after_a_back_off_and_given_up_after_a_few_attempts(landing, events, monkeypatch):
    landing.write("generations.jsonl", events["generations"])
    real_insert, failures = storage._insert_counted, {"left": 1}

    def flaky(con, rows, load):  # the warehouse's disk is full, once
        if failures["left"] > 0:
            failures["left"] -= 1
            raise duckdb.IOException("Could not write file: No space left on device")
        return real_insert(con, rows, load)

    monkeypatch.setattr(storage, "_insert_counted", flaky)
    first = landing.tick()
    assert isinstance(first, dg.RunRequest) and first.tags["cycle/attempt"] == "1"
    assert not landing.run(first).success
    assert landing.query("select count(*) n from raw.raw_tracked_ai_generations")["n"][0] == 0  # nothing half-loaded

    waiting = landing.tick()  # the file is still new: requested again, once the back-off has passed
    assert isinstance(waiting, dg.SkipReason) and "trying again in" in waiting.skip_message
    monkeypatch.setattr(defs, "RETRY_DELAY_SECONDS", 0.0)
    second = landing.tick()
    assert isinstance(second, dg.RunRequest) and second.tags["cycle/attempt"] == "2"
    assert second.run_key != first.run_key and second.tags[defs.STATE_TAG] == first.tags[defs.STATE_TAG]
    assert landing.run(second).success
    assert landing.query("select count(*) n from raw.raw_tracked_ai_generations")["n"][0] == len(events["generations"])
    assert isinstance(landing.tick(), dg.SkipReason)  # loaded: nothing to request

    # a failure that does not pass: a few attempts, then the sensor stops and says why
    landing.write("generations-2.jsonl", [{**e, "event_id": e["event_id"] + "-2"} for e in events["generations"]])
    failures["left"] = 10**6
    for attempt in range(1, defs.MAX_ATTEMPTS + 1):
        request = landing.tick()
        assert isinstance(request, dg.RunRequest) and request.tags["cycle/attempt"] == str(attempt)
        assert not landing.run(request).success
    given_up = landing.tick()
    assert isinstance(given_up, dg.SkipReason) and f"{defs.MAX_ATTEMPTS} loads of this state" in given_up.skip_message
    failures["left"] = 0
    _touch(landing.folder / "generations-2.jsonl")  # the state changed: tried again
    assert landing.run(landing.tick()).success
    assert landing.query("select count(*) n from raw.raw_tracked_ai_generations")["n"][0] == 2 * len(events["generations"])


# ------------------------------------------------------------------------------------ workspaces


def test_files_load_as_their_folders_workspace_and_rows_of_other_accounts_are_quarantined(landing, events):
    for workspace, properties in (("acme", ["acme-shop"]), ("globex", ["globex-eu", "globex-us"])):
        landing.registry.create_workspace(workspace)
        landing.registry.add_accounts(workspace, [Account("web", p) for p in properties])
    journeys = [e for e in events["journeys"]]
    acme = [{k: v for k, v in e.items() if k != "property_id"} | ({"property_id": "acme-shop"} if i % 2 else {})
            for i, e in enumerate(journeys[:20])]  # named, or omitted (the workspace's only property)
    intruders = [{**e, "event_id": f"intruder-{i}", "property_id": "globex-eu"} for i, e in enumerate(journeys[20:22])]
    landing.write("acme/journeys.csv", acme + intruders)
    landing.write("acme/generations.jsonl", events["generations"])
    globex = [{**e, "event_id": f"globex-{i}", "property_id": "globex-us"} for i, e in enumerate(journeys[22:30])]
    unnamed = [{k: v for k, v in e.items() if k != "property_id"} | {"event_id": "globex-unnamed"} for e in journeys[30:31]]
    landing.write("globex/journeys.csv", globex + unnamed)
    landing.write("initech/generations.jsonl", [{**e, "event_id": "initech-" + e["event_id"]} for e in events["generations"]])
    landing.write("Not A Workspace/journeys.csv", journeys[:3])
    landing.write("_archive/old.csv", journeys[:3])  # a folder being prepared: never read
    landing.write("unscoped.csv", journeys[:3])  # whose? the registry has two workspaces: nobody's

    request = landing.tick()
    assert isinstance(request, dg.RunRequest)
    run = landing.run(request)
    assert run.success

    rows = landing.query("select event_id, workspace_id, property_id, origin from raw.raw_tracked_touchpoints")
    by_workspace = rows.groupby("workspace_id")["event_id"].apply(set).to_dict()
    assert by_workspace == {"acme": {e["event_id"] for e in acme}, "globex": {e["event_id"] for e in globex}}
    assert set(rows.loc[rows["workspace_id"] == "acme", "property_id"]) == {"acme-shop"}  # the omitted ones filled in
    assert set(rows["origin"]) == {"file:acme/journeys.csv", "file:globex/journeys.csv"}
    generations = landing.query("select workspace_id, count(*) n from raw.raw_tracked_ai_generations group by 1")
    assert generations.set_index("workspace_id")["n"].to_dict() == {"acme": len(events["generations"])}

    quarantine = landing.query("select record_key, reason from raw.raw_quarantine").set_index("record_key")["reason"]
    assert [quarantine[f"acme/journeys.csv:{n}"] for n in (21, 22)] == ["property_id: not a web property of workspace acme"] * 2
    assert quarantine["globex/journeys.csv:9"] == "property_id: required (workspace globex has 2 web properties)"
    assert quarantine["initech/generations.jsonl:0"].startswith("no workspace 'initech' in the access registry")
    assert quarantine["Not A Workspace/journeys.csv:0"].startswith("folder 'Not A Workspace' is not a workspace")
    assert "names no workspace" in quarantine["unscoped.csv:0"] and "<landing>/<workspace>/unscoped.csv" in quarantine["unscoped.csv:0"]
    assert len(quarantine) == 6 and not any(k.startswith("_archive") for k in quarantine.index)
    files = landing.query("select file_name, workspace_id, status, rows_accepted, rows_rejected from raw.raw_tracked_event_files")
    status = files.set_index("file_name")["status"].to_dict()
    assert status == {"acme/journeys.csv": "loaded", "acme/generations.jsonl": "loaded", "globex/journeys.csv": "loaded",
                      "initech/generations.jsonl": "rejected", "Not A Workspace/journeys.csv": "rejected",
                      "unscoped.csv": "rejected"}
    meta = next(e.event_specific_data.materialization.metadata for e in run.all_events
                if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key.path == ["raw_tracked_touchpoints"])
    assert meta["files_rejected"].value == 3 and meta["workspaces"].value == ["acme", "globex"]

    # a rejected file is not requested again as it is...
    assert isinstance(landing.tick(), dg.SkipReason)
    # ...but once its workspace exists and it is touched, it loads, and its rejection stays quarantined once
    landing.registry.create_workspace("initech")
    _touch(landing.folder / "initech" / "generations.jsonl")
    assert landing.run(landing.tick()).success
    generations = landing.query("select workspace_id, count(*) n from raw.raw_tracked_ai_generations group by 1")
    assert generations.set_index("workspace_id")["n"].to_dict() == {"acme": len(events["generations"]),
                                                                     "initech": len(events["generations"])}
    assert landing.query("select count(*) n from raw.raw_quarantine")["n"][0] == 6
    # the other rejected files, untouched, were not read again
    assert landing.query("select count(*) n from raw.raw_tracked_event_files")["n"][0] == 7


def test_unscoped_files_load_as_the_default_workspaces_only_while_it_is_the_only_one(landing, events):
    landing.registry.create_workspace("default")
    landing.write("generations.jsonl", events["generations"][:3])
    assert landing.run(landing.tick()).success
    assert landing.query("select distinct workspace_id from raw.raw_tracked_ai_generations")["workspace_id"].tolist() == ["default"]
    landing.registry.create_workspace("acme")
    landing.write("more.jsonl", events["generations"][3:6])
    assert landing.run(landing.tick()).success
    assert landing.query("select count(*) n from raw.raw_tracked_ai_generations")["n"][0] == 3
    assert landing.query("select status from raw.raw_tracked_event_files where file_name = 'more.jsonl'")["status"].tolist() == ["rejected"]


# ------------------------------------------------------------------------------------ late days


def test_touched_days_are_grouped_into_ranges_of_consecutive_days_only():
    assert day_ranges(["2025-03-01", "2026-03-01"]) == [("2025-03-01", "2025-03-01"), ("2026-03-01", "2026-03-01")]
    days = ["2026-01-03", "2026-01-01", "2026-01-02", "2026-01-05", "2026-01-05"]
    assert day_ranges(days) == [("2026-01-01", "2026-01-03"), ("2026-01-05", "2026-01-05")]
    assert day_ranges(["1999-01-01", "2099-01-01"]) == []  # no such partitions
    scattered = [date(2026, 1, 1 + 2 * k).isoformat() for k in range(10)] + ["2026-06-01"]
    merged = day_ranges(scattered, max_runs=3)  # 11 ranges, the closest merged: the far one stays alone
    assert len(merged) == 3 and merged[-1] == ("2026-06-01", "2026-06-01") and merged[0][0] == "2026-01-01"
