"""The HospOps command line and desktop application: the only package that imports Qt."""
import os

# One BLAS thread, set before numpy loads (it is read once): on a 2-core workstation OpenBLAS's own threads
# fought each other and the app's worker threads, making the count regression's matrix products up to 40x
# slower (a 35,000 x 58 product: 4.2 s against 0.1 s). Users may still override it in their environment.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _pin_bools(extra: int = 1 << 40) -> None:
    """Work around a reference-count leak of ``True`` in PySide6 6.12 on CPython 3.11, as optimization._pin_none
    does for OR-Tools' leak of ``None``.

    Every ``Signal.emit`` of a signal defined in Python drops one reference to ``True`` (measured: 1,000 emits of
    a bare ``Signal(object)`` in a fresh interpreter end it with "Fatal Python error: bool_dealloc"). The app
    emits on every progress step, and pyqtgraph on every redraw, pan and zoom: ``True`` starts with about 5,000
    references, the desktop test suite ran it down to zero at exit, and a long session would abort the app the
    same way. CPython 3.12 made both immortal; here they get a reference count no leak can exhaust, before any
    Qt object exists. No effect on other interpreters or versions."""
    import sys

    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return
    import ctypes

    for flag in (True, False):
        ctypes.c_ssize_t.from_address(id(flag)).value += extra


_pin_bools()
