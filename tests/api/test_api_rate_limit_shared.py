"""Rate limits shared across API processes: two app instances (each its own ``AccessControl`` and limiter, as two
uvicorn workers or hosts would have) count one key's requests in one Redis (``$CYCLE_API_RATE_LIMIT_STORAGE``),
so the key gets its limit once, not once per process; a Redis that cannot be reached answers 503, never 500.

A real ``redis-server`` (Debian's, ``make test`` installs it: the Makefile's ``redis-server`` target) is started on
a free port of 127.0.0.1 in a temporary folder. Without it the tests skip, saying why, unless ``CI`` is set: in CI
they must run, so there they fail instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest
from fastapi.testclient import TestClient

from api.auth import rate_limit_storage
from api.main import create_app
from api.settings import RATE_LIMIT_STORAGE_ENV, Settings
from api_serving_data import NOW, make_registry, publish

LIMIT = 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        why = "redis-server not found (Debian: apt-get install redis-server; `make test` installs it)"
        if os.environ.get("CI"):
            pytest.fail(why + ": in CI the shared rate-limit tests must run")
        pytest.skip(why)
    return found


@pytest.fixture(scope="module")
def redis_uri(tmp_path_factory):
    server = _redis_server()
    folder = tmp_path_factory.mktemp("redis")
    port = _free_port()
    # no persistence, loopback only, in the test's own folder
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not answer within 15 s"
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("shared_limits")
    publish(root / "serving")
    tokens = make_registry(root / "access.sqlite3", split=True)
    return root, tokens


def _app(env, monkeypatch, storage: str):
    root, _ = env
    monkeypatch.setenv(RATE_LIMIT_STORAGE_ENV, storage)
    return create_app(root / "serving", webhook_store=root / "inbound.sqlite3", access_store=root / "access.sqlite3",
                      rate_limit=f"{LIMIT}/minute", clock=lambda: NOW)


def _client(app, token: str, address: str) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {token}"}, client=(address, 50000))


def test_two_processes_share_one_keys_limit_in_redis(env, redis_uri, monkeypatch):
    _, tokens = env
    first, second = _app(env, monkeypatch, redis_uri), _app(env, monkeypatch, redis_uri)
    assert first.state.access is not second.state.access  # two limiters, as two workers have
    assert first.state.access.storage_uri == redis_uri
    a, b = _client(first, tokens["acme"], "10.0.0.1"), _client(second, tokens["acme"], "10.0.0.2")
    # the key's requests alternate between the two processes: together they get the limit once
    codes = [(a if i % 2 else b).get("/v1/accounts").status_code for i in range(LIMIT)]
    assert codes == [200] * LIMIT
    for refused in (a.get("/v1/accounts"), b.get("/v1/overview")):
        assert refused.status_code == 429, refused.text
        retry = refused.headers["retry-after"]
        assert retry.isdigit() and 1 <= int(retry) <= 60, retry
    # another key has its own count, in both processes
    other = _client(second, tokens["globex"], "10.0.0.3")
    assert other.get("/v1/accounts").status_code == 200


def test_in_memory_limits_are_per_process(env, monkeypatch):
    """The default (memory://): each process counts alone, which is why a deployment with several names Redis."""
    _, tokens = env
    first, second = _app(env, monkeypatch, "memory://"), _app(env, monkeypatch, "memory://")
    a, b = _client(first, tokens["acme"], "10.0.1.1"), _client(second, tokens["acme"], "10.0.1.2")
    assert [a.get("/v1/accounts").status_code for _ in range(LIMIT)] == [200] * LIMIT
    assert a.get("/v1/accounts").status_code == 429
    assert b.get("/v1/accounts").status_code == 200  # the other process never saw the first's requests


def test_an_unreachable_store_answers_503_and_a_bad_uri_fails_at_start(env, monkeypatch):
    _, tokens = env
    app = _app(env, monkeypatch, f"redis://127.0.0.1:{_free_port()}/0")  # nothing listens there
    refused = _client(app, tokens["acme"], "10.0.2.1").get("/v1/accounts")
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"].isdigit()
    for uri, why in (("mongo+nothing://x", "unknown storage scheme"), ("async+memory://", "moving window")):
        with pytest.raises(ValueError, match=why):
            rate_limit_storage(uri)
    assert Settings.from_env({RATE_LIMIT_STORAGE_ENV: " "}).rate_limit_storage == "memory://"
