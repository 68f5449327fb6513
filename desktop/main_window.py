"""The main window: header (hospital, workspace, "as of"), side navigation of pages, status bar with the job
runner's progress and cancel, menus and keyboard shortcuts, persistent settings."""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from PySide6.QtCore import QDateTime, QSettings, QStandardPaths, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication, QDateTimeEdit, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QLineEdit, QListWidget,
    QListWidgetItem, QMainWindow, QMessageBox, QStackedWidget, QToolButton, QVBoxLayout, QWidget,
)

from desktop import theme
from desktop.jobs import JobRunner
from desktop.pages import PAGE_NAMES, PAGE_TITLES, page_class
from desktop.session import Session, is_encrypted
from desktop.widgets.status import JobStatus

MAX_RECENT = 8
WORKSPACE_FILTER = "HospOps workspaces (*.hospops *.duckdb);;All files (*)"

STYLE_SHEET = """
QFrame#card { border: 1px solid palette(mid); border-radius: 6px; background: palette(base); }
QLabel#cardValue { font-size: 20pt; font-weight: 600; }
QLabel#cardValue[warn="true"] { color: #D55E00; }
QLabel#muted { color: palette(placeholder-text); }
QLabel#error { color: #D55E00; font-weight: 600; padding: 4px; }
QLabel#headerTitle { font-size: 13pt; font-weight: 600; }
QListWidget#nav { font-size: 11pt; border: none; background: palette(window); }
QListWidget#nav::item { padding: 8px 10px; }
QListWidget#nav::item:selected { background: palette(highlight); color: palette(highlighted-text); border-radius: 4px; }
"""


def settings() -> QSettings:
    return QSettings()


class MainWindow(QMainWindow):
    def __init__(self, parent=None, *, restore_state: bool = True):
        super().__init__(parent)
        self.setWindowTitle("HospOps")
        self.session = Session(self)
        self.jobs = JobRunner(self)
        self.pages: dict = {}  # name -> Page, created when first shown
        self._initial_page = "overview"
        self._build_header()
        self._build_body()
        self._build_status()
        self._build_menus()
        self.session.workspace_changed.connect(self._on_workspace)
        self.session.as_of_changed.connect(self._sync_as_of)  # set from code too (app --at, Latest)
        self.session.data_changed.connect(self._on_workspace)
        self.setStyleSheet(STYLE_SHEET)
        self.resize(1280, 800)
        if restore_state:
            self._restore()
        self._on_workspace()

    # ------------------------------------------------------------------ layout
    def _build_header(self) -> None:
        bar = QWidget(self)
        lay = QHBoxLayout(bar)
        lay.setContentsMargins(10, 6, 10, 6)
        self.title = QLabel("HospOps", bar)
        self.title.setObjectName("headerTitle")
        self.ws_btn = QToolButton(bar)
        self.ws_btn.setText("workspace ▾")
        self.ws_btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.as_of = QDateTimeEdit(bar)
        self.as_of.setDisplayFormat("ddd d MMM yyyy HH:mm")
        self.as_of.setCalendarPopup(True)
        self.as_of.setToolTip("Every page answers for this moment. Set a past time to review what the hospital "
                              "looked like then.")
        self.as_of.editingFinished.connect(self._as_of_edited)
        # a day picked in the calendar applies at once (it waited for the box to lose focus); after the pick has
        # reached the box, hence the queued call
        self.as_of.calendarWidget().clicked.connect(lambda _d: QTimer.singleShot(0, self._as_of_edited))
        now_btn = QToolButton(bar)
        now_btn.setText("Latest")
        now_btn.setToolTip("Back to now (or the end of the data)")
        now_btn.clicked.connect(self._as_of_latest)
        self.tz_label = QLabel("", bar)
        self.tz_label.setObjectName("muted")
        # past the last record the pages show what the data knew then: said here, once, for every page
        self.after_data = QLabel("", bar)
        self.after_data.setObjectName("error")
        self.after_data.setVisible(False)
        lay.addWidget(self.title)
        lay.addStretch(1)
        lay.addWidget(self.ws_btn)
        lay.addSpacing(12)
        lay.addWidget(QLabel("as of", bar))
        lay.addWidget(self.as_of)
        lay.addWidget(now_btn)
        lay.addWidget(self.tz_label)
        lay.addWidget(self.after_data)
        self._header = bar

    def _build_body(self) -> None:
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self._header)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.nav = QListWidget(central)
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(150)
        self.stack = QStackedWidget(central)
        for i, name in enumerate(PAGE_NAMES):
            self.stack.addWidget(QWidget(self.stack))  # placeholder until the page is first shown
            item = QListWidgetItem(PAGE_TITLES[name])
            item.setToolTip(f"{PAGE_TITLES[name]} (Ctrl+{i + 1})")
            self.nav.addItem(item)
        self.nav.currentRowChanged.connect(self._nav_changed)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        outer.addLayout(row, 1)
        self.setCentralWidget(central)

    def _build_status(self) -> None:
        self.last_import = QLabel("", self)
        self.statusBar().addWidget(self.last_import)
        # a message hides it (Qt hides normal widgets only if they are visible when the message comes: one shown
        # before the window was drawn showed both, one over the other)
        self.statusBar().messageChanged.connect(lambda text: self.last_import.setVisible(not text))
        self.job_status = JobStatus(self.jobs, self)
        self.statusBar().addPermanentWidget(self.job_status)

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self._act(m, "Try the &demo hospital…", self.build_demo)
        self._act(m, "&Open workspace…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = m.addMenu("Open &recent")
        self._act(m, "&Import extract…", self.import_dialog, "Ctrl+I")
        self._act(m, "&Close workspace", self.close_workspace)
        m.addSeparator()
        self._act(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        v = self.menuBar().addMenu("&View")
        for i, name in enumerate(PAGE_NAMES):
            self._act(v, PAGE_TITLES[name], lambda checked=False, n=name: self.show_page(n), f"Ctrl+{i + 1}")
        v.addSeparator()
        self._act(v, "&Refresh", self.refresh, QKeySequence.StandardKey.Refresh)
        self.dark_act = self._act(v, "&Dark mode", self.toggle_dark)
        self.dark_act.setCheckable(True)
        j = self.menuBar().addMenu("&Jobs")
        self._act(j, "&Cancel running job", self.cancel_job, "Esc")
        h = self.menuBar().addMenu("&Help")
        self._act(h, "&About HospOps", self.about)
        self.ws_btn.setMenu(m)

    def _act(self, menu, text, slot, shortcut=None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(slot)
        menu.addAction(act)
        self.addAction(act)
        return act

    # ------------------------------------------------------------------ pages
    def page(self, name: str):
        """The page called ``name``, created (and its module imported) on first use."""
        if name not in self.pages:
            index = PAGE_NAMES.index(name)
            page = page_class(name)(self.session, self.jobs, self.stack)
            page.empty.open_requested.connect(self.open_dialog)
            page.empty.demo_requested.connect(self.build_demo)
            placeholder = self.stack.widget(index)
            self.stack.insertWidget(index, page)
            self.stack.removeWidget(placeholder)
            placeholder.deleteLater()
            self.pages[name] = page
        return self.pages[name]

    def show_page(self, name: str):
        page = self.page(name)
        if self.nav.currentRow() != PAGE_NAMES.index(name):
            self.nav.setCurrentRow(PAGE_NAMES.index(name))
        else:
            self.stack.setCurrentWidget(page)
        return page

    def _nav_changed(self, row: int) -> None:
        if 0 <= row < len(PAGE_NAMES):
            self.stack.setCurrentWidget(self.page(PAGE_NAMES[row]))

    def current_page(self):
        return self.pages.get(PAGE_NAMES[max(0, self.nav.currentRow())])

    @property
    def initial_page(self) -> str:
        return self._initial_page

    def refresh(self) -> None:
        if self.session.is_open:
            self.session.notify_data_changed()

    def cancel_job(self) -> None:
        self.job_status.cancel()

    # ------------------------------------------------------------------ workspace
    def open_workspace(self, path: str | Path, interactive: bool = True) -> bool:
        """Open a workspace; an encrypted one with $HOSPOPS_PASSPHRASE, else the passphrase asked for.
        ``interactive=False`` (``--screenshot``): no dialog; a problem raises :class:`HospOpsError`."""
        from datasets.errors import HospOpsError

        path = Path(path)
        passphrase = None
        if path.is_file() and is_encrypted(path):
            from desktop.cli import PASSPHRASE_ENV

            passphrase = os.environ.get(PASSPHRASE_ENV) or None
            if passphrase is None and not interactive:
                raise HospOpsError(f"{path} is encrypted and no passphrase was given.", f"Set {PASSPHRASE_ENV}.")
            if passphrase is None:
                text, ok = QInputDialog.getText(self, "Encrypted workspace", f"Passphrase for {path.name}:",
                                                QLineEdit.EchoMode.Password)
                if not ok:
                    return False
                passphrase = text
        try:
            self.jobs.cancel()
            self.session.open(path, passphrase)
        except HospOpsError as exc:
            if not interactive:
                raise
            QMessageBox.warning(self, "Cannot open the workspace", str(exc))
            self._forget_recent(path)
            return False
        self._remember_recent(self.session.path)
        return True

    def close_workspace(self) -> None:
        self.jobs.cancel()
        self.session.close()

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open workspace", str(self._folder()), WORKSPACE_FILTER)
        if path:
            self.open_workspace(path)

    def import_dialog(self) -> None:
        self.show_page("data")
        self.pages["data"].start_import()

    def build_demo(self) -> None:
        """Build the demo hospital into the app's data folder (a job; the window stays usable), then open it."""
        from datasets.synthetic import build_demo

        folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "demo.hospops"
        if self.session.path == path.resolve():
            self.show_page("overview")
            return
        if path.exists():
            if self.open_workspace(path):
                self.show_page("overview")
                return

        def job(progress, should_stop):
            return build_demo(path, progress=progress, should_stop=should_stop, replace=True)

        def done(_summary) -> None:
            if self.open_workspace(path):
                self.show_page("overview")

        self.jobs.run("demo", "Building the demo hospital", job, on_done=done,
                      on_error=lambda msg: QMessageBox.warning(self, "Demo hospital", msg))

    def _on_workspace(self) -> None:
        s = self.session
        if s.is_open:
            self.title.setText(f"HospOps — {s.hospital}")
            self.setWindowTitle(f"{s.hospital} — HospOps")
            self.ws_btn.setText(f"{s.path.name} ▾")
            self.ws_btn.setToolTip(str(s.path))
            self.as_of.setEnabled(True)
            self._sync_as_of()
            self.tz_label.setText(s.timezone)
            self._update_last_import()
        else:
            self.title.setText("HospOps")
            self.setWindowTitle("HospOps")
            self.ws_btn.setText("no workspace ▾")
            self.as_of.setEnabled(False)
            self.tz_label.setText("")
            self.last_import.setText("")

    def _sync_as_of(self) -> None:
        if self.session.is_open and self.session.as_of is not None:
            self.as_of.blockSignals(True)
            lo, hi = self.session.data_start, self.session.data_end
            if lo is not None and hi is not None:
                # the box keeps to the data (and a week after it): a moment outside it has no board to show
                from datasets.metrics.beds import GRACE_DAYS  # (pandas loads after the first paint)

                self.as_of.setDateTimeRange(QDateTime(lo), QDateTime(hi + timedelta(days=GRACE_DAYS)))
            self.as_of.setDateTime(QDateTime(self.session.as_of))
            self.as_of.blockSignals(False)
            after = hi is not None and self.session.as_of > hi
            self.after_data.setVisible(after)
            if after:
                self.after_data.setText(f"after the last record ({hi:%d %b %H:%M})")
                self.after_data.setToolTip("Nothing is recorded after this: arrivals, admissions and discharges since "
                                           "then are not known, so today's counts are low and waits keep growing.")
        else:
            self.after_data.setVisible(False)

    def _update_last_import(self) -> None:
        rows = self.session.ws.sql(
            "SELECT started_at, source, rows_rejected FROM import_runs ORDER BY run_id DESC LIMIT 1")
        if rows:
            when, source, rejected = rows[0]
            text = f"Last import {when:%d %b %H:%M}: {Path(str(source)).name}"
            if rejected:
                text += f" ({rejected:,} rejected rows — see Data)"
            self.last_import.setText(text)
        else:
            built = "the built-in demo hospital" if self.session.ws.settings().get("demo_end") else "no imports yet"
            self.last_import.setText(f"{self.session.path.name}: {built}")

    def _as_of_edited(self) -> None:
        if self.session.is_open:
            self.session.set_as_of(self.as_of.dateTime().toPython())

    def _as_of_latest(self) -> None:
        if self.session.is_open:
            self.session.set_as_of(self.session.default_as_of())
            self._sync_as_of()  # also when the time did not change but the box holds a half-typed one

    # ------------------------------------------------------------------ settings
    def _folder(self) -> Path:
        recent = self.recent()
        return Path(recent[0]).parent if recent else Path.home()

    def recent(self) -> list[str]:
        value = settings().value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember_recent(self, path: Path) -> None:
        items = [str(path)] + [p for p in self.recent() if p != str(path)]
        settings().setValue("recent", items[:MAX_RECENT])
        self._fill_recent()

    def _forget_recent(self, path: Path) -> None:
        settings().setValue("recent", [p for p in self.recent() if p != str(Path(path).resolve())])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent():
            self.recent_menu.addAction(p, lambda checked=False, p=p: self.open_workspace(p))
        self.recent_menu.setEnabled(bool(self.recent()))

    def _restore(self) -> None:
        s = settings()
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if state is not None:
            self.restoreState(state)
        dark = s.value("dark", False, type=bool)
        self.dark_act.setChecked(dark)
        theme.apply_palette(QApplication.instance(), dark)
        page = s.value("page", "overview")
        self._initial_page = page if page in PAGE_NAMES else "overview"
        self._fill_recent()

    def toggle_dark(self) -> None:
        dark = self.dark_act.isChecked()
        settings().setValue("dark", dark)
        theme.apply_palette(QApplication.instance(), dark)

    def about(self) -> None:
        from desktop.cli import _version

        QMessageBox.about(self, "About HospOps",
                          f"<b>{_version()}</b><p>Hospital operations analytics on a local workspace. "
                          "Your data stays on this computer.</p>")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt name
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        if self.current_page() is not None:
            s.setValue("page", self.current_page().name)
        self.jobs.shutdown()
        self.session.close(emit=False)
        super().closeEvent(event)


def wait_until_loaded(window: MainWindow, page, timeout_ms: int = 120000) -> bool:
    """Process events until ``page`` has its data and no job is running (screenshots, tests, benchmarks)."""
    import time

    app = QApplication.instance()
    page.ensure_loaded()
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        app.processEvents()
        if page.is_loaded() and window.jobs.is_idle():
            app.processEvents()
            return True
        time.sleep(0.01)
    return False
