"""`hospops app`: the desktop application, and `--screenshot` to render one page offscreen and exit."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def _make_app():
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("HospOps")
    QCoreApplication.setApplicationName("HospOps")
    # Every call from Qt into Python (a model's data(), a paint, a slot) must take the GIL. While a job thread
    # runs Python code, each such call waited up to the interpreter's 5 ms switch interval, and a table refresh
    # making hundreds of them stalled the window for 100+ ms (benchmarks/ui_latency.py). 1 ms bounds the wait.
    sys.setswitchinterval(0.001)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    return app


def _install_excepthook(window) -> None:
    """A bug in a slot must not print a traceback at the user or kill the app: log it, say so in a sentence."""
    def hook(exc_type, exc, tb):
        from desktop.cli import _log_crash

        path = _log_crash(exc.with_traceback(tb))
        msg = f"Something went wrong inside HospOps ({exc_type.__name__}: {exc}); your data was not changed."
        if path:
            msg += f" Details: {path}"
        try:
            window.statusBar().showMessage(msg, 15000)
        except RuntimeError:
            pass

    sys.excepthook = hook


def _on_first_paint(window, fn, *, defer: bool = True) -> None:
    """Call ``fn`` when the window first paints (a 0-timer alone can run before the paint): right after that
    paint event with ``defer``, or inside it (to time the paint itself)."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt name
            if event.type() == QEvent.Type.Paint:
                window.removeEventFilter(self)
                if defer:
                    QTimer.singleShot(0, fn)
                else:
                    fn()
            return False

    filt = FirstPaint(window)
    window.__dict__.setdefault("_first_paint_filters", []).append(filt)  # keep the Python side alive
    window.installEventFilter(filt)


def _startup_probe(app, window):
    """For benchmarks/app_startup.py: print 'painted' at the window's first paint and 'loaded' once the page has
    its data, then quit. Harmless without the environment variable (never installed)."""
    _on_first_paint(window, lambda: print("painted", flush=True), defer=False)

    def loaded() -> None:
        print("loaded", flush=True)
        window.close()
        app.quit()

    def watch(page) -> None:
        page.loaded.connect(loaded)

    return watch


def _parse_size(text: str) -> tuple[int, int]:
    from datasets.errors import HospOpsError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise HospOpsError(f"--size must look like 1280x800, not '{text}'.") from None
    if not (320 <= w <= 8000 and 240 <= h <= 8000):
        raise HospOpsError(f"--size {text} is out of range (320x240 to 8000x8000).")
    return w, h


def run_app(args) -> int:
    from datasets.errors import HospOpsError
    from desktop.pages import PAGE_NAMES

    shot = getattr(args, "screenshot", None)
    page_name = getattr(args, "page", None) or "overview"
    at = None
    if getattr(args, "at", None):
        from datasets.metrics.beds import _ts  # the CLI's own --at parser: ISO 8601 only, a sentence otherwise

        at = _ts(args.at)
    if at is not None and not args.workspace:
        raise HospOpsError("--at needs a workspace to look at.")
    if page_name not in PAGE_NAMES:
        raise HospOpsError(f"There is no page '{page_name}'.", f"Pages: {', '.join(PAGE_NAMES)}.")
    if shot:
        size = _parse_size(getattr(args, "size", "1280x800") or "1280x800")
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        if args.workspace and not Path(args.workspace).exists():
            raise HospOpsError(f"There is no workspace at {args.workspace}.")
    from datasets.importers.engine import sweep_stale_temps

    sweep_stale_temps()  # plain-text copies an import killed part way left (they hold patient data)
    app = _make_app()
    from desktop.main_window import MainWindow, wait_until_loaded

    window = MainWindow(restore_state=not shot)
    _install_excepthook(window)
    if shot:
        from desktop import theme

        theme.apply_palette(app, False)
        window.resize(*size)
    if shot:
        if args.workspace and not window.open_workspace(args.workspace, interactive=False):
            raise HospOpsError(f"Cannot open {args.workspace}.")
        if at is not None:
            from datasets.metrics.beds import check_in_span

            try:
                check_in_span(window.session.ws, at)  # a moment outside the data is refused, as by the CLI
            except HospOpsError:
                window.close_workspace()  # let go of the file
                raise
            window.session.set_as_of(at)
        page = window.show_page(page_name)
        window.show()
        ok = wait_until_loaded(window, page)
        window.repaint()
        app.processEvents()
        out = Path(shot)
        picture = window.grab()
        if not picture.save(str(out)):
            raise HospOpsError(f"Could not write the screenshot to {out}.")
        window.close()
        if not ok:
            raise HospOpsError(f"The {page_name} page did not finish loading; the screenshot shows it part-way.")
        got = (picture.width(), picture.height())
        wider = "" if got == tuple(size) else f"; asked for {size[0]}x{size[1]}, the page needs more room"
        print(f"Wrote {out} ({got[0]}x{got[1]}, page {page_name}{wider}).")
        return 0

    # Paint the shell first, then open the workspace and build the page (pandas, pyqtgraph and the core load
    # behind a painted window instead of before it).
    window.show()
    probe = _startup_probe(app, window) if os.environ.get("HOSPOPS_STARTUP_PROBE") else None

    def load() -> None:
        if args.workspace and window.open_workspace(args.workspace) and at is not None:
            window.session.set_as_of(at)
        page = window.show_page(getattr(args, "page", None) or window.initial_page)
        if probe is not None:
            probe(page)

    _on_first_paint(window, load)
    code = app.exec()
    # The window has closed: jobs are cancelled and the workspace closed (MainWindow.closeEvent). Leave without
    # the interpreter's final garbage collection, which once aborted after long CP-SAT solves (OR-Tools loses
    # references to None; see optimization._pin_none for the fix) and has nothing left to do.
    from desktop.workers import shutdown

    shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
