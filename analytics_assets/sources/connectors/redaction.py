"""Keep credentials out of logs, error messages and metadata.

Two layers: patterns that look like credentials anywhere (bearer headers, ``access_token=`` in URLs or
bodies, JSON token fields), and the exact values of the secrets in use, registered by the clients.
"""

from __future__ import annotations

import logging
import re
import threading

_PATTERNS = [
    (re.compile(r"(?i)(bearer|oauth)\s+[A-Za-z0-9\-._~+/=]{6,}"), r"\1 [REDACTED]"),
    (re.compile(r"(?i)(basic)\s+[A-Za-z0-9+/=]{8,}"), r"\1 [REDACTED]"),
    (
        re.compile(
            r"(?i)((?:access_token|refresh_token|fb_exchange_token|client_secret|app_secret|developer[-_]token|"
            r"password|token)\s*[=:]\s*\"?)([^&\s\",}]+)"
        ),
        r"\1[REDACTED]",
    ),
    (
        re.compile(r"(?i)(\"(?:access_token|refresh_token|client_secret|developer_token|token)\"\s*:\s*\")([^\"]+)"),
        r"\1[REDACTED]",
    ),
]

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Redact this exact value wherever it appears from now on (short values would redact noise)."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact(text: object) -> str:
    out = str(text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in out:
            out = out.replace(secret, "[REDACTED]")
    for pattern, repl in _PATTERNS:
        out = pattern.sub(repl, out)
    return out


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with credentials removed before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not break logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = ()
        return True


_FILTER = RedactingFilter()
# httpx logs every request URL at INFO; a platform's paging link can carry a token in its query
_THIRD_PARTY = ("httpx", "httpcore")


def get_logger(name: str) -> logging.Logger:
    """A logger whose records are redacted; the HTTP libraries' loggers are redacted too."""
    for lib in (*_THIRD_PARTY, name):
        logger = logging.getLogger(lib)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    return logging.getLogger(name)
