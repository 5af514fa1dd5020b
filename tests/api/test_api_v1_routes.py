"""The routes of API v1 answer the right numbers on the test snapshot (tests/api/api_serving_data.py): each
checked against sums computed here from the published frames, over the accounts of the key's workspace."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api_serving_data import ALL_MODELS, FIRST_DAY, MODELS, NOW, ORGANIC, accounts_of, make_registry, publish

MONEY_FIELDS = {"spend", "daily_budget", "conversion_value", "total_conversion_value"}  # and every *_usd
RATE_FIELDS = {"ctr", "roas", "share", "share_of_spend", "engagement_rate", "avg_engagement_rate", "relative_lift",
               "roi", "paid_share", "organic_share", "incremental_reach_share", "overlap_share", "lift_vs_platform_mean"}


def _rounding_problems(doc: Any, where: str = "") -> list[str]:
    """Money with more than 2 decimals, any other number with more than 4."""
    problems = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if isinstance(v, float):
                digits = 2 if (k.endswith("_usd") or k in MONEY_FIELDS) else 4
                if round(v, digits) != v:
                    problems.append(f"{where}.{k}={v!r} (expected {digits} decimals)")
            else:
                problems += _rounding_problems(v, f"{where}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            problems += _rounding_problems(v, f"{where}[{i}]")
    return problems


class Api:
    """A key's client; every JSON answer is checked for rounding."""

    def __init__(self, client: TestClient, headers: dict[str, str], accounts: list[tuple[str, str]], frames):
        self.client, self.headers, self.accounts = client, headers, set(accounts)
        self.frames = {
            name: (df[[(p, a) in self.accounts for p, a in zip(df["platform"], df["account_id"])]]
                   if "account_id" in df.columns else df)
            for name, df in frames.items()
        }

    def get(self, url: str, expect: int = 200, **params: Any) -> Any:
        response = self.client.get(url, params=params or None, headers=self.headers)
        assert response.status_code == expect, (url, params, response.status_code, response.text[:500])
        body = response.json()
        if expect == 200:
            assert not _rounding_problems(body), (url, _rounding_problems(body)[:5])
        return body


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("v1routes")
    serving = root / "serving"
    frames = publish(serving, checksums=True)
    split, whole = root / "split.sqlite3", root / "whole.sqlite3"
    tokens = make_registry(split, split=True)
    everything = make_registry(whole)["default"]
    apps = {
        path: create_app(serving, webhook_store=root / "inbound.sqlite3", access_store=path,
                         rate_limit="100000/minute", clock=lambda: NOW)
        for path in (split, whole)
    }
    with TestClient(apps[split]) as c_split, TestClient(apps[whole]) as c_whole:
        yield SimpleNamespace(
            frames=frames,
            last_day=max(frames["overview_daily.parquet"]["metric_date"]),
            acme=Api(c_split, {"Authorization": f"Bearer {tokens['acme']}"}, accounts_of("acme"), frames),
            globex=Api(c_split, {"X-API-Key": tokens["globex"]}, accounts_of("globex"), frames),
            all=Api(c_whole, {"Authorization": f"Bearer {everything}"}, accounts_of(), frames),
        )


def approx(value: float, digits: int = 2):
    return pytest.approx(value, abs=0.6 * 10 ** -digits + 1e-9)


# -- /v1/accounts ------------------------------------------------------------------------------------


def test_accounts_lists_the_workspace_accounts(env):
    body = env.acme.get("/v1/accounts")
    assert body["workspace_id"] == "acme"
    assert [(a["platform"], a["account_id"]) for a in body["accounts"]] == sorted(accounts_of("acme"))
    kinds = {a["platform"]: a["channel_type"] for a in body["accounts"]}
    assert kinds["linkedin"] == "organic" and kinds["meta_ads"] == "paid" and kinds["web"] == "web"
    # organic accounts carry the name people know them by; ad accounts and web properties have none served
    names = {(a["platform"], a["account_id"]): a["account_name"] for a in body["accounts"]}
    assert names == {(p, a): (f"{a}_name" if kinds[p] == "organic" else None) for p, a in names}
    assert {a["first_seen_date"] for a in body["accounts"]} == {FIRST_DAY.isoformat()}
    assert {a["last_seen_date"] for a in body["accounts"]} == {env.last_day.isoformat()}
    assert len(env.all.get("/v1/accounts")["accounts"]) == len(accounts_of())


# -- /v1/platforms/comparison ------------------------------------------------------------------------


def _comparison(daily: pd.DataFrame, start: date | None = None, end: date | None = None) -> dict[str, dict]:
    paid = daily[daily["channel_type"] == "paid"]
    if start is not None:
        paid = paid[paid["metric_date"] >= start]
    if end is not None:
        paid = paid[paid["metric_date"] <= end]
    out = {}
    for platform, rows in paid.groupby("platform"):
        spend, revenue = float(rows["spend_usd"].sum()), float(rows["revenue_usd"].sum())
        conversions, impressions, clicks = float(rows["conversions"].sum()), int(rows["impressions"].sum()), int(rows["clicks"].sum())
        active = rows[(rows["spend_usd"] > 0) | (rows["impressions"] > 0)]["metric_date"].nunique()
        out[platform] = dict(spend_usd=spend, revenue_usd=revenue, profit_usd=revenue - spend,
                             roas=revenue / spend if spend else None, conversions=conversions,
                             cpa_usd=spend / conversions if conversions else None, impressions=impressions,
                             clicks=clicks, ctr=clicks / impressions if impressions else None, active_days=active)
    total = sum(p["spend_usd"] for p in out.values())
    for p in out.values():
        p["share_of_spend"] = p["spend_usd"] / total if total else None
    return out


@pytest.mark.parametrize("window", [(None, None), (FIRST_DAY, FIRST_DAY), (FIRST_DAY + timedelta(days=2), FIRST_DAY + timedelta(days=5))])
@pytest.mark.parametrize("who", ["acme", "all"])
def test_platform_comparison_sums_and_ratios(env, who, window):
    api = getattr(env, who)
    start, end = window
    params = {k: v.isoformat() for k, v in (("start", start), ("end", end)) if v is not None}
    body = api.get("/v1/platforms/comparison", **params)
    assert (body["start"], body["end"]) == (params.get("start"), params.get("end"))
    expected = _comparison(api.frames["account_daily.parquet"], start, end)
    assert [p["platform"] for p in body["platforms"]] == sorted(expected, key=lambda p: (-expected[p]["spend_usd"], p))
    for got in body["platforms"]:
        e = expected[got["platform"]]
        for money in ("spend_usd", "revenue_usd", "profit_usd", "cpa_usd"):
            assert got[money] == (None if e[money] is None else approx(e[money])), (got["platform"], money)
        for rate in ("roas", "ctr", "share_of_spend"):
            assert got[rate] == (None if e[rate] is None else approx(e[rate], 4)), (got["platform"], rate)
        assert got["conversions"] == approx(e["conversions"])
        assert (got["impressions"], got["clicks"], got["active_days"]) == (e["impressions"], e["clicks"], e["active_days"])
    assert sum(p["share_of_spend"] for p in body["platforms"]) == pytest.approx(1.0, abs=2e-4)


def test_platform_comparison_without_spend_has_no_roas(env):
    # linkedin_ads is paused on the first day: no spend, so no ROAS, no CPA denominator issue, no share
    body = env.acme.get("/v1/platforms/comparison", platform="linkedin_ads", start=FIRST_DAY.isoformat(),
                        end=FIRST_DAY.isoformat())
    (row,) = body["platforms"]
    assert row["spend_usd"] == 0 and row["roas"] is None and row["share_of_spend"] is None
    assert row["active_days"] == 1  # it delivered impressions
    one = env.acme.get("/v1/platforms/comparison", platform="meta_ads")["platforms"]
    assert [p["platform"] for p in one] == ["meta_ads"] and one[0]["share_of_spend"] == 1.0
    assert env.acme.get("/v1/platforms/comparison", platform="linkedin")["platforms"] == []  # organic: no paid rows
    env.acme.get("/v1/platforms/comparison", 422, start="2024-05-05", end="2024-05-04")


# -- /v1/attribution and /v1/attribution/models ---------------------------------------------------------


def _credit(api: Api, model: str, start: date | None, end: date | None) -> pd.DataFrame:
    rows = api.frames["attribution_daily.parquet"]
    rows = rows[rows["model"] == model]
    if start is not None:
        rows = rows[rows["conversion_date"] >= start]
    if end is not None:
        rows = rows[rows["conversion_date"] <= end]
    return rows


@pytest.mark.parametrize("model", MODELS)
def test_rule_based_attribution_sums_exactly_the_days_of_the_window(env, model):
    last = env.last_day
    windows = [(None, None), (FIRST_DAY, FIRST_DAY), (FIRST_DAY + timedelta(days=2), FIRST_DAY + timedelta(days=6)),
               (last, last), (FIRST_DAY - timedelta(days=30), FIRST_DAY - timedelta(days=1))]
    for api in (env.acme, env.all):
        totals = {}
        for start, end in windows:
            params = {k: v.isoformat() for k, v in (("start", start), ("end", end)) if v is not None}
            body = api.get("/v1/attribution", model=model, **params)
            rows = _credit(api, model, start, end)
            assert body["model"] == model
            assert body["total_conversions"] == approx(float(rows["conversions"].sum()))
            assert body["total_conversion_value"] == approx(float(rows["conversion_value"].sum()))
            per_channel = rows.groupby("channel")["conversions"].sum()
            assert [c["channel"] for c in body["channels"]] == sorted(per_channel.index, key=lambda c: (-per_channel[c], c))
            for c in body["channels"]:
                assert c["conversions"] == approx(float(per_channel[c["channel"]]))
                assert c["share"] == approx(float(per_channel[c["channel"]] / per_channel.sum()), 4)
            if rows.empty:
                assert body["channels"] == [] and body["total_conversions"] == 0
            else:
                assert sum(c["share"] for c in body["channels"]) == pytest.approx(1.0, abs=5e-4)
            if start is not None or not rows.empty:
                assert body["start"] == (start or min(rows["conversion_date"])).isoformat()
                assert body["end"] == (end or max(rows["conversion_date"])).isoformat()
            totals[(start, end)] = body["total_conversions"]
        # the whole range is the sum of its days
        by_day = [api.get("/v1/attribution", model=model, start=(FIRST_DAY + timedelta(days=d)).isoformat(),
                          end=(FIRST_DAY + timedelta(days=d)).isoformat())["total_conversions"]
                  for d in range((last - FIRST_DAY).days + 1)]
        assert sum(by_day) == pytest.approx(totals[(None, None)], abs=0.01 * len(by_day))


@pytest.mark.parametrize("model", ["markov", "shapley"])
def test_data_driven_models_answer_for_their_modelled_window_only(env, model):
    fitted = env.acme.frames["attribution_models.parquet"]
    rows = fitted[fitted["model"] == model]
    window_start, window_end = min(rows["window_start"]), max(rows["window_end"])
    body = env.acme.get("/v1/attribution", model=model)
    assert (body["start"], body["end"]) == (window_start.isoformat(), window_end.isoformat())
    assert body["total_conversions"] == approx(float(rows["conversions"].sum()))
    assert body["total_conversion_value"] == approx(float(rows["value"].sum()))
    assert {c["channel"]: c["conversions"] for c in body["channels"]} == {
        ch: approx(float(v)) for ch, v in rows.groupby("channel")["conversions"].sum().items()}
    # naming the modelled window is the same question
    same = env.acme.get("/v1/attribution", model=model, start=window_start.isoformat(), end=window_end.isoformat())
    assert same == body
    # any other window is refused, saying why and what to do
    for params, field in (({"start": (window_start + timedelta(days=1)).isoformat()}, "start"),
                          ({"end": (window_end - timedelta(days=1)).isoformat()}, "end"),
                          ({"start": window_start.isoformat(), "end": (window_end + timedelta(days=3)).isoformat()}, "end")):
        (issue,) = env.acme.get("/v1/attribution", 422, model=model, **params)["detail"]
        assert issue["loc"] == ["query", field]
        msg = issue["msg"]
        assert f"{model} model is fitted" in msg and window_start.isoformat() in msg and window_end.isoformat() in msg
        assert "rule-based" in msg and "first_touch" in msg


def test_attribution_parameters_are_checked(env):
    (issue,) = env.acme.get("/v1/attribution", 422)["detail"]
    assert "model" in issue["msg"] and "markov" in issue["msg"]  # lists the valid values
    (issue,) = env.acme.get("/v1/attribution", 422, model="u_shaped")["detail"]
    assert "Valid values" in issue["msg"] and "shapley" in issue["msg"]
    env.acme.get("/v1/attribution", 422, model="linear", start="2024-05-05", end="2024-05-01")


def test_attribution_models_side_by_side(env):
    body = env.acme.get("/v1/attribution/models")
    fitted = env.acme.frames["attribution_models.parquet"]
    assert body["models"] == ALL_MODELS
    assert (body["window_start"], body["window_end"]) == (
        min(fitted["window_start"]).isoformat(), max(fitted["window_end"]).isoformat())
    expected = fitted.groupby(["channel", "model"])["conversions"].sum()
    totals = fitted.groupby("model")["conversions"].sum()
    assert [c["channel"] for c in body["channels"]] == sorted(set(fitted["channel"]))
    shares: dict[str, float] = {}
    for channel in body["channels"]:
        assert [m["model"] for m in channel["models"]] == ALL_MODELS
        for m in channel["models"]:
            assert m["conversions"] == approx(float(expected[(channel["channel"], m["model"])]))
            assert m["share"] == approx(float(expected[(channel["channel"], m["model"])] / totals[m["model"]]), 4)
            shares[m["model"]] = shares.get(m["model"], 0.0) + m["share"]
    assert all(s == pytest.approx(1.0, abs=5e-4) for s in shares.values())
    # the same numbers as /v1/attribution for each model over the modelled window
    for model in ("markov", "shapley"):
        single = env.acme.get("/v1/attribution", model=model)
        assert {c["channel"]: c["conversions"] for c in single["channels"]} == {
            c["channel"]: m["conversions"] for c in body["channels"] for m in c["models"] if m["model"] == model}


# -- /v1/campaigns --------------------------------------------------------------------------------------


def _walk(api: Api, url: str, key: str, **params: Any) -> tuple[list[dict], int]:
    items, cursor, pages = [], None, 0
    while True:
        page = api.get(url, **params, **({"cursor": cursor} if cursor else {}))
        items += page[key]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 100


@pytest.mark.parametrize("limit", [1, 5, 12, 1000])
def test_campaign_pages_return_every_campaign_once(env, limit):
    campaigns = env.all.frames["campaigns.parquet"]
    items, pages = _walk(env.all, "/v1/campaigns", "items", limit=limit)
    ids = [(c["platform"], c["account_id"], c["campaign_id"]) for c in items]
    assert ids == sorted(zip(campaigns["platform"], campaigns["account_id"], campaigns["campaign_id"]))
    assert pages == -(-len(campaigns) // limit)
    assert env.all.get("/v1/campaigns", limit=limit)["total"] == len(campaigns)
    acme, _ = _walk(env.acme, "/v1/campaigns", "items", limit=limit)
    assert {c["account_id"] for c in acme} == {a for p, a in accounts_of("acme") if p.endswith("_ads")}
    only, _ = _walk(env.all, "/v1/campaigns", "items", limit=limit, platform="meta_ads")
    assert {c["platform"] for c in only} == {"meta_ads"} and len(only) == (campaigns["platform"] == "meta_ads").sum()


def test_campaign_cursors_are_checked(env):
    first = env.all.get("/v1/campaigns", limit=5)
    tag = base64.urlsafe_b64decode(first["next_cursor"] + "==").decode().split(":", 1)[1]
    for garbage in ("!!!", "not-a-cursor", base64.urlsafe_b64encode(b"x:y").decode(),
                    base64.urlsafe_b64encode(f"-5:{tag}".encode()).decode(), "\u00e9t\u00e9", "A" * 201):
        (issue,) = env.all.get("/v1/campaigns", 422, cursor=garbage)["detail"]
        assert issue["loc"] == ["query", "cursor"], garbage
    # a cursor past the end is an empty last page, not an error
    past = base64.urlsafe_b64encode(f"500:{tag}".encode()).decode().rstrip("=")
    assert env.all.get("/v1/campaigns", cursor=past) == {"items": [], "next_cursor": None, "total": 12}


def test_a_cursor_from_an_older_snapshot_is_refused(tmp_path):
    serving = tmp_path / "serving"
    publish(serving, generation=1, checksums=True)
    token = make_registry(tmp_path / "access.sqlite3")["default"]
    app = create_app(serving, webhook_store=tmp_path / "inbound.sqlite3", access_store=tmp_path / "access.sqlite3",
                     rate_limit="100000/minute", clock=lambda: NOW)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        cursors = {url: client.get(url, params={"limit": 2}).json()["next_cursor"]
                   for url in ("/v1/campaigns", "/v1/rollups/daily", "/v1/boosts")}
        assert all(cursors.values())
        assert client.get("/v1/campaigns", params={"limit": 2, "cursor": cursors["/v1/campaigns"]}).status_code == 200
        publish(serving, generation=2, checksums=True)
        for url, cursor in cursors.items():
            response = client.get(url, params={"limit": 2, "cursor": cursor})
            assert response.status_code == 422, (url, response.text)
            (issue,) = response.json()["detail"]
            assert issue["loc"] == ["query", "cursor"] and "earlier published snapshot" in issue["msg"]
        assert client.get("/v1/campaigns", params={"limit": 2}).status_code == 200  # starting again works


def test_campaign_detail_totals_and_daily(env):
    daily = env.acme.frames["campaign_daily.parquet"]
    campaigns = env.acme.frames["campaigns.parquet"]
    for platform, campaign_id in zip(campaigns["platform"], campaigns["campaign_id"]):
        url = f"/v1/campaigns/{platform}/{quote(campaign_id, safe='')}"
        body = env.acme.get(url)
        rows = daily[daily["campaign_id"] == campaign_id].sort_values("metric_date")
        t = body["totals"]
        spend, value = float(rows["spend_usd"].sum()), float(rows["conversion_value_usd"].sum())
        conversions, impressions, clicks = float(rows["conversions"].sum()), int(rows["impressions"].sum()), int(rows["clicks"].sum())
        assert (t["first_day"], t["last_day"]) == (FIRST_DAY.isoformat(), env.last_day.isoformat())
        assert (t["spend_usd"], t["conversion_value_usd"], t["conversions"]) == (approx(spend), approx(value), approx(conversions))
        assert (t["impressions"], t["clicks"]) == (impressions, clicks)
        assert t["ctr"] == approx(clicks / impressions, 4) and t["roas"] == approx(value / spend, 4)
        assert t["cpa_usd"] == approx(spend / conversions)
        assert body["settings_since"].endswith("Z") and body["currency"] == "USD"
        # the same campaign in the list
        listed = [c for c in env.acme.get("/v1/campaigns")["items"] if c["campaign_id"] == campaign_id]
        assert listed == [body]
        # daily: one row per day, in order, paginated
        days, _ = _walk(env.acme, url + "/daily", "items", limit=4)
        assert [d["metric_date"] for d in days] == [d.isoformat() for d in rows["metric_date"]]
        assert [d["spend_usd"] for d in days] == [approx(float(v)) for v in rows["spend_usd"]]
        assert [d["clicks"] for d in days] == list(rows["clicks"])
        window = env.acme.get(url + "/daily", start="2024-05-03", end="2024-05-04")
        assert [d["metric_date"] for d in window["items"]] == ["2024-05-03", "2024-05-04"] and window["total"] == 2
        assert (window["platform"], window["campaign_id"]) == (platform, campaign_id)


def test_campaign_not_found_and_invalid(env):
    env.acme.get("/v1/campaigns/google_ads/no-such-campaign", 404)
    env.acme.get("/v1/campaigns/meta_ads/go-1110001-0", 404)  # the id exists, on another platform
    env.acme.get("/v1/campaigns/google_ads/no-such-campaign/daily", 404)
    for bad in ("linkedin", "facebook"):
        env.acme.get(f"/v1/campaigns/{bad}/go-1110001-0", 422)
    env.acme.get("/v1/campaigns", 422, platform="tiktok")
    env.acme.get("/v1/campaigns", 422, limit=0)
    env.acme.get("/v1/campaigns", 422, limit=1001)
    env.acme.get("/v1/campaigns/google_ads/go-1110001-0/daily", 422, start="2024-05-04", end="2024-05-03")


# -- /v1/posts/top and /v1/engagement/heatmap --------------------------------------------------------------


@pytest.mark.parametrize("who", ["acme", "all"])
def test_top_posts_ranked_by_score_across_accounts(env, who):
    api = getattr(env, who)
    posts = api.frames["top_posts.parquet"].sort_values("engagement_score", ascending=False)
    for limit, platform in ((20, None), (5, None), (3, "x"), (20, "tiktok")):
        params = {"limit": limit, **({"platform": platform} if platform else {})}
        body = api.get("/v1/posts/top", **params)
        expected = posts if platform is None else posts[posts["platform"] == platform]
        expected = expected.head(limit)
        assert body["platform"] == platform
        assert [p["post_id"] for p in body["items"]] == list(expected["post_id"])
        assert [p["rank"] for p in body["items"]] == list(range(1, len(expected) + 1))
        assert [p["engagement_score"] for p in body["items"]] == [approx(float(s)) for s in expected["engagement_score"]]
        scores = [p["engagement_score"] for p in body["items"]]
        assert scores == sorted(scores, reverse=True)
        if platform is None and who == "all":  # the best posts come from several accounts
            assert len({p["account_id"] for p in body["items"]}) > 1
    assert api.get("/v1/posts/top")["items"] == api.get("/v1/posts/top", limit=10)["items"]
    api.get("/v1/posts/top", 422, limit=21)
    api.get("/v1/posts/top", 422, platform="meta_ads")


@pytest.mark.parametrize("who", ["acme", "all"])
def test_heatmap_averages_are_sums_over_posts(env, who):
    api = getattr(env, who)
    cells = api.frames["engagement_heatmap.parquet"].groupby(["platform", "publish_dow", "publish_hour"]).agg(
        posts=("posts", "sum"), scored=("scored_posts", "sum"), score=("engagement_score_sum", "sum"),
        rated=("rated_posts", "sum"), rate=("engagement_rate_sum", "sum"))
    body = api.get("/v1/engagement/heatmap")
    assert body["platform"] is None
    got = {(c["platform"], c["publish_dow"], c["publish_hour"]): c for c in body["cells"]}
    assert list(got) == sorted(got) and set(got) == set(cells.index)
    for key, e in cells.iterrows():
        c = got[key]
        assert c["posts"] == int(e["posts"])
        # a weighted mean over the accounts (sums over posts), not a mean of per-account means
        # the means are over the posts that have a score / a rate, not over every post
        assert c["avg_engagement_score"] == approx(float(e["score"] / e["scored"]))
        if e["rated"]:
            assert c["avg_engagement_rate"] == approx(float(e["rate"] / e["rated"]), 4)
        else:  # no post of the cell has a rate yet: no mean, not 0
            assert c["avg_engagement_rate"] is None
    one = api.get("/v1/engagement/heatmap", platform="reddit")
    assert one["platform"] == "reddit" and {c["platform"] for c in one["cells"]} == {"reddit"}
    assert one["cells"] == [c for c in body["cells"] if c["platform"] == "reddit"]
    assert {c["platform"] for c in body["cells"]} == set(ORGANIC)


# -- /v1/boosts ---------------------------------------------------------------------------------------------


def test_boosts_list_filters_and_pages(env):
    boosts = env.acme.frames["boosts.parquet"].sort_values(["flight_start_at", "boost_id"], ascending=[False, True])
    items, pages = _walk(env.acme, "/v1/boosts", "items", limit=4)
    assert [b["boost_id"] for b in items] == list(boosts["boost_id"])
    assert pages == 2
    x = env.acme.get("/v1/boosts", platform="x")
    assert {b["platform"] for b in x["items"]} == {"x"} and x["total"] == (boosts["platform"] == "x").sum()
    estimated = env.acme.get("/v1/boosts", status="estimated")
    assert {b["status"] for b in estimated["items"]} == {"estimated"}
    assert estimated["total"] == (boosts["status"] == "estimated").sum()
    assert env.acme.get("/v1/boosts", status="too_few_comparables") == {"items": [], "next_cursor": None, "total": 0}
    env.acme.get("/v1/boosts", 422, status="bogus")
    env.acme.get("/v1/boosts", 422, platform="google_ads")


def test_boost_detail_with_its_organic_vs_paid_split(env):
    boosts = env.acme.frames["boosts.parquet"]
    split = env.acme.frames["boost_organic_vs_paid.parquet"].set_index("boost_id")
    for b in boosts.itertuples():
        body = env.acme.get(f"/v1/boosts/{quote(b.boost_id, safe='')}")
        assert (body["boost_id"], body["platform"], body["account_id"], body["post_id"]) == (
            b.boost_id, b.platform, b.account_id, b.post_id)
        assert body["status"] == b.status
        if b.status == "estimated":
            assert body["organic_lift"] == approx(b.organic_lift)
            assert body["relative_lift"] == approx(b.relative_lift, 4)
            assert body["organic_lift_low"] <= body["organic_lift"] <= body["organic_lift_high"]
            assert body["significant"] == b.significant
        else:
            assert body["organic_lift"] is None and body["counterfactual_engagements"] is None
        assert body["spend_usd"] == approx(b.spend_usd)
        assert body["cost_per_incremental_engagement_usd"] == approx(b.cost_per_incremental_engagement_usd)
        assert body["roi"] == approx(b.roi, 4)
        s, e = body["organic_vs_paid"], split.loc[b.boost_id]
        assert s["campaign_id"] == e["campaign_id"] and s["ad_platform"] == e["ad_platform"]
        assert (s["paid_share"], s["organic_share"]) == (approx(e["paid_share"], 4), approx(e["organic_share"], 4))
        assert s["paid_share"] + s["organic_share"] == pytest.approx(1.0)
        assert s["paid_only_conversions"] + s["organic_only_conversions"] + s["overlap_conversions"] == s["converted_journeys"]
        assert (s["start_date"], s["end_date"]) == (e["start_date"].isoformat(), e["end_date"].isoformat())
        # the list carries the same boost, without the split
        listed = [i for i in env.acme.get("/v1/boosts")["items"] if i["boost_id"] == b.boost_id]
        assert listed == [{k: v for k, v in body.items() if k != "organic_vs_paid"}]
    env.acme.get("/v1/boosts/bst-nope", 404)


# -- /v1/overview ------------------------------------------------------------------------------------------


def test_overview_default_window_reaches_before_the_data(env):
    body = env.acme.get("/v1/overview")
    last = env.last_day
    assert (body["start"], body["end"], body["days"]) == ((last - timedelta(days=6)).isoformat(), last.isoformat(), 7)
    assert body["previous_start"] < FIRST_DAY.isoformat()
    assert body["previous_complete"] is False
    assert FIRST_DAY.isoformat() in body["change_unavailable_reason"]
    assert all(m["change"] is None and m["change_pct"] is None for m in body["metrics"])
    assert all(m["current"] is not None for m in body["metrics"] if m["metric"] == "spend_usd")
    assert body["previous_days_with_data"] == (last - timedelta(days=7) - FIRST_DAY).days + 1


def test_overview_with_a_complete_previous_window(env):
    overview = env.acme.frames["overview_daily.parquet"]
    start, end = env.last_day - timedelta(days=3), env.last_day
    body = env.acme.get("/v1/overview", start=start.isoformat(), end=end.isoformat())
    assert body["previous_complete"] is True and body["change_unavailable_reason"] is None
    assert (body["previous_start"], body["previous_end"]) == (
        (start - timedelta(days=4)).isoformat(), (start - timedelta(days=1)).isoformat())
    metrics = {m["metric"]: m for m in body["metrics"]}
    cur = overview[(overview["metric_date"] >= start) & (overview["metric_date"] <= end)]
    prev = overview[(overview["metric_date"] >= start - timedelta(days=4)) & (overview["metric_date"] < start)]
    spend, prev_spend = float(cur["spend_usd"].sum()), float(prev["spend_usd"].sum())
    assert metrics["spend_usd"]["current"] == approx(spend, 4)
    assert metrics["spend_usd"]["previous"] == approx(prev_spend, 4)
    assert metrics["spend_usd"]["change"] == approx(spend - prev_spend, 4)
    assert metrics["spend_usd"]["change_pct"] == approx((spend - prev_spend) / prev_spend, 4)
    revenue = float(cur["revenue_usd"].sum())
    assert metrics["roas"]["current"] == approx(revenue / spend, 4)
    assert metrics["profit_usd"]["current"] == approx(revenue - spend, 4)
    assert metrics["ctr"]["current"] == approx(float(cur["paid_clicks"].sum() / cur["paid_impressions"].sum()), 4)
    assert all(m["change"] is not None for m in body["metrics"] if m["previous"] is not None)


@pytest.mark.parametrize(
    "params",
    [
        {"start": "1969-12-31", "end": "1970-01-05"},
        {"start": "0001-01-01", "end": "2024-05-01"},
        {"end": "1969-12-31"},
        {"start": "2024-05-01", "end": "9001-01-01"},
        {"start": "9001-01-01"},
        {"end": "9999-12-31"},
        {"start": "2024-02-30", "end": "2024-03-01"},
        {"start": "2024-13-01"},
        {"start": "10000-01-01"},
        {"start": "2024-5-1"},
        {"start": "2024-05-01T00:00:00"},
        {"start": "1714521600"},
        {"start": "2024-05-11", "end": "2024-05-01"},
        {"start": "1970-01-01", "end": "9000-12-31"},  # valid days, a range of more than ten years
        {"start": "2024-05-12"},  # after the last day of data, the default end
    ],
)
def test_overview_refuses_bad_dates_with_422_never_500(env, params):
    body = env.acme.get("/v1/overview", 422, **params)
    assert body["detail"] and all(i["loc"][0] == "query" for i in body["detail"])


@pytest.mark.parametrize(
    "params", [{"start": "1970-01-01", "end": "1970-01-01"}, {"start": "9000-12-25", "end": "9000-12-31"},
               {"start": "1970-01-01", "end": "1980-01-07"}],
)
def test_overview_at_the_edges_of_the_calendar_answers_without_data(env, params):
    body = env.acme.get("/v1/overview", **params)
    assert body["current_days_with_data"] == body["previous_days_with_data"] == 0
    assert all(m[k] is None for m in body["metrics"] for k in ("current", "previous", "change", "change_pct"))
    if params["start"] < FIRST_DAY.isoformat():
        assert body["previous_complete"] is False and body["change_unavailable_reason"]


def test_date_bounds_on_every_dated_route(env):
    for url, extra in (("/v1/rollups/daily", {}), ("/v1/platforms/comparison", {}), ("/v1/attribution", {"model": "linear"}),
                       ("/v1/campaigns/google_ads/go-1110001-0/daily", {})):
        for bad in ("1969-12-31", "9001-01-01", "0000-01-01"):
            for field in ("start", "end"):
                body = env.acme.get(url, 422, **extra, **{field: bad})
                assert body["detail"][0]["loc"] == ["query", field], (url, bad)
        env.acme.get(url, **extra, start="1970-01-01", end="9000-12-31")
