"""The app's state that every page shares: the open workspace, its passphrase, and the one "as of" time.

The session keeps one connection open for as long as a workspace is open: it holds DuckDB's file lock, so a
second HospOps (or a CLI import) is refused politely while the app has it. Jobs get their own cursor of it
on their worker thread with :meth:`Session.connect` (cheap, and safe across threads).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal


def is_encrypted(path: Path) -> bool:
    """Whether opening ``path`` needs a passphrase; False for anything unreadable (opening it says why)."""
    from datasets.store import is_encrypted as check

    try:
        return bool(check(path))
    except Exception:
        return False


class Session(QObject):
    workspace_changed = Signal()  # opened, closed or switched
    as_of_changed = Signal()
    data_changed = Signal()  # an import or a build changed the tables

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.path: Path | None = None
        self.passphrase: str | None = None
        self.ws = None
        self.hospital = ""
        self.timezone = "UTC"
        self.country = ""
        self.data_start: datetime | None = None
        self.data_end: datetime | None = None
        self.as_of: datetime | None = None

    # ------------------------------------------------------------------ workspace
    @property
    def is_open(self) -> bool:
        return self.ws is not None

    def open(self, path: str | Path, passphrase: str | None = None) -> None:
        """Open a workspace (raises HospOpsError with a sentence on failure; the old one stays open then)."""
        path = Path(path).expanduser().resolve()
        if self.path == path and self.ws is not None:
            return
        from datasets.store import Workspace

        ws = Workspace.open(path, passphrase=passphrase)
        self.close(emit=False)
        self.ws, self.path, self.passphrase = ws, path, passphrase
        self._read_facts()
        self.as_of = self.default_as_of()
        self.workspace_changed.emit()

    def close(self, emit: bool = True) -> None:
        if self.ws is not None:
            self.ws.close()
        self.ws = None
        self.path = None
        self.passphrase = None
        self.hospital = ""
        self.data_start = self.data_end = self.as_of = None
        if emit:
            self.workspace_changed.emit()

    def connect(self):
        """A new connection to the open workspace, for a worker thread; close it when done.

        A cursor of the session's connection: the same database (an encrypted workspace is attached once per
        process and cannot be attached twice), its own transaction state, safe to use on another thread."""
        if self.ws is None:
            from datasets.errors import WorkspaceError

            raise WorkspaceError("No workspace is open.", "Open one, or try the demo hospital.")
        from datasets.store import Workspace

        cur = self.ws.con.cursor()
        if self.ws.encrypted:
            from datasets.store.crypto import ATTACH_ALIAS

            cur.execute(f"USE {ATTACH_ALIAS}")
        return Workspace(cur, self.path, self.ws.read_only, encrypted=self.ws.encrypted)

    def with_workspace(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        """A job function that calls ``fn(ws, *args, progress=..., should_stop=..., **kwargs)`` on a worker."""
        def job(progress, should_stop):
            ws = self.connect()
            try:
                return fn(ws, *args, progress=progress, should_stop=should_stop, **kwargs)
            finally:
                ws.close()
        return job

    def audit(self, action: str, target: str, details: dict | None = None) -> None:
        """Record an export, copy or solve in the workspace's audit log (issue 6); never fails the action."""
        if self.ws is None:
            return
        try:
            self.ws.audit(action, target, details or {})
        except Exception:  # an audit write must not lose the user's export; the log is best effort here
            import logging

            logging.getLogger("hospops").warning("could not write the audit log", exc_info=True)

    def notify_data_changed(self) -> None:
        self._read_facts()
        # a time outside the data now held (after the first import into an empty workspace: "now", decades
        # before MIMIC-IV's shifted dates) would show the new data nowhere: the default time instead
        if (self.as_of is None or (self.data_end and self.as_of > self.data_end)
                or (self.data_start and self.as_of < self.data_start)):
            self.as_of = self.default_as_of()
        self.data_changed.emit()

    def _read_facts(self) -> None:
        s = self.ws.settings()
        self.hospital = s.get("hospital_name") or (self.path.stem if self.path else "")
        self.timezone = s.get("timezone") or "UTC"
        self.country = s.get("country") or ""
        lo, hi = self.ws.sql(
            """SELECT min(t), max(t) FROM (
                   SELECT min(arrival_ts) AS t FROM ed_visits UNION ALL SELECT max(arrival_ts) FROM ed_visits
                   UNION ALL SELECT min(admit_ts) FROM stays UNION ALL SELECT max(admit_ts) FROM stays)"""
        )[0]
        self.data_start, self.data_end = lo, hi

    # ------------------------------------------------------------------ time
    def default_as_of(self) -> datetime:
        """Now, or the end of the data when now is outside it (an extract that stops before now, or one whose
        dates are shifted into the future, as MIMIC-IV's are): every page then shows data, not empty axes."""
        now = datetime.now().replace(second=0, microsecond=0)
        outside = self.data_end is not None and (self.data_end < now or (self.data_start or now) > now)
        if outside:
            end = self.data_end.replace(minute=0, second=0, microsecond=0)
            return end if end >= (self.data_start or end) else self.data_end
        return now

    def cut_at(self) -> datetime | None:
        """Where a page cuts its data: the "as of" time, or None (every record counts) at the latest time or after
        it, as in the CLI. The hour or day the extract ends in is as complete as it will be: cut, the Forecast page
        forecast 20 Nov when its 270 arrivals were in, and the Supplies page read the last day's deliveries as use
        its earlier stock count could not have covered ("count it")."""
        at, end = self.as_of, self.data_end
        if at is not None and end is not None and at >= end.replace(minute=0, second=0, microsecond=0):
            return None
        return at

    def set_as_of(self, when: datetime) -> None:
        when = when.replace(second=0, microsecond=0)
        if when != self.as_of:
            self.as_of = when
            self.as_of_changed.emit()

    def window(self, days: int) -> tuple[datetime, datetime]:
        end = self.as_of or datetime.now()
        return end - timedelta(days=days), end
