"""Qt table models over pandas data (Arrow-backed where DuckDB gave it), not widgets filled cell by cell.

:class:`FrameModel` shows a DataFrame; values are formatted for people only at display time (thousands
separators, one decimal for rates, local dates), while sorting uses the raw values (``Qt.UserRole``).
:class:`FrameFilter` filters rows on a text typed by the user across every column.
"""
from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, Callable

import numpy as np
import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt

SORT_ROLE = Qt.ItemDataRole.UserRole


def format_value(v: Any, decimals: int | str | None = None, timed: bool = False) -> str:
    """A value as a person reads it: 12,345; 3.4; 21 Nov 2026 14:00; '' for missing. ``decimals`` fixes the
    digits after the point; a string such as ``"1%"`` shows a share as a percentage with that many. A time at
    midnight shows as a date unless ``timed`` (a column of hours: its midnight is 00:00, not a day)."""
    if v is None or v is pd.NaT or v is pd.NA:
        return ""
    if isinstance(v, float) or isinstance(v, np.floating):
        if math.isnan(v):
            return ""
        if isinstance(decimals, str) and decimals.endswith("%"):
            return f"{v:.{int(decimals[:-1] or 0)}%}"
        if decimals is not None:
            return f"{v:,.{decimals}f}"
        if float(v).is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.2f}".rstrip("0").rstrip(".")
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, datetime):
        midnight = (v.hour, v.minute, v.second) == (0, 0, 0)
        return v.strftime("%d %b %Y") if midnight and not timed else v.strftime("%d %b %Y %H:%M")
    if isinstance(v, date):
        return v.strftime("%d %b %Y")
    return str(v)


def _has_clock_times(s: pd.Series) -> bool:
    """Whether a column of timestamps holds any time other than midnight."""
    if not pd.api.types.is_datetime64_any_dtype(s.dtype) or not len(s):
        return False
    t = s.dropna()
    return bool(((t.dt.hour != 0) | (t.dt.minute != 0) | (t.dt.second != 0)).any())


class FrameModel(QAbstractTableModel):
    """A read-only model of a DataFrame. ``headers`` renames columns for people; ``tooltips`` explain them."""

    def __init__(self, df: pd.DataFrame | None = None, parent=None, *, headers: dict[str, str] | None = None,
                 tooltips: dict[str, str] | None = None, decimals: dict[str, int | str] | None = None,
                 colors: Callable[[int, str], Any] | None = None):
        super().__init__(parent)
        self._df = pd.DataFrame()
        self._values: list[np.ndarray] = []
        self._cols: list = []
        self._timed: set = set()
        self.headers = headers or {}
        self.tooltips = tooltips or {}
        self.decimals = decimals or {}
        self.colors = colors
        self.row_labels: str | None = None  # a column whose values the vertical header shows (each row's name)
        if df is not None:
            self.set_frame(df)

    # ------------------------------------------------------------------ data
    def set_frame(self, df: pd.DataFrame) -> None:
        self.beginResetModel()
        self._df = df.reset_index(drop=True)
        # Column arrays as object once: indexing a numpy object array per paint is cheap; df.iat is not.
        self._values = [self._df[c].to_numpy(dtype=object, na_value=None) for c in self._df.columns]
        self._cols = list(self._df.columns)  # a plain list: indexing pandas' (Arrow) column index per cell is slow
        self._timed = {c for c in self._cols if _has_clock_times(self._df[c])}
        self.endResetModel()

    @property
    def frame(self) -> pd.DataFrame:
        return self._df

    def column_texts(self, column: int, rows: int) -> set[str]:
        """The distinct display texts of the first ``rows`` cells of a column (for sizing it)."""
        col = self._cols[column]
        return {format_value(v, self.decimals.get(col), col in self._timed) for v in self._values[column][:rows]}

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self._df)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._cols)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        col = self._cols[index.column()]
        v = self._values[index.column()][index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return format_value(v, self.decimals.get(col), col in self._timed)
        if role == SORT_ROLE:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return None
            if isinstance(v, (np.integer, np.floating)):
                return v.item()
            if isinstance(v, pd.Timestamp):
                return v.to_pydatetime()
            return v
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        if role == Qt.ItemDataRole.BackgroundRole and self.colors is not None:
            return self.colors(index.row(), col)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self._cols):
            col = str(self._cols[section])
            if role == Qt.ItemDataRole.DisplayRole:
                return self.headers.get(col, col.replace("_", " "))
            if role == Qt.ItemDataRole.ToolTipRole:
                return self.tooltips.get(col)
        if orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole:
            if self.row_labels is not None and self.row_labels in self._cols and section < len(self._df):
                return str(self._values[self._cols.index(self.row_labels)][section])
            return str(section + 1)
        return None

    def column_name(self, section: int) -> str:
        return str(self._cols[section])


class FrameFilter(QSortFilterProxyModel):
    """Sort by raw values; keep rows where any cell's text contains every word typed (case-insensitive)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._words: list[str] = []

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._words = [w for w in text.lower().split() if w]
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        if not self._words:
            return True
        model = self.sourceModel()
        cells = " ".join(
            str(model.data(model.index(source_row, c, source_parent)) or "").lower()
            for c in range(model.columnCount())
        )
        return all(w in cells for w in self._words)

    def lessThan(self, left: QModelIndex, right: QModelIndex) -> bool:
        a = self.sourceModel().data(left, SORT_ROLE)
        b = self.sourceModel().data(right, SORT_ROLE)
        if a is None:
            return b is not None  # missing values first ascending, last descending
        if b is None:
            return False
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)


def frame_to_tsv(df: pd.DataFrame) -> str:
    """Tab-separated text with a header row, as Excel pastes it."""
    def cell(v: Any) -> str:
        s = format_value(v).replace(",", "") if isinstance(v, (int, float, np.integer, np.floating)) else format_value(v)
        return s.replace("\t", " ").replace("\n", " ")

    lines = ["\t".join(str(c) for c in df.columns)]
    for row in df.itertuples(index=False):
        lines.append("\t".join(cell(v) for v in row))
    return "\n".join(lines) + "\n"
