"""GDPR export and erasure of one person on simulator data, end to end through ``privacy_request_job``.

Three simulated days are loaded with the project's raw loader (``parse_day`` + ``replace_partitions``, what
``raw_platform_data`` runs), dbt builds the touchpoints' lineage, the served files built from it are published,
the first day of touchpoints is archived, and the API's store holds a webhook event and a decision that name the
person. Two people are erased through the sensor and the job: A (converted; rows hot, some quarantined) and B
(rows only in the archived day). Afterwards nothing in the warehouse (every table and view, every text column),
the archive, the served files or the API's store names them or their journeys; attribution drops by exactly
their conversions' value; the exports taken before hold exactly the rows the erasure removed; and a full backfill
of the three days (raw, then dbt) does not bring them back.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster_dbt import DbtCliResource

from analytics_assets.contracts.inbound import FeedbackRecord, FeedbackStore, PrivacyRequestStore, WebhookEvent, WebhookStore
from analytics_assets.contracts.privacy import DONE, export_file
from analytics_assets.contracts.raw import RAW_TABLES, TOUCHPOINTS
from analytics_assets.contracts.serving import SERVED_TABLES
from analytics_assets.defs.privacy.requests import privacy_request_job, privacy_requests_sensor
from analytics_assets.defs.resources import ServingResource, WarehouseResource, WebhookStoreResource, dbt_executable
from analytics_assets.defs.transform.dbt import DBT_PROJECT_DIR, LOOP_SELECTION, dbt_project
from analytics_assets.defs.transform.dbt_invocation import _profile_key, _save_partial_parse, _seed_partial_parse
from analytics_assets.settings import scoped_environ
from analytics_assets.sources.parsing.loader import parse_day
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.storage.archive import archive_day, archive_root, archived_days, read_archived_day
from analytics_assets.storage.privacy import Person, find_person
from analytics_assets.storage.serving_files import publish_snapshot
from analytics_assets.storage.warehouse import connect, replace_partitions

pytestmark = pytest.mark.slow  # dbt builds three times (about 30 s each on 2 free cores)

DAYS = [date(2026, 10, 12) + timedelta(days=k) for k in range(3)]
SIM = SimulatorConfig(
    seed=5, posts_per_day=30, campaigns_per_platform=1, journeys_per_day=80, ai_generations_per_day=5,
    experiment_units_per_day=10, malformed_rate=0.04,
)
PROPERTY = "cycle-demo"  # the simulator's web property
# the served files built from the touchpoints' lineage (the rest of the snapshot needs the ML graph)
# the test's own builds skip dbt's tests (the erasure's build runs them) and, as the job does, the loop's models
NOT_BUILT = f"{LOOP_SELECTION} resource_type:test resource_type:unit_test"
SERVED_SOURCES = {"main.dim_account", "main.agg_channel_attribution_daily", "main.agg_overview_account_daily"}


def load_raw(warehouse: Path) -> None:
    """The raw layer of ``DAYS``, as ``raw_platform_data`` writes it (the simulator regenerates the same days)."""
    sim = PlatformSimulator(SIM)
    with connect(warehouse) as con:
        for day in DAYS:
            batches = parse_day(sim.day(day))
            for name, table in RAW_TABLES.items():
                replace_partitions(con, table, batches[name].rows, batches[name].quarantine, day, day)


def dbt_build(warehouse: Path, *args: str) -> None:
    dbt = DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable())
    env = {
        "CYCLE_WAREHOUSE_PATH": str(warehouse), "CYCLE_DUCKDB_THREADS": "1",
        "CYCLE_DBT_MIN_DATE": DAYS[0].isoformat(), "CYCLE_DBT_MAX_DATE": DAYS[-1].isoformat(),
        "DBT_INDIRECT_SELECTION": "cautious",
    }
    target = Path("target") / "test-privacy"
    key = _profile_key(env)
    _seed_partial_parse(DBT_PROJECT_DIR / target, key)  # the cache the job's invocations use too
    with scoped_environ(env):
        dbt.cli(["build", *args], manifest=dbt_project.manifest_path, target_path=target).wait()
    _save_partial_parse(DBT_PROJECT_DIR / target, key)


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


def pick_people(warehouse: Path, quarantine: pd.DataFrame) -> tuple[str, str]:
    """A: converted on a day that stays hot, with a quarantined record of their journey; B: converted on the
    first day (to be archived)."""
    converted = query(
        warehouse,
        "select user_id, journey_id, partition_date from raw.raw_touchpoints where event_type = 'conversion' "
        "order by user_id",
    )  # before the first day is archived
    day = pd.to_datetime(converted["partition_date"]).dt.date
    last = converted[(day > DAYS[0]) & converted["journey_id"].isin(set(quarantine["journey_id"].dropna()))]
    first = converted[day == DAYS[0]]
    assert len(last) and len(first), "the simulator should give converted people on both days"
    return str(last["user_id"].iloc[0]), str(first["user_id"].iloc[0])


def run_requests(instance: dg.DagsterInstance, resources: dict) -> list[dict]:
    """One sensor tick, then every run it requests, in order; their op outputs."""
    with dg.build_sensor_context(instance=instance, resources={"webhook_store": resources["webhook_store"]}) as ctx:
        requested = privacy_requests_sensor(ctx)
    if isinstance(requested, dg.SkipReason):
        return []
    outputs = []
    for request in requested:
        result = privacy_request_job.execute_in_process(
            run_config=request.run_config, instance=instance, resources=resources, tags=request.tags
        )
        assert result.success
        outputs.append(result.output_for_node("carry_out_privacy_request"))
    return outputs


@pytest.fixture(scope="module")
def erased(tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy_home")
    warehouse, serving, store_path = root / "warehouse.duckdb", root / "serving", root / "api" / "store.sqlite3"
    mp = pytest.MonkeyPatch()
    mp.setenv("CYCLE_HOME", str(root))
    mp.delenv("CYCLE_ARCHIVE_DIR", raising=False)
    try:
        load_raw(warehouse)
        sim_q = pd.concat(
            [pd.json_normalize([json.loads(p) for p in parse_day(PlatformSimulator(SIM).day(d))["raw_touchpoints"].quarantine["payload"]])
             for d in DAYS],
            ignore_index=True,
        )
        a, b = pick_people(warehouse, sim_q)
        journeys = query(
            warehouse, "select distinct user_id, journey_id from raw.raw_touchpoints where user_id in (?, ?)", [a, b]
        )
        # the archive: the first day of touchpoints leaves the hot table before dbt reads it (staging reads only the
        # hot table, so the marts never held that day: B's rows live only in the raw archive)
        archive = archive_root(warehouse)
        with connect(warehouse) as con:
            archive_day(con, TOUCHPOINTS, archive, DAYS[0])
        dbt_build(warehouse, "--exclude", NOT_BUILT)
        with connect(warehouse) as con:
            frames = {t.file: con.execute(t.sql).df() for t in SERVED_TABLES if t.source in SERVED_SOURCES}
        publish_snapshot(serving, frames, published_at=datetime.now(timezone.utc))
        sibling = a + "0"  # a longer id that holds A's as a prefix: must survive
        before = {
            "attribution": attribution_value(warehouse),
            "served": served_value(serving),
            "their_value": query(
                warehouse,
                "select attribution_model as model, sum(value_credit) as value from main.fct_touchpoint_attribution "
                "where user_id in (?, ?) group by 1", [a, b],
            ).set_index("model")["value"].to_dict(),
            "raw_a": len(query(warehouse, "select * from raw.raw_touchpoints where user_id = ?", [a])),
            "quarantine_a": int(sim_q["journey_id"].isin(journeys.loc[journeys["user_id"] == a, "journey_id"]).sum()),
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
        resources = {
            "warehouse": WarehouseResource(path=str(warehouse), threads=1, memory_limit="1GB"),
            "webhook_store": WebhookStoreResource(path=str(store_path)),
            "serving": ServingResource(serving_dir=str(serving)),
            "dbt": DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable()),
        }
        instance = dg.DagsterInstance.ephemeral()
        exports = {p: store.submit("export", p, [PROPERTY], workspace_id="ws") for p in (a, b)}
        erasures = {p: store.submit("erasure", p, [PROPERTY], workspace_id="ws") for p in (a, b)}
        outputs = run_requests(instance, resources)
        export_docs = {}
        for person, request in exports.items():
            done = store.get(request.request_id)
            export_docs[person] = (done, done.detail)
        yield {
            "root": root, "warehouse": warehouse, "serving": serving, "store_path": store_path, "archive": archive,
            "a": a, "b": b, "sibling": sibling, "journeys": journeys, "before": before, "exports": exports,
            "export_docs": export_docs, "erasures": erasures, "outputs": outputs, "store": store,
            "resources": resources, "instance": instance,
        }
    finally:
        mp.undo()


def test_the_erasure_removes_the_people_from_every_table_file_and_store(erased):
    a, b = erased["a"], erased["b"]
    needles = [a, b, *erased["journeys"]["journey_id"]]
    for request in erased["erasures"].values():
        assert erased["store"].get(request.request_id).status == DONE
    assert warehouse_mentions(erased["warehouse"], needles) == {}
    assert parquet_mentions(erased["archive"], needles) == {}
    assert parquet_mentions(erased["serving"], needles) == {}
    assert sqlite_mentions(erased["store_path"], needles) == {}
    # the longer id that merely starts with A's is someone else: kept
    assert sqlite_mentions(erased["store_path"], [erased["sibling"]]) == {"webhook_events": 1}
    # what each erasure says it removed: A's hot rows, quarantined records, marts, store rows; B's archived day
    removed_a = erased["store"].get(erased["erasures"][a].request_id).detail["removed"]
    assert removed_a["raw.raw_touchpoints"] == erased["before"]["raw_a"]
    assert removed_a["raw.raw_quarantine"] == erased["before"]["quarantine_a"] > 0
    assert removed_a["main.fct_touchpoint_attribution"] > 0
    assert removed_a["api_store.webhook_events"] == 1 and removed_a["api_store.recommendation_feedback"] == 1
    removed_b = erased["store"].get(erased["erasures"][b].request_id).detail["removed"]
    assert f"archive/raw_touchpoints/partition_date={DAYS[0].isoformat()}" in removed_b
    assert "raw.raw_touchpoints" not in removed_b  # its day was archived
    # the archive still holds everyone else of that day
    assert len(read_archived_day(TOUCHPOINTS.name, DAYS[0], erased["archive"])) > 0


def test_attribution_drops_by_exactly_their_conversions(erased):
    before, their = erased["before"]["attribution"], erased["before"]["their_value"]
    after = attribution_value(erased["warehouse"])
    served = served_value(erased["serving"])
    for model, value in before.items():
        assert their.get(model, 0) > 0
        assert after[model] == pytest.approx(value - their[model], rel=1e-9)
        assert served[model] == pytest.approx(erased["before"]["served"][model] - their[model], rel=1e-9)


def test_the_audit_names_counts_never_the_user(erased):
    audit = query(erased["warehouse"], "select * from raw.raw_privacy_audit order by requested_at")
    assert sorted(audit["kind"]) == ["erasure", "erasure", "export", "export"]
    assert audit["user_hash"].str.fullmatch(r"[0-9a-f]{64}").all()
    erasure_a = audit[audit["request_id"] == erased["erasures"][erased["a"]].request_id].iloc[0]
    items = json.loads(erasure_a["items"])
    assert erasure_a["rows_total"] == sum(items.values()) > 0
    # the exports' and erasures' hashes of one person agree (one salt), and differ between people
    by_kind = audit.groupby("kind")["user_hash"].apply(set)
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


def test_an_export_file_holds_the_persons_rows(tmp_path, erased, monkeypatch):
    """A fresh export of an erased person finds nothing; of a present one, their rows in every place."""
    monkeypatch.setenv("CYCLE_HOME", str(erased["root"]))
    store = erased["store"]
    warehouse = erased["warehouse"]
    someone = query(warehouse, "select user_id from raw.raw_touchpoints where event_type = 'conversion' limit 1").iloc[0, 0]
    gone = store.submit("export", erased["a"], [PROPERTY])
    present = store.submit("export", someone, [PROPERTY])
    run_requests(erased["instance"], erased["resources"])
    assert store.get(gone.request_id).detail["rows_total"] == 0
    done = store.get(present.request_id)
    document = json.loads(Path(done.export_path).read_text())
    assert Path(done.export_path) == export_file(erased["root"], present.request_id)
    raw = query(warehouse, "select event_id from raw.raw_touchpoints where user_id = ?", [someone])
    assert sorted(r["event_id"] for r in document["rows"]["raw.raw_touchpoints"]) == sorted(raw["event_id"])
    assert document["counts"]["main.fct_touchpoint_attribution"] > 0
    with connect(warehouse, read_only=True) as con:
        assert find_person(con, erased["archive"], Person(someone, (PROPERTY,))).counts() == document["counts"]


def test_a_repeated_erasure_is_a_no_op(erased):
    store = erased["store"]
    before = attribution_value(erased["warehouse"])
    again = store.submit("erasure", erased["a"], [PROPERTY], workspace_id="ws")
    (output,) = run_requests(erased["instance"], erased["resources"])
    # nothing of theirs was left (an export taken since holds no rows, and its file goes like any earlier one)
    assert [k for k in output["removed"] if not k.startswith("exports/")] == []
    assert output["already_erased"] is True and output["rebuilt_models"] == []
    assert store.get(again.request_id).status == DONE
    assert attribution_value(erased["warehouse"]) == pytest.approx(before)
    # a request done is never redone: rerunning its job returns what it did
    result = privacy_request_job.execute_in_process(
        run_config={"ops": {"carry_out_privacy_request": {"config": {"request_id": again.request_id}}}},
        instance=erased["instance"], resources=erased["resources"],
    )
    assert result.output_for_node("carry_out_privacy_request") == output


def test_a_full_backfill_does_not_bring_them_back(erased):
    """Reload the three days from the simulator (it regenerates both people's journeys), rebuild dbt: still gone."""
    warehouse = erased["warehouse"]
    after_erasure = attribution_value(warehouse)
    load_raw(warehouse)  # the backfill: the archived day comes back hot, regenerated
    hot = query(warehouse, "select user_id, partition_date from raw.raw_touchpoints")
    assert (pd.to_datetime(hot["partition_date"]).dt.date == DAYS[0]).sum() > 0
    dbt_build(warehouse, "--select", "source:raw.raw_touchpoints+", "--exclude", NOT_BUILT)
    needles = [erased["a"], erased["b"], *erased["journeys"]["journey_id"]]
    assert warehouse_mentions(warehouse, needles) == {}
    assert parquet_mentions(erased["archive"], needles) == {}
    assert archived_days(TOUCHPOINTS.name, erased["archive"]) == [DAYS[0]]
    # the days the marts held are exactly as the erasure left them; the first day is back, without B
    later = query(
        warehouse,
        "select model, sum(conversion_value) as value from main.agg_channel_attribution_daily "
        "where conversion_date > ? group by model", [DAYS[0]],
    )
    assert dict(zip(later["model"], later["value"])) == pytest.approx(after_erasure, rel=1e-9)
    assert attribution_value(warehouse)["linear"] > after_erasure["linear"]
