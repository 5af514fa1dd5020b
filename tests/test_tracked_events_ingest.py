"""Tracked events into the warehouse (defs/ingest/tracked_events.py, storage/tracked_events.py).

A day of simulated journeys, AI generations and experiment exposures, written as tracked events to the landing
folder (CSV, JSON lines, Parquet, with a few broken rows) and sent to the API's store: ``tracked_events_sensor``
requests one load, which stores every valid row once and quarantines the broken ones with their reasons; a
second tick requests nothing, a rerun loads nothing, a changed file is a new load (its broken rows quarantined no
second time), and a file being written (``.name.tmp``) is never read. The rows reach ``stg_touchpoints`` and the
attribution marts (one small dbt build), and ``tracked_events_dbt_sensor`` asks for the dbt partitions of the
days the load touched, and of those only.

A failed load is requested again (bounded, with a back-off); files in a workspace's folder load as that
workspace's, their journey rows checked against its web properties (``test_tracked_events_landing.py``).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import dagster as dg
import duckdb
import pandas as pd
import pytest

from analytics_assets.contracts.events import event_json, parse_event
from analytics_assets.contracts.inbound import TrackedEventRecord, TrackedEventStore
from analytics_assets.contracts.raw import AI_GENERATIONS, EXPERIMENT_OBSERVATIONS, TOUCHPOINTS
from analytics_assets.defs.ingest.tracked_events import (
    raw_tracked_events,
    tracked_events_dbt_sensor,
    tracked_events_job,
    tracked_events_sensor,
)
from analytics_assets.defs.resources import WarehouseResource, WebhookStoreResource
from analytics_assets.sources.parsing.parsers import (
    AI_GENERATION_MAPPING,
    EXPERIMENT_OBSERVATION_MAPPING,
    TOUCHPOINT_MAPPING,
    parse_records,
)
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from test_attribution_property import dbt_run, read
from test_warehouse_incremental import Dbt

DAY = date(2026, 10, 12)
ATTRIBUTION = ["+agg_channel_attribution", "+stg_ai_generations", "+stg_experiment_observations"]


def _iso(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _py(value):
    return value.item() if hasattr(value, "item") else value  # numpy scalars, for json.dumps


def simulated_events() -> dict[str, list[dict]]:
    """One simulated day as tracked events, per kind (the raw rows the simulator's parsers make, as events)."""
    day = PlatformSimulator(SimulatorConfig(
        seed=5, posts_per_day=20, campaigns_per_platform=1, ai_generations_per_day=8, journeys_per_day=40,
        experiment_units_per_day=6,
    )).day(DAY)
    touches = parse_records(day.touchpoints, TOUCHPOINT_MAPPING).rows
    gens = parse_records(day.ai_generations, AI_GENERATION_MAPPING).rows
    exps = parse_records(day.experiment_observations, EXPERIMENT_OBSERVATION_MAPPING).rows
    journeys = []
    for r in touches.to_dict("records"):
        e = {"type": r["event_type"], "event_id": r["event_id"], "timestamp": _iso(r["event_at"]),
             "property_id": r["property_id"], "journey_id": r["journey_id"], "user_id": r["user_id"]}
        if r["event_type"] == "touchpoint":
            e |= {k: r[k] for k in ("utm_source", "utm_medium", "utm_campaign", "utm_content") if pd.notna(r[k])}
        else:
            e |= {"value": float(r["conversion_value"]), "currency": r["currency"]}
        journeys.append(e)
    generations = [
        {"type": "ai_generation", "event_id": r["generation_id"], "timestamp": _iso(r["generated_at"]),
         **{k: _py(r[k]) for k in ("model", "platform", "status", "prompt_tokens", "completion_tokens",
                                  "latency_ms", "cost_usd")}, **({"post_id": r["post_id"]} if pd.notna(r["post_id"]) else {})}
        for r in gens.to_dict("records")
    ]
    exposures = [
        {"type": "experiment_exposure", "event_id": f"{r['experiment_id']}:{r['unit_id']}",
         "timestamp": _iso(r["exposed_at"]), "start_date": str(r["start_date"])[:10], "end_date": str(r["end_date"])[:10],
         **{k: _py(r[k]) for k in ("experiment_id", "experiment_name", "factor", "metric", "metric_kind",
                                  "baseline_mean", "baseline_sd", "mde", "alpha", "power", "variant", "variant_role",
                                  "unit_id", "value")}}
        for r in exps.to_dict("records")
    ]
    return {"journeys": journeys, "generations": generations, "exposures": exposures}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("tracked_events")
    landing = root / "landing"
    landing.mkdir()
    events = simulated_events()
    journeys, api_part = events["journeys"][:-5], events["journeys"][-5:]
    assert {e["type"] for e in journeys} == {"touchpoint", "conversion"}

    # CSV: the journeys, plus a row without its utm_source and one with a negative value
    broken = [{**journeys[0], "event_id": "broken-1", "utm_source": ""},
              {**next(e for e in journeys if e["type"] == "conversion"), "event_id": "broken-2", "value": -1}]
    pd.DataFrame(journeys + broken).to_csv(landing / "journeys.csv", index=False)
    # JSON lines: the generations and a line that is not JSON; Parquet: the exposures
    (landing / "generations.jsonl").write_text("\n".join(map(json.dumps, events["generations"])) + "\n{oops\n")
    pd.DataFrame(events["exposures"]).to_parquet(landing / "exposures.parquet")
    (landing / ".late.csv.tmp").write_text("type,event_id\ntouchpoint,half-written")  # being written: never read
    (landing / "truncated.parquet").write_bytes(b"PAR1 cut short")  # not a Parquet file at all: recorded, rejected

    # the API's store: the journeys' last events, and one the file holds too (stored once)
    store = TrackedEventStore(root / "api" / "inbound.sqlite3")
    records = [TrackedEventRecord(e["event_id"], e["type"], event_json(parse_event(e)[0])) for e in api_part + journeys[:1]]
    assert all(store.append(records, "default"))

    with pytest.MonkeyPatch.context() as env:
        env.setenv("CYCLE_EVENTS_LANDING_DIR", str(landing))
        env.setenv("CYCLE_ACCESS_STORE", str(root / "api" / "access.sqlite3"))  # none: the embedded default
        dbt = Dbt(root / "dbt_target", env)
        warehouse = dbt.warehouse(root / "warehouse")
        with duckdb.connect(str(warehouse)) as con:  # the simulator's tables exist, empty: only tracked events here
            con.execute("create schema raw")
            for table in (TOUCHPOINTS, AI_GENERATIONS, EXPERIMENT_OBSERVATIONS):
                con.execute(table.ddl())
        instance = dg.DagsterInstance.ephemeral()
        resources = {
            "webhook_store": WebhookStoreResource(path=str(store.path)),
            "warehouse": WarehouseResource(path=str(warehouse), threads=1, memory_limit="1GB"),
        }
        defs = dg.Definitions(assets=[raw_tracked_events], jobs=[tracked_events_job],
                              sensors=[tracked_events_sensor, tracked_events_dbt_sensor], resources=resources)
        job = defs.resolve_job_def("tracked_events_job")

        def tick(sensor=tracked_events_sensor, cursor=None):
            with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor,
                                         definitions=defs) as context:
                result = sensor(context)
                if not isinstance(result, (dg.RunRequest, dg.SkipReason)) and result is not None:
                    result = list(result)  # an asset sensor's evaluation: its requests, or one skip
                    result = result[0] if len(result) == 1 and isinstance(result[0], dg.SkipReason) else result
                return result, context.cursor

        first, cursor = tick()
        assert isinstance(first, dg.RunRequest), first
        run = job.execute_in_process(instance=instance, tags=first.tags)
        assert run.success
        dbt_request, _ = tick(tracked_events_dbt_sensor)
        yield {"root": root, "landing": landing, "warehouse": warehouse, "events": events, "instance": instance,
               "tick": tick, "cursor": cursor, "job": job, "run": run, "dbt": dbt, "dbt_request": dbt_request,
               "env": env, "store": store}


def _materializations(run) -> dict[str, dict]:
    return {
        e.asset_key.to_user_string(): {k: v.value for k, v in e.event_specific_data.materialization.metadata.items()}
        for e in run.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
    }


def test_every_valid_row_is_stored_once_and_the_broken_ones_are_quarantined(loaded):
    events, wh = loaded["events"], loaded["warehouse"]
    journeys = read(wh, "select * from raw.raw_tracked_touchpoints")
    assert sorted(journeys["event_id"]) == sorted(e["event_id"] for e in events["journeys"])
    assert journeys["event_id"].is_unique
    by_origin = journeys.groupby("origin").size().to_dict()
    assert by_origin == {"api": 6, "file:journeys.csv": len(events["journeys"]) - 6}  # the shared event: the API's
    assert set(journeys["workspace_id"]) == {"default"}  # the key's; an unscoped file's in the embedded default
    assert len(read(wh, "select * from raw.raw_tracked_ai_generations")) == len(events["generations"])
    assert len(read(wh, "select * from raw.raw_tracked_experiment_observations")) == len(events["exposures"])

    files = read(wh, "select * from raw.raw_tracked_event_files order by file_name").set_index("file_name")
    assert list(files.index) == ["exposures.parquet", "generations.jsonl", "journeys.csv", "truncated.parquet"]
    assert files.loc["truncated.parquet", ["rows_accepted", "rows_rejected"]].tolist() == [0, 1]  # never the .tmp
    assert files.loc["truncated.parquet", "status"] == "rejected" and files["status"].eq("loaded").sum() == 3
    assert files.loc["journeys.csv", ["rows_accepted", "rows_duplicate", "rows_rejected"]].tolist() == [
        len(events["journeys"]) - 6, 1, 2]
    assert files.loc["generations.jsonl", "rows_rejected"] == 1 and files["sha256"].str.len().eq(64).all()
    quarantine = read(wh, "select record_key, reason, payload from raw.raw_quarantine order by record_key")
    assert len(quarantine) == 4
    assert quarantine.set_index("record_key").loc["truncated.parquet:0", "reason"].startswith("unreadable parquet file")
    assert any("utm_source" in r for r in quarantine["reason"]) and any("value" in r for r in quarantine["reason"])
    assert any("broken-2" in p for p in quarantine["payload"])  # the row itself is kept

    meta = _materializations(loaded["run"])["raw_tracked_touchpoints"]
    assert meta["loaded_from_api"] == 6 and meta["rejected_to_quarantine"] == 4
    assert DAY.isoformat() in meta["days_loaded"]


def test_a_second_tick_requests_nothing_and_a_rerun_loads_nothing(loaded):
    again, _ = loaded["tick"](cursor=loaded["cursor"])
    assert isinstance(again, dg.SkipReason), again
    rerun = loaded["job"].execute_in_process(instance=loaded["instance"])
    meta = _materializations(rerun)
    assert all(m["loaded_rows"] == 0 for m in meta.values())
    assert meta["raw_tracked_touchpoints"]["dagster/row_count"] == len(loaded["events"]["journeys"])


def test_a_changed_file_is_a_new_load_of_its_new_rows_only(loaded):
    landing, wh = loaded["landing"], loaded["warehouse"]
    # a touch of a converted journey, tracked late (its day is long past): its day and its conversion's are rebuilt
    conversion = next(e for e in loaded["events"]["journeys"] if e["type"] == "conversion")
    late = {**next(e for e in loaded["events"]["journeys"] if e["type"] == "touchpoint"), "event_id": "late-touch",
            "timestamp": "2026-10-02T08:00:00Z", "journey_id": conversion["journey_id"],
            "property_id": conversion["property_id"]}
    converted_on = conversion["timestamp"][:10]
    quarantined = read(wh, "select count(*) as n from raw.raw_quarantine")["n"][0]
    csv = pd.read_csv(landing / "journeys.csv", dtype=str)
    tmp = landing / ".journeys.csv.tmp"  # write then rename
    pd.concat([csv, pd.DataFrame([late]).astype(str)]).to_csv(tmp, index=False)
    tmp.rename(landing / "journeys.csv")
    request, _ = loaded["tick"](cursor=loaded["cursor"])
    assert isinstance(request, dg.RunRequest)
    run = loaded["job"].execute_in_process(instance=loaded["instance"], tags=request.tags)
    meta = _materializations(run)["raw_tracked_touchpoints"]
    assert (meta["loaded_rows"], meta["days_loaded"]) == (1, ["2026-10-02", converted_on])
    assert read(wh, "select count(*) as n from raw.raw_tracked_event_files where file_name = 'journeys.csv'")["n"][0] == 2
    # the new version still holds the two broken rows: quarantined with the first version, not again
    assert read(wh, "select count(*) as n from raw.raw_quarantine")["n"][0] == quarantined == 4
    assert meta["rejected_to_quarantine"] == 2 and meta["newly_quarantined"] == 0
    requests, _ = loaded["tick"](tracked_events_dbt_sensor)  # the late day's partition is rebuilt, and its conversion's
    assert [(r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"]) for r in requests] == [
        ("2026-10-02", "2026-10-02"), (converted_on, converted_on)]  # the days between them are not
    assert len({r.run_key for r in requests}) == 2


@pytest.mark.slow
def test_the_events_reach_staging_and_the_attribution_marts(loaded):
    requests = loaded["dbt_request"]
    assert requests and all(isinstance(r, dg.RunRequest) for r in requests)
    days = _materializations(loaded["run"])["raw_tracked_touchpoints"]["days_loaded"]
    spans = [(date.fromisoformat(r.tags["dagster/asset_partition_range_start"]),
              date.fromisoformat(r.tags["dagster/asset_partition_range_end"])) for r in requests]
    covered = {(a + timedelta(days=k)).isoformat() for a, b in spans for k in range((b - a).days + 1)}
    assert covered == set(days)  # every day the load touched, and no other

    wh, events = loaded["warehouse"], loaded["events"]
    built, results = dbt_run(loaded["dbt"], wh, "build", ATTRIBUTION)
    assert built.success, [(n, r.status, r.message) for n, r in results.items() if r.status not in ("success", "pass")]
    staged = read(wh, "select * from main.stg_touchpoints")
    tracked = read(wh, "select event_id from raw.raw_tracked_touchpoints")
    assert set(staged["event_id"]) == set(tracked["event_id"])
    conversions = [e for e in events["journeys"] if e["type"] == "conversion"]
    credited = read(wh, "select model, sum(conversions) as c from main.agg_channel_attribution group by model")
    assert len(credited) == 5
    attributed = read(wh, "select count(distinct conversion_id) as n from main.fct_touchpoint_attribution")["n"][0]
    assert 0 < attributed <= len(conversions)
    assert credited["c"].round(6).eq(float(attributed)).all()  # every model credits each attributed conversion once
    assert len(read(wh, "select * from main.stg_ai_generations")) == len(events["generations"])
    assert len(read(wh, "select * from main.stg_experiment_observations")) == len(events["exposures"])
