"""A table every page uses: sortable, filterable, copy as tab-separated text, export to CSV or XLSX."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QFont, QFontMetrics, QGuiApplication, QKeySequence, QTextDocumentFragment
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMenu, QTableView,
    QToolButton, QVBoxLayout, QWidget,
)

from desktop.models import FrameFilter, FrameModel, frame_to_tsv


def export_frame(df: pd.DataFrame, path: str | Path, *, note: str = "") -> Path:
    """Write a table to .csv or .xlsx (chosen by the suffix); ``note`` goes in a second sheet / a comment.

    Callers pass what :func:`for_export` made: suppressed small counts, neutralized formula cells."""
    return _write(df, path, note)


def for_export(df: pd.DataFrame, count_cols=(), groups=None, describes=()) -> tuple[pd.DataFrame, str]:
    """Small-cell suppression of ``count_cols`` (patient counts: 1-10 blanked, complementary cells too, and the
    ``describes`` columns of those rows) and formula-looking text neutralized — what every copy and export of a
    table goes through."""
    from datasets.privacy import prepare_export

    kw = {"groups": groups} if groups is not None else {}
    return prepare_export(df, list(count_cols), describes=list(describes), **kw)


def _write(df: pd.DataFrame, path: str | Path, note: str = "") -> Path:
    """Write a table to .csv or .xlsx (chosen by the suffix); ``note`` goes in a second sheet / a comment."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        with pd.ExcelWriter(path, engine="openpyxl") as xw:
            df.to_excel(xw, index=False, sheet_name="data")
            if note:
                pd.DataFrame({"note": [note]}).to_excel(xw, index=False, sheet_name="notes")
    else:
        if not path.suffix:  # (another suffix is the user's choice: the file they named, confirmed by the dialog,
            path = path.with_suffix(".csv")  # not a .csv beside it written over unasked)
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:  # the mark Excel needs for UTF-8
            if note:
                fh.write(f"# {note}\n")
            df.to_csv(fh, index=False)
    return path


class _CappedModel(FrameModel):
    """A FrameModel whose capped columns (``capped``: cut to a width, their text elided) give each cell's whole
    text as its tooltip."""

    capped: set = set()

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if (role == Qt.ItemDataRole.ToolTipRole and self.capped and index.isValid()
                and self.column_name(index.column()) in self.capped):
            return super().data(index, Qt.ItemDataRole.DisplayRole)
        return super().data(index, role)


class FrameTable(QWidget):
    """Filter box + table view + copy/export buttons over a :class:`FrameModel`."""

    def __init__(self, parent=None, *, title: str = "", headers=None, tooltips=None, decimals=None,
                 filter_box: bool = True, export_name: str = "table", count_cols=(), count_groups=None,
                 describes=(), export_with=None, max_widths: dict[str, int] | None = None,
                 row_labels: str | None = None):
        super().__init__(parent)
        self.export_name = export_name
        # the most pixels a column takes when sized to its text (a long name column pushed the columns after it
        # out of sight at 1280 px); its cells are elided and shown whole in a tooltip
        self.max_widths = dict(max_widths or {})
        # the table as a spreadsheet should hold it, where that differs from what is shown (the roster's cover
        # cells "6/2" became 6 February in Excel): a function of the frame, applied before suppression
        self.export_with = export_with
        # columns holding counts of patients: suppressed (1-10) in every copy and export (issue 6)
        self.count_cols = tuple(count_cols)
        self.count_groups = count_groups
        self.describes = tuple(describes)  # columns about the people counted: blanked with a small count
        self.model = _CappedModel(headers=headers, tooltips=tooltips, decimals=decimals, parent=self)
        self.model.capped = set(self.max_widths)
        self.proxy = FrameFilter(self)
        self.proxy.setSourceModel(self.model)
        self.view = QTableView(self)
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the data's own order until a header is clicked
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setTabKeyNavigation(False)  # Tab leaves the table for its Filter, Copy and Export (it stayed in)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.horizontalHeader().setStretchLastSection(True)
        # size columns from the first rows only: measuring every cell of a long table blocked the Qt thread
        self.view.horizontalHeader().setResizeContentsPrecision(60)
        self.view.verticalHeader().setDefaultSectionSize(22)
        # ``row_labels``: that column's values name the rows in the vertical header (it stays put when the table
        # scrolls sideways, as a grid's names do), and the column itself is hidden; copies and exports keep it
        self.model.row_labels = row_labels
        self.view.verticalHeader().setVisible(row_labels is not None)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)

        self.title = QLabel(f"<b>{title}</b>" if title else "", self)
        # a long title wraps rather than setting the table's least width (the Roster page's two tables made the
        # window at least 1,324 px wide, wider than a 1,280 px ward screen)
        self.title.setWordWrap(True)
        self._title_above = False
        self.count = QLabel("", self)
        self.count.setObjectName("muted")
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter…")
        self.filter.setClearButtonEnabled(True)
        self.filter.setMaximumWidth(220)
        self.filter.setMinimumWidth(90)  # never squeezed to "Fi…" by a long title
        self.filter.textChanged.connect(self._filter)
        self.filter.setVisible(filter_box)
        copy_btn = QToolButton(self)
        copy_btn.setText("Copy")
        copy_btn.setToolTip("Copy the rows shown (or the selected rows) as tab-separated text for Excel")
        copy_btn.clicked.connect(self.copy)
        export_btn = QToolButton(self)
        export_btn.setText("Export…")
        export_btn.setToolTip("Save the rows shown as CSV or Excel")
        export_btn.clicked.connect(self.export_dialog)

        self._buttons = (copy_btn, export_btn)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title, 1)  # the room there is: a title wraps only when the table is narrow
        top.addWidget(self.count)
        top.addWidget(self.filter)
        top.addWidget(copy_btn)
        top.addWidget(export_btn)
        self._top = top
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.view)
        self._lay = lay

        act = QAction(self.view)
        act.setShortcut(QKeySequence.StandardKey.Copy)
        act.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        act.triggered.connect(self.copy)
        self.view.addAction(act)

    # ------------------------------------------------------------------ layout
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_title()

    def _place_title(self) -> None:
        """The title beside the buttons while it fits there in two lines at most, else on a line of its own above
        them: in the Roster page's side panel the buttons and the filter left "Rules broken (soft ones cost
        points)" about 45 px, one word a line over five lines."""
        text = self.title.text()
        if not text:
            return
        bold = QFont(self.title.font())
        bold.setBold(True)
        natural = QFontMetrics(bold).horizontalAdvance(QTextDocumentFragment.fromHtml(text).toPlainText())
        beside = [self.count, *self._buttons] + ([self.filter] if self.filter.isVisibleTo(self) else [])
        used = sum(w.sizeHint().width() for w in beside if w is not self.filter) + self._top.spacing() * len(beside)
        if self.filter in beside:
            used += self.filter.minimumWidth()
        room = self.width() - used
        above = room < natural / 2  # (it would take three lines or more beside them)
        if above == self._title_above:
            return
        self._title_above = above
        self._top.removeWidget(self.title)
        if above:
            self._lay.insertWidget(0, self.title)
        else:
            self._top.insertWidget(0, self.title, 1)

    # ------------------------------------------------------------------ data
    def set_frame(self, df: pd.DataFrame, *, resize: bool = True) -> None:
        self.model.set_frame(df)
        if self.model.row_labels is not None:
            for c, col in enumerate(df.columns):
                self.view.setColumnHidden(c, col == self.model.row_labels)
        self._update_count()
        if resize:
            self.fit_columns()

    def fit_columns(self, sample: int = 200, widest: int = 320) -> None:
        """Column widths from the text of the header and the first ``sample`` rows, measured here in one pass.

        Qt's resizeColumnsToContents asks the model for every cell through Python, taking the GIL per call;
        with a job thread running Python that stalled the window for 100 ms and more (benchmarks/ui_latency.py).
        """
        m = self.model
        fm = self.view.fontMetrics()
        hfm = self.view.horizontalHeader().fontMetrics()
        pad = 2 * self.view.style().pixelMetric(self.view.style().PixelMetric.PM_FocusFrameHMargin) + 16
        for c, col in enumerate(m.frame.columns):
            title = str(m.headerData(c, Qt.Orientation.Horizontal) or col)
            width = hfm.horizontalAdvance(title) + pad + 12  # room for the sort arrow
            texts = m.column_texts(c, sample)
            if texts:
                width = max(width, max(fm.horizontalAdvance(t) for t in texts) + pad)
            self.view.setColumnWidth(c, min(width, self.max_widths.get(str(col), widest)))

    def shown_frame(self) -> pd.DataFrame:
        """The rows as shown: filtered and sorted."""
        rows = [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in range(self.proxy.rowCount())]
        return self.model.frame.iloc[rows]

    def selected_frame(self, fallback: bool = True) -> pd.DataFrame:
        """The selected rows; with none selected, every row shown (``fallback``, for copies and exports) or
        none (for actions on what the user picked: accepting placements)."""
        rows = sorted({self.proxy.mapToSource(i).row() for i in self.view.selectionModel().selectedRows()})
        if rows or not fallback:
            return self.model.frame.iloc[rows]
        return self.shown_frame()

    def _filter(self, text: str) -> None:
        self.proxy.set_text(text)
        self._update_count()

    def _update_count(self) -> None:
        n, total = self.proxy.rowCount(), self.model.rowCount()
        self.count.setText(f"{n:,} row{'' if n == 1 else 's'}" if n == total else f"{n:,} of {total:,} rows")

    # ------------------------------------------------------------------ actions
    def exportable(self, selected: bool = False) -> tuple[pd.DataFrame, str]:
        """The rows to copy (``selected``) or export (those shown), suppressed and neutralized. Counts are
        suppressed over the whole table, then the rows taken: suppressing only the rows picked showed a cell
        blanked to protect another (cardiology's 18 stays, blanked so that oncology's 3 could not be worked
        out from the total), once copied or filtered alone."""
        frame = self.selected_frame() if selected else self.shown_frame()
        whole = self.model.frame
        counts = [c for c in self.count_cols if c in whole.columns]
        if counts and self.export_with is None and len(frame) < len(whole):
            done, note = for_export(whole.reset_index(drop=True), counts, self.count_groups, self.describes)
            where = whole.index.get_indexer(frame.index) if whole.index.is_unique else None
            if where is not None and (where >= 0).all():
                return done.iloc[where], note
        if self.export_with is not None:
            frame = self.export_with(frame)
        return for_export(frame, [c for c in self.count_cols if c in frame.columns], self.count_groups,
                          self.describes)

    def copy(self) -> str:
        df, note = self.exportable(selected=True)
        text = frame_to_tsv(df)
        QGuiApplication.clipboard().setText(text)
        self._say("Copied; paste into Excel." + (f" {note}" if note else ""))
        self._audit("copy to clipboard", self.export_name, len(df), note)
        return text

    def export_dialog(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, "Export table", f"{self.export_name}.csv",
                                                   "CSV (*.csv);;Excel (*.xlsx)")
        if path:
            if not Path(path).suffix:  # the type chosen in the dialog (a name without one was written as CSV)
                path += ".xlsx" if "xlsx" in chosen else ".csv"
            self.export_to(path)

    def export_to(self, path: str | Path) -> Path:
        df, note = self.exportable()
        out = export_frame(df, path, note=note)
        self._say(f"Exported {len(df):,} rows to {out}." + (f" {note}" if note else ""))
        self._audit("export", str(out), len(df), note)
        return out

    def _audit(self, action: str, target: str, rows: int, note: str) -> None:
        session = getattr(self.window(), "session", None)
        if session is not None:
            session.audit(action, target, {"table": self.export_name, "rows": rows, "suppression": note})

    def _say(self, text: str) -> None:
        win = self.window()
        if hasattr(win, "statusBar"):
            win.statusBar().showMessage(text, 8000)

    def _menu(self, pos) -> None:
        m = QMenu(self)
        m.addAction("Copy", self.copy)
        m.addAction("Export…", self.export_dialog)
        m.exec(self.view.viewport().mapToGlobal(pos))
