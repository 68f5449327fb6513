"""The demo hospital: a ward roster from the workspace, locks, re-rostering, exports and their round trip."""
from __future__ import annotations

from datetime import date

import pytest

from datasets.errors import HospOpsError
from datasets.store import Workspace
from optimization.rostering import (Lock, absent, from_csv, problem_from_workspace, reroster, solve, to_csv,
                                    to_ics, to_pdf, to_xlsx, validate)
from optimization.rostering.reroster import rerostering_problem
from optimization.rostering.workspace import forbidden_successions

START = date(2026, 11, 23)  # the Monday after the demo's last day


@pytest.fixture(scope="module")
def ward(demo_ws):
    with Workspace.open(demo_ws, read_only=True) as ws:
        p = problem_from_workspace(ws, "M5", START, 14)
    sol = solve(p, 4, num_workers=2, seed=1)
    return p, sol


def test_problem_from_the_demo_ward(ward):
    p, sol = ward
    assert p.start == START and p.days == 14 and len(p.employees) > 20
    assert {s.id for s in p.shifts} == {"E", "L", "N"}
    assert dict((s.id, s.forbidden_next) for s in p.shifts)["N"] == ("E", "L")  # 11 h rest after a night
    assert {c.skill for c in p.cover} == {"RN", "HCA", "charge"}
    assert all(c.requirement >= 1 for c in p.cover)
    assert p.days_off and p.requests  # leave and requests from the demo's request table
    check = validate(p, sol)
    assert sol.status in ("OPTIMAL", "FEASIBLE") and check.hard_violations == 0
    assert check.objective == sol.objective
    grid = sol.grid(p)
    assert grid.shape == (len(p.employees), 14) and set(grid.values.ravel()) <= {"", "E", "L", "N"}
    # nobody works on leave
    assert not any((e, d) in sol.assignment for e, ds in p.days_off.items() for d in ds)


def test_leave_is_credited_a_fifth_of_the_week_per_weekday(demo_ws):
    # (the horizon shrunk in proportion asked 48 h in the 9 days after a Monday-Friday leave in a fortnight:
    # the demo's AMU fortnight from 23 Nov was infeasible)
    from datetime import timedelta

    with Workspace.open(demo_ws, read_only=True) as ws:
        p = problem_from_workspace(ws, "M5", START, 14)
        hours = dict(ws.sql("SELECT staff_id, contract_hours FROM staff WHERE unit_id = 'M5'"))
    slack = 8 * 60
    for e in p.employees:
        weekly = float(hours[e.id]) * 60
        weekdays = sum(1 for d in p.days_off.get(e.id, ()) if (START + timedelta(days=d)).weekday() < 5)
        owed = max(0.0, weekly * 2 - weekly / 5 * weekdays)
        assert e.min_minutes == int(max(owed - slack, 0)) and e.max_minutes == int(owed + slack), e.id
    assert any(p.days_off.values())  # (someone is on leave in this fortnight)


def test_unknown_unit_is_a_user_error(demo_ws):
    with Workspace.open(demo_ws, read_only=True) as ws, pytest.raises(HospOpsError, match="No staff"):
        problem_from_workspace(ws, "NOPE", START, 7)


def test_rest_rule_gives_forbidden_successions():
    f = forbidden_successions([("E", 420, 480), ("L", 810, 480), ("N", 1260, 630)], 11)
    assert f == {"E": (), "L": ("E",), "N": ("E", "L")}


def test_locks_stay_fixed(ward):
    p, sol = ward
    free = [e.id for e in p.employees if not p.days_off.get(e.id)]
    e1, e2 = free[0], free[1]
    want = {(e1, 2): "N" if sol.assignment.get((e1, 2)) != "N" else "E", (e2, 4): None}
    import dataclasses

    p2 = dataclasses.replace(p, locks=tuple(Lock(e, d, s) for (e, d), s in want.items()))
    s2 = solve(p2, 3, num_workers=2)
    for (e, d), s in want.items():
        assert s2.assignment.get((e, d)) == s
    assert validate(p2, s2).hard_violations == 0


def test_reroster_after_sickness_keeps_the_past_and_lists_changes(ward):
    p, sol = ward
    sick = max(p.employees, key=lambda e: sum(1 for d in range(7, 11) if (e.id, d) in sol.assignment)).id
    assert any((sick, d) in sol.assignment for d in range(7, 11))
    p2 = absent(p, sick, range(7, 11))
    new = reroster(p2, sol, from_day=7, time_limit_s=4, num_workers=2)
    assert new.status in ("OPTIMAL", "FEASIBLE")
    for e in p.employees:
        for d in range(7):
            assert new.assignment.get((e.id, d)) == sol.assignment.get((e.id, d))
    assert not any((sick, d) in new.assignment for d in range(7, 11))
    diff = [(e.id, d) for e in p.employees for d in range(7, 14)
            if new.assignment.get((e.id, d)) != sol.assignment.get((e.id, d))]
    assert len(new.changes) == len(diff) >= 1
    # far fewer changes than cells: the published roster is kept wherever possible; holding the published
    # cover level, the changes are about the absence (its shifts, and a few moves to cover them)
    lost = sum(1 for d in range(7, 11) if (sick, d) in sol.assignment)
    assert len(diff) <= 4 * lost
    assert validate(rerostering_problem(p2, sol, 7), new).hard_violations == 0
    # filling the gaps the published roster accepted is a choice (demand changed), not the default
    wide = reroster(p2, sol, from_day=7, time_limit_s=4, num_workers=2, hold_cover=False)
    assert validate(rerostering_problem(p2, sol, 7, hold_cover=False), wide).hard_violations == 0
    held = rerostering_problem(p2, sol, 7)
    assert all(c.requirement <= o.requirement for c, o in zip(held.cover, p2.cover))


def test_csv_round_trip_and_other_exports(ward, tmp_path):
    p, sol = ward
    path = to_csv(p, sol, tmp_path / "r.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # the mark Excel needs to read UTF-8 names
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "employee,name,day,date,shift,minutes,locked" and len(lines) == 1 + len(p.employees) * p.days
    back = from_csv(p, path)
    assert dict(back.assignment) == dict(sol.assignment)
    # as Excel saves it again: its code page, CRLF, day-first dates with a time; a name outside ASCII
    import csv

    rows = list(csv.reader(lines))
    for r in rows[1:]:
        y, m, d = r[3].split("-")
        r[3], r[1] = f"{d}/{m}/{y} 00:00", r[1] + " Zoë"
        r[4] = r[4].lower()  # shift letters typed in lower case (refused: "shift 'l' is not part of this roster")
    saved = tmp_path / "saved.csv"
    saved.write_bytes("".join(",".join(r) + "\r\n" for r in rows).encode("cp1252"))
    assert dict(from_csv(p, saved).assignment) == dict(sol.assignment)
    rows[1][3] = "01/01/2020"
    saved.write_bytes("".join(",".join(r) + "\r\n" for r in rows).encode("cp1252"))
    with pytest.raises(HospOpsError, match="in the file but"):
        from_csv(p, saved)
    assert validate(p, back).objective == validate(p, sol).objective

    from openpyxl import load_workbook

    wb = load_workbook(to_xlsx(p, sol, tmp_path / "r.xlsx"))
    ws = wb.active
    e0 = p.employees[0].id
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 2).value == e0)
    for d in range(p.days):
        cell = ws.cell(row, 3 + d)
        s = sol.assignment.get((e0, d))
        if s:
            assert cell.value == s and cell.fill.fgColor.rgb.endswith(("FFD966", "9DC3E6", "A9D18E"))
    hours = [ws.cell(1, 3 + p.days + j).value for j in range(3)]
    assert hours == ["Rostered h", "Contracted h", "Difference h"]
    worked = sum(p.shift(s).minutes for (e, _d), s in sol.assignment.items() if e == e0) / 60
    got, owed, diff = (ws.cell(row, 3 + p.days + j).value for j in range(3))
    assert got == pytest.approx(worked, abs=0.01)
    assert owed == pytest.approx(p.employee(e0).contract_minutes / 60, abs=0.01)
    assert diff == pytest.approx(got - owed, abs=0.02)
    totals_row = len(p.employees) + 3
    assert ws.cell(totals_row, 2).value == p.shifts[0].id
    assert ws.cell(totals_row, 3).value == sum(1 for (e, d), s in sol.assignment.items() if d == 0 and s == p.shifts[0].id)

    from icalendar import Calendar

    files = to_ics(p, sol, tmp_path / "ics")
    assert len(files) == len(p.employees)
    cal = Calendar.from_ical(files[0].read_bytes())
    events = [c for c in cal.walk("VEVENT")]
    assert len(events) == sum(1 for (e, d) in sol.assignment if e == p.employees[0].id)
    # with the ward's time zone: every shift carries it, and the file defines it
    worker = next(i for i, e in enumerate(p.employees) if any(k[0] == e.id for k in sol.assignment))
    zoned = Calendar.from_ical(to_ics(p, sol, tmp_path / "ics_tz", "Europe/London")[worker].read_bytes())
    starts = [c.decoded("dtstart") for c in zoned.walk("VEVENT")]
    assert starts and all(str(t.tzinfo) == "Europe/London" for t in starts)
    assert zoned.walk("VTIMEZONE") and all(c.decoded("dtstamp").year >= 2026 for c in zoned.walk("VEVENT"))
    assert str(zoned.get("x-wr-calname")).endswith(f": {p.employees[worker].label}")  # named, not N0295.ics only

    pdf = to_pdf(p, sol, tmp_path / "r.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF") and b"/Type /Page " in pdf
    assert p.employees[0].label.encode("latin-1", "replace")[:10] in pdf


def test_from_csv_rejects_a_foreign_roster(ward, tmp_path):
    p, _ = ward
    bad = tmp_path / "bad.csv"
    bad.write_text("employee,name,day,date,shift,minutes\nZZZ,x,0,,E,480\n")
    with pytest.raises(HospOpsError, match="not part of this roster"):
        from_csv(p, bad)


def test_a_lock_that_breaks_the_published_roster_is_repaired_around_it(ward):
    """Locking a published shift off leaves its person short of their least hours: the re-roster's start (the
    published roster) breaks two hard rules. It is repaired around them (the person works another day, and
    the shift is covered), not searched afresh, which changed 280 cells of a 6-week roster."""
    import dataclasses

    p, sol = ward
    hours = validate(p, sol)
    assert hours.hard_violations == 0
    worked = {e.id: sum(next(s.minutes for s in p.shifts if s.id == sh) for (x, _), sh in sol.assignment.items()
                        if x == e.id) for e in p.employees}
    longest = max(s.minutes for s in p.shifts)
    # the person closest to their least hours, on a day they work in the second week
    who = min((e for e in p.employees if e.min_minutes and any((e.id, d) in sol.assignment for d in range(7, 14))),
              key=lambda e: worked[e.id] - e.min_minutes)
    assert worked[who.id] - longest < who.min_minutes  # taking a shift away breaks the contract's least hours
    day = next(d for d in range(7, 14) if (who.id, d) in sol.assignment)
    p2 = dataclasses.replace(p, locks=(Lock(who.id, day, None),))
    without = {k: v for k, v in sol.assignment.items() if k != (who.id, day)}
    assert "min_minutes" in validate(p2, without).by_rule()  # the start: the lock kept, the least hours broken
    new = reroster(p2, sol, from_day=0, time_limit_s=3, num_workers=2, seed=3)
    assert new.status in ("OPTIMAL", "FEASIBLE")
    assert (who.id, day) not in new.assignment
    assert validate(rerostering_problem(p2, sol, 0), new).hard_violations == 0
    assert 2 <= len(new.changes) <= 6, new.changes


def test_repair_changes_only_the_cells_around_what_the_start_breaks(ward):
    import dataclasses

    from optimization.rostering.model import build_model
    from optimization.rostering.reroster import rerostering_problem as attach
    from optimization.rostering.solver import _repair

    p, sol = ward
    # two people locked off on a day each works: each lock takes a shift from the cover
    workers = [(e, d) for (e, d) in sorted(sol.assignment) if d == 9][:2]
    p2 = attach(dataclasses.replace(p, locks=tuple(Lock(e, d, None) for e, d in workers)), sol, 0)
    broken = validate(p2, sol)
    assert broken.by_rule().get("lock") == 2
    import time

    fixed = _repair(p2, build_model(p2), dict(sol.assignment), broken, time.perf_counter() + 5, seed=0)
    assert fixed is not None and validate(p2, fixed).hard_violations == 0
    assert all((e, d) not in fixed for e, d in workers)
    changed = {k for k in set(fixed) | set(sol.assignment) if fixed.get(k) != sol.assignment.get(k)}
    assert 2 <= len(changed) <= 8, changed


def test_sickness_is_credited_as_leave_is(demo_ws):
    # a week off sick (Mon-Sun) is a week's contract credited, as leave is: the hours report showed 145 h owed
    with Workspace.open(demo_ws, read_only=True) as ws:
        p = problem_from_workspace(ws, "M5", START, 14)
        hours = dict(ws.sql("SELECT staff_id, contract_hours FROM staff WHERE unit_id = 'M5'"))
    e = next(x for x in p.employees if not p.days_off.get(x.id))
    sick = absent(p, e.id, range(7, 14))
    after = next(x for x in sick.employees if x.id == e.id)
    assert after.contract_minutes == round(e.contract_minutes - float(hours[e.id]) * 60)
    # someone already on leave: the credit is still a fifth of their week per weekday
    on_leave = next(x for x in p.employees if any(START.weekday() + d < 5 for d in p.days_off.get(x.id, ())))
    free = [d for d in range(14) if d not in p.days_off[on_leave.id] and (START.weekday() + d) % 7 < 5][:2]
    two = next(x for x in absent(p, on_leave.id, free).employees if x.id == on_leave.id)
    assert abs(two.contract_minutes - (on_leave.contract_minutes - float(hours[on_leave.id]) * 60 * 2 / 5)) <= 1


def test_xlsx_shows_cover_against_need_by_skill_and_prints_on_one_page_wide(ward, tmp_path):
    """A Late with no registered nurse read "3" in the all-roles totals: the sheet now has a row per shift and
    skill, rostered/needed, short in red; it prints landscape, one page wide, names and dates on each page."""
    from openpyxl import load_workbook

    p, sol = ward
    # take every charge nurse off day 3's Early: that cover is short, and says so
    charge = {e.id for e in p.employees if "charge" in e.skills}
    a = {k: v for k, v in sol.assignment.items() if not (k[0] in charge and k[1] == 3 and v == "E")}
    ws = load_workbook(to_xlsx(p, type(sol)(a), tmp_path / "r.xlsx")).active
    labels = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
    assert "Cover: rostered / needed (short in red)" in labels
    row = labels["E charge"]
    need = next(c.requirement for c in p.cover if c.day == 3 and c.shift == "E" and c.skill == "charge")
    cell = ws.cell(row, 3 + 3)
    assert cell.value == f"0/{need}" and cell.fill.fgColor.rgb.endswith("F4A6A6")
    assert {ws.cell(labels[f"{s} {k}"], 3).value.count("/") for s in "ELN" for k in ("RN", "HCA")} == {1}
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert ws.print_title_cols.replace("$", "") == "A:B" and ws.print_title_rows.replace("$", "") == "1:1"


def test_pdf_pages_hold_their_footer_and_six_weeks_fit_one_page_wide(ward, tmp_path):
    """A 90-person unit printed 60 people a page under a 4-line header and above the footer: 68 lines on a page
    that holds 65, the cover totals below its edge. A 6-week roster was cut at 28 days though 42 fit."""
    import dataclasses
    import re

    from optimization.rostering.export import PDF_CHARS_PER_LINE, PDF_LINES_PER_PAGE

    p, sol = ward
    people = [dataclasses.replace(e, id=f"{e.id}-{k}") for k in range(3) for e in p.employees]
    big = dataclasses.replace(p, employees=tuple(people), days_off={}, requests=(), locks=())
    a = {(f"{e}-{k}", d): s for (e, d), s in sol.assignment.items() for k in range(3)}
    pdf = to_pdf(big, type(sol)(a), tmp_path / "big.pdf").read_bytes().decode("latin-1")
    pages = [[x.replace("\\(", "(").replace("\\)", ")") for x in re.findall(r"^\((.*)\) '$", stream, re.M)]
             for stream in pdf.split("stream")[1::2]]
    assert len(pages) >= 2
    for lines in pages:
        assert len(lines) <= PDF_LINES_PER_PAGE and max(map(len, lines)) <= PDF_CHARS_PER_LINE
        assert "Cover against need (! short):" in lines and lines[-1].startswith("N ")  # the footer, whole
    six = dataclasses.replace(p, days=42)
    wide = to_pdf(six, sol, tmp_path / "six.pdf").read_bytes().decode("latin-1")
    assert wide.count("/Type /Page ") == 1  # 42 days on one page's width (31 people)


def test_locks_travel_in_the_csv(ward, tmp_path):
    """Locks lived in the app's memory only: exported, closed and re-rostered next week, the hand decisions were
    lost. The CSV's ``locked`` column carries them, and reads back as locks."""
    import dataclasses

    from optimization.rostering.export import read_roster_csv

    p, sol = ward
    (e1, d1), (e2, d2) = sorted(sol.assignment)[:2]
    off = next(k for k in ((e.id, d) for e in p.employees for d in range(p.days)) if k not in sol.assignment)
    locks = (Lock(e1, d1, sol.assignment[(e1, d1)]), Lock(*off, None))
    path = to_csv(dataclasses.replace(p, locks=locks), sol, tmp_path / "locked.csv")
    back, kept = read_roster_csv(p, path)
    assert dict(back.assignment) == dict(sol.assignment) and set(kept) == set(locks)
    assert read_roster_csv(p, to_csv(p, sol, tmp_path / "none.csv"))[1] == ()


def test_cover_carries_the_season_from_earlier_years(tmp_path):
    """Issue 8: cover from the forecast. It was the last 28 days' census by weekday and shift, so a roster into
    January asked for November's nurses; each day's need now moves as the census moved to that date a year
    before (from the same 28-day window then)."""
    import pandas as pd

    from datasets.synthetic import build_demo
    from optimization.rostering import WardRules
    from optimization.rostering.workspace import SEASON_LIMITS, seasonal_factors, unit_census

    path = tmp_path / "year.hospops"
    build_demo(path, days=420, seed=5)
    with Workspace.open(path, read_only=True) as ws:
        end = pd.Timestamp(ws.sql("SELECT max(ds) FROM census_hourly WHERE unit_id = 'M5'")[0][0]).normalize()
        start = (end + pd.Timedelta(days=3)).date()
        f = seasonal_factors(unit_census(ws, "M5"), start, 42, 28)
        daily = ws.df("SELECT CAST(ds AS DATE) AS d, avg(census) AS c FROM census_hourly WHERE unit_id = 'M5' "
                      "GROUP BY 1").set_index("d")["c"]
        daily.index = pd.to_datetime(daily.index)
        daily = daily.sort_index()
        back = pd.Timedelta(days=364)  # one earlier year in 420 days
        then = pd.Timestamp(start) - back
        want = daily[then - pd.Timedelta(days=7):then + pd.Timedelta(days=7)].mean() / \
            daily[end - back - pd.Timedelta(days=27):end - back].mean()
        assert f[0] == pytest.approx(min(max(want, SEASON_LIMITS[0]), SEASON_LIMITS[1]))
        assert len(set(round(x, 6) for x in f)) > 10 and all(SEASON_LIMITS[0] <= x <= SEASON_LIMITS[1] for x in f)
        seasonal = problem_from_workspace(ws, "M5", start, 42)
        flat = problem_from_workspace(ws, "M5", start, 42, rules=WardRules(seasonal=False))
    need = lambda p: sum(c.requirement for c in p.cover if c.skill in ("RN", "HCA"))  # noqa: E731
    assert (need(seasonal) > need(flat)) == (sum(f) > 42) and need(seasonal) != need(flat)
