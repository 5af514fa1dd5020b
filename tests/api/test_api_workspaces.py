"""Workspace isolation, as a property: for any partition of the test accounts among 1-4 workspaces (some
accounts owned by nobody), every data route answers each workspace's key with its own accounts' rows only
(no account, post, campaign or boost id of another account anywhere in the response) and with totals that
are the sums over its own accounts. Another workspace's campaign or boost is answered like one that does
not exist, and so is another workspace's insight or experiment. GraphQL (/v1/graphql) answers the same key with
the same rows, and null for another workspace's campaign, boost, insight or experiment. The read models (insights,
experiments, hook and content effectiveness) are in the snapshot (api_serving_data.build_read_models)."""

from __future__ import annotations

import math
import re
import tempfile
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from analytics_assets.contracts.access import Account, AccessRegistry
from api.main import create_app
from api_serving_data import ALL_MODELS, FIRST_DAY, MODELS, NOW, ORGANIC, PAID, accounts_of, make_registry, publish

ACCOUNT_LIST = accounts_of()
ID_COLUMNS = ("account_id", "post_id", "campaign_id", "boost_id", "insight_id")
ADDITIVE_OVERVIEW = ("spend_usd", "revenue_usd", "paid_conversions", "paid_impressions", "paid_clicks",
                     "organic_impressions", "organic_engagements", "posts_published", "ai_calls", "ai_cost_usd")


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> SimpleNamespace:
    """One published snapshot for every example, and the ids each account's rows carry."""
    root = tmp_path_factory.mktemp("workspaces")
    serving = root / "serving"
    frames = publish(serving, checksums=True)
    owner: dict[str, tuple[str, str]] = {}
    for name, df in frames.items():
        if "account_id" not in df.columns:
            continue
        for column in ID_COLUMNS:
            if column not in df.columns:
                continue
            for platform, account_id, value in zip(df["platform"], df["account_id"], df[column]):
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    continue
                previous = owner.setdefault(str(value), (platform, account_id))
                assert previous == (platform, account_id), f"{name}.{column} {value} names two accounts"
    last_day = max(frames["overview_daily.parquet"]["metric_date"])
    return SimpleNamespace(root=root, serving=serving, frames=frames, owner=owner, last_day=last_day)


def _own(df: pd.DataFrame, accounts: set[tuple[str, str]]) -> pd.DataFrame:
    keys = list(zip(df["platform"], df["account_id"]))
    return df[[k in accounts for k in keys]]


def _strings(doc: Any):
    """Every string in a JSON document, keys included."""
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from _strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _strings(v)


def _close(actual: float | None, expected: float, tol: float = 0.011) -> bool:
    return actual is not None and abs(actual - expected) <= tol + 1e-9 * abs(expected)


class KeyClient:
    """Requests with one key through a shared client (a TestClient per key would start an event loop per
    request)."""

    def __init__(self, client: TestClient, headers: dict[str, str]):
        self.client, self.headers = client, headers

    def get(self, url: str):
        return self.client.get(url, headers=self.headers)

    def post(self, url: str, json: Any):
        return self.client.post(url, json=json, headers=self.headers)


class Workspace:
    """One workspace of an example: its key's client and what it may see."""

    def __init__(self, name: str, client: Any, accounts: set[tuple[str, str]], snap: SimpleNamespace):
        self.name, self.client, self.accounts, self.snap = name, client, accounts, snap
        self.foreign = {i for i, acc in snap.owner.items() if acc not in accounts}
        self.frames = {n: (_own(df, accounts) if "account_id" in df.columns else df) for n, df in snap.frames.items()}

    def get(self, url: str, status: int = 200) -> Any:
        response = self.client.get(url)
        assert response.status_code == status, (self.name, url, response.status_code, response.text[:500])
        body = response.json()
        leaked = sorted({s for s in _strings(body) if s in self.foreign})
        assert not leaked, f"{self.name} {url} leaks ids of other accounts: {leaked[:5]}"
        return body


def check_workspace(ws: Workspace) -> None:
    snap, f = ws.snap, ws.frames
    platforms_owned = {p for p, _ in ws.accounts}

    # -- the workspace and its accounts
    body = ws.get("/v1/accounts")
    assert body["workspace_id"] == ws.name
    assert {(a["platform"], a["account_id"]) for a in body["accounts"]} == ws.accounts
    ws.get("/v1/health")

    # -- optimal hours: the platforms it has an organic account on
    body = ws.get("/v1/optimal-hours?top=24")
    assert {p["platform"] for p in body["platforms"]} == platforms_owned & set(ORGANIC)

    # -- daily rollups: each (day, platform, channel type) is the sum over its own accounts
    body = ws.get("/v1/rollups/daily?limit=1000")
    assert body["next_cursor"] is None
    daily = f["account_daily.parquet"]
    expected = daily.groupby(["metric_date", "platform", "channel_type"]).agg(
        posts=("posts", "sum"), impressions=("impressions", "sum"), clicks=("clicks", "sum"),
        engagements=("engagements", "sum"), spend_usd=("spend_usd", "sum"),
        revenue_usd=("revenue_usd", "sum"), conversions=("conversions", "sum"),
    )
    got = {(r["metric_date"], r["platform"], r["channel_type"]): r for r in body["rows"]}
    assert body["total"] == len(expected) == len(got)
    for (day, platform, channel_type), e in expected.iterrows():
        r = got[(day.isoformat(), platform, channel_type)]
        for column in ("posts", "impressions", "clicks", "engagements"):
            assert r[column] == int(e[column]), (ws.name, day, platform, column)
        assert _close(r["spend_usd"], float(e["spend_usd"]))
        if channel_type == "paid":
            assert _close(r["revenue_usd"], float(e["revenue_usd"]))
            assert _close(r["conversions"], float(e["conversions"]))
    assert math.isclose(sum(r["impressions"] for r in body["rows"]), int(daily["impressions"].sum()))

    # -- platform comparison: spend per paid platform over its own ad accounts
    body = ws.get("/v1/platforms/comparison")
    paid = daily[daily["channel_type"] == "paid"].groupby("platform")["spend_usd"].sum()
    assert {p["platform"] for p in body["platforms"]} == set(paid.index)
    for p in body["platforms"]:
        assert _close(p["spend_usd"], float(paid[p["platform"]]))

    # -- overview: every additive metric is the sum over its own accounts' days of the window
    overview = f["overview_daily.parquet"]
    start, end = snap.last_day - timedelta(days=3), snap.last_day
    body = ws.get(f"/v1/overview?start={start}&end={end}")
    current = {m["metric"]: m["current"] for m in body["metrics"]}
    window = overview[(overview["metric_date"] >= start) & (overview["metric_date"] <= end)]
    if window.empty:
        assert all(v is None for v in current.values()), (ws.name, current)
        assert body["current_days_with_data"] == 0
    else:
        for column in ADDITIVE_OVERVIEW:
            assert _close(current[column], float(window[column].sum()), 1e-3), (ws.name, column)
    if overview.empty:
        ws.get("/v1/overview", status=404)  # no day of data to default the window to
    else:
        assert ws.get("/v1/overview")["end"] == max(overview["metric_date"]).isoformat()

    # -- attribution: rule-based totals are sums over its own properties' days, data-driven ones over the models
    credit = f["attribution_daily.parquet"]
    for model in MODELS:
        body = ws.get(f"/v1/attribution?model={model}")
        rows = credit[credit["model"] == model]
        assert _close(body["total_conversions"], float(rows["conversions"].sum())), (ws.name, model)
        assert _close(body["total_conversion_value"], float(rows["conversion_value"].sum())), (ws.name, model)
        per_channel = rows.groupby("channel")["conversions"].sum()
        assert {c["channel"] for c in body["channels"]} == set(per_channel.index)
        for c in body["channels"]:
            assert _close(c["conversions"], float(per_channel[c["channel"]]))
    fitted = f["attribution_models.parquet"]
    for model in ALL_MODELS[len(MODELS):]:
        body = ws.get(f"/v1/attribution?model={model}")
        assert _close(body["total_conversions"], float(fitted[fitted["model"] == model]["conversions"].sum()))
    body = ws.get("/v1/attribution/models")
    assert body["models"] == ([m for m in ALL_MODELS if m in set(fitted["model"])] if not fitted.empty else [])

    # -- campaigns: its own ad accounts' campaigns, once each
    campaigns = f["campaigns.parquet"]
    body = ws.get("/v1/campaigns?limit=1000")
    assert sorted((c["platform"], c["campaign_id"]) for c in body["items"]) == sorted(
        zip(campaigns["platform"], campaigns["campaign_id"]))
    spend = f["campaign_daily.parquet"].groupby("campaign_id")["spend_usd"].sum()
    for c in body["items"]:
        assert _close(c["totals"]["spend_usd"], float(spend[c["campaign_id"]]))
    if not campaigns.empty:
        platform, campaign_id = campaigns.iloc[0]["platform"], campaigns.iloc[0]["campaign_id"]
        assert ws.get(f"/v1/campaigns/{platform}/{quote(campaign_id, safe='')}")["campaign_id"] == campaign_id
        assert ws.get(f"/v1/campaigns/{platform}/{quote(campaign_id, safe='')}/daily")["total"] > 0

    # -- top posts: the best of its own posts
    posts = f["top_posts.parquet"].sort_values("engagement_score", ascending=False)
    body = ws.get("/v1/posts/top?limit=20")
    assert [p["post_id"] for p in body["items"]] == list(posts["post_id"][:20])

    # -- heatmap: posts per cell summed over its own organic accounts
    cells = f["engagement_heatmap.parquet"].groupby(["platform", "publish_dow", "publish_hour"])["posts"].sum()
    body = ws.get("/v1/engagement/heatmap")
    assert {(c["platform"], c["publish_dow"], c["publish_hour"]): c["posts"] for c in body["cells"]} == {
        k: int(v) for k, v in cells.items() if v > 0}

    # -- boosts: its own, with their split
    boosts = f["boosts.parquet"]
    body = ws.get("/v1/boosts?limit=1000")
    assert sorted(b["boost_id"] for b in body["items"]) == sorted(boosts["boost_id"])
    if not boosts.empty:
        detail = ws.get(f"/v1/boosts/{quote(boosts.iloc[0]['boost_id'], safe='')}")
        assert detail["organic_vs_paid"]["campaign_id"] == f"bc-{boosts.iloc[0]['boost_id']}"

    # -- insights: its own accounts' rows, each once
    insights = f["insights.parquet"]
    body = ws.get("/v1/insights?limit=1000")
    assert sorted(i["insight_id"] for i in body["items"]) == sorted(insights["insight_id"])
    assert {(i["platform"], i["account_id"]) for i in body["items"]} <= ws.accounts
    if not insights.empty:
        assert ws.get(f"/v1/insights/{insights.iloc[0]['insight_id']}")["account_id"] == insights.iloc[0]["account_id"]

    # -- experiments: those its accounts boosted during, naming only its accounts
    experiments = f["experiments.parquet"]
    body = ws.get("/v1/experiments?limit=1000")
    assert sorted(e["experiment_id"] for e in body["items"]) == sorted(set(experiments["experiment_id"]))
    for e in body["items"]:
        assert {(a["platform"], a["account_id"]) for a in e["accounts"]} == set(
            zip(*(experiments.loc[experiments["experiment_id"] == e["experiment_id"], c] for c in ("platform", "account_id"))))
        assert ws.get(f"/v1/experiments/{e['experiment_id']}") == e

    # -- hook and content effectiveness: its own organic accounts' rows
    hooks = f["hook_success.parquet"]
    body = ws.get("/v1/content/hooks?limit=1000")
    assert body["total"] == len(hooks)
    assert {(h["platform"], h["account_id"]) for h in body["items"]} == set(zip(hooks["platform"], hooks["account_id"]))
    content = f["content_performance.parquet"]
    body = ws.get(f"/v1/content/performance?start={snap.last_day}&end={snap.last_day}&limit=1000")
    last = content[content["metric_date"] == snap.last_day]
    assert body["total"] == len(last)
    assert sum(r["impressions"] for r in body["items"]) == int(last["impressions"].sum())


def assert_not_found_alike(ws: Workspace, foreign_url: str, foreign_id: str, missing_url: str, missing_id: str) -> None:
    """Another workspace's id gets exactly the answer of an id that does not exist."""
    a, b = ws.client.get(foreign_url), ws.client.get(missing_url)
    assert a.status_code == b.status_code == 404, (foreign_url, a.status_code, b.status_code)
    assert set(a.json()) == set(b.json()) == {"detail"}
    assert a.json()["detail"].replace(foreign_id, "<id>") == b.json()["detail"].replace(missing_id, "<id>")
    assert set(a.headers) == set(b.headers)


def check_foreign_ids(ws: Workspace) -> None:
    frames = ws.snap.frames
    campaigns = frames["campaigns.parquet"]
    foreign = campaigns[[(p, a) not in ws.accounts for p, a in zip(campaigns["platform"], campaigns["account_id"])]]
    for platform, campaign_id in list(zip(foreign["platform"], foreign["campaign_id"]))[-1:]:
        missing = f"{campaign_id}-nope"
        for tail in ("", "/daily"):
            assert_not_found_alike(
                ws, f"/v1/campaigns/{platform}/{campaign_id}{tail}", campaign_id,
                f"/v1/campaigns/{platform}/{missing}{tail}", missing,
            )
    boosts = frames["boosts.parquet"]
    foreign = boosts[[(p, a) not in ws.accounts for p, a in zip(boosts["platform"], boosts["account_id"])]]
    for boost_id in list(foreign["boost_id"])[-1:]:
        missing = boost_id.replace("bst-", "bst-nope-")
        assert_not_found_alike(ws, f"/v1/boosts/{quote(boost_id, safe='')}", boost_id,
                               f"/v1/boosts/{quote(missing, safe='')}", missing)
    insights = frames["insights.parquet"]
    foreign = insights[[(p, a) not in ws.accounts for p, a in zip(insights["platform"], insights["account_id"])]]
    for insight_id in list(foreign["insight_id"])[-1:]:
        missing = "ins_" + "0" * 24
        assert_not_found_alike(ws, f"/v1/insights/{insight_id}", insight_id, f"/v1/insights/{missing}", missing)
    experiments = frames["experiments.parquet"]
    mine = {e for e, p, a in zip(experiments["experiment_id"], experiments["platform"], experiments["account_id"])
            if (p, a) in ws.accounts}
    for experiment_id in sorted(set(experiments["experiment_id"]) - mine)[-1:]:
        assert_not_found_alike(ws, f"/v1/experiments/{experiment_id}", experiment_id,
                               "/v1/experiments/exp_nope", "exp_nope")


GRAPHQL = """
query($campaignPlatform: String!, $campaignId: String!, $boostId: String!) {
  accounts { workspaceId accounts { platform accountId accountName channelType firstSeenDate lastSeenDate } }
  optimalHours(top: 24) { platform rank hour expectedEngagement liftVsPlatformMean }
  rollupsDaily(first: 1000) {
    platform start end count total nextCursor
    rows { metricDate platform channelType posts impressions engagements clicks avgEngagementScore spendUsd
           conversions revenueUsd ctr roas }
  }
  overview {
    start end days previousStart previousEnd currentDaysWithData previousDaysWithData previousComplete
    changeUnavailableReason metrics { metric platformReported current previous change changePct }
    attributed { model adChannels available unavailableReason
                 metrics { metric platformReported current previous change changePct } }
  }
  attributionModels { windowStart windowEnd models channels { channel models { model conversions conversionValue share } } }
  campaigns(first: 20) {
    total items { platform accountId campaignId totals { spendUsd } daily(first: 30) { total items { metricDate spendUsd } } }
  }
  topPosts(limit: 20) {
    platform items { rank platform accountId postId publishedAt hookType mediaType topic engagementScore engagementRate
                     impressions engagements isBoosted postUrl postExcerpt authorName }
  }
  heatmap { platform cells { platform publishDow publishHour posts avgEngagementScore avgEngagementRate } }
  boosts(first: 1000) { total items { boostId platform accountId postId organicLift spendUsd } }
  campaign(platform: $campaignPlatform, campaignId: $campaignId) { campaignId accountId }
  boost(boostId: $boostId) { boostId accountId organicVsPaid { campaignId } }
}
"""


READ_MODELS_GRAPHQL = """
query($insightId: String!, $experimentId: String!) {
  insights(first: 1000) {
    total nextCursor
    items { insightId platform accountId rank findingRank scope category subject severity title action metric effect
            ciLow ciHigh pValue qValue n evidence windowStart windowEnd generatedAt acknowledgedAt }
  }
  experiments(first: 100) {
    total nextCursor
    items { experimentId experimentName factor metric metricKind startDate endDate decisionRule test alpha mde
            requiredNPerArm nTestedPerArm effect ciLow ciHigh pValue alwaysValidPValue status winner reason
            variants { variant role units mean } accounts { platform accountId boostsInWindow } }
  }
  contentHooks(first: 100) {
    total nextCursor
    items { platform accountId hookType posts meanEngagementRate ciLower ciUpper meanEngagementScore
            liftVsAccountPosts insufficientSample hookRank }
  }
  contentPerformance(first: 100) {
    total nextCursor
    items { metricDate platform accountId dimension dimensionValue postsPublished postsActive impressions engagements
            engagementRate avgEngagementScore }
  }
  insight(insightId: $insightId) { insightId }
  experiment(experimentId: $experimentId) { experimentId }
}
"""


def _snake(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k): _snake(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_snake(v) for v in doc]
    return doc


def check_graphql(ws: Workspace) -> None:
    """One GraphQL query of every field: no id of another account, the REST answers of the same key, and
    null for another workspace's campaign and boost."""
    frames = ws.snap.frames
    campaigns, boosts = frames["campaigns.parquet"], frames["boosts.parquet"]
    foreign_campaigns = [(p, c) for p, a, c in zip(campaigns["platform"], campaigns["account_id"], campaigns["campaign_id"])
                         if (p, a) not in ws.accounts] or [("google_ads", "go-9999999-0")]
    foreign_boosts = [b for p, a, b in zip(boosts["platform"], boosts["account_id"], boosts["boost_id"])
                      if (p, a) not in ws.accounts] or ["bst-nope"]
    variables = {"campaignPlatform": foreign_campaigns[-1][0], "campaignId": foreign_campaigns[-1][1],
                 "boostId": foreign_boosts[-1]}
    response = ws.client.post("/v1/graphql", {"query": GRAPHQL, "variables": variables})
    assert response.status_code == 200, (ws.name, response.status_code, response.text[:500])
    body = response.json()
    leaked = sorted({s for s in _strings(body) if s in ws.foreign})
    assert not leaked, f"{ws.name} GraphQL leaks ids of other accounts: {leaked[:5]}"
    data = _snake(body["data"])
    errors = body.get("errors") or []
    if ws.frames["overview_daily.parquet"].empty:  # REST's 404: no day of data to default the window to
        assert [(e["path"], e["extensions"]["code"]) for e in errors] == [(["overview"], "NOT_FOUND")]
        assert data["overview"] is None
    else:
        assert not errors, (ws.name, errors)
        assert data["overview"] == ws.get("/v1/overview")
    assert data["campaign"] is None and data["boost"] is None
    assert data["accounts"] == ws.get("/v1/accounts")
    assert data["rollups_daily"] == ws.get("/v1/rollups/daily?limit=1000")
    assert data["attribution_models"] == ws.get("/v1/attribution/models")
    assert data["top_posts"] == ws.get("/v1/posts/top?limit=20")
    assert data["heatmap"] == ws.get("/v1/engagement/heatmap")
    rest_hours = ws.get("/v1/optimal-hours?top=24")["platforms"]
    assert [(h["platform"], h["rank"], h["hour"]) for h in data["optimal_hours"]] == [
        (p["platform"], h["rank"], h["publish_hour"]) for p in rest_hours for h in p["hours"]]
    rest_campaigns = ws.get("/v1/campaigns?limit=20")
    assert [c["campaign_id"] for c in data["campaigns"]["items"]] == [c["campaign_id"] for c in rest_campaigns["items"]]
    for c in data["campaigns"]["items"]:
        assert c["daily"]["total"] == len(ws.frames["campaign_daily.parquet"].query("campaign_id == @c['campaign_id']"))
    assert sorted(b["boost_id"] for b in data["boosts"]["items"]) == sorted(ws.frames["boosts.parquet"]["boost_id"])

    # the read models: the REST answers, and null for another workspace's insight and experiment
    insights, experiments = frames["insights.parquet"], frames["experiments.parquet"]
    foreign_insight = [i for p, a, i in zip(insights["platform"], insights["account_id"], insights["insight_id"])
                       if (p, a) not in ws.accounts] or ["ins_" + "0" * 24]
    mine = set(ws.frames["experiments.parquet"]["experiment_id"])
    foreign_experiment = sorted(set(experiments["experiment_id"]) - mine) or ["exp_nope"]
    response = ws.client.post("/v1/graphql", {"query": READ_MODELS_GRAPHQL, "variables": {
        "insightId": foreign_insight[-1], "experimentId": foreign_experiment[-1]}})
    assert response.status_code == 200, (ws.name, response.status_code, response.text[:500])
    body = response.json()
    assert not body.get("errors"), (ws.name, body.get("errors"))
    leaked = sorted({s for s in _strings(body) if s in ws.foreign})
    assert not leaked, f"{ws.name} GraphQL leaks ids of other accounts: {leaked[:5]}"
    data = _snake(body["data"])
    assert data["insight"] is None and data["experiment"] is None
    assert data["insights"] == ws.get("/v1/insights?limit=1000")
    assert data["experiments"] == ws.get("/v1/experiments?limit=100")
    assert data["content_hooks"] == ws.get("/v1/content/hooks?limit=100")
    assert data["content_performance"] == ws.get("/v1/content/performance?limit=100")


def run_example(snap: SimpleNamespace, owners: list[int], n_workspaces: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        access = Path(tmp) / "access.sqlite3"
        registry = AccessRegistry(access)
        workspaces = []
        app = create_app(snap.serving, webhook_store=Path(tmp) / "inbound.sqlite3", access_store=access,
                         rate_limit="100000/minute", clock=lambda: NOW)
        shared = stack.enter_context(TestClient(app))  # one event loop for every request of the example
        for w in range(n_workspaces):
            name = f"ws{w}"
            registry.create_workspace(name)
            owned = {acc for acc, owner in zip(ACCOUNT_LIST, owners) if owner == w}
            if owned:
                registry.add_accounts(name, [Account(p, a) for p, a in sorted(owned)])
            token = registry.create_key(name, "prop", ["read"]).token
            client = KeyClient(shared, {"Authorization": f"Bearer {token}"})
            workspaces.append(Workspace(name, client, owned, snap))
        for ws in workspaces:
            check_workspace(ws)
            check_foreign_ids(ws)
            check_graphql(ws)


@st.composite
def partitions(draw) -> tuple[list[int], int]:
    """An owner per test account: one of 1-4 workspaces, or -1 (nobody)."""
    n = draw(st.integers(1, 4))
    owners = draw(st.lists(st.integers(-1, n - 1), min_size=len(ACCOUNT_LIST), max_size=len(ACCOUNT_LIST)))
    return owners, n


_GLOBEX = set(accounts_of("globex"))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(partitions())
# the partitions a random draw may miss: one workspace owning everything, workspaces owning nothing, the
# fixture's acme/globex split, and workspaces of one kind of account (ad accounts, organic, web properties)
@example(([0] * len(ACCOUNT_LIST), 1))
@example(([-1] * len(ACCOUNT_LIST), 2))
@example(([1 if a in _GLOBEX else 0 for a in ACCOUNT_LIST], 2))
@example(([0 if p in PAID else 1 for p, _ in ACCOUNT_LIST], 2))
@example(([0 if p in ORGANIC else -1 for p, _ in ACCOUNT_LIST], 1))
@example(([0 if p == "web" else -1 for p, _ in ACCOUNT_LIST], 1))
def test_every_route_answers_each_workspace_with_its_own_accounts_only(snapshot, partition):
    owners, n = partition
    run_example(snapshot, owners, n)


def test_split_registry_acme_cannot_reach_globex(snapshot, tmp_path):
    """The fixture's registry (make_registry(split=True)): the named cases of the property above."""
    access = tmp_path / "access.sqlite3"
    tokens = make_registry(access, split=True)
    app = create_app(snapshot.serving, webhook_store=tmp_path / "inbound.sqlite3", access_store=access,
                     rate_limit="100000/minute", clock=lambda: NOW)
    acme = Workspace("acme", TestClient(app, headers={"X-API-Key": tokens["acme"]}), set(accounts_of("acme")), snapshot)
    globex_campaign = "go-2220002-0"
    assert_not_found_alike(acme, f"/v1/campaigns/google_ads/{globex_campaign}", globex_campaign,
                           "/v1/campaigns/google_ads/go-9999999-0", "go-9999999-0")
    assert_not_found_alike(acme, f"/v1/campaigns/google_ads/{globex_campaign}/daily", globex_campaign,
                           "/v1/campaigns/google_ads/go-9999999-0/daily", "go-9999999-0")
    boost = "bst-linkedin-urn:li:organization:2002-1"
    missing = "bst-linkedin-urn:li:organization:9999-1"
    assert_not_found_alike(acme, f"/v1/boosts/{quote(boost, safe='')}", boost,
                           f"/v1/boosts/{quote(missing, safe='')}", missing)
    # the same ids under the owner's key are there
    globex = TestClient(app, headers={"X-API-Key": tokens["globex"]})
    assert globex.get(f"/v1/campaigns/google_ads/{globex_campaign}").status_code == 200
    assert globex.get(f"/v1/boosts/{quote(boost, safe='')}").status_code == 200
    # a filter naming the other workspace's platform account finds nothing of it
    rows = acme.get("/v1/rollups/daily?platform=google_ads&limit=1000")["rows"]
    expected = acme.frames["account_daily.parquet"]
    assert sum(r["impressions"] for r in rows) == int(expected[expected["platform"] == "google_ads"]["impressions"].sum())
    assert FIRST_DAY.isoformat() == rows[0]["metric_date"]
