"""The simulated account in the loop: which of Cycle's open recommendations it follows, and the posts that follow.

``decide`` picks, for each open recommendation, whether the account applies it (a share ``adoption`` of them),
dismisses it (``dismissal``) or lets it be, from a hash of the seed and the recommendation id: the same
recommendation always gets the same decision, whatever else is open. ``act`` turns the applied ones into the
actions log (``actions.py``) and returns the post the simulator publishes for each, so the decision can name its
``applied_post_id``. The simulator reads the log back when it generates those days (``core.posts_published_on``).

What the account can do depends on the recommendation's kind (``ADOPTERS``): a posting slot or an exploration
slot is a post published in the recommended hour (with the recommended hook, media, topic and length when the
recommendation's ``action_fields`` carry them); a content recommendation is a post of the account's, on the first
day it is valid, that uses the recommended hook, media or topic; a boost recommendation is a boost of the
recommended LinkedIn post at the recommended budget (spread evenly over the flight's days: ``budget_usd`` is the
flight's), duration and start, logged in the boost log of the post's day and delivered by the simulator as its
own boosts are. A kind without an adopter, or a recommendation the simulator cannot deliver (a boost of a post on
another platform: the simulator boosts through LinkedIn Ads only), is left open: ``act`` reports it as not
actionable rather than pretending to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import pandas as pd

from analytics_assets.sources.simulator import actions as action_log
from analytics_assets.sources.simulator import core
from analytics_assets.sources.simulator import ground_truth as gt

CONTENT_FIELDS = ("hook_type", "media_type", "topic", "text_length")
_CONTENT_VOCABULARY = {"hook_type": gt.HOOK_TYPES, "media_type": gt.MEDIA_TYPES, "topic": gt.TOPICS}


def _uniform(seed: int, recommendation_id: str) -> float:
    """A number in [0, 1) fixed by the seed and the recommendation: the account's mood about that one."""
    digest = hashlib.sha256(f"{seed}:{recommendation_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def decide(config: core.SimulatorConfig, recommendation_ids: list[str]) -> dict[str, str | None]:
    """``apply``, ``dismiss`` or None (left open) for each recommendation, deterministic per (seed, id)."""
    out: dict[str, str | None] = {}
    for rid in recommendation_ids:
        u = _uniform(config.seed, rid)
        out[rid] = "apply" if u < config.adoption else "dismiss" if u < config.adoption + config.dismissal else None
    return out


def _content(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The content a recommendation sets (hook, media, topic, length), checked against the simulator's vocabulary."""
    content: dict[str, Any] = {}
    for name in CONTENT_FIELDS:
        value = fields.get(name)
        if value is None:
            continue
        if name == "text_length":
            value = int(value)
            if value <= 0:
                raise ValueError(f"text_length must be positive, got {value}")
        elif value not in _CONTENT_VOCABULARY[name]:
            raise ValueError(f"{name} {value!r} is not one of {', '.join(_CONTENT_VOCABULARY[name])}")
        content[name] = value
    return content


class Planner:
    """The posts of each day already given to a recommendation (the log, then this act's), so that each adopter
    finds a post of its own: one post follows one recommendation."""

    def __init__(self, config: core.SimulatorConfig):
        self.config = config
        self.logged: dict[date, list[action_log.AppliedPost]] = {}
        self.places: dict[date, dict[tuple[str, int, int], str]] = {}
        self.boosts: dict[date, list[action_log.AppliedBoost]] = {}  # the boost log of each post's publish day

    def boosts_of(self, publish_day: date) -> list[action_log.AppliedBoost]:
        if publish_day not in self.boosts:
            self.boosts[publish_day] = list(action_log.read_boosts(self.config.actions_dir, publish_day))
        return self.boosts[publish_day]

    def published(self, platform: str, post_id: str, before: date) -> tuple[date, Mapping[str, Any]]:
        """The day ``post_id`` was published (in the week before ``before``, where a boost can still reach it) and
        its row of ``core.posts_published_on``; a ValueError when the account published no such post."""
        for back in range(1, action_log.MAX_BOOST_START_DAYS + 1):
            day = before - timedelta(days=back)
            posts = core.posts_published_on(self.config, day)
            match = posts[(posts["platform"] == platform) & (posts["post_id"] == post_id)]
            if len(match):
                return day, match.iloc[0].to_dict()
        raise ValueError(
            f"{platform} post {post_id} is not a post the simulated brand published in the "
            f"{action_log.MAX_BOOST_START_DAYS} days before {before}: there is no such post to boost"
        )

    def day(self, day: date) -> dict[tuple[str, int, int], str]:
        if day not in self.places:
            self.logged[day] = list(action_log.read_day(self.config.actions_dir, day))
            self.places[day] = {(a.platform, a.account_seq, a.post_number): a.recommendation_id for a in self.logged[day]}
        return self.places[day]

    def drawn_posts(self, day: date, platform: str, account: int) -> int:
        """How many posts the account would publish that day on its own (the open loop's draw)."""
        posts = core.posts_published_on(replace(self.config, actions_dir=None), day)
        return int(((posts["platform"] == platform) & (posts["account_seq"] == account)).sum())

    def free_post(self, day: date, platform: str, account: int) -> int:
        """The account's last post of the day that no recommendation took yet, else one more post."""
        taken = {n for (p, a, n) in self.day(day) if p == platform and a == account}
        drawn = self.drawn_posts(day, platform, account)
        free = [n for n in range(drawn - 1, -1, -1) if n not in taken]
        return free[0] if free else max([drawn - 1, *taken]) + 1


@dataclass(frozen=True)
class Adopter:
    """How the simulated account follows one kind of recommendation: the day it acts, and the post it publishes
    (``post``) or the boost it runs (``boost``); ``follows`` says whether the simulator can deliver a given one."""

    day: Callable[[Mapping[str, Any]], date]
    post: Callable[[Mapping[str, Any], Planner], action_log.AppliedPost] | None = None
    boost: Callable[[Mapping[str, Any], Planner], tuple[date, action_log.AppliedBoost]] | None = None
    follows: Callable[[Mapping[str, Any]], bool] = lambda rec: True  # noqa: ARG005


def _fields(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The action as fields: the warehouse and the snapshot keep them as JSON text, the API answers an object."""
    fields = rec["action_fields"]
    return dict(fields) if isinstance(fields, Mapping) else json.loads(fields)


def _slot_day(rec: Mapping[str, Any]) -> date:
    return date.fromisoformat(_fields(rec)["publish_date"])


def _slot_post(rec: Mapping[str, Any], planner: Planner) -> action_log.AppliedPost:  # noqa: ARG001 (its post is named)
    """A posting or exploration slot: the account's post ``post_number`` of ``publish_date`` in ``publish_hour``."""
    fields = _fields(rec)
    return action_log.AppliedPost(
        recommendation_id=rec["recommendation_id"],
        kind=rec["kind"],
        platform=rec["platform"],
        account_seq=core.account_seq(rec["platform"], rec["account_id"]),
        post_number=int(fields["post_number"]),
        publish_hour=int(fields["publish_hour"]),
        **_content(fields),
    )


def _content_day(rec: Mapping[str, Any]) -> date:
    return date.fromisoformat(_fields(rec)["valid_from"])


def _content_post(rec: Mapping[str, Any], planner: Planner) -> action_log.AppliedPost:
    """A content recommendation (use this hook, media or topic): the account's last free post of the first day
    the recommendation is valid uses the level, at the hour the account chose for it."""
    fields = _fields(rec)
    account = core.account_seq(rec["platform"], rec["account_id"])
    day = _content_day(rec)
    return action_log.AppliedPost(
        recommendation_id=rec["recommendation_id"],
        kind=rec["kind"],
        platform=rec["platform"],
        account_seq=account,
        post_number=planner.free_post(day, rec["platform"], account),
        publish_hour=None,
        **_content({fields["factor"]: fields["level"]}),
    )


def _boost_day(rec: Mapping[str, Any]) -> date:
    return date.fromisoformat(_fields(rec)["start_date"])


def _boostable(rec: Mapping[str, Any]) -> bool:
    """The simulator delivers boosts of LinkedIn posts only (through LinkedIn Ads, as its own boosts)."""
    return rec["platform"] == "linkedin"


def _boost(rec: Mapping[str, Any], planner: Planner) -> tuple[date, action_log.AppliedBoost]:
    """A boost recommendation: the account boosts the recommended post (``target_id``) from ``start_date`` for
    ``duration_days`` days; ``budget_usd`` is the flight's budget, so each day's is its even share (to the cent,
    what a daily budget is set in). Returns the post's publish day (whose boost log keeps it) and the boost."""
    fields = _fields(rec)
    start = date.fromisoformat(fields["start_date"])
    days = int(fields["duration_days"])
    budget = float(fields["budget_usd"])
    if days < 1 or not budget > 0:
        raise ValueError(f"{rec['recommendation_id']}: a boost needs duration_days >= 1 and a positive budget_usd")
    account = core.account_seq(rec["platform"], rec["account_id"])
    publish_day, post = planner.published(rec["platform"], rec["target_id"], before=start)
    if int(post["account_seq"]) != account:
        raise ValueError(f"{rec['recommendation_id']}: post {rec['target_id']} is not {rec['account_id']}'s")
    return publish_day, action_log.AppliedBoost(
        recommendation_id=rec["recommendation_id"],
        platform=rec["platform"],
        account_seq=account,
        post_id=rec["target_id"],
        start_date=start,
        duration_days=days,
        daily_budget_usd=round(budget / days, 2),
    )


# What the simulated account does for each kind of recommendation it can follow, in the order it acts: slots first
# (they name their post), then content (it takes a post no slot took), then boosts (of posts already published,
# a paid flight the simulator delivers: the boost log).
ADOPTERS: dict[str, Adopter] = {
    "posting_slot": Adopter(_slot_day, _slot_post),
    "exploration": Adopter(_slot_day, _slot_post),
    "content": Adopter(_content_day, _content_post),
    "boost": Adopter(_boost_day, boost=_boost, follows=_boostable),
}


def action_day(rec: Mapping[str, Any]) -> date | None:
    """The day the account would act on ``rec`` (None: one it cannot follow)."""
    adopter = ADOPTERS.get(rec["kind"])
    return adopter.day(rec) if adopter and adopter.follows(rec) else None


@dataclass
class Acted:
    """What ``act`` did: the decisions to record (with the post of each applied one) and what it could not do."""

    decisions: list[dict[str, Any]] = field(default_factory=list)  # recommendation_id, decision, applied_post_id
    not_actionable: dict[str, int] = field(default_factory=dict)  # kind -> open recommendations the account skips
    # applied ids the account could not follow: their post was already taken by another, or (a boost) the post is
    # boosted already, by another recommendation or by the simulator's own boost already in flight
    conflicts: list[str] = field(default_factory=list)


def act(config: core.SimulatorConfig, recommendations: pd.DataFrame) -> Acted:
    """Decide on the open ``recommendations`` (rows of the served contract), log the applied ones' posts and
    name each one's post. Idempotent: the same recommendations give the same log and the same decisions; a
    day's log keeps what an earlier act put there (applied is applied)."""
    if config.actions_dir is None:
        raise ValueError("the simulated account acts through its actions log: set SimulatorConfig.actions_dir")
    out = Acted()
    choices = decide(config, sorted(recommendations["recommendation_id"]))
    planner = Planner(config)
    order = {kind: i for i, kind in enumerate(ADOPTERS)}
    recs = recommendations.assign(_order=recommendations["kind"].map(order).fillna(len(order)))
    applied_ids: list[str] = []
    for rec in recs.sort_values(["_order", "recommendation_id"]).to_dict("records"):
        adopter = ADOPTERS.get(rec["kind"])
        if adopter is None or not adopter.follows(rec):
            out.not_actionable[rec["kind"]] = out.not_actionable.get(rec["kind"], 0) + 1
            continue
        choice = choices[rec["recommendation_id"]]
        if choice == "dismiss":
            out.decisions.append({"recommendation_id": rec["recommendation_id"], "decision": "dismiss", "applied_post_id": None})
        if choice != "apply":
            continue
        if adopter.boost is not None:
            if _plan_boost(config, planner, adopter.boost(rec, planner), out):
                applied_ids.append(rec["recommendation_id"])
            continue
        day = adopter.day(rec)
        places = planner.day(day)
        if rec["recommendation_id"] in places.values():  # logged by an earlier act
            applied_ids.append(rec["recommendation_id"])
            continue
        post = adopter.post(rec, planner)
        place = (post.platform, post.account_seq, post.post_number)
        if place in places:  # another recommendation for the same post was applied before: that one stands
            out.conflicts.append(post.recommendation_id)
            continue
        places[place] = post.recommendation_id
        planner.logged[day].append(post)
        applied_ids.append(rec["recommendation_id"])
    posted: dict[str, str] = {}
    for day, logged in sorted(planner.logged.items()):
        action_log.write_day(config.actions_dir, day, logged)
        posts = core.posts_published_on(config, day)
        followed = posts[posts["applied_recommendation_id"].notna()]
        posted.update(zip(followed["applied_recommendation_id"], followed["post_id"]))
    for day, boosts in sorted(planner.boosts.items()):
        action_log.write_boosts(config.actions_dir, day, boosts)
        started = core.boosts_started_for_posts_of(config, day)  # the boosted post names the decision's post
        followed = started[started["applied_recommendation_id"].notna()]
        posted.update(zip(followed["applied_recommendation_id"], followed["post_id"]))
    for rid in applied_ids:
        if rid in posted:
            out.decisions.append({"recommendation_id": rid, "decision": "apply", "applied_post_id": posted[rid]})
    return out


def _plan_boost(
    config: core.SimulatorConfig, planner: Planner, planned: tuple[date, action_log.AppliedBoost], out: Acted
) -> bool:
    """Put an applied boost in its post's boost log (True), or report it as a conflict (False): a post is boosted
    once, and a flight the simulator's own boost of the post already runs before cannot be changed any more (the
    one it starts the same day is replaced by the recommended one: ``core.boosts_started_for_posts_of``)."""
    publish_day, boost = planned
    logged = planner.boosts_of(publish_day)
    if any(b.recommendation_id == boost.recommendation_id for b in logged):  # logged by an earlier act
        return True
    if any(b.post_id == boost.post_id and b.platform == boost.platform for b in logged):
        out.conflicts.append(boost.recommendation_id)
        return False
    started = core.boosts_started_for_posts_of(config, publish_day)
    own = started[started["applied_recommendation_id"].isna()]
    own_start = own.loc[own["post_id"] == boost.post_id, "start_date"]
    if len(own_start) and own_start.iloc[0] < boost.start_date:
        out.conflicts.append(boost.recommendation_id)
        return False
    logged.append(boost)
    return True


def planted_best_hour(config: core.SimulatorConfig, platform: str, day: date) -> int:
    """The hour with the strongest planted effect on ``platform`` on ``day`` (after any peak shift)."""
    return (gt.strongest_posting_hour(platform) + core.peak_shift_on(config, day)) % 24
