"""End to end: ``raw_platform_data`` with all seven connectors pointed at the fake platforms, through
scripted faults, restatements, polls, a rerun and an interrupted backfill, checked against the warehouse.

The scenario runs once (module fixture), on the fake clock:
  1. 2026-10-12 10:00, partitions 10-10..10-11, with a fault on every platform (429 with and without
     Retry-After, 500/503, a timeout, dropped connections, malformed JSON, expired tokens) and drifted
     records (renamed and missing fields, one extra field);
  2. 12:05, the social poll job (young posts are due again), twice: the second finds nothing due;
     two posts are deleted on the platforms before it;
  3. four days later, drift fixed, partition 10-15: ad days restated since step 1 converge; then a rerun;
  4. a backfill of 09-20..09-25 interrupted by a Meta outage that opens its circuit breaker, then resumed.
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest

from analytics_assets.defs.ingest.raw import raw_platform_data
from analytics_assets.defs.ingest.polling import social_metrics_poll_job
from analytics_assets.defs.ingest.connector_resources import AD_RESOURCES, SOCIAL_RESOURCES, XResource, connector_resources_from_env
from analytics_assets.sources.connectors.tokens import generate_key
from analytics_assets.defs.resources import SimulatorResource
from analytics_assets.sources.simulator import SimulatorConfig
from cycle_testing import CycleHome, new_home
from fake_platforms import DROP, EXPIRE, MALFORMED, FakeClock, FakeDataset, FakePlatforms, slow, status
from warehouse_state import table_fingerprints

pytestmark = pytest.mark.slow

T0 = datetime(2026, 10, 12, 10, 0)
T_POLL = T0 + timedelta(hours=2, minutes=5)
T_LATER = T0 + timedelta(days=4)
LOOKBACK = 4  # the fake restates a day for 3 days
POST_DAYS = [date(2026, 10, 9) + timedelta(days=k) for k in range(8)]
RECENT_AD_DAYS = [date(2026, 10, 6) + timedelta(days=k) for k in range(11)]
BACKFILL = (date(2026, 9, 20), date(2026, 9, 25))
BACKFILL_DAYS = [BACKFILL[0] + timedelta(days=k) for k in range(6)]
CONFIG = SimulatorConfig(seed=4, posts_per_day=12, campaigns_per_platform=2)
KEY = generate_key()
TABLES = ["raw_social_post_snapshots", "raw_ad_campaign_metrics"]


@dataclass
class Scenario:
    home: CycleHome
    fake: FakePlatforms
    data: FakeDataset
    # in memory: the run history is only read back by these tests, and the sqlite one costs seconds a run
    instance: dg.DagsterInstance = field(default_factory=dg.DagsterInstance.ephemeral)
    results: dict[str, dg.ExecuteInProcessResult] = field(default_factory=dict)
    fingerprints: dict[str, dict] = field(default_factory=dict)
    log_marks: dict[str, int] = field(default_factory=dict)  # server log length after each step
    python_logs: str = ""
    drifted: dict[str, str] = field(default_factory=dict)
    deleted: dict[str, str] = field(default_factory=dict)
    leftover_faults: dict[str, int] = field(default_factory=dict)


def _resources(home: CycleHome, fake: FakePlatforms, as_of: datetime, **overrides: dict) -> dict:
    out: dict = {
        "warehouse": home.resources()["warehouse"],
        "simulator": SimulatorResource(seed=4, posts_per_day=12, journeys_per_day=10, ai_generations_per_day=5),
    }
    for platform, cls in {**SOCIAL_RESOURCES, **AD_RESOURCES}.items():
        settings = {
            **fake.resource_kwargs(platform),
            "token_encryption_key": KEY,
            "secrets_dir": str(home.root / "secrets"),
            "state_dir": str(home.root / "connectors"),
            "as_of": as_of.isoformat(),
            "timeout_seconds": 1.0,  # generous: a loaded CI machine must not time out by itself
            "backoff_base_seconds": 0.01,
            **({"lookback_days": LOOKBACK} if platform in AD_RESOURCES else {}),
            **overrides.get(platform, {}),
        }
        out[platform] = cls(**settings)
    return out


def _materialize(s: Scenario, name: str, as_of: datetime, start: date, end: date, **overrides: dict):
    s.fake.clock.set(as_of)
    result = dg.materialize(
        [raw_platform_data],
        selection=TABLES,
        resources=_resources(s.home, s.fake, as_of, **overrides),
        instance=s.instance,
        tags={"dagster/asset_partition_range_start": start.isoformat(), "dagster/asset_partition_range_end": end.isoformat()},
        raise_on_error=False,
    )
    _record(s, name, result)
    return result


def _poll(s: Scenario, name: str, as_of: datetime):
    s.fake.clock.set(as_of)
    defs = dg.Definitions(assets=[raw_platform_data], jobs=[social_metrics_poll_job], resources=_resources(s.home, s.fake, as_of))
    result = defs.resolve_job_def("social_metrics_poll_job").execute_in_process(
        partition_key=(as_of.date() - timedelta(days=1)).isoformat(), instance=s.instance, raise_on_error=False
    )
    _record(s, name, result)
    return result


def _record(s: Scenario, name: str, result) -> None:
    s.results[name] = result
    s.fingerprints[name] = table_fingerprints(s.home.warehouse)
    s.log_marks[name] = len(s.fake.log)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Scenario:
    home = new_home(tmp_path_factory.mktemp("connectors_home"))
    data = FakeDataset(CONFIG, POST_DAYS, RECENT_AD_DAYS + BACKFILL_DAYS, settle_days=3)
    capture = io.StringIO()
    handler = logging.StreamHandler(capture)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with FakePlatforms(data, FakeClock(T0), max_lifetime_seconds=240) as fake:
            s = Scenario(home, fake, data)
            x_posts = data.visible_posts("x", T0)["post_id"].tolist()
            s.drifted = {"x": x_posts[0], "x_extra": x_posts[1]}
            data.drift[("x", x_posts[0])] = {"rename": {"public_metrics.like_count": "public_metrics.likes"}}
            data.drift[("x", x_posts[1])] = {"add": {"public_metrics.community_note_count": 1}}
            meta_day = data.ad_rows("meta_ads", date(2026, 10, 10), date(2026, 10, 10), T0).iloc[0]
            li_day = data.ad_rows("linkedin_ads", date(2026, 10, 11), date(2026, 10, 11), T0).iloc[0]
            data.drift[("meta_ads", f"{meta_day['campaign_id']}|2026-10-10")] = {"remove": ["spend"]}
            data.drift[("linkedin_ads", f"{li_day['campaign_id']}|2026-10-11")] = {"rename": {"costInLocalCurrency": "costInUsd"}}
            fake.script("x.tweets", status(429, "1"), status(429))
            fake.script("x.user_tweets", MALFORMED)
            fake.script("linkedin.share_statistics", status(500), DROP)
            fake.script("reddit.info", slow(1.6))
            fake.script("tiktok.video_query", EXPIRE)
            fake.script("google_ads.search_stream", EXPIRE, status(503))
            fake.script("meta_ads.insights", status(429), DROP)
            fake.script("linkedin_ads.analytics", slow(1.6), status(500))
            _materialize(s, "faults", T0, date(2026, 10, 10), date(2026, 10, 11))
            s.leftover_faults = {route: len(q) for route, q in fake.faults.items() if q}

            li_young = data.visible_posts("linkedin", T0)["post_id"].iloc[0]
            rd_young = data.visible_posts("reddit", T0)["post_id"].iloc[0]
            s.deleted = {"linkedin": li_young, "reddit": rd_young}
            data.deleted |= {("linkedin", li_young), ("reddit", rd_young)}
            _poll(s, "poll", T_POLL)
            _poll(s, "poll_again", T_POLL)

            data.drift.clear()
            _materialize(s, "restated", T_LATER, date(2026, 10, 15), date(2026, 10, 15))
            _materialize(s, "rerun", T_LATER, date(2026, 10, 15), date(2026, 10, 15))

            meta = {"backfill_chunk_days": 2, "breaker_failure_threshold": 3}
            fake.outage("meta_ads.insights", lambda q, b: json.loads(q["time_range"])["since"] >= "2026-09-22")
            _materialize(s, "backfill_interrupted", T_LATER, *BACKFILL, meta_ads=meta)
            fake.clear()
            _materialize(s, "backfill_resumed", T_LATER, *BACKFILL, meta_ads=meta)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    s.python_logs = capture.getvalue()
    return s


def _requests(s: Scenario, step: str, route: str | None = None, platform: str | None = None):
    steps = list(s.log_marks)
    start = s.log_marks[steps[steps.index(step) - 1]] if steps.index(step) else 0
    return [r for r in s.fake.log[start : s.log_marks[step]] if (route is None or r.route == route) and (platform is None or r.platform == platform)]


def _connector_meta(result, table: str) -> dict:
    for e in result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key.to_user_string() == table:
            return e.event_specific_data.materialization.metadata["connectors"].value
    raise AssertionError(f"no materialization of {table}")


def _failure_meta(result) -> dict:
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    return {k: v.value for k, v in failure.event_specific_data.user_failure_data.metadata.items()}


# -------------------------------------------------------------------------------------------- tests


def test_every_fault_was_met_and_recovered_from(scenario):
    s = scenario
    assert s.results["faults"].success
    assert s.leftover_faults == {}  # every scripted fault was served
    social = _connector_meta(s.results["faults"], "raw_social_post_snapshots")
    ads = _connector_meta(s.results["faults"], "raw_ad_campaign_metrics")
    assert social["x"]["retries"] == {"rate_limited": 2, "server": 1}
    assert social["linkedin"]["retries"] == {"server": 1, "network": 1}
    assert social["reddit"]["retries"] == {"network": 1}
    assert social["tiktok"]["token_refreshes"] == ads["google_ads"]["token_refreshes"] == 1
    assert ads["meta_ads"]["retries"] == {"rate_limited": 1, "network": 1}
    assert ads["linkedin_ads"]["retries"] == {"network": 1, "server": 1}
    assert all(m["circuit_breaker"] == "closed" and m["error"] is None for m in {**social, **ads}.values())


def test_ad_warehouse_converges_to_the_platforms_final_numbers_without_duplicates(scenario):
    s = scenario
    assert s.results["restated"].success
    stored = s.home.query("select * from raw.raw_ad_campaign_metrics").sort_values(["platform", "metric_date", "campaign_id"])
    dupes = stored.groupby(["platform", "campaign_id", "metric_date"]).size()
    assert dupes.max() == 1
    # 10-06/10-07 were never in a run's window nor in a lookback; every later day up to 10-15 is stored
    days = sorted(set(RECENT_AD_DAYS[2:-1]) | set(BACKFILL_DAYS))  # 10-16 is "today": no run covered it
    for platform in AD_RESOURCES:
        got = stored[stored["platform"] == platform].reset_index(drop=True)
        want = pd.concat(
            [s.data.ad_rows(platform, d, d, T_LATER) for d in days], ignore_index=True
        ).sort_values(["metric_date", "campaign_id"]).reset_index(drop=True)
        assert len(got) == len(want), platform
        assert list(got["campaign_id"]) == list(want["campaign_id"]) and list(got["metric_date"].dt.date) == list(want["metric_date"])
        for col in ("impressions", "clicks", "spend", "conversions", "conversion_value"):
            assert got[col].astype(float).tolist() == pytest.approx(want[col].astype(float).tolist()), (platform, col)
        # what step 1 stored for 10-10/10-11 was provisional; it has been replaced by the final numbers
        settled = s.data.final_ads(platform, date(2026, 10, 8), date(2026, 10, 13))
        mine = got[(got["metric_date"].dt.date >= date(2026, 10, 8)) & (got["metric_date"].dt.date <= date(2026, 10, 13))]
        assert mine["spend"].tolist() == pytest.approx(settled["spend"].tolist()), platform
        assert (mine["partition_date"].dt.date == mine["metric_date"].dt.date).all()
    ledger = s.home.query("select * from raw.raw_fetch_ledger where platform = 'meta_ads'").set_index("day")
    assert ledger.loc[pd.Timestamp("2026-10-10"), "status"] == "final"  # settled: read one last time
    assert ledger.loc[pd.Timestamp("2026-10-14"), "status"] == "provisional"  # still inside the lookback


def test_restated_window_is_refetched_and_settled_days_read_once_more(scenario):
    s = scenario
    windows = [json.loads(r.query["time_range"]) for r in _requests(s, "restated", "meta_ads.insights")]
    assert {w["since"] for w in windows} == {"2026-10-08"} and {w["until"] for w in windows} == {"2026-10-15"}
    meta = _connector_meta(s.results["restated"], "raw_ad_campaign_metrics")["meta_ads"]
    assert meta["fetched_window"] == "2026-10-08..2026-10-15" and meta["quarantined"] == 0


def test_social_snapshots_keep_each_polls_values_by_age(scenario):
    s = scenario
    snaps = s.home.query("select * from raw.raw_social_post_snapshots")
    assert snaps.groupby(["platform", "post_id", "snapshot_at"]).size().max() == 1
    assert set(snaps["snapshot_at"]) == {T0, T_POLL, T_LATER}
    for row in snaps.itertuples():
        want = s.data.expected_snapshot(row.platform, row.post_id, row.snapshot_at.to_pydatetime())
        assert row.published_at == want["published_at"]
        for metric in ("impressions", "likes", "comments"):
            assert getattr(row, metric) == want[metric], (row.platform, row.post_id, metric)
        assert row.partition_date.date() == row.snapshot_at.date()
    # cadence: every post seen at T0 is polled again at T0+2h05 only while under 48 hours old
    at_t0 = snaps[snaps["snapshot_at"] == T0]
    young = at_t0[at_t0["published_at"] > T_POLL - timedelta(hours=48)]
    old = at_t0[at_t0["published_at"] <= T_POLL - timedelta(hours=48)]
    assert len(young) and len(old)
    second = snaps[snaps["snapshot_at"] == T_POLL]
    deleted = set(s.deleted.values())
    new_posts = {p for platform in SOCIAL_RESOURCES for p in s.data.visible_posts(platform, T_POLL).query("published_at > @T0")["post_id"]}
    assert set(second["post_id"]) == (set(young["post_id"]) | new_posts) - deleted - {s.drifted["x"]}
    # the history of one post, by age: counters never go down
    history = snaps[snaps["post_id"] == second["post_id"].iloc[0]].sort_values("snapshot_at")
    age = history["snapshot_at"] - history["published_at"]
    assert len(history) == 3 and age.is_monotonic_increasing and history["impressions"].is_monotonic_increasing


def test_deleted_posts_are_marked_and_never_polled_again(scenario):
    s = scenario
    registry = s.home.query("select * from raw.raw_post_registry").set_index(["platform", "post_id"])
    for platform, post in s.deleted.items():
        assert registry.loc[(platform, post), "deleted_at"] == T_POLL
        later = [r for r in _requests(s, "restated") + _requests(s, "rerun") if post in json.dumps(r.query) + r.path]
        assert later == [], platform
    assert any(r.outcome == "404" for r in _requests(s, "poll", "linkedin.social_actions"))
    assert any(r.outcome == "404" for r in _requests(s, "poll", "reddit.by_id"))


def test_reruns_over_the_same_dates_change_nothing(scenario):
    s = scenario
    assert s.results["poll_again"].success and s.results["rerun"].success
    assert s.fingerprints["poll_again"] == s.fingerprints["poll"]
    # the ledger notes when and how each day was last fetched; everything else must be identical
    ledger = "raw.raw_fetch_ledger"
    assert {k: v for k, v in s.fingerprints["rerun"].items() if k != ledger} == {
        k: v for k, v in s.fingerprints["restated"].items() if k != ledger
    }
    statuses = s.home.query("select platform, day, status, rows from raw.raw_fetch_ledger where day >= '2026-10-08'")
    assert statuses.groupby("status").size().to_dict() == {"final": 3 * 4, "provisional": 3 * 4}
    # nothing was due: only the listings were read
    assert {r.route for r in _requests(s, "poll_again")} <= {
        "x.user_tweets", "linkedin.posts", "reddit.submitted", "tiktok.video_query"
    }


def test_interrupted_backfill_resumes_without_refetching_finished_days(scenario):
    s = scenario
    assert not s.results["backfill_interrupted"].success
    failure = _failure_meta(s.results["backfill_interrupted"])
    assert failure["meta_ads"]["circuit_breaker"] == "open" and failure["meta_ads"]["circuit_breaker_opened"] == 1
    assert "circuit open" in failure["meta_ads"]["error"] or "503" in failure["meta_ads"]["error"]
    refused = [r for r in _requests(s, "backfill_interrupted", "meta_ads.insights") if r.outcome == "outage"]
    assert len(refused) == 3  # the breaker opened after 3 failures; nothing more was sent
    assert s.results["backfill_resumed"].success
    resumed = [json.loads(r.query["time_range"]) for r in _requests(s, "backfill_resumed", "meta_ads.insights")]
    assert min(w["since"] for w in resumed) == "2026-09-22"  # 09-20..09-21 were committed before the outage
    for route in ("google_ads.search_stream", "linkedin_ads.analytics"):  # all final already: no call at all
        assert _requests(s, "backfill_resumed", route) == []
    meta = _connector_meta(s.results["backfill_resumed"], "raw_ad_campaign_metrics")
    assert meta["meta_ads"]["circuit_breaker"] == "closed" and meta["google_ads"]["days_skipped_final"] == 6
    ledger = s.home.query(
        "select platform, count(*) n from raw.raw_fetch_ledger where day between '2026-09-20' and '2026-09-25' "
        "and status = 'final' group by 1"
    )
    assert dict(zip(ledger["platform"], ledger["n"])) == {p: 6 for p in AD_RESOURCES}


def test_malformed_records_are_quarantined_with_a_reason_and_the_rest_loaded(scenario):
    s = scenario
    quarantine = s.home.query("select * from raw.raw_quarantine")
    social = quarantine[quarantine["source_table"] == "raw_social_post_snapshots"]
    assert set(social["record_key"]) == {s.drifted["x"]}
    assert len(social) == 2  # its T0 and T0+2h05 polls; the fixed record loaded at the third
    assert social["reason"].str.contains("public_metrics.like_count").all()
    assert social["payload"].str.contains("public_metrics.likes").all()  # the renamed field is kept
    # the record with an extra field was loaded; ad records quarantined in step 1 were replaced once fixed
    snaps = s.home.query("select post_id, snapshot_at from raw.raw_social_post_snapshots where platform = 'x'")
    assert (snaps["post_id"] == s.drifted["x_extra"]).sum() == 3
    assert (snaps["post_id"] == s.drifted["x"]).sum() == 1
    assert quarantine[quarantine["source_table"] == "raw_ad_campaign_metrics"].empty
    step1 = _connector_meta(s.results["faults"], "raw_ad_campaign_metrics")
    assert step1["meta_ads"]["quarantined"] == step1["linkedin_ads"]["quarantined"] == 1


def test_requests_stay_within_each_platforms_published_limit(scenario):
    s = scenario
    resources = {p: cls() for p, cls in {**SOCIAL_RESOURCES, **AD_RESOURCES}.items()}  # the published defaults
    for platform, res in resources.items():
        sent = sorted(r.wall for r in s.fake.log if r.platform == platform and not r.route.endswith(".token"))
        assert sent, platform
        busiest = max(sum(1 for t in sent[i:] if t < start + res.rate_limit_period_seconds) for i, start in enumerate(sent))
        assert busiest <= res.rate_limit_requests, platform
        # the spend is carried from run to run (the bucket keeps the spend times of its period)
        state = json.loads((s.home.root / "connectors" / f"{platform}.rate_limit.json").read_text())
        assert 0 < len(state["spent"]) <= len(sent)


def test_tokens_are_encrypted_on_disk_and_absent_from_logs_metadata_and_warehouse(scenario):
    s = scenario
    files = sorted((s.home.root / "secrets").iterdir())
    assert [f.name for f in files] == sorted(f"{p}.token" for p in {**SOCIAL_RESOURCES, **AD_RESOURCES})
    secrets = s.fake.issued + ["dev-token-5c1e93"] + [c[1] for c in __import__("fake_platforms").CLIENTS.values()]
    assert len(s.fake.issued) > 14  # refreshed and exchanged tokens too
    texts = {"python logs": s.python_logs}
    for name, result in s.results.items():
        texts[f"{name} events"] = "\n".join(str(e) for e in s.instance.all_logs(result.run_id))
    quarantine = s.home.query("select payload, reason from raw.raw_quarantine")
    texts["quarantine"] = quarantine.to_json()
    assert "HTTP Request" in s.python_logs and "refreshing the access token" in s.python_logs
    for f in files:
        assert oct(os.stat(f).st_mode & 0o777) == "0o600"
        blob = f.read_bytes()
        for secret in secrets:
            assert secret.encode() not in blob
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, where


def test_unconfigured_platforms_stay_on_the_simulator_beside_a_connector(scenario, tmp_path):
    """Only X has credentials: the simulator still writes the other platforms' snapshots, and its
    rerun of the day never touches the rows X's connector appended."""
    s = scenario
    home = new_home(tmp_path / "mixed")
    as_of = datetime(2026, 10, 13, 8, 0)
    s.fake.clock.set(as_of)
    resources = {
        "warehouse": home.resources()["warehouse"],
        "simulator": SimulatorResource(seed=4, posts_per_day=12, journeys_per_day=10, ai_generations_per_day=5),
        **connector_resources_from_env({}),
    }
    with FakePlatforms(s.data, s.fake.clock, max_lifetime_seconds=60) as fake:
        resources["x"] = _resources(home, fake, as_of)["x"]
        for _ in range(2):
            result = dg.materialize(
                [raw_platform_data], selection=["raw_social_post_snapshots"], resources=resources,
                instance=s.instance, partition_key="2026-10-12", raise_on_error=False,
            )
            assert result.success
    rows = home.query("select platform, snapshot_at, count(*) n from raw.raw_social_post_snapshots group by all")
    x_rows = rows[rows["platform"] == "x"]
    assert list(x_rows["snapshot_at"]) == [pd.Timestamp(as_of)]  # only the connector's poll, appended on its day
    assert set(rows["platform"]) == {"linkedin", "x", "reddit", "tiktok"}
    simulated = home.query("select count(*) n from raw.raw_social_post_snapshots where partition_date = '2026-10-12'")
    assert simulated["n"][0] > 0
    meta = _connector_meta(result, "raw_social_post_snapshots")
    assert set(meta) == {"x"} and meta["x"]["posts_polled"] == 0  # second run: nothing due


def test_credentials_come_from_environment_variables_as_env_var_references():
    env = {
        "CYCLE_X_BEARER_TOKEN": "x-token-from-env",
        "CYCLE_X_USER_IDS": "141000, 141001",
        "CYCLE_META_ACCESS_TOKEN": "meta-token",
        "CYCLE_META_AD_ACCOUNT_IDS": "act_1000",
        "CYCLE_META_LOOKBACK_DAYS": "21",
        "CYCLE_TOKEN_ENCRYPTION_KEY": KEY,
    }
    resources = connector_resources_from_env(env)
    assert resources["x"].user_ids == ["141000", "141001"]
    assert isinstance(resources["x"].access_token, dg.EnvVar) and resources["x"].access_token == "CYCLE_X_BEARER_TOKEN"
    assert resources["meta_ads"].lookback_days == 21 and resources["meta_ads"].ad_account_ids == ["act_1000"]
    assert resources["google_ads"].lookback_days == 14 and resources["linkedin_ads"].lookback_days == 30
    assert not any(r.is_configured for r in connector_resources_from_env({}).values())


def test_poll_schedule_runs_the_poll_job_every_two_hours_on_the_latest_partition():
    from datetime import timezone

    from analytics_assets.definitions import defs

    schedule = defs.resolve_schedule_def("social_metrics_poll_schedule")
    assert schedule.cron_schedule == "0 */2 * * *" and schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    job = defs.resolve_job_def("social_metrics_poll_job")
    assert job.asset_layer.selected_asset_keys == {dg.AssetKey("raw_social_post_snapshots")}
    tick = datetime(2026, 11, 21, 14, 0, tzinfo=timezone.utc)
    repo = defs.get_repository_def()
    unconfigured = {p: cls() for p, cls in SOCIAL_RESOURCES.items()}
    with dg.build_schedule_context(scheduled_execution_time=tick, repository_def=repo, resources=unconfigured) as context:
        idle = schedule.evaluate_tick(context)
    assert idle.run_requests == [] and "credentials" in idle.skip_message  # nothing configured: no runs
    configured = {**unconfigured, "x": XResource(access_token="x-token-123456", user_ids=["141000"])}
    with dg.build_schedule_context(scheduled_execution_time=tick, repository_def=repo, resources=configured) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-11-20"  # the current day becomes a partition when it ends
    assert request.tags["cycle/polled"] == "x"
