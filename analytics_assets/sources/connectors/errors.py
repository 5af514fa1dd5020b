"""Typed errors of the platform clients. Messages never carry a credential (see ``redact``)."""

from __future__ import annotations


class ConnectorError(Exception):
    """A platform request failed for good: the run records it and fails after saving what it fetched."""

    def __init__(self, platform: str, message: str):
        from analytics_assets.sources.connectors.redaction import redact

        self.platform = platform
        super().__init__(f"{platform}: {redact(message)}")


class PostDeleted(ConnectorError):
    """The platform answered 404 (or its documented "not found") for a post: stop polling it."""

    def __init__(self, platform: str, post_id: str):
        self.post_id = post_id
        super().__init__(platform, f"post {post_id} no longer exists")


class CircuitOpen(ConnectorError):
    """Too many consecutive failures: requests to this platform are refused until the cool-down ends."""


class RetriesExhausted(ConnectorError):
    """A request kept failing after every retry its error class allows."""

    def __init__(self, platform: str, message: str, error_class: str, attempts: int, status: int | None = None):
        self.error_class = error_class
        self.attempts = attempts
        self.status = status
        super().__init__(platform, message)


class ThrottledTooLong(RetriesExhausted):
    """The platform announced a throttle (or usage near its limit) lasting longer than a run may wait: the
    run fails with what it committed kept, and the next run resumes once access has returned."""

    def __init__(self, platform: str, message: str, wait_seconds: float, max_wait_seconds: float, status: int | None = None):
        self.wait_seconds = wait_seconds
        self.max_wait_seconds = max_wait_seconds
        super().__init__(platform, message, "rate_limited", 1, status)


class AuthError(ConnectorError):
    """Credentials were refused, even after a token refresh, or could not be refreshed."""


class ClientError(ConnectorError):
    """The platform rejected the request itself (4xx other than 401/404/429): retrying cannot help."""

    def __init__(self, platform: str, message: str, status: int):
        self.status = status
        super().__init__(platform, message)


class RateLimitBudgetExhausted(Exception):
    """The platform's request budget is spent for longer than a run may wait."""


class ConfigurationError(Exception):
    """A connector is configured incompletely (for example no token encryption key)."""
