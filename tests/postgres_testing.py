"""A throwaway PostgreSQL server for tests: a cluster made with ``initdb`` in a temporary folder, listening on
127.0.0.1 only, on a free port, with trust authentication, stopped and deleted afterwards. Uses the server
binaries of the machine (``CYCLE_PG_BIN``, else ``pg_config --bindir``, else the newest
``/usr/lib/postgresql/<version>/bin``); nothing is installed or left running. A uniquely named module (see
cycle_testing.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# a server that only serves one test run: durability buys nothing there and costs seconds of fsync
_FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "timezone": "UTC"}
_SERVICE_USER = "postgres"  # who runs the server when the tests run as root (initdb refuses root)


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started here (binaries missing, or initdb/pg_ctl failed)."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    dbname: str

    @property
    def dsn(self) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={self.dbname}"

    def dbt_env(self, schema: str) -> dict[str, str]:
        """What dbt/profiles.yml's postgres output reads."""
        return {
            "CYCLE_DBT_TARGET": "postgres",
            "CYCLE_PG_HOST": self.host,
            "CYCLE_PG_PORT": str(self.port),
            "CYCLE_PG_USER": self.user,
            "CYCLE_PG_PASSWORD": "",
            "CYCLE_PG_DBNAME": self.dbname,
            "CYCLE_PG_SCHEMA": schema,
            "CYCLE_PG_THREADS": "4",
        }


def postgres_bindir() -> Path:
    candidates = []
    if os.environ.get("CYCLE_PG_BIN"):
        candidates.append(Path(os.environ["CYCLE_PG_BIN"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(subprocess.CalledProcessError, OSError):
            candidates.append(Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    candidates.extend(reversed(versions))
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise PostgresUnavailable("no PostgreSQL server binaries (initdb, pg_ctl): set CYCLE_PG_BIN or install postgresql")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_service_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    # runuser lives in sbin, which a minimal PATH (CI's env -i, cron) leaves out
    runuser = shutil.which("runuser", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if runuser is None:
        raise PostgresUnavailable("running as root and no runuser to start PostgreSQL as another user")
    return [runuser, "-u", _SERVICE_USER, "--", *command]


_PREFIX = "cycle-pg-"
_OWNER_FILE = "owner.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a killed process nobody has reaped yet (a zombie) still answers signal 0
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _stop_orphans(bindir: Path) -> None:
    """Stop and delete the clusters of earlier test processes that were killed before their cleanup ran (a
    timeout's SIGTERM skips it): each cluster folder records the process that started it."""
    for root in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        try:
            owner = int((root / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        subprocess.run(
            _as_service_user([str(bindir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def running_postgres(dbname: str = "cycle", user: str = "cycle") -> Iterator[PostgresServer]:
    """A PostgreSQL server with database ``dbname`` owned by superuser ``user`` for the duration of the block,
    its cluster in a new folder under the system's temporary folder (not pytest's: that one is private to the
    test user, and as root the server runs as another user), deleted afterwards. Raises PostgresUnavailable
    when it cannot start."""
    bindir = postgres_bindir()
    _stop_orphans(bindir)
    root = Path(tempfile.mkdtemp(prefix=_PREFIX))
    (root / _OWNER_FILE).write_text(str(os.getpid()))
    data, sockets, log = root / "data", root / "sockets", root / "postgres.log"
    sockets.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(root, _SERVICE_USER)
        shutil.chown(sockets, _SERVICE_USER)

    def run(*command: str) -> None:
        done = subprocess.run(_as_service_user(list(command)), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            server_log = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(f"{' '.join(command[:2])} failed ({done.returncode}): {done.stderr.strip()}\n{server_log}")

    run(str(bindir / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
    port = _free_port()
    options = " ".join(
        [f"-p {port}", "-c listen_addresses=127.0.0.1", f"-k {sockets}"] + [f"-c {k}={v}" for k, v in _FAST_SETTINGS.items()]
    )
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start")
    try:
        server = PostgresServer(host="127.0.0.1", port=port, user=user, dbname=dbname)
        import psycopg2

        con = psycopg2.connect(host=server.host, port=port, user=user, dbname="postgres")
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f'create database "{dbname}"')
        finally:
            con.close()
        yield server
    finally:
        subprocess.run(
            _as_service_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def server_for_module(dbname: str = "cycle") -> Iterator[PostgresServer]:
    """The body of a module-scoped fixture: a running server for the module's tests; without one the tests are
    skipped on a developer machine and fail under CI (env CI set), where the binaries must be there."""
    import pytest

    try:
        with running_postgres(dbname=dbname) as server:
            yield server
    except PostgresUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL could not start under CI: {error}")
        pytest.skip(f"no PostgreSQL here: {error}")
