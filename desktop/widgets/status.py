"""The status bar's job area: the running job's message, a progress bar and a cancel button (Esc)."""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from desktop.jobs import Job, JobRunner


class JobStatus(QWidget):
    def __init__(self, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.jobs = jobs
        self.label = QLabel("", self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.bar.setFixedWidth(180)
        self.cancel_btn = QToolButton(self)
        self.cancel_btn.setText("✕ Cancel")
        self.cancel_btn.setToolTip("Stop this job (Esc); nothing it was doing is kept")
        self.cancel_btn.clicked.connect(self.cancel)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 4, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_btn)
        self._shown: Job | None = None
        jobs.started.connect(self._started)
        jobs.progressed.connect(self._progressed)
        jobs.finished.connect(self._finished)
        self._set_visible(False)

    def _set_visible(self, on: bool) -> None:
        for w in (self.label, self.bar, self.cancel_btn):
            w.setVisible(on)

    def _started(self, job: Job) -> None:
        if job.background:
            return
        self._shown = job
        self.label.setText(f"{job.label}…")
        self.cancel_btn.setToolTip("Stop this search (Esc); the best found so far is kept" if job.keeps_partial
                                   else "Stop this job (Esc); nothing it was doing is kept")
        self.bar.setValue(0)
        self.bar.setFormat("starting")
        self._set_visible(True)

    def _progressed(self, job: Job) -> None:
        if job is not self._shown:
            return
        self.bar.setValue(int(job.fraction * 1000))
        self.bar.setFormat(f"{job.fraction:.0%}")
        self.label.setText(f"{job.label}: {job.message}" if job.message else f"{job.label}…")

    def _finished(self, job: Job, message: str) -> None:
        if job is not self._shown:
            return
        self._shown = None
        # another visible job still running? show it
        for other in self.jobs.running():
            if not other.background:
                self._started(other)
                self._progressed(other)
                return
        self._set_visible(False)
        if message:
            self.window().statusBar().showMessage(message.splitlines()[0], 8000)
        else:
            # (an empty message: the job went well) a job that went well clears an earlier one's failure: "Cannot read the horizon" stayed on after
            # the corrected run had succeeded
            self.window().statusBar().clearMessage()

    def cancel(self) -> None:
        if self._shown is not None:
            self._shown.cancel()
            self.label.setText(f"{self._shown.label}: stopping…")
