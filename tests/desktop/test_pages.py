"""Each page's main flow, offscreen, on the small demo hospital: forecast run, bed proposal accept, roster solve
(and re-roster after a sickness call), supplies table. Real fits and real CP-SAT solves, short limits."""
from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest

pytest.importorskip("PySide6")

from desktop.main_window import wait_until_loaded  # noqa: E402


def test_forecast_page_runs_a_backtested_forecast(window):
    page = window.show_page("forecast")
    page._auto_run = False
    assert wait_until_loaded(window, page, 60000)
    names = [page.series.itemData(i) for i in range(page.series.count())]
    assert not page.error.isVisible(), page.error.text()
    assert "ed_arrivals_daily" in names and "ed_arrivals_hourly" in names
    page.series.setCurrentIndex(names.index("ed_arrivals_daily"))
    page.horizon.setCurrentText("7d")
    page.model.setCurrentIndex(page.model.findData("glm_poisson"))
    assert page.model.currentText() == "Count model (Poisson) (glm_poisson)"
    page.backtest.setChecked(True)
    page.run_forecast()
    assert wait_until_loaded(window, page, 120000)
    assert not page.error.isVisible(), page.error.text()
    r = page.result
    assert r is not None and set(r.forecasts) >= {"glm_poisson", "seasonal_naive"}
    fc = page.table.model.frame
    assert len(fc) == 7
    assert (fc["lo-95"] <= fc["lo-80"]).all() and (fc["lo-80"] <= fc["mean"]).all() and (fc["mean"] <= fc["hi-80"]).all()
    # at the latest time every record counts, as in the CLI (the extract's last day was cut, and forecast
    # though its arrivals were in)
    end = window.session.data_end  # (the closing stock count at midnight after the last arrival)
    last = pd.Timestamp(window.session.ws.sql("SELECT max(arrival_ts) FROM ed_visits")[0][0]).normalize()
    assert window.session.as_of <= end and page.result.history["ds"].max() == last
    assert fc["ds"].min() == last + pd.Timedelta(days=1)
    # earlier, history stops at the app's "as of" time: a daily series' history is the whole days before it
    # (the as-of day, arrivals after it included, leaked in)
    window.session.set_as_of(end - timedelta(days=3))
    page.run_forecast()
    assert wait_until_loaded(window, page, 120000)
    midnight = window.session.as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    assert page.result.history["ds"].max() == pd.Timestamp(midnight) - pd.Timedelta(days=1)
    assert page.table.model.frame["ds"].min() == pd.Timestamp(midnight)
    # models in words on the page ("Last week's pattern"), their aliases in exports and the CLI
    assert set(page.metrics.model.frame["model"]) >= {"Count model (Poisson)", "Last week's pattern"}
    assert page.result.best in page.verdict.text()
    # another series chosen: the forecast shown is not left under its name
    page.series.setCurrentIndex(names.index("ed_arrivals_hourly"))
    assert page.result is None and page.table.model.rowCount() == 0 and "Run forecast" in page.verdict.text()
    # a run that fails clears what the run before showed (it was read as the new series' forecast)
    page.horizon.setCurrentText("abc")
    page.run_forecast()
    assert wait_until_loaded(window, page, 60000)
    assert page.error.isVisible() and page.result is None
    assert page.table.model.rowCount() == 0 and page.metrics.model.rowCount() == 0


def test_beds_page_board_proposal_and_accept(window, qtbot):
    page = window.show_page("beds")
    assert wait_until_loaded(window, page, 60000)
    assert not page.error.isVisible(), page.error.text()
    board = page.board._board
    assert len(board) == 416 and set(board["state"]) <= {"occupied", "free", "blocked", "cleaning"}
    page.time_limit.setValue(3)
    page.propose()
    assert wait_until_loaded(window, page, 120000)
    d = page.last_proposal
    assert d is not None and d["validation"].hard_violations == 0, page.solver_line.text()
    prop = page.proposal.model.frame
    unplaced = prop[prop["bed"] == ""]
    assert (unplaced["reason"].str.len() > 10).all(), "every unplaced patient has a reason in words"
    # patients named as the board and the waiting list name them; outliers say so
    assert prop["patient_id"].str.startswith("P").all() and prop["stay_id"].str.startswith("S").all()
    from optimization.beds.model import is_outlier

    problem = d["problem"]
    by_stay = {p.patient_id: p for p in problem.patients}
    for r in prop[prop["bed"] != ""].itertuples():  # every placement off its specialty says so, no other does
        bed = next(b for b in problem.beds if b.bed_id == r.bed)
        assert r.reason.startswith("outlier: ") == is_outlier(by_stay[r.stay_id], problem.unit(bed.unit_id))
    # the waiting list shows electives not yet due with their time, not as a wait of 0 h
    wl = page.waiting.model.frame
    assert "due_later" not in wl and (wl["due"].eq("") | wl["wait_hours"].isna()).all()
    assert wl.loc[wl["due"] != "", "due"].str.match(r"^due \d\d:\d\d$").all()
    placed = prop[prop["bed"] != ""]
    if len(placed):
        # edit by hand: another bed the hard rules allow, then check the whole plan again
        pid, bed = placed.iloc[0]["stay_id"], placed.iloc[0]["bed"]
        choices = page.bed_choices(pid)
        assert choices[0][0] is None and all(b != bed for b, _ in choices[1:]), "held beds are not offered"
        problem = d["problem"]
        patient = next(p for p in problem.patients if p.patient_id == pid)
        taken = {b for b in page._assignment.values() if b}
        other = next(b for b in problem.beds if b.bed_id not in taken and b.bed_id != patient.current_bed
                     and b.available)
        from optimization.beds.model import rule_breaks
        if rule_breaks(patient, other, problem.unit(other.unit_id)):  # a bed the rules forbid is refused
            page.set_bed(pid, other.bed_id)
            assert page.error.isVisible() and "not free" in page.error.text()
            page.error.hide()
        if len(choices) > 1:
            new_bed = choices[-1][0]
            page.set_bed(pid, new_bed)
            row = page.proposal.model.frame.set_index("stay_id").loc[pid]
            assert row["bed"] == new_bed and row["reason"] == "changed by hand"
            assert "hard rules broken: 0" in page.solver_line.text(), page.solver_line.text()
        placed = page.proposal.model.frame[page.proposal.model.frame["bed"] != ""]
    if len(placed):
        # "Accept selected" with nothing selected accepts nothing (it used to take every row shown)
        page.proposal.view.clearSelection()
        page.accept(all_rows=False)
        assert "Select the placements to accept first" in page.solver_line.text()
        assert window.session.ws.sql("SELECT count(*) FROM bed_placements")[0][0] == 0
        # accepted placements are kept in the workspace: after the board reloads their beds are reserved
        page.accept(all_rows=True)
        qtbot.waitUntil(lambda: "Accepted" in page.solver_line.text() or page.error.isVisible(), timeout=60000)
        assert not page.error.isVisible(), page.error.text()
        assert wait_until_loaded(window, page, 60000)
        stored = window.session.ws.sql("SELECT bed_id FROM bed_placements WHERE status = 'accepted'")
        assert {b for (b,) in stored} == set(placed["bed"])
        # a bed whose occupant is moved by the same plan stays 'occupied' until they leave; the others are reserved
        still_occupied = set(page.board._board.query("state == 'occupied'")["bed_id"])
        assert set(page.reserved) == set(placed["bed"]) - still_occupied, (page.reserved, placed)
        assert "reserved" in page.summary.text()
        # the waiting list says which of its patients has a bed kept for them, beside the wait
        shown = page.waiting.model.frame
        cols = list(shown.columns)
        assert cols.index("reserved_bed") == cols.index("due") + 1
        assert set(shown["reserved_bed"]) - {""} <= set(placed["bed"])
        # and one can be cancelled: its bed is free again
        if page.reserved:
            bed = sorted(page.reserved)[0]
            page.cancel(page._placements[bed][1])
            qtbot.waitUntil(lambda: bed not in page.reserved, timeout=60000)
    # the outlook arrived too: 72 hourly rows per inpatient unit
    assert len(page._outlook) and page._outlook.groupby("unit_id").size().eq(72).all()
    # a proposal is for its time: another as-of time takes it off the page (it stayed, acceptable)
    from datetime import timedelta

    assert page.last_proposal is not None
    window.session.set_as_of(window.session.as_of - timedelta(hours=3))
    assert wait_until_loaded(window, page, 60000)
    assert page.last_proposal is None and page.proposal.model.rowCount() == 0
    assert not page.accept_all_btn.isEnabled() and "Propose again" in page.solver_line.text()


def test_roster_page_solves_and_rerosters(window, tmp_path):
    page = window.show_page("roster")
    assert wait_until_loaded(window, page, 60000)
    units = [page.unit.itemData(i) for i in range(page.unit.count())]
    assert "M1" in units
    page.unit.setCurrentIndex(units.index("M1"))
    page.days.setValue(14)
    page.limit.setValue(8)  # a draft within seconds; 4 s under a loaded full suite once found none
    page.solve()
    assert wait_until_loaded(window, page, 120000)
    r = page.result
    assert r is not None, page.status.text()
    sol, check = r["solution"], r["validation"]
    assert sol.status in ("OPTIMAL", "FEASIBLE") and check.hard_violations == 0
    assert page.model.rowCount() == len(r["problem"].employees) and page.model.columnCount() == 14
    assert page.cover.model.rowCount() > 0
    from PySide6.QtCore import Qt

    # the cover's days sit under the grid's and scroll with them (at 1,920 px the grid showed 24 days, the cover
    # table under it 11), its needs in the row header beside the names
    for scrolled in (0, 4):
        page.grid.horizontalScrollBar().setValue(scrolled)
        for j in (0, 5, 9):
            assert page.cover.view.columnViewportPosition(1 + j) == page.grid.columnViewportPosition(j), (scrolled, j)
            assert page.cover.view.columnWidth(1 + j) == page.grid.columnWidth(j)
    page.grid.horizontalScrollBar().setValue(0)
    assert page.cover.view.verticalHeader().width() == page.grid.verticalHeader().width()
    assert page.cover.view.isColumnHidden(0) and page.cover.model.headerData(0, Qt.Orientation.Vertical) == \
        page.cover.model.frame["need"].iloc[0]
    # each person's row says their rostered against contracted hours (leave credited), as the CLI's table does

    e0 = r["problem"].employees[0]
    worked = sum(r["problem"].shift(s).minutes for (e, _d), s in sol.assignment.items() if e == e0.id) / 60
    header = page.model.headerData(0, Qt.Orientation.Vertical)
    assert header.startswith(e0.label) and header.endswith(f" {worked:.0f}/{e0.contract_minutes / 60:.0f} h")
    tip = page.model.headerData(0, Qt.Orientation.Vertical, Qt.ItemDataRole.ToolTipRole)
    assert "contracted over these days" in tip
    # exported as numbers, a "rostered" and a "needed" row per need: the text "6/2" became a date in Excel
    sheet, _ = page.cover.exportable()
    shown = page.cover.model.frame
    assert len(sheet) == 2 * len(shown) and sheet["need"].iloc[1].endswith(" needed")
    have, need = shown.iloc[0, 1].split("/")
    assert (sheet.iloc[0, 1], sheet.iloc[1, 1]) == (int(have), int(need))
    # a starting roster (a hint the search began from) has no bound yet: no bound point is drawn for it
    page._curve = [(0.0, 900.0, float("nan")), (1.0, 800.0, 700.0)]
    page._progress(0.5, "objective 800 (bound 700) at 1.0 s")
    assert list(page._obj_curve.getData()[0]) == [0.0, 1.0] and list(page._bound_curve.getData()[1]) == [700.0]
    # lock a worked cell off and Solve again: the search starts from the roster on screen, repaired around
    # the lock (its first point, the starting roster, has no bound), and did not start afresh
    shown = r["solution"].assignment
    off_emp, off_day = next(k for k in sorted(shown) if k[1] >= 5)
    page._lock(off_emp, off_day, None)
    page.limit.setValue(3)
    page.solve()
    assert wait_until_loaded(window, page, 120000)
    r = page.result
    assert r["validation"].hard_violations == 0 and (off_emp, off_day) not in r["solution"].assignment
    assert page._curve and math.isnan(page._curve[0][2]), page._curve[:2]
    page._unlock(off_emp, off_day)
    # lock a cell, then report someone sick from day 3: the re-roster keeps the lock and lists its changes
    first = r["solution"].assignment
    # lock a cell the first roster has (a lock to another shift can clash with that person's published days
    # and contract, which depends on the roster drawn: that made this test fail on some runs)
    emp, day = next((e.id, d) for e in r["problem"].employees for d in range(5, 14) if first.get((e.id, d)))
    locked = first[(emp, day)]
    page._lock(emp, day, locked)
    sick = next(e.id for e in r["problem"].employees if e.id != emp and any(first.get((e.id, d)) for d in range(3, 14)))
    page.report_sick(sick, 3, 8)  # days 3 to 10
    assert wait_until_loaded(window, page, 120000)
    r2 = page.result
    assert r2 is not r and r2["validation"] is not None, page.status.text()
    assert r2["validation"].hard_violations == 0, page.status.text()
    a2 = r2["solution"].assignment
    assert a2.get((emp, day)) == locked, "a locked cell stays as locked"
    assert all(a2.get((sick, d)) is None for d in range(3, 11)), "the sick nurse is off on days 3-10"
    assert "to " in page.status.text().split("Off sick")[1]  # the call's days, in words
    row = [e.id for e in r2["problem"].employees].index(sick)
    assert page.model.index(row, 4).data() == "SK" and page.model.index(row, 11).data() != "SK"  # not "LV"
    from optimization.rostering.validate import hours_table

    owed = hours_table(r2["problem"], r2["solution"]).set_index("employee").loc[sick, "contracted_h"]
    before = hours_table(r["problem"], r["solution"]).set_index("employee").loc[sick, "contracted_h"]
    assert owed < before  # the sick days are credited, not shown as hours owed
    before = {k: v for k, v in first.items() if k[1] < 3}
    assert {k: v for k, v in a2.items() if k[1] < 3} == before, "days before the sickness call stay as published"
    assert (sick, next(d for d in range(3, 14) if first.get((sick, d)))) in page.model.changed
    assert "changed from the published roster" in page.status.text()
    # the calendars of the re-roster cancel the sick nurse's shifts (else they stay in people's phones)
    page.export_to("ics", tmp_path / "cal")
    assert "STATUS:CANCELLED" in (tmp_path / "cal" / f"{sick}.ics").read_text()


def start_roster(window, unit: str, days: int, limit: int):
    """The Roster page, loaded, with a solve of ``unit`` for ``days`` days and ``limit`` seconds started."""
    page = window.show_page("roster")
    assert wait_until_loaded(window, page, 60000)
    page.unit.setCurrentIndex(page.unit.findData(unit))
    page.days.setValue(days)
    page.limit.setValue(limit)
    page.solve()
    return page


def test_roster_page_stop_keeps_the_best_roster_and_a_new_unit_drops_the_locks(window, qtbot):
    page = start_roster(window, "M1", 28, 300)
    qtbot.waitUntil(lambda: len(page._curve) > 0, timeout=60000)  # a roster found, still searching
    page.jobs.cancel("roster.solve")  # what Esc does
    assert wait_until_loaded(window, page, 60000)
    r = page.result
    assert r is not None and r["solution"].status == "CANCELLED" and r["solution"].assignment, page.status.text()
    assert r["validation"].hard_violations == 0
    assert "Stopped" in page.status.text() and page.model.solution is r["solution"]
    # locks and sickness calls are cells of this unit's roster: choosing another unit drops them, saying so
    emp = r["problem"].employees[0].id
    page._lock(emp, 2, None)
    page.sick.append((emp, 5, 3))
    other = next(page.unit.itemData(i) for i in range(page.unit.count()) if page.unit.itemData(i) != "M1")
    page.unit.setCurrentIndex(page.unit.findData(other))
    assert page.model.locks == {} and page.sick == []
    assert "cleared" in page.status.text()


def test_roster_exports_round_trip(window, tmp_path):
    from optimization.rostering import from_csv

    page = start_roster(window, "M1", 7, 3)
    assert wait_until_loaded(window, page, 120000)
    problem, sol = page.result["problem"], page.result["solution"]
    exported = window.session.ws.sql("SELECT count(*) FROM audit_log WHERE action = 'export roster'")[0][0]
    [csv] = page.export_to("csv", tmp_path / "roster.csv")
    assert dict(from_csv(problem, csv).assignment) == dict(sol.assignment)
    for fmt, name in (("xlsx", "roster.xlsx"), ("pdf", "roster.pdf")):
        [f] = page.export_to(fmt, tmp_path / name)
        assert f.stat().st_size > 500
    assert open(tmp_path / "roster.pdf", "rb").read(5) == b"%PDF-"
    (tmp_path / "ics").mkdir()
    files = page.export_to("ics", tmp_path / "ics")
    assert len(files) == len(problem.employees) and "BEGIN:VCALENDAR" in files[0].read_text()  # one each
    # leave entered on the grid goes into the workspace (audited) and the next solve honours it
    worker, day = next(k for k in sorted(sol.assignment))
    page.add_request(worker, day, "leave")
    page.solve()
    assert wait_until_loaded(window, page, 120000)
    assert page.result["solution"].assignment.get((worker, day)) is None
    assert day in page.result["problem"].days_off.get(worker, ())
    # a search that found nothing in time says so instead of failing
    from optimization.rostering import RosterSolution

    page._show({"problem": problem, "solution": RosterSolution({}, "UNKNOWN", seconds=1.0), "validation": None})
    assert "No roster found" in page.status.text()
    actions = [r[0] for r in window.session.ws.sql("SELECT action FROM audit_log")]
    # (the workspace is the session's: other tests' exports are in its log too)
    assert actions.count("export roster") == exported + 4 and "solve roster" in actions and "add request" in actions


def test_supplies_page_reorder_table(window, qtbot):
    page = window.show_page("supplies")
    assert wait_until_loaded(window, page, 180000)
    assert not page.error.isVisible(), page.error.text()
    df = page.table.model.frame
    assert len(df) > 10 and {"reorder_point", "safety_stock", "days_of_cover", "stockout_prob"} <= set(df.columns)
    known = df["stockout_prob"].notna()
    # highest risk first; stores whose stock is not known (a delivery since the count not recorded) last
    assert df["stockout_prob"][known].is_monotonic_decreasing and known.tolist() == sorted(known, reverse=True)
    # at the latest time every record counts, the closing stock count at midnight after the last arrival too:
    # at the default 23:00 each store restocked on the last day read "count it"
    assert window.session.as_of <= window.session.data_end and known.all(), df.loc[~known, ["item", "unit"]]
    held = (df["reorder_point"] - df["forecast_to_delivery"]).clip(lower=0)  # (never negative: it read -0.1)
    assert ((df["safety_stock"] - held).abs() < 1e-6).all() and (df["reorder_point"] % 1 == 0).all()
    busy = df[df["forecast_daily"] >= 1]  # at a 95% service level, steady items hold more than the mean
    assert len(busy) and (busy["reorder_point"] >= busy["forecast_to_delivery"]).all()
    # the riskiest item's chart comes without selecting its row: Copy takes the whole table (it took that row)
    assert page.table.view.currentIndex().row() == 0 and not page.table.view.selectionModel().selectedRows()
    assert len(page.table.copy().strip().splitlines()) == len(df) + 1
    qtbot.waitUntil(lambda: bool(page.chart._series), timeout=60000)


def test_after_a_reroster_the_cover_table_shows_the_wards_need(demo_ws):
    """A re-roster asks only for the cover the published roster had; the page's table still shows what the ward
    needs, so a shift the published roster left short stays red (it read "0/0" for a missing nurse in charge)."""
    from datetime import date

    from datasets.store import Workspace
    from desktop.pages.roster import solve_roster
    from optimization.rostering import RosterSolution, problem_from_workspace, solve

    start = date(2026, 11, 23)
    with Workspace.open(demo_ws, read_only=True) as ws:
        problem = problem_from_workspace(ws, "M1", start, 7)
        sol = solve(problem, 3, num_workers=2, seed=1)
        # the published roster short on day 4: everyone's shift there taken away
        published = RosterSolution({k: v for k, v in sol.assignment.items() if k[1] != 4})
        r = solve_roster(ws, "M1", start, 7, 3, {}, [], published, 2, progress=lambda *_: None)
    day4 = r["cover"].columns[1 + 4]
    needs = dict(zip(r["cover"]["need"], r["cover"][day4].str.split("/").str[1].astype(int)))
    assert needs == {f"{c.shift}{' ' + c.skill if c.skill else ''}": c.requirement for c in problem.cover if c.day == 4}
    assert r["short"][:, 4].any()  # what the published roster left short stays short (red), not "0/0"


def test_a_good_run_clears_the_failure_before_it_from_the_status_bar(window):
    """"Cannot read the horizon '3 months'" stayed in the status bar after the corrected run had succeeded."""
    page = window.show_page("forecast")
    page._auto_run = False
    assert wait_until_loaded(window, page, 60000)
    names = [page.series.itemData(i) for i in range(page.series.count())]
    page.series.setCurrentIndex(names.index("ed_arrivals_daily"))
    page.model.setCurrentIndex(page.model.findData("seasonal_naive"))
    page.backtest.setChecked(False)
    page.horizon.setCurrentText("3 months")
    page.run_forecast()
    assert wait_until_loaded(window, page, 60000)
    assert "Cannot read the horizon" in window.statusBar().currentMessage()
    page.horizon.setCurrentText("7d")
    page.run_forecast()
    assert wait_until_loaded(window, page, 60000)
    assert not page.error.isVisible() and window.statusBar().currentMessage() == ""


def test_roster_page_draws_cover_from_the_ratio_set_on_it(window):
    """Issue 8: cover from the expected census and "a staffing ratio the user sets"; the app had no such setting."""
    page = window.show_page("roster")
    assert wait_until_loaded(window, page, 60000)
    page.unit.setCurrentIndex(page.unit.findData("M5"))
    page.days.setValue(7)
    page.limit.setValue(2)

    def rn_need():
        return sum(c.requirement for c in page.result["problem"].cover if c.skill == "RN")

    page.solve()
    assert wait_until_loaded(window, page, 120000) and page.result is not None
    usual = rn_need()
    page.rn_day.setValue(4)
    page.rn_night.setValue(5)
    assert page.ratios()["RN"] == {"day": 4.0, "night": 5.0} and page.ratios()["HCA"]["day"] == 12.0
    page.solve()
    assert wait_until_loaded(window, page, 120000)
    assert rn_need() >= 2 * usual - 21  # twice the nurses (7 days x 3 shifts, less rounding up)
