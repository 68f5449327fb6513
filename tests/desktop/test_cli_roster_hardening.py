"""`hospops roster solve|reroster` as a scheduler uses it: dates as well as day numbers, refusals in words before
any solving, the short shifts named, and nothing said about an empty roster when there is no roster."""
from __future__ import annotations

import argparse
import csv
import json
import shutil
from datetime import date

import pytest

from desktop.cli import main

START, DAYS, UNIT = "2026-11-23", 7, "M5"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture(scope="module")
def ward(demo_ws, tmp_path_factory):
    """A copy of the demo workspace (exports are audited into it), a published 7-day roster of M5 and one of its
    nurses with shifts on days 1 to 3 (so an absence there takes shifts away)."""
    from datasets.store import Workspace

    folder = tmp_path_factory.mktemp("hardening")
    ws = shutil.copy(demo_ws, folder / "demo.hospops")
    published = folder / "published.csv"
    assert main(["roster", "solve", str(ws), "--unit", UNIT, "--start", START, "--days", str(DAYS),
                 "--time-limit", "3", "--workers", "2", "--export", str(published), "--json"]) == 0
    rows = list(csv.DictReader(published.open(encoding="utf-8-sig")))
    worked = {}
    for r in rows:
        if r["shift"] and 1 <= int(r["day"]) <= 3:
            worked.setdefault(r["employee"], []).append(int(r["day"]))
    nurse = max(sorted(worked), key=lambda e: len(worked[e]))
    with Workspace.open(ws, read_only=True) as w:
        (name,), = w.sql("SELECT display_name FROM staff WHERE staff_id = ?", [nurse])
    return {"ws": ws, "published": published, "nurse": nurse, "name": name, "worked": worked[nurse],
            "base": [ws, "--unit", UNIT, "--start", START, "--days", DAYS, "--workers", 2, "--time-limit", 3]}


def reroster(capsys, ward, *extra):
    return run(capsys, "roster", "reroster", *ward["base"], "--published", ward["published"], *extra)


# 1 ------------------------------------------------------------------------------------------------------------
def test_an_absence_that_starts_before_the_from_day_is_refused_in_words(ward, capsys):
    nurse = ward["nurse"]
    code, out, err = reroster(capsys, ward, "--from-day", 3, "--absent", f"{nurse}:1-4")
    assert code == 1 and out == ""
    assert f"{ward['name']} ({nurse}) is absent from Tue 24 Nov, before --from-day 3" in err
    assert "stay as published" in err
    # both ways out, in the syntax the user wrote: the absence from the from-day, or the from-day earlier
    assert f"--absent {nurse}:3..4" in err and "--from-day 1" in err
    code, _, err = reroster(capsys, ward, "--from-day", "2026-11-26", "--absent", f"{nurse}:2026-11-24..2026-11-27")
    assert code == 1 and f"--absent {nurse}:2026-11-26..2026-11-27" in err and "--from-day 2026-11-24" in err


def test_reroster_lists_published_shifts_an_earlier_absence_takes_away(ward):
    """The API keeps its behaviour (forbidden published cells before the from-day are freed) but now says so."""
    from datasets.store import Workspace
    from optimization.rostering import absent, from_csv, problem_from_workspace, reroster

    with Workspace.open(ward["ws"], read_only=True) as ws:
        problem = problem_from_workspace(ws, UNIT, date.fromisoformat(START), DAYS)
    published = from_csv(problem, ward["published"])
    day = ward["worked"][0]
    new = reroster(absent(problem, ward["nurse"], [day]), published, from_day=day + 1, time_limit_s=3,
                   num_workers=2)
    assert (ward["nurse"], day) not in new.assignment
    label = problem.day_label(day)
    assert any(c.startswith(f"{ward['name']}, {label}: ") and c.endswith("→ off") for c in new.changes), new.changes


# 2 ------------------------------------------------------------------------------------------------------------
def test_an_infeasible_reroster_prints_the_conflict_only_and_fails(ward, capsys):
    nurse, name = ward["nurse"], ward["name"]
    clash = ["--from-day", 3, "--absent", f"{nurse}:3-4", "--lock", f"{nurse}:3:E"]  # locked on a day away
    code, out, _ = reroster(capsys, ward, *clash)
    assert code == 1
    assert "conflict: " in out and f"{name} ({nurse}) is locked to E" in out
    for empty_roster_talk in ("Validator:", "shift(s) short", "now short", "change:", "rostered"):
        assert empty_roster_talk not in out
    code, out, _ = reroster(capsys, ward, *clash, "--export", "never.csv")  # (it said nothing of the export)
    assert code == 1 and "Nothing was exported to never.csv: there is no roster." in out
    code, out, _ = reroster(capsys, ward, *clash, "--json")
    res = json.loads(out)
    assert code == 1 and res["status"] == "INFEASIBLE" and res["conflicts"]
    # the keys ARCHITECTURE.md lists, with nothing made up for a roster that does not exist
    assert {"status", "objective", "bound", "seconds", "validated_objective", "hard_violations",
            "violations"} <= set(res)
    assert res["hard_violations"] is None and res["violations"] == {} and res["short_shifts"] == []
    assert res["short_from_change"] == [] and res["changed_cells"] is None


# 3 ------------------------------------------------------------------------------------------------------------
def _empty_roster_report(capsys, days: int, json_out: bool):
    from desktop.cli_roster import _report
    from optimization.rostering import Cover, Employee, RosterProblem, RosterSolution, ShiftType

    problem = RosterProblem(days, (ShiftType("E", 480),), (Employee("A", name="Ann"),),
                            cover=tuple(Cover(d, "E", 2, skill=None) for d in range(days)),
                            start=date(2026, 11, 23), name="tiny")
    code = _report(problem, RosterSolution({("A", 0): "E"}, "FEASIBLE", objective=0), argparse.Namespace(
        json=json_out, export=None))
    return code, capsys.readouterr().out


def test_short_shifts_are_listed_by_date_shift_and_skill(capsys):
    code, out = _empty_roster_report(capsys, 3, False)
    assert code == 0
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Short shifts (3)"))
    assert lines[at + 1].split() == ["date", "shift", "skill", "rostered", "needed"]
    assert lines[at + 3].split() == ["Mon", "23", "Nov", "E", "all", "staff", "1", "2"]
    assert lines[at + 5].split()[:3] == ["Wed", "25", "Nov"]
    # a long list is cut, and says how much is left out
    code, out = _empty_roster_report(capsys, 30, False)
    assert "Short shifts (30)" in out and "and 10 more (--json lists them all)" in out
    assert "Thu 24 Dec" not in out  # day 31 of the list: not printed
    code, out = _empty_roster_report(capsys, 30, True)
    res = json.loads(out)
    assert len(res["short_shifts"]) == res["violations"]["cover_under"] == 30
    assert res["short_shifts"][0] == {"day": 0, "date": "2026-11-23", "shift": "E", "skill": None, "rostered": 1,
                                      "needed": 2}


def test_reroster_lists_the_shifts_now_short_in_text_and_json(ward, capsys):
    # everyone on day 3 away that day, and a change priced far above a short shift: day 3 stays short, whatever
    # the search finds (no hard minimum asks for them)
    rows = list(csv.DictReader(ward["published"].open(encoding="utf-8-sig")))
    away = [a for r in rows if r["day"] == "3" and r["shift"] for a in ("--absent", f"{r['employee']}:2026-11-26")]
    args = ["--from-day", 3, "--change-weight", 1000000, *away]
    code, out, _ = reroster(capsys, ward, *args, "--json")
    res = json.loads(out)
    assert code == 0 and res["short_shifts"] and len(res["short_shifts"]) == res["violations"]["cover_under"]
    assert all(set(r) == {"day", "date", "shift", "skill", "rostered", "needed"} for r in res["short_shifts"])
    assert any(r["date"] == "2026-11-26" and r["rostered"] == 0 < r["needed"] for r in res["short_shifts"])
    code, out, _ = reroster(capsys, ward, *args)
    shown = [r for r in res["short_shifts"] if r["day"] >= 3]
    assert f"against the published roster's cover: {len(shown)} shift(s) short" in out
    table = [line.split() for line in out.splitlines() if line.startswith("  Thu 26 Nov ")]
    first = shown[0]
    assert table[0] == ["Thu", "26", "Nov", first["shift"], *(first["skill"] or "all staff").split(),
                        str(first["rostered"]), str(first["needed"])]
    assert len(table) == min(20, sum(1 for r in shown if r["day"] == 3))


# 4 ------------------------------------------------------------------------------------------------------------
def test_days_can_be_given_as_dates(ward, capsys, tmp_path):
    from desktop.cli_roster import _day_index
    from datasets.errors import HospOpsError

    start = date(2026, 11, 23)
    assert _day_index("2026-11-26", start, 7, "--from-day") == _day_index("3", start, 7, "--from-day") == 3
    with pytest.raises(HospOpsError, match="Fri 25 Dec 2026 is outside this roster .Mon 23 Nov 2026 to Sun 29 Nov"):
        _day_index("2026-12-25", start, 7, "--from-day")
    with pytest.raises(HospOpsError, match="no calendar dates"):
        _day_index("2026-11-26", None, 7, "--from-day")
    nurse = ward["nurse"]
    out_csv = tmp_path / "rr.csv"
    code, out, err = reroster(capsys, ward, "--from-day", "2026-11-25", "--absent", f"{nurse}:2026-11-25..2026-11-26",
                              "--lock", f"{nurse}:2026-11-28:off", "--json", "--export", out_csv)
    assert code == 0, err
    changes = json.loads(out)["changes"]
    for day, label in ((2, "Wed 25 Nov"), (3, "Thu 26 Nov")):  # the absence, read from dates, took these away
        assert (day in ward["worked"]) == any(c.startswith(f"{ward['name']}, {label}: ") for c in changes)
    rows = {(r["employee"], r["date"]): r["shift"] for r in csv.DictReader(out_csv.open(encoding="utf-8-sig"))}
    assert rows[(nurse, "2026-11-25")] == rows[(nurse, "2026-11-26")] == rows[(nurse, "2026-11-28")] == ""
    # a single date, a date outside the roster, a span written with dashes: read, or refused in words
    code, _, err = reroster(capsys, ward, "--from-day", "2026-12-01")
    assert code == 1 and "Tue 1 Dec 2026 is outside this roster" in err
    code, _, err = reroster(capsys, ward, "--from-day", 3, "--absent", f"{nurse}:2026-11-26-2026-11-27")
    assert code == 1 and f"FIRST..LAST, e.g. {nurse}:2026-11-26..2026-11-27" in err
    code, _, err = run(capsys, "roster", "solve", *ward["base"], "--lock", f"{nurse}:2026-11-30:E")
    assert code == 1 and "outside this roster" in err
    code, _, err = run(capsys, "roster", "solve", *ward["base"], "--lock", f"{nurse}:today:E")
    assert code == 1 and "neither a day number" in err


# 5 ------------------------------------------------------------------------------------------------------------
def test_two_locks_of_one_person_and_day_are_refused_naming_both(ward, capsys):
    nurse, name = ward["nurse"], ward["name"]
    code, out, err = run(capsys, "roster", "solve", *ward["base"], "--lock", f"{nurse}:3:E",
                         "--lock", f"{nurse}:2026-11-26:N")
    assert code == 1 and out == ""
    assert (f"--lock {nurse}:3:E and --lock {nurse}:2026-11-26:N both lock {name} ({nurse}) on Thu 26 Nov: "
            "to E and to N") in err


def test_lock_conflicts_name_people_with_their_ids(ward, capsys):
    nurse, name = ward["nurse"], ward["name"]
    # a night then an early the next morning: the solver's own lock messages named staff by ID only
    code, out, _ = run(capsys, "roster", "solve", *ward["base"], "--lock", f"{nurse}:2:N", "--lock", f"{nurse}:3:E")
    assert code == 1 and "INFEASIBLE" in out
    conflicts = [line for line in out.splitlines() if "conflict:" in line]
    assert any(f"{name} ({nurse}) is locked to N" in line for line in conflicts), conflicts
    assert all(f"{nurse} is locked" not in line for line in conflicts)


def test_with_ids_leaves_names_with_ids_and_shared_names_alone():
    from desktop.cli_roster import _with_ids
    from optimization.rostering import Employee, RosterProblem, ShiftType

    problem = RosterProblem(1, (ShiftType("E", 480),), (Employee("N1", name="Ann Lee"), Employee("N2", name="Bo"),
                                                        Employee("N3", name="Bo"), Employee("N10", name="Cy")))
    assert _with_ids(problem, "N1 is locked; Ann Lee is away") == "Ann Lee (N1) is locked; Ann Lee (N1) is away"
    assert _with_ids(problem, "Ann Lee (N1) and N10") == "Ann Lee (N1) and Cy (N10)"
    assert _with_ids(problem, "Bo is away, N3 too") == "Bo is away, Bo (N3) too"


# 6 ------------------------------------------------------------------------------------------------------------
def test_a_calendar_export_is_a_folder_asked_for_by_name(ward, capsys, tmp_path):
    code, out, err = run(capsys, "roster", "solve", *ward["base"], "--export", tmp_path / "x.ics")
    assert code == 1 and out == "" and not (tmp_path / "x").exists() and not (tmp_path / "x.ics").exists()
    assert "one .ics file per person" in err and f"--export {tmp_path / 'x'}/" in err
    code, out, _ = reroster(capsys, ward, "--from-day", 3, "--export", f"{tmp_path / 'cal'}/")
    files = sorted((tmp_path / "cal").glob("*.ics"))
    assert code == 0 and files
    assert f"Exported one calendar per person ({len(files)} .ics files) in folder {tmp_path / 'cal'}/" in out


def test_help_says_dates_and_folders(capsys):
    with pytest.raises(SystemExit):
        main(["roster", "reroster", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--from-day DAY|DATE" in text and "FIRST..LAST of days or dates" in text
    assert "a day number from 0 or a date (YYYY-MM-DD)" in text and "as one .ics calendar per person" in text


def test_a_reroster_calendar_cancels_the_shifts_it_took_away(ward, capsys, tmp_path):
    # the nurse off sick from day 1: their published shifts on days 1-3 leave their phone as cancellations
    # (same UID, STATUS:CANCELLED); before, the events were only missing from the new file and stayed put
    code, out, _ = reroster(capsys, ward, "--from-day", 1, "--absent", f"{ward['nurse']}:1..3",
                            "--export", f"{tmp_path / 'cal'}/")
    assert code == 0, out
    text = (tmp_path / "cal" / f"{ward['nurse']}.ics").read_text()
    assert text.count("STATUS:CANCELLED") == len(ward["worked"])


def test_a_workspace_roster_edited_by_hand_is_validated_naming_the_day(ward, capsys, tmp_path):
    # `roster validate` took benchmark instances only: a roster edited in Excel could only be checked by a
    # re-roster, whose infeasibility named no day
    rows = list(csv.DictReader(ward["published"].open(encoding="utf-8-sig")))
    code, out, _ = run(capsys, "roster", "validate", *ward["base"][:7], "--solution", ward["published"])
    assert code == 0 and "0 hard violations" in out
    night = next(r for r in rows if r["shift"] == "N" and int(r["day"]) < DAYS - 1)
    after = next(r for r in rows if r["employee"] == night["employee"] and int(r["day"]) == int(night["day"]) + 1)
    after["shift"] = "E"  # an Early straight after a night: the 11-hour rest broken
    edited = tmp_path / "edited.csv"
    with edited.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    code, out, _ = run(capsys, "roster", "validate", *ward["base"][:7], "--solution", edited)
    when = date.fromisoformat(after["date"]).strftime("%a %d %b")
    assert code == 1 and "0 hard violations" not in out  # (an extra shift may break the hours or a run too)
    assert f"E on {when} may not follow N" in out and f"({night['employee']})" in out
    code, out, _ = run(capsys, "roster", "validate", *ward["base"][:7], "--solution", edited, "--json")
    assert code == 1 and json.loads(out)["violations"]["forbidden_succession"] == 1


def test_a_lock_naming_a_long_day_says_why_long_days_are_left_out(ward, capsys):
    code, out, err = run(capsys, "roster", "solve", *ward["base"], "--lock", f"{ward['nurse']}:2:LD")
    assert code == 1 and out == ""
    assert "is not used on this unit's rosters" in err and "no shift LD" not in err


def test_a_reroster_keeps_the_cells_the_published_file_marks_locked(ward, capsys, tmp_path):
    rows = list(csv.DictReader(ward["published"].open(encoding="utf-8-sig")))
    other = next(r for r in rows if r["employee"] != ward["nurse"] and r["shift"] and int(r["day"]) >= 2)
    want = "L" if other["shift"] != "L" else "E"
    other["shift"], other["locked"] = want, "yes"  # changed by hand in Excel and locked in the app
    marked = tmp_path / "marked.csv"
    with marked.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    code, out, _ = reroster(capsys, ward, "--published", marked, "--from-day", 1, "--json")
    res = json.loads(out)
    assert res["locks_kept"] == 1
    # the solve may not undo a cell locked by hand, whatever it costs (the rest of the roster is free to move)
    exported = tmp_path / "after.csv"
    code, out, _ = reroster(capsys, ward, "--published", marked, "--from-day", 1, "--export", exported)
    assert "Kept 1 cell(s) locked by hand" in out
    after = {(r["employee"], r["day"]): r["shift"] for r in csv.DictReader(exported.open(encoding="utf-8-sig"))}
    assert after[(other["employee"], other["day"])] == want
