"""Who may read what: workspaces, the accounts they own, and their API keys (a small SQLite database).

Shared by the API (which checks every request against it) and the ``cycle keys`` / ``cycle workspaces``
commands (which manage it); no Dagster, no FastAPI. It lives beside the API's inbound store
(``$CYCLE_ACCESS_STORE``, default ``$CYCLE_HOME/api/access.sqlite3``), never in the warehouse: a key
created or revoked takes effect on the next request, without a pipeline run.

* A **workspace** owns a set of connected **accounts**: ``(platform, account_id)`` pairs such as
  ``("linkedin", "urn:li:organization:80001")``, ``("meta_ads", "act_1234")`` or a tracked web property
  ``("web", "cycle-demo")``. An account belongs to at most one workspace. Every served row carries the
  account it belongs to, and a key reads only the rows of its workspace's accounts.
* An **API key** belongs to one workspace and holds scopes (``read``, ``feedback``, ``ingest``,
  ``admin``; ``admin`` implies the others). The key is ``cyk_<key_id>_<secret>``: the 256-bit secret is
  shown once, at creation, and stored only as its SHA-256 (a random secret of that length needs no slow
  hash; the check compares digests in constant time). ``key_id`` is public: it names the key in the
  audit records and in ``cycle keys list``.
* A revoked key stays listed (with ``revoked_at``) so audit records keep naming it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq

from analytics_assets.contracts.serving import ACCOUNTS
from analytics_assets.contracts.sqlite_wal import use_wal

SCOPES = ("read", "feedback", "ingest", "admin")
KEY_PREFIX = "cyk_"
DEFAULT_WORKSPACE = "default"

_KEY = re.compile(r"cyk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})", re.ASCII)
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}", re.ASCII)

_SCHEMA = """
create table if not exists workspaces (
    workspace_id text primary key,
    created_at   text not null
);
create table if not exists workspace_accounts (
    workspace_id text not null references workspaces(workspace_id),
    platform     text not null,
    account_id   text not null,
    added_at     text not null,
    primary key (platform, account_id)
);
create table if not exists api_keys (
    key_id       text primary key,
    workspace_id text not null references workspaces(workspace_id),
    name         text not null,
    scopes       text not null,
    secret_sha256 text not null,
    created_at   text not null,
    revoked_at   text
);
"""


class AccessError(ValueError):
    """A management request that cannot be done (unknown workspace, taken account, bad scope...)."""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    workspace_id: str
    name: str
    scopes: frozenset[str]
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True)
class NewKey:
    """A created key: ``token`` is the only time the secret is ever available."""

    key: ApiKey
    token: str


@dataclass(frozen=True)
class Account:
    platform: str
    account_id: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(scopes: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(s.strip() for s in scopes if s.strip())
    unknown = sorted(chosen - set(SCOPES))
    if unknown:
        raise AccessError(f"unknown scope(s) {', '.join(unknown)}; valid scopes: {', '.join(SCOPES)}")
    if not chosen:
        raise AccessError(f"a key needs at least one scope: {', '.join(SCOPES)}")
    return chosen


def check_workspace_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise AccessError(
            f"invalid workspace name {name!r}: 1-63 characters, lower-case letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    return name


class AccessRegistry:
    """The workspaces, accounts and keys in one SQLite file. Safe to use from many threads: each call
    opens its own short connection (the file is small and lookups are cached by the caller)."""

    def __init__(self, path: Path | str, timeout_s: float = 10.0):
        self.path = Path(path)
        self.timeout_s = timeout_s

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        use_wal(con, self.timeout_s)
        con.execute("pragma foreign_keys=on")
        con.executescript(_SCHEMA)  # create if not exists: cheap, and management calls are rare
        return con

    def exists(self) -> bool:
        return self.path.is_file()

    def version(self) -> tuple[int, ...]:
        """Changes whenever a workspace, account or key changes (the database file's and its WAL's
        modification time and size): the API reloads its ``snapshot()`` when it does."""
        stamp: list[int] = []
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                st = path.stat()
                stamp += [st.st_mtime_ns, st.st_size, st.st_ino]
            except FileNotFoundError:
                stamp += [0, 0, 0]
        return tuple(stamp)

    # -- workspaces and accounts ---------------------------------------------------------------

    def create_workspace(self, workspace_id: str, *, exist_ok: bool = False) -> str:
        check_workspace_name(workspace_id)
        with self._connect() as con:
            try:
                con.execute("insert into workspaces values (?, ?)", (workspace_id, _now()))
            except sqlite3.IntegrityError:
                if not exist_ok:
                    raise AccessError(f"workspace {workspace_id!r} already exists") from None
        return workspace_id

    def workspaces(self) -> list[str]:
        with self._connect() as con:
            return [r[0] for r in con.execute("select workspace_id from workspaces order by workspace_id")]

    def _require_workspace(self, con: sqlite3.Connection, workspace_id: str) -> None:
        if con.execute("select 1 from workspaces where workspace_id = ?", (workspace_id,)).fetchone() is None:
            raise AccessError(f"no workspace {workspace_id!r}; create it with `cycle workspaces create {workspace_id}`")

    def add_accounts(self, workspace_id: str, accounts: Iterable[Account], *, skip_owned: bool = False) -> int:
        """Give ``accounts`` to the workspace. An account another workspace owns is refused (or, with
        ``skip_owned``, left where it is); returns how many accounts were added."""
        added = 0
        with self._connect() as con:
            self._require_workspace(con, workspace_id)
            con.execute("begin immediate")
            for account in accounts:
                if not account.platform or not account.account_id:
                    raise AccessError("an account needs a platform and an account id")
                owner = con.execute(
                    "select workspace_id from workspace_accounts where platform = ? and account_id = ?",
                    (account.platform, account.account_id),
                ).fetchone()
                if owner is not None:
                    if owner[0] == workspace_id or skip_owned:
                        continue
                    con.execute("rollback")
                    raise AccessError(
                        f"account {account.platform}:{account.account_id} already belongs to workspace {owner[0]!r}"
                    )
                con.execute(
                    "insert into workspace_accounts values (?, ?, ?, ?)",
                    (workspace_id, account.platform, account.account_id, _now()),
                )
                added += 1
            con.execute("commit")
        return added

    def remove_account(self, workspace_id: str, account: Account) -> bool:
        with self._connect() as con:
            cur = con.execute(
                "delete from workspace_accounts where workspace_id = ? and platform = ? and account_id = ?",
                (workspace_id, account.platform, account.account_id),
            )
            return cur.rowcount > 0

    def accounts(self, workspace_id: str) -> frozenset[Account]:
        with self._connect() as con:
            rows = con.execute(
                "select platform, account_id from workspace_accounts where workspace_id = ?", (workspace_id,)
            ).fetchall()
        return frozenset(Account(p, a) for p, a in rows)

    # -- keys ---------------------------------------------------------------------------------------

    def create_key(self, workspace_id: str, name: str, scopes: Iterable[str]) -> NewKey:
        chosen = parse_scopes(scopes)
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)  # 43 characters, 256 bits
        created = _now()
        with self._connect() as con:
            self._require_workspace(con, workspace_id)
            con.execute(
                "insert into api_keys values (?, ?, ?, ?, ?, ?, null)",
                (key_id, workspace_id, name or key_id, ",".join(sorted(chosen)), _digest(secret), created),
            )
        key = ApiKey(key_id, workspace_id, name or key_id, chosen, created)
        return NewKey(key, f"{KEY_PREFIX}{key_id}_{secret}")

    def _row(self, row: tuple) -> ApiKey:
        key_id, workspace_id, name, scopes, _digest_hex, created_at, revoked_at = row
        return ApiKey(key_id, workspace_id, name, frozenset(scopes.split(",")), created_at, revoked_at)

    def keys(self, workspace_id: str | None = None) -> list[ApiKey]:
        sql = "select * from api_keys"
        args: tuple = ()
        if workspace_id is not None:
            sql, args = sql + " where workspace_id = ?", (workspace_id,)
        with self._connect() as con:
            return [self._row(r) for r in con.execute(sql + " order by created_at, key_id", args)]

    def revoke_key(self, key_id: str) -> ApiKey:
        with self._connect() as con:
            cur = con.execute(
                "update api_keys set revoked_at = ? where key_id = ? and revoked_at is null", (_now(), key_id)
            )
            row = con.execute("select * from api_keys where key_id = ?", (key_id,)).fetchone()
        if row is None:
            raise AccessError(f"no key {key_id!r}")
        if cur.rowcount == 0:
            raise AccessError(f"key {key_id!r} was already revoked at {row[6]}")
        return self._row(row)

    def snapshot(self) -> AccessSnapshot:
        """Every key and account as of now, in memory: the API authenticates from it and reloads it when
        ``version()`` changes, so a request costs one stat() of the file, not a query."""
        if not self.exists():
            return AccessSnapshot({}, {})
        with self._connect() as con:
            keys = {r[0]: (self._row(r), r[4]) for r in con.execute("select * from api_keys")}
            accounts: dict[str, set[Account]] = {}
            for workspace_id, platform, account_id in con.execute(
                "select workspace_id, platform, account_id from workspace_accounts"
            ):
                accounts.setdefault(workspace_id, set()).add(Account(platform, account_id))
        return AccessSnapshot(keys, {w: frozenset(a) for w, a in accounts.items()})


@dataclass(frozen=True)
class AccessSnapshot:
    keys: dict[str, tuple[ApiKey, str]]  # key_id -> (key, sha256 of its secret)
    accounts_by_workspace: dict[str, frozenset[Account]]

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key ``token`` is, or None (malformed, unknown, wrong secret or revoked)."""
        match = _KEY.fullmatch(token or "")
        if match is None:
            return None
        key_id, secret = match.groups()
        found = self.keys.get(key_id)
        digest = _digest(secret)  # the same work whether or not the key id exists
        if found is None or not hmac.compare_digest(found[1], digest):
            return None
        return found[0] if found[0].active else None

    def accounts(self, workspace_id: str) -> frozenset[Account]:
        return self.accounts_by_workspace.get(workspace_id, frozenset())


# -- the served accounts ----------------------------------------------------------------------------


def served_accounts(serving_dir: Path) -> list[Account]:
    """The accounts in the published snapshot (``accounts.parquet``); none before the first publish."""
    path = serving_dir / ACCOUNTS
    if not path.is_file():
        return []
    table = pq.read_table(path, columns=["platform", "account_id"])
    return [Account(str(p), str(a)) for p, a in zip(*(table.column(c).to_pylist() for c in ("platform", "account_id")))]


def grant_served_accounts(reg: AccessRegistry, serving_dir: Path, workspace: str = DEFAULT_WORKSPACE) -> int:
    """Give ``workspace`` (created if needed) every served account that no workspace owns yet."""
    reg.create_workspace(workspace, exist_ok=True)
    return reg.add_accounts(workspace, served_accounts(serving_dir), skip_owned=True)
