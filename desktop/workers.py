"""Run CPU-heavy core calls (model fits, backtests) in a worker process, so the window stays responsive.

Threads are enough for DuckDB and CP-SAT, which release Python's GIL while they work; statsmodels, scipy
and pandas hold it in long C calls, and a fit on a worker thread stalled the Qt event loop for 100-250 ms at
a time (benchmarks/ui_latency.py). The job runner's thread therefore reads what the call needs from the
workspace (the child cannot open it: DuckDB's file lock belongs to the app) and hands plain data to
:func:`in_subprocess`, which runs ``fn(*args, progress=, should_stop=, **kwargs)`` in one long-lived spawned
process, relays progress, passes a cancel on, and returns the result or raises its error.

No Qt here: the child imports only this module and the core.
"""
from __future__ import annotations

import atexit
import os
import multiprocessing as mp
import queue
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_messages = None
_stop = None

# set in the child by _init
_child_messages = None
_child_stop = None


def _init(messages, stop) -> None:
    global _child_messages, _child_stop
    _child_messages, _child_stop = messages, stop
    try:  # the fits yield the CPU to the app's window (see desktop.jobs.background_priority)
        os.nice(10)
    except (AttributeError, OSError):
        pass
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int, every_s: float = 1.0) -> None:
    """End this worker when the app is gone: an app that was killed, or that left with os._exit before the pool's
    shutdown reached us, otherwise left an orphan holding 200 MB (found after benchmark runs)."""
    import time

    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(0)


def _call(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    def progress(fraction: float, message: str) -> None:
        _child_messages.put((float(fraction), str(message)))

    return fn(*args, progress=progress, should_stop=_child_stop.is_set, **kwargs)


def _get_pool() -> ProcessPoolExecutor:
    global _pool, _messages, _stop
    if _pool is None:
        ctx = mp.get_context("spawn")  # never fork a process that has Qt and DuckDB threads running
        _messages, _stop = ctx.Queue(), ctx.Event()
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init, initargs=(_messages, _stop))
    return _pool


def shutdown() -> None:
    global _pool
    if _pool is not None:
        if _stop is not None:
            _stop.set()
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


atexit.register(shutdown)


def in_subprocess(fn: Callable[..., Any], *args: Any, progress=None, should_stop=None, **kwargs: Any) -> Any:
    """``fn(*args, progress=..., should_stop=..., **kwargs)`` in the worker process (one call at a time).

    ``fn`` and its arguments must be picklable (a module-level function and plain data).
    """
    from datasets.errors import HospOpsError

    progress = progress or (lambda f, m: None)
    should_stop = should_stop or (lambda: False)
    with _lock:
        pool = _get_pool()
        _stop.clear()
        _drain(None)  # anything left from a cancelled call is stale
        future = pool.submit(_call, fn, args, kwargs)
        try:
            while True:
                try:
                    fraction, message = _messages.get(timeout=0.05)
                    progress(fraction, message)
                except queue.Empty:
                    pass
                if should_stop():
                    _stop.set()
                if future.done():
                    _drain(progress)
                    return future.result()
        except BrokenProcessPool:
            shutdown()
            raise HospOpsError("The calculation's worker process stopped unexpectedly (out of memory?). "
                               "Nothing was changed; try again, perhaps with a shorter history.") from None
        finally:
            if not future.done():
                _stop.set()


def _drain(progress) -> None:
    while True:
        try:
            fraction, message = _messages.get_nowait()
        except queue.Empty:
            return
        if progress is not None:
            progress(fraction, message)
