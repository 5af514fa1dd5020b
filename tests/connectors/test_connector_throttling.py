"""Throttling the platforms' own way: Meta's usage headers and ``estimated_time_to_regain_access``, X's
``x-rate-limit-reset`` epoch and Reddit's ``X-Ratelimit-Reset`` seconds are honoured (wait until access
returns, bounded), usage near the limit pauses the next call before the platform throttles it, and Meta's
retired attribution windows are refused at configuration time. All on the fake clock: hours of waiting
run in milliseconds."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta

import duckdb
import pytest
from pydantic import ValidationError

from analytics_assets.defs.ingest.connector_resources import (
    AD_RESOURCES,
    SOCIAL_RESOURCES,
    MetaAdsResource,
    connector_resources_from_env,
)
from analytics_assets.defs.ingest.connector_sync import sync_ads
from analytics_assets.sources.connectors.errors import ConfigurationError, ThrottledTooLong
from analytics_assets.sources.connectors.platforms.meta import MetaAdsClient, check_attribution_windows
from analytics_assets.sources.connectors.platforms.x import USER_TWEETS
from analytics_assets.sources.connectors.throttling import ThrottlePolicy, Usage, endpoint_of, meta_usage, reddit_usage, x_usage
from analytics_assets.sources.connectors.tokens import generate_key
from analytics_assets.sources.simulator import SimulatorConfig
from fake_platforms import Budget, FakeClock, FakeDataset, FakePlatforms, throttled

NOW = datetime(2026, 10, 20, 6, 0)
AD_DAYS = [date(2026, 10, 8) + timedelta(days=k) for k in range(10)]
POST_DAYS = [date(2026, 10, 18), date(2026, 10, 19)]
KEY = generate_key()
CONFIG = SimulatorConfig(seed=11, posts_per_day=20, campaigns_per_platform=2, journeys_per_day=10, ai_generations_per_day=5)
LOG = logging.getLogger("test.throttling")


@pytest.fixture(scope="module")
def dataset() -> FakeDataset:
    return FakeDataset(CONFIG, POST_DAYS, AD_DAYS)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def fake(dataset, clock):
    with FakePlatforms(dataset, clock, max_lifetime_seconds=60) as server:
        yield server


def resource(fake, platform, tmp_path, **overrides):
    cls = {**SOCIAL_RESOURCES, **AD_RESOURCES}[platform]
    return cls(
        **{
            **fake.resource_kwargs(platform),
            "token_encryption_key": KEY,
            "secrets_dir": str(tmp_path / "secrets"),
            "state_dir": str(tmp_path / "state"),
            "timeout_seconds": 2.0,
            "as_of": NOW.isoformat(),
            **overrides,
        }
    )


# ------------------------------------------------------------------------------------- header readers


def test_each_platforms_usage_headers_are_read_with_their_own_units():
    now = 1_800_000_000.0
    buc = {"act_1": [{"type": "ads_insights", "call_count": 41, "total_cputime": 86, "total_time": 12, "estimated_time_to_regain_access": 0}],
           "act_2": [{"type": "ads_management", "call_count": 100, "total_cputime": 3, "total_time": 3, "estimated_time_to_regain_access": 7}]}
    usage = meta_usage({"x-business-use-case-usage": json.dumps(buc), "x-app-usage": json.dumps({"call_count": 5})}, now)
    assert usage.used_pct == 100 and usage.reset_in == 7 * 60  # minutes; the largest of every entry
    account = meta_usage({"x-ad-account-usage": json.dumps({"acc_id_util_pct": 100, "reset_time_duration": 95})}, now)
    assert account.used_pct == 100 and account.reset_in == 95  # seconds
    assert meta_usage({"x-app-usage": "{not json"}, now) is None  # a malformed header never breaks a sync
    assert meta_usage({}, now) is None
    x = x_usage({"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(now) + 312)}, now)
    assert x.remaining == 0 and x.reset_in == 312  # an epoch second
    assert x_usage({"x-rate-limit-reset": str(int(now) - 5)}, now).reset_in == 0  # already reset
    reddit = reddit_usage({"x-ratelimit-used": "99", "x-ratelimit-remaining": "1.0", "x-ratelimit-reset": "240"}, now)
    assert reddit.remaining == 1 and reddit.reset_in == 240  # seconds from now
    assert reddit_usage({"x-ratelimit-remaining": "many"}, now) is None


def test_meta_pause_grows_in_proportion_past_the_threshold_and_x_reddit_pause_near_zero_left():
    policy = ThrottlePolicy(usage_threshold_pct=80, min_pause_seconds=60, max_pause_seconds=600)
    assert policy.pause_after(Usage("m", used_pct=79.9)) == 0
    assert policy.pause_after(Usage("m", used_pct=80)) == 60
    assert policy.pause_after(Usage("m", used_pct=90)) == pytest.approx(330)
    assert policy.pause_after(Usage("m", used_pct=100)) == 600
    assert policy.pause_after(Usage("m", used_pct=85, reset_in=1500)) == 1500  # the announced regain time wins
    assert policy.pause_after(Usage("x", remaining=2, reset_in=300)) == 0
    assert policy.pause_after(Usage("x", remaining=1, reset_in=300)) == 300
    with pytest.raises(ValueError):
        ThrottlePolicy(usage_threshold_pct=0)


# ------------------------------------------------------------------------------------ wait until access


def test_meta_sync_waits_the_announced_regain_time_then_completes(fake, tmp_path, clock, dataset, monkeypatch):
    """Throttled with code 80000 (HTTP 400) and 17 minutes in ``estimated_time_to_regain_access``: the sync
    waits exactly that on the fake clock (not the old 1-4 s back-off) and loads every row."""
    fake.script("meta_ads.insights", throttled("meta_ads", 17 * 60))
    meta = resource(fake, "meta_ads", tmp_path, lookback_days=1)
    original = MetaAdsResource.client
    monkeypatch.setattr(MetaAdsResource, "client", lambda self, clock_=None: original(self, clock))
    con = duckdb.connect()
    report = sync_ads(con, meta, AD_DAYS[-3:], LOG)
    assert report.error is None
    assert clock.slept == [17 * 60]
    first, retry = fake.requests("meta_ads.insights")[:2]
    assert first.outcome == "fault:status" and retry.at - first.at == 17 * 60
    assert report.http["throttled_waits"] == 1 and report.http["throttle_wait_seconds"] == 17 * 60
    assert report.http["peak_usage_pct"] == 100 and report.http["responses_by_status"]["400"] == 1
    assert report.metadata()["throttle_wait_seconds"] == 17 * 60  # what the asset metadata shows
    want = dataset.ad_rows("meta_ads", AD_DAYS[-3], AD_DAYS[-1], NOW)
    got = con.execute("select count(*) from raw.raw_ad_campaign_metrics where platform = 'meta_ads'").fetchone()[0]
    assert got == len(want) > 0


def test_a_wait_over_the_maximum_fails_with_a_clear_error_and_keeps_what_was_committed(fake, tmp_path, clock, monkeypatch):
    """Two calls an hour, then 2 hours blocked: the first day's chunk commits, the second is throttled for
    longer than the run may wait, and the run stops there with the platform and the wait in its error."""
    fake.budgets["meta_ads"] = Budget(calls=2, window_seconds=3600, regain_seconds=2 * 3600)
    meta = resource(fake, "meta_ads", tmp_path, lookback_days=1, backfill_chunk_days=1, max_retry_wait_seconds=1800)
    original = MetaAdsResource.client
    monkeypatch.setattr(MetaAdsResource, "client", lambda self, clock_=None: original(self, clock))
    con = duckdb.connect()
    report = sync_ads(con, meta, [AD_DAYS[-3], AD_DAYS[-2]], LOG)
    assert report.error is not None
    assert report.error.startswith("meta_ads:") and "120 min" in report.error and "max_retry_wait_seconds" in report.error
    assert "30 min" in report.error and "kept" in report.error
    # the first chunk (one day, one call per ad account) was committed with its ledger row before the stop
    loaded = con.execute("select distinct metric_date from raw.raw_ad_campaign_metrics order by 1").fetchall()
    assert [d for (d,) in loaded] == [AD_DAYS[-3]]
    ledger = con.execute("select day from raw.raw_fetch_ledger where platform = 'meta_ads'").fetchall()
    assert [d for (d,) in ledger] == [AD_DAYS[-3]]
    # it paused once at 100% usage (within the maximum), then refused the 2-hour wait without sleeping it
    assert report.http["throttle_pauses"] == 1 and max(clock.slept) < 1800
    # the same refusal, raised by the client itself
    with meta.client(clock) as client, pytest.raises(ThrottledTooLong) as exc:
        client.fetch_range(AD_DAYS[-2], AD_DAYS[-2])
    assert exc.value.wait_seconds > 1800 and exc.value.platform == "meta_ads"


# --------------------------------------------------------------------------------- pause before throttle


def test_meta_usage_climbing_pauses_before_the_threshold_and_is_never_throttled(fake, tmp_path, clock, dataset):
    """Eight calls per 10-minute window, one row per page: the sync needs ~20 calls. Without the pauses
    the ninth call is throttled for an hour; with them the usage never passes 100% and no call is refused."""
    fake.page_size = 1
    fake.budgets["meta_ads"] = Budget(calls=8, window_seconds=600, regain_seconds=3600)
    with resource(fake, "meta_ads", tmp_path).client(clock) as client:
        rows = client.fetch_range(AD_DAYS[0], AD_DAYS[-1])
        meta = client.http.metadata()
    assert len(rows) == len(dataset.ad_rows("meta_ads", AD_DAYS[0], AD_DAYS[-1], NOW)) > 8
    sent = fake.requests("meta_ads.insights")
    assert len(sent) > 8 and all(r.outcome == "ok" for r in sent)  # never a throttling answer
    assert meta["throttle_pauses"] >= 2 and meta["throttled_waits"] == 0
    assert 80 <= meta["peak_usage_pct"] <= 100
    assert meta["throttle_wait_seconds"] == pytest.approx(sum(clock.slept))
    # the server's view: never more than the budget in any rolling 10 minutes
    times = [r.at for r in sent]
    for i, t in enumerate(times):
        assert sum(1 for u in times[: i + 1] if u > t - 600) <= 8


def test_x_honours_the_reset_epoch_and_pauses_before_its_window_is_spent(fake, tmp_path, clock, dataset):
    fake.script("x.tweets", throttled("x", 312, now=clock.time()))
    posts = dataset.visible_posts("x", NOW)[["post_id"]].head(3)
    with resource(fake, "x", tmp_path).client(clock) as client:
        poll = client.fetch_metrics(posts, NOW)
        assert client.http.stats.throttled_waits == 1
    assert clock.slept == [312] and len(poll.native) == 3  # until the announced epoch second, then answered

    fake.page_size = 1  # one request per post: several windows' worth
    fake.budgets["x"] = Budget(calls=3, window_seconds=900)
    start = clock.time()
    with resource(fake, "x", tmp_path).client(clock) as client:
        found = client.discover(NOW - timedelta(days=3), NOW)
        meta = client.http.metadata()
    listing = [r for r in fake.requests("x.user_tweets") if r.at >= start]
    assert len(found.posts) == len(dataset.visible_posts("x", NOW)) and len(listing) > 6
    assert all(r.outcome == "ok" for r in listing)  # paused at 1 call left, never refused
    assert meta["throttle_pauses"] >= 2 and meta["fewest_remaining_calls"] == 1
    for r in listing:  # never more than the budget in one of X's fixed 15-minute windows
        assert sum(1 for u in listing if u.at // 900 == r.at // 900) <= 3


def test_reddit_honours_the_reset_seconds_and_pauses_before_its_window_is_spent(fake, tmp_path, clock, dataset):
    fake.script("reddit.info", throttled("reddit", 240))
    posts = dataset.visible_posts("reddit", NOW)[["post_id"]].head(2)
    with resource(fake, "reddit", tmp_path).client(clock) as client:
        poll = client.fetch_metrics(posts, NOW)
        assert client.http.stats.throttled_waits == 1
    assert clock.slept == [240] and len(poll.native) == 2

    fake.page_size = 1
    fake.budgets["reddit"] = Budget(calls=4, window_seconds=600)
    start = clock.time()
    with resource(fake, "reddit", tmp_path, throttle_min_remaining_calls=1).client(clock) as client:
        found = client.discover(NOW - timedelta(days=3), NOW)
        meta = client.http.metadata()
    sent = [r for r in fake.requests("reddit.submitted") if r.at >= start]
    assert len(found.posts) == len(dataset.visible_posts("reddit", NOW)) and len(sent) > 4  # more than a window
    assert all(r.outcome == "ok" for r in sent)  # paused at 0 left until the reset, never refused
    assert meta["throttle_pauses"] >= 1 and meta["fewest_remaining_calls"] == 0
    for r in sent:
        assert sum(1 for u in sent if u.at // 600 == r.at // 600) <= 4


def test_an_x_pause_holds_only_the_endpoint_that_answered(fake, tmp_path, clock, dataset):
    """X limits each endpoint on its own (``x-rate-limit-reset`` is the answering endpoint's window): the
    listing's window nearly spent pauses the next listing call (any user: the endpoint is the same), never the
    tweet lookup, whose window has calls left."""
    fake.budgets["x"] = Budget(calls=3, window_seconds=900)
    users = dataset.accounts("x")
    posts = dataset.visible_posts("x", NOW)[["post_id"]].head(3)
    listing = {"max_results": 5, "tweet.fields": "created_at"}
    with resource(fake, "x", tmp_path).client(clock) as client:
        for user in users[:2]:  # the listing's window: 1 call left, its pause due
            client.http.request_json("GET", f"/2/users/{user}/tweets", params=listing, endpoint=USER_TWEETS)
        start = clock.time()
        poll = client.fetch_metrics(posts, NOW)  # another endpoint, with its own window: answered at once
        assert clock.slept == [] and len(poll.native) == 3
        client.fetch_metrics(posts, NOW)  # 1 call left in its own window now
        client.http.request_json("GET", f"/2/users/{users[-1]}/tweets", params=listing, endpoint=USER_TWEETS)  # waits
        meta = client.http.metadata()
    assert endpoint_of("GET", f"/2/users/{users[0]}/tweets") == endpoint_of("GET", f"/2/users/{users[-1]}/tweets") \
        == "GET /2/users/:id/tweets" != endpoint_of("GET", "/2/tweets")  # a client naming no endpoint: the same
    window_end = (start // 900 + 1) * 900
    assert clock.slept == [window_end - start] and meta["throttle_pauses"] == 1
    assert all(r.outcome == "ok" for r in fake.requests(platform="x") if r.route != "x.token")
    lookups = [r.at for r in fake.requests("x.tweets")]
    assert lookups == [start, start]  # neither lookup waited for the listing's window


def test_a_reddit_pause_holds_every_endpoint_as_its_limit_is_per_client(fake, tmp_path, clock, dataset):
    """Reddit counts every call of the OAuth client against one window: a pause after the listing holds the
    info lookup too."""
    fake.budgets["reddit"] = Budget(calls=2, window_seconds=600)
    posts = dataset.visible_posts("reddit", NOW)[["post_id"]].head(2)
    user = dataset.accounts("reddit")[0]
    with resource(fake, "reddit", tmp_path).client(clock) as client:
        client.http.request_json("GET", f"/user/{user}/submitted", params={"limit": 5})  # 1 call left: pause due
        start = clock.time()
        client.fetch_metrics(posts, NOW)
    assert clock.slept == [(start // 600 + 1) * 600 - start]
    assert fake.requests("reddit.info")[0].at > start


# ------------------------------------------------------------------------------ attribution windows


def test_retired_meta_attribution_windows_are_refused_at_configuration_time(fake, tmp_path):
    for retired in (["7d_view"], ["7d_click", "28d_view"]):
        with pytest.raises(ValidationError, match="retired since 2026-01-12") as exc:
            MetaAdsResource(attribution_windows=retired)
        assert "1d_click, 7d_click, 28d_click, 1d_ev, 1d_view" in str(exc.value)
    with pytest.raises(ValidationError, match="unknown Meta attribution window"):
        MetaAdsResource(attribution_windows=["7d_clik"])
    with pytest.raises(ValidationError, match="retired since 2026-01-12"):  # from the environment, at load time
        connector_resources_from_env({"CYCLE_META_ATTRIBUTION_WINDOWS": "1d_click, 28d_view"})
    env = connector_resources_from_env({"CYCLE_META_ATTRIBUTION_WINDOWS": "1d_click,1d_ev"})
    assert env["meta_ads"].attribution_windows == ["1d_click", "1d_ev"]
    with pytest.raises(ConfigurationError, match="7d_view"):  # the client refuses them as well
        MetaAdsClient(resource(fake, "meta_ads", tmp_path).http_client(), ["1000"], attribution_windows=["7d_view"])
    assert check_attribution_windows(["7d_click", " 1d_view"]) == ["7d_click", "1d_view"]
    # the windows asked for are the ones sent
    with resource(fake, "meta_ads", tmp_path, attribution_windows=["28d_click", "1d_view"]).client() as client:
        client.fetch_range(AD_DAYS[-1], AD_DAYS[-1])
    sent = fake.requests("meta_ads.insights")[-1].query["action_attribution_windows"]
    assert json.loads(sent) == ["28d_click", "1d_view"]
