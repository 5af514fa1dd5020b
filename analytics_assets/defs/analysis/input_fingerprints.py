"""What makes a stored estimate reusable: the estimate's code and settings, keyed together.

The assets that keep last run's rows for unchanged inputs (``boost_effectiveness``, ``experiment_results``) also
compare the method: a change of the estimating module or of a setting must estimate everything again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType


def method_key(module: ModuleType, settings: object) -> str:
    """The code (``module``'s source) and the settings of an estimate: another version of either is another
    estimate, so nothing stored by the other may be kept."""
    return hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest() + repr(settings)
