"""Charts with pyqtgraph: date axes, long series downsampled and clipped to view, forecast bands, hover
read-outs with exact values, and a unit × hour heat map.

Timestamps are naive local hospital time; they are plotted as if they were UTC epoch seconds and the date
axis is told the offset is zero, so the axis shows the hospital's wall clock whatever the machine's zone.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from desktop import theme



# Antialiased wide pens over long polylines cost seconds a frame in Qt's raster engine (measured: 26,280
# points at width 1.5 took 3-8 s per pan step with antialiasing, 40-70 ms without): no antialiasing, and
# long series are drawn with a one-pixel pen.
pg.setConfigOptions(antialias=False)
LONG_SERIES = 2000
LEGEND_COLUMNS = 4  # legend entries side by side in one row (no chart has more)
LEGEND_TOP = 5  # pixels between the plot's top and its legend


def make_plot(**kwargs) -> pg.PlotWidget:
    """A PlotWidget in the app's palette (light or dark), with the context menu off."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    pal = QApplication.instance().palette()
    w = pg.PlotWidget(**kwargs)
    w.setBackground(pal.color(QPalette.ColorRole.Base))
    text = pal.color(QPalette.ColorRole.Text)
    for name in ("left", "bottom"):
        ax = w.getAxis(name)
        ax.setPen(pg.mkPen(text))
        ax.setTextPen(pg.mkPen(text))
    for name in ("left", "bottom", "right", "top"):
        # pyqtgraph rescales small values with an SI prefix: a MIMIC workspace's ED chart read "700" under
        # "arrivals per hour (x0.001)". People read counts and shares as they are.
        w.getAxis(name).enableAutoSIPrefix(False)
    w.getPlotItem().setMenuEnabled(False)
    return w


def epoch_seconds(ds) -> np.ndarray:
    """Naive local timestamps → float seconds (wall clock read as UTC)."""
    s = pd.to_datetime(pd.Series(ds))
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    return s.astype("datetime64[ns]").to_numpy().astype("datetime64[ns]").astype(np.int64) / 1e9


def title_row(owner: QWidget, title: QLabel, plot: pg.PlotWidget) -> QHBoxLayout:
    """The chart's title with "Copy image" and "Save PNG…" buttons (any chart can go into a report)."""
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    title.setWordWrap(True)  # a long title takes a second line rather than widening the window
    row.addWidget(title, 1)
    copy_btn = QToolButton(owner)
    copy_btn.setText("Copy image")
    copy_btn.setToolTip("Copy this chart to the clipboard as a picture")
    copy_btn.clicked.connect(lambda: (_copy_image(plot), _audit(owner, title, "copy chart to clipboard", "")))
    save_btn = QToolButton(owner)
    save_btn.setText("PNG…")
    save_btn.setToolTip("Save this chart as a PNG picture")
    save_btn.clicked.connect(lambda: _save_image(owner, plot, title))
    row.addWidget(copy_btn)
    row.addWidget(save_btn)
    return row


def _copy_image(plot: pg.PlotWidget) -> None:
    from PySide6.QtGui import QGuiApplication

    QGuiApplication.clipboard().setPixmap(plot.grab())


def _save_image(owner: QWidget, plot: pg.PlotWidget, title: QLabel | None = None) -> None:
    path, _ = QFileDialog.getSaveFileName(owner, "Save chart", "chart.png", "PNG image (*.png)")
    if path and save_png(plot, path):
        _audit(owner, title, "export chart", path)


def _audit(owner: QWidget, title: QLabel | None, action: str, target: str) -> None:
    """A chart leaving the app is in the audit log, as a table's copy or export is (a chart of counts is
    data about patients too)."""
    session = getattr(owner.window(), "session", None)
    if session is not None:
        session.audit(action, target or (title.text() if title is not None else "chart"),
                      {"chart": title.text() if title is not None else ""})


def save_png(plot: pg.PlotWidget, path) -> bool:
    return plot.grab().save(str(path), "PNG")


def _pen(color: str, width: float = 1.5, style=Qt.PenStyle.SolidLine):
    return pg.mkPen(QColor(color), width=width, style=style)


def plot_message(plot: pg.PlotWidget, text: str | None) -> None:
    """Say in words why a plot is empty (``text``), in its middle, without axes whose meaningless ticks
    (-0.4..0.4, epoch seconds) would read as data; ``None`` takes the message away and brings the axes back."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    pi = plot.getPlotItem()
    old = getattr(plot, "_message_item", None)
    if old is not None:
        pi.removeItem(old)
        plot._message_item = None
    for name in ("left", "bottom"):
        (pi.hideAxis if text else pi.showAxis)(name)
    if not text:
        return
    color = QApplication.instance().palette().color(QPalette.ColorRole.PlaceholderText)
    item = pg.TextItem(text, anchor=(0.5, 0.5), color=color)
    pi.addItem(item, ignoreBounds=True)
    item.setPos(0.5, 0.5)
    plot.setXRange(0, 1, padding=0)
    plot.setYRange(0, 1, padding=0)
    plot._message_item = item


def legend_brush():
    """A legend's background: the window's base colour, nearly opaque, so the lines under it do not run through
    its text (they did on every chart with a legend)."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    c = QColor(QApplication.instance().palette().color(QPalette.ColorRole.Base))
    c.setAlpha(215)
    return pg.mkBrush(c)


# Room, in pixels, kept between two date labels.
LABEL_GAP = 6


class DateAxis(pg.DateAxisItem):
    """pyqtgraph's date axis, less any tick whose label would overlap one already placed (coarser ticks first).

    pyqtgraph spaces each level's ticks by a sample text only and places the finer levels' between the coarser
    ones without measuring them: on a fortnight's chart the month tick "01 Dec" sat between the day ticks
    "30 Nov" and "02 Dec" and the three ran together ("30 Nov01 Dec02 Dec"). Measured here, at every zoom
    level, against the labels really drawn."""

    def tickValues(self, minVal, maxVal, size):
        levels = super().tickValues(minVal, maxVal, size)
        fm = getattr(self, "fontMetrics", None)  # (set by pyqtgraph just before it asks, from its painter)
        if fm is None or not size or maxVal <= minVal:
            return levels
        scale = size / (maxVal - minVal)
        placed: list[tuple[float, float]] = []
        out = []
        for spacing, values in levels:
            kept = []
            for v, text in zip(values, self.tickStrings(values, 1.0, spacing)):
                x, half = (v - minVal) * scale, fm.horizontalAdvance(text) / 2 + LABEL_GAP / 2
                if all(x + half <= a or x - half >= b for a, b in placed):
                    placed.append((x - half, x + half))
                    kept.append(v)
            out.append((spacing, kept))
        return out


def date_axis() -> pg.DateAxisItem:
    """A bottom date axis whose day ticks say the month too ("07 Nov", not "07", which reads as an hour on an
    hourly chart) and, zoomed in to hours, the weekday and day ("Fri 20"). pyqtgraph's own levels show the
    month only at a month boundary, so a fortnight inside one month had bare day numbers; with the month on
    every day label, the separate month-boundary tick only crowded its neighbours, so the level has day ticks
    alone. Falls back to pyqtgraph's levels if its zoom-level classes move."""
    axis = DateAxis(utcOffset=0)
    try:
        from pyqtgraph.graphicsItems import DateAxisItem as dai

        day = dai.DAY_SPACING
        month_day = dai.ZoomLevel([dai.TickSpec(day, dai.makeSStepper(day), "%d %b", autoSkip=[1, 2, 3, 7])],
                                  "00 MMM")
        levels = list(axis.zoomLevels.items())
        axis.zoomLevels = type(axis.zoomLevels)(
            (spacing, month_day if level is dai.MONTH_DAY_ZOOM_LEVEL else level) for spacing, level in levels)
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - another pyqtgraph
        pass
    return axis


class _DateChart(QWidget):
    """What both charts share: a titled plot over a date axis (copy/save buttons) and a read-out line under it
    that follows the mouse (``_on_move``)."""

    def __init__(self, parent=None, *, title: str = ""):
        super().__init__(parent)
        self.plot = make_plot(axisItems={"bottom": date_axis()})
        self.title = QLabel(f"<b>{title}</b>" if title else "", self)
        self.readout = QLabel(" ", self)
        self.readout.setObjectName("muted")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(title_row(self, self.title, self.plot))
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.readout)
        self._hover = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30, slot=self._on_move)

    def _on_move(self, event) -> None:
        raise NotImplementedError


class TimeChart(_DateChart):
    """A line chart over time with optional bands and a hover read-out of every series at the cursor."""

    def __init__(self, parent=None, *, title: str = "", y_label: str = "", height: int = 260):
        super().__init__(parent, title=title)
        self.plot.setMinimumHeight(height // 2)
        self.plot.showGrid(x=False, y=True, alpha=0.15)
        self.plot.setLabel("left", y_label)
        # the legend in one row across the top (more where the chart is narrow), and the y range raised to keep
        # the data below it: stacked in the corner over the data, its opaque box hid the first 12 hours of the
        # Beds outlook's "staffed beds" line (drawn at the top of the range), and the Overview's first days
        self.legend = self.plot.addLegend(offset=(10, LEGEND_TOP), labelTextSize="8pt", brush=legend_brush(),
                                          colCount=LEGEND_COLUMNS)
        self.legend.setZValue(1000)  # above the curves, which are drawn later
        self._series: list[tuple[str, np.ndarray, np.ndarray]] = []
        self._vline = pg.InfiniteLine(angle=90, movable=False, pen=_pen(theme.GREY, 1, Qt.PenStyle.DashLine))
        self._auto_y = True
        vb = self.plot.getPlotItem().vb
        vb.sigResized.connect(lambda *_: self.fit_y())
        # zoomed or panned by hand: the user's range stands until the chart is drawn again
        vb.sigRangeChangedManually.connect(lambda *_: setattr(self, "_auto_y", False))
        self.clear()

    def clear(self) -> None:
        plot_message(self.plot, None)
        self.plot.clear()
        self.legend.clear()
        self._series = []
        self._auto_y = True
        self.plot.enableAutoRange()  # (a message shown before had fixed the range at 0..1)
        self.plot.addItem(self._vline, ignoreBounds=True)
        self._vline.hide()
        self.readout.setText(" ")

    def fit_y(self) -> None:
        """The y range of every series, with room above it for the legend's row, so no data runs under it."""
        if not self._auto_y:
            return
        ys = [y[np.isfinite(y)] for _, _, y in self._series]
        ys = [y for y in ys if y.size]
        if not ys:
            return
        lo, hi = min(float(y.min()) for y in ys), max(float(y.max()) for y in ys)
        vb = self.plot.getPlotItem().vb
        # pyqtgraph's own margin for the plot's height (less, and the tick label at the lowest value was cut off)
        pad = vb.suggestPadding(1) * (hi - lo) if hi > lo else max(abs(hi) * 0.1, 0.5)
        lo, hi = lo - pad, hi + pad
        n = len(self.legend.items)
        if n:
            cols = min(n, LEGEND_COLUMNS)
            self.legend.setColumnCount(cols)
            while cols > 1 and vb.width() > 0 and self.legend.width() > vb.width() - 20:
                cols -= 1
                self.legend.setColumnCount(cols)
        used = self.legend.height() + LEGEND_TOP + 4 if n else 0.0
        share = min(0.45, used / vb.height()) if vb.height() > 0 else (0.15 if n else 0.0)
        hi += (hi - lo) * share / (1 - share)
        self.plot.setYRange(lo, hi, padding=0)

    def show_empty(self, text: str) -> None:
        """Nothing to chart: the reason in words instead of empty axes (epoch seconds read as 1970-2025)."""
        self.clear()
        plot_message(self.plot, text)

    def add_line(self, name: str, ds, y, color: str | None = None, *, width: float = 1.5, dashed: bool = False):
        x = epoch_seconds(ds)
        y = np.asarray(y, dtype=float)
        color = color or theme.SERIES[len(self._series) % len(theme.SERIES)]
        style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
        if len(x) > LONG_SERIES:
            width = 1
        item = self.plot.plot(x, y, pen=_pen(color, width, style), name=name)
        # Long series: draw the peaks of what is visible only (pyqtgraph examples, STYLE.md).
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)
        self._series.append((name, x, y))
        self.fit_y()
        return item

    def add_band(self, name: str, ds, lo, hi, color: str = theme.BLUE, alpha: int = 50):
        x, lo, hi = epoch_seconds(ds), np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        # a band with gaps (no history yet for some hours) is drawn where it is known: missing ends made the
        # fill span the axis from 1970 (the Overview in a workspace's first days)
        known = np.isfinite(x) & np.isfinite(lo) & np.isfinite(hi)
        if not known.any():
            return None
        x, lo, hi = x[known], lo[known], hi[known]
        lo_c = pg.PlotDataItem(x, lo, pen=pg.mkPen(None))
        hi_c = pg.PlotDataItem(x, hi, pen=pg.mkPen(None))
        c = QColor(color)
        c.setAlpha(alpha)
        band = pg.FillBetweenItem(lo_c, hi_c, brush=pg.mkBrush(c))
        self.plot.addItem(lo_c)
        self.plot.addItem(hi_c)
        self.plot.addItem(band)
        # the legend draws samples of plot data items only: a fill-only stand-in represents the band
        sample = pg.PlotDataItem([], [], pen=pg.mkPen(None), fillLevel=0, fillBrush=pg.mkBrush(c))
        self.legend.addItem(sample, name)
        self._series.append((name + " low", x, lo))
        self._series.append((name + " high", x, hi))
        self.fit_y()
        return band

    def add_marker(self, ts, label: str = "") -> None:
        line = pg.InfiniteLine(pos=float(epoch_seconds([ts])[0]), angle=90, movable=False,
                               pen=_pen(theme.VERMILLION, 1, Qt.PenStyle.DotLine), label=label,
                               labelOpts={"position": 0.95, "color": theme.VERMILLION})
        self.plot.addItem(line, ignoreBounds=True)

    def set_x_range(self, start, end) -> None:
        a, b = epoch_seconds([start, end])
        self.plot.setXRange(float(a), float(b), padding=0.01)

    def _on_move(self, event) -> None:
        pos = event[0]
        vb = self.plot.getPlotItem().vb
        if not self.plot.sceneBoundingRect().contains(pos) or not self._series:
            return
        x = vb.mapSceneToView(pos).x()
        parts = []
        when = None
        for name, xs, ys in self._series:
            if len(xs) == 0:
                continue
            i = int(np.clip(np.searchsorted(xs, x), 0, len(xs) - 1))
            if i > 0 and abs(xs[i - 1] - x) < abs(xs[i] - x):
                i -= 1
            when = xs[i] if when is None else when
            v = ys[i]
            parts.append(f"{name}: {'–' if np.isnan(v) else f'{v:,.1f}'}")
        if when is None:
            return
        self._vline.setPos(when)
        self._vline.show()
        t = pd.Timestamp(int(when * 1e9))
        self.readout.setText(f"{t:%a %d %b %Y %H:%M}   " + "   ".join(parts))


class HeatMap(_DateChart):
    """Rows (e.g. units) × time (e.g. hours) as colours, with row names on the left and a read-out."""

    def __init__(self, parent=None, *, title: str = "", value_label: str = "value"):
        super().__init__(parent, title=title)
        self.value_label = value_label
        self._rows: list[str] = []
        self._x = np.array([])
        self._z = np.zeros((0, 0))
        self.bar = None
        self.plot.invertY(True)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)

    def show_empty(self, text: str) -> None:
        """No rows to show: the reason in words instead of an empty image over meaningless axes."""
        self._rows, self._x, self._z = [], np.array([]), np.zeros((0, 0))
        self.image.clear()
        if self.bar is not None:
            self.bar.hide()
        plot_message(self.plot, text)

    def set_data(self, rows: Sequence[str], ds, z: np.ndarray, *, levels=(0.0, 1.0)) -> None:
        """``z`` has one row per name and one column per time step (regular steps)."""
        plot_message(self.plot, None)
        if self.bar is not None:
            self.bar.show()
        self._rows = list(rows)
        self._x = epoch_seconds(ds)
        self._z = np.asarray(z, dtype=float)
        step = float(self._x[1] - self._x[0]) if len(self._x) > 1 else 3600.0
        cmap = pg.colormap.get("viridis")
        self.image.setImage(self._z.T, levels=levels, autoLevels=False)
        self.image.setColorMap(cmap)
        x0 = float(self._x[0]) if len(self._x) else 0.0
        self.image.setRect(x0, 0, step * max(len(self._x), 1), max(len(self._rows), 1))
        ticks = [(i + 0.5, name) for i, name in enumerate(self._rows)]
        left = self.plot.getAxis("left")
        left.setTicks([ticks])
        small = QFont()
        small.setPointSize(7)
        left.setStyle(tickFont=small)
        if self.bar is None:
            self.bar = pg.ColorBarItem(values=levels, colorMap=cmap, interactive=False, width=10)
            self.bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        else:
            self.bar.setLevels(levels)
        self.plot.autoRange()

    def _on_move(self, event) -> None:
        pos = event[0]
        if not len(self._x) or not self.plot.sceneBoundingRect().contains(pos):
            return
        p = self.plot.getPlotItem().vb.mapSceneToView(pos)
        col = int(np.searchsorted(self._x, p.x(), side="right") - 1)
        row = int(np.floor(p.y()))
        if 0 <= row < len(self._rows) and 0 <= col < len(self._x):
            t = pd.Timestamp(int(self._x[col] * 1e9))
            self.readout.setText(f"{self._rows[row]}  {t:%a %d %b %H:%M}  {self.value_label}: {self._z[row, col]:.0%}")
