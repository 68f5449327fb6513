"""Layout and wording faults new users met: SI-prefixed axes, crowded date ticks, a legend over the data, the
Overview's "usual" against its chart, columns off-screen at 1,280 x 800, a squeezed table title, the outlook's
"28.0!", mixed decimals, supply_stock's missing date range, the bed proposal's JSON keys; and the lost
references to True that made the desktop suite abort on exit once it redrew more charts."""
from __future__ import annotations

import json
import re
import sys

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage, QPainter

from desktop.cli import main
from desktop.main_window import MainWindow, wait_until_loaded

AT = "2026-11-16T09:00"
WARD_SCREEN = (1280, 800)


def _cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _settle(qtbot, ms: int = 50) -> None:
    qtbot.wait(ms)


def _page(window, name: str, timeout_ms: int = 180000):
    window.resize(*WARD_SCREEN)
    page = window.show_page(name)
    assert wait_until_loaded(window, page, timeout_ms)
    window.resize(*WARD_SCREEN)
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    return page


def _hidden_columns(table, names) -> list[str]:
    """The columns among ``names`` whose right edge lies beyond the table's viewport (behind its scroll bar)."""
    view, model = table.view, table.model
    cols = [model.column_name(c) for c in range(model.columnCount())]
    assert set(names) <= set(cols), f"columns missing: {set(names) - set(cols)}"
    width = view.viewport().width()
    return [n for n in names if view.columnViewportPosition(cols.index(n)) + view.columnWidth(cols.index(n)) > width]


def _tick_labels(chart) -> list[tuple[float, float, str]]:
    """The bottom axis's tick labels as drawn: (left, right, text), left to right."""
    axis = chart.plot.getAxis("bottom")
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return sorted((r.left(), r.right(), text) for r, _, text in texts)


# ------------------------------------------------------------------------------------------------ charts
def test_value_axes_show_values_without_an_si_prefix(qtbot):
    from desktop.widgets.charts import TimeChart, make_plot

    plot = make_plot()
    qtbot.addWidget(plot)
    assert not any(plot.getAxis(n).autoSIPrefix for n in ("left", "bottom", "right", "top"))
    chart = TimeChart(title="ED arrivals", y_label="arrivals per hour")
    qtbot.addWidget(chart)
    chart.resize(640, 260)
    chart.show()
    ts = pd.date_range("2201-11-27 12:00", periods=24 * 16, freq="h")
    chart.add_line("usual (mean)", ts, np.where(np.arange(len(ts)) % 168 == 10, 0.7, 0.0))  # a sparse MIMIC-like ED
    _settle(qtbot)
    left = chart.plot.getAxis("left")
    assert left.autoSIPrefixScale == 1.0 and "x0.001" not in left.labelString()
    chart.close()


def test_date_tick_labels_never_overlap(qtbot):
    """Sixteen days of hours across a month's end ("30 Nov01 Dec02 Dec" on a MIMIC workspace) and a day or three
    of hours, at several widths."""
    from desktop.widgets.charts import TimeChart

    chart = TimeChart(title="ED arrivals", y_label="arrivals per hour")
    qtbot.addWidget(chart)
    chart.show()
    for start, hours in (("2201-11-27 12:00", 384), ("2026-11-24 00:00", 384), ("2026-02-20 00:00", 384),
                         ("2026-11-16 09:00", 36), ("2026-11-16 09:00", 72)):
        chart.clear()
        ts = pd.date_range(start, periods=hours + 1, freq="h")
        chart.add_line("arrivals", ts, np.arange(len(ts)) % 24)
        for width in (420, 520, 640, 820):
            chart.resize(width, 260)
            _settle(qtbot)
            labels = _tick_labels(chart)
            assert labels
            for (_, right, a), (left, _, b) in zip(labels, labels[1:]):
                assert right <= left, f"'{a}' runs into '{b}' at {width} px: {[t for *_, t in labels]}"
    chart.close()


def test_legend_leaves_every_series_in_sight(qtbot):
    """The Beds outlook: the staffed-beds line at the top of the range ran under the legend for ~12 hours."""
    from desktop.widgets.charts import TimeChart

    chart = TimeChart(title="Next 72 hours", y_label="patients")
    qtbot.addWidget(chart)
    chart.resize(720, 620)
    chart.show()
    ts = pd.date_range("2026-11-16 10:00", periods=72, freq="h")
    expected = 365 + 10 * np.sin(np.arange(72) / 6)
    chart.add_band("95% band", ts, expected - 35, expected + 35)
    chart.add_band("80% band", ts, expected - 22, expected + 22)
    chart.add_line("expected", ts, expected)
    chart.add_line("staffed beds", ts, np.full(72, 416.0), dashed=True)
    _settle(qtbot)
    vb = chart.plot.getPlotItem().vb
    box = chart.legend.sceneBoundingRect()
    under = [(name, i) for name, xs, ys in chart._series for i, (x, y) in enumerate(zip(xs, ys))
             if box.contains(vb.mapViewToScene(QPointF(float(x), float(y))))]
    assert not under, f"points under the legend: {under[:5]}"
    chart.close()


# ------------------------------------------------------------------------------------------------ overview
def test_overview_usual_card_agrees_with_the_usual_line_of_a_sparse_workspace(qtbot, tmp_path, capsys):
    """Two Monday arrivals at 10:30, 9 and 10 weeks back: the chart's usual line shows 1 at 10:00 on Mondays, so
    by noon on a Monday the card must not say "usually 0 by now"."""
    f = tmp_path / "ed.csv"
    f.write_text("visit_id,arrival_ts,departure_ts\n"
                 "V1,2024-01-15 10:30,2024-01-15 12:00\nV2,2024-01-22 10:30,2024-01-22 12:00\n")
    ws = tmp_path / "sparse.hospops"
    assert _cli(capsys, "import", ws, f, "--format", "csv", "--table", "ed_visits")[0] == 0
    w = MainWindow(restore_state=False)
    qtbot.addWidget(w)
    try:
        assert w.open_workspace(ws)
        w.session.set_as_of(pd.Timestamp("2024-03-25 12:00").to_pydatetime())
        w.show()
        page = _page(w, "overview", 60000)
        usual = page.cards["arrivals"].detail.text()
        assert usual == "usually 1.0 by now", usual
        line = dict((name, (xs, ys)) for name, xs, ys in page.arrivals._series)["usual (mean)"]
        assert np.nanmax(line[1]) == pytest.approx(1.0)
    finally:
        w.close()


def test_overview_length_of_stay_has_one_decimal_throughout(window):
    page = _page(window, "overview", 60000)
    page.los.set_frame(pd.DataFrame({"specialty": ["medicine", "surgery"], "stays": [120, 80],
                                     "mean_days": [4.0, 2.6], "median_days": [2.0, 1.8], "p90_days": [9.0, 5.7]}))
    m = page.los.model
    shown = {m.headerData(c, Qt.Orientation.Horizontal): [m.index(r, c).data() for r in range(2)]
             for c in range(2, 5)}
    assert shown == {"mean": ["4.0", "2.6"], "median": ["2.0", "1.8"], "90th pct": ["9.0", "5.7"]}


# ------------------------------------------------------------------------------------------------ tables at 1280 x 800
def test_forecast_backtest_coverage_columns_fit_a_ward_screen(window):
    page = _page(window, "forecast")
    assert page.result is not None and page.result.backtest is not None
    assert not _hidden_columns(page.metrics, ["model", "pinball", "mase", "coverage_80", "coverage_95"])
    assert not _hidden_columns(page.table, ["ds", "mean", "lo-80", "hi-80"])
    header = page.metrics.model.headerData
    cols = [page.metrics.model.column_name(c) for c in range(page.metrics.model.columnCount())]
    c80 = cols.index("coverage_80")
    assert "80%" in header(c80, Qt.Orientation.Horizontal)
    assert "80% band" in header(c80, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)  # said in full
    assert re.fullmatch(r"\d{1,3}%", page.metrics.model.index(0, c80).data())


def test_supplies_reorder_columns_fit_a_ward_screen(window):
    page = _page(window, "supplies")
    important = ["item", "name", "unit", "stockout_prob", "days_of_cover", "on_hand", "daily_use_28d",
                 "reorder_point", "safety_stock", "forecast_to_delivery"]
    assert not _hidden_columns(page.table, important)
    cols = [page.table.model.column_name(c) for c in range(page.table.model.columnCount())]
    use = cols.index("daily_use_28d")
    assert page.table.model.headerData(use, Qt.Orientation.Horizontal) == "use/day"
    assert page.table.model.headerData(use, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    name = page.table.model.index(0, cols.index("name"))  # a narrowed column: each name whole in its tooltip
    assert name.data(Qt.ItemDataRole.ToolTipRole) == page.table.model.frame["name"].iloc[0]


def test_roster_violations_title_is_not_squeezed(window):
    page = _page(window, "roster", 120000)
    title = page.violations.title
    lines = title.height() / title.fontMetrics().lineSpacing()
    assert lines < 2.5, f"'Rules broken' title takes {lines:.1f} lines ({title.width()} px wide)"
    assert title.width() >= title.fontMetrics().horizontalAdvance("Rules broken (soft ones")


# ------------------------------------------------------------------------------------------------ data
def test_data_page_gives_supply_stock_a_date_range(window):
    page = _page(window, "data", 60000)
    tables = page.tables.model.frame.set_index("table")
    assert tables.loc["supply_stock", "rows"] > 0
    assert pd.notna(tables.loc["supply_stock", "from"]) and pd.notna(tables.loc["supply_stock", "to"])


def test_info_gives_supply_stock_a_date_range(demo_ws, capsys):
    code, out, _ = _cli(capsys, "info", demo_ws, "--json")
    stock = json.loads(out)["tables"]["supply_stock"]
    assert code == 0 and stock["from"] and stock["to"] and stock["from"] <= stock["to"]


# ------------------------------------------------------------------------------------------------ beds CLI
def test_outlook_marks_only_a_shown_figure_over_the_beds(demo_ws, capsys, monkeypatch):
    import datasets.metrics.beds as beds_metrics

    ts = pd.date_range("2026-11-16 10:00", periods=72, freq="h")

    def fake_outlook(ws, at, hours=72, **kwargs):
        rows = []
        for unit, expected in (("M4", 28.04), ("M2", 29.1)):
            rows += [{"unit_id": unit, "ts": t, "capacity": 28, "expected": expected, "lo80": 24.0, "hi80": 32.0,
                      "lo95": 22.0, "hi95": 34.0} for t in ts[:hours]]
        return pd.DataFrame(rows)

    monkeypatch.setattr(beds_metrics, "outlook", fake_outlook)
    code, out, _ = _cli(capsys, "beds", "outlook", demo_ws, "--at", AT)
    assert code == 0
    m4 = next(line for line in out.splitlines() if line.startswith("M4"))
    m2 = next(line for line in out.splitlines() if line.startswith("M2"))
    assert "28.0 [24-32]" in m4 and "!" not in m4  # 28.0 of 28 beds is not over them
    assert "29.1! [24-32]" in m2
    assert "'!' marks a figure over the unit's beds" in out.splitlines()[0]  # the mark explained


def test_beds_propose_json_names_the_stay_and_the_patient(demo_ws, capsys):
    code, out, _ = _cli(capsys, "beds", "propose", demo_ws, "--at", AT, "--time-limit", 3, "--json")
    d = json.loads(out)
    assert code == 0 and d["placements"]
    from datasets.store import Workspace

    with Workspace.open(demo_ws, read_only=True) as ws:
        stays = dict(ws.sql("SELECT stay_id, patient_id FROM stays"))
    for row in d["placements"] + d["unplaced"]:
        assert "patient" not in row and "person" not in row
        assert row["stay_id"] in stays and row["patient_id"] == stays[row["stay_id"]]


@pytest.mark.skipif(sys.implementation.name != "cpython" or sys.version_info >= (3, 12),
                    reason="True is immortal from CPython 3.12")
def test_signal_emits_cannot_exhaust_true():
    """PySide6 6.12 drops a reference to True on every emit of a Python-defined signal: 1,000 emits end a fresh
    interpreter with "Fatal Python error: bool_dealloc", and the desktop suite (or a long session of progress
    bars and chart redraws) ran the app's True to zero. Importing the desktop package pins it."""
    import subprocess

    code = ("import desktop\n"
            "from PySide6.QtCore import QCoreApplication, QObject, Signal\n"
            "app = QCoreApplication([])\n"
            "class A(QObject):\n    s = Signal(object)\n"
            "a = A()\nfor i in range(20000):\n    a.s.emit(i)\nprint('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-500:]


def test_roster_grid_marks_bank_holidays(qapp):
    from datetime import date

    from PySide6.QtCore import Qt

    from desktop.pages.roster import RosterModel
    from optimization.rostering import Employee, RosterProblem, RosterSolution, ShiftType

    p = RosterProblem(7, (ShiftType("E", 480),), (Employee("A"),), start=date(2026, 12, 21),
                      holidays={4: "Christmas Day"})
    m = RosterModel()
    m.set_roster(p, RosterSolution({}))
    tip = m.headerData(4, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert tip == "Fri 25 Dec: Christmas Day (a bank holiday)"
    assert m.headerData(4, Qt.Orientation.Horizontal, Qt.ItemDataRole.ForegroundRole) is not None
    assert m.headerData(3, Qt.Orientation.Horizontal, Qt.ItemDataRole.ForegroundRole) is None
    assert m.headerData(3, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) is None


def test_forecast_tables_show_every_backtest_model_at_1280(window):
    """At 1280x800 the backtest and forecast tables showed 4 rows: the chart's size hint took the rest."""
    window.resize(1280, 800)
    page = _page(window, "forecast", 120000)
    rows = page.metrics.view.viewport().height() / page.metrics.view.verticalHeader().defaultSectionSize()
    assert rows >= 6, f"the backtest table shows {rows:.1f} rows"
