"""The simulated account applies boost recommendations: ``closed_loop.act`` logs the boost, the simulator delivers it
through the same machinery as its own boosts (paid delivery, planted spillover, raw boost rows), reruns change no
byte, and a day without a boost log is the open loop's. No Dagster: the simulator and the act step alone."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time, timedelta

import pandas as pd
import pytest

from analytics_assets.sources.parsing.loader import parse_day
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator import actions as action_log
from analytics_assets.sources.simulator import closed_loop, core

DAY = date(2026, 3, 3)  # the boosted posts' publish day
SMALL = {"seed": 5, "posts_per_day": 60, "journeys_per_day": 50, "ai_generations_per_day": 10,
         "experiment_units_per_day": 10, "boost_rate": 0.3}


def _digest(config: SimulatorConfig, day: date) -> str:
    sim = PlatformSimulator(config).day(day)
    parts = []
    for name in ("social_posts", "ad_campaigns", "boosts", "touchpoints", "ad_creatives"):
        frames = getattr(sim, name)
        parts += [f.to_csv().encode() for _, f in sorted(frames.items())] if isinstance(frames, dict) else [frames.to_csv().encode()]
    return hashlib.sha256(b"".join(parts)).hexdigest()


def _boost_rec(rid: str, post: pd.Series, start: date, budget: float, days: int, platform: str = "linkedin") -> dict:
    """A boost recommendation as the served contract carries it (ml boost_recommendations' action fields)."""
    fields = {"budget_usd": budget, "duration_days": days, "start_date": start.isoformat(),
              "end_date": (start + timedelta(days=days - 1)).isoformat(), "rank": 1}
    return {"recommendation_id": rid, "kind": "boost", "platform": platform,
            "account_id": core.account_id(platform, int(post["account_seq"])), "target_id": post["post_id"],
            "action_fields": json.dumps(fields), "slot_start": None}


def _contract_rec(post: pd.Series, as_of: datetime, budget: float, days: int) -> dict:
    """The boost recommendation ``boost_recommendation_proposals`` writes for ``post`` (its own row builder), as
    the loop's account reads it (``simulated_loop._recommendation_frame``'s columns)."""
    from analytics_assets.defs.loop.boost_recommendations import boost_recommendations
    from ml.boost_policy import PROJECTION_COLUMNS

    projection = {column: 1.0 for column in PROJECTION_COLUMNS} | {
        "platform": "linkedin", "account_id": core.account_id("linkedin", int(post["account_seq"])),
        "post_id": post["post_id"], "media_type": post["media_type"], "budget_usd": budget, "duration_days": days,
        "value_source": "configured", "response_pool": "platform", "flight_basis": "all assessed boosts",
        "rank": 1, "n_boosts": 19, "boosts_behind_flight": 19, "recommended": True,
    }
    rec = boost_recommendations(pd.DataFrame([projection]), as_of).iloc[0]
    return rec[["recommendation_id", "kind", "platform", "account_id", "target_id", "action_fields", "slot_start"]].to_dict()


def _clear_caches() -> None:
    core._posts_published_on.cache_clear()
    core._own_boosts.cache_clear()
    core._boosts_started_for_posts_of.cache_clear()


def test_an_applied_boost_is_delivered_at_the_recommended_flight_and_moves_nothing_else(tmp_path):
    open_cfg = SimulatorConfig(**SMALL)
    config = SimulatorConfig(**SMALL, adoption=1.0, actions_dir=str(tmp_path))
    posts = core.posts_published_on(open_cfg, DAY)
    own = core.boosts_started_for_posts_of(open_cfg, DAY)
    li = posts[(posts["platform"] == "linkedin") & ~posts["post_id"].isin(own["post_id"])]
    target, off_li = li.iloc[0], posts[posts["platform"] == "x"].iloc[0]
    start = DAY + timedelta(days=2)  # a day later than the simulator's own flights, for 4 days
    flight = [start + timedelta(days=k) for k in range(4)]
    before = _digest(open_cfg, DAY + timedelta(days=1))
    # the recommendation as the boost policy's asset writes it: made on DAY + 1's data, its flight starts the day after
    contract = _contract_rec(target, datetime.combine(DAY + timedelta(days=1), time(23, 50)), 100.0, 4)
    rid = contract["recommendation_id"]
    recs = pd.DataFrame([contract, _boost_rec("rec_x", off_li, start, 50.0, 3, "x")])

    acted = closed_loop.act(config, recs)
    assert acted.decisions == [{"recommendation_id": rid, "decision": "apply", "applied_post_id": target["post_id"]}]
    assert acted.not_actionable == {"boost": 1} and not acted.conflicts  # LinkedIn Ads boosts LinkedIn posts only
    assert closed_loop.action_day(recs.iloc[0]) == start and closed_loop.action_day(recs.iloc[1]) is None
    log = action_log.boost_day_path(tmp_path, DAY)
    assert log.exists() and not action_log.day_path(tmp_path, DAY).exists()  # the posts' log is untouched

    # the boost: recommended post, start, duration and daily budget (the flight's budget over its days)
    started = core.boosts_started_for_posts_of(config, DAY)
    mine = started[started["applied_recommendation_id"] == rid]
    assert len(mine) == 1 and mine["post_id"].iat[0] == target["post_id"]
    assert (mine["start_date"].iat[0], mine["end_date"].iat[0], mine["daily_budget"].iat[0]) == (start, flight[-1], 25.0)
    assert mine["spillover_lift"].iat[0] > 0 and mine["campaign_id"].iat[0] not in set(own["campaign_id"])
    # the simulator's own boosts of that day are exactly the open loop's
    pd.testing.assert_frame_equal(started[started["applied_recommendation_id"].isna()], own)

    # delivered on each day of its flight, and only then; the other boosts deliver exactly as in the open loop
    days = (DAY + timedelta(days=1), flight[-1] + timedelta(days=1))
    delivery, plain_delivery = PlatformSimulator(config).boosts(*days), PlatformSimulator(open_cfg).boosts(*days)
    ours = delivery[delivery["post_id"] == target["post_id"]]
    assert list(ours["boost_date"]) == flight and (ours["daily_budget"] == 25.0).all()
    assert ((0 < ours["spend"]) & (ours["spend"] <= 25.0)).all() and (ours["paid_impressions"] > 0).all()
    pd.testing.assert_frame_equal(delivery[delivery["post_id"] != target["post_id"]].reset_index(drop=True), plain_delivery)
    # the raw boost rows the ingest parses carry the recommended flight and daily budget
    raw = parse_day(PlatformSimulator(config).day(flight[1]))["raw_boosts"].rows
    row = raw[raw["post_id"] == target["post_id"]]
    assert len(row) == 1 and row["daily_budget"].iat[0] == 25.0 and row["boost_id"].iat[0] == mine["boost_id"].iat[0]
    assert (pd.Timestamp(row["start_date"].iat[0]).date(), pd.Timestamp(row["end_date"].iat[0]).date()) == (start, flight[-1])

    # the planted spillover lifts the post's organic counters from the flight's start, as the own boosts' do
    truth = PlatformSimulator(config).boost_truth(DAY, DAY)
    lifted = truth[truth["post_id"] == target["post_id"]]
    assert len(lifted) == 1 and lifted["true_incremental_engagements"].iat[0] > 0
    polls = PlatformSimulator(config).post_trajectories(DAY, DAY, platforms=("linkedin",))
    plain = PlatformSimulator(open_cfg).post_trajectories(DAY, DAY, platforms=("linkedin",))
    was, now = (p[p["post_id"] == target["post_id"]].set_index("age_hours")["likes"] for p in (plain, polls))
    flight_age = lifted["flight_start_age_hours"].iat[0]
    assert (now[now.index <= flight_age] == was[was.index <= flight_age]).all()
    assert (now[now.index > flight_age] >= was[was.index > flight_age]).all() and now.iat[-1] > was.iat[-1]
    others = polls["post_id"] != target["post_id"]
    pd.testing.assert_frame_equal(polls[others].reset_index(drop=True), plain[plain["post_id"] != target["post_id"]].reset_index(drop=True))
    # the days before the flight are the open loop's byte for byte (what was already ingested does not move)
    assert _digest(config, DAY + timedelta(days=1)) == before

    # a rerun of the act step and of the days: the same decisions, log and bytes
    log_bytes, digest = log.read_bytes(), _digest(config, flight[0])
    again = closed_loop.act(config, recs)
    assert again.decisions == acted.decisions and log.read_bytes() == log_bytes
    _clear_caches()
    assert _digest(config, flight[0]) == digest


def test_a_boost_of_a_post_the_simulator_boosts_itself_replaces_its_flight_or_conflicts(tmp_path):
    open_cfg = SimulatorConfig(**SMALL)
    config = SimulatorConfig(**SMALL, adoption=1.0, actions_dir=str(tmp_path))
    posts = core.posts_published_on(open_cfg, DAY).set_index("post_id")
    own = core.boosts_started_for_posts_of(open_cfg, DAY)
    assert len(own) >= 2
    same_day, running = (posts.loc[pid].copy() for pid in own["post_id"][:2])
    same_day["post_id"], running["post_id"] = own["post_id"].iat[0], own["post_id"].iat[1]
    recs = pd.DataFrame([
        _boost_rec("rec_replace", same_day, DAY + timedelta(days=1), 60.0, 2),  # the own flight's start: replaced
        _boost_rec("rec_late", running, DAY + timedelta(days=2), 60.0, 2),  # the own boost is already running
    ])
    acted = closed_loop.act(config, recs)
    assert acted.conflicts == ["rec_late"]
    assert [d["recommendation_id"] for d in acted.decisions] == ["rec_replace"]
    started = core.boosts_started_for_posts_of(config, DAY)
    assert len(started) == len(own)  # one boost a post
    replaced = started.set_index("boost_id").loc[own["boost_id"].iat[0]]
    assert replaced["applied_recommendation_id"] == "rec_replace" and replaced["daily_budget"] == 30.0
    assert replaced["end_date"] == DAY + timedelta(days=2) and replaced["campaign_id"] == own["campaign_id"].iat[0]
    for column in ("cpm_usd", "paid_engagement_rate", "spillover_lift"):  # the post's response is its own draw
        assert replaced[column] == own[column].iat[0]
    # delivered for 2 days, not the own 3; every other boost as in the open loop
    third = PlatformSimulator(config).boosts(DAY + timedelta(days=3), DAY + timedelta(days=3))
    assert own["post_id"].iat[0] not in set(third["post_id"]) and own["post_id"].iat[1] in set(third["post_id"])
    plain = PlatformSimulator(open_cfg).boosts(DAY + timedelta(days=1), DAY + timedelta(days=3))
    plain = plain[plain["post_id"] != own["post_id"].iat[0]].reset_index(drop=True)
    others = PlatformSimulator(config).boosts(DAY + timedelta(days=1), DAY + timedelta(days=3))
    pd.testing.assert_frame_equal(others[others["post_id"] != own["post_id"].iat[0]].reset_index(drop=True), plain)

    # a log the simulator cannot deliver is refused with the reason
    late = action_log.AppliedBoost("rec_x", "linkedin", 0, own["post_id"].iat[1], DAY + timedelta(days=2), 2, 30.0)
    action_log.write_boosts(tmp_path / "bad", DAY, [late])
    with pytest.raises(ValueError, match="already boosted"):
        core.boosts_started_for_posts_of(SimulatorConfig(**SMALL, actions_dir=str(tmp_path / "bad")), DAY)
    with pytest.raises(ValueError, match="must start between"):
        action_log.write_boosts(tmp_path / "bad", DAY, [late._replace(start_date=DAY)])
    with pytest.raises(ValueError, match="one recommendation"):
        action_log.write_boosts(tmp_path / "bad", DAY, [late, late._replace(recommendation_id="rec_y")])
    with pytest.raises(ValueError, match="no such post"):
        closed_loop.act(config, pd.DataFrame([{**_boost_rec("rec_none", running, DAY + timedelta(days=2), 60.0, 2),
                                               "target_id": "urn:li:share:1"}]))


def test_applied_boosts_campaign_ids_are_their_own():
    """Keyed by the post (not by a count of the day's boosts), in a range no drawn boost's id reaches, under 2**63."""
    from analytics_assets.sources.simulator import ids

    last = date(9999, 12, 31)
    drawn = {int(c) for d in (DAY, last) for c in ids.boost_campaign_ids(d, 101)}  # narrow ids and the first wide
    widest = int(ids.boost_campaign_ids(last, 101)[-1]) - 100 + 10_000_000 - 1  # the last wide id of the last day
    applied = {int(ids.applied_boost_campaign_id(d, s)) for d in (DAY, last) for s in (0, 59, 10**10 - 1, 10**11 - 1)}
    assert len(applied) == 8 and not drawn & applied and max(drawn) < widest < min(applied) and max(applied) < 2**63
    with pytest.raises(ValueError, match="beyond"):
        ids.applied_boost_campaign_id(DAY, 10**11)


def test_the_loop_week_applies_the_boosts_it_can_and_reports_them(tmp_path):
    """``simulated_loop.act`` (what ``cycle loop`` runs each week, without the graph): the week's boost
    recommendation is applied and recorded with its post; one off LinkedIn is counted as not actionable."""
    from analytics_assets.defs.loop.simulated_loop import LoopSettings, WeekReport, act

    settings = LoopSettings(start=DAY - timedelta(days=6), weeks=2, seed=5, posts_per_day=60, adoption=1.0)
    config = settings.simulator_config(tmp_path)
    posts = core.posts_published_on(config, DAY)
    own = core.boosts_started_for_posts_of(config, DAY)
    target = posts[(posts["platform"] == "linkedin") & ~posts["post_id"].isin(own["post_id"])].iloc[-1]
    rec = _contract_rec(target, datetime.combine(DAY, time(23, 50)), 90.0, 3)  # its flight starts with week 2
    off = _boost_rec("rec_x", posts[posts["platform"] == "x"].iloc[0], DAY + timedelta(days=1), 50.0, 3, "x")

    class Gateway:
        def __init__(self):
            self.decided: list[tuple] = []

        def open_recommendations(self, now):
            return pd.DataFrame([rec, off])

        def decide(self, recommendation_id, decision, applied_post_id, now):
            self.decided.append((recommendation_id, decision, applied_post_id, now))
            return "recorded"

    gateway, report = Gateway(), WeekReport(week=2, start=DAY + timedelta(days=1), end=DAY + timedelta(days=7))
    act(settings, tmp_path, gateway, 2, report)
    monday = datetime.combine(DAY + timedelta(days=1), time())
    assert gateway.decided == [(rec["recommendation_id"], "apply", target["post_id"], monday)]
    assert (report.open_recommendations, report.applied, report.applied_boosts) == (1, 1, 1)
    assert report.not_actionable == {"boost": 1}
    delivered = PlatformSimulator(config).boosts(DAY + timedelta(days=1), DAY + timedelta(days=1))
    assert (delivered.loc[delivered["post_id"] == target["post_id"], "daily_budget"] == 30.0).all()
    assert (delivered["post_id"] == target["post_id"]).sum() == 1
