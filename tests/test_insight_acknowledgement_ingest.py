"""Acknowledgements of insights flow one way: the API's store (insight_acknowledgements) -> the sensor's request ->
raw.raw_insight_acknowledgements -> account_insights' acknowledged_at. Loading is idempotent on (store_id, store_seq),
the sensor asks for a load only when the store holds acknowledgements past the last one, and the served insight
takes the first acknowledgement loaded for it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg
import duckdb
import pandas as pd

from analytics_assets.contracts.inbound import (
    INSIGHT_ACK_RAW_COLUMNS,
    AuditRecord,
    AuditStore,
    InsightAcknowledgement,
    InsightAcknowledgementStore,
)
from analytics_assets.contracts.serving import ACCOUNT_INSIGHTS_TABLE
from analytics_assets.defs.analysis.insights import account_insights
from analytics_assets.defs.ingest.insight_acknowledgements import (
    TABLE,
    insight_acknowledgements_sensor,
    raw_insight_acknowledgements,
)
from inbound_copy_testing import evaluate_sensor, inbound_env, materialize_copy
from ml.insights import Finding, rank_findings

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def ack(i: int, insight_id: str | None = None) -> InsightAcknowledgement:
    return InsightAcknowledgement(
        acknowledgement_id=f"ack_{i:032x}", insight_id=insight_id or f"ins_{i:024x}", platform="linkedin",
        account_id="urn:li:organization:1001", received_at=T0 + timedelta(minutes=i), workspace_id="acme",
        key_id="0123456789ab", note=f"note {i} – ünïcode",
    )


def rows(warehouse) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cols = [c for c in INSIGHT_ACK_RAW_COLUMNS if c != "loaded_at"]
        return con.execute(f"select {', '.join(cols)} from {TABLE} order by store_id, store_seq").fetchall()
    finally:
        con.close()


def test_store_to_sensor_to_raw_table_once(tmp_path, monkeypatch):
    resources, instance, warehouse, store_path = inbound_env(tmp_path, monkeypatch)
    assert isinstance(evaluate_sensor(insight_acknowledgements_sensor, resources, instance), dg.SkipReason)
    AuditStore(store_path).append([AuditRecord(T0, "GET", "/v1/insights", 200, 10, 1.0)])  # not acknowledgements
    assert isinstance(evaluate_sensor(insight_acknowledgements_sensor, resources, instance), dg.SkipReason)

    store = InsightAcknowledgementStore(store_path)
    assert store.record(ack(1))[1] and store.record(ack(2))[1]
    assert not store.record(ack(3, insight_id=ack(1).insight_id))[1]  # the first stays
    request = evaluate_sensor(insight_acknowledgements_sensor, resources, instance)
    store_id = store.state().store_id
    assert isinstance(request, dg.RunRequest) and request.run_key == f"insight-acknowledgements-{store_id}-2"

    meta = materialize_copy(raw_insight_acknowledgements, resources, instance)
    assert meta["loaded_acknowledgements"].value == 2 and meta["loaded_by_platform"].value == {"linkedin": 2}
    loaded = rows(warehouse)
    assert [(r[0], r[1], r[3], r[8], r[9]) for r in loaded] == [
        (store_id, 1, ack(1).insight_id, "note 1 – ünïcode", datetime(2026, 3, 1, 9, 1)),
        (store_id, 2, ack(2).insight_id, "note 2 – ünïcode", datetime(2026, 3, 1, 9, 2)),
    ]
    assert isinstance(evaluate_sensor(insight_acknowledgements_sensor, resources, instance), dg.SkipReason)
    assert materialize_copy(raw_insight_acknowledgements, resources, instance)["loaded_acknowledgements"].value == 0
    assert rows(warehouse) == loaded  # a rerun loads nothing twice


def _insights_inputs(warehouse) -> str:
    """The tables account_insights reads, with two findings (a platform's, every account's); returns the id
    of the platform finding's insight for linkedin's first account."""
    from ml.insights import findings_per_account

    findings = rank_findings([
        Finding("posting_time", "linkedin posts at 09:00 UTC", "09:00 is best", "post then", "medium", "score",
                effect=0.3, platform="linkedin"),
        Finding("warning", "feature drift", "drifted", "check", "medium", "drift share", effect=0.4),
    ]).assign(window_start=pd.Timestamp("2026-02-01"), window_end=pd.Timestamp("2026-02-28"),
              generated_at=pd.Timestamp("2026-03-01 06:00"))
    accounts = pd.DataFrame([("linkedin", "urn:li:organization:1001", "organic"), ("linkedin", "urn:li:organization:2002", "organic"),
                             ("meta_ads", "act_1", "paid")], columns=["platform", "account_id", "channel_type"])
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema if not exists analysis")
        con.register("f", findings)
        con.execute("create or replace table analysis.insights as select * from f")
        con.register("a", accounts)
        con.execute("create or replace table main.dim_account as select * from a")
        con.execute("""create or replace table analysis.boost_effectiveness (platform varchar, account_id varchar,
                       status varchar, relative_lift double, flight_start_at timestamp)""")
        con.execute("""create or replace table analysis.account_experiments (experiment_id varchar, platform varchar,
                       account_id varchar)""")
    finally:
        con.close()
    table = findings_per_account(findings, accounts, pd.DataFrame(columns=["platform", "account_id"]),
                                 pd.DataFrame(columns=["experiment_id", "platform", "account_id"]))
    return table[(table["account_id"] == "urn:li:organization:1001") & (table["scope"] == "platform")]["insight_id"].iloc[0]


def test_account_insights_take_the_first_loaded_acknowledgement(tmp_path, monkeypatch):
    resources, instance, warehouse, store_path = inbound_env(tmp_path, monkeypatch)
    insight_id = _insights_inputs(warehouse)
    result = dg.materialize([account_insights], resources={"warehouse": resources["warehouse"]}, instance=instance)
    assert result.success  # before any acknowledgement was ever loaded (the raw table does not exist yet)
    con = duckdb.connect(str(warehouse), read_only=True)
    served = con.execute(f"select * from {ACCOUNT_INSIGHTS_TABLE}").df()
    con.close()
    assert len(served) == 2 + 3 and served["acknowledged_at"].isna().all()  # linkedin's two + every account

    InsightAcknowledgementStore(store_path).record(ack(7, insight_id=insight_id))
    materialize_copy(raw_insight_acknowledgements, resources, instance)
    assert dg.materialize([account_insights], resources={"warehouse": resources["warehouse"]}, instance=instance).success
    con = duckdb.connect(str(warehouse), read_only=True)
    served = con.execute(f"select * from {ACCOUNT_INSIGHTS_TABLE}").df().set_index("insight_id")
    con.close()
    acknowledged = served["acknowledged_at"].dropna()
    assert acknowledged.index.tolist() == [insight_id]
    assert acknowledged.iloc[0] == pd.Timestamp("2026-03-01 09:07")
    assert served.loc[insight_id, "acknowledgement_id"] == ack(7).acknowledgement_id
