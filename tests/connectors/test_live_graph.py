"""The whole graph in live mode against the fake platforms: the marts agree with the platforms' truth.

One scenario (module fixture), on the fake clock at 2026-10-12 10:00, partitions 2026-10-10..2026-10-11:
  1. a fresh Cycle home, ``CYCLE_SOURCE_MODE=live``, all seven connectors configured against the fake platforms
     (every ad day of the window is final by then: the fake restates a day for one day here);
  2. journeys, AI generations and experiment exposures sent the live way, into the API's inbound store as
     ``POST /v1/events`` keeps them, and loaded by the run ``tracked_events_sensor`` requests;
  3. ``full_pipeline_job`` over the window (the engagement model's first training included), with the
     simulator's class rigged to count (and refuse) every use.
Every figure is checked against the fake's truth (``FakeDataset``) or the events sent, never against the
warehouse itself. Two failures this scenario met on a deployment's first live days are pinned at the end.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from analytics_assets.contracts.events import event_json, parse_event
from analytics_assets.contracts.inbound import TrackedEventRecord, TrackedEventStore
from analytics_assets.contracts.raw import AD_PLATFORMS, ORGANIC_PLATFORMS
from analytics_assets.definitions import build_defs
from analytics_assets.sources.simulator import SimulatorConfig, core
from cycle_testing import CycleHome, new_home
from fake_platforms import FakeClock, FakeDataset, FakePlatforms
from test_connector_pipeline import _resources

pytestmark = pytest.mark.slow

AS_OF = datetime(2026, 10, 12, 10, 0)
FIRST, LAST = date(2026, 10, 10), date(2026, 10, 11)  # LAST is the latest partition: the social connectors poll
DAYS = [FIRST, LAST]
POST_DAYS = [date(2026, 10, 9), FIRST, LAST]
# enough posts a day for the engagement model's first training (50 rows of posts a day old, 2 publishing days)
CONFIG = SimulatorConfig(seed=4, posts_per_day=28, campaigns_per_platform=2)
USD_PER_UNIT = pd.read_csv(Path(__file__).parents[2] / "dbt" / "seeds" / "currency_rates_usd.csv").set_index("currency")["usd_per_unit"].to_dict()


# ------------------------------------------------------------------------------------- tracked events


def _journeys(boost: dict) -> list[dict]:
    """Four journeys over the window, three of which convert (one in EUR): j3 saw the boosted LinkedIn post
    organically (utm_content = its id) and then its boost's ad (utm_campaign = the boost's campaign)."""
    paths = [
        ("j1", "u1", FIRST, [("linkedin", "social", None, None), ("google", "cpc", "brand", None)], (120.0, "USD")),
        ("j2", "u2", FIRST, [("facebook", "paid_social", "retarget", None)], (80.0, "EUR")),
        ("j3", "u3", LAST, [("linkedin", "social", None, boost["post_id"]), ("linkedin", "paid_social", boost["campaign_id"], None),
                            ("google", "cpc", "brand", None)], (45.5, "USD")),
        ("j4", "u4", LAST, [("reddit", "social", None, None), ("tiktok", "social", None, None)], None),
    ]
    events = []
    for journey, user, day, touches, conversion in paths:
        at = datetime.combine(day, datetime.min.time()) + timedelta(hours=8)
        for k, (source, medium, campaign, content) in enumerate(touches):
            events.append({"type": "touchpoint", "event_id": f"{journey}-t{k}", "timestamp": (at + timedelta(hours=k)).isoformat(),
                           "journey_id": journey, "user_id": user, "utm_source": source, "utm_medium": medium,
                           **({"utm_campaign": campaign} if campaign else {}), **({"utm_content": content} if content else {})})
        if conversion:
            value, currency = conversion
            events.append({"type": "conversion", "event_id": f"{journey}-c", "timestamp": (at + timedelta(hours=6)).isoformat(),
                           "journey_id": journey, "user_id": user, "value": value, "currency": currency})
    return events


GENERATIONS = [  # day, platform, status, model, prompt tokens, completion tokens, latency ms, cost USD
    (FIRST, "linkedin", "succeeded", "gen-model-a", 410, 180, 900, 0.0031),
    (FIRST, "x", "failed", "gen-model-a", 380, 0, 5000, 0.0010),
    (LAST, "reddit", "succeeded", "gen-model-b", 520, 240, 1200, 0.0052),
    (LAST, "tiktok", "filtered", "gen-model-b", 300, 90, 700, 0.0020),
    (LAST, "linkedin", "succeeded", "gen-model-a", 450, 200, 1000, 0.0035),
]
ARMS = {"control": ("statement", 3), "treatment": ("question", 7)}  # variant, converted units of 12


def _generations() -> list[dict]:
    return [
        {"type": "ai_generation", "event_id": f"gen-{k}", "timestamp": f"{day}T1{k}:00:00", "model": model,
         "platform": platform, "status": status, "prompt_tokens": prompt, "completion_tokens": completion,
         "latency_ms": latency, "cost_usd": cost}
        for k, (day, platform, status, model, prompt, completion, latency, cost) in enumerate(GENERATIONS)
    ]


def _exposures() -> list[dict]:
    """One A/B test of hooks (a factor the simulator never tests), 12 units an arm over the window, 0/1 outcome."""
    events = []
    for role, (variant, converted) in ARMS.items():
        for u in range(12):
            events.append({
                "type": "experiment_exposure", "event_id": f"exp-hook:{variant}-{u}", "timestamp": f"{DAYS[u % 2]}T09:{u:02d}:00",
                "experiment_id": "exp-hook", "experiment_name": "Question hooks", "factor": "hook_type",
                "start_date": FIRST.isoformat(), "end_date": LAST.isoformat(), "metric": "engagement_click",
                "metric_kind": "binary", "baseline_mean": 0.3, "baseline_sd": 0.46, "mde": 0.1, "alpha": 0.05,
                "power": 0.8, "variant": variant, "variant_role": role, "unit_id": f"{variant}-{u}",
                "value": 1.0 if u < converted else 0.0,
            })
    return events


def _send(home: CycleHome, events: dict[str, list[dict]]) -> None:
    """Into the API's store as ``POST /v1/events`` keeps them (validated, stored once per event_id)."""
    store = TrackedEventStore(home.root / "api" / "inbound.sqlite3")
    records = []
    for batch in events.values():
        for raw in batch:
            event, why = parse_event(raw)
            assert event is not None, (raw["event_id"], why)
            records.append(TrackedEventRecord(raw["event_id"], raw["type"], event_json(event)))
    assert all(store.append(records, "default"))


# ------------------------------------------------------------------------------------------ scenario


class _SimulatorCalls:
    """Every construction or day of the simulator class, wherever it comes from; each one raises."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.calls = 0

        def refuse(*args, **kwargs):
            self.calls += 1
            raise AssertionError("the simulator was used in live mode")

        monkeypatch.setattr(core.PlatformSimulator, "__init__", refuse)
        monkeypatch.setattr(core.PlatformSimulator, "day", refuse)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    home = new_home(tmp_path_factory.mktemp("live_graph"))
    # settle_days=1: at AS_OF every day of the window is final, so the marts must hold the final figures
    data = FakeDataset(CONFIG, POST_DAYS, DAYS, settle_days=1, boost_share=0.5)
    boosts = data.final_boosts(FIRST, LAST)
    boost = boosts[(boosts["boost_date"] == LAST) & (boosts["ad_platform"] == "linkedin_ads")].iloc[0].to_dict()
    events = {"journeys": _journeys(boost), "generations": _generations(), "exposures": _exposures()}
    with pytest.MonkeyPatch.context() as mp, FakePlatforms(data, FakeClock(AS_OF), max_lifetime_seconds=240) as fake:
        mp.setenv("CYCLE_HOME", str(home.root))
        mp.setenv("CYCLE_SOURCE_MODE", "live")
        mp.setenv("CYCLE_EVENTS_LANDING_DIR", str(home.root / "landing"))
        (home.root / "landing").mkdir()
        calls = _SimulatorCalls(mp)
        _send(home, events)
        tracked = home.ingest_api_store("tracked_events_sensor")
        simulator = home.resources(source_mode="live")["simulator"]
        resources = {**home.resources(), **_resources(home, fake, AS_OF), "simulator": simulator}
        result = build_defs(resources).resolve_job_def("full_pipeline_job").execute_in_process(
            instance=home.instance, raise_on_error=False,
            tags={"dagster/asset_partition_range_start": FIRST.isoformat(), "dagster/asset_partition_range_end": LAST.isoformat()},
        )
    return {"home": home, "data": data, "events": events, "boost": boost, "result": result, "tracked": tracked,
            "simulator_calls": calls.calls}


def _q(live, sql: str, params: list | None = None) -> pd.DataFrame:
    out = live["home"].query(sql, params)
    for col in ("metric_date", "generated_date", "boost_date"):
        if col in out:
            out[col] = pd.to_datetime(out[col]).dt.date
    return out


def _usd(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column] * frame["currency"].map(USD_PER_UNIT)


def _truth_ads(live) -> pd.DataFrame:
    return pd.concat([live["data"].final_ads(p, FIRST, LAST) for p in AD_PLATFORMS], ignore_index=True)


def _served_accounts(data: FakeDataset, platform: str) -> set[str]:
    # Reddit names an author by username and by fullname (t2_...): Cycle keys accounts by the fullname
    served = set(data.accounts(platform))
    if platform == "reddit":
        served |= {"t2_cycle" + name.removeprefix("cycle_brand_") for name in served}
    return served


# ------------------------------------------------------------------------------------------- tests


def test_the_whole_graph_runs_live_without_the_simulator(live):
    result = live["result"]
    failures = [str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure]
    assert result.success, "\n".join(failures)
    assert live["simulator_calls"] == 0  # run-level: not one construction nor one simulated day, in any asset
    assert live["tracked"] == {"raw_tracked_touchpoints", "raw_tracked_ai_generations", "raw_tracked_experiment_observations"}
    done = {e.asset_key.to_user_string() for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert {"fct_campaign_performance", "fct_ad_creative_performance", "fct_boost_organic_vs_paid", "dim_post",
            "agg_top_posts", "agg_channel_attribution", "agg_ai_usage_daily", "experiment_results"} <= done


def test_campaign_days_equal_the_platforms_final_figures_in_usd(live):
    truth = _truth_ads(live).assign(metric_date=lambda f: f["metric_date"])
    got = _q(live, "select * from main.fct_campaign_performance where metric_date between ? and ?", [FIRST, LAST])
    key = ["platform", "campaign_id", "metric_date"]
    merged = truth.merge(got, on=key, how="outer", suffixes=("_truth", ""), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", key]
    assert len(merged) == len(truth) == 2 * 2 * 3 + int(truth["campaign_name"].str.startswith("Boost").sum())
    for col in ("impressions", "clicks", "conversions"):
        assert (merged[col] == merged[f"{col}_truth"]).all(), col
    assert (merged["spend"].round(2) == merged["spend_truth"].round(2)).all()
    assert (merged["account_id"] == merged["account_id_truth"]).all() and (merged["currency"] == merged["currency_truth"]).all()
    expected_usd = merged["spend_truth"] * merged["currency_truth"].map(USD_PER_UNIT)
    assert ((merged["spend_usd"] - expected_usd).abs() < 0.005).all()
    value_usd = merged["conversion_value"] * merged["currency_truth"].map(USD_PER_UNIT)
    assert ((merged["conversion_value_usd"] - value_usd).abs() < 0.005).all()
    assert truth["currency"].nunique() >= 3  # USD, EUR, GBP, CAD accounts: the conversion is exercised


def test_platform_daily_paid_rows_add_up_the_platforms_figures(live):
    truth = _truth_ads(live).assign(spend_usd=lambda f: _usd(f, "spend"), revenue_usd=lambda f: _usd(f, "conversion_value"))
    truth = truth.groupby(["metric_date", "platform"])[["spend_usd", "clicks", "impressions", "conversions", "revenue_usd"]].sum()
    got = _q(live, "select * from main.agg_platform_daily where channel_type = 'paid'").set_index(["metric_date", "platform"])
    assert sorted(got.index) == sorted(truth.index) and len(truth) == len(AD_PLATFORMS) * len(DAYS)
    got = got.loc[truth.index]
    for col in ("clicks", "impressions", "conversions"):
        assert got[col].astype(int).tolist() == truth[col].astype(int).tolist(), col
    for col in ("spend_usd", "revenue_usd"):
        assert (got[col] - truth[col]).abs().max() < 0.01, col


def test_creatives_carry_names_and_formats_and_sum_to_their_campaigns(live):
    data = live["data"]
    got = _q(live, "select * from main.fct_ad_creative_performance where metric_date between ? and ?", [FIRST, LAST])
    for platform in AD_PLATFORMS:
        truth = data.final_creatives(platform, FIRST, LAST)
        mine = got[got["platform"] == platform].merge(truth, on=["ad_id", "metric_date"], how="outer", suffixes=("", "_truth"), indicator=True)
        assert (mine["_merge"] == "both").all() and len(mine) == len(truth) > 0, platform
        assert (mine["ad_name"] == mine["ad_name_truth"]).all() and (mine["campaign_id"] == mine["campaign_id_truth"]).all()
        assert (mine["creative_format"].str.upper() == mine["creative_format_truth"]).all(), platform
        for col in ("impressions", "clicks", "conversions"):
            assert (mine[col] == mine[f"{col}_truth"]).all(), (platform, col)
        assert ((mine["spend_usd"] - _usd(mine.assign(currency=mine["currency_truth"]), "spend_truth")).abs() < 0.005).all()
    # the creatives of each campaign-day add up to the platform's campaign-day (the fake's, not the mart's)
    sums = got.groupby(["platform", "campaign_id", "metric_date"])[["impressions", "clicks", "conversions", "spend"]].sum()
    truth = _truth_ads(live).set_index(["platform", "campaign_id", "metric_date"])
    assert sorted(sums.index) == sorted(truth.index)
    for col in ("impressions", "clicks", "conversions"):
        assert (sums[col] == truth.loc[sums.index, col]).all(), col
    assert (sums["spend"].round(2) == truth.loc[sums.index, "spend"].round(2)).all()


def test_boosts_are_the_platforms_with_their_paid_delivery(live):
    truth = live["data"].final_boosts(FIRST, LAST)
    # Meta's boosts (of Facebook and Instagram posts, which Cycle does not track) reach staging with their paid
    # delivery, and the facts without waiting for a post that never comes (the exemption in macros/held_back.sql)
    meta = truth[truth["ad_platform"] == "meta_ads"]
    staged = _q(live, "select boost_id, organic_platform, spend, paid_impressions, paid_engagements from main.stg_boosts "
                      "where ad_platform = 'meta_ads'")
    assert len(meta) > 0 and len(staged) == len(meta) and set(staged["organic_platform"]) <= {"facebook", "instagram"}
    assert staged["paid_impressions"].sum() == meta["paid_impressions"].sum()
    assert staged["paid_engagements"].sum() == meta["paid_engagements"].sum()
    held = _q(live, "select distinct child_id, parent from main.fct_held_back_rows where child_model = 'stg_boosts'")
    assert held.empty, held
    # so the held-back WARN is quiet: nothing waits for a parent
    checks = {c.check_name: c for c in live["result"].get_asset_check_evaluations()}
    assert checks["held_back_rows_waiting_for_a_parent"].passed
    truth = truth[truth["ad_platform"].isin(["linkedin_ads", "meta_ads"])]
    assert len(truth.loc[truth["ad_platform"] == "linkedin_ads", "boost_id"].unique()) >= 2
    per_boost = truth.assign(spend_usd=lambda f: _usd(f, "spend")).groupby(["boost_id", "post_id", "campaign_id"]).agg(
        spend_usd=("spend_usd", "sum"), paid_impressions=("paid_impressions", "sum"),
        paid_engagements=("paid_engagements", "sum"), days=("boost_date", "nunique"),
        organic_platform=("organic_platform", "first"))
    got = _q(live, "select * from main.fct_boost_contribution").set_index(["boost_id", "post_id", "campaign_id"])
    assert sorted(got.index) == sorted(per_boost.index)
    got = got.loc[per_boost.index]
    assert (got["paid_impressions"] == per_boost["paid_impressions"]).all()
    assert (got["paid_engagements"] == per_boost["paid_engagements"]).all()
    assert ((got["spend_usd"] - per_boost["spend_usd"]).abs() < 0.01).all()
    assert (got["days_active"] == per_boost["days"]).all()
    assert (got["organic_platform"] == per_boost["organic_platform"]).all()
    assert set(got["organic_platform"]) - {"facebook", "instagram"} == {"linkedin"}
    assert set(got["ad_platform"]) == {"linkedin_ads", "meta_ads"}
    # an untracked post's organic side is unknown: null, never 0; a tracked one's is measured
    untracked = got["ad_platform"] == "meta_ads"
    assert (~got.loc[untracked, "is_organic_tracked"]).all() and got.loc[~untracked, "is_organic_tracked"].all()
    assert got.loc[untracked, ["organic_engagements", "total_engagements", "paid_share", "organic_share"]].isna().all().all()
    assert got.loc[~untracked, "organic_engagements"].notna().all()
    # the boost j3 met organically then through its ad: one journey on each side, both, converted
    vs = _q(live, "select * from main.fct_boost_organic_vs_paid").set_index("boost_id")
    assert sorted(vs.index) == sorted(per_boost.index.get_level_values("boost_id"))
    boost = vs.loc[live["boost"]["boost_id"]]
    assert (boost["organic_journeys"], boost["paid_journeys"], boost["overlap_journeys"], boost["converted_journeys"]) == (1, 1, 1, 1)
    assert boost["conversion_value_usd"] == pytest.approx(45.5)
    others = vs.drop(index=live["boost"]["boost_id"])
    assert (others["reached_journeys"] == 0).all()
    # a Meta boost reaches the organic-versus-paid split with its spend, under the ad account that paid for it
    meta_vs = vs[vs["ad_platform"] == "meta_ads"]
    meta_spend = meta.assign(spend_usd=lambda f: _usd(f, "spend")).groupby("boost_id")["spend_usd"].sum()
    assert sorted(meta_vs.index) == sorted(meta_spend.index)
    assert (meta_vs["spend_usd"] - meta_spend.loc[meta_vs.index]).abs().max() < 0.01
    assert meta_vs[["organic_engagements", "paid_share", "organic_share"]].isna().all().all()
    assert (meta_vs["platform"] == "meta_ads").all() and (~meta_vs["is_organic_tracked"]).all()
    campaigns = _q(live, "select distinct campaign_id, account_id from main.stg_ad_campaign_metrics where platform = 'meta_ads'")
    owner = dict(zip(campaigns["campaign_id"], campaigns["account_id"]))
    assert meta_vs["account_id"].tolist() == [owner[c] for c in meta_vs["campaign_id"]]
    # boost_effectiveness skips them (no organic curve) and says so; they keep that owner (the served boosts')
    skipped = _q(live, "select * from analysis.boost_effectiveness where status = 'organic_untracked'").set_index("boost_id")
    assert sorted(skipped.index) == sorted(meta_vs.index)
    assert skipped["account_id"].tolist() == meta_vs.loc[skipped.index, "account_id"].tolist()
    assert (skipped["platform"] == "meta_ads").all() and skipped["organic_lift"].isna().all()
    assert all(c.passed for c in live["result"].get_asset_check_evaluations() if c.asset_key.to_user_string() == "boost_effectiveness")


def test_posts_carry_the_platforms_identity_and_counters_at_the_poll(live):
    data = live["data"]
    posts = _q(live, "select * from main.dim_post")
    truth = {(p, i) for p in ORGANIC_PLATFORMS for i in data.visible_posts(p, AS_OF)["post_id"]}
    assert set(zip(posts["platform"], posts["post_id"])) == truth and len(truth) == len(posts) > 0
    for post in posts.to_dict("records"):
        counters = data.counters(data.post(post["platform"], post["post_id"]), AS_OF)
        for metric, value in counters.items():  # a metric the platform does not report is 0 in the mart
            assert post[metric] == (value or 0), (post["platform"], post["post_id"], metric)
        identity = data.identity(post["platform"], post["post_id"])
        assert post["post_url"] == identity["post_url"], post["post_id"]
        assert post["author_name"] == identity["author_name"] and post["author_name"], post["post_id"]
        assert post["post_excerpt"] == identity["post_excerpt"], post["post_id"]
    top = _q(live, "select * from main.agg_top_posts")
    assert len(top) > 0 and set(zip(top["platform"], top["post_id"])) <= truth
    for row in top.to_dict("records"):
        identity = data.identity(row["platform"], row["post_id"])
        assert (row["post_url"], row["author_name"]) == (identity["post_url"], identity["author_name"])


def test_linkedin_posts_carry_their_excerpt(live):
    """LinkedIn's text is in the posts listing (``commentary``), not in the share statistics a snapshot is
    parsed from: the client joins what the run's listing said into each share's statistics."""
    data = live["data"]
    posts = _q(live, "select post_id, post_excerpt from main.dim_post where platform = 'linkedin'")
    assert len(posts) > 0
    assert posts["post_excerpt"].tolist() == [data.identity("linkedin", i)["post_excerpt"] for i in posts["post_id"]]


def test_live_posts_carry_their_content_features(live):
    """Text length and media from the payloads equal the platforms' truth; hook and topic, read from the text,
    are said for nearly every post and right wherever said: the engagement model learns from content in live
    mode too."""
    data = live["data"]
    posts = _q(live, "select platform, post_id, hook_type, media_type, topic, text_length from main.dim_post")
    said = right = 0
    for post in posts.to_dict("records"):
        truth = data.content(post["platform"], post["post_id"])
        assert (post["text_length"], post["media_type"]) == (truth["text_length"], truth["media_type"]), post
        for feature in ("hook_type", "topic"):
            if post[feature] is not None and not pd.isna(post[feature]):
                said += 1
                right += post[feature] == truth[feature]
    assert said >= 0.9 * 2 * len(posts) and right == said, (said, right, len(posts))
    assert set(posts["media_type"]) == {"text", "image", "video", "carousel", "link"}


def test_attribution_credits_the_conversions_sent(live):
    conversions = [e for e in live["events"]["journeys"] if e["type"] == "conversion"]
    value_usd = sum(e["value"] * USD_PER_UNIT[e["currency"]] for e in conversions)
    staged = _q(live, "select event_id from main.stg_touchpoints")
    assert sorted(staged["event_id"]) == sorted(e["event_id"] for e in live["events"]["journeys"])
    per_conversion = _q(live, "select distinct conversion_id, conversion_value_usd from main.fct_touchpoint_attribution")
    assert len(per_conversion) == len(conversions) == 3
    assert per_conversion["conversion_value_usd"].sum() == pytest.approx(value_usd)
    credited = _q(live, "select model, sum(conversions) c, sum(conversion_value) v from main.agg_channel_attribution group by model")
    assert len(credited) == 5
    assert credited["c"].round(9).eq(3.0).all() and ((credited["v"] - value_usd).abs() < 0.01).all()
    # first touch: j1's LinkedIn organic, j2's Meta ad, j3's LinkedIn organic
    first = _q(live, "select channel, conversions from main.agg_channel_attribution where model = 'first_touch' and conversions > 0")
    assert dict(zip(first["channel"], first["conversions"])) == {"linkedin_organic": 2.0, "meta_ads": 1.0}
    compared = _q(live, "select model, sum(conversions) c from analysis.agg_attribution_model_comparison group by model")
    assert len(compared) > 5 and compared["c"].round(6).eq(3.0).all()


def test_ai_usage_holds_the_generations_sent(live):
    truth = pd.DataFrame(GENERATIONS, columns=["generated_date", "platform", "status", "model", "prompt_tokens",
                                               "completion_tokens", "latency_ms", "cost_usd"])
    truth = truth.groupby(["generated_date", "model"]).agg(
        calls=("status", "size"), succeeded=("status", lambda s: int((s == "succeeded").sum())),
        failed=("status", lambda s: int((s == "failed").sum())), filtered=("status", lambda s: int((s == "filtered").sum())),
        prompt_tokens=("prompt_tokens", "sum"), completion_tokens=("completion_tokens", "sum"), cost_usd=("cost_usd", "sum"),
        latency_max_ms=("latency_ms", "max"))
    got = _q(live, "select * from main.agg_ai_usage_daily").set_index(["generated_date", "model"])
    assert sorted(got.index) == sorted(truth.index)
    got = got.loc[truth.index]
    for col in ("calls", "succeeded", "failed", "filtered", "prompt_tokens", "completion_tokens", "latency_max_ms"):
        assert got[col].astype(int).tolist() == truth[col].astype(int).tolist(), col
    assert ((got["cost_usd"] - truth["cost_usd"]).abs() < 1e-9).all()


def test_experiment_results_hold_the_exposures_sent(live):
    got = _q(live, "select * from analysis.experiment_results where experiment_id = 'exp-hook'")
    assert len(got) == 1, got
    row = got.iloc[0]
    assert (row["n_control"], row["n_treatment"]) == (12, 12)
    assert row["control_mean"] == pytest.approx(3 / 12) and row["treatment_mean"] == pytest.approx(7 / 12)
    assert set(_q(live, "select distinct experiment_id from analysis.experiment_results")["experiment_id"]) == {"exp-hook"}


def test_nothing_in_the_marts_is_simulated(live):
    data = live["data"]
    for table in ("dim_account", "fct_campaign_performance", "fct_ad_creative_performance", "dim_post", "agg_top_posts",
                  "agg_account_daily"):
        accounts = _q(live, f"select distinct platform, account_id from main.{table}")
        for platform, ids in accounts.groupby("platform")["account_id"]:
            served = {"default"} if platform == "web" else _served_accounts(data, platform)  # web: the tracked property
            assert set(ids) <= served, (table, platform, set(ids) - served)
    posts = _q(live, "select distinct platform, post_id from main.fct_post_metrics_daily")
    assert all(data.post(p, i) is not None for p, i in zip(posts["platform"], posts["post_id"]))
    campaigns = _q(live, "select distinct platform, campaign_id from main.dim_campaign")
    truth = _truth_ads(live)
    assert set(zip(campaigns["platform"], campaigns["campaign_id"])) == set(zip(truth["platform"], truth["campaign_id"]))


def _source_checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        e.event_specific_data.asset_key.to_user_string(): e.event_specific_data for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.check_name == "source_is_configured"
    }


def test_source_checks_pass_for_every_connected_entity(live):
    checks = _source_checks(live["result"])
    for table in ("raw_social_post_snapshots", "raw_ad_campaign_metrics", "raw_ad_creative_metrics", "raw_touchpoints",
                  "raw_ai_generations", "raw_experiment_observations"):
        assert checks[table].passed, (table, checks[table].description)
    # boosts: LinkedIn Ads and Meta are connected; no connector can discover Google's (the check says so, as a warning)
    boosts = checks["raw_boosts"]
    assert boosts.severity == dg.AssetCheckSeverity.WARN and "linkedin_ads" not in boosts.description
    assert "meta_ads" not in boosts.description and "google_ads" in boosts.description


# ------------------------------------------------------ the two failures a live deployment's first days met


def test_a_first_days_property_is_compared_with_the_path_subsets_game():
    """A few journeys, a channel seen only in the one that did not convert: the incremental Shapley game has no
    incremental conversion to share. The comparison falls back to the path-subsets game and says so, instead of
    failing the graph's run (it did, on this scenario's first journeys)."""
    from analytics_assets.defs.analysis.attribution import AttributionComparisonConfig, _compare_property
    from ml.attribution import PathDataError, attribute

    paths = {"j1": (["linkedin_organic", "google_ads"], 120.0), "j2": (["meta_ads"], 86.4),
             "j3": (["x_organic", "linkedin_ads", "google_ads"], 45.5), "j4": (["reddit_organic", "tiktok_organic", "google_ads"], None)}
    touches = pd.DataFrame([
        {"property_id": "default", "path_id": path, "channel": channel, "position": k + 1, "path_date": pd.Timestamp(LAST),
         "converted": int(value is not None), "value": value or 0.0}
        for path, (channels, value) in paths.items() for k, channel in enumerate(channels)
    ])
    data, credits, caught = _compare_property(touches, AttributionComparisonConfig())
    with pytest.raises(PathDataError, match="no incremental conversions"):
        attribute(data, shapley_game="incremental")
    assert any("path_subsets game instead of the incremental one" in w for w in caught)
    totals = credits.groupby("model")[["conversions", "value"]].sum()
    assert "shapley" in totals.index and totals["conversions"].round(9).eq(3.0).all()
    assert ((totals["value"] - 251.9).abs() < 1e-6).all()


def test_the_ridge_baseline_trains_without_text_lengths():
    """Posts whose payload has no text (a LinkedIn share the run did not list) have no text length, hook nor
    topic: the baseline still fits where a whole window lacks them."""
    from ml.training import ridge_baseline

    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame({
        "platform": rng.choice(list(ORGANIC_PLATFORMS), n), "hook_type": None, "media_type": None, "topic": None,
        "publish_dow": rng.integers(0, 7, n), "publish_hour": rng.integers(0, 24, n), "text_length": pd.array([pd.NA] * n, dtype="Int64"),
        "engagement_score": rng.gamma(2.0, 5.0, n),
    })
    scores, log_pred, alpha = ridge_baseline(frame.iloc[:45], frame.iloc[45:])
    assert scores.shape == (15,) and np.isfinite(scores).all() and alpha > 0
