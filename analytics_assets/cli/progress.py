"""A quiet terminal for long CLI runs: one line per finished step, everything else in a log file.

Dagster's event log (DEBUG events included), dbt's progress lines, MLflow's and the libraries' warnings all
go to ``$CYCLE_HOME/logs/cycle-<command>-<UTC time>.log``, whose path is printed once. The terminal gets one
line per step as it finishes (read from the run's event log on the instance, the same records the UI shows),
and a failed step's name and error with the log's path, enough to act on without opening the file.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TextIO

from rich.console import Console

from analytics_assets.settings import load_settings

# how often the monitor reads the run's new step events (a step takes seconds to minutes)
POLL_SECONDS = 0.5


def log_path(command: str) -> Path:
    """A new log file's path for ``command`` under the Cycle home (one file per invocation)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    directory = load_settings().cycle_home / "logs"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"cycle-{command}-{stamp}.log"


class QuietRun:
    """Send this process's output to a log file and keep a console on the real terminal.

    ``with QuietRun("demo") as quiet:`` redirects ``sys.stdout`` and ``sys.stderr`` to the file (Dagster's
    console logger, dagster-dbt's echo of dbt's lines and Python warnings all resolve them when they write);
    ``quiet.console`` still writes to the terminal. The file stays open until the process exits, since
    loggers created during the run keep a reference to it.
    """

    def __init__(self, command: str) -> None:
        self.path = log_path(command)
        self._file: IO[str] | None = None
        self._terminal_out: TextIO = sys.stdout
        self._terminal_err: TextIO = sys.stderr
        self.console = Console(file=self._terminal_out, highlight=False, soft_wrap=True)
        self.errors = Console(file=self._terminal_err, highlight=False, soft_wrap=True)

    def __enter__(self) -> QuietRun:
        self._file = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (closed at exit)
        atexit.register(self.close)
        self.console.print(f"cycle: full log in {self.path}")
        return self

    @contextlib.contextmanager
    def redirected(self) -> Iterator[None]:
        """Everything written to sys.stdout / sys.stderr inside the block goes to the log file."""
        assert self._file is not None, "use QuietRun as a context manager"
        with contextlib.redirect_stdout(self._file), contextlib.redirect_stderr(self._file):
            yield

    def note(self, text: str) -> None:
        """A line for the log file only (what the terminal saw, for the record)."""
        if self._file is not None and not self._file.closed:
            self._file.write(text + "\n")

    def __exit__(self, *exc: object) -> None:
        # flushed, not closed: a logging handler made during the run may still write to it (it is closed at exit)
        if self._file is not None and not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.flush()
            self._file.close()


def _duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


class StepMonitor:
    """Print each step of ``run_id`` as it finishes, polling the instance's event log from a thread.

    On a terminal the running steps show as a spinner; piped (``make demo | tee``), only the finished lines.
    """

    def __init__(self, instance, run_id: str, total_steps: int, quiet: QuietRun) -> None:
        self._instance = instance
        self._run_id = run_id
        self._total = total_steps
        self._quiet = quiet
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cycle-step-monitor", daemon=True)
        self._cursor: str | None = None
        self._started: dict[str, float] = {}
        self.finished = 0
        self.failures: list[tuple[str, str]] = []
        self._status = None

    def __enter__(self) -> StepMonitor:
        if self._quiet.console.is_terminal:
            self._status = self._quiet.console.status("starting the run", spinner="dots")
            self._status.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._drain()  # the events written between the last poll and the run's end
        if self._status is not None:
            self._status.stop()

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self._drain()
            except Exception as exc:  # noqa: BLE001 - a monitor error must never stop the run; it is logged
                self._quiet.note(f"cycle: progress monitor: {type(exc).__name__}: {exc}")

    def _drain(self) -> None:
        from dagster import DagsterEventType

        kinds = {
            DagsterEventType.STEP_START,
            DagsterEventType.STEP_SUCCESS,
            DagsterEventType.STEP_FAILURE,
            DagsterEventType.STEP_SKIPPED,
        }
        while True:
            page = self._instance.event_log_storage.get_records_for_run(
                self._run_id, cursor=self._cursor, of_type=kinds, limit=200
            )
            for record in page.records:
                self._show(record.event_log_entry)
            self._cursor = page.cursor
            if not page.has_more:
                return

    def _show(self, entry) -> None:
        from dagster import DagsterEventType

        event = entry.dagster_event
        step = event.step_key or "?"
        kind = event.event_type
        if kind == DagsterEventType.STEP_START:
            self._started[step] = entry.timestamp
        else:
            self.finished += 1
            took = _duration(entry.timestamp - self._started.pop(step, entry.timestamp))
            prefix = f"[{self.finished:>2}/{self._total}]"
            if kind == DagsterEventType.STEP_SUCCESS:
                self._quiet.console.print(f"{prefix} ok      {step} ({took})")
            elif kind == DagsterEventType.STEP_SKIPPED:
                self._quiet.console.print(f"{prefix} skipped {step}")
            else:
                error = event.step_failure_data.error if event.step_failure_data else None
                while error is not None and error.cause is not None:  # the user's exception, not Dagster's wrapper
                    error = error.cause
                message = (error.message.strip() if error else entry.user_message).splitlines()
                reason = " | ".join(line.strip() for line in message[:6] if line.strip())
                self.failures.append((step, reason))
                self._quiet.errors.print(f"{prefix} FAILED  {step} ({took}): {reason}", style="bold red")
                self._quiet.errors.print(f"        the step's full error and event log: {self._quiet.path}")
        if self._status is not None:
            running = ", ".join(sorted(self._started)) or "between steps"
            self._status.update(f"running {running}")


def elapsed_since(start: float) -> str:
    return _duration(time.monotonic() - start)
