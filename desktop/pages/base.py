"""What every page shares: the session and job runner, an empty state, lazy refresh, readable errors."""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame, QHBoxLayout, QLabel, QPushButton, QStackedLayout, QVBoxLayout, QWidget,
)

from desktop.jobs import JobRunner
from desktop.session import Session


class Page(QWidget):
    name = "page"
    title = "Page"
    needs_workspace = True
    loaded = Signal()  # the page's data has arrived (screenshots and tests wait for it)

    def __init__(self, session: Session, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self._dirty = True
        self._stack = QStackedLayout(self)
        self.empty = EmptyState(self)
        self.body = QWidget(self)
        self._stack.addWidget(self.empty)
        self._stack.addWidget(self.body)
        self.error = QLabel("", self.body)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        session.workspace_changed.connect(self._invalidate)
        session.as_of_changed.connect(self._invalidate)
        session.data_changed.connect(self._invalidate)
        self.build()
        self._show_state()

    # ------------------------------------------------------------------ for subclasses
    def build(self) -> None:
        """Create the widgets of ``self.body`` (put ``self.error`` somewhere visible)."""

    def refresh(self) -> None:
        """Load the page's data (through :meth:`run`); call :meth:`done_loading` when it has arrived."""
        self.done_loading()

    # ------------------------------------------------------------------ helpers
    def run(self, label: str, fn: Callable[..., Any], on_done: Callable[[Any], None], *, key: str | None = None,
            background: bool = False, with_workspace: bool = True, on_error: Callable[[str], None] | None = None,
            on_progress=None, keeps_partial: bool = False):
        """Run ``fn(ws, progress=, should_stop=)`` (or ``fn(progress=, should_stop=)``) as this page's job;
        ``keeps_partial``: a stop by the user still hands its result (the best so far) to ``on_done``."""
        job_fn = self.session.with_workspace(fn) if with_workspace else fn
        self.show_error("")
        return self.jobs.run(key or self.name, label, job_fn, on_done=on_done,
                             on_error=on_error or self._job_failed, background=background, on_progress=on_progress,
                             keeps_partial=keeps_partial)

    def _job_failed(self, message: str) -> None:
        self.show_error(message)
        self.done_loading()

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def done_loading(self) -> None:
        self.loaded.emit()

    def is_busy(self) -> bool:
        return any(j.key.startswith(self.name) for j in self.jobs.running())

    # ------------------------------------------------------------------ lazy refresh
    def _invalidate(self) -> None:
        self._dirty = True
        self._show_state()
        if self.isVisible():
            self.ensure_loaded()

    def ensure_loaded(self) -> None:
        if self._dirty and (self.session.is_open or not self.needs_workspace):
            self._dirty = False
            self.refresh()
        elif self._dirty:
            self.done_loading()

    def is_loaded(self) -> bool:
        """Whether the page shows what it should now: its data, or the empty state when it needs a workspace
        and none is open (it stays due for a refresh, for when one opens)."""
        return not self._dirty or (self.needs_workspace and not self.session.is_open)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt name
        super().showEvent(event)
        self.ensure_loaded()

    def _show_state(self) -> None:
        self._stack.setCurrentWidget(self.body if (self.session.is_open or not self.needs_workspace) else self.empty)


class EmptyState(QWidget):
    """"No workspace open — Open… or Try the demo hospital" (UI.md)."""

    open_requested = Signal()
    demo_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        box = QFrame(self)
        box.setObjectName("card")
        msg = QLabel("<h2>No workspace open</h2>"
                     "<p>A workspace is one file holding your hospital's data, kept on this computer.</p>"
                     "<p>Open an existing workspace, or try HospOps on a made-up demo hospital "
                     "(three years of ED visits, stays, staff and supplies; built in a few seconds).</p>", box)
        msg.setWordWrap(True)
        msg.setTextFormat(Qt.TextFormat.RichText)
        open_btn = QPushButton("Open workspace…", box)
        demo_btn = QPushButton("Try the demo hospital", box)
        demo_btn.setDefault(True)
        open_btn.clicked.connect(self.open_requested)
        demo_btn.clicked.connect(self.demo_requested)
        row = QHBoxLayout()
        row.addWidget(demo_btn)
        row.addWidget(open_btn)
        row.addStretch(1)
        inner = QVBoxLayout(box)
        inner.addWidget(msg)
        inner.addLayout(row)
        box.setMaximumWidth(560)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        h = QHBoxLayout()
        h.addStretch(1)
        h.addWidget(box)
        h.addStretch(1)
        outer.addLayout(h)
        outer.addStretch(2)


class Card(QFrame):
    """A number with a caption, for the Overview's "today" row."""

    def __init__(self, caption: str, tooltip: str = "", parent=None):
        super().__init__(parent)
        self.setObjectName("card")
        self.value = QLabel("–", self)
        self.value.setObjectName("cardValue")
        self.caption = QLabel(caption, self)
        self.caption.setObjectName("muted")
        self.caption.setWordWrap(True)
        self.detail = QLabel("", self)
        self.detail.setObjectName("muted")
        self.detail.setWordWrap(True)
        self.setToolTip(tooltip)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addWidget(self.caption)
        lay.addWidget(self.value)
        lay.addWidget(self.detail)

    def set(self, value: str, detail: str = "", warn: bool = False) -> None:
        self.value.setText(value)
        self.detail.setText(detail)
        self.value.setProperty("warn", warn)
        self.value.style().unpolish(self.value)
        self.value.style().polish(self.value)
