"""Recommendations: the one shape every kind of advice takes, from the asset that computes it to the API.

Defined once here and imported by the ML assets that write recommendations, the dbt sources that read them,
the serving snapshot and the API (which also takes the users' feedback on them):

* ``RECOMMENDATION_COLUMNS``: the warehouse table ``ml.ml_recommendations``, one row per recommendation ever
  made. A row's promise (its action, expected effect, interval, propensity and evidence) is written once, when
  the id first appears, and never changed: outcomes are measured against what was promised. Later runs only
  record that the id was made again (``last_generated_at``) or was dropped (``superseded_at``).
* ``recommendation_id``: stable. The same kind, target and action give the same id, so a rerun on the same
  inputs never duplicates a recommendation, and a different action (another hour, another budget) is a new one.
* ``STATUSES`` and ``served_status``: what a user sees. Feedback (apply, dismiss) wins; then a recommendation
  is ``superseded`` once a newer run dropped it, ``expired`` once its ``expires_at`` passed, else ``open``.
* ``FEEDBACK_DECISIONS`` and ``FEEDBACK_COLUMNS``: what a user did with one, as the API's inbound store keeps it
  (``contracts.inbound.FeedbackStore``) and ``raw.raw_recommendation_feedback`` copies it.

Kinds (``KINDS``):
    posting_slot  publish the next post of an account at a given hour (the best hour of that weekday);
    exploration   the same, at an hour the policy chose where the model is uncertain (Thompson sampling),
                  so the model keeps learning about hours it would otherwise never see;
    content       hook, media or topic to use on a platform;
    boost         which organic post to promote, with a budget and duration;
    budget        how to split paid spend (the forecasting and budget work).

Every recommendation records the probability with which its policy chose its action among the alternatives
(``propensity``), so logged outcomes support off-policy evaluation (inverse-propensity and doubly robust
estimates) and training can correct for the bias that following its own advice creates.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

KINDS = ("posting_slot", "exploration", "content", "boost", "budget")
TARGET_TYPES = ("slot", "post", "campaign", "content")
STATUSES = ("open", "applied", "dismissed", "expired", "superseded")
# a user's decision on a recommendation, and the status it gives it
FEEDBACK_DECISIONS = {"apply": "applied", "dismiss": "dismissed"}
POLICIES = ("greedy", "thompson", "ranked")  # how the action was chosen (ranked: all alternatives served)
INTERVAL_LEVEL = 0.90  # every expected effect carries its 90% interval

RECOMMENDATIONS_TABLE = "ml.ml_recommendations"
RECOMMENDATION_COLUMNS = {
    "recommendation_id": "VARCHAR",  # rec_<24 hex>: see recommendation_id()
    "kind": "VARCHAR",  # KINDS
    "platform": "VARCHAR",  # the target's platform and account (every served row belongs to an account)
    "account_id": "VARCHAR",
    "target_type": "VARCHAR",  # TARGET_TYPES
    "target_id": "VARCHAR",  # slot: '<date>#<n>' (the account's n-th post that day); post/campaign id; content key
    "action": "VARCHAR",  # the action in words ("Publish at 09:00 UTC on Tuesday 2026-12-08")
    "action_fields": "VARCHAR",  # the action as a JSON object ({"slot_start": ..., "publish_hour": 9, ...})
    "slot_start": "TIMESTAMP",  # posting slots: the hour to publish in (UTC, naive); else NULL
    "expected_metric": "VARCHAR",  # what expected_* measure (engagement_score of the post at 7 days, ...)
    "expected_value": "DOUBLE",  # the expected outcome if the action is taken
    "expected_low": "DOUBLE",  # its INTERVAL_LEVEL interval (of the realized outcome, not of the mean)
    "expected_high": "DOUBLE",
    "baseline_value": "DOUBLE",  # the expected outcome of the alternative (the average slot, no boost, ...)
    "confidence": "DOUBLE",  # posterior probability that the action beats the baseline (0..1)
    "propensity": "DOUBLE",  # probability with which the policy chose this action in its context (0..1]
    "policy": "VARCHAR",  # POLICIES
    "model_name": "VARCHAR",  # evidence: the model (and version) the expectation comes from
    "model_version": "VARCHAR",
    # evidence: observations behind the expectation (for a slot: the posts the model saw at that hour plus the recent
    # posts that updated it; a recent post the model was trained on counts in both)
    "sample_size": "BIGINT",
    "evidence": "VARCHAR",  # evidence in words: the finding or test it rests on, and what is missing
    "created_at": "TIMESTAMP",  # when the id was first made (its promise dates from then)
    "expires_at": "TIMESTAMP",  # after this it can no longer be acted on
    "last_generated_at": "TIMESTAMP",  # the latest run that made it again
    "superseded_at": "TIMESTAMP",  # the first run that no longer made it (NULL: still current)
}

# what the served copy (main.fct_recommendations -> recommendations.parquet) adds to RECOMMENDATION_COLUMNS
RECOMMENDATION_STATUS_COLUMNS = {
    "status": "VARCHAR",  # STATUSES, as of status_as_of (the API applies newer feedback and expiry itself)
    "status_as_of": "TIMESTAMP",
    "decided_at": "TIMESTAMP",  # when the user's decision was stored (NULL: none)
    "feedback_id": "VARCHAR",
    "applied_post_id": "VARCHAR",
}

FEEDBACK_TABLE = "raw_recommendation_feedback"
# One row per decision a user took, as the API stored it (one decision per recommendation: the first wins).
FEEDBACK_COLUMNS = {
    "feedback_id": "VARCHAR",  # fb_<32 hex>, returned to the caller
    "recommendation_id": "VARCHAR",
    "decision": "VARCHAR",  # FEEDBACK_DECISIONS keys
    "reason": "VARCHAR",  # optional, the user's words
    "applied_post_id": "VARCHAR",  # apply: the post published for it (a posting slot), if any
    "applied_details": "VARCHAR",  # apply: what was actually done, as a JSON object (budget spent, ...)
    "platform": "VARCHAR",  # the recommendation's account, as served when the decision was taken
    "account_id": "VARCHAR",
    "workspace_id": "VARCHAR",  # who decided: the key's workspace and public key id
    "key_id": "VARCHAR",
    "received_at": "TIMESTAMP",  # when the API stored it (UTC)
    "store_id": "VARCHAR",
    "store_seq": "BIGINT",
    "loaded_at": "TIMESTAMP",
}


def recommendation_id(kind: str, platform: str, account_id: str, target_type: str, target_id: str, action_key: str) -> str:
    """The stable id of a recommendation: a hash of what it targets and what it asks for.

    ``action_key`` is the action in canonical form (for a slot, its start; for a boost, budget and duration):
    the same recommendation made again gets the same id, a different action a new one."""
    if kind not in KINDS:
        raise ValueError(f"unknown recommendation kind {kind!r}; expected one of {KINDS}")
    if target_type not in TARGET_TYPES:
        raise ValueError(f"unknown target type {target_type!r}; expected one of {TARGET_TYPES}")
    key = "\x1f".join([kind, platform, account_id, target_type, target_id, action_key])
    return "rec_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def served_status(
    decision: str | None, superseded_at: datetime | None, expires_at: datetime | None, now: datetime
) -> str:
    """A recommendation's status: the user's decision, else superseded, expired or open (``now`` naive UTC)."""
    if decision is not None:
        return FEEDBACK_DECISIONS[decision]
    if superseded_at is not None:
        return "superseded"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "open"


__all__ = [
    "FEEDBACK_COLUMNS",
    "FEEDBACK_DECISIONS",
    "FEEDBACK_TABLE",
    "INTERVAL_LEVEL",
    "KINDS",
    "POLICIES",
    "RECOMMENDATIONS_TABLE",
    "RECOMMENDATION_COLUMNS",
    "RECOMMENDATION_STATUS_COLUMNS",
    "STATUSES",
    "TARGET_TYPES",
    "recommendation_id",
    "served_status",
]
