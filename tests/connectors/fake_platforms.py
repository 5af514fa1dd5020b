"""A local fake of the seven platforms' APIs, speaking their documented payloads, with scripted faults.

One threaded stdlib HTTP server on 127.0.0.1 (ephemeral port) serves every platform under its own path
prefix (``/x/2/tweets``, ``/meta/v23.0/act_1000/insights``...), so a client only needs its ``base_url``
and ``token_url`` pointed here. It stops itself after ``max_lifetime_seconds``.

The posts come from the simulator (with their lifetime counters and growth curves), the ad campaigns'
final metrics by day from a seeded generator here; both are rendered per request at the fake clock's
time: post counters grow with age, and ad metrics of a day keep changing for ``settle_days`` days after
it (restatement) before they are final. Each campaign has two or three ads (creatives, with names and
formats, video ones with quartiles) whose days split the campaign's day as reported, exactly (counts and
cents). With ``boost_share``, that share of the LinkedIn organic posts is boosted: a LinkedIn Ads campaign
of a few days whose one creative references the post.

Faults are scripted per route and consumed one per request: 429 with or without ``Retry-After``, 5xx,
slow answers (longer than the client's timeout), dropped connections, malformed JSON, an expired
token. Outages fail every request of a route until cleared; drift rewrites chosen records (missing,
renamed, new fields). Every request is logged with its route, time and whether it was answered.
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import numpy as np
import pandas as pd

from analytics_assets.contracts.raw import POST_EXCERPT_CHARS
from analytics_assets.sources.simulator import SimulatorConfig
from analytics_assets.sources.simulator.core import posts_published_on
from analytics_assets.sources.simulator.ad_detail import meta_purchase_actions, split_exact
from analytics_assets.sources.simulator.post_text import (
    REDDIT_TITLE_CHARS,
    post_text,
    reddit_permalink,
    reddit_submission,
)

METRICS = ("impressions", "likes", "comments", "shares", "clicks", "quotes", "saves")
CLIENTS = {  # platform -> (client id, client secret) the token endpoints accept
    "linkedin": ("li-client", "li-secret-7f3a9c"),
    "linkedin_ads": ("li-client", "li-secret-7f3a9c"),
    "x": ("x-client", "x-secret-52be01"),
    "reddit": ("rd-client", "rd-secret-a81f44"),
    "tiktok": ("tt-client", "tt-secret-3c9d20"),
    "google_ads": ("g-client", "g-secret-99e2b1"),
    "meta_ads": ("meta-app", "meta-secret-0d4e7a"),
}
EPOCH = datetime(1970, 1, 1)


class FakeClock:
    """Naive-UTC time that only moves when told to (or when a client sleeps on it)."""

    def __init__(self, start: datetime):
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._now += timedelta(**delta)

    # the connectors' Clock interface, for client-level tests
    def time(self) -> float:
        return (self.now() - EPOCH).total_seconds()

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if seconds > 0:
            self.advance(seconds=seconds)


@dataclass
class Fault:
    kind: str  # status | slow | drop | malformed | expire
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    body: Any = None  # the error body, when not the platform's generic one


def status(code: int, retry_after: str | None = None) -> Fault:
    return Fault("status", code, {"Retry-After": retry_after} if retry_after is not None else {})


def throttled(platform: str, wait_seconds: float, now: float = 0.0) -> Fault:
    """A throttling answer as the platform sends it, announcing ``wait_seconds`` until access returns in its
    own headers (``now``: fake-clock epoch seconds, for X's absolute reset time)."""
    code, body, headers = _throttle_answer(platform, wait_seconds, now)
    return Fault("status", code, headers, body=body)


@dataclass
class Budget:
    """A request budget the fake enforces and reports in the platform's usage headers. Meta: a rolling
    ``window_seconds`` (usage = share of ``calls`` spent in it) that, once spent, blocks for ``regain_seconds``
    and then starts afresh; X (per endpoint) and Reddit (per client): fixed windows of ``window_seconds``."""

    calls: int
    window_seconds: float
    regain_seconds: float = 0.0


def slow(seconds: float) -> Fault:
    return Fault("slow", seconds=seconds)


DROP, MALFORMED, EXPIRE = Fault("drop"), Fault("malformed"), Fault("expire")


@dataclass
class LoggedRequest:
    at: float  # fake-clock epoch seconds
    wall: float
    platform: str
    route: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    outcome: str  # "ok", "fault:<kind>", "401", "outage", "404"


# --------------------------------------------------------------------------------------------- data


def _settled(k: int, settle_days: int) -> float:
    """Share of a day's final numbers reported k days after it."""
    if k >= settle_days:
        return 1.0
    return 0.6 + 0.4 * k / settle_days


_AD_ACCOUNTS = {  # platform -> [(account id as the platform writes it, currency)]
    "google_ads": [("1000", "USD"), ("1001", "EUR")],
    "meta_ads": [("1000", "USD"), ("1001", "GBP")],
    "linkedin_ads": [("5001000", "USD"), ("5001001", "EUR"), ("5001002", "CAD")],
}
_CAMPAIGN_BASE = {"google_ads": 6_100_000_000, "meta_ads": 23_850_000_000_000_000, "linkedin_ads": 512_000_000}


# each platform's ad formats, in turn across a campaign's ads (LinkedIn: the kind of content, a text ad or
# a post made for the ad, whose ad type its adContext gives)
_AD_FORMATS = {
    "google_ads": ("RESPONSIVE_SEARCH_AD", "VIDEO_RESPONSIVE_AD", "RESPONSIVE_DISPLAY_AD"),
    "meta_ads": ("PHOTO", "VIDEO", "SHARE"),
    "linkedin_ads": ("SINGLE_IMAGE", "VIDEO", "TEXT_AD", "CAROUSEL"),
}
_VIDEO = {"VIDEO_RESPONSIVE_AD", "VIDEO"}
_DSC_TYPE = {"SINGLE_IMAGE": "STANDARD", "VIDEO": "VIDEO", "CAROUSEL": "CAROUSEL"}
_BOOST_CAMPAIGN_BASE, _BOOST_ACCOUNT, _BOOST_DAYS = 512_500_000, ("5001000", "USD"), 3
DELIVERY = ("impressions", "clicks", "conversions", "spend", "conversion_value")


def _ad_truth(seed: int, days: list[date], campaigns_per_platform: int) -> pd.DataFrame:
    """Final campaign-day metrics, canonical units (spend in the account currency), seeded per day."""
    rows = []
    for p_idx, (platform, accounts) in enumerate(_AD_ACCOUNTS.items()):
        for i in range(campaigns_per_platform):
            account, currency = accounts[i % len(accounts)]
            campaign = str(_CAMPAIGN_BASE[platform] + i)
            for d in days:
                rng = np.random.default_rng([seed, p_idx, i, d.toordinal()])
                impressions = int(rng.integers(2_000, 40_000))
                clicks = int(rng.binomial(impressions, rng.uniform(0.005, 0.03)))
                conversions = float(rng.binomial(clicks, rng.uniform(0.0, 0.08)))
                rows.append(
                    {
                        "platform": platform,
                        "account_id": account,
                        "campaign_id": campaign,
                        "campaign_name": f"{platform.split('_')[0].title()} | Campaign {i + 1}",
                        "metric_date": d,
                        "currency": currency,
                        "impressions": impressions,
                        "clicks": clicks,
                        "spend": round(float(rng.uniform(40, 900)), 2),
                        "conversions": conversions,
                        "conversion_value": round(conversions * float(rng.uniform(30, 200)), 2),
                        "reach": int(impressions / rng.uniform(1.2, 2.5)) if platform == "meta_ads" else np.nan,
                    }
                )
    return pd.DataFrame(rows)


class FakeDataset:
    """What the platforms know: the simulator's posts with their lifetime counters and growth curves, and
    ad campaigns' final metrics by day."""

    def __init__(
        self, config: SimulatorConfig, post_days: list[date], ad_days: list[date], settle_days: int = 3, boost_share: float = 0.0
    ):
        self.config = config
        self.settle_days = settle_days
        posts = pd.concat([posts_published_on(config, d) for d in post_days], ignore_index=True)
        self.posts = posts.assign(published_at=pd.to_datetime(posts["published_at"]))
        self.posts_by_key = {(p, i): r for p, i, r in zip(self.posts["platform"], self.posts["post_id"], self.posts.to_dict("records"))}
        self.boosts = self._boost_flights(boost_share)
        self.ads = pd.concat(
            [_ad_truth(config.seed, ad_days, config.campaigns_per_platform), self._boost_days(ad_days)], ignore_index=True
        )
        self.creatives = self._creative_catalog()
        self.deleted: set[tuple[str, str]] = set()
        self.drift: dict[tuple[str, str], dict[str, Any]] = {}  # (platform, record key) -> ops

    # ---- accounts, as each platform names them
    @staticmethod
    def account(platform: str, seq: int) -> str:
        return {
            "linkedin": f"urn:li:organization:{80000 + seq}",
            "x": f"14{1000 + seq}",
            "reddit": f"cycle_brand_{seq}",
            "tiktok": f"cycle_brand_{seq}",
        }[platform]

    def accounts(self, platform: str) -> list[str]:
        if platform in ("google_ads", "meta_ads", "linkedin_ads"):
            return sorted(self.ads.loc[self.ads["platform"] == platform, "account_id"].unique())
        return [self.account(platform, s) for s in range(5)]

    # ---- posts
    def visible_posts(self, platform: str, now: datetime) -> pd.DataFrame:
        p = self.posts[(self.posts["platform"] == platform) & (self.posts["published_at"] <= now)]
        p = p[[(platform, i) not in self.deleted for i in p["post_id"]]]
        return p.sort_values("published_at", ascending=False)

    def post(self, platform: str, post_id: str) -> dict | None:
        if (platform, post_id) in self.deleted:
            return None
        return self.posts_by_key.get((platform, post_id))

    def counters(self, post: dict, at: datetime) -> dict[str, int | None]:
        age_h = max((at - post["published_at"]).total_seconds() / 3600, 0.0)
        frac = 1.0 - math.pow(0.5, age_h / post["half_life_hours"])
        out = {}
        for m in METRICS:
            total = post[f"{m}_total"]
            out[m] = None if total is None or pd.isna(total) else int(math.floor(int(total) * frac))
        return out

    def expected_snapshot(self, platform: str, post_id: str, at: datetime) -> dict[str, Any]:
        """The canonical row a poll at ``at`` must store."""
        post = self.posts_by_key[(platform, post_id)]
        return {"published_at": post["published_at"].to_pydatetime(), **self.counters(post, at)}

    # ---- ads
    def ad_rows(self, platform: str, start: date, end: date, now: datetime, account: str | None = None) -> pd.DataFrame:
        """Campaign-days as the platform reports them at ``now``: recent days not yet final."""
        a = self.ads[(self.ads["platform"] == platform) & (self.ads["metric_date"] >= start) & (self.ads["metric_date"] <= end)]
        a = a[a["metric_date"] <= now.date()]
        if account is not None:
            a = a[a["account_id"] == account]
        a = a.copy()
        f = np.array([_settled((now.date() - d).days, self.settle_days) for d in a["metric_date"]])
        for col in ("impressions", "clicks", "conversions", "reach", "engagements"):
            if col not in a:  # engagements: only boosts' campaigns have them
                continue
            vals = pd.to_numeric(a[col], errors="coerce").to_numpy(dtype=float)
            a[col] = np.where(np.isnan(vals), np.nan, np.floor(vals * f))
        for col in ("spend", "conversion_value"):
            a[col] = np.round(a[col].to_numpy(dtype=float) * f, 2)
        return a.sort_values(["metric_date", "campaign_id"]).reset_index(drop=True)

    def final_ads(self, platform: str, start: date, end: date) -> pd.DataFrame:
        far_future = datetime.combine(end + timedelta(days=self.settle_days + 1), datetime.min.time())
        return self.ad_rows(platform, start, end, far_future)

    # ---- boosts: LinkedIn organic posts promoted as LinkedIn Ads campaigns
    def _boost_flights(self, share: float) -> pd.DataFrame:
        li = self.posts[self.posts["platform"] == "linkedin"].sort_values("post_id").reset_index(drop=True)
        rng = np.random.default_rng([self.config.seed, 77])
        chosen = li[rng.random(len(li)) < share].reset_index(drop=True)
        start = pd.to_datetime(chosen["published_at"]).dt.normalize() + pd.Timedelta(days=1)
        campaign = [str(_BOOST_CAMPAIGN_BASE + k) for k in range(len(chosen))]
        return pd.DataFrame(
            {
                "campaign_id": campaign,
                "creative_id": [f"{c}01" for c in campaign],
                "post_id": chosen["post_id"],
                "account_seq": chosen["account_seq"],
                "start_date": start.dt.date,
                "end_date": (start + pd.Timedelta(days=_BOOST_DAYS - 1)).dt.date,
                "daily_budget": [float(rng.choice([20.0, 35.0, 50.0])) for _ in range(len(chosen))],
            }
        )

    def _boost_days(self, ad_days: list[date]) -> pd.DataFrame:
        rows = []
        account, currency = _BOOST_ACCOUNT
        for b in self.boosts.to_dict("records"):
            for d in ad_days:
                if not b["start_date"] <= d <= b["end_date"]:
                    continue
                rng = np.random.default_rng([self.config.seed, 78, int(b["campaign_id"]), d.toordinal()])
                impressions = int(rng.integers(1_500, 9_000))
                clicks = int(rng.binomial(impressions, rng.uniform(0.005, 0.02)))
                rows.append(
                    {
                        "platform": "linkedin_ads", "account_id": account, "campaign_id": b["campaign_id"],
                        "campaign_name": f"Boost | {b['post_id']}", "metric_date": d, "currency": currency,
                        "impressions": impressions, "clicks": clicks,
                        "spend": round(b["daily_budget"] * float(rng.uniform(0.6, 1.0)), 2),
                        "conversions": 0.0, "conversion_value": 0.0, "reach": np.nan,
                        "engagements": clicks + int(rng.integers(5, 120)),
                    }
                )
        return pd.DataFrame(rows)

    def boost_of(self, campaign_id: str) -> dict | None:
        b = self.boosts[self.boosts["campaign_id"] == campaign_id]
        return b.iloc[0].to_dict() if len(b) else None

    def final_boosts(self, start: date, end: date) -> pd.DataFrame:
        """The raw_boosts rows of ``start..end`` once every day is final: LinkedIn's and Meta's."""
        a = self.final_ads("linkedin_ads", start, end)
        if len(self.boosts):
            a = a[a["campaign_id"].isin(set(self.boosts["campaign_id"]))].merge(self.boosts, on="campaign_id")
        else:  # no LinkedIn post boosted (the flights' frame is empty, untyped)
            a = a.iloc[:0]
        linkedin = pd.DataFrame() if a.empty else pd.DataFrame(
            {
                "boost_id": "li_" + a["creative_id"], "organic_platform": "linkedin", "post_id": a["post_id"],
                "ad_platform": "linkedin_ads", "campaign_id": a["campaign_id"], "boost_date": a["metric_date"],
                "start_date": a["start_date"], "end_date": a["end_date"], "currency": a["currency"],
                "daily_budget": a["daily_budget"], "spend": a["spend"], "paid_impressions": a["impressions"].astype(int),
                "paid_engagements": a["engagements"].astype(int), "paid_clicks": a["clicks"].astype(int),
            }
        )
        m = self.final_creatives("meta_ads", start, end)
        m = m[m["creative_format"] == "SHARE"].reset_index(drop=True)
        flights = pd.DataFrame([self.meta_boost(ad) for ad in m["ad_id"]], index=m.index)
        meta = pd.DataFrame(
            {
                "boost_id": "meta_" + m["ad_id"], "organic_platform": flights["organic_platform"],
                "post_id": flights["post_id"], "ad_platform": "meta_ads", "campaign_id": m["campaign_id"],
                "boost_date": m["metric_date"], "start_date": flights["start_date"], "end_date": flights["end_date"],
                "currency": m["currency"], "daily_budget": flights["daily_budget_cents"] / 100, "spend": m["spend"],
                "paid_impressions": m["impressions"].astype(int),
                "paid_engagements": [meta_post_engagements(r) for r in m.to_dict("records")],
                "paid_clicks": m["clicks"].astype(int),
            }
        )
        return pd.concat([linkedin, meta], ignore_index=True)

    def meta_boost(self, ad_id: str) -> dict[str, Any]:
        """A Meta SHARE ad promotes a post its page had published: a Facebook page post, or (every other ad) an
        Instagram media. Its ad set runs over its campaign's days, with a daily budget above any day's spend."""
        ad = self.creatives[(self.creatives["platform"] == "meta_ads") & (self.creatives["ad_id"] == ad_id)].iloc[0]
        days = self.ads.loc[self.ads["campaign_id"] == ad["campaign_id"], "metric_date"]
        instagram = int(ad_id) % 2 == 1
        return {
            "organic_platform": "instagram" if instagram else "facebook",
            "post_id": f"1789{ad_id}" if instagram else f"1040{ad['account_id']}_{ad_id}",
            "start_date": days.min(), "end_date": days.max(),
            "daily_budget_cents": 100_000 + int(ad["campaign_id"]) % 7 * 5_000,
        }

    # ---- ads (creatives): two or three per campaign, a boost's one creative being its post
    def _creative_catalog(self) -> pd.DataFrame:
        rows = []
        campaigns = self.ads.drop_duplicates("campaign_id")[["platform", "account_id", "campaign_id", "campaign_name"]]
        for c in campaigns.to_dict("records"):
            boost = self.boost_of(c["campaign_id"]) if c["platform"] == "linkedin_ads" else None
            if boost is not None:
                rows.append({**c, "ad_id": boost["creative_id"], "ad_name": f"{c['campaign_name']} | SPONSORED_UPDATE 1",
                             "creative_format": "SPONSORED_UPDATE", "weight": 1.0, "post_id": boost["post_id"]})
                continue
            rng = np.random.default_rng([self.config.seed, 79, int(c["campaign_id"]) % 2**32])
            n = int(rng.integers(2, 4))
            weights = rng.dirichlet(np.full(n, 2.0))
            formats = _AD_FORMATS[c["platform"]]
            offset = int(c["campaign_id"]) % len(formats)
            for j in range(n):
                fmt = formats[(offset + j) % len(formats)]
                rows.append({**c, "ad_id": f"{c['campaign_id']}{j + 1:02d}", "ad_name": f"{c['campaign_name']} | {fmt} {j + 1}",
                             "creative_format": fmt, "weight": float(weights[j]), "post_id": None})
        return pd.DataFrame(rows)

    def creative_rows(self, platform: str, start: date, end: date, now: datetime, account: str | None = None) -> pd.DataFrame:
        """Ad-days as the platform reports them at ``now``: each campaign-day of ``ad_rows`` split exactly
        over its ads (impressions by daily weights, clicks by impressions, conversions by clicks, cents of
        spend by impressions and of value by conversions), video ads with quartile views."""
        frames = []
        for r in self.ad_rows(platform, start, end, now, account).to_dict("records"):
            ads = self.creatives[self.creatives["campaign_id"] == r["campaign_id"]].reset_index(drop=True)
            rng = np.random.default_rng([self.config.seed, 80, int(r["campaign_id"]) % 2**32, r["metric_date"].toordinal()])
            w = ads["weight"].to_numpy() * rng.lognormal(0, 0.25, len(ads))
            imp = split_exact(_int(r["impressions"]), w, w)
            clicks = split_exact(_int(r["clicks"]), imp.astype(float), w)
            conv = split_exact(_int(r["conversions"]), clicks.astype(float), w)
            spend = split_exact(int(round(r["spend"] * 100)), imp.astype(float), w) / 100
            value = split_exact(int(round(r["conversion_value"] * 100)), conv.astype(float), clicks.astype(float) + w) / 100
            engagements = split_exact(_int(r.get("engagements")), clicks.astype(float), w) if not pd.isna(r.get("engagements")) else clicks
            video = ads["creative_format"].isin(_VIDEO).to_numpy()
            p25 = np.floor(imp * 0.5).astype(np.int64)
            p50 = np.floor(p25 * 0.75).astype(np.int64)
            p75 = np.floor(p50 * 0.8).astype(np.int64)
            p100 = np.floor(p75 * 0.7).astype(np.int64)
            frame = ads[["platform", "account_id", "campaign_id", "campaign_name", "ad_id", "ad_name", "creative_format", "post_id"]].assign(
                metric_date=r["metric_date"], currency=r["currency"], impressions=imp, clicks=clicks,
                conversions=conv.astype(float), spend=spend, conversion_value=value, engagements=engagements,
                reach=np.floor(imp / 1.3).astype(np.int64) if platform == "meta_ads" else np.nan,
            )
            for q, views in (("p25", p25), ("p50", p50), ("p75", p75), ("p100", p100)):
                frame[f"video_{q}_views"] = pd.array([int(v) if vid else pd.NA for v, vid in zip(views, video)], dtype="Int64")
            frames.append(frame)
        cols = ["platform", "ad_id", "metric_date"]
        return pd.concat(frames, ignore_index=True).sort_values(cols).reset_index(drop=True) if frames else pd.DataFrame()

    def final_creatives(self, platform: str, start: date, end: date) -> pd.DataFrame:
        far_future = datetime.combine(end + timedelta(days=self.settle_days + 1), datetime.min.time())
        return self.creative_rows(platform, start, end, far_future)

    def identity(self, platform: str, post_id: str) -> dict[str, str | None]:
        """The permalink, text excerpt and author name a post's payloads give (written from what the routes below
        serve, not from Cycle's parsers): a LinkedIn organization's ``localizedName`` (``/rest/organizations``),
        an X author's ``username`` (the ``author_id`` expansion), Reddit's and TikTok's handles."""
        post = self.posts_by_key[(platform, post_id)]
        handle = f"cycle_brand_{int(post['account_seq'])}"
        if platform == "linkedin":
            url, text, author = f"https://www.linkedin.com/feed/update/{post_id}/", _text("linkedin", post), org_name(int(post["account_seq"]))
        elif platform == "x":
            url, text, author = f"https://x.com/{handle}/status/{post_id}", _text("x", post), handle
        elif platform == "reddit":
            title, body = _reddit_text(post)  # as _thing serves them
            url, author, text = "https://www.reddit.com" + reddit_permalink(post_id, title), handle, _joined(title, body)
        else:
            url, text, author = f"https://www.tiktok.com/@{handle}/video/{post_id}", _text("tiktok", post), handle
        words = " ".join(text.split())
        excerpt = words if len(words) <= POST_EXCERPT_CHARS else words[: POST_EXCERPT_CHARS - 1].rstrip() + "\u2026"
        return {"post_url": url, "post_excerpt": excerpt or None, "author_name": author}

    def content(self, platform: str, post_id: str) -> dict[str, Any]:
        """What the payloads say of a post's content: the text served, its length and the post's media (the
        simulator's truth; the routes below describe it in each platform's own fields)."""
        post = self.posts_by_key[(platform, post_id)]
        text = _joined(*_reddit_text(post)) if platform == "reddit" else _text(platform, post)
        return {"text": text, "text_length": len(text), "media_type": post["media_type"],
                "hook_type": post["hook_type"], "topic": post["topic"]}

    def dark_post(self, ad_id: str) -> str:
        """The post LinkedIn made for a sponsored-content ad (direct sponsored content, never in a feed)."""
        return f"urn:li:share:69{int(ad_id) % 10**16:017d}"

    def apply_drift(self, platform: str, key: str, record: dict) -> dict:
        ops = self.drift.get((platform, key))
        if not ops:
            return record
        record = json.loads(json.dumps(record))
        for path in ops.get("remove", []):
            _pop(record, path)
        for old, new in ops.get("rename", {}).items():
            value = _pop(record, old)
            _put(record, new, value)
        for path, value in ops.get("add", {}).items():
            _put(record, path, value)
        return record


def _pop(record: dict, path: str) -> Any:
    *parents, leaf = path.split(".")
    node = record
    for p in parents:
        node = node.get(p, {})
    return node.pop(leaf, None)


def _put(record: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = record
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value


def _text(platform: str, post: dict, max_length: int | None = None) -> str:
    """The post's text, the same the simulator's native payloads carry."""
    n = int(post["text_length"]) if max_length is None else min(int(post["text_length"]), max_length)
    return post_text(platform, post["post_id"], post["hook_type"], post["topic"], n)


def meta_post_engagements(row: dict) -> int:
    """A boosted Meta post's ``post_engagement`` of one ad-day: its clicks and the reactions on the post."""
    return _int(row["engagements"]) + _int(row["impressions"]) // 250


def _reddit_text(post: dict) -> tuple[str, str]:
    """A submission's ``title`` and ``selftext`` (post_text.reddit_submission, as the simulator's payloads): a
    self post's title is its opening sentence and the rest its body; any other post has only a title (the text's
    first 300 characters) and an empty body, as Reddit serves a link post."""
    is_self = post["media_type"] == "text"
    return reddit_submission(_text("reddit", post, None if is_self else REDDIT_TITLE_CHARS), is_self)


def _joined(title: str, body: str) -> str:
    """The text a parser reads of a submission: the title, then the body."""
    return f"{title}\n\n{body}" if body else title


def org_name(seq: int) -> str:
    """A LinkedIn organization's ``localizedName``."""
    return f"Cycle Brand {seq} Inc."


def _media_key(post: dict, k: int) -> str:
    return f"{3 if post['media_type'] != 'video' else 7}_{post['post_id']}{k}"


def _x_media(post: dict) -> tuple[dict, list[dict]]:
    """The tweet's ``attachments``/``entities`` fields and its ``includes.media`` objects, by the post's media."""
    kind = post["media_type"]
    if kind == "link":
        url = f"https://t.co/{post['post_id'][-8:]}"
        return {"entities": {"urls": [{"start": 0, "end": 23, "url": url, "expanded_url": "https://cycle.example/read",
                                       "display_url": "cycle.example/read"}]}}, []
    count = {"image": 1, "video": 1, "carousel": 3}.get(kind, 0)
    if not count:
        return {}, []
    media = [{"media_key": _media_key(post, k), "type": "video" if kind == "video" else "photo"} for k in range(count)]
    return {"attachments": {"media_keys": [m["media_key"] for m in media]}}, media


def _linkedin_content(post: dict) -> dict:
    """The Posts API ``content`` of the post's media (none for a text-only post)."""
    digits = post["post_id"].rsplit(":", 1)[-1]
    return {
        "image": {"content": {"media": {"id": f"urn:li:image:C4E{digits}", "altText": "chart"}}},
        "video": {"content": {"media": {"id": f"urn:li:video:C5D{digits}", "title": "clip"}}},
        "carousel": {"content": {"multiImage": {"images": [{"id": f"urn:li:image:C4E{digits}{k}"} for k in range(3)]}}},
        "link": {"content": {"article": {"source": "https://cycle.example/read", "title": "Read more"}}},
    }.get(post["media_type"], {})


def _reddit_media(post: dict) -> dict:
    """A submission's media fields: a self post, an image, a hosted video, a link (gallery for a carousel)."""
    kind = post["media_type"]
    return {
        "text": {"is_self": True, "is_video": False, "post_hint": "self"},
        "image": {"is_self": False, "is_video": False, "post_hint": "image", "url": "https://i.redd.it/cycle.png"},
        "video": {"is_self": False, "is_video": True, "post_hint": "hosted:video", "url": "https://v.redd.it/cycle"},
        "carousel": {"is_self": False, "is_video": False, "is_gallery": True, "url": "https://www.reddit.com/gallery/cycle"},
        "link": {"is_self": False, "is_video": False, "post_hint": "link", "url": "https://cycle.example/read"},
    }.get(kind, {"is_self": False, "is_video": False})


def _iso_z(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _ms(ts: datetime) -> int:
    return int((ts - EPOCH).total_seconds() * 1000)


def _int(v: Any) -> int:
    return int(v) if v is not None and not (isinstance(v, float) and math.isnan(v)) else 0


# ------------------------------------------------------------------------------------------- server


class Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


class FakePlatforms:
    """The server. ``with FakePlatforms(dataset, clock) as fake:`` then ``fake.url("x")``."""

    def __init__(
        self,
        dataset: FakeDataset,
        clock: FakeClock,
        page_size: int = 3,
        max_lifetime_seconds: float = 120.0,
    ):
        self.data = dataset
        self.clock = clock
        self.page_size = page_size  # the most records a page holds, whatever the client asks: partial pages
        self.max_lifetime = max_lifetime_seconds
        self.log: list[LoggedRequest] = []
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.outages: dict[str, Callable[[dict[str, str], Any], bool]] = {}
        self.issued: list[str] = []  # every token handed out, to look for leaks
        self.budgets: dict[str, Budget] = {}  # platform -> the budget it enforces (none: no usage headers)
        self._spent: dict[str, deque[float]] = defaultdict(deque)  # Meta: spend times in the rolling window
        self._window_calls: dict[tuple[str, float], int] = defaultdict(int)  # X, Reddit: (key, window start) -> calls
        self._blocked_until: dict[str, float] = {}  # Meta: throttled until (fake-clock epoch seconds)
        self._lock = threading.RLock()
        self.tokens: dict[str, str] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.invalid: set[str] = set()
        for platform in CLIENTS:
            self.tokens[platform] = self._new_secret(f"{platform}-access")
            self.refresh_tokens[platform] = self._new_secret(f"{platform}-refresh")
        self._server: ThreadingHTTPServer | None = None

    def _new_secret(self, prefix: str) -> str:
        value = f"{prefix}-{secrets.token_hex(12)}"
        self.issued.append(value)
        return value

    # ---- lifecycle
    def __enter__(self) -> FakePlatforms:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._timer = threading.Timer(self.max_lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()

    def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.shutdown()
            server.server_close()
            self._timer.cancel()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.port}/{prefix}"

    def resource_kwargs(self, platform: str) -> dict[str, Any]:
        """base_url, token_url and credentials for the resource of ``platform``."""
        prefix = {"google_ads": "google_ads", "meta_ads": "meta", "linkedin_ads": "linkedin_ads"}.get(platform, platform)
        token_path = {
            "linkedin": "oauth/v2/accessToken",
            "linkedin_ads": "oauth/v2/accessToken",
            "x": "2/oauth2/token",
            "reddit": "api/v1/access_token",
            "tiktok": "v2/oauth/token/",
            "google_ads": "token",
            "meta_ads": "v23.0/oauth/access_token",
        }[platform]
        client_id, client_secret = CLIENTS[platform]
        kwargs: dict[str, Any] = {
            "base_url": self.url(prefix),
            "token_url": f"{self.url(prefix)}/{token_path}",
            "access_token": self.tokens[platform],
            "client_id": client_id,
            "client_secret": client_secret,
        }
        if platform != "meta_ads":
            kwargs["refresh_token"] = self.refresh_tokens[platform]
        accounts = self.data.accounts(platform)
        kwargs.update(
            {
                "linkedin": {"organization_urns": accounts},
                "x": {"user_ids": accounts},
                "reddit": {"usernames": accounts},
                "tiktok": {"usernames": accounts},
                "google_ads": {"customer_ids": accounts, "developer_token": "dev-token-5c1e93"},
                "meta_ads": {"ad_account_ids": accounts},
                "linkedin_ads": {"ad_account_ids": accounts},
            }[platform]
        )
        return kwargs

    # ---- scripting
    def script(self, route: str, *faults: Fault) -> None:
        with self._lock:
            self.faults[route].extend(faults)

    def outage(self, route: str, when: Callable[[dict[str, str], Any], bool] | None = None) -> None:
        """Every request of ``route`` (matching ``when(query, body)``) answers 503 until cleared."""
        with self._lock:
            self.outages[route] = when or (lambda q, b: True)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.outages.clear()

    def expire_token(self, platform: str) -> None:
        with self._lock:
            self.invalid.add(self.tokens[platform])

    def requests(self, route: str | None = None, platform: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.log if (route is None or r.route == route) and (platform is None or r.platform == platform)]

    # ---- request handling
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        segments = parts.path.strip("/").split("/")
        prefix, rest = segments[0], "/".join(segments[1:])
        platform = {"meta": "meta_ads"}.get(prefix, prefix)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            ctype = h.headers.get("Content-Type", "")
            body = dict(parse_qsl(raw.decode())) if "form" in ctype else json.loads(raw)
        route = _route(platform, method, rest)
        entry = LoggedRequest(self.clock.time(), time.time(), platform, route, method, parts.path, query, body, "ok")
        with self._lock:
            self.log.append(entry)
            fault = self.faults[route].popleft() if self.faults.get(route) else None
            outage = self.outages.get(route)
        try:
            if fault is not None:
                entry.outcome = f"fault:{fault.kind}"
                if fault.kind == "drop":
                    h.close_connection = True
                    return
                if fault.kind == "slow":
                    time.sleep(fault.seconds)
                    entry.outcome = "fault:slow"
                elif fault.kind == "malformed":
                    self._send(h, 200, b'{"data": [{"id": "1", "public_metrics": {"like_count": 4', {})
                    return
                elif fault.kind == "expire":
                    self.expire_token(platform)
                elif fault.kind == "status":
                    body = fault.body if fault.body is not None else _error_body(platform, fault.status)
                    raise Reply(fault.status, body, fault.headers)
            if outage is not None and outage(query, body):
                entry.outcome = "outage"
                raise Reply(503, _error_body(platform, 503))
            usage_headers: dict[str, str] = {}
            if route.endswith(".token"):
                payload = self._token(platform, method, query, body, h.headers.get("Authorization"))
            else:
                self._authorize(platform, h.headers.get("Authorization"))
                usage_headers = self._spend(platform, route)
                payload = self._serve(platform, route, rest, query, body)
            self._send(h, 200, json.dumps(payload).encode(), usage_headers)
        except Reply as reply:
            if entry.outcome == "ok":
                entry.outcome = str(reply.status)
            self._send(h, reply.status, json.dumps(reply.body).encode(), reply.headers)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: bytes, headers: dict[str, str]) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to answer

    def _authorize(self, platform: str, header: str | None) -> None:
        token = header[7:] if header and header.startswith("Bearer ") else None
        with self._lock:
            valid = token is not None and token == self.tokens[platform] and token not in self.invalid
        if not valid:
            if platform == "meta_ads":  # Graph API: OAuthException 190, HTTP 400
                raise Reply(400, {"error": {"message": "Error validating access token: Session has expired", "type": "OAuthException", "code": 190, "error_subcode": 463}})
            raise Reply(401, _error_body(platform, 401))

    def _token(self, platform: str, method: str, query: dict, body: Any, auth: str | None) -> dict:
        client_id, client_secret = CLIENTS[platform]
        form = body or {}
        with self._lock:
            if platform == "meta_ads":
                ok = (
                    query.get("grant_type") == "fb_exchange_token"
                    and query.get("client_id") == client_id
                    and query.get("client_secret") == client_secret
                    and query.get("fb_exchange_token") in self.issued
                )
                if not ok:
                    raise Reply(400, {"error": {"message": "Invalid OAuth access token", "type": "OAuthException", "code": 190}})
                self.tokens[platform] = self._new_secret(f"{platform}-access")
                return {"access_token": self.tokens[platform], "token_type": "bearer", "expires_in": 5183944}
            if platform in ("reddit", "x"):
                expected = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
                creds_ok = auth == expected
            else:
                id_field = "client_key" if platform == "tiktok" else "client_id"
                creds_ok = form.get(id_field) == client_id and form.get("client_secret") == client_secret
            grant_ok = form.get("grant_type") == "refresh_token" and form.get("refresh_token") == self.refresh_tokens[platform]
            if not (creds_ok and grant_ok):
                raise Reply(400, {"error": "invalid_grant", "error_description": "refresh token or client credentials refused"})
            self.tokens[platform] = self._new_secret(f"{platform}-access")
            answer = {"access_token": self.tokens[platform], "token_type": "Bearer", "expires_in": 3600}
            if platform in ("linkedin", "linkedin_ads", "x", "tiktok"):  # these rotate the refresh token
                self.refresh_tokens[platform] = self._new_secret(f"{platform}-refresh")
                answer["refresh_token"] = self.refresh_tokens[platform]
            return answer

    # ---- request budgets and usage headers
    def _spend(self, platform: str, route: str) -> dict[str, str]:
        """Spend one call of the platform's budget: the usage headers of the answer, or a throttling
        ``Reply`` (with its headers) when the budget is spent."""
        budget = self.budgets.get(platform)
        if budget is None:
            return {}
        now = self.clock.time()
        with self._lock:
            if platform == "meta_ads":
                spent = self._spent[platform]
                while spent and spent[0] <= now - budget.window_seconds:
                    spent.popleft()
                blocked = self._blocked_until.get(platform, 0.0)
                if blocked <= now and len(spent) >= budget.calls:
                    blocked = self._blocked_until[platform] = now + budget.regain_seconds
                    spent.clear()  # access regained: the budget starts afresh
                if blocked > now:
                    code, body, headers = _throttle_answer(platform, blocked - now, now)
                    raise Reply(code, body, headers)
                spent.append(now)
                return _meta_usage_headers(100.0 * len(spent) / budget.calls, 0.0)
            key = route if platform == "x" else platform  # X limits each endpoint, Reddit the whole client
            start = math.floor(now / budget.window_seconds) * budget.window_seconds
            reset_at = start + budget.window_seconds
            used = self._window_calls[(key, start)]
            if used >= budget.calls:
                code, body, headers = _throttle_answer(platform, reset_at - now, now, limit=budget.calls)
                raise Reply(code, body, headers)
            self._window_calls[(key, start)] = used + 1
            return _window_headers(platform, budget.calls, used + 1, reset_at, now)

    # ---- the platforms
    def _serve(self, platform: str, route: str, rest: str, query: dict, body: Any) -> Any:
        now = self.clock.now()
        handler = getattr(self, "_" + route.replace(".", "_"))
        return handler(rest, query, body, now)

    def _page(self, items: list, offset: int, asked: int) -> tuple[list, int | None]:
        size = max(1, min(asked, self.page_size))
        page = items[offset : offset + size]
        nxt = offset + len(page)
        return page, (nxt if nxt < len(items) else None)

    # X
    def _tweet(self, post: dict, now: datetime, tweet_fields: str = "") -> dict:
        c = self.data.counters(post, now)
        rec = {
            "id": post["post_id"],
            "text": _text("x", post),
            "edit_history_tweet_ids": [post["post_id"]],
            "author_id": self.data.account("x", int(post["account_seq"])),
            "created_at": _iso_z(post["published_at"]),
            "public_metrics": {
                "retweet_count": c["shares"],
                "reply_count": c["comments"],
                "like_count": c["likes"],
                "quote_count": c["quotes"],
                "bookmark_count": c["saves"],
                "impression_count": c["impressions"],
            },
        }
        fields, _ = _x_media(post)
        rec.update({k: v for k, v in fields.items() if k in tweet_fields.split(",")})  # only the fields asked for
        return self.data.apply_drift("x", post["post_id"], rec)

    @staticmethod
    def _x_includes(q: dict, tweets: list[dict], posts: list[dict]) -> dict:
        """``includes`` of the expansions asked for: the authors (``user.fields``) and the media (``media.fields``)."""
        asked = set(q.get("expansions", "").split(","))
        includes: dict[str, list] = {}
        if "author_id" in asked and tweets:
            users = {}
            for t in tweets:
                seq = int(t["author_id"]) - 141000
                user = {"id": t["author_id"], "name": f"Cycle Brand {seq}", "username": f"cycle_brand_{seq}"}
                users[t["author_id"]] = {k: v for k, v in user.items() if k == "id" or k in q.get("user.fields", "").split(",")}
            includes["users"] = list(users.values())
        if "attachments.media_keys" in asked:
            media = [m for p in posts for m in _x_media(p)[1]]
            if media:
                includes["media"] = [{k: v for k, v in m.items() if k == "media_key" or k in q.get("media.fields", "").split(",")} for m in media]
        return {"includes": includes} if includes else {}

    def _x_user_tweets(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        user = rest.split("/")[2]
        posts = self.data.visible_posts("x", now)
        start = pd.Timestamp(q["start_time"]).tz_convert(None) if "start_time" in q else None
        items = [p for p in posts.to_dict("records") if self.data.account("x", int(p["account_seq"])) == user and (start is None or p["published_at"] >= start)]
        page, nxt = self._page(items, int(q.get("pagination_token", "0") or 0), int(q.get("max_results", 10)))
        meta: dict[str, Any] = {"result_count": len(page)}
        if nxt is not None:
            meta["next_token"] = str(nxt)
        if not page:
            return {"meta": meta}
        tweets = [self._tweet(p, now, q.get("tweet.fields", "")) for p in page]
        return {"data": tweets, **self._x_includes(q, tweets, page), "meta": meta}

    def _x_tweets(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        data, errors, found = [], [], []
        for tid in q.get("ids", "").split(","):
            post = self.data.post("x", tid)
            if post is None:
                errors.append({"value": tid, "detail": f"Could not find tweet with ids: [{tid}].", "title": "Not Found Error",
                               "resource_type": "tweet", "parameter": "ids", "resource_id": tid,
                               "type": "https://api.twitter.com/2/problems/resource-not-found"})
            else:
                data.append(self._tweet(post, now, q.get("tweet.fields", "")))
                found.append(post)
        out: dict[str, Any] = {}
        if data:
            out["data"] = data
            out.update(self._x_includes(q, data, found))
        if errors:
            out["errors"] = errors
        return out

    # LinkedIn organic
    def _linkedin_posts(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        author = q["author"]
        posts = [p for p in self.data.visible_posts("linkedin", now).to_dict("records") if self.data.account("linkedin", int(p["account_seq"])) == author]
        start = int(q.get("start", 0))
        page, _ = self._page(posts, start, int(q.get("count", 10)))
        elements = [
            {"id": p["post_id"], "author": author, "createdAt": _ms(p["published_at"]), "publishedAt": _ms(p["published_at"]),
             "lastModifiedAt": _ms(p["published_at"]), "lifecycleState": "PUBLISHED", "visibility": "PUBLIC", "commentary": _text("linkedin", p),
             **_linkedin_content(p)}
            for p in page
        ]
        return {"elements": elements, "paging": {"start": start, "count": len(page), "total": len(posts), "links": []}}

    def _linkedin_share_statistics(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        org = q["organizationalEntity"]
        urns = _restli_list(q.get("shares", "")) + _restli_list(q.get("ugcPosts", ""))
        elements = []
        for urn in urns:
            post = self.data.post("linkedin", urn)
            if post is None:
                continue
            c = self.data.counters(post, now)
            engaged = sum(c[m] or 0 for m in ("likes", "comments", "shares", "clicks"))
            rec = {
                "organizationalEntity": org,
                "share": urn,
                "totalShareStatistics": {
                    "uniqueImpressionsCount": int(c["impressions"] * 0.72),
                    "shareCount": c["shares"],
                    "engagement": engaged / c["impressions"] if c["impressions"] else 0.0,
                    "clickCount": c["clicks"],
                    "likeCount": c["likes"],
                    "impressionCount": c["impressions"],
                    "commentCount": c["comments"],
                },
            }
            elements.append(self.data.apply_drift("linkedin", urn, rec))
        return {"elements": elements, "paging": {"start": 0, "count": len(elements), "links": []}}

    def _linkedin_organizations(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        org_id = int(unquote(rest.split("/")[2]))
        seq = org_id - 80000
        if not 0 <= seq < 5:
            raise Reply(404, {"status": 404, "serviceErrorCode": 100, "code": "NOT_FOUND", "message": "Not Found"})
        return {"id": org_id, "localizedName": org_name(seq), "vanityName": f"cycle-brand-{seq}",
                "name": {"localized": {"en_US": org_name(seq)}, "preferredLocale": {"country": "US", "language": "en"}}}

    def _linkedin_social_actions(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        urn = unquote(rest.split("/", 2)[2])
        post = self.data.post("linkedin", urn)
        if post is None:
            raise Reply(404, {"status": 404, "serviceErrorCode": 100, "code": "NOT_FOUND", "message": "Not Found"})
        c = self.data.counters(post, now)
        return {"target": urn, "likesSummary": {"totalLikes": c["likes"]}, "commentsSummary": {"aggregatedTotalComments": c["comments"]}}

    # Reddit
    def _thing(self, post: dict, now: datetime) -> dict:
        c = self.data.counters(post, now)
        seq = int(post["account_seq"])
        title, body = _reddit_text(post)
        rec = {
            "name": post["post_id"],
            "id": post["post_id"][3:],
            "title": title,  # one line, at most 300
            "selftext": body,  # a self post's body (markdown); "" for a link or media post
            "permalink": reddit_permalink(post["post_id"], title),
            "subreddit": "cycle",
            "author": f"cycle_brand_{seq}",
            "author_fullname": f"t2_cycle{seq}",
            "created_utc": float((post["published_at"] - EPOCH).total_seconds()),
            "ups": c["likes"],
            "score": c["likes"],
            "upvote_ratio": 0.93,
            "num_comments": c["comments"],
            "num_crossposts": c["shares"],
            "view_count": c["impressions"],
            "removed_by_category": None,
            **_reddit_media(post),
        }
        return {"kind": "t3", "data": self.data.apply_drift("reddit", post["post_id"], rec)}

    @staticmethod
    def _listing(children: list, after: str | None) -> dict:
        return {"kind": "Listing", "data": {"after": after, "before": None, "dist": len(children), "children": children}}

    def _reddit_submitted(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        user = rest.split("/")[1]
        posts = [p for p in self.data.visible_posts("reddit", now).to_dict("records") if f"cycle_brand_{int(p['account_seq'])}" == user]
        ids = [p["post_id"] for p in posts]
        offset = ids.index(q["after"]) + 1 if q.get("after") in ids else 0
        page, nxt = self._page(posts, offset, int(q.get("limit", 25)))
        return self._listing([self._thing(p, now) for p in page], page[-1]["post_id"] if nxt is not None and page else None)

    def _reddit_info(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        posts = [self.data.post("reddit", n) for n in q.get("id", "").split(",")]
        return self._listing([self._thing(p, now) for p in posts if p is not None], None)

    def _reddit_by_id(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        post = self.data.post("reddit", rest.split("/")[1])
        if post is None:
            raise Reply(404, {"message": "Not Found", "error": 404})
        return self._listing([self._thing(post, now)], None)

    # TikTok Research
    def _tiktok_video_query(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        cond = body["query"]["and"][0]
        lo = datetime.strptime(body["start_date"], "%Y%m%d")
        hi = datetime.strptime(body["end_date"], "%Y%m%d") + timedelta(days=1)
        posts = self.data.visible_posts("tiktok", now).to_dict("records")
        posts = [p for p in posts if lo <= p["published_at"] < hi]
        values = set(cond["field_values"])
        if cond["field_name"] == "username":
            posts = [p for p in posts if f"cycle_brand_{int(p['account_seq'])}" in values]
        else:
            posts = [p for p in posts if p["native_id"] in values]
        page, nxt = self._page(posts, int(body.get("cursor") or 0), int(body.get("max_count", 20)))
        videos = []
        for p in page:
            c = self.data.counters(p, now)
            rec = {
                "id": int(p["native_id"]),
                "create_time": int((p["published_at"] - EPOCH).total_seconds()),
                "username": f"cycle_brand_{int(p['account_seq'])}",
                "view_count": c["impressions"],
                "like_count": c["likes"],
                "comment_count": c["comments"],
                "share_count": c["shares"],
                "favorites_count": c["saves"],
                # only the fields asked for, as the Research API answers
                **({"video_description": _text("tiktok", p)} if "video_description" in q.get("fields", "") else {}),
            }
            videos.append(self.data.apply_drift("tiktok", p["post_id"], rec))
        return {
            "data": {"videos": videos, "cursor": nxt if nxt is not None else len(posts), "has_more": nxt is not None,
                     "search_id": body.get("search_id") or "7201388525814961198"},
            "error": {"code": "ok", "message": "", "log_id": "202402121733"},
        }

    # Google Ads
    def _google_ads_search_stream(self, rest: str, q: dict, body: Any, now: datetime) -> list:
        customer = rest.split("/")[2]
        m = re.search(r"segments\.date BETWEEN '(\d{4}-\d{2}-\d{2})' AND '(\d{4}-\d{2}-\d{2})'", body["query"])
        start, end = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
        if "FROM ad_group_ad" in body["query"]:
            return self._google_ads_ad_stream(customer, start, end, now)
        rows = self.data.ad_rows("google_ads", start, end, now, account=customer)
        results = []
        for r in rows.to_dict("records"):
            metrics = {
                "impressions": str(_int(r["impressions"])),
                "clicks": str(_int(r["clicks"])),
                "costMicros": str(int(round(r["spend"] * 1_000_000))),
                "conversions": float(r["conversions"]),
                "conversionsValue": float(r["conversion_value"]),
            }
            # proto3 JSON leaves out zero values
            metrics = {k: v for k, v in metrics.items() if v not in ("0", 0.0)}
            rec = {
                "customer": {"resourceName": f"customers/{customer}", "id": customer, "currencyCode": r["currency"]},
                "campaign": {"resourceName": f"customers/{customer}/campaigns/{r['campaign_id']}", "id": r["campaign_id"],
                             "name": r["campaign_name"], "advertisingChannelType": "SEARCH"},
                "metrics": metrics,
                "segments": {"date": r["metric_date"].isoformat()},
            }
            results.append(self.data.apply_drift("google_ads", f"{r['campaign_id']}|{r['metric_date']}", rec))
        mask = ("customer.id,customer.currencyCode,campaign.id,campaign.name,campaign.advertisingChannelType,segments.date,"
                "metrics.impressions,metrics.clicks,metrics.costMicros,metrics.conversions,metrics.conversionsValue")
        chunks = [results[i : i + self.page_size] for i in range(0, len(results), self.page_size)] or [[]]
        return [{"results": c, "fieldMask": mask, "requestId": secrets.token_hex(6)} if c else {"fieldMask": mask} for c in chunks]

    def _google_ads_ad_stream(self, customer: str, start: date, end: date, now: datetime) -> list:
        """``FROM ad_group_ad`` rows: the ad with its campaign's metrics; quartile rates only for video ads."""
        results = []
        for r in self.data.creative_rows("google_ads", start, end, now, account=customer).to_dict("records"):
            imps = _int(r["impressions"])
            metrics = {
                "impressions": str(imps),
                "clicks": str(_int(r["clicks"])),
                "costMicros": str(int(round(r["spend"] * 1_000_000))),
                "conversions": float(r["conversions"]),
                "conversionsValue": float(r["conversion_value"]),
            }
            if r["creative_format"] in _VIDEO:
                for q in ("25", "50", "75", "100"):
                    metrics[f"videoQuartileP{q}Rate"] = int(r[f"video_p{q}_views"]) / imps if imps else 0.0
            metrics = {k: v for k, v in metrics.items() if v not in ("0", 0.0)}  # proto3 JSON leaves out zeros
            rec = {
                "customer": {"resourceName": f"customers/{customer}", "id": customer, "currencyCode": r["currency"]},
                "campaign": {"resourceName": f"customers/{customer}/campaigns/{r['campaign_id']}", "id": r["campaign_id"],
                             "name": r["campaign_name"]},
                "adGroup": {"resourceName": f"customers/{customer}/adGroups/{r['campaign_id']}9", "id": f"{r['campaign_id']}9"},
                "adGroupAd": {"resourceName": f"customers/{customer}/adGroupAds/{r['campaign_id']}9~{r['ad_id']}",
                              "ad": {"resourceName": f"customers/{customer}/ads/{r['ad_id']}", "id": r["ad_id"],
                                     "name": r["ad_name"], "type": r["creative_format"]}},
                "metrics": metrics,
                "segments": {"date": r["metric_date"].isoformat()},
            }
            results.append(self.data.apply_drift("google_ads", f"{r['ad_id']}|{r['metric_date']}", rec))
        mask = ("customer.id,customer.currencyCode,campaign.id,campaign.name,adGroup.id,adGroupAd.ad.id,adGroupAd.ad.name,"
                "adGroupAd.ad.type,segments.date,metrics.impressions,metrics.clicks,metrics.costMicros,metrics.conversions,"
                "metrics.conversionsValue,metrics.videoQuartileP25Rate,metrics.videoQuartileP50Rate,"
                "metrics.videoQuartileP75Rate,metrics.videoQuartileP100Rate")
        chunks = [results[i : i + self.page_size] for i in range(0, len(results), self.page_size)] or [[]]
        return [{"results": c, "fieldMask": mask, "requestId": secrets.token_hex(6)} if c else {"fieldMask": mask} for c in chunks]

    # Meta
    def _meta_paged(self, rest: str, q: dict, records: list) -> dict:
        offset = int(base64.b64decode(q["after"]).decode()) if q.get("after") else 0
        page, nxt = self._page(records, offset, int(q.get("limit", 25)))
        paging: dict[str, Any] = {"cursors": {"before": base64.b64encode(str(offset).encode()).decode(),
                                              "after": base64.b64encode(str(offset + len(page)).encode()).decode()}}
        if nxt is not None:
            # like Meta, the next link repeats every parameter, the access token included
            nq = {**q, "after": paging["cursors"]["after"], "access_token": self.tokens["meta_ads"]}
            paging["next"] = f"{self.url('meta')}/{rest}?{urlencode(nq)}"
        return {"data": page, "paging": paging}

    def _meta_ads_ads(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        """The account's ads with their creative and ad set; a SHARE ad promotes a post that already existed
        (``object_story_id``: a page post; ``source_instagram_media_id``: an Instagram media). Every ad has an
        ``effective_object_story_id``, as on Meta: also an ad made of its own (unpublished) post."""
        account = rest.split("/")[1].removeprefix("act_")
        ads = self.data.creatives[(self.data.creatives["platform"] == "meta_ads") & (self.data.creatives["account_id"] == account)]
        records = []
        for a in ads.sort_values("ad_id").to_dict("records"):
            story = f"1040{account}_{a['ad_id']}"
            creative = {"object_type": a["creative_format"], "effective_object_story_id": story, "id": f"9{a['ad_id']}"}
            days = self.data.ads.loc[self.data.ads["campaign_id"] == a["campaign_id"], "metric_date"]
            flight = {"start": days.min(), "end": days.max(), "cents": 100_000 + int(a["campaign_id"]) % 7 * 5_000}
            if a["creative_format"] == "SHARE":
                boost = self.data.meta_boost(a["ad_id"])
                if boost["organic_platform"] == "instagram":
                    media = boost["post_id"]
                    creative |= {"source_instagram_media_id": media, "effective_instagram_media_id": media}
                else:
                    creative["object_story_id"] = boost["post_id"]
            # the ad set's times in the account's time zone; end_time: the instant delivery stops
            adset = {"id": f"{a['campaign_id']}9", "start_time": f"{flight['start'].isoformat()}T00:00:00-0700",
                     "end_time": f"{(flight['end'] + timedelta(days=1)).isoformat()}T00:00:00-0700",
                     "daily_budget": str(flight["cents"])}
            records.append({"id": a["ad_id"], "name": a["ad_name"], "creative": creative, "adset": adset})
        return self._meta_paged(rest, q, records)

    def _meta_ads_insights(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        account = rest.split("/")[1].removeprefix("act_")
        tr = json.loads(q["time_range"])
        windows = json.loads(q.get("action_attribution_windows", '["7d_click","1d_view"]'))
        since, until = date.fromisoformat(tr["since"]), date.fromisoformat(tr["until"])
        ad_level = q.get("level") == "ad"
        rows = (self.data.creative_rows if ad_level else self.data.ad_rows)("meta_ads", since, until, now, account=account)
        records = []
        for r in rows.to_dict("records"):
            conv = int(r["conversions"])
            actions = [{"action_type": "link_click", "value": str(_int(r["clicks"])), **{w: str(_int(r["clicks"])) if w.endswith("click") else "0" for w in windows}}]
            values = []
            if conv:  # Meta leaves out actions that did not happen, and repeats a purchase under each purchase type
                actions += meta_purchase_actions(str(conv), **{w: str(conv) if w.endswith("click") else "0" for w in windows})
            if r["conversion_value"]:
                values += meta_purchase_actions(f"{r['conversion_value']:.2f}")
            rec = {
                "account_id": account,
                "account_currency": r["currency"],
                "campaign_id": r["campaign_id"],
                "campaign_name": r["campaign_name"],
                "date_start": r["metric_date"].isoformat(),
                "date_stop": r["metric_date"].isoformat(),
                "impressions": str(_int(r["impressions"])),
                "clicks": str(_int(r["clicks"])),
                "spend": f"{r['spend']:.2f}",
                "reach": str(_int(r["reach"])),
                "actions": actions,
                **({"action_values": values} if values else {}),
            }
            if ad_level:
                rec.update({"adset_id": f"{r['campaign_id']}9", "adset_name": f"{r['campaign_name']} | Ad set",
                            "ad_id": r["ad_id"], "ad_name": r["ad_name"]})
                if r["creative_format"] == "SHARE":  # a promoted post's reactions, comments, shares and clicks
                    engaged = {"action_type": "post_engagement", "value": str(meta_post_engagements(r))}
                    rec["actions"] = [*actions, engaged]
                if r["creative_format"] in _VIDEO:  # present only for ads with video
                    rec.update({f"video_{q}_watched_actions": [{"action_type": "video_view", "value": str(int(r[f"video_{q}_views"]))}]
                                for q in ("p25", "p50", "p75", "p100")})
            key = r["ad_id"] if ad_level else r["campaign_id"]
            records.append(self.data.apply_drift("meta_ads", f"{key}|{r['metric_date']}", rec))
        return self._meta_paged(rest, q, records)

    # LinkedIn Ads
    def _linkedin_ads_account(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        account = rest.split("/")[2]
        rows = self.data.ads[(self.data.ads["platform"] == "linkedin_ads") & (self.data.ads["account_id"] == account)]
        if rows.empty:
            raise Reply(404, {"status": 404, "message": "Not Found"})
        return {"id": int(account), "currency": rows["currency"].iloc[0], "name": f"Account {account}", "status": "ACTIVE",
                "type": "BUSINESS", "reference": "urn:li:organization:80000"}

    def _linkedin_ads_campaigns(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        account = rest.split("/")[2]
        rows = self.data.ads[(self.data.ads["platform"] == "linkedin_ads") & (self.data.ads["account_id"] == account)]
        campaigns = rows.drop_duplicates("campaign_id").sort_values("campaign_id").to_dict("records")
        start = int(q.get("start", 0))
        page, _ = self._page(campaigns, start, int(q.get("count", 10)))
        elements = []
        for c in page:
            boost = self.data.boost_of(c["campaign_id"])
            schedule = {"start": _ms(datetime.combine(c["metric_date"], datetime.min.time()))}
            budget = "100.00"
            if boost is not None:  # a boost's flight: its first day at 00:00 UTC to the day after its last
                schedule = {"start": _ms(datetime.combine(boost["start_date"], datetime.min.time())),
                            "end": _ms(datetime.combine(boost["end_date"] + timedelta(days=1), datetime.min.time()))}
                budget = f"{boost['daily_budget']:.2f}"
            elements.append({"id": int(c["campaign_id"]), "name": c["campaign_name"], "account": f"urn:li:sponsoredAccount:{account}",
                             "status": "ACTIVE", "type": "SPONSORED_UPDATES", "runSchedule": schedule,
                             "dailyBudget": {"amount": budget, "currencyCode": c["currency"]}})
        return {"elements": elements, "paging": {"start": start, "count": len(page), "total": len(campaigns), "links": []}}

    def _linkedin_ads_creatives(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        """``q=criteria`` with ``pageSize`` and ``pageToken`` paging: a creative's content is a text ad, a post
        made for the ad (direct sponsored content) or, for a boost, the organic post itself."""
        account = rest.split("/")[2]
        ads = self.data.creatives[(self.data.creatives["platform"] == "linkedin_ads") & (self.data.creatives["account_id"] == account)]
        items = []
        for a in ads.sort_values("ad_id").to_dict("records"):
            if a["creative_format"] == "TEXT_AD":
                content: dict = {"textAd": {"headline": a["ad_name"][:25], "description": "Cycle", "landingPage": "https://cycle.example"}}
            else:
                content = {"reference": a["post_id"] or self.data.dark_post(a["ad_id"])}
            items.append({"id": f"urn:li:sponsoredCreative:{a['ad_id']}", "campaign": f"urn:li:sponsoredCampaign:{a['campaign_id']}",
                          "account": f"urn:li:sponsoredAccount:{account}", "name": a["ad_name"], "intendedStatus": "ACTIVE",
                          "isServing": True, "content": content})
        offset = int(q.get("pageToken") or 0)
        page, nxt = self._page(items, offset, int(q.get("pageSize", 100)))
        return {"elements": page, "metadata": {"nextPageToken": str(nxt)} if nxt is not None else {}}

    def _linkedin_ads_posts(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        """BATCH_GET of posts: the organic ones the company page published, the dark ones made for ads."""
        dark = {self.data.dark_post(a): f for a, f in zip(self.data.creatives["ad_id"], self.data.creatives["creative_format"])
                if f in _DSC_TYPE}
        results, errors = {}, {}
        for urn in _restli_list(q.get("ids", "")):
            if urn in dark:
                results[urn] = {"id": urn, "lifecycleState": "PUBLISHED", "distribution": {"feedDistribution": "NONE"},
                                "adContext": {"isDsc": True, "dscAdType": _DSC_TYPE[dark[urn]], "dscStatus": "ACTIVE"}}
            elif (post := self.data.post("linkedin", urn)) is not None:
                results[urn] = {"id": urn, "author": self.data.account("linkedin", int(post["account_seq"])),
                                "lifecycleState": "PUBLISHED", "distribution": {"feedDistribution": "MAIN_FEED"},
                                "publishedAt": _ms(post["published_at"])}
            else:
                errors[urn] = {"status": 404, "message": "Not Found"}
        return {"results": results, "statuses": {u: 200 for u in results}, "errors": errors}

    def _linkedin_ads_analytics(self, rest: str, q: dict, body: Any, now: datetime) -> dict:
        dr = re.findall(r"year:(\d+),month:(\d+),day:(\d+)", q["dateRange"])
        start, end = (date(int(y), int(m), int(d)) for y, m, d in dr)
        account = _restli_list(q["accounts"])[0].rsplit(":", 1)[-1]
        if q.get("q") == "statistics":  # pivots=List(CAMPAIGN,CREATIVE)
            return self._linkedin_ads_statistics(account, start, end, now)
        rows = self.data.ad_rows("linkedin_ads", start, end, now, account=account)
        elements = []
        for r in rows.to_dict("records"):
            d = r["metric_date"]
            part = {"year": d.year, "month": d.month, "day": d.day}
            rec = {
                "pivotValues": [f"urn:li:sponsoredCampaign:{r['campaign_id']}"],
                "dateRange": {"start": part, "end": part},
                "impressions": _int(r["impressions"]),
                "clicks": _int(r["clicks"]),
                "costInLocalCurrency": f"{r['spend']:.2f}",
                "externalWebsiteConversions": _int(r["conversions"]),
                "conversionValueInLocalCurrency": f"{r['conversion_value']:.2f}",
            }
            elements.append(self.data.apply_drift("linkedin_ads", f"{r['campaign_id']}|{d}", rec))
        return {"elements": elements, "paging": {"start": 0, "count": 10, "links": []}}

    def _linkedin_ads_statistics(self, account: str, start: date, end: date, now: datetime) -> dict:
        elements = []
        for r in self.data.creative_rows("linkedin_ads", start, end, now, account=account).to_dict("records"):
            d = r["metric_date"]
            part = {"year": d.year, "month": d.month, "day": d.day}
            video = r["creative_format"] == "VIDEO"
            rec = {
                "pivotValues": [f"urn:li:sponsoredCampaign:{r['campaign_id']}", f"urn:li:sponsoredCreative:{r['ad_id']}"],
                "dateRange": {"start": part, "end": part},
                "impressions": _int(r["impressions"]),
                "clicks": _int(r["clicks"]),
                "costInLocalCurrency": f"{r['spend']:.2f}",
                "externalWebsiteConversions": _int(r["conversions"]),
                "conversionValueInLocalCurrency": f"{r['conversion_value']:.2f}",
                "totalEngagements": _int(r["engagements"]),
                # LinkedIn reports 0 completions for ads without video
                "videoFirstQuartileCompletions": int(r["video_p25_views"]) if video else 0,
                "videoMidpointCompletions": int(r["video_p50_views"]) if video else 0,
                "videoThirdQuartileCompletions": int(r["video_p75_views"]) if video else 0,
                "videoCompletions": int(r["video_p100_views"]) if video else 0,
            }
            elements.append(self.data.apply_drift("linkedin_ads", f"{r['ad_id']}|{d}", rec))
        return {"elements": elements, "paging": {"start": 0, "count": 10, "links": []}}


def _restli_list(value: str) -> list[str]:
    m = re.fullmatch(r"List\((.*)\)", value or "")
    return [unquote(v) for v in m.group(1).split(",") if v] if m else []


_ROUTES: list[tuple[str, str, str, str]] = [  # platform, method, path regex, route name
    ("x", "POST", r"2/oauth2/token", "x.token"),
    ("x", "GET", r"2/users/[^/]+/tweets", "x.user_tweets"),
    ("x", "GET", r"2/tweets", "x.tweets"),
    ("linkedin", "POST", r"oauth/v2/accessToken", "linkedin.token"),
    ("linkedin", "GET", r"rest/posts", "linkedin.posts"),
    ("linkedin", "GET", r"rest/organizationalEntityShareStatistics", "linkedin.share_statistics"),
    ("linkedin", "GET", r"rest/socialActions/.+", "linkedin.social_actions"),
    ("linkedin", "GET", r"rest/organizations/\d+", "linkedin.organizations"),
    ("reddit", "POST", r"api/v1/access_token", "reddit.token"),
    ("reddit", "GET", r"user/[^/]+/submitted", "reddit.submitted"),
    ("reddit", "GET", r"api/info", "reddit.info"),
    ("reddit", "GET", r"by_id/[^/]+", "reddit.by_id"),
    ("tiktok", "POST", r"v2/oauth/token/?", "tiktok.token"),
    ("tiktok", "POST", r"v2/research/video/query/?", "tiktok.video_query"),
    ("google_ads", "POST", r"token", "google_ads.token"),
    ("google_ads", "POST", r"v\d+/customers/\d+/googleAds:searchStream", "google_ads.search_stream"),
    ("meta_ads", "GET", r"v[\d.]+/oauth/access_token", "meta_ads.token"),
    ("meta_ads", "GET", r"v[\d.]+/act_\d+/insights", "meta_ads.insights"),
    ("meta_ads", "GET", r"v[\d.]+/act_\d+/ads", "meta_ads.ads"),
    ("linkedin_ads", "POST", r"oauth/v2/accessToken", "linkedin_ads.token"),
    ("linkedin_ads", "GET", r"rest/adAccounts/\d+", "linkedin_ads.account"),
    ("linkedin_ads", "GET", r"rest/adAccounts/\d+/adCampaigns", "linkedin_ads.campaigns"),
    ("linkedin_ads", "GET", r"rest/adAnalytics", "linkedin_ads.analytics"),
    ("linkedin_ads", "GET", r"rest/adAccounts/\d+/creatives", "linkedin_ads.creatives"),
    ("linkedin_ads", "GET", r"rest/posts", "linkedin_ads.posts"),
]


def _route(platform: str, method: str, rest: str) -> str:
    for p, m, pattern, name in _ROUTES:
        if p == platform and m == method and re.fullmatch(pattern, rest):
            return name
    return f"{platform}.unknown"


def _meta_usage_headers(pct: float, regain_seconds: float) -> dict[str, str]:
    """Meta's X-Business-Use-Case-Usage (keyed by business id; percentages; regain time in whole minutes,
    rounded up so a client that honours it is let through) and X-App-Usage."""
    pct = int(round(pct))
    entry = {"type": "ads_insights", "call_count": pct, "total_cputime": pct // 2, "total_time": pct // 2,
             "estimated_time_to_regain_access": math.ceil(regain_seconds / 60), "ads_api_access_tier": "standard_access"}
    return {"X-Business-Use-Case-Usage": json.dumps({"900100": [entry]}),
            "X-App-Usage": json.dumps({"call_count": min(pct, 100) // 4, "total_cputime": 1, "total_time": 1})}


def _window_headers(platform: str, limit: int, used: int, reset_at: float, now: float) -> dict[str, str]:
    if platform == "x":  # reset: the epoch second the window ends
        return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(max(limit - used, 0)),
                "x-rate-limit-reset": str(math.ceil(reset_at))}
    # Reddit: remaining as a float, reset in seconds from now
    return {"X-Ratelimit-Used": str(used), "X-Ratelimit-Remaining": f"{max(limit - used, 0):.1f}",
            "X-Ratelimit-Reset": str(math.ceil(reset_at - now))}


def _throttle_answer(platform: str, wait_seconds: float, now: float, limit: int = 100) -> tuple[int, Any, dict[str, str]]:
    """(status, body, headers) of a throttling answer announcing ``wait_seconds`` the platform's own way."""
    if platform == "meta_ads":  # Meta throttles with HTTP 400 and a code; the regain time is in the headers
        body = {"error": {"message": "(#80000) There have been too many calls from this ad-account. Wait a bit and try again.",
                          "type": "OAuthException", "code": 80000, "error_subcode": 2446079, "is_transient": True}}
        return 400, body, _meta_usage_headers(100.0, wait_seconds)
    if platform in ("x", "reddit"):
        headers = _window_headers(platform, limit, limit, now + wait_seconds, now)
        return 429, {"title": "Too Many Requests", "status": 429} if platform == "x" else {"message": "Too Many Requests", "error": 429}, headers
    return 429, _error_body(platform, 429), {"Retry-After": str(math.ceil(wait_seconds))}


def _error_body(platform: str, status: int) -> dict:
    if platform == "tiktok":
        code = {401: "access_token_invalid", 429: "rate_limit_exceeded"}.get(status, "internal_error")
        return {"data": {}, "error": {"code": code, "message": "", "log_id": "20240212"}}
    if platform == "meta_ads":
        code = {429: 17, 401: 190}.get(status, 2)
        return {"error": {"message": "fault", "type": "OAuthException", "code": code, "is_transient": status >= 500}}
    if platform == "google_ads":
        name = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED"}.get(status, "INTERNAL")
        return {"error": {"code": status, "message": "fault", "status": name}}
    return {"status": status, "message": "fault"}
