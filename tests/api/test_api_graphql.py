"""GraphQL at /v1/graphql: the design's query, every field equal to its REST twin for the same key (same
numbers, rounding, order and cursors), REST's 401/403/429 as HTTP answers, REST's 422 messages as GraphQL
errors, no other workspace's id anywhere, and the limits (depth, cost, aliases, tokens, body size) refusing
oversized or hostile queries with a clear error and never a 500."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from graphql import GraphQLObjectType, parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from api import graphql as gql
from api.main import create_app
from api_serving_data import ALL_MODELS, NOW, accounts_of, make_registry, publish

URL = "/v1/graphql"
DESIGN_QUERY = '{ optimalHours(platform: "linkedin") { hour expectedEngagement } }'
SCHEMA = gql.schema._schema
# codes of the refusals a resolver or a limit gives; anything else in a hostile query's answer is a bug
EXPECTED_CODES = {"BAD_USER_INPUT", "NOT_FOUND", "QUERY_TOO_COSTLY"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("graphql")
    serving = root / "serving"
    frames = publish(serving, checksums=True)
    access = root / "access.sqlite3"
    tokens = make_registry(access, split=True)
    app = create_app(serving, webhook_store=root / "inbound.sqlite3", access_store=access,
                     rate_limit="100000/minute", clock=lambda: NOW)
    with TestClient(app) as client:
        yield SimpleNamespace(
            root=root, serving=serving, frames=frames, client=client, app=app,
            last_day=max(frames["overview_daily.parquet"]["metric_date"]),
            acme=Key(client, {"Authorization": f"Bearer {tokens['acme']}"}),
            globex=Key(client, {"X-API-Key": tokens["globex"]}),
        )


class Key:
    """One key's requests, REST and GraphQL, through a shared client."""

    def __init__(self, client: TestClient, headers: dict[str, str]):
        self.client, self.headers = client, headers

    def rest(self, url: str, expect: int = 200) -> Any:
        response = self.client.get(url, headers=self.headers)
        assert response.status_code == expect, (url, response.status_code, response.text[:300])
        return response.json()

    def post(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any):
        return self.client.post(URL, json={"query": query, "variables": variables}, headers=self.headers, **kwargs)

    def answer(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole GraphQL answer (HTTP 200, never an unexpected error)."""
        response = self.post(query, variables)
        assert response.status_code == 200, (query[:200], response.status_code, response.text[:300])
        body = response.json()
        for error in body.get("errors") or ():
            assert error["message"] != "Unexpected error.", (query[:200], body)
        return body

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.answer(query, variables)
        assert not body.get("errors"), (query[:300], body["errors"])
        return body["data"]


def snake(doc: Any) -> Any:
    """A GraphQL answer with REST's field names (camelCase -> snake_case)."""
    if isinstance(doc, dict):
        return {re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k): snake(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [snake(v) for v in doc]
    return doc


def selection(type_name: str, nested: dict[str, str] | None = None, depth: int = 0) -> str:
    """Every field of a type, recursively; ``nested`` maps a field that takes arguments (Campaign.daily) to its
    arguments, and such a field is left out unless named there."""
    nested = nested or {}
    parts = []
    t = SCHEMA.get_type(type_name)
    assert isinstance(t, GraphQLObjectType)
    for name, field in t.fields.items():
        named = gql._named_type(field.type)
        if field.args:
            if name not in nested:
                continue
            parts.append(f"{name}{nested[name]} {{ {selection(named.name, nested, depth + 1)} }}")
        elif isinstance(named, GraphQLObjectType):
            parts.append(f"{name} {{ {selection(named.name, nested, depth + 1)} }}")
        else:
            parts.append(name)
    return " ".join(parts)


def field_query(field: str, args: str = "", nested: dict[str, str] | None = None) -> str:
    type_name = gql._named_type(SCHEMA.query_type.fields[field].type).name
    return f"{{ {field}{args} {{ {selection(type_name, nested)} }} }}"


def everything(campaign: tuple[str, str], boost: str) -> str:
    """One query of every field of the schema (campaigns with their daily metrics), within the limits."""
    parts = []
    args = {
        "attribution": '(model: "linear")',
        "campaigns": "(first: 20)",
        "campaign": f'(platform: "{campaign[0]}", campaignId: "{campaign[1]}")',
        "boost": f'(boostId: "{boost}")',
        "topPosts": "(limit: 20)",
        "rollupsDaily": "(first: 1000)",
        "boosts": "(first: 1000)",
        "optimalHours": "(top: 24)",
        "optimalHoursByPlatform": "(top: 24)",
        "insights": "(first: 20)",
        "insight": '(insightId: "ins_000000000000000000000000")',
        "experiments": "(first: 20)",
        "experiment": '(experimentId: "exp_nope")',
        "contentHooks": "(first: 20)",
        "contentPerformance": "(first: 20)",
    }
    for field in SCHEMA.query_type.fields:
        type_name = gql._named_type(SCHEMA.query_type.fields[field].type).name
        parts.append(f"{field}{args.get(field, '')} {{ {selection(type_name, {'daily': '(first: 30)'})} }}")
    return "{ " + " ".join(parts) + " }"


# -- the design's query ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["acme", "globex"])
def test_the_design_query_answers_rest_optimal_hours(env, who):
    key = getattr(env, who)
    data = key.data(DESIGN_QUERY)
    rest = key.rest("/v1/optimal-hours?platform=linkedin")
    (linkedin,) = rest["platforms"]
    assert data["optimalHours"] == [
        {"hour": h["publish_hour"], "expectedEngagement": h["expected_engagement_score"]} for h in linkedin["hours"]
    ]
    assert len(data["optimalHours"]) == 3  # REST's default top


def test_optimal_hours_every_field_and_platform_equal_rest(env):
    query = "{ optimalHours(top: 24) { platform rank hour expectedEngagement liftVsPlatformMean modelName " \
            "modelVersion generatedAt } optimalHoursByPlatform(top: 24) { platform modelName modelVersion " \
            "generatedAt hours { rank hour expectedEngagement liftVsPlatformMean } } }"
    data = env.acme.data(query)
    rest = env.acme.rest("/v1/optimal-hours?top=24")
    flat = [
        {"platform": p["platform"], "rank": h["rank"], "hour": h["publish_hour"],
         "expectedEngagement": h["expected_engagement_score"], "liftVsPlatformMean": h["lift_vs_platform_mean"],
         "modelName": p["model_name"], "modelVersion": p["model_version"], "generatedAt": p["generated_at"]}
        for p in rest["platforms"] for h in p["hours"]
    ]
    assert data["optimalHours"] == flat and len(flat) == 24 * 4
    assert data["optimalHoursByPlatform"] == [
        {"platform": p["platform"], "modelName": p["model_name"], "modelVersion": p["model_version"],
         "generatedAt": p["generated_at"],
         "hours": [{"rank": h["rank"], "hour": h["publish_hour"], "expectedEngagement": h["expected_engagement_score"],
                    "liftVsPlatformMean": h["lift_vs_platform_mean"]} for h in p["hours"]]}
        for p in rest["platforms"]
    ]


# -- every field equals its REST twin ----------------------------------------------------------------


def _twins(last_day) -> list[tuple[str, str, str]]:
    start, end = (last_day - timedelta(days=6)).isoformat(), last_day.isoformat()
    twins = [
        ("accounts", "", "/v1/accounts"),
        ("rollupsDaily", "", "/v1/rollups/daily"),
        ("rollupsDaily", f'(platform: "google_ads", start: "{start}", end: "{end}", first: 3)',
         f"/v1/rollups/daily?platform=google_ads&start={start}&end={end}&limit=3"),
        ("platformComparison", "", "/v1/platforms/comparison"),
        ("platformComparison", f'(start: "{start}", end: "{end}")', f"/v1/platforms/comparison?start={start}&end={end}"),
        ("overview", "", "/v1/overview"),
        ("overview", f'(start: "{start}", end: "{end}")', f"/v1/overview?start={start}&end={end}"),
        ("attributionModels", "", "/v1/attribution/models"),
        ("campaigns", "", "/v1/campaigns"),
        ("campaigns", '(platform: "meta_ads", first: 1)', "/v1/campaigns?platform=meta_ads&limit=1"),
        ("topPosts", "", "/v1/posts/top"),
        ("topPosts", '(platform: "x", limit: 20)', "/v1/posts/top?platform=x&limit=20"),
        ("heatmap", "", "/v1/engagement/heatmap"),
        ("heatmap", '(platform: "tiktok")', "/v1/engagement/heatmap?platform=tiktok"),
        ("boosts", "", "/v1/boosts"),
        ("boosts", '(platform: "x", status: "estimated", first: 1)', "/v1/boosts?platform=x&status=estimated&limit=1"),
    ]
    for model in ALL_MODELS:
        twins.append(("attribution", f'(model: "{model}")', f"/v1/attribution?model={model}"))
    twins.append(("attribution", f'(model: "linear", start: "{start}", end: "{end}")',
                  f"/v1/attribution?model=linear&start={start}&end={end}"))
    return twins


@pytest.mark.parametrize("who", ["acme", "globex"])
def test_every_list_field_equals_its_rest_twin(env, who):
    key = getattr(env, who)
    for field, args, url in _twins(env.last_day):
        data = key.data(field_query(field, args))
        assert snake(data[field]) == key.rest(url), (field, args)


@pytest.mark.parametrize("who", ["acme", "globex"])
def test_one_campaign_its_daily_metrics_and_one_boost_equal_rest(env, who):
    key = getattr(env, who)
    campaigns = key.rest("/v1/campaigns")["items"]
    assert campaigns
    start, end = (env.last_day - timedelta(days=4)).isoformat(), env.last_day.isoformat()
    daily_args = f'(start: "{start}", end: "{end}", first: 2)'
    for c in campaigns:
        path = f"/v1/campaigns/{c['platform']}/{quote(c['campaign_id'], safe='')}"
        data = key.data(field_query("campaign", f'(platform: "{c["platform"]}", campaignId: "{c["campaign_id"]}")',
                                    {"daily": daily_args}))
        daily = data["campaign"].pop("daily")
        assert snake(data["campaign"]) == key.rest(path)
        assert snake(daily) == key.rest(f"{path}/daily?start={start}&end={end}&limit=2")
    # nested under the list too, page after page with REST's cursors
    data = key.data("{ campaigns(first: 2) { items { platform campaignId daily(first: 5) { total nextCursor "
                    "items { metricDate spendUsd } } } } }")
    for item in data["campaigns"]["items"]:
        rest = key.rest(f"/v1/campaigns/{item['platform']}/{item['campaignId']}/daily?limit=5")
        assert item["daily"]["total"] == rest["total"] and item["daily"]["nextCursor"] == rest["next_cursor"]
        assert snake(item["daily"]["items"]) == [{"metric_date": d["metric_date"], "spend_usd": d["spend_usd"]}
                                                 for d in rest["items"]]
    for b in key.rest("/v1/boosts")["items"]:
        data = key.data(field_query("boost", f'(boostId: "{b["boost_id"]}")'))
        assert snake(data["boost"]) == key.rest(f"/v1/boosts/{quote(b['boost_id'], safe='')}")


def test_pages_follow_rest_cursors(env):
    seen, after = [], None
    while True:
        page = env.acme.data("query($after: String) { rollupsDaily(first: 7, after: $after) { count total nextCursor "
                             "rows { metricDate platform channelType impressions } } }", {"after": after})["rollupsDaily"]
        rest = env.acme.rest("/v1/rollups/daily?limit=7" + (f"&cursor={after}" if after else ""))
        assert page["nextCursor"] == rest["next_cursor"] and page["count"] == rest["count"]
        seen += page["rows"]
        after = page["nextCursor"]
        if after is None:
            break
    assert len(seen) == page["total"] == len({(r["metricDate"], r["platform"], r["channelType"]) for r in seen})


def test_every_rest_field_is_in_graphql(env):
    """The GraphQL types are the REST models: a field added to one is in the other."""
    pairs = {
        "Campaign": gql.campaigns_route.Campaign, "BoostDetail": gql.boosts_route.BoostDetail,
        "Overview": gql.overview_route.OverviewResponse, "DailyRollups": gql.rollups_route.DailyRollupsResponse,
        "TopPost": gql.posts_route.TopPost, "CampaignDay": gql.campaigns_route.CampaignDay,
    }
    for type_name, model in pairs.items():
        fields = {snake({f: 0}).popitem()[0] for f in SCHEMA.get_type(type_name).fields}
        assert set(model.model_fields) <= fields, (type_name, set(model.model_fields) - fields)


# -- validation: REST's 422 messages as GraphQL errors -----------------------------------------------------


@pytest.mark.parametrize(
    "query, url",
    [
        ('{ optimalHours(platform: "myspace") { hour } }', "/v1/optimal-hours?platform=myspace"),
        ('{ optimalHours(platform: "google_ads") { hour } }', "/v1/optimal-hours?platform=google_ads"),
        ('{ optimalHoursByPlatform(top: 25) { platform } }', "/v1/optimal-hours?top=25"),
        ('{ rollupsDaily(platform: "fax") { total } }', "/v1/rollups/daily?platform=fax"),
        ('{ rollupsDaily(start: "2024-02-30") { total } }', "/v1/rollups/daily?start=2024-02-30"),
        ('{ rollupsDaily(start: "yesterday") { total } }', "/v1/rollups/daily?start=yesterday"),
        ('{ rollupsDaily(start: "1969-12-31") { total } }', "/v1/rollups/daily?start=1969-12-31"),
        ('{ rollupsDaily(start: "2024-05-09", end: "2024-05-01") { total } }',
         "/v1/rollups/daily?start=2024-05-09&end=2024-05-01"),
        ('{ rollupsDaily(first: 0) { total } }', "/v1/rollups/daily?limit=0"),
        ('{ rollupsDaily(first: 1001) { total } }', "/v1/rollups/daily?limit=1001"),
        ('{ rollupsDaily(after: "bm90LWEtY3Vyc29y") { total } }', "/v1/rollups/daily?cursor=bm90LWEtY3Vyc29y"),
        ('{ overview(start: "1980-01-01", end: "2024-05-01") { days } }', "/v1/overview?start=1980-01-01&end=2024-05-01"),
        ('{ attribution(model: "last_click") { totalConversions } }', "/v1/attribution?model=last_click"),
        ('{ attribution(model: "markov", start: "2024-05-03") { totalConversions } }',
         "/v1/attribution?model=markov&start=2024-05-03"),
        ('{ campaigns(platform: "linkedin") { total } }', "/v1/campaigns?platform=linkedin"),
        ('{ topPosts(limit: 21) { platform } }', "/v1/posts/top?limit=21"),
        ('{ heatmap(platform: "meta_ads") { platform } }', "/v1/engagement/heatmap?platform=meta_ads"),
        ('{ boosts(status: "great") { total } }', "/v1/boosts?status=great"),
    ],
)
def test_invalid_arguments_get_rest_422_messages(env, query, url):
    body = env.acme.answer(query)
    rest = env.acme.rest(url, expect=422)
    field = next(iter(body["data"]))
    assert body["data"][field] is None
    (error,) = body["errors"]
    assert error["path"] == [field]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["status"] == 422
    # the same words as REST (an int is quoted in REST's query string, not in GraphQL)
    assert error["message"].replace("(got 25)", "(got '25')") == "; ".join(d["msg"] for d in rest["detail"])


def test_invalid_ids_are_refused_like_rest(env):
    body = env.acme.answer('{ campaign(platform: "linkedin", campaignId: "x") { campaignId } '
                           f'boost(boostId: "{"b" * 201}") {{ boostId }} }}')
    messages = {e["path"][0]: e["message"] for e in body["errors"]}
    assert body["data"] == {"campaign": None, "boost": None}
    assert messages["campaign"] == env.acme.rest("/v1/campaigns/linkedin/x", expect=422)["detail"][0]["msg"]
    assert messages["boost"] == env.acme.rest(f"/v1/boosts/{'b' * 201}", expect=422)["detail"][0]["msg"]


def test_one_invalid_field_leaves_the_others_answered(env):
    body = env.acme.answer('{ accounts { workspaceId } optimalHours(platform: "myspace") { hour } }')
    assert body["data"] == {"accounts": {"workspaceId": "acme"}, "optimalHours": None}
    assert [e["path"] for e in body["errors"]] == [["optimalHours"]]


def test_nothing_published_is_a_not_found_error(tmp_path):
    access = tmp_path / "access.sqlite3"
    token = make_registry(access)["default"]
    app = create_app(tmp_path / "serving", webhook_store=tmp_path / "in.sqlite3", access_store=access,
                     rate_limit="1000/minute", clock=lambda: NOW)
    body = Key(TestClient(app), {"Authorization": f"Bearer {token}"}).answer(DESIGN_QUERY + " ")
    assert body["data"] == {"optimalHours": None}
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "status": 404}
    assert "has not been published yet" in body["errors"][0]["message"]


def test_a_failing_resolver_is_masked_not_a_500(env, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(gql.accounts_route, "accounts", broken)
    body = env.acme.post("{ accounts { workspaceId } heatmap { platform } }").json()
    assert body["data"]["accounts"] is None and body["data"]["heatmap"] == {"platform": None}
    assert [e["message"] for e in body["errors"]] == ["Unexpected error."]
    assert "secret internals" not in str(body)
    assert any("secret internals" in r.getMessage() for r in caplog.records if r.name == "api.graphql")


def test_a_damaged_file_is_a_503_error(env):
    exc = gql.ServingFileInvalid("boosts.parquet", "not a valid Parquet file")
    error = gql._refusal(exc, "/v1/boosts", {})
    assert error.extensions == {"code": "SERVICE_UNAVAILABLE", "status": 503} and error.message == str(exc)


# -- keys and scopes: REST's HTTP answers --------------------------------------------------------------


def test_missing_and_bad_keys_are_401_before_anything_runs(env):
    for headers in ({}, {"Authorization": "Bearer cyk_nope"}, {"X-API-Key": "not-a-key"}):
        for response in (
            env.client.post(URL, json={"query": DESIGN_QUERY}, headers=headers),
            env.client.get(URL, params={"query": DESIGN_QUERY}, headers=headers),
            # not even read: a body past the size limit is still a 401, not a 413
            env.client.post(URL, content=b"x" * (gql.MAX_BODY_BYTES + 10), headers=headers),
        ):
            assert response.status_code == 401, (headers, response.status_code, response.text[:200])
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert "API key" in response.json()["detail"]


def test_a_key_without_read_is_403(env, tmp_path):
    access = tmp_path / "access.sqlite3"
    token = make_registry(access, scopes=("feedback",))["default"]
    app = create_app(env.serving, webhook_store=tmp_path / "in.sqlite3", access_store=access,
                     rate_limit="1000/minute", clock=lambda: NOW)
    response = TestClient(app).post(URL, json={"query": DESIGN_QUERY}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["detail"] == "This key lacks the 'read' scope (it has: feedback)."


def test_rate_limit_is_429_with_retry_after(env, tmp_path):
    access = tmp_path / "access.sqlite3"
    token = make_registry(access)["default"]
    app = create_app(env.serving, webhook_store=tmp_path / "in.sqlite3", access_store=access,
                     rate_limit="3/minute", clock=lambda: NOW)
    key = Key(TestClient(app), {"Authorization": f"Bearer {token}"})
    # a query of many fields is one request
    for _ in range(3):
        assert key.post("{ accounts { workspaceId } heatmap { platform } boosts { total } }").status_code == 200
    response = key.post(DESIGN_QUERY)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "Rate limit" in response.json()["detail"]
    assert key.client.get("/v1/accounts", headers=key.headers).status_code == 429  # one limit for REST and GraphQL


# -- workspaces ----------------------------------------------------------------------------------------------


def _strings(doc: Any):
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for v in doc.values():
            yield from _strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _strings(v)


def _ids_of(frames, accounts: set[tuple[str, str]]) -> set[str]:
    ids = set()
    for df in frames.values():
        if "account_id" not in df.columns:
            continue
        mine = df[[(p, a) in accounts for p, a in zip(df["platform"], df["account_id"])]]
        for column in ("account_id", "post_id", "campaign_id", "boost_id"):
            if column in mine.columns:
                ids |= {str(v) for v in mine[column].dropna()}
    return ids


def test_no_id_of_another_workspace_in_any_answer(env):
    acme, globex = set(accounts_of("acme")), set(accounts_of("globex"))
    foreign = _ids_of(env.frames, globex) - _ids_of(env.frames, acme)
    own = _ids_of(env.frames, acme)
    assert foreign and own
    foreign_campaign = ("google_ads", "go-2220002-0")
    foreign_boost = "bst-linkedin-urn:li:organization:2002-1"
    query = everything(foreign_campaign, foreign_boost)
    data = env.acme.data(query)
    strings = set(_strings(data))
    assert not strings & foreign, sorted(strings & foreign)[:5]
    assert len(strings & own) > 20  # the query did reach the workspace's own rows
    assert data["campaign"] is None and data["boost"] is None
    # the owner gets them
    data = env.globex.data(query)
    assert data["campaign"]["campaignId"] == foreign_campaign[1] and data["boost"]["boostId"] == foreign_boost


def test_another_workspaces_id_answers_like_a_missing_one(env):
    template = '{ campaign(platform: "google_ads", campaignId: "%s") { campaignId } boost(boostId: "%s") { boostId } }'
    foreign = env.acme.answer(template % ("go-2220002-0", "bst-linkedin-urn:li:organization:2002-1"))
    missing = env.acme.answer(template % ("go-9999999-0", "bst-linkedin-urn:li:organization:9999-1"))
    assert foreign == missing == {"data": {"campaign": None, "boost": None}}


# -- limits ---------------------------------------------------------------------------------------------------


def test_the_query_of_everything_is_within_the_limits(env):
    query = everything(("google_ads", "go-1110001-0"), "bst-linkedin-urn:li:organization:1001-1")
    cost = gql.query_cost(SCHEMA, parse(query), None, None)
    assert cost <= gql.MAX_COST
    assert len(query) < gql.MAX_BODY_BYTES
    env.acme.data(query)


def test_depth_limit(env):
    ok = "{ campaigns(first: 2) { items { daily(first: 2) { items { metricDate } } } } }"
    env.acme.data(ok)
    deep = "{ accounts " + "{ accounts " * 12 + "{ platform }" + " }" * 12 + " }"
    body = env.acme.answer(deep)
    assert body["data"] is None
    assert f"exceeds maximum operation depth of {gql.MAX_DEPTH}" in body["errors"][0]["message"]
    # introspection is outside the depth limit, but its nested lists are bounded (graphql-core's rule)
    body = env.acme.answer("{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }")
    assert body["data"] is None and body["errors"][0]["message"] == "Maximum introspection depth exceeded"


def test_introspection_stays_on(env):
    from graphql import get_introspection_query

    data = env.acme.data(get_introspection_query(descriptions=True, schema_description=True))
    assert "Limits:" in data["__schema"]["description"]
    names = {t["name"] for t in data["__schema"]["types"]}
    assert {"Query", "OptimalHour", "Campaign", "BoostDetail", "Overview"} <= names


def test_cost_limit(env):
    too_costly = "{ campaigns(first: 100) { items { daily(first: 100) { items { metricDate } } } } }"
    assert gql.query_cost(SCHEMA, parse(too_costly), None, None) > gql.MAX_COST
    body = env.acme.answer(too_costly)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert f"cost is over {gql.MAX_COST}" in error["message"]
    # with variables: their values count
    query = "query($n: Int!) { campaigns(first: $n) { items { daily(first: $n) { items { metricDate } } } } }"
    assert env.acme.answer(query, {"n": 100})["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert env.acme.data(query, {"n": 5})["campaigns"]["items"]
    # one page of REST's largest size is fine; five of them are not
    page = "rollupsDaily(first: 1000) { rows { platform } }"
    assert gql.query_cost(SCHEMA, parse("{ " + page + " }"), None, None) == gql.READ_COST + 1000
    env.acme.data("{ " + page + " }")
    five = "{ " + " ".join(f"p{i}: {page}" for i in range(5)) + " }"
    assert env.acme.answer(five)["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    # every read of the data counts, even when it returns few objects
    reads = "{ campaigns(first: 1000) { items { daily { total } } } }"
    assert gql.query_cost(SCHEMA, parse(reads), None, None) == gql.READ_COST + 1000 + 1000 * gql.READ_COST
    assert env.acme.answer(reads)["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    # fragments are counted where they are spread
    spread = "{ ...A } fragment A on Query { campaigns(first: 100) { items { ...B } } } " \
             "fragment B on Campaign { daily(first: 100) { items { metricDate } } }"
    assert env.acme.answer(spread)["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


def test_alias_limit(env):
    ok = "{ " + " ".join(f"a{i}: accounts {{ workspaceId }}" for i in range(gql.MAX_ALIASES)) + " }"
    assert len(env.acme.data(ok)) == gql.MAX_ALIASES
    body = env.acme.answer("{ " + " ".join(f"a{i}: accounts {{ workspaceId }}" for i in range(gql.MAX_ALIASES + 1)) + " }")
    assert body["data"] is None
    assert body["errors"][0]["message"] == f"{gql.MAX_ALIASES + 1} aliases found. Allowed: {gql.MAX_ALIASES}"


def test_fragment_expansion_limit(env):
    """Fragments spread twice at each step double the query: refused before any validation rule walks them."""

    def bomb(n: int, last: str = "__typename") -> str:
        chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(n))
        return f"{{ ...F0 }} {chain} fragment F{n} on Query {{ {last} }}"

    assert env.acme.data(bomb(8))["__typename"] == "Query"  # 256 fields
    body = env.acme.answer(bomb(40))  # 2^40 fields
    assert body == {"data": None, "errors": [{"message": f"The query holds more than {gql.MAX_FIELDS} fields once "
                                                        "its fragments are expanded."}]}
    body = env.acme.answer(bomb(40, "...F0"))  # and a cycle
    assert body["errors"][0]["message"] == "A fragment spreads itself (directly or through others)."
    assert gql.expanded_fields(parse("{ ...A } fragment A on Query { accounts { workspaceId } }")) == 2


def test_token_and_body_limits(env):
    many = "{ accounts { " + "workspaceId " * gql.MAX_TOKENS + "} }"
    body = env.acme.answer(many)
    assert body["data"] is None
    assert f"more than {gql.MAX_TOKENS} tokens" in body["errors"][0]["message"]
    response = env.acme.post('{ optimalHours(platform: "' + "x" * gql.MAX_BODY_BYTES + '") { hour } }')
    assert response.status_code == 413
    assert str(gql.MAX_BODY_BYTES) in response.json()["detail"]


# -- hostile queries: never a 500 ---------------------------------------------------------------------------

HOSTILE = [
    "",
    "{",
    "}}}}",
    "{ accounts { workspaceId }",
    "query { " + "{" * 5000 + "}" * 5000 + " }",
    "{ a" + "{ a" * 3000 + "}" * 3000 + " }",
    "{ ...F } fragment F on Query { ...G } fragment G on Query { ...F }",
    "{ ...Missing }",
    "{ ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(60))
    + " fragment F60 on Query { accounts { workspaceId } }",
    "{ ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(60))
    + " fragment F60 on Query { ...F0 }",
    "{ __typename " * 2 + "}",
    '{ optimalHours(platform: "' + "\u0000\ud7ff\U0001f600" * 2000 + '") { hour } }',
    '{ optimalHours(platform: "' + "x" * 20000 + '") { hour } }',
    "{ rollupsDaily(first: 99999999999999999999) { total } }",
    "{ rollupsDaily(first: -1) { total } }",
    '{ rollupsDaily(first: "10") { total } }',
    '{ rollupsDaily(after: "' + "A" * 5000 + '") { total } }',
    '{ rollupsDaily(after: "////") { total } }',
    "{ campaign { campaignId } }",
    'mutation { accounts { workspaceId } }',
    'subscription { accounts { workspaceId } }',
    "query A { accounts { workspaceId } } query A { accounts { workspaceId } }",
    "query A { accounts { workspaceId } } query B { heatmap { platform } }",
    '{ accounts @skip(if: true) { workspaceId } }',
    '{ accounts @include(if: "yes") { workspaceId } }',
    "{ __type(name: \"" + "T" * 10000 + "\") { name } }",
    "{ " + " ".join(f"a{i}: __typename" for i in range(500)) + " }",
    "# " + "comment " * 10000 + "\n{ accounts { workspaceId } }",
]


@pytest.mark.parametrize("query", HOSTILE, ids=lambda q: f"{q[:30]!r}+{len(q)}")
def test_hostile_queries_never_give_a_500(env, query):
    response = env.acme.post(query)
    assert response.status_code in (200, 400, 405, 413), (response.status_code, response.text[:300])
    if response.status_code == 200:
        for error in response.json().get("errors") or ():
            assert error["message"] != "Unexpected error.", error


@pytest.mark.parametrize(
    "content, content_type",
    [
        (b"[]", "application/json"),
        (b'[{"query": "{ accounts { workspaceId } }"}]', "application/json"),
        (b"{not json", "application/json"),
        (b'{"query": 42}', "application/json"),
        (b'{"query": "{ accounts { workspaceId } }", "variables": "x"}', "application/json"),
        (b'{"query": "{ accounts { workspaceId } }", "operationName": ["x"]}', "application/json"),
        (b'"just a string"', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"{ accounts { workspaceId } }", "application/graphql"),
        (b"query=x", "application/x-www-form-urlencoded"),
        (b"--b\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{}\r\n--b--", "multipart/form-data; boundary=b"),
        (b"", "text/plain"),
        (b"[" * 30000 + b"]" * 30000, "application/json"),
        (b'{"query": "{ accounts { workspaceId } }", "variables": {"a": ' + b"[" * 20000 + b"]" * 20000 + b"}}",
         "application/json"),
    ],
)
def test_hostile_bodies_never_give_a_500(env, content, content_type):
    response = env.client.post(URL, content=content, headers={**env.acme.headers, "Content-Type": content_type})
    assert response.status_code < 500, (response.status_code, response.text[:300])


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"query": "{ accounts { workspaceId } }", "variables": "{bad"},
        {"query": "{ accounts { workspaceId } }", "variables": "5"},
        {"query": "{ accounts { workspaceId } }", "variables": "[" * 3000 + "]" * 3000},
        {"query": "{ accounts { workspaceId } }", "extensions": "{" * 3000},
        {"query": "{ accounts { workspaceId } }", "extensions": '{"a":' * 2000 + "1" + "}" * 2000},
        {"query": "{ accounts { workspaceId } }", "operationName": "Nope"},
        {"query": "mutation { accounts { workspaceId } }"},
        {"query": "{" * 3000},
    ],
    ids=lambda p: str(p)[:40],
)
def test_hostile_get_requests_never_give_a_500(env, params):
    response = env.client.get(URL, params=params, headers=env.acme.headers)
    assert response.status_code in (200, 400, 404, 405), (response.status_code, response.text[:300])


def test_no_websocket_and_not_in_openapi(env):
    paths = env.client.get("/v1/openapi.json").json()["paths"]
    assert not [p for p in paths if "graphql" in p]
    assert not [r for r in env.app.routes if getattr(r, "path", "") == URL and type(r).__name__ == "APIWebSocketRoute"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(query=from_schema(SCHEMA, mode=Mode.POSITIVE) | from_schema(SCHEMA, mode=Mode.NEGATIVE) | st.text(max_size=300))
def test_generated_queries_never_give_a_500(env, query):
    response = env.acme.post(query)
    assert response.status_code in (200, 400), (query[:300], response.status_code, response.text[:300])
    if response.status_code == 200:
        for error in response.json().get("errors") or ():
            code = (error.get("extensions") or {}).get("code")
            assert error["message"] != "Unexpected error." and (code is None or code in EXPECTED_CODES), (query, error)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(["query", "variables", "operationName", "extensions"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(body=JSON | st.dictionaries(FIELDS, JSON | st.just(DESIGN_QUERY), max_size=4))
def test_generated_json_bodies_never_give_a_500(env, body):
    response = env.client.post(URL, json=body, headers=env.acme.headers)
    assert response.status_code in (200, 400), (body, response.status_code, response.text[:300])
