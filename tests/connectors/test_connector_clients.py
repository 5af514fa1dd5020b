"""Each platform client against the local fake server: documented payloads, pagination, the error policy
(401 / 429 / 5xx / 404 / network), the rate limit, the circuit breaker, schema drift and secrets."""

from __future__ import annotations

import logging
import os
import stat
from datetime import date, datetime, timedelta
from email.utils import format_datetime

import pandas as pd
import pytest

from analytics_assets.contracts.raw import POST_EXCERPT_CHARS
from analytics_assets.sources.connectors.errors import AuthError, CircuitOpen, ConfigurationError, RetriesExhausted
from analytics_assets.sources.connectors.resilience import CircuitBreaker, RetryPolicy, TokenBucket, parse_retry_after
from analytics_assets.defs.ingest.connector_resources import AD_RESOURCES, SOCIAL_RESOURCES
from analytics_assets.sources.connectors.tokens import OAuthToken, TokenStore, generate_key, load_key
from analytics_assets.sources.parsing.parsers import AD_MAPPINGS, SOCIAL_MAPPINGS, parse_records, post_excerpt
from analytics_assets.sources.simulator import SimulatorConfig
from fake_platforms import DROP, EXPIRE, MALFORMED, FakeClock, FakeDataset, FakePlatforms, slow, status

DAYS = [date(2026, 10, 10), date(2026, 10, 11)]
NOW = datetime(2026, 10, 12, 6, 0)
KEY = generate_key()
CONFIG = SimulatorConfig(seed=5, posts_per_day=20, campaigns_per_platform=2, journeys_per_day=10, ai_generations_per_day=5)


@pytest.fixture(scope="module")
def dataset() -> FakeDataset:
    return FakeDataset(CONFIG, DAYS, DAYS)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def fake(dataset, clock):
    dataset.deleted.clear()
    dataset.drift.clear()
    with FakePlatforms(dataset, clock, max_lifetime_seconds=60) as server:
        yield server


def make_client(fake, platform, tmp_path, clock, **overrides):
    cls = {**SOCIAL_RESOURCES, **AD_RESOURCES}[platform]
    settings = {
        **fake.resource_kwargs(platform),
        "token_encryption_key": KEY,
        "secrets_dir": str(tmp_path / "secrets"),
        "state_dir": str(tmp_path / "state"),
        "timeout_seconds": 1.0,  # generous: a loaded CI machine must not time out by itself
        **overrides,
    }
    return cls(**settings).client(clock)


# ----------------------------------------------------------------------------------- resilience units


def test_retry_after_accepts_seconds_and_http_dates_and_backoff_is_exponential_with_jitter():
    now = datetime(2026, 10, 12, 6, 0)
    epoch = (now - datetime(1970, 1, 1)).total_seconds()
    assert parse_retry_after("7", epoch) == 7
    http_date = format_datetime(now.replace(tzinfo=__import__("datetime").timezone.utc) + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(http_date, epoch) == pytest.approx(42)
    assert parse_retry_after("soon", epoch) is None
    policy = RetryPolicy(backoff_base_seconds=1.0)
    for attempt in range(4):
        waits = [policy.backoff(attempt) for _ in range(200)]
        assert 2**attempt / 2 <= min(waits) and max(waits) <= 2**attempt
        assert len(set(waits)) > 150  # jittered


def test_token_bucket_persists_its_budget_between_runs(tmp_path):
    clock = FakeClock(NOW)
    state = tmp_path / "x.json"
    first = TokenBucket(3, 60, clock, state)
    for _ in range(3):
        assert first.acquire() == 0
    first.save()
    second = TokenBucket(3, 60, clock, state)  # the next run sees the spent budget
    assert second.available() == 0
    assert second.acquire() == pytest.approx(60)
    second.acquire(), second.acquire()
    second.save()
    with pytest.raises(Exception, match="rate limit of 3 requests per 60s"):
        TokenBucket(3, 60, clock, state).acquire(max_wait_seconds=5)


def test_circuit_breaker_opens_half_opens_and_closes():
    clock = FakeClock(NOW)
    breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=30, clock=clock)
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen):
        breaker.before_request("x")
    clock.advance(seconds=30)
    assert breaker.state == "half_open"
    breaker.record_failure()  # the trial failed: open again for a full cool-down
    assert breaker.state == "open"
    clock.advance(seconds=30)
    breaker.before_request("x")
    breaker.record_success()
    assert breaker.state == "closed" and breaker.times_opened == 2


# ------------------------------------------------------------------------------ documented payloads


def test_posts_carry_their_identity_and_content_from_the_payloads(fake, tmp_path, clock, dataset):
    """Author, permalink, excerpt, text length and media equal the platforms' truth; hook and topic are read
    from the text (null where unsure, right where said on these texts); LinkedIn's organizations are looked
    up once per run each."""
    said = right = total = 0
    for platform in SOCIAL_RESOURCES:
        with make_client(fake, platform, tmp_path, clock) as client:
            found = client.discover(NOW - timedelta(days=3), NOW)
            rows = parse_records(client.fetch_metrics(found.posts, NOW).native, SOCIAL_MAPPINGS[platform]).rows
        assert len(rows) == len(dataset.visible_posts(platform, NOW)) > 0, platform
        for row in rows.to_dict("records"):
            identity, content = dataset.identity(platform, row["post_id"]), dataset.content(platform, row["post_id"])
            assert (row["post_url"], row["post_excerpt"], row["author_name"]) == (
                identity["post_url"], identity["post_excerpt"], identity["author_name"]), (platform, row["post_id"])
            assert (row["text_length"], row["media_type"]) == (content["text_length"], content["media_type"]), (platform, row["post_id"])
            for feature in ("hook_type", "topic"):
                total += 1
                if row[feature] is not None:
                    said += 1
                    right += row[feature] == content[feature]
    assert said >= 0.9 * total and right == said, (said, right, total)
    organizations = fake.requests("linkedin.organizations")
    assert sorted(r.path.rsplit("/", 1)[-1] for r in organizations) == sorted(
        {u.rsplit(":", 1)[-1] for u in dataset.accounts("linkedin")} & {
            u.rsplit(":", 1)[-1] for u in dataset.visible_posts("linkedin", NOW)["account_seq"].map(lambda s: dataset.account("linkedin", int(s)))})
    assert {r.query.get("expansions") for r in fake.requests(platform="x") if r.route != "x.token"} == {"author_id,attachments.media_keys"}


def test_a_reddit_self_posts_excerpt_is_its_title_then_its_body_and_a_link_posts_its_title(fake, tmp_path, clock, dataset):
    """A self post's text is its ``title`` and its ``selftext``: the excerpt reads the title, then the body,
    cut as every platform's excerpt is; a link (or media) post has no body: its title, and its permalink as
    its address. A body Reddit replaced (``[removed]``, ``[deleted]``) is no text."""
    with make_client(fake, "reddit", tmp_path, clock) as client:
        found = client.discover(NOW - timedelta(days=3), NOW)
        native = client.fetch_metrics(found.posts, NOW).native
    rows = parse_records(native, SOCIAL_MAPPINGS["reddit"]).rows.set_index("post_id")
    things = native.set_index("name")
    selfs = [n for n in rows.index if bool(things.loc[n, "is_self"]) and things.loc[n, "selftext"]]
    links = [n for n in rows.index if not bool(things.loc[n, "is_self"])]
    assert selfs and links
    excerpt_of = lambda text: post_excerpt(pd.Series([text]))[0]  # noqa: E731
    for name in selfs:
        title, body = things.loc[name, "title"], " ".join(things.loc[name, "selftext"].split())
        excerpt = rows.loc[name, "post_excerpt"]
        assert excerpt.startswith(title + " " + body[:20]), name
        assert len(excerpt) <= POST_EXCERPT_CHARS and excerpt == dataset.identity("reddit", name)["post_excerpt"]
    assert any(rows.loc[n, "post_excerpt"].endswith("\u2026") for n in selfs)  # a long body is cut
    for name in links:
        assert rows.loc[name, "post_excerpt"] == excerpt_of(things.loc[name, "title"])
        assert rows.loc[name, "post_url"] == "https://www.reddit.com" + things.loc[name, "permalink"]
    removed = native[native["name"] == selfs[0]].assign(selftext="[removed]")
    assert parse_records(removed, SOCIAL_MAPPINGS["reddit"]).rows["post_excerpt"].tolist() == [excerpt_of(things.loc[selfs[0], "title"])]


def test_linkedin_without_its_listing_or_organization_name_keeps_the_counters(fake, tmp_path, clock, dataset):
    """A share this run did not list has no text nor media (null, not a guess); an organization lookup that
    fails leaves the name null, once, and the statistics still load."""
    fake.outage("linkedin.organizations")
    with make_client(fake, "linkedin", tmp_path, clock) as client:
        posts = client.discover(NOW - timedelta(days=3), NOW).posts
        client._listed.clear()  # as if the share had not been listed this run
        rows = parse_records(client.fetch_metrics(posts, NOW).native, SOCIAL_MAPPINGS["linkedin"]).rows
    assert len(rows) == len(posts) > 0
    assert rows[["post_excerpt", "author_name", "text_length", "hook_type", "topic", "media_type"]].isna().all().all()
    assert rows["impressions"].notna().all() and rows["post_url"].notna().all()
    lookups = fake.requests("linkedin.organizations")
    assert len({r.path for r in lookups}) == posts["account_id"].nunique()  # each organization tried in one call (with its retries)


def test_every_client_reads_its_platform_and_feeds_the_existing_parsers(fake, tmp_path, clock, dataset):
    for platform in SOCIAL_RESOURCES:
        with make_client(fake, platform, tmp_path, clock) as client:
            found = client.discover(NOW - timedelta(days=3), NOW)
            expected = dataset.visible_posts(platform, NOW)
            assert sorted(found.posts["post_id"]) == sorted(expected["post_id"]), platform
            poll = client.fetch_metrics(found.posts, NOW)
            parsed = parse_records(poll.native, SOCIAL_MAPPINGS[platform])
            assert parsed.quarantine.empty and len(parsed.rows) == len(expected), platform
            row = parsed.rows.iloc[0]
            want = dataset.expected_snapshot(platform, row["post_id"], NOW)
            assert row["published_at"] == want["published_at"], platform
            for metric in ("impressions", "likes", "comments"):
                assert row[metric] == want[metric], (platform, metric)
            assert row["snapshot_at"] == NOW
            # every post has its permalink, its text (LinkedIn's joined from the listing) and its author
            assert parsed.rows["post_url"].str.startswith("https://").all(), platform
            assert parsed.rows["post_excerpt"].str.len().between(1, 280).all(), platform
            assert parsed.rows["author_name"].notna().all(), platform
    for platform in AD_RESOURCES:
        with make_client(fake, platform, tmp_path, clock) as client:
            parsed = parse_records(client.fetch_range(DAYS[0], DAYS[1]), AD_MAPPINGS[platform])
        assert parsed.quarantine.empty, platform
        got = parsed.rows.sort_values(["metric_date", "campaign_id"]).reset_index(drop=True)
        want = dataset.ad_rows(platform, DAYS[0], DAYS[1], NOW)
        assert len(got) == len(want) > 0, platform
        for col in ("account_id", "campaign_id", "currency", "campaign_name"):
            assert list(got[col]) == list(want[col]), (platform, col)
        for col in ("impressions", "clicks", "spend", "conversions", "conversion_value"):
            assert got[col].astype(float).tolist() == pytest.approx(want[col].astype(float).tolist()), (platform, col)


def test_partial_pages_are_followed_to_the_end_without_duplicates(fake, tmp_path, clock, dataset):
    fake.page_size = 2  # every page shorter than asked, each with its cursor
    for platform in SOCIAL_RESOURCES:
        with make_client(fake, platform, tmp_path, clock) as client:
            found = client.discover(NOW - timedelta(days=3), NOW)
        assert found.posts["post_id"].is_unique
        assert len(found.posts) == len(dataset.visible_posts(platform, NOW)), platform
    with make_client(fake, "meta_ads", tmp_path, clock) as client:
        rows = client.fetch_range(DAYS[0], DAYS[1])
    assert len(fake.requests("meta_ads.insights")) > 1  # followed paging.next
    assert len(rows) == len(dataset.ad_rows("meta_ads", DAYS[0], DAYS[1], NOW))
    with make_client(fake, "google_ads", tmp_path, clock) as client:
        rows = client.fetch_range(DAYS[0], DAYS[1])
    assert len(rows) == len(dataset.ad_rows("google_ads", DAYS[0], DAYS[1], NOW))  # every chunk of the stream


def test_google_ads_restores_metrics_proto3_left_out_as_zero(fake, tmp_path, clock, dataset):
    row = dataset.ad_rows("google_ads", DAYS[0], DAYS[0], NOW).iloc[0]
    dataset.drift[("google_ads", f"{row['campaign_id']}|{row['metric_date']}")] = {"remove": ["metrics.clicks"]}
    with make_client(fake, "google_ads", tmp_path, clock) as client:
        parsed = parse_records(client.fetch_range(DAYS[0], DAYS[0]), AD_MAPPINGS["google_ads"])
    assert parsed.quarantine.empty
    got = parsed.rows.set_index("campaign_id").loc[row["campaign_id"]]
    assert got["clicks"] == 0 and got["impressions"] == row["impressions"]


# ------------------------------------------------------------------------------------ error policy


def test_429_honours_retry_after_in_seconds_and_as_date_then_backs_off_and_gives_up_after_three(fake, tmp_path, clock):
    when = format_datetime((NOW + timedelta(seconds=30)).replace(tzinfo=__import__("datetime").timezone.utc), usegmt=True)
    fake.script("x.tweets", status(429, "7"), status(429, when), status(429))
    with make_client(fake, "x", tmp_path, clock, backoff_base_seconds=2.0) as client:
        poll = client.fetch_metrics(pd.DataFrame({"post_id": ["1"]}), NOW)
        assert client.http.stats.retries["rate_limited"] == 3
    assert clock.slept[0] == 7
    assert clock.slept[1] == pytest.approx(23)  # the date was 30 s after the first request; 7 s had passed
    assert 4 <= clock.slept[2] <= 8  # no header: third back-off step, 2 s * 2**2, with equal jitter
    assert poll.deleted == ["1"]  # the fourth try was answered
    fake.script("x.tweets", *[status(429, "1")] * 4)
    with make_client(fake, "x", tmp_path, clock) as client, pytest.raises(RetriesExhausted) as exc:
        client.fetch_metrics(pd.DataFrame({"post_id": ["1"]}), NOW)
    assert exc.value.attempts == 4 and exc.value.error_class == "rate_limited"


def test_5xx_and_malformed_json_are_retried_twice(fake, tmp_path, clock):
    fake.script("google_ads.search_stream", status(500), MALFORMED)
    with make_client(fake, "google_ads", tmp_path, clock, backoff_base_seconds=0.01) as client:
        rows = client.fetch_range(DAYS[0], DAYS[0])
        assert client.http.stats.retries["server"] == 2
    assert len(rows) > 0
    fake.script("google_ads.search_stream", status(502), status(503), status(500))
    with make_client(fake, "google_ads", tmp_path, clock) as client, pytest.raises(RetriesExhausted, match="HTTP 500"):
        client.fetch_range(DAYS[0], DAYS[0])


def test_timeouts_and_dropped_connections_are_retried_up_to_five_times(fake, tmp_path, clock):
    fake.script("reddit.info", slow(1.6), DROP, slow(1.6), DROP, DROP)
    posts = pd.DataFrame({"post_id": [fake.data.visible_posts("reddit", NOW)["post_id"].iloc[0]]})
    with make_client(fake, "reddit", tmp_path, clock, backoff_base_seconds=0.01) as client:
        poll = client.fetch_metrics(posts, NOW)
        assert client.http.stats.retries["network"] == 5
    assert len(poll.native) == 1
    fake.script("reddit.info", *[DROP] * 6)
    with make_client(fake, "reddit", tmp_path, clock) as client, pytest.raises(RetriesExhausted, match="connection failed"):
        client.fetch_metrics(posts, NOW)


def test_401_refreshes_the_token_once_and_stores_it_encrypted(fake, tmp_path, clock):
    old_refresh = fake.refresh_tokens["linkedin"]
    fake.script("linkedin.posts", EXPIRE)
    with make_client(fake, "linkedin", tmp_path, clock) as client:
        found = client.discover(NOW - timedelta(days=3), NOW)
        assert client.http.stats.token_refreshes == 1 and client.http.stats.by_status[401] == 1
    assert len(found.posts) > 0
    stored = TokenStore(tmp_path / "secrets", load_key(KEY)).load("linkedin")
    assert stored.access_token == fake.tokens["linkedin"]  # the new token, and LinkedIn's rotated refresh token
    assert stored.refresh_token == fake.refresh_tokens["linkedin"] != old_refresh
    # the next run starts from the stored token, not the now-stale configured one
    with make_client(fake, "linkedin", tmp_path, clock) as client:
        client.discover(NOW - timedelta(days=3), NOW)
        assert client.http.stats.by_status[401] == 0
    # refused again right after a refresh: give up instead of looping
    fake.script("linkedin.posts", EXPIRE, EXPIRE)
    with make_client(fake, "linkedin", tmp_path, clock) as client, pytest.raises(AuthError):
        client.discover(NOW - timedelta(days=3), NOW)


def test_meta_expired_token_error_190_exchanges_for_a_long_lived_token(fake, tmp_path, clock):
    fake.script("meta_ads.insights", EXPIRE)
    with make_client(fake, "meta_ads", tmp_path, clock) as client:
        rows = client.fetch_range(DAYS[0], DAYS[0])
        assert client.http.stats.token_refreshes == 1 and client.http.stats.by_status[400] == 1
    assert len(rows) > 0
    exchange = fake.requests("meta_ads.token")[0]
    assert exchange.query["grant_type"] == "fb_exchange_token"


def test_circuit_breaker_opens_on_repeated_failures_and_recovers_after_cool_down(fake, tmp_path, clock):
    fake.outage("tiktok.video_query")
    posts = fake.data.visible_posts("tiktok", NOW)[["post_id", "published_at"]]
    client = make_client(fake, "tiktok", tmp_path, clock, breaker_failure_threshold=3, breaker_cooldown_seconds=120)
    with client:
        with pytest.raises(RetriesExhausted):  # 3 attempts, 3 failures: open
            client.fetch_metrics(posts, NOW)
        assert client.http.breaker.state == "open"
        sent = len(fake.requests("tiktok.video_query"))
        with pytest.raises(CircuitOpen):
            client.fetch_metrics(posts, NOW)
        assert len(fake.requests("tiktok.video_query")) == sent  # refused without calling the platform
        clock.advance(seconds=120)
        assert client.http.breaker.state == "half_open"
        fake.clear()
        poll = client.fetch_metrics(posts, NOW)
        assert client.http.breaker.state == "closed"
        assert client.http.metadata()["circuit_breaker_opened"] == 1
    assert len(poll.native) == len(posts)


def test_rate_limit_holds_in_every_window(fake, tmp_path, clock):
    fake.page_size = 1  # one request per post: many more requests than the budget
    with make_client(fake, "x", tmp_path, clock, rate_limit_requests=4, rate_limit_period_seconds=60) as client:
        found = client.discover(NOW - timedelta(days=3), NOW)
        assert client.http.rate_limit_wait_seconds > 0
    times = sorted(r.at for r in fake.requests(platform="x") if r.route != "x.token")
    assert len(times) == len(found.posts) > 3 * 4  # one page per post: several times the budget
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u < t + 60) <= 4


# -------------------------------------------------------------------------------- deletes and drift


def test_deleted_posts_are_reported_by_each_platforms_documented_signal(fake, tmp_path, clock, dataset):
    for platform in SOCIAL_RESOURCES:
        posts = dataset.visible_posts(platform, NOW)[["post_id", "published_at", "platform"]].head(3)
        posts = posts.assign(account_id=[dataset.account(platform, int(s)) for s in dataset.visible_posts(platform, NOW)["account_seq"].head(3)])
        gone = posts["post_id"].iloc[1]
        dataset.deleted.add((platform, gone))
        with make_client(fake, platform, tmp_path, clock) as client:
            poll = client.fetch_metrics(posts, NOW)
        assert poll.deleted == [gone], platform
        assert len(poll.native) == 2, platform
    assert any(r.outcome == "404" for r in fake.requests("linkedin.social_actions"))
    assert any(r.outcome == "404" for r in fake.requests("reddit.by_id"))


def test_drifted_records_go_to_quarantine_with_the_reason_and_keep_unknown_fields(fake, tmp_path, clock, dataset):
    posts = dataset.visible_posts("x", NOW)
    renamed, missing, extra = posts["post_id"].iloc[:3]
    dataset.drift[("x", renamed)] = {"rename": {"public_metrics.like_count": "public_metrics.favorite_count"}}
    dataset.drift[("x", missing)] = {"remove": ["created_at"]}
    dataset.drift[("x", extra)] = {"add": {"public_metrics.community_note_count": 2}}
    with make_client(fake, "x", tmp_path, clock) as client:
        parsed = parse_records(client.fetch_metrics(posts[["post_id"]], NOW).native, SOCIAL_MAPPINGS["x"])
    reasons = dict(zip(parsed.quarantine["record_key"], parsed.quarantine["reason"]))
    assert set(reasons) == {renamed, missing}
    assert "public_metrics.like_count" in reasons[renamed] and "created_at" in reasons[missing]
    assert "favorite_count" in parsed.quarantine.set_index("record_key").loc[renamed, "payload"]
    assert len(parsed.rows) == len(posts) - 2 and extra in set(parsed.rows["post_id"])


# ----------------------------------------------------------------------------------------- secrets


def test_tokens_are_encrypted_at_rest_and_never_logged(fake, tmp_path, clock, caplog):
    caplog.set_level(logging.DEBUG)
    fake.page_size = 2
    fake.script("meta_ads.insights", EXPIRE)
    with make_client(fake, "meta_ads", tmp_path, clock) as client:
        client.fetch_range(DAYS[0], DAYS[1])
    fake.script("reddit.submitted", EXPIRE, status(500))
    with make_client(fake, "reddit", tmp_path, clock, backoff_base_seconds=0.01) as client:
        client.discover(NOW - timedelta(days=3), NOW)
    assert "HTTP Request" in caplog.text and "refreshing the access token" in caplog.text
    files = list((tmp_path / "secrets").iterdir())
    assert {f.name for f in files} == {"meta_ads.token", "reddit.token"}
    for f in files:
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
        blob = f.read_bytes()
        for token in fake.issued:
            assert token.encode() not in blob
            assert token not in caplog.text
    for secret in ("meta-secret-0d4e7a", "rd-secret-a81f44"):
        assert secret not in caplog.text


def test_token_store_rejects_a_wrong_key_a_swapped_file_and_a_bad_key(tmp_path):
    store = TokenStore(tmp_path, load_key(KEY))
    store.save("x", OAuthToken("secret-access-123456", "secret-refresh-123456", 1.0))
    assert store.load("x").refresh_token == "secret-refresh-123456"
    assert "secret" not in repr(store.load("x"))
    with pytest.raises(ConfigurationError, match="cannot decrypt"):
        TokenStore(tmp_path, load_key(generate_key())).load("x")
    (tmp_path / "reddit.token").write_bytes((tmp_path / "x.token").read_bytes())
    with pytest.raises(ConfigurationError, match="cannot decrypt"):  # bound to its platform
        store.load("reddit")
    with pytest.raises(ConfigurationError, match="32 bytes"):
        load_key("c2hvcnQ=")
    with pytest.raises(ConfigurationError, match="CYCLE_TOKEN_ENCRYPTION_KEY"):
        load_key("")
