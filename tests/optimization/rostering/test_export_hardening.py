"""Roster exports and the CSV read back against what a scheduler met: names that run as formulas, broken and
European CSV files, people left out, calendars that kept changed shifts twice, names the PDF could not print."""
from __future__ import annotations

import csv
from datetime import date

import pytest

from datasets.errors import HospOpsError
from optimization.rostering import from_csv, to_csv, to_ics, to_pdf, to_xlsx
from optimization.rostering.problem import Employee, RosterProblem, RosterSolution, ShiftType

START = date(2026, 12, 28)  # a Monday: the fortnight crosses New Year
HEADER = "employee,name,day,date,shift,minutes"


@pytest.fixture()
def roster():
    shifts = (ShiftType("E", 480, name="Early", start_minute=420),
              ShiftType("L", 480, name="Late", start_minute=810),
              ShiftType("+N", 600, name="=Night", start_minute=1260))
    people = (Employee("=N1", name="=1+2"), Employee("N2", name="Łucja Wąs"),
              Employee("N3", name="Šárka Žáková"), Employee("-N4"))
    p = RosterProblem(days=7, shifts=shifts, employees=people, days_off={"N3": {2, 3}}, start=START, unit="M5")
    sol = RosterSolution({("=N1", 0): "E", ("=N1", 1): "L", ("=N1", 2): "+N", ("N2", 0): "L", ("N2", 1): "E",
                          ("N2", 3): "E", ("N2", 4): "+N", ("N3", 0): "E", ("N3", 5): "L", ("-N4", 1): "E",
                          ("-N4", 6): "+N"}, status="FEASIBLE")
    return p, sol


def _rows(path):
    return list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))


def _write(path, rows, delimiter=",", encoding="utf-8-sig"):
    path.write_bytes("".join(delimiter.join(r) + "\r\n" for r in rows).encode(encoding))
    return path


# ------------------------------------------------------------------------------------- formula injection
def test_csv_neutralizes_formulas_and_reads_them_back(roster, tmp_path):
    p, sol = roster
    path = to_csv(p, sol, tmp_path / "r.csv")
    rows = _rows(path)
    assert rows[1][:2] == ["'=N1", "'=1+2"]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)
    assert {r[4] for r in rows[1:]} == {"", "E", "L", "'+N"}
    assert dict(from_csv(p, path).assignment) == dict(sol.assignment)
    # a file written before the ids were neutralized (or by hand) is still read by its ids as they are
    raw = [[r[0].removeprefix("'"), *r[1:4], r[4].removeprefix("'"), r[5]] for r in rows]
    assert dict(from_csv(p, _write(tmp_path / "raw.csv", raw)).assignment) == dict(sol.assignment)


def test_xlsx_text_cells_are_strings_never_formulas(roster, tmp_path):
    from openpyxl import load_workbook

    p, sol = roster
    ws = load_workbook(to_xlsx(p, sol, tmp_path / "r.xlsx")).active
    name, eid, shift = ws.cell(2, 1), ws.cell(2, 2), ws.cell(2, 3 + 2)  # =N1 works +N on day 2
    assert (name.value, eid.value, shift.value) == ("'=1+2", "'=N1", "'+N")
    assert ws.cell(5, 2).value == "'-N4"
    totals = len(p.employees) + 3
    assert [ws.cell(totals + i, 1).value for i in range(3)] == ["Early", "Late", "'=Night"]
    formulas = [c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == []
    assert {name.data_type, eid.data_type, shift.data_type, ws.cell(totals + 2, 1).data_type} == {"s"}


# ------------------------------------------------------------------------------------- broken files
def test_from_csv_short_row_is_a_user_error_naming_the_line(roster, tmp_path):
    p, sol = roster
    rows = _rows(to_csv(p, sol, tmp_path / "r.csv"))
    full = rows[3]
    rows[3] = full[:2]  # (line 4 lost its day, date, shift and minutes)
    with pytest.raises(HospOpsError, match=r"short\.csv, line 4 has 2 fields where the header has 7: no day, date, "
                                           r"shift, minutes"):
        from_csv(p, _write(tmp_path / "short.csv", rows))
    rows[3] = full[:4]  # (read as a day off, it would drop the shift that line had)
    with pytest.raises(HospOpsError, match=r"line 4 has 4 fields"):
        from_csv(p, _write(tmp_path / "short.csv", rows))
    rows[3] = full + ["", "oops"]
    with pytest.raises(HospOpsError, match=r"line 4 has 9 fields"):
        from_csv(p, _write(tmp_path / "long.csv", rows))


def test_from_csv_binary_file_is_a_user_error_naming_the_line(roster, tmp_path):
    p, sol = roster
    garbage = tmp_path / "garbage.csv"
    # (no NUL, but a carriage return inside a line: Excel 2004 for Mac and damaged files alike)
    garbage.write_bytes(b"\x89PNG,\xff\xfe\n\x1a\x08abc\rdef,\x91\x92\n" + bytes(range(1, 256)) * 4)
    with pytest.raises(HospOpsError, match=r"garbage\.csv, line \d+"):
        from_csv(p, garbage)
    xlsx = to_xlsx(p, sol, tmp_path / "r.xlsx")  # a workbook saved under .csv by mistake
    wrong = tmp_path / "workbook.csv"
    wrong.write_bytes(xlsx.read_bytes())
    with pytest.raises(HospOpsError, match=r"workbook\.csv, line \d+: binary data, not text"):
        from_csv(p, wrong)


def test_from_csv_garbage_with_a_stray_carriage_return_is_not_a_csv_error(roster, tmp_path):
    p, _ = roster
    bad = tmp_path / "bad.csv"
    bad.write_bytes(HEADER.encode() + b"\n=N1,x,0,,E\r,480\nzz\x8d\x9d\rq\n")
    with pytest.raises(HospOpsError, match=r"bad\.csv, line \d+"):
        from_csv(p, bad)


# ------------------------------------------------------------------------------------- rows that disagree
def test_from_csv_refuses_two_rows_for_one_day_with_different_shifts(roster, tmp_path):
    p, sol = roster
    rows = _rows(to_csv(p, sol, tmp_path / "r.csv"))
    assert rows[9][:5] == ["N2", "Łucja Wąs", "1", "2026-12-29", "E"]
    same = rows + [rows[9]]  # (the same row twice says one thing: read)
    assert dict(from_csv(p, _write(tmp_path / "same.csv", same)).assignment) == dict(sol.assignment)
    clash = rows + [[*rows[9][:4], "L", "480"]]
    with pytest.raises(HospOpsError, match=r"lines 10 and 30 both give Łucja Wąs \(N2\) on day 1 \(2026-12-29\): "
                                           r"E and L"):
        from_csv(p, _write(tmp_path / "clash.csv", clash))
    off = [*rows[:5], [*rows[9][:4], "", "0"], *rows[5:]]  # (the later line need not be the one at the end)
    with pytest.raises(HospOpsError, match=r"lines 6 and 11 .*: off and E"):
        from_csv(p, _write(tmp_path / "off.csv", off))


def test_from_csv_refuses_a_roster_that_leaves_someone_out(roster, tmp_path):
    p, sol = roster
    rows = _rows(to_csv(p, sol, tmp_path / "r.csv"))
    kept = [r for r in rows if r[0].removeprefix("'") not in ("N2", "-N4")]
    with pytest.raises(HospOpsError, match=r"no rows for Łucja Wąs \(N2\), -N4:"):
        from_csv(p, _write(tmp_path / "cut.csv", kept))


# ------------------------------------------------------------------------------------- European Excel
def test_from_csv_reads_a_semicolon_csv_with_european_dates(roster, tmp_path):
    p, sol = roster
    rows = _rows(to_csv(p, sol, tmp_path / "r.csv"))
    for r in rows[1:]:
        y, m, d = r[3].split("-")
        r[3] = f"{d}.{m}.{y}"
    semi = _write(tmp_path / "semi.csv", rows, delimiter=";")
    assert semi.read_text(encoding="utf-8-sig").startswith("employee;name;day;date;shift;minutes")
    assert dict(from_csv(p, semi).assignment) == dict(sol.assignment)
    # Excel's "Unicode Text": UTF-16 and tabs
    tabs = _write(tmp_path / "tabs.csv", rows, delimiter="\t", encoding="utf-16")
    assert dict(from_csv(p, tabs).assignment) == dict(sol.assignment)


# ------------------------------------------------------------------------------------- calendars
def _events(path):
    from icalendar import Calendar

    cal = Calendar.from_ical(path.read_bytes())
    return cal, {c.decoded("dtstart").date() if hasattr(c.decoded("dtstart"), "date") else c.decoded("dtstart"): c
                 for c in cal.walk("VEVENT")}


def test_ics_uid_is_per_person_and_day_so_a_changed_shift_replaces_the_old(roster, tmp_path):
    p, sol = roster
    new = RosterSolution({**sol.assignment, ("N2", 1): "L"}, status="FEASIBLE")
    del new.assignment[("N2", 3)]  # (N2: Early on 29 Dec is now Late; Early on 31 Dec is dropped)
    [old_file] = [f for f in to_ics(p, sol, tmp_path / "old") if f.stem == "N2"]
    _, before = _events(old_file)
    # without the published roster: the changed shift keeps its UID, nothing is cancelled, no METHOD
    cal, plain = _events(next(f for f in to_ics(p, new, tmp_path / "plain") if f.stem == "N2"))
    assert {str(ev["uid"]) for ev in plain.values()} <= {str(ev["uid"]) for ev in before.values()}
    assert "method" not in cal and len(plain) == 3 and not any("status" in ev for ev in plain.values())
    files = to_ics(p, new, tmp_path / "new", "Europe/London", published=sol)
    assert [f.stem for f in files] == [e.id for e in p.employees]
    cal, after = _events(next(f for f in files if f.stem == "N2"))
    assert str(cal["method"]) == "PUBLISH"
    changed, dropped = date(2026, 12, 29), date(2026, 12, 31)
    assert str(after[changed]["uid"]) == str(before[changed]["uid"]) == "N2-2026-12-29@hospops"
    assert str(after[changed]["summary"]) == "Late shift (M5)" and "status" not in after[changed]
    assert str(after[dropped]["uid"]) == str(before[dropped]["uid"])
    assert str(after[dropped]["status"]) == "CANCELLED" and str(after[dropped]["summary"]).startswith("Cancelled")
    assert len(after) == len(before) == 4
    for ev in after.values():
        assert int(ev["sequence"]) > 0 and ev.decoded("dtstamp") == ev.decoded("last-modified")
    assert int(after[changed]["sequence"]) >= int(before[changed]["sequence"])


def test_ics_cancels_the_shifts_of_someone_taken_off_the_roster(roster, tmp_path):
    import dataclasses

    p, sol = roster
    smaller = dataclasses.replace(p, employees=p.employees[:3])
    files = to_ics(smaller, RosterSolution({k: v for k, v in sol.assignment.items() if k[0] != "-N4"}),
                   tmp_path / "ics", published=sol.assignment)
    assert [f.stem for f in files] == ["=N1", "N2", "N3", "-N4"]
    _, gone = _events(files[-1])
    assert sorted(gone) == [date(2026, 12, 29), date(2027, 1, 3)]
    assert all(str(ev["status"]) == "CANCELLED" for ev in gone.values())


# ------------------------------------------------------------------------------------- PDF and XLSX dates
def test_pdf_prints_names_outside_latin1_as_plain_letters_and_dates_with_years(roster, tmp_path):
    p, sol = roster
    pdf = to_pdf(p, sol, tmp_path / "r.pdf").read_bytes()
    assert b"Lucja Was" in pdf and b"?ucja" not in pdf
    assert "Šárka Žáková".encode("cp1252") in pdf  # (WinAnsi has Š and Ž: printed as they are)
    assert b"Roster M5: Mon 28 Dec 2026 to Sun 3 Jan 2027" in pdf


def test_xlsx_header_dates_carry_the_year_and_leave_is_grey(roster, tmp_path):
    from openpyxl import load_workbook

    p, sol = roster
    ws = load_workbook(to_xlsx(p, sol, tmp_path / "r.xlsx")).active
    assert ws.cell(1, 3).value == "Mon 28 Dec"  # (short: the header is rotated)
    assert ws.cell(1, 3).comment.text == "Mon 28 Dec 2026" and ws.cell(1, 9).comment.text == "Sun 3 Jan 2027"
    assert "2026" in ws.oddHeader.center.text and "2027" in ws.oddHeader.center.text
    leave = ws.cell(4, 3 + 2)  # N3 is on leave on days 2 and 3
    assert leave.value == "lv" and leave.fill.fgColor.rgb.endswith("EDEDED")
    assert ws.cell(4, 3 + 1).fill.fill_type is None  # (a plain day off stays white)
