"""Progress reporting and cancellation for long work, free of any UI toolkit.

Long functions take ``progress(fraction, message)`` and ``should_stop()``; both default to no-ops.
:func:`checkpoint` reports and raises :class:`Cancelled` when a stop was asked for, and :func:`scaled`
maps a sub-step onto its share of the whole (as Orange3's ``wrap_callback`` does).
"""
from __future__ import annotations

from typing import Callable, Optional

from datasets.errors import Cancelled

Progress = Callable[[float, str], None]
ShouldStop = Callable[[], bool]


def no_progress(fraction: float, message: str) -> None:  # noqa: ARG001 - the default hook
    return None


def never_stop() -> bool:
    return False


class Reporter:
    """Bundles the two hooks so that core code can call ``rep(0.4, "loading")`` in one line."""

    def __init__(self, progress: Optional[Progress] = None, should_stop: Optional[ShouldStop] = None):
        self.progress = progress or no_progress
        self.should_stop = should_stop or never_stop

    def __call__(self, fraction: float, message: str) -> None:
        if self.should_stop():
            raise Cancelled()
        self.progress(min(max(fraction, 0.0), 1.0), message)

    def scaled(self, start: float, end: float) -> "Reporter":
        """A reporter whose 0..1 maps onto ``start..end`` of this one."""
        parent = self

        def sub(fraction: float, message: str) -> None:
            parent.progress(start + (end - start) * min(max(fraction, 0.0), 1.0), message)

        return Reporter(sub, self.should_stop)

    def check(self) -> None:
        if self.should_stop():
            raise Cancelled()
