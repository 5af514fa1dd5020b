"""GDPR export and erasure of one person on simulator data, end to end through ``privacy_request_job`` and the
rebuild through the asset graph (``privacy_rebuild_sensor`` -> ``privacy_rebuild_job``).

A private copy of the whole graph's three simulated days (the ``pipeline`` session fixture: raw, dbt, the ML and
analysis assets, the served snapshot), and the API's store holding a webhook event and a decision that name the
person. Two people are erased: A (converted, with a quarantined record when the simulator gave one) through the
sensors and the jobs as the daemon runs them, and B (converted on another day) with ``cycle privacy erase --run``,
which runs the same two jobs in process. Afterwards nothing in the warehouse (every table and view, every text
column), the served files or the API's store names them or their journeys; attribution drops by exactly their
conversions' value, in the marts and in the served file; each rebuild was an ordinary run of the dbt assets over
exactly the erased rows' partitions and of ``serving_snapshot``, with the dbt tests as asset checks; the exports
taken before hold exactly the rows the erasure removed; and a backfill of the three days through Dagster (the
touchpoints' raw table, then dbt) does not bring them back.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from analytics_assets.contracts.access import Account, AccessRegistry
from analytics_assets.contracts.inbound import FeedbackRecord, FeedbackStore, PrivacyRequestStore, WebhookEvent, WebhookStore
from analytics_assets.contracts.privacy import DONE, export_file
from analytics_assets.contracts.raw import TOUCHPOINTS
from analytics_assets.definitions import build_defs
from analytics_assets.defs.privacy.rebuild import REBUILD_TAG, downstream_models, rebuild_runs
from analytics_assets.defs.privacy.requests import privacy_request_job
from analytics_assets.defs.resources import WebhookStoreResource
from analytics_assets.storage.archive import archive_root
from analytics_assets.storage.privacy import Person, find_person
from analytics_assets.storage.warehouse import connect
from analytics_assets.settings import PROJECT_ROOT
from cycle_testing import E2E_END, E2E_START, CycleHome, run_privacy_requests

pytestmark = pytest.mark.slow  # a private copy of the pipeline's home, and three dbt runs

PROPERTY = "cycle-demo"  # the simulator's web property
RANGE = {"dagster/asset_partition_range_start": E2E_START.isoformat(),
         "dagster/asset_partition_range_end": E2E_END.isoformat()}


def query(warehouse: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def token(user_or_journey: str) -> str:
    return rf"(?:^|[^A-Za-z0-9_.:@+-]){re.escape(user_or_journey)}(?:$|[^A-Za-z0-9_.:@+-])"


def warehouse_mentions(warehouse: Path, needles: list[str]) -> dict[str, int]:
    """Rows of every table and view, in every schema, with a text column holding one of ``needles``."""
    pattern = "|".join(token(n) for n in needles)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        columns = con.execute(
            """select table_schema, table_name, column_name from information_schema.columns
               where table_catalog = current_database() and data_type = 'VARCHAR'"""
        ).fetchall()
        found = {}
        for schema, table, column in columns:
            (n,) = con.execute(
                f'select count(*) from "{schema}"."{table}" where regexp_matches("{column}", ?)', [pattern]
            ).fetchone()
            if n:
                found[f"{schema}.{table}.{column}"] = n
        return found
    finally:
        con.close()


def parquet_mentions(folder: Path, needles: list[str]) -> dict[str, int]:
    pattern = "|".join(token(n) for n in needles)
    found = {}
    for path in sorted(folder.rglob("*.parquet")):
        frame = pd.read_parquet(path)
        text = frame.select_dtypes(include="object").astype(str)
        n = int(text.apply(lambda col: col.str.contains(pattern, regex=True)).any(axis=1).sum()) if len(text.columns) else 0
        if n:
            found[str(path)] = n
    return found


def sqlite_mentions(path: Path, needles: list[str]) -> dict[str, int]:
    pattern = re.compile("|".join(token(n) for n in needles))
    con = sqlite3.connect(path)
    try:
        found = {}
        for (table,) in con.execute("select name from sqlite_master where type = 'table'"):
            for row in con.execute(f"select * from {table}"):
                if any(isinstance(v, str) and pattern.search(v) for v in row):
                    found[table] = found.get(table, 0) + 1
        return found
    finally:
        con.close()


def attribution_value(warehouse: Path) -> dict[str, float]:
    frame = query(warehouse, "select model, sum(conversion_value) as value from main.agg_channel_attribution_daily group by model")
    return dict(zip(frame["model"], frame["value"]))


def served_value(serving: Path) -> dict[str, float]:
    frame = pd.read_parquet(serving / "attribution_daily.parquet")
    return frame.groupby("model")["conversion_value"].sum().to_dict()


def pick_people(warehouse: Path) -> tuple[str, str, str]:
    """A: converted, preferably with a quarantined record of one of their journeys; B: converted on another day;
    C (for the CLI): converted, someone else again."""
    converted = query(
        warehouse,
        "select user_id, min(partition_date) as day from raw.raw_touchpoints where event_type = 'conversion' "
        "group by user_id order by user_id",
    )
    quarantined = query(
        warehouse,
        "select distinct t.user_id from raw.raw_quarantine q join raw.raw_touchpoints t "
        "on t.journey_id = try(json_extract_string(q.payload, '$.journey_id')) "
        "where q.source_table = 'raw_touchpoints' and t.event_type = 'conversion'",
    )
    preferred = converted[converted["user_id"].isin(set(quarantined["user_id"]))]
    a_row = (preferred if len(preferred) else converted).iloc[0]
    others = converted[(converted["user_id"] != a_row["user_id"]) & (converted["day"] != a_row["day"])]
    assert len(others) >= 2, "the simulator should give converted people on several days"
    return str(a_row["user_id"]), str(others["user_id"].iloc[0]), str(others["user_id"].iloc[-1])


@pytest.fixture(scope="module")
def erased(pipeline, tmp_path_factory):
    source, _ = pipeline
    root = tmp_path_factory.mktemp("privacy_home")
    # a private copy: the warehouse (its day archive, if any) and the served snapshot; a Dagster instance of its own
    shutil.copy2(source.warehouse, root / "warehouse.duckdb")
    shutil.copytree(source.serving, root / "serving")
    if archive_root(source.warehouse).exists():
        shutil.copytree(archive_root(source.warehouse), root / "archive")
    # one Dagster instance with Cycle's settings, the sensors' runs and the CLI's alike
    (root / "dagster_home").mkdir()
    shutil.copy(PROJECT_ROOT / "analytics_assets" / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    store_path = root / "api" / "inbound.sqlite3"
    mp = pytest.MonkeyPatch()
    mp.setenv("CYCLE_HOME", str(root))
    mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    mp.setenv("CYCLE_API_STORE", str(store_path))  # the CLI's store is the sensors'
    mp.setenv("CYCLE_ACCESS_STORE", str(root / "access.sqlite3"))
    for variable in ("CYCLE_ARCHIVE_DIR", "CYCLE_WAREHOUSE_PATH", "CYCLE_SERVING_DIR"):
        mp.delenv(variable, raising=False)
    home = CycleHome(root=root, instance=dg.DagsterInstance.from_config(str(root / "dagster_home")))
    try:
        warehouse = home.warehouse
        a, b, c = pick_people(warehouse)
        journeys = query(warehouse, "select distinct user_id, journey_id from raw.raw_touchpoints where user_id in (?, ?)", [a, b])
        sibling = a + "0"  # a longer id that holds A's as a prefix: must survive
        before = {
            "attribution": attribution_value(warehouse),
            "served": served_value(home.serving),
            "their_value": query(
                warehouse,
                "select attribution_model as model, sum(value_credit) as value from main.fct_touchpoint_attribution "
                "where user_id in (?, ?) group by 1", [a, b],
            ).set_index("model")["value"].to_dict(),
            "raw_a": len(query(warehouse, "select * from raw.raw_touchpoints where user_id = ?", [a])),
            "days": sorted(query(warehouse, "select distinct partition_date from raw.raw_touchpoints where user_id in (?, ?)",
                                 [a, b])["partition_date"].astype(str)),
        }
        # the API's store: events and a decision that name A, and one naming only the longer sibling id
        webhooks = WebhookStore(store_path)
        webhooks.append([
            WebhookEvent("meta", "evt-a", {"entry": [{"changes": [{"value": {"visitor": a, "note": "form"}}]}]}),
            WebhookEvent("meta", "evt-sibling", {"entry": [{"changes": [{"value": {"visitor": sibling}}]}]}),
        ], delivery_id="d1")
        FeedbackStore(store_path).record(FeedbackRecord(
            feedback_id="fb_" + "1" * 32, recommendation_id="rec_" + "a" * 24, decision="dismiss",
            received_at=datetime.now(timezone.utc), reason=f"customer {a} asked us to stop",
        ))
        store = PrivacyRequestStore(store_path)
        resources = {**home.resources(), "webhook_store": WebhookStoreResource(path=str(store_path))}
        exports = {p: store.submit("export", p, [PROPERTY], workspace_id="ws") for p in (a, b)}
        erasures = {a: store.submit("erasure", a, [PROPERTY], workspace_id="ws")}
        cursor = ["0"]
        outputs, rebuilds = run_privacy_requests(home.instance, resources, cursor)
        export_docs = {}
        for person, request in exports.items():
            done = store.get(request.request_id)
            export_docs[person] = (done, done.detail)
        # B: `cycle privacy erase --workspace ws --run`, for the workspace's web property
        from analytics_assets.cli.privacy import run as cli

        registry = AccessRegistry(root / "access.sqlite3")
        registry.create_workspace("ws", exist_ok=True)
        registry.add_accounts("ws", [Account("web", PROPERTY)])
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            cli_exit = cli(argparse.Namespace(action="erase", user_id=b, workspace="ws", run=True))
        erasures[b] = store.erasures_after(erasures[a].seq)[-1]
        yield {
            "root": root, "home": home, "warehouse": warehouse, "serving": home.serving, "store_path": store_path,
            "a": a, "b": b, "c": c, "sibling": sibling, "journeys": journeys, "before": before, "exports": exports,
            "export_docs": export_docs, "erasures": erasures, "outputs": outputs, "rebuilds": rebuilds,
            "store": store, "resources": resources, "instance": home.instance, "cursor": cursor,
            "cli_exit": cli_exit, "cli_out": printed.getvalue(),
        }
    finally:
        mp.undo()


def test_the_erasure_removes_the_people_from_every_table_file_and_store(erased):
    a, b = erased["a"], erased["b"]
    needles = [a, b, *erased["journeys"]["journey_id"]]
    for request in erased["erasures"].values():
        assert erased["store"].get(request.request_id).status == DONE
    assert warehouse_mentions(erased["warehouse"], needles) == {}
    assert parquet_mentions(erased["serving"], needles) == {}
    assert sqlite_mentions(erased["store_path"], needles) == {}
    # the longer id that merely starts with A's is someone else: kept
    assert sqlite_mentions(erased["store_path"], [erased["sibling"]]) == {"webhook_events": 1}
    # what each erasure says it removed: their hot rows, quarantined records, marts, store rows
    removed_a = erased["store"].get(erased["erasures"][a].request_id).detail["removed"]
    assert removed_a["raw.raw_touchpoints"] == erased["before"]["raw_a"]
    assert removed_a["main.fct_touchpoint_attribution"] > 0
    assert removed_a["api_store.webhook_events"] == 1 and removed_a["api_store.recommendation_feedback"] == 1
    removed_b = erased["store"].get(erased["erasures"][b].request_id).detail["removed"]
    assert removed_b["raw.raw_touchpoints"] > 0 and removed_b["main.fct_touchpoint_attribution"] > 0


def test_attribution_drops_by_exactly_their_conversions(erased):
    before, their = erased["before"]["attribution"], erased["before"]["their_value"]
    after = attribution_value(erased["warehouse"])
    served = served_value(erased["serving"])
    for model, value in before.items():
        assert their.get(model, 0) > 0
        assert after[model] == pytest.approx(value - their[model], rel=1e-9)
        assert served[model] == pytest.approx(erased["before"]["served"][model] - their[model], rel=1e-9)


def test_the_rebuild_is_a_run_of_the_assets_over_the_erased_rows_partitions(erased):
    """One run of privacy_rebuild_job per erasure (the sensor's for A, the CLI's for B): the dbt models downstream of
    raw_touchpoints over exactly the partitions the erased rows were filed under, their dbt tests as asset checks,
    then serving_snapshot."""
    instance = erased["instance"]
    assert [r.tags[REBUILD_TAG] for r, _ in erased["rebuilds"]] == [erased["erasures"][erased["a"]].request_id]
    models = set(downstream_models(["raw_touchpoints"]))
    for request in erased["erasures"].values():
        (run,) = rebuild_runs(instance, request.request_id)
        assert run.job_name == "privacy_rebuild_job" and run.status == dg.DagsterRunStatus.SUCCESS
        window = erased["store"].get(request.request_id).detail["rebuild"]["window"]
        assert (run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]) == (window[0], window[-1])
        assert set(window) <= set(erased["before"]["days"])
        events = instance.all_logs(run.run_id)
        materialized = [e.dagster_event for e in events if e.dagster_event and e.dagster_event.event_type_value == "ASSET_MATERIALIZATION"]
        assert models | {"serving_snapshot"} <= {e.asset_key.to_user_string() for e in materialized}
        # the partitioned models carry the partition keys of the run's range, as any backfill's do
        days = set(pd.date_range(window[0], window[-1]).strftime("%Y-%m-%d"))
        assert {e.partition for e in materialized if e.asset_key.to_user_string() == "fct_touchpoint_attribution"} <= days
        checks = [e.dagster_event for e in events if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"]
        assert checks and all(e.event_specific_data.passed for e in checks)
    # settled erasures are not rebuilt again
    _, again = run_privacy_requests(instance, erased["resources"], erased["cursor"])
    assert again == []


def test_the_audit_names_counts_never_the_user(erased):
    audit = query(erased["warehouse"], "select * from raw.raw_privacy_audit order by requested_at")
    ours = audit[audit["request_id"].isin([r.request_id for r in [*erased["exports"].values(), *erased["erasures"].values()]])]
    assert sorted(ours["kind"]) == ["erasure", "erasure", "export", "export"]
    assert audit["user_hash"].str.fullmatch(r"[0-9a-f]{64}").all()
    erasure_a = ours[ours["request_id"] == erased["erasures"][erased["a"]].request_id].iloc[0]
    items = json.loads(erasure_a["items"])
    assert erasure_a["rows_total"] == sum(items.values()) > 0
    # the exports' and erasures' hashes of one person agree (one salt), and differ between people
    by_kind = ours.groupby("kind")["user_hash"].apply(set)
    assert by_kind["erasure"] == by_kind["export"] and len(by_kind["erasure"]) == 2


def test_an_export_holds_exactly_the_rows_the_erasure_removed(erased):
    a = erased["a"]
    request, detail = erased["export_docs"][a]
    path = export_file(erased["root"], request.request_id)
    # the erasure deletes earlier exports of the person: the file was there, now it is gone
    assert not path.exists()
    removed = erased["store"].get(erased["erasures"][a].request_id).detail["removed"]
    assert removed[f"exports/{path.name}"] == 1
    exported = detail["exported"]
    assert exported == {k: v for k, v in removed.items() if not k.startswith("exports/")}


def test_an_export_file_holds_the_persons_rows(erased):
    """A fresh export of an erased person finds nothing; of a present one, their rows in every place."""
    store = erased["store"]
    warehouse = erased["warehouse"]
    someone = erased["c"]
    gone = store.submit("export", erased["a"], [PROPERTY])
    present = store.submit("export", someone, [PROPERTY])
    run_privacy_requests(erased["instance"], erased["resources"], erased["cursor"])
    assert store.get(gone.request_id).detail["rows_total"] == 0
    done = store.get(present.request_id)
    document = json.loads(Path(done.export_path).read_text())
    assert Path(done.export_path) == export_file(erased["root"], present.request_id)
    raw = query(warehouse, "select event_id from raw.raw_touchpoints where user_id = ?", [someone])
    assert sorted(r["event_id"] for r in document["rows"]["raw.raw_touchpoints"]) == sorted(raw["event_id"])
    assert document["counts"]["main.fct_touchpoint_attribution"] > 0
    with connect(warehouse, read_only=True) as con:
        assert find_person(con, archive_root(warehouse), Person(someone, (PROPERTY,))).counts() == document["counts"]


def test_a_repeated_erasure_is_a_no_op(erased):
    store = erased["store"]
    before = attribution_value(erased["warehouse"])
    again = store.submit("erasure", erased["a"], [PROPERTY], workspace_id="ws")
    (output,), rebuilds = run_privacy_requests(erased["instance"], erased["resources"], erased["cursor"])
    # nothing of theirs was left (an export taken since holds no rows, and its file goes like any earlier one)
    assert [k for k in output["removed"] if not k.startswith("exports/")] == []
    assert output["already_erased"] is True and output["rebuild"] is None and rebuilds == []
    assert store.get(again.request_id).status == DONE
    assert attribution_value(erased["warehouse"]) == pytest.approx(before)
    # a request done is never redone: rerunning its job returns what it did
    result = privacy_request_job.execute_in_process(
        run_config={"ops": {"carry_out_privacy_request": {"config": {"request_id": again.request_id}}}},
        instance=erased["instance"], resources=erased["resources"],
    )
    assert result.output_for_node("carry_out_privacy_request") == output


def test_the_cli_erased_and_rebuilt_in_process(erased):
    """``cycle privacy erase --run`` (B): the request, the erasure's run and the rebuild's run, waited for."""
    assert erased["cli_exit"] == 0
    assert "rebuilding" in erased["cli_out"] and '"status": "done"' in erased["cli_out"]
    request = erased["erasures"][erased["b"]]
    assert request.kind == "erasure" and request.status == DONE and request.workspace_id == "ws"
    runs = erased["instance"].get_runs(filters=dg.RunsFilter(tags={"cycle/trigger": "cli"}))
    assert sorted(r.job_name for r in runs) == ["privacy_rebuild_job", "privacy_request_job"]


def test_a_full_backfill_does_not_bring_them_back(erased):
    """Materialize the touchpoints' raw table and the dbt models downstream of it for the three days through Dagster
    (the simulator regenerates both people's journeys): still gone, and the marts as the erasure left them."""
    warehouse = erased["warehouse"]
    after_erasure = attribution_value(warehouse)
    job = build_defs(erased["resources"]).resolve_job_def("full_pipeline_job")
    selection = [dg.AssetKey(TOUCHPOINTS.name)] + [dg.AssetKey(m) for m in downstream_models([TOUCHPOINTS.name])]
    result = job.execute_in_process(instance=erased["instance"], asset_selection=selection, tags=RANGE, raise_on_error=False)
    assert result.success
    needles = [erased["a"], erased["b"], *erased["journeys"]["journey_id"]]
    assert warehouse_mentions(warehouse, needles) == {}
    assert attribution_value(warehouse) == pytest.approx(after_erasure, rel=1e-9)
