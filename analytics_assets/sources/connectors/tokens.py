"""OAuth tokens: encrypted at rest (AES-256-GCM), refreshed through each platform's token endpoint.

The key comes from ``CYCLE_TOKEN_ENCRYPTION_KEY`` (base64 of 32 random bytes; ``python -m
analytics_assets.sources.connectors.tokens`` prints a new one). Each platform's token lives in its own file under
``$CYCLE_HOME/secrets/`` (mode 0600), bound to the platform name as associated data so one platform's file
cannot be swapped in for another's. A refreshed token (and a rotated refresh token) is written back at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from analytics_assets.sources.connectors.errors import AuthError, ClientError, ConfigurationError, ConnectorError
from analytics_assets.settings import CycleSettings, load_settings
from analytics_assets.sources.connectors.redaction import get_logger, register_secret

KEY_ENV = "CYCLE_TOKEN_ENCRYPTION_KEY"
_MAGIC = b"CYT1"
log = get_logger("cycle.connectors.tokens")


def load_key(value: str | None = None) -> bytes:
    raw = value if value is not None else CycleSettings.secret(load_settings().token_encryption_key)
    if not raw:
        raise ConfigurationError(
            f"{KEY_ENV} is not set: platform tokens are stored encrypted; create a key with "
            "`python -m analytics_assets.sources.connectors.tokens` and export it"
        )
    try:
        key = base64.b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4), altchars=b"-_", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError(f"{KEY_ENV} is not valid base64") from exc
    if len(key) != 32:
        raise ConfigurationError(f"{KEY_ENV} must decode to 32 bytes (AES-256), got {len(key)}")
    return key


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@dataclass
class OAuthToken:
    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None  # epoch seconds
    token_type: str = "Bearer"
    scope: str | None = None
    seed: str | None = None  # fingerprint of the configured credentials this token descends from

    def __repr__(self) -> str:  # never print the secrets, even in a traceback's locals
        return f"OAuthToken(expires_at={self.expires_at}, has_refresh_token={self.refresh_token is not None})"

    __str__ = __repr__


def fingerprint(*values: str | None) -> str:
    return hashlib.sha256("\x00".join(v or "" for v in values).encode()).hexdigest()[:16]


class TokenStore:
    """One AES-256-GCM encrypted file per platform: magic, 12-byte nonce, ciphertext+tag."""

    def __init__(self, directory: str | Path, key: bytes):
        self.directory = Path(directory)
        self._aead = AESGCM(key)

    def path(self, platform: str) -> Path:
        return self.directory / f"{platform}.token"

    def save(self, platform: str, token: OAuthToken) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        nonce = os.urandom(12)
        blob = _MAGIC + nonce + self._aead.encrypt(nonce, json.dumps(asdict(token)).encode(), platform.encode())
        tmp = self.path(platform).with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, blob)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path(platform))

    def load(self, platform: str) -> OAuthToken | None:
        path = self.path(platform)
        if not path.exists():
            return None
        blob = path.read_bytes()
        if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 12 + 16:
            raise ConfigurationError(f"{path} is not a Cycle token file")
        nonce, ciphertext = blob[len(_MAGIC) : len(_MAGIC) + 12], blob[len(_MAGIC) + 12 :]
        try:
            data = json.loads(self._aead.decrypt(nonce, ciphertext, platform.encode()))
        except InvalidTag as exc:
            raise ConfigurationError(
                f"cannot decrypt {path}: wrong {KEY_ENV} or a tampered file (delete it to start again from the "
                "configured credentials)"
            ) from exc
        token = OAuthToken(**data)
        register_secret(token.access_token)
        register_secret(token.refresh_token)
        return token


Refresher = Callable[[OAuthToken], OAuthToken]


class TokenManager:
    """Hands out a valid access token: the stored one, or the configured one the first time; refreshes
    it before it expires and when the platform answers 401, and stores the new one encrypted."""

    def __init__(
        self,
        platform: str,
        store: TokenStore,
        configured: OAuthToken,
        refresher: Refresher | None = None,
        clock: Callable[[], float] = time.time,
        refresh_margin_seconds: float = 120.0,
        needs_refresh_token: bool = True,
    ):
        self.platform = platform
        self.store = store
        self.refresher = refresher
        self.clock = clock
        self.margin = refresh_margin_seconds
        self.needs_refresh_token = needs_refresh_token
        register_secret(configured.access_token)
        register_secret(configured.refresh_token)
        seed = fingerprint(configured.access_token, configured.refresh_token)
        stored = store.load(platform)
        # new credentials in the environment win over a token refreshed from the old ones
        if stored is not None and stored.seed == seed:
            self.token = stored
        else:
            configured.seed = seed
            self.token = configured
            store.save(platform, configured)

    @property
    def can_refresh(self) -> bool:
        return self.refresher is not None and (bool(self.token.refresh_token) or not self.needs_refresh_token)

    def headers(self) -> dict[str, str]:
        expiring = self.token.expires_at is not None and self.clock() >= self.token.expires_at - self.margin
        if (expiring or not self.token.access_token) and self.can_refresh:
            self.refresh()
        return {"Authorization": f"Bearer {self.token.access_token}"}

    def refresh(self) -> None:
        if self.refresher is None:
            raise AuthError(self.platform, "the access token was refused and no refresh credentials are configured")
        new = self.refresher(self.token)
        new.seed = self.token.seed
        if not new.refresh_token:
            new.refresh_token = self.token.refresh_token  # not every platform rotates it
        register_secret(new.access_token)
        register_secret(new.refresh_token)
        self.store.save(self.platform, new)
        self.token = new
        log.info("%s: access token refreshed and stored encrypted", self.platform)


# ------------------------------------------------------------------- the platforms' documented grants


def _token_from(platform: str, body: object, now: float) -> OAuthToken:
    if not isinstance(body, dict) or not body.get("access_token"):
        error = body.get("error") if isinstance(body, dict) else None
        raise AuthError(platform, f"token endpoint gave no access token (error: {error!r})")
    expires_in = body.get("expires_in")
    return OAuthToken(
        access_token=str(body["access_token"]),
        refresh_token=body.get("refresh_token"),
        expires_at=now + float(expires_in) if expires_in else None,
        token_type=str(body.get("token_type") or "Bearer"),
        scope=body.get("scope"),
    )


def _post_form(http, platform: str, url: str, form: dict[str, str], basic: tuple[str, str] | None) -> object:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if basic:
        creds = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {creds}"
    try:
        return http.request_json("POST", url, data=form, headers=headers, authenticated=False)
    except ClientError as exc:  # 400 invalid_grant and friends: the refresh token itself is dead
        raise AuthError(platform, f"token refresh refused: {exc}") from exc
    except ConnectorError:
        raise


def refresh_token_grant(
    http,
    platform: str,
    token_url: str,
    client_id: str,
    client_secret: str | None,
    *,
    client_auth: str = "body",
    client_id_field: str = "client_id",
    clock: Callable[[], float] = time.time,
) -> Refresher:
    """RFC 6749 section 6: LinkedIn, Google and TikTok take the client credentials in the form body
    (TikTok calls the id ``client_key``); Reddit and X confidential clients use HTTP Basic."""

    def refresh(token: OAuthToken) -> OAuthToken:
        if not token.refresh_token:
            raise AuthError(platform, "no refresh token configured")
        form = {"grant_type": "refresh_token", "refresh_token": token.refresh_token}
        basic = None
        if client_auth == "basic" and client_secret:
            basic = (client_id, client_secret)
            if platform == "x":
                form["client_id"] = client_id
        else:
            form[client_id_field] = client_id
            if client_secret:
                form["client_secret"] = client_secret
        return _token_from(platform, _post_form(http, platform, token_url, form, basic), clock())

    return refresh


def client_credentials_grant(
    http, platform: str, token_url: str, client_id: str, client_secret: str, *, client_id_field: str = "client_id",
    clock: Callable[[], float] = time.time,
) -> Refresher:
    """App-only tokens (TikTok Research API): a new token from the client credentials alone."""

    def refresh(token: OAuthToken) -> OAuthToken:
        form = {client_id_field: client_id, "client_secret": client_secret, "grant_type": "client_credentials"}
        return _token_from(platform, _post_form(http, platform, token_url, form, None), clock())

    return refresh


def meta_long_lived_exchange(
    http, token_url: str, app_id: str, app_secret: str, clock: Callable[[], float] = time.time
) -> Refresher:
    """Meta has no refresh tokens: a valid user token is exchanged for a new ~60-day one."""

    def refresh(token: OAuthToken) -> OAuthToken:
        params = {
            "grant_type": "fb_exchange_token",
            "client_id": app_id,
            "client_secret": app_secret,
            "fb_exchange_token": token.access_token,
        }
        try:
            body = http.request_json("GET", token_url, params=params, authenticated=False)
        except ClientError as exc:
            raise AuthError("meta_ads", f"long-lived token exchange refused: {exc}") from exc
        return _token_from("meta_ads", body, clock())

    return refresh


if __name__ == "__main__":
    print(generate_key())
