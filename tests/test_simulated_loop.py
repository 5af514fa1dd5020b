"""The loop runs in the simulator: the closed-loop mode of the simulator (the account publishes what it applied,
the planted peaks can move, nothing changes without it) and the loop itself, week by week through the real graph
with the account deciding through the API's routes."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time, timedelta

import pandas as pd
import pytest

from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import actions as action_log
from analytics_assets.sources.simulator import closed_loop, core
from analytics_assets.sources.simulator import ground_truth as gt

DAY = date(2026, 3, 3)
SMALL = {"posts_per_day": 60, "journeys_per_day": 50, "ai_generations_per_day": 10, "experiment_units_per_day": 10}
SHIFTED = {
    "seed": 3, "posts_per_day": 80, "journeys_per_day": 40, "experiment_units_per_day": 10,
    "shift_start": date(2026, 3, 2), "spike_days": (DAY,), "malformed_rate": 0.01,
}
# sha256 of every native record of DAY, computed with the simulator before it had a closed-loop mode, then
# recomputed once when the native payloads gained the posts' text, author and permalink fields and Meta's rows
# reported each purchase under all three action types, as Meta does (every other value compared equal, frame by frame),
# and once more when the ad-level reports gained the ads' names (without those columns: the previous digests), and
# when Reddit self posts gained their body (`selftext`; their title became the text's first sentence, and so their
# permalink's slug: only those three columns of the Reddit frame changed, every other frame compared equal), and
# when a post's text came from a hash of its id rather than a generator seeded with it (only the text columns
# changed: LinkedIn's commentary, X's text, TikTok's video_description, Reddit's title, selftext and permalink)
OPEN_LOOP_DIGESTS = {
    "small": "89b07e00bcfd271fa3b40a6130f60cbd57b99b6af4695792cef15345b98c4944",
    "shifted": "bc00c216356c6e96436d5e0848a891a16c5b1d9370bde0b701dedcf164116924",
}


def _digest(config: SimulatorConfig, day: date = DAY) -> str:
    sim = PlatformSimulator(config).day(day)
    parts = []
    for name in ("social_posts", "ad_campaigns"):
        parts += [frame.to_csv().encode() for _, frame in sorted(getattr(sim, name).items())]
    for name in ("boosts", "touchpoints", "ai_generations", "experiment_observations", "ad_creatives", "malformed"):
        frames = getattr(sim, name)
        frames = [f for _, f in sorted(frames.items())] if isinstance(frames, dict) else [frames]
        parts += [f.to_csv().encode() for f in frames]
    return hashlib.sha256(b"".join(parts)).hexdigest()


@pytest.mark.parametrize("world", ["small", "shifted"])
def test_without_actions_the_simulator_gives_the_open_loop_data(world, tmp_path):
    params = SMALL if world == "small" else SHIFTED
    assert _digest(SimulatorConfig(**params)) == OPEN_LOOP_DIGESTS[world]
    # closed-loop settings change nothing until the account logs an action or the peaks move
    idle = SimulatorConfig(**params, adoption=0.7, dismissal=0.1, actions_dir=str(tmp_path), peak_shift_hours=4)
    assert _digest(idle) == OPEN_LOOP_DIGESTS[world]


def test_applied_posts_go_out_at_the_recommended_hour_and_nothing_else_moves(tmp_path):
    open_loop = core.posts_published_on(SimulatorConfig(**SMALL), DAY)
    config = SimulatorConfig(**SMALL, actions_dir=str(tmp_path))
    counts = open_loop.groupby(["platform", "account_seq"]).size()
    x_account = int(counts["x"].idxmax())
    beyond = int(counts["x"].max()) + 2  # more posts than the account drew that day: an extra post
    applied = [
        action_log.AppliedPost("rec_a", "posting_slot", "x", x_account, 0, 13),
        action_log.AppliedPost("rec_b", "exploration", "x", x_account, beyond, 4),
        action_log.AppliedPost("rec_c", "posting_slot", "linkedin", 2, 0, 9, hook_type="story", media_type="video"),
    ]
    assert action_log.write_day(tmp_path, DAY, applied) is True
    assert action_log.write_day(tmp_path, DAY, list(reversed(applied))) is False  # same log: the file is kept
    posts = core.posts_published_on(config, DAY)
    followed = posts.dropna(subset=["applied_recommendation_id"]).set_index("applied_recommendation_id")
    assert sorted(followed.index) == ["rec_a", "rec_b", "rec_c"]
    assert followed.loc["rec_a", "publish_hour"] == 13 and followed.loc["rec_a", "published_at"].hour == 13
    assert followed.loc["rec_b", "published_at"].hour == 4
    assert followed.loc["rec_c", ["hook_type", "media_type"]].tolist() == ["story", "video"]
    # the account's first post of the day took the recommendation: same post id as in the open loop
    first_x = open_loop[(open_loop["platform"] == "x") & (open_loop["account_seq"] == x_account)].iloc[0]
    assert followed.loc["rec_a", "post_id"] == first_x["post_id"]
    # the extra post is appended, its id fixed by its account and post number (whatever else the log holds)
    assert len(posts) == len(open_loop) + 1
    assert followed.loc["rec_b", "post_seq"] == core.EXTRA_POST_SEQ + x_account * core.MAX_POSTS_PER_ACCOUNT + beyond
    alone = tmp_path / "alone"
    action_log.write_day(alone, DAY, [applied[1]])
    posts_alone = core.posts_published_on(SimulatorConfig(**SMALL, actions_dir=str(alone)), DAY)
    pd.testing.assert_frame_equal(
        posts_alone[posts_alone["applied_recommendation_id"] == "rec_b"].reset_index(drop=True),
        posts[posts["applied_recommendation_id"] == "rec_b"].reset_index(drop=True),
    )
    # every other post is exactly the open loop's
    others = posts[posts["applied_recommendation_id"].isna()].drop(columns="applied_recommendation_id")
    expected = open_loop.set_index("post_id").loc[others["post_id"]].reset_index()[others.columns]
    pd.testing.assert_frame_equal(others.reset_index(drop=True), expected.drop(columns="applied_recommendation_id", errors="ignore"))
    # the native records carry the followed hours, and a rerun of the day reproduces them
    social = PlatformSimulator(config).day(DAY + timedelta(days=1)).social_posts["x"]
    polls = social[social["id"] == followed.loc["rec_a", "post_id"]]
    assert len(polls) and (pd.to_datetime(polls["created_at"]).dt.hour == 13).all()
    core._posts_published_on.cache_clear()
    again = core.posts_published_on(config, DAY)
    pd.testing.assert_frame_equal(again, posts)


def test_the_log_refuses_two_recommendations_for_one_post(tmp_path):
    clash = [
        action_log.AppliedPost("rec_a", "posting_slot", "x", 1, 0, 13),
        action_log.AppliedPost("rec_b", "posting_slot", "x", 1, 0, 9),
    ]
    with pytest.raises(ValueError, match="one post follows one recommendation"):
        action_log.write_day(tmp_path, DAY, clash)
    with pytest.raises(ValueError, match="not an hour"):
        action_log.write_day(tmp_path, DAY, [action_log.AppliedPost("rec_a", "posting_slot", "x", 1, 0, 24)])
    assert not action_log.day_path(tmp_path, DAY).exists()
    with pytest.raises(ValueError, match="not an account"):
        core.account_seq("x", "someone_else")
    with pytest.raises(ValueError, match="adoption and dismissal"):
        SimulatorConfig(adoption=0.8, dismissal=0.3)


def test_account_ids_are_the_ones_the_native_records_carry():
    sim = PlatformSimulator(SimulatorConfig(**SMALL)).day(DAY)
    native = {"linkedin": "organizationalEntity", "x": "author_id", "reddit": "author_fullname", "tiktok": "username"}
    for platform, column in native.items():
        ids = set(sim.social_posts[platform][column].astype(str))
        assert ids <= {core.account_id(platform, s) for s in range(core.ACCOUNTS_PER_PLATFORM)}
        assert all(core.account_seq(platform, i) in range(core.ACCOUNTS_PER_PLATFORM) for i in ids)


def test_the_peaks_move_on_the_shift_day_and_only_they():
    shift_day = DAY + timedelta(days=1)
    config = SimulatorConfig(**SMALL, peak_shift_hours=4, peak_shift_start=shift_day)
    assert _digest(config, DAY) == _digest(SimulatorConfig(**SMALL), DAY)
    before, after = core.posts_published_on(config, DAY), core.posts_published_on(config, shift_day)
    plain = core.posts_published_on(SimulatorConfig(**SMALL), shift_day)
    # the first platform's hours and content are drawn before any counter: the open loop's (the counters, drawn
    # at the moved peaks, then move the later draws, as any change of the planted effects does)
    first = (after["platform"] == "linkedin").to_numpy()
    for column in ("publish_hour", "hook_type", "media_type", "topic", "text_length", "impressions_total"):
        assert after.loc[first, column].equals(plain.loc[first, column]), column
    for platform in gt.ORGANIC_PLATFORMS:
        assert closed_loop.planted_best_hour(config, platform, DAY) == gt.strongest_posting_hour(platform)
        moved = closed_loop.planted_best_hour(config, platform, shift_day)
        assert moved == (gt.strongest_posting_hour(platform) + 4) % 24
        assert gt.hour_effect(platform, moved + 0.5, core.peak_shift_on(config, shift_day)) == pytest.approx(
            gt.HOUR_EFFECT_AMPLITUDE
        )
    # the planted multiplier of a post at the old peak falls, at the new peak rises
    effect = (after["true_log_multiplier"] - plain["true_log_multiplier"])[first]
    hour = after.loc[first, "publish_hour"]
    peak = gt.strongest_posting_hour("linkedin")
    assert (effect[hour == peak] < 0).all() and (effect[hour == peak + 4] > 0).all() and len(before)


def test_the_account_applies_its_share_of_recommendations_deterministically(tmp_path):
    config = SimulatorConfig(**SMALL, adoption=0.6, dismissal=0.1, actions_dir=str(tmp_path))
    ids = [f"rec_{i:024x}" for i in range(2000)]
    decided = closed_loop.decide(config, ids)
    assert decided == closed_loop.decide(config, list(reversed(ids)))
    shares = pd.Series(decided).value_counts(dropna=False, normalize=True)
    assert abs(shares["apply"] - 0.6) < 0.04 and abs(shares["dismiss"] - 0.1) < 0.03
    # slot recommendations become logged posts with their ids; a kind the account cannot follow stays open
    day = DAY + timedelta(days=1)
    recs = pd.DataFrame(
        [
            {
                "recommendation_id": f"rec_{i:024x}", "kind": "posting_slot" if i % 4 else "exploration",
                "platform": "x", "account_id": core.account_id("x", i % 5), "slot_start": datetime.combine(day, time(i % 24)),
                "action_fields": json.dumps({"publish_date": day.isoformat(), "publish_hour": i % 24, "post_number": i // 5}),
            }
            for i in range(20)
        ]
        + [{"recommendation_id": "rec_budget", "kind": "budget", "platform": "x", "account_id": core.account_id("x", 0),
            "slot_start": None, "action_fields": "{}"}]
    )
    acted = closed_loop.act(SimulatorConfig(**SMALL, adoption=1.0, actions_dir=str(tmp_path)), recs)
    assert acted.not_actionable == {"budget": 1}
    assert {d["decision"] for d in acted.decisions} == {"apply"} and len(acted.decisions) == 20
    posts = core.posts_published_on(SimulatorConfig(**SMALL, actions_dir=str(tmp_path)), day).set_index("post_id")
    for d in acted.decisions:
        i = int(d["recommendation_id"][4:], 16)
        assert posts.loc[d["applied_post_id"], "applied_recommendation_id"] == d["recommendation_id"]
        assert posts.loc[d["applied_post_id"], "publish_hour"] == i % 24
    again = closed_loop.act(SimulatorConfig(**SMALL, adoption=1.0, actions_dir=str(tmp_path)), recs)
    assert again.decisions == acted.decisions
    # a content recommendation: a post of the account's that no slot took uses the level, at the account's own hour
    content = pd.DataFrame([{
        "recommendation_id": "rec_content", "kind": "content", "platform": "x", "account_id": core.account_id("x", 0),
        "slot_start": None, "action_fields": json.dumps({"factor": "hook_type", "level": "story", "valid_from": day.isoformat()}),
    }])
    done = closed_loop.act(SimulatorConfig(**SMALL, adoption=1.0, actions_dir=str(tmp_path)), content)
    post_id = done.decisions[0]["applied_post_id"]
    posts = core.posts_published_on(SimulatorConfig(**SMALL, actions_dir=str(tmp_path)), day).set_index("post_id")
    assert posts.loc[post_id, "hook_type"] == "story" and posts.loc[post_id, "applied_recommendation_id"] == "rec_content"
    slot_posts = {d["applied_post_id"] for d in acted.decisions}
    assert post_id not in slot_posts and slot_posts <= set(posts.index)  # the slots kept their posts
    open_loop = core.posts_published_on(SimulatorConfig(**SMALL), day).set_index("post_id")
    if post_id in open_loop.index:  # one of the account's own posts: its hour is the one it drew
        assert posts.loc[post_id, "published_at"] == open_loop.loc[post_id, "published_at"]


# --------------------------------------------------------------------------------------- through the graph

# the e2e fixture's three days are the history the loop's first plan rests on: the loop simulates the same world
# (its seed and volumes), since each day's polls read the posts of the week before


@pytest.mark.slow
def test_two_weeks_of_the_loop_through_the_graph_and_the_api(pipeline, tmp_path):
    import shutil

    from analytics_assets.definitions import build_defs
    from analytics_assets.defs.loop.simulated_loop import (
        ApiRecommendations, LoopSettings, WeekReport, act, ingest_decisions, run_loop,
    )
    from analytics_assets.defs.resources import WebhookStoreResource
    from api.local import local_client
    from cycle_testing import E2E_END, E2E_SIM, new_home

    trained, _ = pipeline
    home = new_home(tmp_path / "home")
    shutil.copy(trained.warehouse, home.warehouse)
    shutil.copytree(trained.root / "mlflow", home.root / "mlflow")
    shutil.copytree(trained.serving, home.serving)
    store = WebhookStoreResource(path=str(home.root / "api" / "inbound.sqlite3"))
    resources = {**home.resources(), "webhook_store": store}
    defs = build_defs(resources)
    actions_dir = home.root / "simulator" / "actions"
    settings = LoopSettings(
        start=E2E_END + timedelta(days=1), weeks=2, seed=E2E_SIM["seed"], posts_per_day=E2E_SIM["posts_per_day"],
        adoption=0.7, dismissal=0.1,
        shift_week=2, shift_hours=4,
    )
    decided = "select recommendation_id from main.fct_recommendations where status in ('applied', 'dismissed')"
    already = set(home.query(decided)["recommendation_id"])  # decisions other tests took on the fixture

    def api(week: int) -> ApiRecommendations:
        now = datetime.combine(settings.week_days(week)[0], time())
        return ApiRecommendations(local_client(home.serving, home.root / "api", clock=lambda: now))

    reports = run_loop(
        settings, instance=home.instance, resolve_job=defs.resolve_job_def,
        feedback_sensor=defs.resolve_sensor_def("recommendation_feedback_sensor"), resources=resources,
        actions_dir=actions_dir, warehouse=home.warehouse, gateway=api,
    )
    assert [r.week for r in reports] == [1, 2]
    for r in reports:
        assert r.open_recommendations > 0 and abs(r.applied_share - 0.7) < 0.15, r
        # every applied recommendation has its post, in the warehouse once polled (a post of the week's last
        # hours is first polled in the next week's partitions)
        # (a boost's post was published before the advice: not one published for it)
        published_for = r.applied - r.applied_boosts
        assert 0.95 * published_for <= r.applied_posts <= published_for and r.champion_version
    # the planted peaks move at week 2, and the report shows it
    assert reports[0].planted_hours == {p: gt.strongest_posting_hour(p) for p in gt.ORGANIC_PLATFORMS}
    assert reports[1].planted_hours == {p: (gt.strongest_posting_hour(p) + 4) % 24 for p in gt.ORGANIC_PLATFORMS}

    # the decisions went through the API into the warehouse and the served snapshot
    recs = home.query("select * from main.fct_recommendations where status in ('applied', 'dismissed')")
    recs = recs[~recs["recommendation_id"].isin(already)]
    assert set(recs["status"]) == {"applied", "dismissed"}
    applied = recs[recs["status"] == "applied"]
    assert applied["applied_post_id"].notna().all() and len(applied) == reports[0].applied + reports[1].applied
    served = pd.read_parquet(home.serving / "recommendations.parquet").set_index("recommendation_id")
    assert (served.loc[applied["recommendation_id"], "status"] == "applied").all()
    # the posts were published in the recommended slots, with the ids the simulator gave them
    log = action_log.read_all(actions_dir)
    boost = applied["kind"] == "boost"
    assert set(log["recommendation_id"]) == set(applied.loc[~boost, "recommendation_id"])
    # the applied boosts are in the boost log of their post's day, and their post is the one recommended
    boost_log = {
        b.recommendation_id: b.post_id
        for f in (actions_dir / "boosts").glob("*.parquet")
        for b in action_log.read_boosts(actions_dir, date.fromisoformat(f.stem))
    }
    assert boost_log == dict(zip(applied.loc[boost, "recommendation_id"], applied.loc[boost, "target_id"]))
    assert (applied.loc[boost, "applied_post_id"] == applied.loc[boost, "target_id"]).all()
    assert reports[0].applied_boosts + reports[1].applied_boosts == boost.sum()
    outcomes = home.query("select * from main.fct_recommendation_outcomes")
    outcomes = outcomes[outcomes["recommendation_id"].isin(applied["recommendation_id"])]
    assert len(outcomes) == len(applied)
    week1 = outcomes["recommendation_id"].isin(log.loc[log["publish_date"] <= settings.week_days(1)[1], "recommendation_id"])
    assert week1.sum() > 0 and outcomes.loc[week1, "post_published_at"].notna().all()
    polled = outcomes[outcomes["kind"].isin(["posting_slot", "exploration"]) & outcomes["post_published_at"].notna()]
    assert len(polled) and polled["published_in_slot"].astype(bool).all()
    # week 1's posts (but its last day's) are a week old by the end of week 2: measured, with their realized value
    measured = outcomes[outcomes["outcome_status"] == "measured"]
    # (a boost's outcome waits for its flight's assessment: the boosted post's age alone does not say when)
    old_enough = (outcomes["post_published_at"].dt.date < settings.week_days(1)[1]) & (outcomes["kind"] != "boost")
    assert old_enough.sum() > 0 and set(outcomes.index[old_enough]) <= set(measured.index)
    assert measured["realized_value"].notna().all()
    assert reports[1].measured_outcomes >= len(measured) and 0 < reports[1].interval_coverage <= 1

    # acting on week 2 again and ingesting again changes nothing: same log, same decisions, no duplicate
    files = {str(p.relative_to(actions_dir)): p.read_bytes() for p in actions_dir.rglob("*.parquet")}  # boost log too
    before = home.query("select recommendation_id, status, applied_post_id from main.fct_recommendations order by 1")
    again = WeekReport(week=2, start=settings.week_days(2)[0], end=settings.week_days(2)[1])
    act(settings, actions_dir, api(2), 2, again)
    assert again.applied == 0  # all decided already: none of the week's is open any more
    run_config = {"resources": {"simulator": {"config": settings.simulator_resource_config(actions_dir)}}}
    sensor = defs.resolve_sensor_def("recommendation_feedback_sensor")
    assert ingest_decisions(home.instance, defs.resolve_job_def, sensor, resources, run_config) is False
    assert {str(p.relative_to(actions_dir)): p.read_bytes() for p in actions_dir.rglob("*.parquet")} == files
    after = home.query("select recommendation_id, status, applied_post_id from main.fct_recommendations order by 1")
    pd.testing.assert_frame_equal(before, after)
    dupes = home.query("select recommendation_id from raw.raw_recommendation_feedback group by 1 having count(*) > 1")
    assert dupes.empty
    # a loop with other settings on this home is refused: the log reproduces only its own world
    with pytest.raises(ValueError, match="other settings"):
        run_loop(
            LoopSettings(start=settings.start, weeks=2, seed=12), instance=home.instance, resolve_job=defs.resolve_job_def,
            feedback_sensor=defs.resolve_sensor_def("recommendation_feedback_sensor"), resources=resources,
            actions_dir=actions_dir, warehouse=home.warehouse, gateway=api,
        )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--weeks", "0"], "weeks must be at least 1"),
        (["--weeks", "2", "--adoption", "1.5"], "adoption and dismissal are shares"),
        (["--weeks", "2", "--shift-week", "3"], "shift_week must be one of the loop's weeks"),
        (["--weeks", "2", "--start", "2999-01-04"], "after the last complete day"),
    ],
)
def test_cycle_loop_refuses_bad_options_before_running_anything(argv, says, tmp_path, monkeypatch):
    from analytics_assets.cli import main

    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))
    with pytest.raises(SystemExit, match=says):
        main(["loop", *argv])
    assert not (tmp_path / "simulator").exists() and not (tmp_path / "warehouse.duckdb").exists()


@pytest.mark.parametrize(
    ("simulator", "says"),
    [({}, "no actions_dir"), ({"source_mode": "live", "actions_dir": "actions"}, "simulator source mode only")],
)
def test_the_dagster_job_needs_the_actions_log_and_the_simulator(simulator, says, tmp_path):
    from analytics_assets.definitions import build_defs
    from analytics_assets.defs.resources import SimulatorResource, WebhookStoreResource
    from cycle_testing import new_home

    home = new_home(tmp_path / "home")
    resources = {**home.resources(), "webhook_store": WebhookStoreResource(path=str(tmp_path / "store.sqlite3"))}
    if simulator:  # the embedded simulator's settings, switched to live mode
        resources["simulator"] = SimulatorResource(**{**resources["simulator"].model_dump(), **simulator})
    job = build_defs(resources).resolve_job_def("simulated_loop_job")
    result = job.execute_in_process(
        instance=home.instance, run_config={"ops": {"simulated_loop": {"config": {"weeks": 2}}}}, raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert says in str(failure.event_specific_data.error.message)
    assert not home.warehouse.exists()
