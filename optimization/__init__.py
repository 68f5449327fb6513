"""CP-SAT models for bed allocation and staff rostering (plain Python; no Qt)."""
from __future__ import annotations

import sys


def _pin_none(extra: int = 1 << 40) -> None:
    """Work around a reference-count leak of ``None`` in OR-Tools' Python layer (9.15, CPython 3.11).

    Solves with a solution callback now and then drop one reference to ``None`` too many (measured: 2 in
    2,000 solves with a no-op callback, 9 in 200 with one that stops the search). ``None`` starts with about
    24,000 references, so a long session of solves (a test suite, a day in the app, large-neighbourhood
    search with thousands of sub-solves) ran it down to zero and the interpreter aborted with "Fatal Python
    error: none_dealloc". CPython 3.12 made ``None`` immortal; here we give it a reference count no leak can
    exhaust, which is what immortality amounts to. No effect on other interpreters or versions.
    """
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return
    import ctypes

    ctypes.c_ssize_t.from_address(id(None)).value += extra


_pin_none()
