"""Session fixtures shared by the end-to-end tests."""

from __future__ import annotations

import os

import pytest

from cycle_testing import E2E_END, E2E_START, CycleHome, new_home


_SESSION_DIR = os.getcwd()


@pytest.fixture(autouse=True)
def _restore_working_directory():
    """dbt run in-process (dbtRunner, in a test or a module fixture) moves to the project folder and stays there:
    every test starts and ends in the session's folder, so no outcome depends on which module ran before it on the
    same worker."""
    os.chdir(_SESSION_DIR)
    yield
    os.chdir(_SESSION_DIR)


def pytest_collection_modifyitems(config, items) -> None:
    """Modules holding a slow test run first, in their usual order (a stable sort). ``make test`` spreads whole
    modules over two workers (``-n 2 --dist loadfile``): started first, the long end-to-end modules overlap with
    everything else, instead of the last of them running alone while the other worker idles."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> tuple[CycleHome, object]:
    """The whole graph materialized for three partitions of a seeded simulator with malformed records."""
    home = new_home(tmp_path_factory.mktemp("cycle_home"))
    result = home.run(E2E_START, E2E_END)
    return home, result
