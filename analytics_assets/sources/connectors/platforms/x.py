"""X API v2: an account's posts (``GET /2/users/:id/tweets``) and their ``public_metrics``
(``GET /2/tweets?ids=``, up to 100 ids). Pagination: ``pagination_token`` = the previous ``meta.next_token``.
A deleted post comes back in ``errors`` as a resource-not-found problem, with HTTP 200.
Both ask for the ``author_id`` and ``attachments.media_keys`` expansions: the author (``user.fields=name,username``)
and the media (``media.fields=type``) come once per page in ``includes``, and each tweet gets its own as
``author`` and ``media``, the way Fivetran's and Airbyte's X sources denormalize them."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from analytics_assets.sources.connectors.http import PlatformHttpClient
from analytics_assets.sources.connectors.platforms.base import (
    Discovery,
    MetricsPoll,
    SocialClient,
    build_discovery,
    chunks,
    flatten,
    utc_naive,
)

TWEET_FIELDS = "created_at,public_metrics,author_id,attachments,entities"
EXPANSIONS = {"expansions": "author_id,attachments.media_keys", "user.fields": "name,username", "media.fields": "type"}
NOT_FOUND_TYPE = "https://api.twitter.com/2/problems/resource-not-found"
LOOKUP_BATCH = 100  # documented maximum of ids per lookup
# X counts its rate limits per endpoint, named as in its rate-limit table: a pause after one endpoint's
# window is nearly spent holds that endpoint's calls only (throttling.Pauses)
USER_TWEETS, TWEETS_LOOKUP = "GET /2/users/:id/tweets", "GET /2/tweets"


def _not_found(error: dict) -> bool:
    return error.get("type") == NOT_FOUND_TYPE or error.get("title") == "Not Found Error"


def _expanded(body: dict) -> list[dict]:
    """The page's tweets, each with its author and media from ``includes`` (where the page resolved them)."""
    includes = body.get("includes") if isinstance(body.get("includes"), dict) else {}
    users = {u.get("id"): u for u in includes.get("users") or [] if isinstance(u, dict)}
    media = {m.get("media_key"): m for m in includes.get("media") or [] if isinstance(m, dict)}
    tweets = []
    for tweet in body.get("data") or []:
        if not isinstance(tweet, dict):
            continue
        tweet = dict(tweet)
        if tweet.get("author_id") in users:
            tweet["author"] = users[tweet["author_id"]]
        keys = (tweet.get("attachments") or {}).get("media_keys") if isinstance(tweet.get("attachments"), dict) else None
        resolved = [media[k] for k in keys or [] if k in media]
        if keys and len(resolved) == len(keys):  # a partial resolution would misname the post's media
            tweet["media"] = resolved
        tweets.append(tweet)
    return tweets


class XClient(SocialClient):
    platform = "x"

    def __init__(self, http: PlatformHttpClient, user_ids: list[str], page_size: int = 100):
        super().__init__(http)
        self.user_ids = user_ids
        self.page_size = min(max(page_size, 5), 100)

    def discover(self, since: datetime, until: datetime) -> Discovery:
        records: list[dict] = []
        for user_id in self.user_ids:
            start = utc_naive(since).strftime("%Y-%m-%dT%H:%M:%SZ")  # the documented RFC 3339 form
            params = {"max_results": self.page_size, "start_time": start, "tweet.fields": TWEET_FIELDS, **EXPANSIONS}
            while True:
                body = self.http.request_json("GET", f"/2/users/{user_id}/tweets", params=params, endpoint=USER_TWEETS) or {}
                records += _expanded(body)
                token = (body.get("meta") or {}).get("next_token")
                if not token:  # a short page with a token is a partial page: keep following
                    break
                params = {**params, "pagination_token": token}
        return build_discovery(records, "id", "created_at", "author_id", None)

    def fetch_metrics(self, posts: pd.DataFrame, polled_at: datetime) -> MetricsPoll:
        records: list[dict] = []
        deleted: list[str] = []
        for batch in chunks(list(posts["post_id"]), LOOKUP_BATCH):
            params = {"ids": ",".join(batch), "tweet.fields": TWEET_FIELDS, **EXPANSIONS}
            body = self.http.request_json("GET", "/2/tweets", params=params, endpoint=TWEETS_LOOKUP) or {}
            records += _expanded(body)
            deleted += [str(e.get("resource_id") or e.get("value")) for e in body.get("errors") or [] if _not_found(e)]
        native = flatten(records)
        return MetricsPoll(self._stamp(native, polled_at), sorted(set(deleted)))
