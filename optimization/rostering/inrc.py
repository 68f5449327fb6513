"""Reader for the First International Nurse Rostering Competition (INRC-I, 2010) text format.

Mapped onto :class:`RosterProblem` as the competition scores it (the INRC-I evaluator's counting):

* cover: exactly the demanded number of nurses per day and shift (hard: ``hard_min = hard_max``);
* one shift a day (hard, as in every roster);
* contracts: each active rule with a weight becomes a priced rule in ``Employee.soft`` (shifts over the
  period, working days / days off / worked weekends in a row, complete weekends, identical weekend shifts),
  with the contract's weekend definition in ``Employee.weekend_days``;
* unwanted patterns: :class:`Pattern` for the people whose contract names them;
* day-off / day-on / shift-off / shift-on requests: weighted :class:`Request`;
* alternative skill: when active, each shift worked without the shift's skill costs its weight (posted as
  shift-off requests on every day); when inactive, as in the evaluator, it costs nothing.

Not scored by the competition evaluator and therefore not mapped: ``MaxWorkingWeekendsInFourWeeks``,
``NoNightShiftBeforeFreeWeekend`` (withdrawn from the INRC-I data) and ``TwoFreeDaysAfterNightShifts``; 
:func:`unscored_rules` lists which of them an instance switches on.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from datasets.errors import HospOpsError

from .problem import Cover, Employee, Pattern, Request, RosterProblem, ShiftType, read_text

WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
WEEKENDS = {
    "saturdaysunday": (5, 6), "fridaysaturdaysunday": (4, 5, 6), "saturdaysundaymonday": (5, 6, 0),
    "fridaysaturdaysundaymonday": (4, 5, 6, 0),
}
#: contract fields in file order (after id and description), with the rule they map to (None: not scored)
CONTRACT_FIELDS = (
    ("single_assignment", None), ("max_assignments", "max_assignments"), ("min_assignments", "min_assignments"),
    ("max_consecutive_work", "max_consecutive_work"), ("min_consecutive_work", "min_consecutive_work"),
    ("max_consecutive_off", "max_consecutive_off"), ("min_consecutive_off", "min_consecutive_off"),
    ("max_consecutive_weekends", "max_consecutive_weekends"),
    ("min_consecutive_weekends", "min_consecutive_weekends"), ("max_weekends_in_four_weeks", None),
)
FLAG_FIELDS = ("complete_weekends", "identical_weekend_shifts", "no_night_before_free_weekend",
               "two_free_days_after_night", "alternative_skill")
_HEADER = re.compile(r"^([A-Z_]+)\s*(?:=\s*)?(\d+)?\s*;?$")


#: the sections an instance cannot do without, each with some lines
REQUIRED = ("SCHEDULING_PERIOD", "SHIFT_TYPES", "CONTRACTS", "EMPLOYEES", "DAY_OF_WEEK_COVER")
#: the sections every competition file has, each stating its number of lines (0 included): a file cut just
#: before its requests had been solved without them
ALL_SECTIONS = ("SKILLS", "SHIFT_TYPES", "CONTRACTS", "PATTERNS", "EMPLOYEES", "DAY_OF_WEEK_COVER",
                "DATE_SPECIFIC_COVER", "DAY_OFF_REQUESTS", "DAY_ON_REQUESTS", "SHIFT_OFF_REQUESTS", "SHIFT_ON_REQUESTS")


def _sections(text: str, declared: dict | None = None) -> dict[str, list[str]]:
    """Each section's lines; ``declared`` (when given) gets each section's stated number of lines
    (``SHIFT_TYPES = 4;``) with the file line of its header."""
    out: dict[str, list[str]] = {}
    cur = None
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        m = _HEADER.match(line)
        if m and m.group(1).isupper() and "," not in line:
            cur = m.group(1)
            out[cur] = []
            if declared is not None and m.group(2) is not None:
                declared[cur] = (int(m.group(2)), no)
            continue
        if cur is None:
            raise HospOpsError(f"line {no}: data before the first section, so this does not look like an INRC-I "
                               "instance.")
        out[cur].append(line.rstrip(";").strip())
    return out


def _check_sections(sec: dict, declared: dict, name: str) -> None:
    """A file cut short is refused, not solved as a smaller problem: every required section present, and each
    section holding the number of lines its header states."""
    missing = [s for s in REQUIRED if not sec.get(s)]
    if missing:
        raise HospOpsError(f"{name} is not a valid INRC-I instance: no {' or '.join(missing)} (or nothing in it).",
                           "A file cut short? An instance has the sections " + ", ".join(REQUIRED) + ".")
    missing = [s for s in ALL_SECTIONS if s not in sec]
    uncounted = [s for s in ALL_SECTIONS if s in sec and s not in declared]
    if missing or uncounted:
        what = ([f"no {', '.join(missing)} section"] if missing else []) + (
            [f"{', '.join(uncounted)} without its number of lines"] if uncounted else [])
        raise HospOpsError(f"{name} is not a valid INRC-I instance: {'; '.join(what)}.",
                           "A file cut short? Every INRC-I instance has the sections " + ", ".join(ALL_SECTIONS)
                           + ", each headed with its number of lines (NAME = N;).")
    for s, (n, no) in declared.items():
        if len(sec.get(s, [])) != n:
            raise HospOpsError(f"{name} is not a valid INRC-I instance: {s} (line {no}) states {n} lines but holds "
                               f"{len(sec.get(s, []))}.", "A file cut short, or lines added by hand?")


def _triple(tok: str) -> tuple[int, ...]:
    inner = tok.strip().strip("()")
    return tuple(int(v) for v in inner.split("|"))


def read_inrc(path: str | Path) -> RosterProblem:
    path = Path(path)
    text = read_text(path, "instance", "rostering instance")
    declared: dict = {}
    try:
        sec = _sections(text, declared)
    except HospOpsError as exc:
        raise HospOpsError(f"{path.name} is not a valid INRC-I instance: {exc.message}") from None
    _check_sections(sec, declared, path.name)
    at: list = ["SCHEDULING_PERIOD", sec["SCHEDULING_PERIOD"][0]]  # the section and line being read, for errors
    try:
        name, first, last = [t.strip() for t in sec["SCHEDULING_PERIOD"][0].split(",")]
        start, end = date.fromisoformat(first), date.fromisoformat(last)
        days = (end - start).days + 1
        shift_skill: dict[str, str] = {}
        shifts = []
        for line in sec["SHIFT_TYPES"]:
            at[:] = ["SHIFT_TYPES", line]
            f = [t.strip() for t in line.split(",")]
            sid, desc, t0, t1 = f[0], f[1], f[2], f[3]
            h0, m0 = (int(v) for v in t0.split(":")[:2])
            h1, m1 = (int(v) for v in t1.split(":")[:2])
            minutes = ((h1 * 60 + m1) - (h0 * 60 + m0)) % (24 * 60) or 24 * 60
            skills = f[5].split() if len(f) > 5 else []
            if skills:
                shift_skill[sid] = skills[0]
            # a night shift crosses midnight (the evaluator's definition)
            shifts.append(ShiftType(sid, minutes, (), desc, h0 * 60 + m0, is_night=h1 * 60 + m1 < h0 * 60 + m0))
        contracts: dict[str, dict] = {}
        for line in sec["CONTRACTS"]:
            at[:] = ["CONTRACTS", line]
            tokens = re.findall(r"\([^)]*\)|[^,]+", line)
            tokens = [t.strip() for t in tokens if t.strip()]
            cid = tokens[0]
            vals = tokens[2:]
            soft: dict[str, tuple[int, int]] = {}
            for (fname, rule), tok in zip(CONTRACT_FIELDS, vals[:10]):
                t = _triple(tok)
                on, weight = t[0], t[1]
                value = t[2] if len(t) > 2 else 0
                if on and rule and weight > 0:
                    soft[rule] = (value, weight)
            weekend = WEEKENDS[vals[10].strip().lower()]
            flags = dict(zip(FLAG_FIELDS, (_triple(t) for t in vals[11:16])))
            for fname in ("complete_weekends", "identical_weekend_shifts"):
                on, weight = flags[fname][:2]
                if on and weight > 0:
                    soft[fname] = (1, weight)
            alt = flags["alternative_skill"]
            patterns = vals[17].split() if len(vals) > 17 else []
            contracts[cid] = {"soft": soft, "weekend": weekend, "alt": alt[1] if alt[0] else 0,
                              "patterns": patterns}
        employees, emp_contract, emp_skills = [], {}, {}
        for line in sec["EMPLOYEES"]:
            at[:] = ["EMPLOYEES", line]
            f = [t.strip() for t in line.split(",")]
            eid, ename, cid = f[0], f[1], f[2]
            skills = frozenset(f[4].split()) if len(f) > 4 else frozenset()
            c = contracts[cid]
            employees.append(Employee(eid, skills=skills, name=f"Nurse {ename}" if ename == eid else ename,
                                      role=cid, soft=c["soft"], weekend_days=c["weekend"]))
            emp_contract[eid], emp_skills[eid] = cid, skills
        cover = []
        sids = {s.id for s in shifts}
        for line in sec.get("DAY_OF_WEEK_COVER", []):
            at[:] = ["DAY_OF_WEEK_COVER", line]
            dname, sid, n = [t.strip() for t in line.split(",")]
            wd, n = WEEKDAYS[dname.lower()], int(n)
            for d in range(days):
                if (start.weekday() + d) % 7 == wd:
                    cover.append(Cover(d, sid, n, 0, 0, hard_min=n, hard_max=n))
        dated = {}
        for line in sec.get("DATE_SPECIFIC_COVER", []):
            at[:] = ["DATE_SPECIFIC_COVER", line]
            dt, sid, n = [t.strip() for t in line.split(",")]
            dated[((date.fromisoformat(dt) - start).days, sid)] = int(n)
        if dated:
            cover = [c for c in cover if (c.day, c.shift) not in dated]
            cover += [Cover(d, s, n, 0, 0, hard_min=n, hard_max=n) for (d, s), n in sorted(dated.items())]
        # shifts with no cover at all on a day take nobody (the competition assigns only demanded shifts)
        covered = {(c.day, c.shift) for c in cover}
        cover += [Cover(d, s, 0, 0, 0, hard_max=0) for d in range(days) for s in sorted(sids) if (d, s) not in covered]

        def day_of(dt: str) -> int:
            return (date.fromisoformat(dt.strip()) - start).days

        reqs = []
        for key, kind, with_shift in (("DAY_OFF_REQUESTS", "off", False), ("DAY_ON_REQUESTS", "on", False),
                                      ("SHIFT_OFF_REQUESTS", "off", True), ("SHIFT_ON_REQUESTS", "on", True)):
            for line in sec.get(key, []):
                at[:] = [key, line]
                f = [t.strip() for t in line.split(",")]
                d = day_of(f[1])
                if 0 <= d < days and int(f[-1]) > 0:
                    reqs.append(Request(f[0], d, f[2] if with_shift else None, int(f[-1]), kind))
        for eid, cid in emp_contract.items():
            w = contracts[cid]["alt"]
            if w > 0:
                for sid, skill in shift_skill.items():
                    if skill not in emp_skills[eid]:
                        reqs += [Request(eid, d, sid, w, "off", rule="alternative_skill") for d in range(days)]
        patterns = []
        for line in sec.get("PATTERNS", []):
            at[:] = ["PATTERNS", line]
            head, _, rest = line.partition("(")
            pid, weight, _n = [t.strip() for t in head.split(",")]
            entries, start_wd = [], None
            for i, (sh, dy) in enumerate(re.findall(r"\(([^|)]*)\|([^)]*)\)", "(" + rest)):
                sh, dy = sh.strip(), dy.strip()
                entries.append({"any": Pattern.ANY, "none": Pattern.OFF}.get(sh.lower(), sh))
                if i == 0 and dy.lower() != "any":
                    start_wd = WEEKDAYS[dy.lower()]
            who = frozenset(e for e, c in emp_contract.items() if pid in contracts[c]["patterns"])
            patterns.append(Pattern(pid, int(weight), tuple(entries), who, start_wd))
    except (KeyError, IndexError, ValueError) as exc:
        what = {KeyError: f"{exc} is not defined in the file",
                IndexError: "a field is missing"}.get(type(exc), str(exc))
        raise HospOpsError(f"{path.name} is not a valid INRC-I instance: cannot read {at[0]} line {at[1]!r} "
                           f"({what}).") from None
    return RosterProblem(days, tuple(shifts), tuple(employees), {}, tuple(reqs), tuple(cover), start=start,
                         name=name or path.stem, patterns=tuple(patterns))


def unscored_rules(path: str | Path) -> list[str]:
    """Contract rules an instance switches on that the competition does not score (so the reader ignores)."""
    sec = _sections(read_text(path, "instance", "rostering instance"))
    out = set()
    for line in sec.get("CONTRACTS", []):
        tokens = [t.strip() for t in re.findall(r"\([^)]*\)|[^,]+", line) if t.strip()]
        vals = tokens[2:]
        t = _triple(vals[9])
        if t[0] and t[1] > 0:
            out.add("max_weekends_in_four_weeks")
        for fname, tok in zip(FLAG_FIELDS, vals[11:16]):
            t = _triple(tok)
            if fname in ("no_night_before_free_weekend", "two_free_days_after_night") and t[0] and t[1] > 0:
                out.add(fname)
    return sorted(out)
