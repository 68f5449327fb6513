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

from .problem import Cover, Employee, Request, RosterProblem, RosterSolution, ShiftType, read_text


def _sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    cur = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("SECTION_"):
            cur = line
            out[cur] = []
        elif cur is None:
            raise HospOpsError("This does not look like a Curtois–Qu instance: data before the first SECTION_ line.")
        else:
            out[cur].append(line)
    return out


def read_curtois(path: str | Path) -> RosterProblem:
    path = Path(path)
    text = read_text(path, "instance", "rostering instance")
    sec = _sections(text)
    try:
        days = int(sec["SECTION_HORIZON"][0])
        shifts = []
        for line in sec["SECTION_SHIFTS"]:
            parts = line.split(",")
            nxt = tuple(t for t in (parts[2].split("|") if len(parts) > 2 else []) if t)
            shifts.append(ShiftType(parts[0], int(parts[1]), nxt))
        employees = []
        for line in sec["SECTION_STAFF"]:
            f = line.split(",")
            caps = {}
            for item in f[1].split("|"):
                if item:
                    k, v = item.split("=")
                    caps[k] = int(v)
            employees.append(Employee(f[0], caps, int(f[2]), int(f[3]), int(f[4]), int(f[5]), int(f[6]), int(f[7])))
        days_off = {}
        for line in sec.get("SECTION_DAYS_OFF", []):
            f = line.split(",")
            days_off[f[0]] = frozenset(int(d) for d in f[1:] if d != "")
        reqs = []
        for kind, name in (("on", "SECTION_SHIFT_ON_REQUESTS"), ("off", "SECTION_SHIFT_OFF_REQUESTS")):
            for line in sec.get(name, []):
                f = line.split(",")
                reqs.append(Request(f[0], int(f[1]), f[2], int(f[3]), kind))
        cover = []
        for line in sec.get("SECTION_COVER", []):
            f = line.split(",")
            cover.append(Cover(int(f[0]), f[1], int(f[2]), int(f[3]), int(f[4])))
    except (KeyError, IndexError, ValueError) as exc:
        raise HospOpsError(f"{path.name} is not a valid Curtois–Qu instance ({type(exc).__name__}: {exc}).",
                           "Expected sections SECTION_HORIZON, SECTION_SHIFTS, SECTION_STAFF, ...") from None
    return RosterProblem(days, tuple(shifts), tuple(employees), days_off, tuple(reqs), tuple(cover), name=path.stem)


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
    rows = list(csv.DictReader(io.StringIO(text)))
    if rows and not {"employee", "day", "shift"} <= set(rows[0]):
        raise HospOpsError(f"{path}: expected the columns employee,day,shift.")
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
