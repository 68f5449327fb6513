"""The desktop app, offscreen with pytest-qt: shell, job runner, Overview, Data and the import wizard."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")


# ---------------------------------------------------------------------------------------------- job runner
def test_job_runner_delivers_result_and_progress(qtbot):
    from desktop.jobs import JobRunner

    runner = JobRunner()
    seen, results = [], []

    def fn(progress, should_stop):
        for i in range(3):
            progress((i + 1) / 3, f"step {i + 1}")
            time.sleep(0.06)
        return 42

    runner.run("k", "counting", fn, on_done=results.append, on_progress=lambda f, m: seen.append(m))
    qtbot.waitUntil(lambda: results == [42], timeout=5000)
    assert seen and seen[-1] == "step 3"
    assert runner.is_idle()


def test_cancel_really_stops_the_core(qtbot):
    from datasets.progress import Reporter
    from desktop.jobs import JobRunner

    runner = JobRunner()
    stopped = threading.Event()
    errors, results = [], []

    def long_core(progress=None, should_stop=None):
        rep = Reporter(progress, should_stop)
        try:
            for i in range(10_000):
                rep(i / 10_000, "working")
                time.sleep(0.005)
            return "finished"
        finally:
            stopped.set()

    runner.run("k", "long", long_core, on_done=results.append, on_error=errors.append)
    qtbot.wait(100)
    runner.cancel("k")
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert stopped.wait(2), "the core kept running after cancel"
    assert errors == ["Cancelled; nothing was changed."] and results == []


def test_new_job_of_same_key_supersedes_old(qtbot):
    from desktop.jobs import JobRunner

    runner = JobRunner()
    results = []
    first_started, first_stopped = threading.Event(), threading.Event()

    def slow(progress, should_stop):
        first_started.set()
        while not should_stop():
            time.sleep(0.01)
        first_stopped.set()
        return "old"

    runner.run("page", "old", slow, on_done=results.append)
    assert first_started.wait(5)
    runner.run("page", "new", lambda progress, should_stop: "new", on_done=results.append)
    qtbot.waitUntil(lambda: results == ["new"], timeout=5000)
    assert first_stopped.wait(2)
    runner.wait(2000)
    qtbot.wait(50)
    assert results == ["new"], "a superseded job's result must be dropped"


def test_a_stopped_search_keeps_its_best_so_far_but_a_superseded_one_does_not(qtbot):
    from desktop.jobs import JobRunner

    runner = JobRunner()
    results, errors, finished = [], [], []
    runner.finished.connect(lambda job, message: finished.append(message))
    running = threading.Event()

    def search(progress, should_stop):  # a solver: stopped, it returns the best it had
        best = None
        for i in range(1000):
            best = f"roster {i}"
            running.set()
            if should_stop():
                break
            time.sleep(0.01)
        return best

    runner.run("roster", "solving", search, on_done=results.append, on_error=errors.append, keeps_partial=True)
    assert running.wait(5)
    runner.cancel("roster")
    qtbot.waitUntil(lambda: bool(results or errors), timeout=5000)
    assert errors == [] and len(results) == 1 and results[0].startswith("roster ")
    assert finished == ["Stopped; the best found so far is shown."]
    running.clear()
    runner.run("roster", "old", search, on_done=results.append, keeps_partial=True)
    assert running.wait(5)
    runner.run("roster", "new", lambda progress, should_stop: "new", on_done=results.append, keeps_partial=True)
    qtbot.waitUntil(lambda: results[-1] == "new", timeout=5000)
    runner.wait(2000)
    qtbot.wait(50)
    assert results[1:] == ["new"], "a superseded search's result is still dropped"


def test_errors_are_sentences_not_tracebacks(qtbot, tmp_path, monkeypatch):
    from datasets.errors import SourceError
    from desktop.jobs import JobRunner

    monkeypatch.setenv("HOSPOPS_LOG_DIR", str(tmp_path))
    runner = JobRunner()
    errors = []

    def user_error(progress, should_stop):
        raise SourceError("arrival time '31/02/2024' is not a date.")

    def bug(progress, should_stop):
        return 1 / 0

    runner.run("a", "a", user_error, on_error=errors.append)
    runner.run("b", "b", bug, on_error=errors.append)
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=5000)
    assert "arrival time '31/02/2024' is not a date." in errors
    bug_msg = next(e for e in errors if "bug" in e)
    assert "Traceback" not in bug_msg and "ZeroDivisionError" in bug_msg
    assert list(tmp_path.glob("crash-*.log")), "the traceback belongs in the log file"


# ---------------------------------------------------------------------------------------------- models
def test_values_read_as_people_read_them():
    from desktop.models import format_value

    assert format_value(0.9944, "1%") == "99.4%" and format_value(1.0, "0%") == "100%"
    assert format_value(9.2712, 1) == "9.3" and format_value(30.0, 0) == "30" and format_value(float("nan"), 1) == ""


def test_midnight_of_an_hourly_column_shows_its_hour():
    import pandas as pd

    from desktop.models import FrameModel

    hours = pd.date_range("2026-11-20 22:00", periods=3, freq="h")
    days = pd.date_range("2026-11-20", periods=2, freq="D")
    m = FrameModel(pd.DataFrame({"ds": hours}))
    assert [m.data(m.index(r, 0)) for r in range(3)] == ["20 Nov 2026 22:00", "20 Nov 2026 23:00", "21 Nov 2026 00:00"]
    m.set_frame(pd.DataFrame({"ds": days}))  # a column of days stays dates
    assert [m.data(m.index(r, 0)) for r in range(2)] == ["20 Nov 2026", "21 Nov 2026"]


def test_frame_model_sorts_by_value_and_copies_tsv(qtbot):
    import pandas as pd
    from PySide6.QtCore import Qt

    from desktop.models import frame_to_tsv
    from desktop.widgets.table import FrameTable

    t = FrameTable()
    qtbot.addWidget(t)
    t.set_frame(pd.DataFrame({"unit": ["M1", "M2", "S1"], "patients": [9, 10, 1200]}))
    t.view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    assert t.shown_frame()["patients"].tolist() == [1200, 10, 9]  # numeric, not text order ("9" > "1200")
    t.filter.setText("m")
    assert t.shown_frame()["unit"].tolist() == ["M2", "M1"]
    assert frame_to_tsv(t.shown_frame()) == "unit\tpatients\nM2\t10\nM1\t9\n"
    assert t.model.data(t.model.index(2, 1)) == "1,200"


def test_chart_hover_readout_and_png(qtbot, tmp_path):
    import pandas as pd
    from PySide6.QtGui import QImage

    from desktop.widgets.charts import TimeChart, save_png

    c = TimeChart(title="t")
    qtbot.addWidget(c)
    c.resize(800, 300)
    ds = pd.date_range("2024-03-30", periods=26280, freq="h")  # three years of hourly points
    c.add_line("arrivals", ds, [i % 24 for i in range(len(ds))])
    c.add_band("80% band", ds[:48], [1.0] * 48, [3.0] * 48)
    c.show()
    qtbot.waitExposed(c)
    assert save_png(c.plot, tmp_path / "c.png") and QImage(str(tmp_path / "c.png")).width() > 100


def test_date_axis_day_ticks_name_the_month(qtbot):
    from datetime import datetime, timezone

    from desktop.widgets.charts import date_axis, make_plot

    plot = make_plot(axisItems={"bottom": date_axis()})
    qtbot.addWidget(plot)
    ax = plot.getAxis("bottom")
    lo = datetime(2026, 11, 6, tzinfo=timezone.utc).timestamp()  # a fortnight inside one month, on 700 px
    hi = datetime(2026, 11, 22, tzinfo=timezone.utc).timestamp()
    plot.resize(760, 300)
    plot.setXRange(lo, hi, padding=0)
    plot.grab()  # drawn once: the axis measures its labels with the painter's font
    levels = ax.tickValues(lo, hi, 700)
    labels = [t for spacing, ticks in levels for t in ax.tickStrings(ticks, 1.0, spacing)]
    assert labels and all(t.endswith(" Nov") for t in labels), labels  # "07 Nov", never a bare "07"


def test_copy_and_export_suppress_small_counts(qtbot, tmp_path):
    import pandas as pd

    from desktop.widgets.table import FrameTable

    t = FrameTable(count_cols=["stays"], describes=["median_days"])
    qtbot.addWidget(t)
    t.set_frame(pd.DataFrame({"specialty": ["medicine", "surgery", "=HYPERLINK(\"x\")"], "stays": [120, 7, 40],
                              "median_days": [2.5, 3.0, 1.0]}))
    text = t.copy()
    rows = [line.split("\t") for line in text.strip().splitlines()]
    assert rows[1][1] == "120" and rows[2][1] == "", "7 stays is a small count: blanked"
    # and what describes those 7 people with it (their median stay was published beside the blank)
    assert rows[1][2] == "2.5" and rows[2][2] == "", rows
    assert not rows[3][0].startswith("="), "formula-looking text is neutralized"
    out = t.export_to(tmp_path / "los.csv")
    assert out.read_bytes().startswith(b"\xef\xbb\xbf"), "UTF-8 with the mark Excel needs"
    content = out.read_text(encoding="utf-8-sig")
    assert content.startswith("#") and "suppress" in content.splitlines()[0].lower()
    assert ",7," not in content
    assert t.model.frame["stays"].tolist() == [120, 7, 40], "the table on screen is unchanged"

    # a cell blanked to protect another stays blank when its row is copied or filtered alone: oncology's 3
    # stays could be worked out from the total once cardiology's 18 showed
    t = FrameTable(count_cols=["stays"], describes=["median_days"])
    qtbot.addWidget(t)
    t.set_frame(pd.DataFrame({"specialty": ["medicine", "surgery", "cardiology", "oncology"],
                              "stays": [60, 40, 18, 3], "median_days": [2.5, 3.0, 30.1, 4.0]}))
    whole = t.copy()
    blank = [line.split("\t")[0] for line in whole.splitlines()[1:] if line.split("\t")[1] == ""]
    assert "oncology" in blank and len(blank) >= 2, whole
    other = next(b for b in blank if b != "oncology")
    row = t.model.frame.index[t.model.frame["specialty"] == other][0]
    t.view.selectRow(t.proxy.mapFromSource(t.model.index(int(row), 0)).row())
    one = t.copy().splitlines()
    assert len(one) == 2 and one[1].split("\t")[1:] == ["", ""], one
    t.view.clearSelection()
    t._filter(other)
    assert t.exportable()[0]["stays"].isna().all()


# ---------------------------------------------------------------------------------------------- shell + pages
def test_first_start_offers_demo(qtbot):
    from desktop.main_window import MainWindow

    w = MainWindow(restore_state=False)
    qtbot.addWidget(w)
    w.show()
    page = w.show_page("overview")
    assert page._stack.currentWidget() is page.empty
    from PySide6.QtWidgets import QPushButton

    assert "Try the demo hospital" in [b.text() for b in page.empty.findChildren(QPushButton)]
    w.close()


def overview_of(qtbot, path):
    """A window on the workspace at ``path``, its Overview page loaded: (window, page)."""
    from desktop.main_window import MainWindow, wait_until_loaded

    w = MainWindow(restore_state=False)
    qtbot.addWidget(w)
    w.show()
    assert w.open_workspace(path, interactive=False)
    page = w.show_page("overview")
    assert wait_until_loaded(w, page, 60000)
    return w, page


def test_overview_of_a_workspace_without_beds_says_so_instead_of_empty_axes(qtbot, tmp_path):
    from datasets.store import Workspace

    path = tmp_path / "ed_only.hospops"
    with Workspace.create(path, timezone="Europe/London") as ws:  # ED visits only: no units, no beds
        ws.con.execute("INSERT INTO ed_visits (visit_id, arrival_ts, departure_ts) VALUES "
                       "('v1', '2024-06-01 10:00', '2024-06-01 12:00'), ('v2', '2024-06-02 09:00', NULL)")
    w, page = overview_of(qtbot, path)
    for plot in (page.census.plot, page.units):
        item = getattr(plot, "_message_item", None)
        assert item is not None and "No inpatient units with staffed beds" in item.toPlainText()
        assert not plot.getPlotItem().getAxis("left").isVisible()
    assert getattr(page.arrivals.plot, "_message_item", None) is None  # there are arrivals to chart
    w.close()
    # a workspace with nothing in it: the arrivals chart says so too (its axes ran 1970-2025)
    empty = tmp_path / "empty.hospops"
    Workspace.create(empty).close()
    w, page = overview_of(qtbot, empty)
    item = getattr(page.arrivals.plot, "_message_item", None)
    assert item is not None and "No ED visits" in item.toPlainText()
    w.close()


def test_overview_shows_the_core_numbers(window, demo_ws):
    from datasets.metrics.overview import snapshot
    from datasets.store import Workspace
    from desktop.main_window import wait_until_loaded

    page = window.show_page("overview")
    assert wait_until_loaded(window, page, 60000)
    assert not page.error.isVisible(), page.error.text()
    at = window.session.as_of
    # a chart copied out is in the audit log, as a table's copy is (a review found charts left no trace)
    from PySide6.QtWidgets import QToolButton

    from datasets.store import list_audit

    copy = next(b for b in page.findChildren(QToolButton) if b.text() == "Copy image")
    before = len(list_audit(window.session.ws, action="copy chart to clipboard"))
    copy.click()
    assert len(list_audit(window.session.ws, action="copy chart to clipboard")) == before + 1
    window.close()  # release the workspace, then compare with the core's own answer
    with Workspace.open(demo_ws, read_only=True) as ws:
        snap = snapshot(ws, at)
    assert page.cards["in_ed"].value.text() == f"{snap['in_ed']:,}"
    assert page.cards["arrivals"].value.text() == f"{snap['ed_arrivals_today']:,}"
    assert page.los.model.rowCount() > 0
    assert all(getattr(pl, "_message_item", None) is None for pl in (page.census.plot, page.units, page.arrivals.plot))


def test_as_of_change_reloads_pages(window, qtbot):
    from datetime import timedelta

    from desktop.main_window import wait_until_loaded

    page = window.show_page("overview")
    assert wait_until_loaded(window, page, 60000)
    before = page.snapshot_at
    window.session.set_as_of(window.session.as_of - timedelta(days=20, hours=7))
    assert wait_until_loaded(window, page, 60000)
    assert page.snapshot_at == window.session.as_of != before
    # the bar's as-of box shows the time every page answers for, however it was set
    assert window.as_of.dateTime().toPython() == window.session.as_of
    # Latest resets a half-typed time in the box even when the latest time is already the one in force
    from PySide6.QtCore import QDateTime

    window.session.set_as_of(window.session.default_as_of())
    window.as_of.blockSignals(True)
    window.as_of.setDateTime(QDateTime(window.session.as_of - timedelta(days=3)))
    window.as_of.blockSignals(False)
    window._as_of_latest()
    assert window.as_of.dateTime().toPython() == window.session.as_of
    # a day picked in the calendar applies at once (it waited for the box to lose focus)
    picked = window.session.as_of - timedelta(days=2)
    window.as_of.setDateTime(QDateTime(picked))
    window.as_of.calendarWidget().clicked.emit(window.as_of.date())
    qtbot.waitUntil(lambda: window.session.as_of == picked, timeout=5000)
    # past the last record the bar says so (the pages' counts there are not known)
    assert window.after_data.isHidden()
    window.session.set_as_of(window.session.data_end + timedelta(days=2))
    assert not window.after_data.isHidden() and "after the last record" in window.after_data.text()
    window.session.set_as_of(window.session.data_end)
    assert window.after_data.isHidden()


def test_second_window_on_same_workspace_is_refused(window, demo_ws):
    from datasets.errors import WorkspaceError
    from datasets.store import Workspace

    # the app holds the workspace: another process (simulated by the same-process read-only open, which DuckDB
    # refuses with a different configuration) cannot take it from under the user
    with pytest.raises(WorkspaceError):
        Workspace.open(demo_ws, read_only=True)


def _write_visits(path: Path) -> None:
    path.write_text(
        "Visit No,Patient MRN,Arrived,Left,Triage\n"
        "V1,MRN1,21/11/2026 08:05,21/11/2026 11:00,3\n"
        "V2,MRN2,21/11/2026 09:10,21/11/2026 12:30,2\n"
        "V3,MRN3,31/02/2026 10:00,21/11/2026 12:00,4\n"
        "V4,MRN4,21/11/2026 10:30,,1\n",
        encoding="utf-8",
    )


def test_wizard_preview_flags_what_the_import_rejects():
    """Besides values that will not parse: a required field left empty and a key given twice (the import keeps
    the first row and rejects the later ones; the preview showed them as fine)."""
    import pandas as pd

    from desktop.pages.import_wizard import parse_problems

    df = pd.DataFrame({"Visit": ["V1", "V2", "V1", " ", "V3"],
                       "Arrived": ["2026-11-01 10:00", "", "2026-11-01 11:00", "2026-11-01 12:00", "soon"]})
    problems = parse_problems(df, {"Visit": "visit_id", "Arrived": "arrival_ts"}, "ed_visits", "")
    assert "duplicate visit_id (first in row 1" in problems[(2, "Visit")]
    assert problems[(1, "Arrived")] == "empty, and arrival_ts is required"
    assert problems[(3, "Visit")] == "empty, and visit_id is required"
    assert "not a date" in problems[(4, "Arrived")]
    assert (0, "Visit") not in problems and (0, "Arrived") not in problems and len(problems) == 4


def test_import_wizard_end_to_end(qtbot, tmp_path):
    from PySide6.QtWidgets import QWizard

    from datasets.store import Workspace
    from desktop.main_window import MainWindow, wait_until_loaded

    ws_path = tmp_path / "w.hospops"
    Workspace.create(ws_path, timezone="Europe/London", country="GB").close()
    csv = tmp_path / "ed_visits_extract.csv"
    _write_visits(csv)

    w = MainWindow(restore_state=False)
    qtbot.addWidget(w)
    assert w.open_workspace(ws_path)
    w.show()
    page = w.show_page("data")
    assert wait_until_loaded(w, page)
    page.start_import()
    wiz = page.wizard
    wiz.source.path.setText(str(csv))
    assert wiz.source.format.currentText() == "csv" and wiz.source.table.currentText() == "ed_visits"
    wiz.next()
    assert wiz.currentId() == wiz.MAPPING
    m = wiz.mapping
    assert not m.isComplete()  # arrival_ts and visit_id are required and named differently in this file
    for field, col in {"visit_id": "Visit No", "patient_id": "Patient MRN", "arrival_ts": "Arrived",
                       "departure_ts": "Left", "acuity": "Triage"}.items():
        m._combos[field].setCurrentText(col)
    assert m.isComplete()
    # the format detected as the import detects it (day first): only the impossible 31/02 is flagged (every
    # 21/11/2026 was, then loaded by the import)
    bad = [(r, c) for r in range(m.preview.rowCount()) for c in range(m.preview.columnCount())
           if m.preview.item(r, c).toolTip()]
    assert bad == [(2, 2)] and "will be rejected" in m.status.text(), bad
    assert m.preview.item(3, 3).text() == ""  # an empty cell is empty (it showed 'nan')
    m.ts_format.setText("%d/%m/%Y %H:%M")
    m.ts_format.editingFinished.emit()
    bad = [(r, c) for r in range(m.preview.rowCount()) for c in range(m.preview.columnCount())
           if m.preview.item(r, c).toolTip()]
    assert bad == [(2, 2)], "only 31/02 is highlighted"
    wiz.next()
    qtbot.waitUntil(lambda: wiz.run_page.isComplete(), timeout=30000)
    counts = wiz.run_page.counts.model.frame.set_index("table")
    assert counts.loc["ed_visits", ["read", "loaded", "rejected"]].tolist() == [4, 3, 1]
    assert "rejected" in wiz.run_page.message.text()
    wiz.button(QWizard.WizardButton.FinishButton).click()
    assert wait_until_loaded(w, page)
    rejects = page.rejects.model.frame
    assert len(rejects) == 1 and int(rejects["line"].iloc[0]) == 4
    assert page.imports.model.rowCount() == 1
    # the first data in an empty workspace: the app's time moves to it, also where the data lies in the future
    # (MIMIC-IV's shifted dates: it stayed at "now", before the data, and every page showed none of it)
    with w.session.ws.transaction() as con:
        con.execute("DELETE FROM ed_visits")
        con.execute("INSERT INTO ed_visits (visit_id, arrival_ts) VALUES ('f1', '2110-04-11 15:00'), "
                    "('f2', '2110-04-12 09:00')")
    w.session.notify_data_changed()
    assert w.session.data_start <= w.session.as_of <= w.session.data_end
    assert w.as_of.dateTime().toPython() == w.session.as_of
    # supply use without ids: the import makes them, so the wizard does not ask for them (it blocked Next)
    use = tmp_path / "supplies.csv"
    use.write_text("usage_date,item_id,unit_id,quantity\n2026-11-01,GLOVES,M1,40\n2026-11-02,GLOVES,M1,38\n")
    page.start_import()
    wiz = page.wizard
    wiz.source.path.setText(str(use))
    wiz.source.table.setCurrentText("supply_usage")
    wiz.next()
    assert wiz.mapping.isComplete(), wiz.mapping.status.text()
    assert "usage_id" not in wiz.mapping.status.text()
    wiz.reject()
    # Esc (reject) in the wizard while its import runs stops the import: nothing lands (it went on and committed)
    big = tmp_path / "big.csv"
    big.write_text("visit_id,arrival_ts\n" + "".join(f"V{i},2024-01-01 10:00\n" for i in range(300_000)))
    before = w.session.ws.sql("SELECT (SELECT count(*) FROM ed_visits), (SELECT count(*) FROM import_runs)")[0]
    page.start_import()
    wiz = page.wizard
    wiz.source.path.setText(str(big))
    wiz.next()
    assert wiz.mapping.isComplete(), wiz.mapping.status.text()
    wiz.next()
    qtbot.waitUntil(lambda: bool(w.jobs.running("data.import")), timeout=10000)
    wiz.reject()
    qtbot.waitUntil(lambda: not w.jobs.running("data.import"), timeout=60000)
    assert w.session.ws.sql("SELECT (SELECT count(*) FROM ed_visits), (SELECT count(*) FROM import_runs)")[0] == before
    w.close()


def test_screenshot_command(tmp_path, demo_ws, capsys):
    from PySide6.QtGui import QImage

    from desktop.cli import main

    out = tmp_path / "overview.png"
    code = main(["app", str(demo_ws), "--screenshot", str(out), "--page", "data", "--size", "1300x820"])
    assert code == 0, capsys.readouterr().err
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1300, 820)
    # the Overview fits a 1280-pixel screen (a chart's long title used to widen it to 1295), and the message
    # says the picture's real size
    code = main(["app", str(demo_ws), "--screenshot", str(out), "--page", "overview", "--size", "1280x800"])
    img = QImage(str(out))
    assert code == 0 and (img.width(), img.height()) == (1280, 800)
    assert "(1280x800, page overview)" in capsys.readouterr().out
    code = main(["app", str(demo_ws), "--screenshot", str(out), "--page", "nope"])
    assert code == 1 and "no page 'nope'" in capsys.readouterr().err
    # a file that is not a workspace: a sentence and exit 1, not a dialog nobody sees (it used to hang)
    not_ws = tmp_path / "extract.csv"
    not_ws.write_text("a,b\n1,2\n")
    code = main(["app", str(not_ws), "--screenshot", str(out), "--page", "overview"])
    assert code == 1 and "not a HospOps workspace" in capsys.readouterr().err
    # no workspace at all: the page's empty state is what there is to show, at once (it waited two minutes,
    # then called the finished picture part-way)
    code = main(["app", "--screenshot", str(out), "--page", "overview"])
    assert code == 0, capsys.readouterr().err
    code = main(["app", str(demo_ws), "--screenshot", str(out), "--page", "data", "--at", "last tuesday"])
    assert code == 1 and "not a time" in capsys.readouterr().err
    # a moment outside the data is refused as the CLI refuses it (it showed waits of 27,000 h in 2030)
    code = main(["app", str(demo_ws), "--screenshot", str(out), "--page", "overview", "--at", "2030-01-01T00:00"])
    assert code == 1 and "outside the data" in capsys.readouterr().err


def test_as_of_defaults_to_the_data_when_now_is_outside_it():
    from datetime import datetime, timedelta

    from desktop.session import Session

    s = Session.__new__(Session)  # only the time logic: no workspace needed
    now = datetime.now()
    s.data_start, s.data_end = now + timedelta(days=30000), now + timedelta(days=40000)  # MIMIC-style shifted dates
    assert s.default_as_of() >= s.data_start
    s.data_start, s.data_end = now - timedelta(days=400), now - timedelta(days=3)  # an extract that stopped
    assert s.default_as_of() <= s.data_end
    s.data_start, s.data_end = now - timedelta(days=400), now + timedelta(days=3)  # now inside: now
    assert abs((s.default_as_of() - now).total_seconds()) < 120


def _hourly_series(days: int = 120):
    import numpy as np
    import pandas as pd

    ds = pd.date_range("2026-01-05", periods=24 * days, freq="h")
    rate = 8 + 5 * np.sin(2 * np.pi * (ds.hour - 8) / 24)
    y = np.random.default_rng(3).poisson(rate).astype(float)
    return pd.DataFrame({"unique_id": "ed", "ds": ds, "y": y})


def test_worker_process_returns_results_and_cancels(qtbot):
    from datasets.errors import Cancelled
    from desktop.jobs import JobRunner
    from desktop.workers import in_subprocess
    from forecasting.forecast import run_forecast

    y = _hourly_series()
    result = in_subprocess(run_forecast, y, "24h", models=["seasonal_naive"])
    assert result.best == "seasonal_naive" and len(result.forecasts["seasonal_naive"]) == 24

    runner = JobRunner()
    errors, messages = [], []

    def job(progress, should_stop):
        return in_subprocess(run_forecast, _hourly_series(400), "48h", backtest=True, progress=progress,
                             should_stop=should_stop)

    runner.run("fc", "backtest", job, on_error=errors.append, on_progress=lambda f, m: messages.append(m))
    qtbot.waitUntil(lambda: bool(messages), timeout=60000)
    runner.cancel("fc")
    qtbot.waitUntil(lambda: bool(errors), timeout=60000)
    assert errors == [Cancelled().message]
    # the worker is free again afterwards
    again = in_subprocess(run_forecast, y, "24h", models=["seasonal_naive"])
    assert len(again.forecasts["seasonal_naive"]) == 24
