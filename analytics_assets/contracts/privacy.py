"""Privacy (GDPR) requests: export or erase one person's data, named by their pseudonymous user id.

A person is a tracked visitor of a web property: ``raw_touchpoints.user_id`` (the snippet's ``anonymous_id``)
within one of a workspace's web properties (accounts ``("web", property_id)``, ``contracts.access``). A request
is taken by the API (or ``cycle privacy``) into the API's store (``contracts.inbound.PrivacyRequestStore``) and
carried out by the ``privacy_request_job`` (``defs/privacy``).

An erasure leaves **tombstones** in the warehouse (``raw.raw_privacy_tombstones``): the property and a salted
hash of the user id and of each of their journey ids, never the ids themselves. Every raw load of a table naming
users, and its quarantine, drops the tombstoned people and journeys before it commits (``storage.tombstones``), so
no rerun or backfill brings them back. Each request
leaves one audit row (``raw.raw_privacy_audit``): what was removed or exported per table and file, with counts,
under the same salted hash.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path

from analytics_assets.contracts.raw import DEFAULT_WEB_PROPERTY, RAW_SCHEMA, RAW_TABLES

REQUEST_KINDS = ("erasure", "export")
_ID_PREFIX = {"erasure": "era", "export": "exp"}
REQUEST_ID_PATTERN = r"^(era|exp)_[0-9a-f]{32}$"
# a pseudonymous id as trackers mint them (uuids, anon_..., hashes): printable, no spaces or quotes, bounded, so
# it can be matched exactly inside a JSON payload and never reads as a pattern
USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}$"
_USER_ID = re.compile(USER_ID_PATTERN)
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)

# what a request's status rows say (the store keeps every change; the newest wins)
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
REQUEST_STATUSES = (PENDING, RUNNING, DONE, FAILED)

# the raw tables that name users (their ``user_id`` column), and the keys of their native payloads (kept in the
# quarantine) that do: the tracking snippet's ``anonymous_id`` (parsing maps it to user_id) or a ``user_id``
USER_TABLES = tuple(name for name, table in RAW_TABLES.items() if "user_id" in table.columns)
PAYLOAD_USER_KEYS = ("anonymous_id", "user_id")
PAYLOAD_JOURNEY_KEY = "journey_id"
WEB_PLATFORM = "web"  # the accounts that are web properties (contracts.serving.WEB_PLATFORM)

TOMBSTONES_TABLE = "raw_privacy_tombstones"
# what a tombstone names: the person (their user id) or one of their journeys (a record quarantined for a missing
# user id still names its journey, and a backfill regenerates the same journey ids)
TOMBSTONE_SUBJECTS = ("user", "journey")
TOMBSTONE_COLUMNS = {
    "property_id": "VARCHAR",  # the web property the person was erased from (a null property reads as 'default')
    "subject": "VARCHAR",  # TOMBSTONE_SUBJECTS
    "subject_hash": "VARCHAR",  # user_hash(salt, the user id or the journey id): never the id itself
    "request_id": "VARCHAR",  # the erasure that left it
    "workspace_id": "VARCHAR",
    "requested_at": "TIMESTAMP",
    "recorded_at": "TIMESTAMP",
}
# one row: the installation's secret salt of user_hash (random, written at the first privacy request)
SALT_TABLE = "raw_privacy_salt"
SALT_COLUMNS = {"salt": "VARCHAR", "created_at": "TIMESTAMP"}

AUDIT_TABLE = "raw_privacy_audit"
AUDIT_COLUMNS = {
    "request_id": "VARCHAR",
    "kind": "VARCHAR",  # erasure or export
    "workspace_id": "VARCHAR",
    "property_ids": "VARCHAR",  # JSON list of the web properties the request covered
    "user_hash": "VARCHAR",  # the salted hash, never the user id
    "requested_at": "TIMESTAMP",
    "completed_at": "TIMESTAMP",
    "items": "VARCHAR",  # JSON object: table or file -> rows removed (erasure) or exported (export)
    "rows_total": "BIGINT",
    "export_path": "VARCHAR",  # export: where the file lies
    "run_id": "VARCHAR",
}

EXPORTS_FOLDER = Path("privacy") / "exports"  # under $CYCLE_HOME


def tombstones_qualified() -> str:
    return f"{RAW_SCHEMA}.{TOMBSTONES_TABLE}"


def audit_qualified() -> str:
    return f"{RAW_SCHEMA}.{AUDIT_TABLE}"


def salt_qualified() -> str:
    return f"{RAW_SCHEMA}.{SALT_TABLE}"


def check_user_id(user_id: object) -> str:
    """``user_id`` if it can be a pseudonymous id, else ValueError (the id itself is never echoed)."""
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise ValueError(
            "a user id is 1 to 128 characters: a letter or digit, then letters, digits or any of _ . : @ + -"
        )
    return user_id


def check_request_id(request_id: object) -> str:
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise ValueError("a privacy request id is era_ or exp_ followed by 32 lowercase hex digits")
    return request_id


def new_request_id(kind: str) -> str:
    if kind not in REQUEST_KINDS:
        raise ValueError(f"unknown privacy request kind {kind!r}; expected one of {REQUEST_KINDS}")
    return f"{_ID_PREFIX[kind]}_{uuid.uuid4().hex}"


def user_hash(salt: str, user_id: str) -> str:
    """The salted SHA-256 of ``user_id`` (hex), as SQL computes it: ``sha256(salt || ':' || user_id)``."""
    return hashlib.sha256(f"{salt}:{user_id}".encode()).hexdigest()


def property_of(property_id: object) -> str:
    """A row's web property: a missing one is the deployment's default (as staging reads it)."""
    return DEFAULT_WEB_PROPERTY if property_id is None or property_id != property_id else str(property_id)


def export_file(cycle_home: Path, request_id: str) -> Path:
    return Path(cycle_home) / EXPORTS_FOLDER / f"{check_request_id(request_id)}.json"


__all__ = [
    "AUDIT_COLUMNS",
    "AUDIT_TABLE",
    "DONE",
    "EXPORTS_FOLDER",
    "FAILED",
    "PAYLOAD_JOURNEY_KEY",
    "PAYLOAD_USER_KEYS",
    "PENDING",
    "REQUEST_ID_PATTERN",
    "REQUEST_KINDS",
    "REQUEST_STATUSES",
    "RUNNING",
    "SALT_COLUMNS",
    "SALT_TABLE",
    "TOMBSTONES_TABLE",
    "TOMBSTONE_SUBJECTS",
    "TOMBSTONE_COLUMNS",
    "USER_ID_PATTERN",
    "USER_TABLES",
    "WEB_PLATFORM",
    "check_request_id",
    "check_user_id",
    "export_file",
    "new_request_id",
    "property_of",
    "user_hash",
]
