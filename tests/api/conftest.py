"""Fixtures for the API tests (data builders live in api_serving_data.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` without the project installed
    sys.path.insert(0, str(ROOT))


from api_serving_data import api_client, publish  # noqa: E402


# -- fixtures -------------------------------------------------------------------------------------


def pytest_configure(config):
    # starlette>=1.x warns that its httpx-based TestClient is deprecated; the brief asks for httpx.
    config.addinivalue_line("filterwarnings", "ignore:.*httpx.*")


def _client(serving_dir: Path):
    """A client with a read key of workspace ``default``, which owns every account of the test data."""
    return api_client(serving_dir)


@pytest.fixture(scope="session")
def _shared(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame]]:
    d = tmp_path_factory.mktemp("shared") / "serving"
    return d, publish(d, generation=1)


@pytest.fixture(scope="session")
def published(_shared) -> dict[str, pd.DataFrame]:
    """The frames behind `client` (generation 1). Read-only: copy before changing."""
    return _shared[1]


@pytest.fixture(scope="session")
def client(_shared):
    """Client over a published snapshot shared by the read-only tests."""
    return _client(_shared[0])


@pytest.fixture
def serving_dir(tmp_path: Path) -> Path:
    """A private, empty serving directory for tests that (re)publish files."""
    d = tmp_path / "serving"
    d.mkdir()
    return d


@pytest.fixture
def publish_files(serving_dir: Path):
    """publish_files(frames=None, generation=1, manifest=True): atomic publish into `serving_dir`."""

    def _publish(frames=None, *, generation: int = 1, manifest: bool = True):
        return publish(serving_dir, frames, generation=generation, manifest=manifest)

    return _publish


@pytest.fixture
def make_client(serving_dir: Path):
    return lambda: _client(serving_dir)


@pytest.fixture
def empty_client(make_client):
    return make_client()
