"""Typed Dagster resources, one per platform. A platform whose credentials are set is read through its
real client; otherwise Cycle keeps using the simulator for it.

Credentials come from environment variables (``connector_resources_from_env``): secrets are passed as
``dg.EnvVar`` so the UI shows the variable's name, never its value. ``base_url``/``token_url`` point at the
platform by default; tests point them at a local fake server.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
from pydantic import Field, field_validator

from analytics_assets.settings import environ_values, load_settings, parse_int
from analytics_assets.sources.connectors.http import Classifier, NoAuth, PlatformHttpClient
from analytics_assets.sources.connectors.platforms.base import AdsClient, SocialClient
from analytics_assets.sources.connectors.platforms.google_ads import GoogleAdsClient
from analytics_assets.sources.connectors.platforms.linkedin import LinkedInClient
from analytics_assets.sources.connectors.platforms.linkedin_ads import LinkedInAdsClient
from analytics_assets.sources.connectors.platforms.meta import DEFAULT_ATTRIBUTION_WINDOWS, MetaAdsClient, check_attribution_windows
from analytics_assets.sources.connectors.platforms.meta import classify as meta_classify
from analytics_assets.sources.connectors.platforms.reddit import RedditClient
from analytics_assets.sources.connectors.platforms.tiktok import TikTokClient
from analytics_assets.sources.connectors.platforms.tiktok import classify as tiktok_classify
from analytics_assets.sources.connectors.platforms.x import XClient
from analytics_assets.sources.connectors.redaction import register_secret
from analytics_assets.sources.connectors.resilience import CircuitBreaker, Clock, RetryPolicy, TokenBucket
from analytics_assets.sources.connectors.throttling import ThrottlePolicy, UsageReader, meta_usage, reddit_usage, x_usage
from analytics_assets.sources.connectors.tokens import (
    OAuthToken,
    Refresher,
    TokenManager,
    TokenStore,
    client_credentials_grant,
    load_key,
    meta_long_lived_exchange,
    refresh_token_grant,
)

HOUR, DAY = 3600.0, 86400.0


class PlatformResource(dg.ConfigurableResource):
    """Settings every platform shares: where it is, credentials, request budget and error handling."""

    platform: ClassVar[str]

    base_url: str
    token_url: str
    access_token: str | None = Field(default=None, description="OAuth access token (secret: from an env var)")
    refresh_token: str | None = Field(default=None, description="OAuth refresh token (secret: from an env var)")
    client_id: str | None = None
    client_secret: str | None = Field(default=None, description="OAuth client secret (secret: from an env var)")
    token_encryption_key: str | None = Field(
        default=None, description="base64 AES-256 key for tokens at rest; default CYCLE_TOKEN_ENCRYPTION_KEY"
    )
    rate_limit_requests: int = Field(description="requests allowed per rate-limit period (published limit)")
    rate_limit_period_seconds: float
    max_rate_limit_wait_seconds: float = Field(
        default=300.0, description="longest a run waits for the request budget before it stops and resumes later"
    )
    timeout_seconds: float = 30.0
    backoff_base_seconds: float = 1.0
    max_retry_wait_seconds: float = Field(
        default=3600.0,
        description="longest a run waits for a throttled platform (the reset or regain time it announces, else "
        "Retry-After) or pauses before its limit; a longer wait fails the run, keeping what it committed",
    )
    throttle_usage_threshold_pct: float = Field(
        default=80.0, description="Meta: pause before the next call once a usage header reports this percentage"
    )
    throttle_min_remaining_calls: float = Field(
        default=2.0, description="X, Reddit: pause until the window resets once fewer calls than this remain"
    )
    breaker_failure_threshold: int = Field(
        default=8, description="consecutive failed attempts that open the breaker (more than one request's retries)"
    )
    breaker_cooldown_seconds: float = 300.0
    state_dir: str | None = Field(default=None, description="rate-limit state; default $CYCLE_HOME/connectors")
    secrets_dir: str | None = Field(default=None, description="encrypted tokens; default $CYCLE_HOME/secrets")
    as_of: str | None = Field(
        default=None, description="ISO UTC time to act as if it were now (replays and tests); default the clock"
    )

    # ---- what subclasses say
    @property
    def is_configured(self) -> bool:
        raise NotImplementedError

    def _refresher(self, oauth_http: PlatformHttpClient) -> Refresher | None:
        return refresh_token_grant(oauth_http, self.platform, self.token_url, self.client_id, self.client_secret) if (
            self.client_id and self.refresh_token
        ) else None

    _needs_refresh_token: ClassVar[bool] = True
    _classify: ClassVar[Classifier | None] = None
    _usage_reader: ClassVar[UsageReader | None] = None  # the platform's rate-limit headers, where it sends them

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    # ---- shared machinery
    def now(self) -> datetime:
        if self.as_of:
            ts = datetime.fromisoformat(self.as_of.replace("Z", "+00:00"))
            return ts.astimezone(timezone.utc).replace(tzinfo=None) if ts.tzinfo else ts
        return datetime.now(timezone.utc).replace(tzinfo=None)

    def _dir(self, configured: str | None, default: str) -> Path:
        return Path(configured) if configured else load_settings().cycle_home / default

    def http_client(self, clock: Clock | None = None) -> PlatformHttpClient:
        clock = clock or Clock()
        for secret in (self.access_token, self.refresh_token, self.client_secret, getattr(self, "developer_token", None)):
            register_secret(secret)  # redacted wherever it might surface (a URL in a log line, an error)
        policy = RetryPolicy(backoff_base_seconds=self.backoff_base_seconds, max_wait_seconds=self.max_retry_wait_seconds)
        oauth = PlatformHttpClient(
            f"{self.platform}:oauth", self.token_url, clock=clock, policy=policy, timeout_seconds=self.timeout_seconds,
            breaker=CircuitBreaker(self.breaker_failure_threshold, self.breaker_cooldown_seconds, clock),
        )
        refresher = self._refresher(oauth)
        auth: Any = NoAuth()
        if self.access_token or refresher is not None:
            store = TokenStore(self._dir(self.secrets_dir, "secrets"), load_key(self.token_encryption_key))
            auth = TokenManager(
                self.platform,
                store,
                OAuthToken(access_token=self.access_token or "", refresh_token=self.refresh_token),
                refresher,
                clock=clock.time,
                needs_refresh_token=self._needs_refresh_token,
            )
        http = PlatformHttpClient(
            self.platform,
            self.base_url,
            auth=auth,
            bucket=TokenBucket(
                self.rate_limit_requests,
                self.rate_limit_period_seconds,
                clock,
                self._dir(self.state_dir, "connectors") / f"{self.platform}.rate_limit.json",
            ),
            breaker=CircuitBreaker(self.breaker_failure_threshold, self.breaker_cooldown_seconds, clock),
            policy=policy,
            clock=clock,
            timeout_seconds=self.timeout_seconds,
            default_headers=self._headers(),
            classify=type(self)._classify,
            max_rate_limit_wait_seconds=self.max_rate_limit_wait_seconds,
            usage_reader=type(self)._usage_reader,
            throttle=ThrottlePolicy(
                usage_threshold_pct=self.throttle_usage_threshold_pct,
                min_remaining=self.throttle_min_remaining_calls,
                max_wait_seconds=self.max_retry_wait_seconds,
            ),
        )
        http.oauth = oauth
        return http


class SocialPlatformResource(PlatformResource):
    """Organic platforms: posts are polled every 2 hours in their first 48 hours, every 6 hours after,
    until they leave the tracking horizon or are deleted."""

    tracking_horizon_hours: float = Field(default=168.0, description="stop polling a post this long after publication")
    early_window_hours: float = 48.0
    early_interval_hours: float = 2.0
    interval_hours: float = 6.0
    poll_slack_minutes: float = Field(
        default=10.0, description="a post polled this little less than an interval ago is due (schedules drift)"
    )

    def client(self, clock: Clock | None = None) -> SocialClient:
        raise NotImplementedError


class AdPlatformResource(PlatformResource):
    """Ad platforms restate recent days: every run re-reads the last ``lookback_days`` and replaces them."""

    lookback_days: int
    backfill_chunk_days: int = Field(default=31, description="days fetched and committed together (resume unit)")
    force_refetch: bool = Field(default=False, description="refetch days the fetch ledger already has as final")

    def client(self, clock: Clock | None = None) -> AdsClient:
        raise NotImplementedError


class LinkedInResource(SocialPlatformResource):
    """LinkedIn organization posts and share statistics (Community Management API)."""

    platform: ClassVar[str] = "linkedin"
    base_url: str = "https://api.linkedin.com"
    token_url: str = "https://www.linkedin.com/oauth/v2/accessToken"
    api_version: str = Field(
        default="202510", description="LinkedIn-Version header (YYYYMM); LinkedIn retires a version after a year"
    )
    organization_urns: list[str] = []
    rate_limit_requests: int = 100
    rate_limit_period_seconds: float = HOUR

    @property
    def is_configured(self) -> bool:
        return bool(self.access_token and self.organization_urns)

    def _headers(self) -> dict[str, str]:
        return {**super()._headers(), "LinkedIn-Version": self.api_version}

    def client(self, clock: Clock | None = None) -> LinkedInClient:
        return LinkedInClient(self.http_client(clock), self.organization_urns)


class XResource(SocialPlatformResource):
    """X API v2 posts and their public_metrics. A user-context OAuth 2.0 token with a refresh token is
    refreshed on expiry; an app-only bearer token has nothing to refresh."""

    platform: ClassVar[str] = "x"
    base_url: str = "https://api.x.com"
    token_url: str = "https://api.x.com/2/oauth2/token"
    user_ids: list[str] = []
    rate_limit_requests: int = 900
    rate_limit_period_seconds: float = 900.0
    _usage_reader: ClassVar[UsageReader | None] = staticmethod(x_usage)

    @property
    def is_configured(self) -> bool:
        return bool(self.access_token and self.user_ids)

    def _refresher(self, oauth_http: PlatformHttpClient) -> Refresher | None:
        if not (self.client_id and self.refresh_token):
            return None
        return refresh_token_grant(
            oauth_http, "x", self.token_url, self.client_id, self.client_secret, client_auth="basic"
        )

    def client(self, clock: Clock | None = None) -> XClient:
        return XClient(self.http_client(clock), self.user_ids)


class RedditResource(SocialPlatformResource):
    """Reddit submissions of the configured accounts (OAuth, ``oauth.reddit.com``)."""

    platform: ClassVar[str] = "reddit"
    base_url: str = "https://oauth.reddit.com"
    token_url: str = "https://www.reddit.com/api/v1/access_token"
    usernames: list[str] = []
    user_agent: str = Field(default="server:cycle-analytics:0.1 (by /u/cycle)", description="Reddit requires a unique one")
    rate_limit_requests: int = 100  # 100 queries per minute per OAuth client
    rate_limit_period_seconds: float = 60.0
    _usage_reader: ClassVar[UsageReader | None] = staticmethod(reddit_usage)

    @property
    def is_configured(self) -> bool:
        return bool(self.usernames and (self.access_token or (self.client_id and self.refresh_token)))

    def _refresher(self, oauth_http: PlatformHttpClient) -> Refresher | None:
        if not (self.client_id and self.refresh_token):
            return None
        return refresh_token_grant(
            oauth_http, "reddit", self.token_url, self.client_id, self.client_secret or "", client_auth="basic"
        )

    def _headers(self) -> dict[str, str]:
        return {**super()._headers(), "User-Agent": self.user_agent}

    def client(self, clock: Clock | None = None) -> RedditClient:
        return RedditClient(self.http_client(clock), self.usernames)


class TikTokResource(SocialPlatformResource):
    """TikTok Research API videos of the configured accounts. A refresh token is used when configured,
    else the app's client credentials get a new token."""

    platform: ClassVar[str] = "tiktok"
    base_url: str = "https://open.tiktokapis.com"
    token_url: str = "https://open.tiktokapis.com/v2/oauth/token/"
    usernames: list[str] = []
    rate_limit_requests: int = 1000  # Research API: 1,000 requests per day
    rate_limit_period_seconds: float = DAY
    _classify: ClassVar[Classifier | None] = staticmethod(tiktok_classify)
    _needs_refresh_token: ClassVar[bool] = False

    @property
    def is_configured(self) -> bool:
        return bool(self.usernames and (self.access_token or (self.client_id and self.client_secret)))

    def _refresher(self, oauth_http: PlatformHttpClient) -> Refresher | None:
        if not self.client_id:
            return None
        if self.refresh_token:
            return refresh_token_grant(
                oauth_http, "tiktok", self.token_url, self.client_id, self.client_secret, client_id_field="client_key"
            )
        if self.client_secret:
            return client_credentials_grant(
                oauth_http, "tiktok", self.token_url, self.client_id, self.client_secret, client_id_field="client_key"
            )
        return None

    def client(self, clock: Clock | None = None) -> TikTokClient:
        return TikTokClient(self.http_client(clock), self.usernames)


class GoogleAdsResource(AdPlatformResource):
    """Google Ads campaign metrics by day (GAQL through searchStream)."""

    platform: ClassVar[str] = "google_ads"
    base_url: str = "https://googleads.googleapis.com"
    token_url: str = "https://oauth2.googleapis.com/token"
    api_version: str = "v21"
    developer_token: str | None = Field(default=None, description="developer-token header (secret: from an env var)")
    login_customer_id: str | None = None
    customer_ids: list[str] = []
    lookback_days: int = 14
    rate_limit_requests: int = 15000  # Basic access: 15,000 operations per day
    rate_limit_period_seconds: float = DAY

    @property
    def is_configured(self) -> bool:
        return bool(self.developer_token and self.customer_ids and (self.access_token or self.refresh_token))

    def _headers(self) -> dict[str, str]:
        headers = {**super()._headers(), "developer-token": self.developer_token or ""}
        if self.login_customer_id:
            headers["login-customer-id"] = self.login_customer_id.replace("-", "")
        return headers

    def client(self, clock: Clock | None = None) -> GoogleAdsClient:
        return GoogleAdsClient(self.http_client(clock), self.customer_ids, self.api_version)


class MetaAdsResource(AdPlatformResource):
    """Meta (Facebook/Instagram) campaign insights by day, with the configured attribution windows."""

    platform: ClassVar[str] = "meta_ads"
    base_url: str = "https://graph.facebook.com"
    token_url: str = "https://graph.facebook.com/v23.0/oauth/access_token"
    api_version: str = "v23.0"
    ad_account_ids: list[str] = []
    attribution_windows: list[str] = Field(
        default=DEFAULT_ATTRIBUTION_WINDOWS,
        description="action_attribution_windows; 7d_view and 28d_view are retired (2026-01-12) and refused",
    )
    lookback_days: int = 28
    rate_limit_requests: int = 200  # Graph API: 200 calls per user per hour
    rate_limit_period_seconds: float = HOUR
    _classify: ClassVar[Classifier | None] = staticmethod(meta_classify)
    _usage_reader: ClassVar[UsageReader | None] = staticmethod(meta_usage)

    @field_validator("attribution_windows")
    @classmethod
    def _windows_meta_still_reports(cls, windows: list[str]) -> list[str]:
        return check_attribution_windows(windows)  # at configuration time, not after a sync fetched nothing
    _needs_refresh_token: ClassVar[bool] = False

    @property
    def is_configured(self) -> bool:
        return bool(self.access_token and self.ad_account_ids)

    def _refresher(self, oauth_http: PlatformHttpClient) -> Refresher | None:
        if not (self.client_id and self.client_secret):
            return None
        return meta_long_lived_exchange(oauth_http, self.token_url, self.client_id, self.client_secret)

    def client(self, clock: Clock | None = None) -> MetaAdsClient:
        return MetaAdsClient(self.http_client(clock), self.ad_account_ids, self.api_version, self.attribution_windows)


class LinkedInAdsResource(AdPlatformResource):
    """LinkedIn Ads campaign analytics by day. Lookback 30 days: LinkedIn's default post-click conversion
    window, during which a day's ``externalWebsiteConversions`` and conversion value keep growing."""

    platform: ClassVar[str] = "linkedin_ads"
    base_url: str = "https://api.linkedin.com"
    token_url: str = "https://www.linkedin.com/oauth/v2/accessToken"
    api_version: str = Field(default="202510", description="LinkedIn-Version header (YYYYMM)")
    ad_account_ids: list[str] = []
    lookback_days: int = 30
    rate_limit_requests: int = 100
    rate_limit_period_seconds: float = HOUR

    @property
    def is_configured(self) -> bool:
        return bool(self.access_token and self.ad_account_ids)

    def _headers(self) -> dict[str, str]:
        return {**super()._headers(), "LinkedIn-Version": self.api_version}

    def client(self, clock: Clock | None = None) -> LinkedInAdsClient:
        return LinkedInAdsClient(self.http_client(clock), self.ad_account_ids)


SOCIAL_RESOURCES: dict[str, type[SocialPlatformResource]] = {
    "linkedin": LinkedInResource,
    "x": XResource,
    "reddit": RedditResource,
    "tiktok": TikTokResource,
}
AD_RESOURCES: dict[str, type[AdPlatformResource]] = {
    "google_ads": GoogleAdsResource,
    "meta_ads": MetaAdsResource,
    "linkedin_ads": LinkedInAdsResource,
}

# resource field -> environment variable, per platform (secrets become dg.EnvVar, lists are comma-separated)
ENV_VARS: dict[str, dict[str, str]] = {
    "linkedin": {
        "access_token": "CYCLE_LINKEDIN_ACCESS_TOKEN",
        "refresh_token": "CYCLE_LINKEDIN_REFRESH_TOKEN",
        "client_id": "CYCLE_LINKEDIN_CLIENT_ID",
        "client_secret": "CYCLE_LINKEDIN_CLIENT_SECRET",
        "organization_urns": "CYCLE_LINKEDIN_ORGANIZATION_URNS",
        "api_version": "CYCLE_LINKEDIN_API_VERSION",
    },
    "x": {
        "access_token": "CYCLE_X_BEARER_TOKEN",
        "refresh_token": "CYCLE_X_REFRESH_TOKEN",
        "client_id": "CYCLE_X_CLIENT_ID",
        "client_secret": "CYCLE_X_CLIENT_SECRET",
        "user_ids": "CYCLE_X_USER_IDS",
    },
    "reddit": {
        "access_token": "CYCLE_REDDIT_ACCESS_TOKEN",
        "refresh_token": "CYCLE_REDDIT_REFRESH_TOKEN",
        "client_id": "CYCLE_REDDIT_CLIENT_ID",
        "client_secret": "CYCLE_REDDIT_CLIENT_SECRET",
        "usernames": "CYCLE_REDDIT_USERNAMES",
        "user_agent": "CYCLE_REDDIT_USER_AGENT",
    },
    "tiktok": {
        "access_token": "CYCLE_TIKTOK_ACCESS_TOKEN",
        "refresh_token": "CYCLE_TIKTOK_REFRESH_TOKEN",
        "client_id": "CYCLE_TIKTOK_CLIENT_KEY",
        "client_secret": "CYCLE_TIKTOK_CLIENT_SECRET",
        "usernames": "CYCLE_TIKTOK_USERNAMES",
    },
    "google_ads": {
        "access_token": "CYCLE_GOOGLE_ADS_ACCESS_TOKEN",
        "refresh_token": "CYCLE_GOOGLE_ADS_REFRESH_TOKEN",
        "client_id": "CYCLE_GOOGLE_ADS_CLIENT_ID",
        "client_secret": "CYCLE_GOOGLE_ADS_CLIENT_SECRET",
        "developer_token": "CYCLE_GOOGLE_ADS_DEVELOPER_TOKEN",
        "customer_ids": "CYCLE_GOOGLE_ADS_CUSTOMER_IDS",
        "login_customer_id": "CYCLE_GOOGLE_ADS_LOGIN_CUSTOMER_ID",
        "lookback_days": "CYCLE_GOOGLE_ADS_LOOKBACK_DAYS",
    },
    "meta_ads": {
        "access_token": "CYCLE_META_ACCESS_TOKEN",
        "client_id": "CYCLE_META_APP_ID",
        "client_secret": "CYCLE_META_APP_SECRET",
        "ad_account_ids": "CYCLE_META_AD_ACCOUNT_IDS",
        "attribution_windows": "CYCLE_META_ATTRIBUTION_WINDOWS",
        "lookback_days": "CYCLE_META_LOOKBACK_DAYS",
    },
    "linkedin_ads": {
        "access_token": "CYCLE_LINKEDIN_ADS_ACCESS_TOKEN",
        "refresh_token": "CYCLE_LINKEDIN_ADS_REFRESH_TOKEN",
        "client_id": "CYCLE_LINKEDIN_ADS_CLIENT_ID",
        "client_secret": "CYCLE_LINKEDIN_ADS_CLIENT_SECRET",
        "ad_account_ids": "CYCLE_LINKEDIN_ADS_ACCOUNT_IDS",
        "api_version": "CYCLE_LINKEDIN_API_VERSION",
        "lookback_days": "CYCLE_LINKEDIN_ADS_LOOKBACK_DAYS",
    },
}
_SECRET_FIELDS = {"access_token", "refresh_token", "client_secret", "developer_token"}
_LIST_FIELDS = {"organization_urns", "user_ids", "usernames", "customer_ids", "ad_account_ids", "attribution_windows"}


def connector_resources_from_env(environ: dict[str, str] | None = None) -> dict[str, PlatformResource]:
    """One resource per platform, keyed by platform name, configured from ``CYCLE_*`` variables."""
    out: dict[str, PlatformResource] = {}
    for platform, cls in {**SOCIAL_RESOURCES, **AD_RESOURCES}.items():
        kwargs: dict[str, Any] = {}
        values = environ_values(list(ENV_VARS[platform].values()), environ)
        for field, var in ENV_VARS[platform].items():
            value = values.get(var)
            if value is None:
                continue
            if field in _SECRET_FIELDS:
                kwargs[field] = dg.EnvVar(var)
            elif field in _LIST_FIELDS:
                kwargs[field] = [v.strip() for v in value.split(",") if v.strip()]
            elif field == "lookback_days":
                kwargs[field] = parse_int(var, value)
            else:
                kwargs[field] = value
        if load_settings(environ).token_encryption_key is not None:
            kwargs["token_encryption_key"] = dg.EnvVar("CYCLE_TOKEN_ENCRYPTION_KEY")
        out[platform] = cls(**kwargs)
    return out
