"""Session fixtures shared by the end-to-end tests."""

from __future__ import annotations

import os

import pytest

import module_seconds
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
    """Modules run longest first (a stable sort: a module's tests keep their order), by the seconds each took in
    a measured run (``tests/module_seconds.json``, see tests/module_seconds.py); a module missing from those
    figures counts as long when it holds a slow test. ``make test`` spreads whole modules over two workers
    (``-n 2 --dist loadfile --no-loadscope-reorder``) in this order: the long end-to-end modules overlap with
    each other and with everything else, and the last minutes are short modules on both workers instead of one
    long module alone. (xdist's default reorders modules by their number of tests, which put the long
    single-test modules last.)"""
    seconds = module_seconds.load()
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}

    def cost(item) -> float:
        module = item.nodeid.split("::")[0]
        return seconds.get(module, module_seconds.UNKNOWN_SLOW if module in slow else module_seconds.UNKNOWN)

    items.sort(key=lambda item: -cost(item))


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> tuple[CycleHome, object]:
    """The whole graph materialized for three partitions of a seeded simulator with malformed records."""
    home = new_home(tmp_path_factory.mktemp("cycle_home"))
    result = home.run(E2E_START, E2E_END)
    return home, result
