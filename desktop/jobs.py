"""One job runner for every long call the app makes (import, demo build, fit, backtest, solve, queries).

A job is a plain function called on a worker thread with two keyword arguments, ``progress(fraction,
message)`` and ``should_stop()``: exactly the hooks the core takes (``datasets.progress``), so the core knows
nothing of Qt. Jobs are keyed (usually by page): starting a job with a key that is running cancels the old
one, and a cancelled or superseded job's result is dropped (except a job that ``keeps_partial``: a solve the
user stopped hands back its best roster so far, and that is shown; a superseded one is still dropped). Cancel
sets a flag the core polls; the core then raises :class:`datasets.errors.Cancelled` and nothing it did is
kept (a search stops and returns its best instead). Errors come back as sentences: a
:class:`HospOpsError`'s message as is, anything else as "internal error" with the traceback in the log file,
never in a dialog.

As Orange3 does, the function runs with no access to widgets: results come back through ``on_done`` /
``on_error`` callables invoked on the Qt thread.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

log = logging.getLogger("hospops.jobs")


@dataclass
class Job:
    key: str
    label: str
    fn: Callable[..., Any]
    on_done: Optional[Callable[[Any], None]] = None
    on_error: Optional[Callable[[str], None]] = None
    on_progress: Optional[Callable[[float, str], None]] = None
    background: bool = False  # quiet jobs (page refreshes) do not take over the status bar
    keeps_partial: bool = False  # a cancelled job's result is its best so far (a solve's roster): shown, not dropped
    id: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    fraction: float = 0.0
    message: str = ""
    pending: tuple | None = None  # the latest (fraction, message) from the worker, not yet shown
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.monotonic)

    def cancel(self) -> None:
        self.stop.set()

    @property
    def cancelled(self) -> bool:
        return self.stop.is_set()


class _Signals(QObject):
    # All emitted from worker threads; the runner lives on the Qt thread, so delivery is queued to it.
    done = Signal(int, object)
    failed = Signal(int, str, bool)  # job id, message, was cancelled


class _Task(QRunnable):
    def __init__(self, job: Job, signals: _Signals):
        super().__init__()
        self.job = job
        self.signals = signals
        self.setAutoDelete(True)

    def run(self) -> None:  # worker thread
        from datasets.errors import Cancelled, HospOpsError

        job = self.job
        background_priority()

        def progress(fraction: float, message: str) -> None:
            # Only plain Python here: this runs on whatever thread the core calls it from, CP-SAT's own C++
            # worker threads included, where calling into Qt (emitting a signal) corrupted reference counts
            # (an interpreter abort at exit after long solves). The runner's timer on the Qt thread polls it.
            with job.lock:
                job.pending = (float(fraction), str(message))

        try:
            if job.cancelled:
                raise Cancelled()
            result = job.fn(progress=progress, should_stop=job.stop.is_set)
        except Cancelled as exc:
            self.signals.failed.emit(job.id, str(exc), True)
        except HospOpsError as exc:
            self.signals.failed.emit(job.id, str(exc), False)
        except Exception as exc:  # a bug: a sentence for the user, the traceback for the log
            path = log_exception(exc)
            where = f" Details were written to {path}." if path else ""
            self.signals.failed.emit(
                job.id, f"Something went wrong inside HospOps ({type(exc).__name__}: {exc}). "
                        f"This is a bug; your data was not changed.{where}", False)
        else:
            self.signals.done.emit(job.id, result)


_CORE_IMPORTS = threading.Lock()


def load_forecasting() -> None:
    """Import the forecasting package whole, once, one thread at a time. Two pages' jobs importing parts of it
    at once (Forecast's series list and Supplies' reorder table, opened a second apart) met its modules half
    made ("cannot import name 'CountGLM' from partially initialized module"), and one page stayed broken."""
    with _CORE_IMPORTS:
        import forecasting.inventory  # noqa: F401 - the package's __init__ imports the rest


def background_priority(niceness: int = 10) -> None:
    """Lower the calling thread's CPU priority (Linux: threads have their own nice value, inherited by the threads
    they start, CP-SAT's search workers included), so that the Qt thread wins the CPU while a job computes: on two
    cores a 2-worker solve otherwise competed with painting and stalled the window. Job threads are never reused
    (see JobRunner), so the lowered priority ends with the job. Elsewhere a no-op."""
    import os
    import threading

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):
        pass


def log_exception(exc: BaseException):
    from desktop.cli import _log_crash

    log.debug("job failed: %s", "".join(traceback.format_exception(exc)))
    return _log_crash(exc)


class JobRunner(QObject):
    """Runs keyed jobs on a thread pool; one job per key; reports to the status bar through signals."""

    started = Signal(object)  # Job
    progressed = Signal(object)  # Job
    finished = Signal(object, str)  # Job, "" on success, else the message ("Cancelled..." when cancelled)

    def __init__(self, parent: QObject | None = None, max_threads: int = 4):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        # Never reuse a worker thread: PySide drops a pooled thread's Python thread state after each run, while
        # pybind11 (OR-Tools) keeps a pointer to it, so a CP-SAT solution callback in the next job on that thread
        # took the GIL through a freed thread state and crashed the app (found by benchmarks/ui_latency.py: a
        # draft roster solve, then a second solve on the same pooled thread). Idle threads now exit at once.
        self._pool.setExpiryTimeout(0)
        self._signals = _Signals(self)
        # progress reaches the Qt thread by polling (see _Task.run): 20 updates a second at most
        self._poll = QTimer(self)
        self._poll.setInterval(50)
        self._poll.timeout.connect(self._poll_progress)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._ids = itertools.count(1)
        self._by_key: dict[str, Job] = {}
        self._by_id: dict[int, Job] = {}

    # ------------------------------------------------------------------ API
    def run(self, key: str, label: str, fn: Callable[..., Any], *, on_done=None, on_error=None,
            on_progress=None, background: bool = False, keeps_partial: bool = False) -> Job:
        """Start ``fn(progress=..., should_stop=...)`` on a worker; cancels the running job of the same key."""
        old = self._by_key.get(key)
        if old is not None:
            old.cancel()
        job = Job(key, label, fn, on_done, on_error, on_progress, background, keeps_partial, id=next(self._ids))
        self._by_key[key] = job
        self._by_id[job.id] = job
        self.started.emit(job)
        if not self._poll.isActive():
            self._poll.start()
        self._pool.start(_Task(job, self._signals))
        return job

    def cancel(self, key: str | None = None) -> None:
        """Cancel the job of ``key``, or every job when no key is given."""
        for k, job in list(self._by_key.items()):
            if key is None or k == key:
                job.cancel()

    def running(self, key: str | None = None) -> list[Job]:
        return [j for k, j in self._by_key.items() if key is None or k == key]

    def is_idle(self) -> bool:
        return not self._by_id

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until every worker returned (used at shutdown and in tests); queued results still need the loop."""
        return self._pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        self.cancel()
        self._pool.waitForDone(timeout_ms)

    # ------------------------------------------------------------------ slots (Qt thread)
    def _current(self, job_id: int) -> Job | None:
        job = self._by_id.get(job_id)
        if job is None or self._by_key.get(job.key) is not job:
            return None
        return job

    def _retire(self, job_id: int) -> Job | None:
        job = self._by_id.pop(job_id, None)
        if job is not None and self._by_key.get(job.key) is job:
            del self._by_key[job.key]
            return job
        return None

    def _poll_progress(self) -> None:
        if not self._by_id:
            self._poll.stop()
            return
        for job in list(self._by_key.values()):
            with job.lock:
                pending, job.pending = job.pending, None
            if pending is not None:
                self._on_progress(job, *pending)

    def _on_progress(self, job: Job, fraction: float, message: str) -> None:
        if job.cancelled:
            return
        job.fraction, job.message = fraction, message
        if job.on_progress:
            job.on_progress(fraction, message)
        self.progressed.emit(job)

    def _on_done(self, job_id: int, result: Any) -> None:
        job = self._by_id.get(job_id)
        if job is not None:
            with job.lock:
                pending, job.pending = job.pending, None
            if pending is not None and self._by_key.get(job.key) is job:
                self._on_progress(job, *pending)
        job = self._retire(job_id)
        if job is None:
            return  # superseded by a newer job of the same key: drop the stale result
        if job.cancelled and job.keeps_partial and result is not None:
            self.finished.emit(job, "Stopped; the best found so far is shown.")
            if job.on_done:
                job.on_done(result)
            return
        if job.cancelled:
            message = "Cancelled; nothing was changed."
            self.finished.emit(job, message)
            if job.on_error:
                job.on_error(message)
            return
        self.finished.emit(job, "")
        if job.on_done:
            job.on_done(result)

    def _on_failed(self, job_id: int, message: str, cancelled: bool) -> None:
        job = self._retire(job_id)
        if job is None:
            return
        self.finished.emit(job, message)
        if job.on_error:  # a cancel the user asked for is reported too ("Cancelled; nothing was changed.")
            job.on_error(message)
