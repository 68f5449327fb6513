"""The bed board: one block per unit, one tile per bed, coloured by state and marked with a letter (never colour
alone): ● occupied, ○ free, ✕ blocked, ~ cleaning, R reserved by an accepted proposal; M/F for the occupant's
sex, m/f on a free bed in a men's/women's bay, a corner stripe for side rooms, "T" for telemetry. Hovering a
tile shows the patient's pseudonym, specialty, length of stay so far and expected discharge."""
from __future__ import annotations

import math

import pandas as pd
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from desktop import theme

TILE = 21
GAP = 3
UNIT_GAP = 14
HEADER = 18


def _fmt_ts(v) -> str:
    return "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%a %d %b %H:%M")


class BedBoard(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._board = pd.DataFrame()
        self._units: dict[str, str] = {}
        self._reserved: dict[str, str] = {}  # bed -> patient
        self._tiles: list[tuple[QRect, dict]] = []
        self._height = 200

    def set_board(self, board: pd.DataFrame, unit_names: dict[str, str] | None = None,
                  reserved: dict[str, str] | None = None) -> None:
        self._board = board
        self._units = unit_names or {}
        self._reserved = reserved or {}
        self._layout(self.width() or 800)
        self.update()

    def set_reserved(self, reserved: dict[str, str]) -> None:
        self._reserved = reserved
        self.update()

    # ------------------------------------------------------------------ geometry
    def _layout(self, width: int) -> None:
        self._tiles = []
        self._blocks: list[tuple[QRect, str]] = []
        if self._board.empty:
            self._height = 100
            self.updateGeometry()
            return
        per_row = max(4, (width - 2 * GAP) // (TILE + GAP))
        x, y, row_h = GAP, GAP, 0
        block_w_max = max(6, min(per_row, 10))
        for unit, beds in self._board.groupby("unit_id", sort=True):
            n = len(beds)
            cols = min(block_w_max, n)
            rows = math.ceil(n / cols)
            bw = cols * (TILE + GAP) + GAP
            bh = HEADER + rows * (TILE + GAP) + GAP
            if x + bw > width and x > GAP:
                x, y = GAP, y + row_h + UNIT_GAP
                row_h = 0
            self._blocks.append((QRect(x, y, max(bw, 120), bh), str(unit)))
            for i, rec in enumerate(beds.to_dict("records")):
                r, c = divmod(i, cols)
                self._tiles.append((QRect(x + GAP + c * (TILE + GAP), y + HEADER + r * (TILE + GAP), TILE, TILE), rec))
            x += max(bw, 120) + UNIT_GAP
            row_h = max(row_h, bh)
        self._height = y + row_h + GAP
        self.setMinimumHeight(self._height)
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(800, self._height)

    def resizeEvent(self, event) -> None:  # noqa: N802
        self._layout(event.size().width())
        super().resizeEvent(event)

    # ------------------------------------------------------------------ painting
    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = self.palette().color(QPalette.ColorRole.Text)
        small = QFont(self.font())
        small.setPointSize(7)
        bold = QFont(self.font())
        bold.setPointSize(8)
        bold.setBold(True)
        counts = self._board.groupby("unit_id")["state"].value_counts().unstack(fill_value=0) if len(self._board) else None
        for rect, unit in self._blocks:
            p.setPen(QPen(text))
            p.setFont(bold)
            occ = int(counts.loc[unit].get("occupied", 0)) if counts is not None else 0
            total = int(counts.loc[unit].sum()) if counts is not None else 0
            p.drawText(QRect(rect.x(), rect.y(), rect.width() + 60, HEADER), Qt.AlignmentFlag.AlignLeft,
                       f"{unit}  {occ}/{total}")
        for rect, rec in self._tiles:
            state = rec.get("state") or "free"
            if rec["bed_id"] in self._reserved and state != "occupied":
                state = "reserved"
            color, glyph = theme.BED_STATES.get(state, (theme.GREY, "?"))
            fill = QColor(color)
            if state == "free":
                fill.setAlpha(70)
            p.setPen(QPen(QColor(color).darker(130), 1, Qt.PenStyle.DashLine if state == "reserved" else Qt.PenStyle.SolidLine))
            p.setBrush(fill)
            p.drawRoundedRect(rect, 3, 3)
            if rec.get("side_room"):
                p.setPen(QPen(QColor(theme.VERMILLION), 2))
                p.drawLine(rect.topRight() + QPoint(-5, 1), rect.topRight() + QPoint(-1, 5))
            p.setPen(QPen(QColor("#ffffff") if state in ("occupied", "reserved") else text))
            p.setFont(small)
            label = glyph
            if state == "occupied" and isinstance(rec.get("sex"), str) and rec["sex"] in ("M", "F"):
                label = rec["sex"]
            elif state == "free" and rec.get("bed_sex") in ("M", "F"):
                # which bay a free bed is in: "42 free" read as room for 15 women when 26 were in men's bays
                label = rec["bed_sex"].lower()
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
            if rec.get("telemetry"):
                p.drawText(rect.adjusted(1, 0, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, "T")
        p.end()

    # ------------------------------------------------------------------ hover
    def tile_at(self, pos: QPoint) -> dict | None:
        for rect, rec in self._tiles:
            if rect.contains(pos):
                return rec
        return None

    def describe(self, rec: dict) -> str:
        lines = [f"<b>{rec['bed_id']}</b> — {self._units.get(rec['unit_id'], rec['unit_id'])}"]
        state = rec.get("state")
        if rec["bed_id"] in self._reserved and state != "occupied":
            lines.append(f"reserved for {self._reserved[rec['bed_id']]} (accepted proposal)")
        else:
            lines.append(state or "")
        if state == "occupied":
            lines.append(f"patient {rec.get('patient_id')}, {rec.get('specialty') or 'specialty unknown'}, "
                         f"{rec.get('sex') or '?'}, age {rec.get('age') if not pd.isna(rec.get('age')) else '?'}")
            los = rec.get("los_hours")
            if los is not None and not pd.isna(los):
                lines.append(f"in hospital {los / 24:.1f} days; expected discharge {_fmt_ts(rec.get('expected_discharge'))}")
        marks = [m for m, on in (("side room", rec.get("side_room")), ("telemetry", rec.get("telemetry"))) if on]
        if isinstance(rec.get("bed_sex"), str):
            marks.append(f"{rec['bed_sex']} bay")
        if marks:
            lines.append(", ".join(marks))
        return "<br>".join(lines)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        rec = self.tile_at(event.position().toPoint())
        if rec is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(event.globalPosition().toPoint(), self.describe(rec), self)
        super().mouseMoveEvent(event)
