"""Tombstones at the storage layer, fast and without dbt: every raw writer drops an erased person's rows and the
quarantined records naming them or their journeys inside its own transaction; an archived day is rewritten and
read without them; the API's store deletes what names them in one recorded transaction and stays append-only."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone

import pandas as pd
import pytest

from analytics_assets.contracts.inbound import PrivacyRequestStore, WebhookEvent, WebhookStore
from analytics_assets.contracts.raw import QUARANTINE_COLUMNS, TOUCHPOINTS
from analytics_assets.storage.archive import archive_day, erase_from_archived_day, read_archived_day
from analytics_assets.storage.privacy import Person, erase_person, find_person
from analytics_assets.storage.tombstones import load_tombstones
from analytics_assets.storage.warehouse import connect, replace_partitions, upsert_rows

DAY = date(2026, 10, 12)
ERASED, KEPT = "anon_erased", "anon_kept"


def events(user: str, journey: str, prop: str | None = "site") -> pd.DataFrame:
    at = pd.Timestamp("2026-10-12 10:00")
    return pd.DataFrame({
        "property_id": [prop, prop], "event_id": [f"{journey}_0", f"{journey}_conv"], "journey_id": [journey] * 2,
        "user_id": [user] * 2, "event_at": [at, at + pd.Timedelta(minutes=5)], "event_type": ["touchpoint", "conversion"],
        "utm_source": ["google", None], "utm_medium": ["cpc", None], "utm_campaign": [None, None],
        "utm_content": [None, None], "conversion_value": [None, 50.0], "currency": [None, "USD"],
        "partition_date": [DAY, DAY], "loaded_at": [at, at],
    })


def quarantined(journey: str, user: str | None) -> pd.DataFrame:
    payload = {"property_id": "site", "event_id": f"{journey}_1", "journey_id": journey, "anonymous_id": user}
    return pd.DataFrame([{
        "source_table": TOUCHPOINTS.name, "partition_date": DAY, "platform": None, "record_key": f"{journey}_1",
        "reason": "missing anonymous_id", "payload": json.dumps(payload), "quarantined_at": pd.Timestamp("2026-10-12"),
    }])[list(QUARANTINE_COLUMNS)]


def load(con, *, writer=replace_partitions) -> None:
    rows = pd.concat([events(ERASED, "jrn_e"), events(KEPT, "jrn_k")], ignore_index=True)
    q = pd.concat([quarantined("jrn_e", None), quarantined("jrn_k", None)], ignore_index=True)
    if writer is replace_partitions:
        replace_partitions(con, TOUCHPOINTS, rows, q, DAY, DAY)
    else:
        upsert_rows(con, TOUCHPOINTS, rows, q)


def users(con) -> list[str]:
    return sorted(set(con.execute("select user_id from raw.raw_touchpoints").df()["user_id"]))


def quarantined_journeys(con) -> list[str]:
    frame = con.execute("select payload from raw.raw_quarantine").df()
    return sorted({json.loads(p)["journey_id"] for p in frame["payload"]})


@pytest.mark.parametrize("writer", [replace_partitions, upsert_rows])
def test_every_raw_writer_drops_the_erased_person_and_their_journeys(tmp_path, writer):
    with connect(tmp_path / "w.duckdb") as con:
        load(con)
        person = Person(ERASED, ("site",))
        assert find_person(con, tmp_path / "archive", person).counts() == {
            "raw.raw_quarantine": 1, "raw.raw_touchpoints": 2,
        }
        erasure = erase_person(con, tmp_path / "archive", person, request_id="era_" + "0" * 32, workspace_id="ws",
                               requested_at=datetime.now(timezone.utc))
        assert erasure.removed == {"raw.raw_quarantine": 1, "raw.raw_touchpoints": 2} and erasure.days == [DAY]
        load(con, writer=writer)  # the rerun brings the same records: the erased ones never commit
        assert users(con) == [KEPT]
        assert quarantined_journeys(con) == ["jrn_k"]
        # another property's person of the same id is someone else
        replace_partitions(con, TOUCHPOINTS, events(ERASED, "jrn_o", prop="other"), quarantined("jrn_o", ERASED)[:0], DAY, DAY)
        assert users(con) == [ERASED]
        tombs = con.execute("select * from raw.raw_privacy_tombstones").df()
        assert set(tombs["subject"]) == {"user", "journey"} and not tombs.isin([ERASED, "jrn_e"]).any().any()


def test_an_archived_day_is_rewritten_and_read_without_them(tmp_path):
    root = tmp_path / "archive"
    with connect(tmp_path / "w.duckdb") as con:
        load(con)
        archive_day(con, TOUCHPOINTS, root, DAY)
        erasure = erase_person(con, root, Person(ERASED, ("site",)), request_id="era_" + "1" * 32, workspace_id=None,
                               requested_at=datetime.now(timezone.utc))
        assert erasure.removed == {"raw.raw_quarantine": 1, f"archive/raw_touchpoints/partition_date={DAY}": 2}
        assert erasure.days == []  # nothing hot: dbt has nothing to rebuild
        tombstones = load_tombstones(con)
    assert sorted(set(read_archived_day(TOUCHPOINTS.name, DAY, root)["user_id"])) == [KEPT]
    assert erase_from_archived_day(TOUCHPOINTS, root, DAY, tombstones) == 0  # idempotent


def test_reading_an_archived_day_filters_tombstoned_people(tmp_path):
    """A file not rewritten yet (archived elsewhere when the erasure ran) is read without them all the same."""
    root = tmp_path / "archive"
    with connect(tmp_path / "w.duckdb") as con:
        load(con)
        archive_day(con, TOUCHPOINTS, root, DAY)
        erase_person(con, tmp_path / "elsewhere", Person(ERASED, ("site",)), request_id="era_" + "2" * 32,
                     workspace_id=None, requested_at=datetime.now(timezone.utc))
        tombstones = load_tombstones(con)
    assert sorted(set(read_archived_day(TOUCHPOINTS.name, DAY, root)["user_id"])) == [ERASED, KEPT]
    assert sorted(set(read_archived_day(TOUCHPOINTS.name, DAY, root, tombstones=tombstones)["user_id"])) == [KEPT]


def test_the_api_store_deletes_what_names_them_and_stays_append_only(tmp_path):
    path = tmp_path / "store.sqlite3"
    WebhookStore(path).append([
        WebhookEvent("meta", "e1", {"visitor": ERASED}), WebhookEvent("meta", "e2", {"visitor": ERASED + "x"}),
    ], delivery_id="d")
    store = PrivacyRequestStore(path)
    request = store.submit("erasure", ERASED, ["site"], workspace_id="ws")
    assert store.erase_naming(ERASED, request.request_id) == {"webhook_events": 1}
    assert [r["event_id"] for r in WebhookStore(path).read_after(0)] == ["e2"]
    store.mark(request.request_id, "done", {"rows_total": 1}, redact_user_as="ab" * 32)
    assert store.get(request.request_id).user_id == "sha256:" + "ab" * 32
    con = sqlite3.connect(path)
    try:
        assert con.execute("select table_name, rows from privacy_store_erasures").fetchall() == [("webhook_events", 1)]
        for sql in ("delete from webhook_events", "update privacy_requests set user_id = 'x'", "delete from privacy_requests"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute(sql)
    finally:
        con.close()


def test_a_tracked_event_taken_before_the_erasure_and_loaded_after_it_is_dropped(tmp_path):
    """The API stored the person's tracked touchpoint before their erasure was asked (so its door let it in), and
    the warehouse's tombstone is written before the loader copies it: the copy drops it, keeps everyone else's."""
    from analytics_assets.contracts.events import event_json, parse_event
    from analytics_assets.contracts.inbound import TrackedEventRecord, TrackedEventStore
    from analytics_assets.storage.tracked_events import copy_from_store

    path = tmp_path / "store.sqlite3"
    events = [
        parse_event({"type": "touchpoint", "event_id": f"tp-{user}", "timestamp": "2026-10-12T10:00:00Z",
                     "property_id": "site", "journey_id": f"jrn-{user}", "user_id": user, "utm_source": "google",
                     "utm_medium": "cpc"})[0]
        for user in (ERASED, KEPT)
    ]
    TrackedEventStore(path).append(
        [TrackedEventRecord(e.event_id, e.type, event_json(e)) for e in events], workspace_id="ws"
    )
    with connect(tmp_path / "w.duckdb") as con:
        erase_person(con, tmp_path / "archive", Person(ERASED, ("site",)), request_id="era_" + "3" * 32,
                     workspace_id="ws", requested_at=datetime.now(timezone.utc))
        copy_from_store(con, TrackedEventStore(path))
        loaded = con.execute("select user_id, journey_id from raw.raw_tracked_touchpoints").fetchall()
    assert loaded == [(KEPT, f"jrn-{KEPT}")]
