"""Session fixtures shared by the end-to-end tests."""

from __future__ import annotations

import pytest

from cycle_testing import E2E_END, E2E_START, CycleHome, new_home


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> tuple[CycleHome, object]:
    """The whole graph materialized for three partitions of a seeded simulator with malformed records."""
    home = new_home(tmp_path_factory.mktemp("cycle_home"))
    result = home.run(E2E_START, E2E_END)
    return home, result
