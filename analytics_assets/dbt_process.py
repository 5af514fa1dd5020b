"""``cycle-dbt``: dbt, started so that it dies with the process that started it.

dagster-dbt runs ``dbt build`` as a subprocess. When the run's process is killed (``kill -9``, the OOM
killer), an ordinary child outlives it and keeps the DuckDB file locked for as long as its build takes, so
the next run fails on the lock. This entry point asks the kernel to kill it when its parent dies
(``PR_SET_PDEATHSIG``, kept across ``exec``), then becomes dbt itself: same arguments, same output.

A module of its own at the top of the package, importing nothing of Cycle: the request must be in place
within milliseconds of the fork, before anything slow (importing Dagster) could leave a window in which
the parent dies unnoticed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def real_dbt() -> str:
    return str(Path(sys.executable).with_name("dbt"))


def main() -> None:
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: dbt outlives a killed parent, as plain dbt does
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        sys.exit(1)
    dbt = real_dbt()
    os.execv(dbt, [dbt, *sys.argv[1:]])


if __name__ == "__main__":
    main()
