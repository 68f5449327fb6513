"""Reader for the Curtois–Qu shift scheduling benchmark format (schedulingbenchmarks.org, Instance1..24).

Mapped rule for rule onto :class:`RosterProblem`: hard days off → ``days_off``, shift-on/off requests →
weighted :class:`Request`, cover with under/over weights → :class:`Cover`. Solutions are read and written
as CSV ``employee,day,shift`` (one row per worked shift, day from 0, ids as in the instance).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from datasets.errors import HospOpsError

from .problem import Cover, Employee, Request, RosterProblem, RosterSolution, ShiftType, csv_delimiter, read_text


#: the parts of a Curtois–Qu instance it cannot do without (days off and requests may be absent), and the
#: fields each line of a section holds, for the error a malformed line gets
REQUIRED = ("SECTION_HORIZON", "SECTION_SHIFTS", "SECTION_STAFF", "SECTION_COVER")
FIELDS = {
    "SECTION_HORIZON": "the number of days",
    "SECTION_SHIFTS": "ShiftID, Length in mins, Shifts which cannot follow this shift | separated",
    "SECTION_STAFF": "ID, MaxShifts, MaxTotalMinutes, MinTotalMinutes, MaxConsecutiveShifts, MinConsecutiveShifts, "
                     "MinConsecutiveDaysOff, MaxWeekends",
    "SECTION_DAYS_OFF": "EmployeeID, DayIndexes (start at zero)",
    "SECTION_SHIFT_ON_REQUESTS": "EmployeeID, Day, ShiftID, Weight",
    "SECTION_SHIFT_OFF_REQUESTS": "EmployeeID, Day, ShiftID, Weight",
    "SECTION_COVER": "Day, ShiftID, Requirement, Weight for under, Weight for over",
}


def _sections(text: str) -> dict[str, list[tuple[int, str]]]:
    """Each section's lines with their line numbers in the file."""
    out: dict[str, list[tuple[int, str]]] = {}
    cur = None
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("SECTION_"):
            cur = line
            if cur in out:
                raise HospOpsError(f"line {no}: {cur} appears twice.")
            out[cur] = []
        elif cur is None:
            raise HospOpsError(f"line {no}: data before the first SECTION_ line, so this does not look like a "
                               "Curtois–Qu instance.")
        else:
            out[cur].append((no, line))
    return out


def read_curtois(path: str | Path) -> RosterProblem:
    """A Curtois–Qu instance. A malformed file is refused naming its line and what the line should hold; a
    file cut short (a missing section, a day and shift with no cover line) is refused, not solved as a
    smaller problem."""
    path = Path(path)
    text = read_text(path, "instance", "rostering instance")
    try:
        return _read(text, path.stem)
    except HospOpsError as exc:
        raise HospOpsError(f"{path.name} is not a valid Curtois–Qu instance: {exc.message}", exc.hint) from None


def _read(text: str, title: str) -> RosterProblem:
    sec = _sections(text)
    missing = [s for s in REQUIRED if not sec.get(s)]
    if missing:
        raise HospOpsError(f"no {' or '.join(missing)} (or nothing in it).",
                           "A file cut short? An instance has the sections " + ", ".join(REQUIRED) + ".")

    def rows(part: str, least: int):
        """Each line of a section split at commas, with its line number, or an error naming the line."""
        for no, line in sec.get(part, []):
            f = [t.strip() for t in line.split(",")]
            if len(f) < least:
                raise HospOpsError(f"line {no} ({part}): {line!r} has {len(f)} field(s), expected {least}: "
                                   f"{FIELDS[part]}.")
            yield no, line, f

    def number(value: str, no: int, name: str, line: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise HospOpsError(f"line {no} ({name}): {value!r} in {line!r} is not a whole number; the line holds "
                               f"{FIELDS[name]}.") from None

    no, line = sec["SECTION_HORIZON"][0]
    days = number(line, no, "SECTION_HORIZON", line)
    if days < 1:
        raise HospOpsError(f"line {no} (SECTION_HORIZON): the horizon must be at least one day (got {days}).")
    shifts = []
    for no, line, f in rows("SECTION_SHIFTS", 2):
        nxt = tuple(t for t in (f[2].split("|") if len(f) > 2 else []) if t)
        shifts.append(ShiftType(f[0], number(f[1], no, "SECTION_SHIFTS", line), nxt))
    known = {s.id for s in shifts}

    def shift(value: str, no: int, name: str, line: str) -> str:
        if value not in known:
            raise HospOpsError(f"line {no} ({name}): shift {value!r} is not in SECTION_SHIFTS "
                               f"({', '.join(sorted(known))}).")
        return value

    def day(value: str, no: int, name: str, line: str) -> int:
        d = number(value, no, name, line)
        if not 0 <= d < days:
            raise HospOpsError(f"line {no} ({name}): day {d} is outside the horizon (0 to {days - 1}).")
        return d

    employees = []
    for no, line, f in rows("SECTION_STAFF", 8):
        caps = {}
        for item in f[1].split("|"):
            if item:
                k, _, v = item.partition("=")
                caps[shift(k.strip(), no, "SECTION_STAFF", line)] = number(v, no, "SECTION_STAFF", line)
        employees.append(Employee(f[0], caps, *(number(v, no, "SECTION_STAFF", line) for v in f[2:8])))
    staff = {e.id for e in employees}

    def person(value: str, no: int, name: str) -> str:
        if value not in staff:
            raise HospOpsError(f"line {no} ({name}): {value!r} is not in SECTION_STAFF.")
        return value

    days_off = {}
    for no, line, f in rows("SECTION_DAYS_OFF", 1):
        days_off[person(f[0], no, "SECTION_DAYS_OFF")] = frozenset(
            day(d, no, "SECTION_DAYS_OFF", line) for d in f[1:] if d)
    reqs = []
    for kind, part in (("on", "SECTION_SHIFT_ON_REQUESTS"), ("off", "SECTION_SHIFT_OFF_REQUESTS")):
        for no, line, f in rows(part, 4):
            reqs.append(Request(person(f[0], no, part), day(f[1], no, part, line), shift(f[2], no, part, line),
                                number(f[3], no, part, line), kind))
    cover, seen = [], {}
    for no, line, f in rows("SECTION_COVER", 5):
        c = Cover(day(f[0], no, "SECTION_COVER", line), shift(f[1], no, "SECTION_COVER", line),
                  *(number(v, no, "SECTION_COVER", line) for v in f[2:5]))
        if (c.day, c.shift) in seen:
            raise HospOpsError(f"line {no} (SECTION_COVER): day {c.day} shift {c.shift} already has its cover on "
                               f"line {seen[(c.day, c.shift)]}.")
        seen[(c.day, c.shift)] = no
        cover.append(c)
    gaps = [(d, s.id) for d in range(days) for s in shifts if (d, s.id) not in seen]
    if gaps:
        raise HospOpsError(f"SECTION_COVER has no line for {len(gaps)} of the {days * len(shifts)} days and "
                           f"shifts (the first: day {gaps[0][0]} shift {gaps[0][1]}).",
                           "A file cut short? Every day and shift has a cover line, a requirement of 0 included.")
    return RosterProblem(days, tuple(shifts), tuple(employees), days_off, tuple(reqs), tuple(cover), name=title)


def solution_to_rows(solution: RosterSolution) -> list[tuple[str, int, str]]:
    return sorted((e, d, s) for (e, d), s in solution.assignment.items())


def write_solution_csv(solution: RosterSolution, path: str | Path) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["employee", "day", "shift"])
        w.writerows(solution_to_rows(solution))


def read_solution_csv(path: str | Path, problem: RosterProblem | None = None) -> RosterSolution:
    """Read ``employee,day,shift`` rows (a worked shift per row)."""
    text = read_text(path, "solution", "roster CSV")
    head = text.split("\n", 1)[0]
    reader = csv.DictReader(io.StringIO(text), delimiter=csv_delimiter(head.rstrip("\r")))
    if reader.fieldnames:
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
    rows = list(reader)
    if rows and not {"employee", "day", "shift"} <= set(rows[0]):
        raise HospOpsError(f"{path}: expected the columns employee,day,shift; its first line is {head.strip()!r}.")
    a = {}
    for i, r in enumerate(rows, start=2):
        try:
            key = (r["employee"].strip(), int(r["day"]))
        except (ValueError, AttributeError):
            raise HospOpsError(f"{path}, line {i}: day must be a whole number (got {r.get('day')!r}).") from None
        if not r["shift"].strip():
            continue
        if key in a:
            raise HospOpsError(f"{path}, line {i}: {key[0]} has two shifts on day {key[1]}.")
        a[key] = r["shift"].strip()
    return RosterSolution(a, status="FEASIBLE")
