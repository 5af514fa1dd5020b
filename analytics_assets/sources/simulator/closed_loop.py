"""The simulated account in the loop: which of Cycle's open recommendations it follows, and the posts that follow.

``decide`` picks, for each open recommendation, whether the account applies it (a share ``adoption`` of them),
dismisses it (``dismissal``) or lets it be, from a hash of the seed and the recommendation id: the same
recommendation always gets the same decision, whatever else is open. ``act`` turns the applied ones into the
actions log (``actions.py``) and returns the post the simulator publishes for each, so the decision can name its
``applied_post_id``. The simulator reads the log back when it generates those days (``core.posts_published_on``).

What the account can do depends on the recommendation's kind (``ADOPTERS``): a posting slot or an exploration
slot is a post published in the recommended hour (with the recommended hook, media, topic and length when the
recommendation's ``action_fields`` carry them); a content recommendation is a post of the account's, on the first
day it is valid, that uses the recommended hook, media or topic. A kind without an adopter is left open: the
account cannot act on it, and ``act`` reports it as not actionable rather than pretending to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
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
    """How the simulated account follows one kind of recommendation: the day it acts, and the post it publishes."""

    day: Callable[[Mapping[str, Any]], date]
    post: Callable[[Mapping[str, Any], Planner], action_log.AppliedPost]


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


# What the simulated account does for each kind of recommendation it can follow, in the order it acts: slots first
# (they name their post), then content (it takes a post no slot took). A kind that changes something a post alone
# cannot carry (a boost: a paid flight the simulator would have to deliver) needs a column of the actions log that
# the simulator reads, and its adopter here; until then ``act`` reports it as not actionable.
ADOPTERS: dict[str, Adopter] = {
    "posting_slot": Adopter(_slot_day, _slot_post),
    "exploration": Adopter(_slot_day, _slot_post),
    "content": Adopter(_content_day, _content_post),
}


def action_day(rec: Mapping[str, Any]) -> date | None:
    """The day the account would act on ``rec`` (None: a kind it cannot follow)."""
    adopter = ADOPTERS.get(rec["kind"])
    return adopter.day(rec) if adopter else None


@dataclass
class Acted:
    """What ``act`` did: the decisions to record (with the post of each applied one) and what it could not do."""

    decisions: list[dict[str, Any]] = field(default_factory=list)  # recommendation_id, decision, applied_post_id
    not_actionable: dict[str, int] = field(default_factory=dict)  # kind -> open recommendations the account skips
    conflicts: list[str] = field(default_factory=list)  # applied ids whose post was already taken by another


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
        if adopter is None:
            out.not_actionable[rec["kind"]] = out.not_actionable.get(rec["kind"], 0) + 1
            continue
        choice = choices[rec["recommendation_id"]]
        if choice == "dismiss":
            out.decisions.append({"recommendation_id": rec["recommendation_id"], "decision": "dismiss", "applied_post_id": None})
        if choice != "apply":
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
    for rid in applied_ids:
        if rid in posted:
            out.decisions.append({"recommendation_id": rid, "decision": "apply", "applied_post_id": posted[rid]})
    return out


def planted_best_hour(config: core.SimulatorConfig, platform: str, day: date) -> int:
    """The hour with the strongest planted effect on ``platform`` on ``day`` (after any peak shift)."""
    return (gt.strongest_posting_hour(platform) + core.peak_shift_on(config, day)) % 24
