"""The read models of /v1 over a published test snapshot (api_serving_data.build_read_models): /v1/insights (and acknowledging
one), /v1/experiments, /v1/content/hooks and /v1/content/performance. Values are the served rows', rounded like
the other routes; filters, pagination and 404s behave like the other list and detail routes; an acknowledgement is
201 once, 200 after (nothing new stored), 404 for an unknown or another workspace's insight, and a bad, oversize
or unauthorised request stores nothing."""

from __future__ import annotations

import json
import sqlite3
from types import SimpleNamespace

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_assets.contracts.access import AccessRegistry
from analytics_assets.contracts.inbound import InsightAcknowledgementStore
from api.main import create_app
from api.routes.insights import MAX_BODY_BYTES
from api_serving_data import NOW, accounts_of, make_registry, publish


@pytest.fixture(scope="module")
def snap(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("read_models")
    frames = publish(root / "serving", checksums=True)
    access = root / "access.sqlite3"
    tokens = make_registry(access, split=True, scopes=("read", "feedback"))
    tokens["reader"] = AccessRegistry(access).create_key("acme", "reader", ["read"]).token
    tokens.update(make_registry(root / "access-all.sqlite3"))  # "default": every account, read only
    return SimpleNamespace(root=root, serving=root / "serving", access=access, tokens=tokens, frames=frames)


def _app(snap: SimpleNamespace, store, access=None):
    return create_app(snap.serving, webhook_store=store, access_store=access or snap.access,
                      rate_limit="100000/minute", clock=lambda: NOW, response_cache_mb=0)


class Apps:
    """The split registry's app (acme, globex) and the one whose ``default`` workspace owns every account."""

    def __init__(self, snap: SimpleNamespace):
        self.split = _app(snap, snap.root / "inbound.sqlite3")
        self.all = _app(snap, snap.root / "inbound-all.sqlite3", snap.root / "access-all.sqlite3")


@pytest.fixture(scope="module")
def app(snap):
    return Apps(snap)


def client(app, snap, who: str = "default") -> TestClient:
    if isinstance(app, Apps):
        app = app.all if who == "default" else app.split
    return TestClient(app, headers={"X-API-Key": snap.tokens[who]})


def walk(c: TestClient, url: str) -> list[dict]:
    items, cursor = [], None
    while True:
        sep = "&" if "?" in url else "?"
        r = c.get(f"{url}{sep}limit=7" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            assert len(items) == r.json()["total"]
            return items


def own(frame: pd.DataFrame, workspace: str) -> pd.DataFrame:
    accounts = set(accounts_of(workspace))
    return frame[[(p, a) in accounts for p, a in zip(frame["platform"], frame["account_id"])]]


# ------------------------------------------------------------------------------------------- insights


def test_insights_list_every_served_row_in_order_with_its_figures(app, snap):
    frame = snap.frames["insights.parquet"]
    items = walk(client(app, snap), "/v1/insights")
    expected = frame.sort_values(["platform", "account_id", "rank", "insight_id"])
    assert [i["insight_id"] for i in items] == expected["insight_id"].tolist()
    by_id = frame.set_index("insight_id")
    for item in items:
        row = by_id.loc[item["insight_id"]]
        assert item["scope"] == row["scope"] and item["severity"] == row["severity"] and item["title"] == row["title"]
        assert item["effect"] == (None if pd.isna(row["effect"]) else round(row["effect"], 4))
        assert item["evidence"] == json.loads(row["evidence"])
    acknowledged = [i for i in items if i["acknowledged_at"]]
    assert len(acknowledged) == 1 and acknowledged[0]["acknowledged_at"] == "2024-05-15T03:00:00Z"


@pytest.mark.parametrize("query, column, value", [
    ("platform=linkedin", "platform", "linkedin"),
    ("severity=critical", "severity", "critical"),
    ("category=content", "category", "content"),
    ("account=14002", "account_id", "14002"),
])
def test_insight_filters(app, snap, query, column, value):
    frame = snap.frames["insights.parquet"]
    items = walk(client(app, snap), f"/v1/insights?{query}")
    assert sorted(i["insight_id"] for i in items) == sorted(frame.loc[frame[column] == value, "insight_id"])
    assert items


def test_one_insight_and_the_ids_that_name_none(app, snap):
    c = client(app, snap)
    insight_id = snap.frames["insights.parquet"]["insight_id"].iloc[0]
    assert c.get(f"/v1/insights/{insight_id}").json()["insight_id"] == insight_id
    missing = c.get("/v1/insights/ins_" + "f" * 24)
    assert missing.status_code == 404 and "ins_ffff" in missing.json()["detail"]
    assert c.get("/v1/insights/not-an-id").status_code == 422
    assert c.get("/v1/insights?severity=dire").status_code == 422


def _stored(store_path) -> int:
    state = InsightAcknowledgementStore(store_path).state()
    return 0 if state is None else state.events


def test_acknowledging_an_insight_once_then_again(snap, tmp_path):
    store = tmp_path / "inbound.sqlite3"
    app = _app(snap, store)
    acme = client(app, snap, "acme")
    frame = own(snap.frames["insights.parquet"], "acme")
    insight_id = frame[frame["acknowledged_at"].isna()]["insight_id"].iloc[0]
    url = f"/v1/insights/{insight_id}/acknowledge"
    first = acme.post(url, json={"note": "on it"})
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["insight_id"] == insight_id and body["acknowledgement_id"].startswith("ack_")
    assert set(body) == {"acknowledgement_id", "insight_id", "acknowledged_at"}  # the note is not echoed
    again = acme.post(url, json={"note": "different words"})
    assert again.status_code == 200 and again.json() == body
    assert acme.post(url).status_code == 200  # an empty body is {}
    assert _stored(store) == 1
    # the read routes show it before the pipeline loads it
    assert acme.get(f"/v1/insights/{insight_id}").json()["acknowledged_at"] == body["acknowledged_at"]
    listed = {i["insight_id"]: i for i in walk(acme, "/v1/insights")}
    assert listed[insight_id]["acknowledged_at"] == body["acknowledged_at"]
    stored = InsightAcknowledgementStore(store).acknowledgements([insight_id])[insight_id]
    assert (stored.note, stored.workspace_id) == ("on it", "acme")
    assert (stored.platform, stored.account_id) == tuple(frame.set_index("insight_id").loc[insight_id, ["platform", "account_id"]])


def test_an_insight_acknowledged_in_the_snapshot_is_200_and_stores_nothing(snap, tmp_path):
    store = tmp_path / "inbound.sqlite3"
    acme = client(_app(snap, store), snap, "acme")
    row = own(snap.frames["insights.parquet"], "acme").dropna(subset=["acknowledged_at"]).iloc[0]
    answer = acme.post(f"/v1/insights/{row['insight_id']}/acknowledge", json={})
    assert answer.status_code == 200, answer.text
    assert answer.json()["acknowledgement_id"] == row["acknowledgement_id"]
    assert _stored(store) == 0


def test_another_workspaces_insight_is_404_like_a_missing_one(snap, tmp_path):
    store = tmp_path / "inbound.sqlite3"
    acme = client(_app(snap, store), snap, "acme")
    foreign = own(snap.frames["insights.parquet"], "globex")["insight_id"].iloc[0]
    missing = "ins_" + "0" * 24
    a = acme.post(f"/v1/insights/{foreign}/acknowledge", json={})
    b = acme.post(f"/v1/insights/{missing}/acknowledge", json={})
    assert a.status_code == b.status_code == 404
    assert a.json()["detail"].replace(foreign, "<id>") == b.json()["detail"].replace(missing, "<id>")
    assert acme.get(f"/v1/insights/{foreign}").status_code == 404
    assert _stored(store) == 0


@pytest.mark.parametrize("body, status", [
    (b'{"note": 3}', 422),
    (b'{"note": "' + b"x" * 501 + b'"}', 422),
    (b'{"noet": "typo"}', 422),
    (b"[1, 2]", 422),
    (b"{not json", 422),
    (b'{"note": "\\ud800"}', 422),
    (b'{"note": "' + b"x" * MAX_BODY_BYTES + b'"}', 413),
])
def test_a_bad_body_is_refused_and_nothing_is_stored(snap, tmp_path, body, status):
    store = tmp_path / "inbound.sqlite3"
    acme = client(_app(snap, store), snap, "acme")
    insight_id = own(snap.frames["insights.parquet"], "acme")["insight_id"].iloc[0]
    answer = acme.post(f"/v1/insights/{insight_id}/acknowledge", content=body,
                       headers={"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    assert "xxxx" not in answer.text  # nothing of the body is echoed
    assert _stored(store) == 0


def test_acknowledging_needs_the_feedback_scope_and_a_well_formed_id(snap, tmp_path):
    store = tmp_path / "inbound.sqlite3"
    app = _app(snap, store)
    insight_id = own(snap.frames["insights.parquet"], "acme")["insight_id"].iloc[0]
    assert client(app, snap, "reader").post(f"/v1/insights/{insight_id}/acknowledge", json={}).status_code == 403
    assert TestClient(app).post(f"/v1/insights/{insight_id}/acknowledge", json={}).status_code == 401
    assert client(app, snap, "acme").post("/v1/insights/ins_XYZ/acknowledge", json={}).status_code == 422
    assert _stored(store) == 0


def test_a_store_that_cannot_be_written_is_503_and_nothing_is_stored(snap, tmp_path, monkeypatch):
    store = tmp_path / "inbound.sqlite3"
    acme = client(_app(snap, store), snap, "acme")
    frame = own(snap.frames["insights.parquet"], "acme")
    insight_id = frame[frame["acknowledged_at"].isna()]["insight_id"].iloc[0]

    def locked(self, ack):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(InsightAcknowledgementStore, "record", locked)
    answer = acme.post(f"/v1/insights/{insight_id}/acknowledge", json={})
    assert answer.status_code == 503 and "nothing was stored" in answer.json()["detail"]
    monkeypatch.undo()
    assert _stored(store) == 0


def test_the_store_keeps_one_acknowledgement_per_insight_and_refuses_edits(tmp_path):
    from datetime import datetime, timezone

    from analytics_assets.contracts.inbound import InsightAcknowledgement

    store = InsightAcknowledgementStore(tmp_path / "inbound.sqlite3")
    at = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    a = InsightAcknowledgement("ack_" + "1" * 32, "ins_" + "a" * 24, "x", "14001", at, note="n")
    b = InsightAcknowledgement("ack_" + "2" * 32, "ins_" + "a" * 24, "x", "14001", at)
    assert store.record(a) == (a.__class__(**{**a.__dict__, "seq": 1}), True)
    stored, created = store.record(b)
    assert not created and stored.acknowledgement_id == a.acknowledgement_id
    with sqlite3.connect(store.path) as con, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("update insight_acknowledgements set note = 'edited'")
    assert store.state().events == 1 and store.read_after(0)[0]["note"] == "n"


# ---------------------------------------------------------------------------------------- experiments


def test_experiments_once_each_with_the_workspaces_accounts_only(app, snap):
    frame = snap.frames["experiments.parquet"]
    for who in ("acme", "globex", "default"):
        rows = frame if who == "default" else own(frame, who)
        items = walk(client(app, snap, who), "/v1/experiments")
        expected = rows.drop_duplicates("experiment_id").sort_values(["start_date", "experiment_id"], ascending=[False, True])
        assert [i["experiment_id"] for i in items] == expected["experiment_id"].tolist(), who
        for item in items:
            mine = rows[rows["experiment_id"] == item["experiment_id"]]
            assert {(a["platform"], a["account_id"]) for a in item["accounts"]} == set(zip(mine["platform"], mine["account_id"]))
            r = mine.iloc[0]
            assert item["variants"] == [
                {"variant": r["control_variant"], "role": "control", "units": r["n_control"], "mean": round(r["control_mean"], 4)},
                {"variant": r["treatment_variant"], "role": "treatment", "units": r["n_treatment"],
                 "mean": round(r["treatment_mean"], 4)},
            ]
            assert (item["effect"], item["ci_low"], item["ci_high"]) == tuple(round(r[c], 4) for c in ("effect", "ci_low", "ci_high"))
            assert (item["status"], item["winner"]) == (r["status"], r["winner"])


def test_experiment_detail_filters_and_foreign_ids(app, snap):
    acme = client(app, snap, "acme")
    detail = acme.get("/v1/experiments/exp_20240503_creative").json()
    assert detail["winner"] == "short_video" and len(detail["accounts"]) == 2
    globex_only = acme.get("/v1/experiments/exp_20240506_targeting")
    missing = acme.get("/v1/experiments/exp_nope")
    assert globex_only.status_code == missing.status_code == 404
    assert [i["experiment_id"] for i in walk(acme, "/v1/experiments?status=inconclusive")] == ["exp_20240501_budget"]
    assert [i["experiment_id"] for i in walk(acme, "/v1/experiments?factor=creative")] == ["exp_20240503_creative"]
    assert [i["experiment_id"] for i in walk(acme, "/v1/experiments?platform=x")] == ["exp_20240503_creative"]
    assert acme.get("/v1/experiments?status=won").status_code == 422


# -------------------------------------------------------------------------------------------- content


def test_hooks_per_account_ranked_with_rounded_rates(app, snap):
    frame = snap.frames["hook_success.parquet"]
    items = walk(client(app, snap), "/v1/content/hooks")
    assert len(items) == len(frame)
    by_key = frame.set_index(["platform", "account_id", "hook_type"])
    for item in items:
        row = by_key.loc[(item["platform"], item["account_id"], item["hook_type"])]
        assert item["mean_engagement_rate"] == round(row["mean_engagement_rate"], 4)
        assert item["mean_engagement_score"] == round(row["mean_engagement_score"], 2)
        assert item["hook_rank"] == (None if pd.isna(row["hook_rank"]) else int(row["hook_rank"]))
    for (platform, account), group in pd.DataFrame(items).groupby(["platform", "account_id"], sort=False):
        ranks = [r for r in group["hook_rank"] if r == r and r is not None]
        assert ranks == sorted(ranks)  # ranked hooks first, best first
    acme = walk(client(app, snap, "acme"), "/v1/content/hooks?platform=tiktok")
    assert {(i["platform"], i["account_id"]) for i in acme} == {("tiktok", "acme_brand")}


def test_content_performance_in_a_window(app, snap):
    frame = snap.frames["content_performance.parquet"]
    days = sorted(frame["metric_date"].unique())
    start, end = days[2], days[4]
    items = walk(client(app, snap, "globex"), f"/v1/content/performance?start={start}&end={end}&dimension=hook_type")
    rows = own(frame, "globex")
    rows = rows[(rows["metric_date"] >= start) & (rows["metric_date"] <= end) & (rows["dimension"] == "hook_type")]
    assert len(items) == len(rows) > 0
    assert sum(i["impressions"] for i in items) == int(rows["impressions"].sum())
    assert [(i["metric_date"], i["platform"], i["account_id"], i["dimension_value"]) for i in items] == sorted(
        (d.isoformat(), p, a, v) for d, p, a, v in zip(rows["metric_date"], rows["platform"], rows["account_id"],
                                                       rows["dimension_value"]))
    c = client(app, snap)
    assert c.get(f"/v1/content/performance?start={end}&end={start}").status_code == 422
    assert c.get("/v1/content/performance?dimension=colour").status_code == 422


def test_graphql_answers_like_rest(app, snap):
    c = client(app, snap, "acme")
    query = """{ insights(first: 1000) { total items { insightId rank evidence acknowledgedAt effect } }
      experiments { items { experimentId accounts { accountId } variants { variant mean } winner } }
      contentHooks(first: 1000) { total } contentPerformance(first: 1000, dimension: "topic") { total }
      insight(insightId: "ins_000000000000000000000000") { insightId } }"""
    body = c.post("/v1/graphql", json={"query": query}).json()
    assert "errors" not in body, body
    data = body["data"]
    rest = c.get("/v1/insights?limit=1000").json()
    assert [(i["insightId"], i["rank"], i["evidence"], i["acknowledgedAt"], i["effect"]) for i in data["insights"]["items"]] == [
        (i["insight_id"], i["rank"], i["evidence"], i["acknowledged_at"], i["effect"]) for i in rest["items"]]
    assert [e["experimentId"] for e in data["experiments"]["items"]] == [
        e["experiment_id"] for e in c.get("/v1/experiments").json()["items"]]
    assert data["contentHooks"]["total"] == c.get("/v1/content/hooks").json()["total"]
    assert data["contentPerformance"]["total"] == c.get("/v1/content/performance?dimension=topic").json()["total"]
    assert data["insight"] is None


@pytest.fixture(scope="module")
def hostile(snap, tmp_path_factory) -> SimpleNamespace:
    """One app and store for every example: acme's key, and the ids an example may aim at."""
    store = tmp_path_factory.mktemp("hostile") / "inbound.sqlite3"
    insights = snap.frames["insights.parquet"]
    ids = {
        "own": own(insights, "acme").query("acknowledged_at.isna()")["insight_id"].iloc[0],
        "foreign": own(insights, "globex")["insight_id"].iloc[0],
        "missing": "ins_" + "e" * 24,
        "malformed": "ins_%F0%9F%92%A5",
    }
    return SimpleNamespace(store=store, client=client(_app(snap, store), snap, "acme"), ids=ids)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.integers(), st.text(max_size=600)), max_size=3).map(
            lambda d: json.dumps(d).encode()),
        st.text(max_size=700).map(lambda note: json.dumps({"note": note}).encode()),
    ),
    insight=st.sampled_from(["own", "foreign", "missing", "malformed"]),
)
def test_no_input_gets_a_5xx_and_only_a_201_stores(hostile, body, insight):
    before = _stored(hostile.store)
    answer = hostile.client.post(f"/v1/insights/{hostile.ids[insight]}/acknowledge", content=body,
                                 headers={"Content-Type": "application/json"})
    assert answer.status_code in (200, 201, 404, 413, 422), (answer.status_code, answer.text[:300])
    assert _stored(hostile.store) - before == (1 if answer.status_code == 201 else 0)
    if answer.status_code in (200, 201):
        assert insight == "own"
