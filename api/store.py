"""Read access to the serving snapshot published by the ``serving_snapshot`` Dagster asset.

The publisher writes each file to a temporary name in the serving directory and ``os.replace``s it
into place, so a file path always points at one complete file. That alone is not enough for a
reader that opens the path more than once per query: DuckDB's ``read_parquet(path)`` reads the
footer when binding the query and opens the path again when executing it, so a replacement in
between mixes two generations (wrong rows, "corrupt statistics" errors, and with DuckDB's external
file cache even a segfault; see tests/api/test_api_concurrency.py). This store therefore opens each
file exactly once per load, reads its bytes through that single handle, and lets an in-memory
DuckDB query the resulting Arrow table with bound parameters. The DuckDB connection has no file
system access at all (``enable_external_access = false``) and one thread; every request runs on a
fresh cursor, which makes concurrent requests safe.

Integrity: the manifest names each file's size and SHA-256 (``contracts.serving``). A file is verified
against them when it is loaded (its bytes are read once, through one handle) and a mismatch is refused
(``ServingFileInvalid``, 503) rather than served with silently different numbers. A verified file is kept
in memory, keyed by its checksum, and served until the manifest names another checksum: each file is
read once per published snapshot. When the file on disk is then missing, unreadable or not the one the
manifest names, the store answers from that last verified copy (with a warning) where it has one. A reader
with no verified copy that finds a file just replaced and not yet named by the manifest (a publish under
way: data files first, manifest last) waits up to ``publish_wait_s`` for the manifest that names it.
A file that a manifest from before checksums lists, or that no manifest lists (or an unreadable manifest,
when there is no verified copy), is read on every request and served unverified, as before.

The manifest itself is revalidated by ``stat()``: it is read again only when its inode, size, modification or
change time differ from the copy in memory (or when that copy was read so soon after the file was written that
a replacement within the file system's timestamp granularity could look the same). ``snapshot_version()``
names what the answers depend on, for the response cache (``api/cache.py``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

from analytics_assets.contracts.access import Account
from analytics_assets.contracts.serving import (  # noqa: F401 (re-exported for the API's modules)
    ACCOUNT_COLUMNS,
    ASSET_STATUS,
    MANIFEST,
    SERVED_TABLES,
    SERVING_FILES,
    QUALITY_GATE,
    PublishedFile,
    parse_manifest,
    sha256_hex,
)

DATA_FILES = tuple(name for name in SERVING_FILES if name != MANIFEST)
_SERVED = tuple(t.file for t in SERVED_TABLES)  # what the data routes read
# How long a reader without a verified copy waits for the manifest that names a file it found replaced
# (the publisher replaces the data files first and the manifest last).
PUBLISH_WAIT_S = 2.0
_POLL_S = 0.01
# How long /health's file check goes on checking against the manifests of publishes that follow one another
MAX_CHECK_WAIT_S = 10.0
# A manifest whose modification or change time is this close to the moment it was read is read again on the
# next call rather than trusted on its stat(): a replacement within the file system's timestamp granularity
# (coarse clocks, 1-2 s on some file systems) could otherwise keep the same stat (the "racy git" problem).
RACY_NS = 2_000_000_000

PUBLISH_HINT = (
    "Run `make demo`, or materialize the `serving_snapshot` Dagster asset, to publish the serving "
    "files (the API reads them from $CYCLE_SERVING_DIR, default data/serving)."
)


class ServingFileMissing(Exception):
    """A serving file has not been published (yet)."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"Serving file '{name}' has not been published yet. {PUBLISH_HINT}")


class ServingFileInvalid(Exception):
    """A serving file exists but cannot be read or does not follow the contract."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(
            f"Serving file '{name}' is unreadable or does not match the serving contract ({reason}). "
            "Re-materialize the `serving_snapshot` asset to republish it."
        )


class SnapshotNotPinned(Exception):
    """Files cannot be shown to come from one published snapshot: no manifest names their checksums."""

    def __init__(self, names: Sequence[str]):
        self.names = tuple(names)
        super().__init__(
            f"{', '.join(self.names)}: no {MANIFEST} names their checksums, so they cannot be read from one published "
            "snapshot. Re-materialize the `serving_snapshot` asset to publish a current manifest."
        )


@dataclass(frozen=True)
class Manifest:
    published_at: datetime | None
    files: dict[str, int | None]  # row counts
    entries: dict[str, PublishedFile] = field(default_factory=dict)  # rows, bytes and sha256 per file


@dataclass(frozen=True)
class FileCheck:
    """What /health reports for one serving file."""

    name: str
    # ok: matches the manifest; unverified: readable, but the manifest names no checksum for it;
    # not_published: neither in the manifest nor on disk; missing | unreadable | mismatch: broken
    status: str
    rows: int | None = None  # from the manifest
    size: int | None = None
    sha256: str | None = None
    detail: str | None = None

    @property
    def broken(self) -> bool:
        return self.status in ("missing", "unreadable", "mismatch")


@dataclass(frozen=True)
class _Read:
    """A file's bytes, read through one handle, and its modification time (epoch seconds)."""

    data: bytes
    mtime: float


@dataclass(frozen=True)
class _Verified:
    sha256: str | None  # None: a file the manifest names no checksum for, not cached
    table: pa.Table


@dataclass(frozen=True)
class _ManifestCopy:
    """The manifest as last read: its bytes (through one handle), what ``fstat`` said of that handle, and
    whether that stat may stand for the bytes on later calls."""

    raw: bytes
    manifest: Manifest
    sha256: str
    stat: tuple[int, ...]
    trusted: bool  # written long enough before it was read (RACY_NS) for its stat to identify it

    @property
    def cacheable(self) -> bool:
        """It lists every file the data routes read, and each file it lists with its checksum (a file it does
        not name, or names without a checksum, is read on every request: its answers may change meanwhile)."""
        entries = self.manifest.entries
        return all(name in entries for name in _SERVED) and all(e.verifiable for e in entries.values())


def _stat_key(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _utc(value: datetime | None) -> datetime | None:
    """Naive timestamps in the serving files mean UTC; make that explicit."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _clean(value: Any) -> Any:
    """NaN/inf are not valid JSON; report them as missing values."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return _utc(value)
    return value


def _naive_utc_timestamps(table: pa.Table) -> pa.Table:
    """The contract's timestamps are naive UTC; a time-zone-aware column is made naive the same way
    (Arrow stores UTC instants, so dropping the zone keeps UTC wall time)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = table.column(i).cast(pa.timestamp(field.type.unit))
            table = table.set_column(i, pa.field(field.name, naive.type), naive)
    return table


# Each query selects (and casts) exactly the contract's columns, so extra columns are ignored and a
# missing column is reported as a contract violation rather than a server error.
_ASSET_STATUS_SQL = """
SELECT
    CAST(asset_key AS VARCHAR)               AS asset_key,
    CAST(last_materialized_at AS TIMESTAMP)  AS last_materialized_at,
    CAST(last_partition AS VARCHAR)          AS last_partition,
    CAST(run_id AS VARCHAR)                  AS run_id
FROM src
WHERE asset_key IS NOT NULL
QUALIFY row_number() OVER (
    PARTITION BY asset_key ORDER BY last_materialized_at DESC NULLS LAST
) = 1
ORDER BY asset_key
"""

class ServingStore:
    """Reads the serving snapshot. Thread-safe; one instance per app."""

    def __init__(self, serving_dir: Path, *, memory_limit: str = "256MB", publish_wait_s: float = PUBLISH_WAIT_S):
        self.serving_dir = Path(serving_dir)
        self.publish_wait_s = publish_wait_s
        self._con = duckdb.connect(
            ":memory:",
            config={
                "threads": 1,
                "memory_limit": memory_limit,
                # Files are read by this module, never by DuckDB (see module docstring).
                "enable_external_access": False,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            },
        )
        try:  # TIMESTAMPTZ columns (if a publisher ever writes them) are converted in UTC
            self._con.execute("SET TimeZone = 'UTC'")
        except duckdb.Error:  # builds without ICU have no time zones and already use UTC
            pass
        self._cursor_lock = threading.Lock()
        self._state_lock = threading.Lock()  # guards the two caches below
        self._manifest_copy: _ManifestCopy | None = None
        # loads that served something other than the current manifest's verified files (unverified reads,
        # last verified copies): answers computed meanwhile are not a function of the manifest alone
        self._degraded = 0
        self._verified: dict[str, _Verified] = {}  # last verified copy of each file
        self._indexes: dict[tuple[str, str | None], tuple[pa.Table, dict[Account, np.ndarray]]] = {}

    def close(self) -> None:
        self._con.close()

    def path(self, name: str) -> Path:
        return self.serving_dir / name

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    # -- low level -----------------------------------------------------------------------------

    def _read(self, name: str) -> _Read:
        # One open() per load: whatever os.replace does meanwhile, these bytes are one file.
        try:
            with open(self.path(name), "rb") as fh:
                mtime = os.fstat(fh.fileno()).st_mtime
                return _Read(fh.read(), mtime)
        except (FileNotFoundError, NotADirectoryError):
            raise ServingFileMissing(name) from None
        except OSError as exc:
            log.warning("cannot read serving file %s: %s", self.path(name), exc)
            raise ServingFileInvalid(name, f"cannot be read: {exc.strerror or exc}") from None

    def _parse(self, name: str, data: bytes) -> pa.Table:
        try:
            table = pq.ParquetFile(pa.BufferReader(data)).read(use_pandas_metadata=False)
        except (pa.ArrowException, OSError, ValueError) as exc:
            log.warning("invalid parquet file %s: %s", self.path(name), exc)
            raise ServingFileInvalid(name, "not a valid Parquet file") from None
        return _naive_utc_timestamps(table)

    def quality_gate(self) -> dict[str, Any] | None:
        """The quality gate's state at the last serving run (``None`` before the first): a failed gate kept
        the previous snapshot in place instead of publishing data whose blocking checks failed."""
        try:
            doc = json.loads(self._read(QUALITY_GATE).data)
        except ServingFileMissing:
            return None
        except (ServingFileInvalid, ValueError) as exc:
            return {"status": "unreadable", "failed_checks": [], "detail": str(exc)}
        return doc if isinstance(doc, dict) else {"status": "unreadable", "failed_checks": []}

    # -- verified loading ------------------------------------------------------------------------

    def _entry(self, name: str, good: _Verified | None) -> PublishedFile | None:
        """The current manifest's entry for ``name``; None when there is nothing to verify against
        (no manifest, a file it does not list, or a manifest from before checksums). An invalid manifest
        raises when there is a verified copy to answer from instead, else it is read as no manifest."""
        try:
            manifest = self.manifest()
        except ServingFileMissing:
            return None
        except ServingFileInvalid as exc:
            if good is not None:
                raise
            log.warning("cannot verify serving file %s: %s", self.path(name), exc.reason)
            return None
        entry = manifest.entries.get(name)
        return entry if entry is not None and entry.verifiable else None

    def _accept(self, name: str, entry: PublishedFile, data: bytes) -> _Verified:
        """Keep ``data``, which matches ``entry``'s size and checksum, as the verified copy of ``name``."""
        table = self._parse(name, data)
        if entry.rows is not None and table.num_rows != entry.rows:
            raise ServingFileInvalid(name, f"{table.num_rows} rows, {MANIFEST} says {entry.rows}")
        verified = _Verified(str(entry.sha256), table)
        with self._state_lock:
            self._verified[name] = verified
        return verified

    def _load_verified(self, name: str, good: _Verified | None) -> _Verified:
        deadline: float | None = None
        while True:
            entry = self._entry(name, good)
            if entry is None:  # unverified, read on every request as before checksums
                return _Verified(None, self._parse(name, self._read(name).data))
            if good is not None and good.sha256 == entry.sha256:
                return good  # verified when this snapshot was first read
            read = self._read(name)
            problem = entry.mismatch(read.data)
            if problem is None:
                return self._accept(name, entry, read.data)
            if good is not None:  # answer from it now rather than wait (see _load)
                raise ServingFileInvalid(name, f"does not match {MANIFEST}: {problem}")
            # Nothing verified to answer from yet. A publish may be under way (the data files are replaced
            # first, the manifest last): wait a little for a manifest that names these bytes. A file that
            # was replaced longer than publish_wait_s ago is not being published.
            if deadline is None:
                deadline = min(read.mtime, time.time()) + self.publish_wait_s
            newer = entry
            while newer is not None and newer.sha256 == entry.sha256:
                if time.time() >= deadline:
                    raise ServingFileInvalid(name, f"does not match {MANIFEST}: {problem}")
                time.sleep(_POLL_S)
                newer = self._entry(name, None)
            if newer is not None and newer.mismatch(read.data) is None:
                return self._accept(name, newer, read.data)
            # the manifest changed, but not to these bytes: read the file again

    def _load(self, name: str) -> _Verified:
        """The table in ``name``, verified against the manifest where it names a checksum (``sha256`` None:
        served unverified, read again on every request)."""
        with self._state_lock:
            good = self._verified.get(name)
        try:
            loaded = self._load_verified(name, good)
        except (ServingFileMissing, ServingFileInvalid) as exc:
            if good is None:
                raise
            self._degrade()
            log.warning(
                "serving file %s: %s; answering from its last verified copy (sha256 %s)",
                self.path(name), getattr(exc, "reason", exc), good.sha256,
            )
            return good
        if loaded.sha256 is None:
            self._degrade()
        return loaded

    def _degrade(self) -> None:
        with self._state_lock:
            self._degraded += 1

    def _run(self, name: str, table: pa.Table, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._cursor_lock:  # creating a cursor on a shared connection is not thread-safe
            cur = self._con.cursor()
        try:
            cur.register("src", table)
            result = cur.execute(sql, params)
            columns = [d[0] for d in result.description]
            temporal = [i for i, d in enumerate(result.description) if str(d[1]).upper().startswith(("DATE", "TIMESTAMP"))]
            rows = result.fetchall()
        except duckdb.Error as exc:
            log.warning("query on serving file %s failed: %s", self.path(name), exc)
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ServingFileInvalid(name, reason) from None
        finally:
            cur.close()
        for row in rows:  # DuckDB returns a date or time outside Python's calendar (a damaged file) as text
            for i in temporal:
                if isinstance(row[i], str):
                    raise ServingFileInvalid(name, f"{columns[i]} holds {row[i]!r}, outside the calendar")
        return [{c: _clean(v) for c, v in zip(columns, row)} for row in rows]

    def _query(self, name: str, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self._run(name, self._load(name).table, sql, params)

    def _manifest_or_none(self) -> _ManifestCopy | None:
        try:
            return self._current_manifest()
        except (ServingFileMissing, ServingFileInvalid):
            return None

    def _load_together(self, names: Sequence[str]) -> dict[str, _Verified]:
        """Each of ``names`` loaded as ``_load`` does, every one of them the file one and the same manifest
        names: the manifest is read before and after the loads, and a publish in between (a new manifest)
        loads them again, for up to ``publish_wait_s``. Files are cached per checksum, so a retry reads from
        disk only what the new snapshot changed. Where nothing names the files' checksums (no manifest, one
        from before checksums) there is nothing to pin to: ``SnapshotNotPinned``, for the caller to answer
        from one file alone or say why it cannot. A file whose checksum differs from a manifest that did not change is damaged on disk (``_load``
        answered from its last verified copy, of another snapshot): ``ServingFileInvalid`` at once."""
        deadline = time.time() + self.publish_wait_s
        while True:
            before = self._manifest_or_none()
            loaded = {name: self._load(name) for name in names}
            after = self._manifest_or_none()
            entries = before.manifest.entries if before is not None else {}
            unpinned = [name for name in names if name not in entries or not entries[name].verifiable]
            if after is None or unpinned:
                raise SnapshotNotPinned(unpinned or list(names))
            if before.sha256 == after.sha256:
                stale = [name for name in names if loaded[name].sha256 != entries[name].sha256]
                if not stale:
                    return loaded
                # _load answered from a copy of another snapshot: the file on disk is not the one the manifest
                # names. Replaced less than publish_wait_s ago, it belongs to a publish under way (data files
                # first, the manifest last): wait for that manifest. Replaced earlier, it is damaged.
                if not self._replaced_within(stale, self.publish_wait_s):
                    raise ServingFileInvalid(
                        stale[0], f"does not match {MANIFEST}, and its last verified copy belongs to another snapshot"
                    )
            if time.time() >= deadline:  # republished again and again meanwhile: not one snapshot to answer from
                raise ServingFileInvalid(names[0], "the snapshot was republished while it was read; retry")
            time.sleep(_POLL_S)

    def _replaced_within(self, names: Sequence[str], seconds: float) -> bool:
        """Whether any of ``names`` was written less than ``seconds`` ago (a missing file: no)."""
        now = time.time()
        for name in names:
            try:
                if now - self.path(name).stat().st_mtime < seconds:
                    return True
            except OSError:
                continue
        return False

    # -- one workspace's rows --------------------------------------------------------------------

    def _account_index(self, name: str, loaded: _Verified) -> dict[Account, np.ndarray]:
        """Row positions per account of a loaded file, computed once per verified snapshot."""
        key = (name, loaded.sha256)
        if loaded.sha256 is not None:
            with self._state_lock:
                cached = self._indexes.get(key)
            if cached is not None and cached[0] is loaded.table:
                return cached[1]
        missing = [c for c in ACCOUNT_COLUMNS if c not in loaded.table.column_names]
        if missing:
            raise ServingFileInvalid(name, f"no {', '.join(missing)} column: every served row must name its account")
        try:  # without the file's pandas metadata, which the API never uses (damaged, it fails the conversion)
            frame = loaded.table.select(list(ACCOUNT_COLUMNS)).replace_schema_metadata(None).to_pandas()
        except (pa.ArrowException, ValueError) as exc:  # e.g. invalid UTF-8 in a damaged file's strings
            log.warning("serving file %s: account columns unreadable: %s", self.path(name), exc)
            raise ServingFileInvalid(name, "its account columns cannot be read") from None
        index = {
            Account(str(platform), str(account)): rows
            for (platform, account), rows in frame.groupby(list(ACCOUNT_COLUMNS), dropna=True, sort=False).indices.items()
        }
        if loaded.sha256 is not None:
            with self._state_lock:
                self._indexes = {k: v for k, v in self._indexes.items() if k[0] != name}  # one snapshot per file
                self._indexes[key] = (loaded.table, index)
        return index

    def scoped(self, name: str, accounts: frozenset[Account]) -> pa.Table:
        """The rows of ``name`` that belong to ``accounts`` (a workspace's), in file order."""
        return self._scope(name, self._load(name), accounts)

    def scoped_together(self, names: Sequence[str], accounts: frozenset[Account]) -> dict[str, pa.Table]:
        """The workspace's rows of each of ``names``, all from one published snapshot (``_load_together``):
        for an answer that combines two files, which must never pair one generation with another."""
        loaded = self._load_together(names)
        return {name: self._scope(name, loaded[name], accounts) for name in names}

    def run(self, name: str, table: pa.Table, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run ``sql`` over ``table`` (registered as ``src``; a table of ``name`` from ``scoped_together``)."""
        return self._run(name, table, sql, params or {})

    def _scope(self, name: str, loaded: _Verified, accounts: frozenset[Account]) -> pa.Table:
        index = self._account_index(name, loaded)
        positions = [index[a] for a in accounts if a in index]
        if not positions:
            return loaded.table.slice(0, 0)
        return loaded.table.take(pa.array(np.sort(np.concatenate(positions))))

    def scoped_query(
        self, name: str, accounts: frozenset[Account], sql: str, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run ``sql`` over the workspace's rows of ``name`` (registered as ``src``), parameters bound."""
        return self._run(name, self.scoped(name, accounts), sql, params or {})

    # -- serving files ---------------------------------------------------------------------------

    def manifest(self) -> Manifest:
        """The current manifest: read again only when its ``stat()`` has changed (see ``_manifest_copy``)."""
        return self._current_manifest().manifest

    def _current_manifest(self) -> _ManifestCopy:
        path = self.path(MANIFEST)
        copy = self._manifest_copy
        if copy is not None and copy.trusted:
            try:
                unchanged = _stat_key(os.stat(path)) == copy.stat
            except (FileNotFoundError, NotADirectoryError):
                raise ServingFileMissing(MANIFEST) from None
            except OSError:
                unchanged = False  # read it to report why
            if unchanged:
                return copy
        read_at = time.time_ns()
        try:  # the bytes and their stat through one handle: they describe one file
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                raw = fh.read()
        except (FileNotFoundError, NotADirectoryError):
            raise ServingFileMissing(MANIFEST) from None
        except OSError as exc:
            log.warning("cannot read serving file %s: %s", path, exc)
            raise ServingFileInvalid(MANIFEST, f"cannot be read: {exc.strerror or exc}") from None
        trusted = max(st.st_mtime_ns, st.st_ctime_ns) < read_at - RACY_NS
        if copy is not None and copy.raw == raw:
            manifest, digest = copy.manifest, copy.sha256
        else:
            try:
                parsed = parse_manifest(raw)
            except (ValueError, TypeError, AttributeError) as exc:  # JSONDecodeError is a ValueError
                raise ServingFileInvalid(MANIFEST, f"invalid manifest: {exc}") from None
            manifest = Manifest(
                published_at=parsed.published_at,
                files={name: f.rows for name, f in parsed.files.items()},
                entries=dict(parsed.files),
            )
            digest = sha256_hex(raw)
        fresh = _ManifestCopy(raw, manifest, digest, _stat_key(st), trusted)
        self._manifest_copy = fresh  # one reference, replaced whole: a reader sees one copy or the other
        return fresh

    def snapshot_version(self) -> tuple[str, int] | None:
        """What every answer drawn from the snapshot depends on, for response caches: the manifest's SHA-256
        and the count of degraded loads (an unverified file, or a last verified copy served in place of a
        file that does not match). None when answers are no function of the manifest: nothing published, an
        unreadable manifest, or one that lacks a served file or names a file without its checksum. Costs one
        ``stat()``."""
        try:
            copy = self._current_manifest()
        except (ServingFileMissing, ServingFileInvalid):
            return None
        if not copy.cacheable:
            return None
        return copy.sha256, self._degraded

    # -- health ------------------------------------------------------------------------------------

    def _check(self, name: str, entry: PublishedFile | None) -> tuple[FileCheck, float | None]:
        """The file on disk against its manifest entry; also its modification time when it was read."""
        info = {} if entry is None else {"rows": entry.rows, "size": entry.size, "sha256": entry.sha256}
        try:
            read = self._read(name)
        except ServingFileMissing:
            if entry is None:
                return FileCheck(name, "not_published", detail=f"not in {MANIFEST} and not on disk"), None
            return FileCheck(name, "missing", **info, detail=f"listed in {MANIFEST} but missing"), None
        except ServingFileInvalid as exc:
            return FileCheck(name, "unreadable", **info, detail=exc.reason), None
        if entry is not None and entry.verifiable:
            problem = entry.mismatch(read.data)
            if problem is not None:
                return FileCheck(name, "mismatch", **info, detail=f"does not match {MANIFEST}: {problem}"), read.mtime
        if not name.endswith(".parquet"):  # a page published as is (the drift report): its bytes are all to check
            if entry is None or not entry.verifiable:
                why = f"not listed in {MANIFEST}" if entry is None else f"{MANIFEST} names no checksum"
                return FileCheck(name, "unverified", **info, detail=f"readable; {why}"), read.mtime
            return FileCheck(name, "ok", **info), read.mtime
        try:
            rows = pq.ParquetFile(pa.BufferReader(read.data)).metadata.num_rows
        except (pa.ArrowException, OSError, ValueError):
            return FileCheck(name, "unreadable", **info, detail="not a valid Parquet file"), read.mtime
        if entry is None or not entry.verifiable:
            why = f"not listed in {MANIFEST}" if entry is None else f"{MANIFEST} names no checksum"
            return FileCheck(name, "unverified", **info, detail=f"readable ({rows} rows); {why}"), read.mtime
        if entry.rows is not None and rows != entry.rows:
            return FileCheck(name, "mismatch", **info, detail=f"{rows} rows, {MANIFEST} says {entry.rows}"), read.mtime
        return FileCheck(name, "ok", **info), read.mtime

    def check_files(self) -> tuple[Manifest, list[FileCheck]]:
        """Check every file the API serves and every file the manifest lists against the manifest:
        present, readable, and (where the manifest names them) of the published size and checksum.
        Raises like ``manifest()`` when the manifest itself is missing or invalid."""
        manifest = self.manifest()
        give_up = time.time() + MAX_CHECK_WAIT_S
        while True:
            names = [*DATA_FILES, *sorted(n for n in manifest.entries if n not in DATA_FILES and n != MANIFEST)]
            results = [self._check(name, manifest.entries.get(name)) for name in names]
            replaced = [mtime for check, mtime in results if check.status == "mismatch" and mtime is not None]
            if not replaced:
                break
            # A file replaced just now may belong to a publish under way: wait a little for its manifest (and
            # check again against it, however many publishes follow, for up to MAX_CHECK_WAIT_S in all).
            deadline = min(min(max(replaced), time.time()) + self.publish_wait_s, give_up)
            newer = manifest
            while newer is manifest and time.time() < deadline:
                time.sleep(_POLL_S)
                newer = self.manifest()
            if newer is manifest:
                break
            manifest = newer
        return manifest, [check for check, _ in results]

    def published_bytes(self, name: str) -> bytes:
        """A file published as is, not a table (the drift report page): its bytes, read through one handle and
        verified against the manifest. ``ServingFileMissing`` when the manifest does not name it (none is
        published); a file replaced by a publish under way (files first, the manifest last) is waited for up to
        ``publish_wait_s``, then refused (``ServingFileInvalid``) rather than served unverified."""
        deadline = time.time() + self.publish_wait_s
        while True:
            entry = self.manifest().entries.get(name)
            if entry is None:
                raise ServingFileMissing(name)
            data = self._read(name).data
            problem = entry.mismatch(data)
            if problem is None:
                return data
            if time.time() >= deadline:
                raise ServingFileInvalid(name, f"does not match {MANIFEST}: {problem}")
            time.sleep(_POLL_S)

    def asset_status(self) -> list[dict[str, Any]]:
        return self._query(ASSET_STATUS, _ASSET_STATUS_SQL, {})

    def query(self, name: str, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run ``sql`` over the serving file ``name`` (registered as ``src``) with bound parameters:
        for endpoints that keep their own serving contract in their own module (api/overview.py)."""
        return self._query(name, sql, params or {})
