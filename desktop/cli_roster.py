"""`hospops roster` commands: solve (a workspace unit or a benchmark instance), validate, reroster.

    hospops roster solve WS --unit M5 --start 2026-11-23 --days 42 [--time-limit S] [--json] [--export F]
    hospops roster solve --instance Instance1.txt --format curtois [--time-limit S] [--json] [--export F.csv]
    hospops roster validate --instance Instance1.txt --solution F.csv --format curtois [--json]
    hospops roster solve --instance sprint01.txt --format inrc [--time-limit S] [--json] [--export F.csv]
    hospops roster reroster WS --unit M5 --start 2026-11-23 --days 42 --published F.csv --from-day 2026-12-03
                            --absent N0295:2026-12-03..2026-12-06 [--json] [--export F]

A day is a day number from 0 or a date (YYYY-MM-DD) within the roster; a span of days is FIRST..LAST (days
or dates), or A-B of day numbers. ``--export`` picks the format from the suffix: .csv (one row per person per
day; for a benchmark instance ``employee,day,shift`` per worked shift), .xlsx, .pdf, or a folder (one that
exists, or a name ending in ``/``) for one .ics calendar file per person.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import sys
from datetime import date, timedelta
from pathlib import Path


def _cli():
    from desktop import cli  # helpers live there; imported late to avoid an import cycle

    return cli


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _num(x):
    if x is None:
        return None
    return int(x) if float(x).is_integer() else round(float(x), 3)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_LISTED = 20  # short shifts listed in the text output; --json lists them all


def _long_date(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b %Y}"


def _day_index(text: str, start: date | None, days: int, what: str) -> int:
    """A day of the roster from a day number (0 = its first day) or an ISO date, refused in words when it
    falls outside the roster: a coordinator thinks in dates, the solver in day numbers."""
    from datasets.errors import HospOpsError

    text = text.strip()
    span = ""
    if start is not None:
        span = f"{_long_date(start)} to {_long_date(start + timedelta(days=days - 1))}"
    if _ISO_DATE.fullmatch(text):
        try:
            when = date.fromisoformat(text)
        except ValueError:
            raise HospOpsError(f"{what}: {text} is not a date.") from None
        if start is None:
            raise HospOpsError(f"{what}: this roster has no calendar dates (a benchmark instance); give a day "
                               f"number from 0 to {days - 1}.")
        d = (when - start).days
        if not 0 <= d < days:
            raise HospOpsError(f"{what}: {_long_date(when)} is outside this roster ({span}).")
        return d
    try:
        d = int(text)
    except ValueError:
        raise HospOpsError(f"{what}: {text!r} is neither a day number (from 0) nor a date (YYYY-MM-DD).") from None
    if not 0 <= d < days:
        raise HospOpsError(f"{what}: day {d} is not a day of this {days}-day roster (0 to {days - 1}"
                           + (f": {span}" if span else "") + ").")
    return d


def _who(problem, emp_id: str) -> str:
    """A person as messages name them: "Name (ID)" (the ID alone where there is no name)."""
    e = next((e for e in problem.employees if e.id == emp_id), None)
    return f"{e.name} ({e.id})" if e is not None and e.name and e.name != e.id else emp_id


def _with_ids(problem, text: str) -> str:
    """``text`` with each person it names, by ID or by name, as "Name (ID)": the solver's lock messages name
    staff by ID and the others by name, and a coordinator needs both (two people may share a name)."""
    known = {}
    names = [e.name for e in problem.employees if e.name and e.name != e.id]
    for e in problem.employees:
        if e.name and e.name != e.id:
            known[e.id] = e
            if names.count(e.name) == 1:  # a shared name cannot say which of them is meant
                known[e.name] = e
    if not known:
        return text
    alternatives = "|".join(re.escape(k) for k in sorted(known, key=len, reverse=True))
    # not inside a word, not an ID already in brackets, not a name already followed by its ID
    pattern = re.compile(rf"(?<![\w(])({alternatives})(?![\w)])(?! \()")
    return pattern.sub(lambda m: f"{known[m.group(1)].name} ({known[m.group(1)].id})", text)


def _parse_lock(text: str, start: date | None, days: int):
    """``EMPLOYEE:DAY:SHIFT`` with DAY a day number or a date; the employee and shift are checked against the
    problem by :func:`_apply_locks`."""
    from datasets.errors import HospOpsError
    from optimization.rostering import Lock

    parts = text.split(":")
    if len(parts) != 3 or not parts[0]:
        raise HospOpsError(f"--lock {text!r}: expected EMPLOYEE:DAY:SHIFT, DAY a day number from 0 or a date "
                           "(YYYY-MM-DD), SHIFT 'off' for a day off.")
    day = _day_index(parts[1], start, days, f"--lock {text}")
    return Lock(parts[0], day, None if parts[2].lower() in ("off", "") else parts[2])


def _apply_locks(problem, texts: list[str], start: date | None):
    """``problem`` with the ``--lock`` cells, refused in words before any solving: an unknown person or shift,
    and two different locks of one person on one day (the solver would only report one of them, by ID)."""
    from datasets.errors import HospOpsError

    ids = {e.id for e in problem.employees}
    shifts = [s.id for s in problem.shifts]
    seen: dict[tuple[str, int], tuple[str, object]] = {}
    locks = []
    for text in texts:
        lk = _parse_lock(text, start, problem.days)
        if lk.employee not in ids:
            raise HospOpsError(f"--lock {text}: {lk.employee} is not on this roster ({problem.name}).")
        if lk.shift is not None and lk.shift not in shifts:
            same = [s for s in shifts if s.lower() == lk.shift.lower()]
            left_out = {k.lower(): why for k, why in problem.left_out.items()}
            if len(same) != 1 and lk.shift.lower() in left_out:  # (a long day: why it is not rostered)
                raise HospOpsError(f"--lock {text}: {left_out[lk.shift.lower()]}")
            if len(same) != 1:
                raise HospOpsError(f"--lock {text}: this roster has no shift {lk.shift} (its shifts: "
                                   f"{', '.join(shifts)}, or 'off').")
            lk = dataclasses.replace(lk, shift=same[0])
        key = (lk.employee, lk.day)
        if key in seen:
            first, earlier = seen[key]
            if earlier.shift == lk.shift:
                continue  # the same lock twice says nothing new
            raise HospOpsError(
                f"--lock {first} and --lock {text} both lock {_who(problem, lk.employee)} on "
                f"{problem.day_label(lk.day)}: to {earlier.shift or 'a day off'} and to {lk.shift or 'a day off'}. "
                "Give one lock per person and day.")
        seen[key] = (text, lk)
        locks.append(lk)
    return dataclasses.replace(problem, locks=tuple(problem.locks) + tuple(locks))


def _read_instance(path: str, fmt: str | None):
    """A benchmark instance: Curtois–Qu (default) or INRC-I (``--format inrc``)."""
    from optimization.rostering import read_curtois, read_inrc

    return read_inrc(path) if fmt == "inrc" else read_curtois(path)


def _load_problem(args):
    """The problem from a workspace unit or a benchmark instance (exactly one of them)."""
    from datasets.errors import HospOpsError

    if getattr(args, "instance", None):
        if getattr(args, "workspace", None):
            raise HospOpsError("Give a workspace or --instance, not both.")
        if getattr(args, "ratio", None) or getattr(args, "cover", None):
            raise HospOpsError("--ratio and --cover set a workspace unit's cover; an instance has its own.")
        problem = _read_instance(args.instance, args.format)
        if args.format == "inrc":  # rules the file switches on that the competition (so the reader) leaves out
            from optimization.rostering.inrc import unscored_rules

            args._unscored = unscored_rules(args.instance)
        return problem, True
    if not getattr(args, "workspace", None):
        raise HospOpsError("Give a workspace (with --start and --days) or --instance FILE --format curtois|inrc.")
    if args.start is None:
        raise HospOpsError("--start DATE is needed to roster a workspace unit.")
    from desktop.cli import open_workspace
    from optimization.rostering import WardRules, problem_from_workspace

    with open_workspace(args.workspace, read_only=True) as ws:
        args._timezone = ws.timezone  # calendar exports carry the ward's time zone
        unit = args.unit
        if not unit:
            row = ws.sql("SELECT unit_id FROM staff GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
            if not row:
                raise HospOpsError("The workspace has no staff to roster.")
            unit = row[0][0]
        rules = WardRules(charge_hard=bool(getattr(args, "charge_hard", False)))
        ratios, needs = _cover_source(args)
        problem = problem_from_workspace(ws, unit, args.start, args.days, rules=rules, ratios=ratios, needs=needs)
    # the problem only stores its locks, so they are added (and checked, with names) once it is built
    return _apply_locks(problem, args.lock or [], args.start), False


def _unscored_note(rules) -> str:
    return (f"  note: not scored, as the competition's evaluator does not score them: {', '.join(rules)} (switched on "
            "in the file's contracts)")


def _cover_source(args):
    """``(ratios, needs)`` from ``--ratio`` (over the default ratios) or ``--cover FILE`` (not both)."""
    from datasets.errors import HospOpsError
    from optimization.rostering.workspace import DEFAULT_RATIOS, parse_ratio, read_cover_csv

    given = getattr(args, "ratio", None) or []
    typed = getattr(args, "cover", None)
    if given and typed:
        raise HospOpsError("Give --ratio (cover from the census) or --cover (cover typed in), not both.")
    if typed:
        needs = read_cover_csv(typed, args.start, args.days)
        # a day the file leaves out needs nobody: said, for a date typed wrong (2025 for 2026) or a file cut short
        asked = {day for day, _ in needs}
        bare = [d for d in range(args.days) if d not in asked]
        if bare:
            from datetime import timedelta

            named = ", ".join(f"{args.start + timedelta(days=d):%a %d %b}" for d in bare[:5])
            more = f" and {len(bare) - 5} more" if len(bare) > 5 else ""
            print(f"note: {typed} has no row for {len(bare)} of the roster's {args.days} days ({named}{more}): no one "
                  "is asked for on them.", file=sys.stderr)
        return None, needs
    if not given:
        return None, None
    ratios = {k: dict(v) for k, v in DEFAULT_RATIOS.items()}
    for text in given:
        role, figures = parse_ratio(text)
        ratios[role] = figures
    return ratios, None


def _export_kind(target: str, benchmark: bool) -> str:
    """What ``--export TARGET`` writes (checked before solving, so a typo does not lose a long solve):
    'solution', 'csv', 'xlsx', 'pdf' or 'ics' (a folder of calendars, one per person: an existing folder or
    a name ending in /)."""
    from datasets.errors import HospOpsError

    p = Path(target)
    suffix = p.suffix.lower()
    is_folder = target.endswith(("/", "\\")) or p.is_dir()
    if benchmark and suffix in ("", ".csv") and not is_folder:
        kind = "solution"
    elif suffix in (".csv", ".xlsx", ".pdf") and not is_folder:
        kind = suffix[1:]
    elif is_folder:
        if benchmark:
            raise HospOpsError(f"Cannot export to {target}: calendars need a dated roster, and a benchmark "
                               "instance has day numbers only; use .csv.")
        kind = "ics"
    elif suffix == ".ics":
        # one file was asked for, and a roster's calendars are one file per person: a folder named x/ in
        # place of the x.ics the user looks for is a surprise, so it is asked for by name
        raise HospOpsError(f"Cannot export to {target}: calendars are written one .ics file per person, into a "
                           f"folder. Give a folder, e.g. --export {p.with_suffix('')}{os.sep}")
    else:
        raise HospOpsError(f"Cannot export to {target}: use .csv, .xlsx, .pdf, or a folder (ending in {os.sep}) "
                           "for one .ics calendar per person.")
    parent = p.parent
    if not parent.resolve().is_dir():
        raise HospOpsError(f"Cannot export to {target}: the folder {parent} does not exist.")
    return kind


def _export(problem, sol, target: str, benchmark: bool, timezone: str | None = None) -> tuple[str, str]:
    """Write the export; returns where it went, and that in words for "Exported ..."."""
    from optimization.rostering import to_csv, to_ics, to_pdf, to_xlsx, write_solution_csv

    p = Path(target)
    kind = _export_kind(target, benchmark)
    if kind == "solution":
        write_solution_csv(sol, p)
    elif kind == "csv":
        to_csv(problem, sol, p)
    elif kind == "xlsx":
        to_xlsx(problem, sol, p)
    elif kind == "pdf":
        to_pdf(problem, sol, p)
    else:
        # after a re-roster, the shifts it took away are sent as cancellations, or they stay in people's phones
        files = to_ics(problem, sol, p, timezone, published=problem.published)
        return f"{p}{os.sep}", f"one calendar per person ({len(files)} .ics files) in folder {p}{os.sep}"
    return str(p), f"to {p}"


def _audit_export(workspace: str, target: str, problem) -> None:
    """A roster export names staff: recorded in the workspace's audit log, as the app's exports are (the
    command line's were not)."""
    from desktop.cli import audit_cli

    audit_cli(workspace, "export roster", target, {"unit": problem.unit, "days": problem.days})


def _has_roster(sol) -> bool:
    """Whether the solve handed back a roster (an empty one can be optimal: a ward that needs nobody)."""
    return bool(sol.assignment) or sol.status in ("OPTIMAL", "FEASIBLE")


def _short_shifts(problem, sol) -> list[dict]:
    """Each shift the roster staffs below what its cover asks, as the validator's ``cover_under`` counts it:
    day, ISO date (None for a benchmark instance), shift, skill (None: all staff), rostered, needed."""
    from optimization.rostering.construct import rostered_per_cover

    order = {s.id: i for i, s in enumerate(problem.shifts)}
    out = []
    for c, n in zip(problem.cover, rostered_per_cover(problem, sol.assignment)):
        if n < c.requirement and c.under_weight:
            when = problem.date_of(c.day)
            out.append({"day": c.day, "date": when.isoformat() if when else None, "shift": c.shift,
                        "skill": c.skill, "rostered": n, "needed": c.requirement})
    return sorted(out, key=lambda r: (r["day"], order.get(r["shift"], 0), r["skill"] or ""))


def _print_short(problem, rows: list[dict], c) -> None:
    """At most MAX_LISTED short shifts as a table, then how many more (the JSON has them all)."""
    table = [["date", "shift", "skill", "rostered", "needed"]]
    table += [[problem.day_label(r["day"]), r["shift"], r["skill"] or "all staff", str(r["rostered"]),
               str(r["needed"])] for r in rows[:MAX_LISTED]]
    for line in c._table(table).splitlines():
        print(f"  {line}")
    if len(rows) > MAX_LISTED:
        print(f"  and {len(rows) - MAX_LISTED} more (--json lists them all)")


def _hours(problem, sol) -> list[dict]:
    """Contracted against rostered hours per person (:func:`hours_table`), as JSON rows; [] where the problem
    has no contracts (a benchmark instance)."""
    from optimization.rostering.validate import hours_table

    if not any(e.contract_minutes is not None for e in problem.employees):
        return []
    t = hours_table(problem, sol)
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v.item() if hasattr(v, "item") else v)
             for k, v in row.items()} for row in t.to_dict("records")]


#: hours off the contract worth naming in the text report (half a shift), and how many people a table lists
HOURS_WORTH_NAMING = 4.0
HOURS_LISTED = 10


def _print_hours(rows: list[dict], c) -> None:
    """One line on hours and nights over the whole ward, then the people whose hours are off their contract by
    :data:`HOURS_WORTH_NAMING` or more (everybody's are in ``--json`` ``hours``)."""
    known = [r for r in rows if r["difference_h"] is not None]
    nights = [r["nights"] for r in rows if r["nights"]]
    line = f"Hours: {sum(r['rostered_h'] for r in rows):,.0f} h rostered"
    if known:
        line += f" against {sum(r['contracted_h'] for r in known):,.0f} h contracted (leave credited)"
    if nights:
        line += f"; nights from {min(nights)} to {max(nights)} a person among the {len(nights)} who work them"
    print(line)
    off = sorted((r for r in known if abs(r["difference_h"]) >= HOURS_WORTH_NAMING), key=lambda r: r["difference_h"])
    under = [r for r in off if r["difference_h"] < 0]
    if len(off) > HOURS_LISTED:  # most of the ward: one line says it better than a long table
        why = (": each person above cover costs, so the roster keeps people near the least their contract allows"
               if 2 * len(under) >= len(off) else "")
        print(f"  {len(under)} of {len(rows)} people are {HOURS_WORTH_NAMING:g} h or more under their contracted hours "
              f"(at most {-min((r['difference_h'] for r in under), default=0):g} h), {len(off) - len(under)} as much "
              f"over{why} (--json: hours per person).")
    elif off:
        table = [["person", "contracted h", "rostered h", "difference", "shifts", "nights"]]
        table += [[f"{r['name']} ({r['employee']})" if r["name"] != r["employee"] else r["employee"],
                   f"{r['contracted_h']:g}", f"{r['rostered_h']:g}", f"{r['difference_h']:+g}", str(r["shifts"]),
                   str(r["nights"])] for r in off]
        print(f"Off their contract by {HOURS_WORTH_NAMING:g} h or more ({len(off)}; the rest within it):")
        print(c._table(table))


def _report(problem, sol, args, extra: dict | None = None, check=None, short_from: int = 0,
            short_heading: str | None = None) -> int:
    """Print (or write as JSON) a solve's outcome, validated here unless ``check`` is the validation already.

    The text lists the short shifts from day ``short_from`` on under ``short_heading`` ("{n}" is their count;
    default: a heading only when there are any). Where there is no roster (infeasible, or none found in time)
    it says why and nothing about an empty roster's rules or cover; the exit is then 1."""
    from optimization.rostering import validate

    has_roster = _has_roster(sol)
    if check is None and has_roster:
        check = validate(problem, sol)
    out = {
        "problem": problem.name,
        "status": sol.status,
        "objective": _num(sol.objective),
        "bound": _num(sol.bound),
        "seconds": round(sol.seconds, 3),
        "validated_objective": check.objective if check else None,
        "hard_violations": check.hard_violations if check else None,
        "violations": check.by_rule() if check else {},
        # which of those counts are hard rules (the rest are priced): "violations" holds both
        "hard_rules": sorted({v.rule for v in check.violations if v.hard}) if check else [],
        "penalties": check.penalty_by_rule() if check else {},
        "staff": len(problem.employees),
        "days": problem.days,
    }
    conflicts = [_with_ids(problem, line) for line in sol.conflicts]
    if conflicts:
        out["conflicts"] = conflicts
    from optimization.rostering import cover_shortfalls, cover_surplus, stopped_short_note

    out["shortfalls"] = cover_shortfalls(problem)
    out["short_shifts"] = _short_shifts(problem, sol) if has_roster else []
    surplus = cover_surplus(problem)
    if surplus and out["violations"].get("cover_over", 0):
        out["surplus"] = surplus
    from optimization.rostering.explain import weekend_tight

    if any(problem.weekday(r["day"]) >= 5 for r in out["short_shifts"]):
        # short weekend shifts where the weekend rule leaves little room: that, not hours, is what binds
        out["weekends"] = weekend_tight(problem)
    hours = _hours(problem, sol) if has_roster else []
    if hours:
        out["hours"] = hours
    note = stopped_short_note(sol.status, out["violations"].get("cover_under", 0), out["shortfalls"])
    found_none = sol.status == "UNKNOWN" and not sol.assignment
    if found_none:
        unsaved = ", so nothing was exported" if getattr(args, "export", None) else ""
        note = (f"No roster was found within {out['seconds']:g} s{unsaved}; give the search more time "
                "(--time-limit) or more workers (--workers).")
    if note:
        out["note"] = note
    unscored = getattr(args, "_unscored", None)
    if unscored:
        out["unscored_rules"] = unscored
    if extra:
        out.update(extra)
    said = None
    if getattr(args, "export", None) and sol.assignment:
        out["exported"], said = _export(problem, sol, args.export, getattr(args, "_benchmark", False),
                                        getattr(args, "_timezone", None))
        if not getattr(args, "_benchmark", False):
            _audit_export(args.workspace, out["exported"], problem)
    if args.json:
        print(json.dumps(out))
    else:
        c = _cli()
        print(f"{problem.name}: {sol.status}" + (f", cost {c._fmt(out['objective'])} (bound {c._fmt(out['bound'])})"
                                                 if sol.objective is not None else "") + f" in {out['seconds']} s")
        for line in conflicts:
            print(f"  conflict: {line}")
        if sol.status != "INFEASIBLE":  # the conflict is the whole story: no roster to be short
            for line in out["shortfalls"]:
                print(f"  short: {line}")
        if out.get("surplus"):
            print(f"  over: {out['surplus']}")
        for line in out.get("weekends", []):
            print(f"  weekends: {line}")
        if note and not found_none:  # (that one goes to stderr, below: once)
            print(f"  note: {note}")
        if unscored:
            print(_unscored_note(unscored))
        if check:
            print(f"Validator: cost {check.objective}, {check.hard_violations} hard violations")
            rows = [["rule", "count", "penalty"]] + [[k, str(v), str(out["penalties"].get(k, 0))]
                                                     for k, v in sorted(out["violations"].items())]
            if len(rows) > 1:
                print(c._table(rows))
        if hours:
            _print_hours(hours, c)
        if has_roster:
            short = [r for r in out["short_shifts"] if r["day"] >= short_from]
            if short_heading is not None or short:
                heading = short_heading or "Short shifts ({n}), rostered below what cover asks:"
                print(heading.replace("{n}", str(len(short))))
                if short:
                    _print_short(problem, short, c)
        for line in (extra or {}).get("changes", [])[:50]:
            print(f"  change: {line}")
        if said:
            print(f"Exported {said}")
        elif getattr(args, "export", None) and not found_none and not sol.assignment:
            print(f"Nothing was exported to {args.export}: there is no roster.")
    if found_none:
        print(note, file=sys.stderr)
    return 0 if has_roster else 1


def cmd_solve(args: argparse.Namespace) -> int:
    from optimization.rostering import solve

    problem, benchmark = _load_problem(args)
    args._benchmark = benchmark
    if args.export:
        _export_kind(args.export, benchmark)
    c = _cli()
    sol = solve(problem, args.time_limit, progress=c._progress_printer(c._show_progress(args)),
                num_workers=args.workers, seed=args.seed)
    return _report(problem, sol, args)


def cmd_validate(args: argparse.Namespace) -> int:
    """A benchmark solution (``--instance``), or a workspace unit's roster as ``roster solve --export`` writes it
    and a scheduler may have edited it in Excel (``WS --unit --start --days --solution FILE.csv``)."""
    from optimization.rostering import from_csv, read_solution_csv, validate

    problem, benchmark = _load_problem(args)
    sol = read_solution_csv(args.solution) if benchmark else from_csv(problem, args.solution)
    known = {e.id for e in problem.employees}
    strangers = sorted({e for e, _ in sol.assignment} - known)
    if strangers:
        from datasets.errors import HospOpsError

        more = f" and {len(strangers) - 3} more" if len(strangers) > 3 else ""
        raise HospOpsError(f"{args.solution} names staff who are not in {problem.name}: "
                           f"{', '.join(strangers[:3])}{more}.", "Is it the roster of another instance?")
    check = validate(problem, sol)
    out = {"problem": problem.name, "objective": check.objective, "validated_objective": check.objective,
           "hard_violations": check.hard_violations, "feasible": check.feasible, "violations": check.by_rule(),
           "hard_rules": sorted({v.rule for v in check.violations if v.hard}),
           "penalties": check.penalty_by_rule(),
           "hard": [v.text for v in check.violations if v.hard][:100]}
    unscored = getattr(args, "_unscored", None)
    if unscored:
        out["unscored_rules"] = unscored
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{problem.name}: cost {check.objective}, {check.hard_violations} hard violations")
        if unscored:
            print(_unscored_note(unscored))
        for t in out["hard"]:
            print(f"  {t if benchmark else _with_ids(problem, t)}")
        rows = [["rule", "count", "penalty"]] + [[k, str(v), str(out["penalties"].get(k, 0))]
                                                 for k, v in sorted(out["violations"].items())]
        if len(rows) > 1:
            print(_cli()._table(rows))
    return 0 if check.feasible else 1


def _change_weight(args) -> int:
    from optimization.rostering.problem import DEFAULT_CHANGE_WEIGHT

    return DEFAULT_CHANGE_WEIGHT if args.change_weight is None else args.change_weight


def _absent_days(spec: str, problem, from_day: int, from_text: str) -> tuple[str, range]:
    """``EMPLOYEE[:DAYS]`` of ``--absent``: the person and the days, each a day number or a date; a span is
    FIRST..LAST, or A-B of day numbers (a date has dashes of its own). Refused when it starts before the
    from-day: those days stay as published, and taking their shifts away would go unlisted and uncounted."""
    from datasets.errors import HospOpsError

    what = f"--absent {spec}"
    who, _, span = spec.partition(":")
    if who not in {e.id for e in problem.employees}:
        raise HospOpsError(f"{what}: {who} is not on this roster ({problem.name}).")
    if not span:
        return who, range(from_day, problem.days)
    if ".." in span:
        lo, _, hi = span.partition("..")
    elif _ISO_DATE.fullmatch(span.strip()):
        lo = hi = span
    elif span.count("-") == 1:
        lo, _, hi = span.partition("-")
    elif span.count("-") > 1:
        pair = re.fullmatch(r"(\d{4}-\d{2}-\d{2})-(\d{4}-\d{2}-\d{2})", span.strip())
        example = f"{pair[1]}..{pair[2]}" if pair else "2026-12-07..2026-12-10"
        raise HospOpsError(f"{what}: write a span of dates as FIRST..LAST, e.g. {who}:{example}.")
    else:
        lo = hi = span
    if not lo.strip() or not hi.strip():
        raise HospOpsError(f"{what}: expected EMPLOYEE[:DAYS], DAYS a day or date, or FIRST..LAST of days or dates.")
    first = _day_index(lo, problem.start, problem.days, what)
    last = _day_index(hi, problem.start, problem.days, what)
    if last < first:
        raise HospOpsError(f"{what}: the days must run forwards ({problem.day_label(first)} is after "
                           f"{problem.day_label(last)}).")
    if first < from_day:
        dated = problem.start is not None and (_ISO_DATE.fullmatch(lo.strip()) or _ISO_DATE.fullmatch(from_text))
        day = (lambda d: problem.date_of(d).isoformat()) if dated else str
        rest = (f"start the absence at the from-day (--absent {who}:{day(from_day)}..{day(last)}) or "
                if last >= from_day else "")
        raise HospOpsError(
            f"{what}: {_who(problem, who)} is absent from {problem.day_label(first)}, before --from-day "
            f"{from_text} ({problem.day_label(from_day)}). The days before --from-day stay as published, so "
            f"their shifts cannot be taken away there.",
            f"To change them, {rest}re-roster from the absence's first day (--from-day {day(first)}).")
    return who, range(first, last + 1)


def cmd_reroster(args: argparse.Namespace) -> int:
    from optimization.rostering import absent, reroster
    from optimization.rostering.reroster import rerostering_problem

    problem, benchmark = _load_problem(args)
    args._benchmark = benchmark
    if args.export:
        _export_kind(args.export, benchmark)
    from_day = _day_index(args.from_day, problem.start, problem.days, "--from-day")
    from optimization.rostering.export import read_roster_csv

    published, kept = read_roster_csv(problem, args.published)
    for spec in args.absent or []:
        who, days = _absent_days(spec, problem, from_day, args.from_day)
        problem = absent(problem, who, days)
    # the cells the published roster's file marks as locked by hand stay so, unless a --lock says otherwise or
    # an absence now takes that person away
    mine = {(lk.employee, lk.day) for lk in problem.locks}
    kept = tuple(lk for lk in kept if (lk.employee, lk.day) not in mine
                 and not (lk.shift and lk.day in problem.days_off.get(lk.employee, ())))
    if kept:
        problem = dataclasses.replace(problem, locks=tuple(problem.locks) + kept)
    c = _cli()
    sol = reroster(problem, published, from_day, args.time_limit, change_weight=_change_weight(args),
                   hold_cover=not args.fill_old_gaps,
                   progress=c._progress_printer(c._show_progress(args)), num_workers=args.workers, seed=args.seed)
    p2 = rerostering_problem(problem, published, from_day, _change_weight(args), not args.fill_old_gaps)
    from optimization.rostering import validate

    # what a scheduler asks after a sickness call: which shifts from the change on are now short of what
    # the published roster had (with --fill-old-gaps: of what the ward asks); earlier days are as published.
    # Without a roster (infeasible) there is nothing to count: an empty roster's gaps would bury the conflict.
    check = validate(p2, sol) if _has_roster(sol) else None
    gaps = [v.text for v in check.violations if v.rule == "cover_under" and (v.day or 0) >= from_day] if check else []
    basis = "the ward's full cover" if args.fill_old_gaps else "the published roster's cover"
    extra = {"changes": list(sol.changes), "changed_cells": len(sol.changes) if check else None,
             "short_from_change": gaps, "cover_basis": "full" if args.fill_old_gaps else "published",
             "from_day": from_day, "locks_kept": len(kept)}
    when = f" ({problem.day_label(from_day)})" if problem.start else ""
    if kept and not args.json:
        print(f"Kept {len(kept)} cell(s) locked by hand in {args.published} (its 'locked' column).")
    heading = (f"From day {from_day}{when} on, against {basis}: {{n}} shift(s) short"
               + ("" if args.fill_old_gaps else " (gaps the published roster already had are not counted; "
                  "--fill-old-gaps fills them too)"))
    return _report(p2, sol, args, extra, check, short_from=from_day, short_heading=heading)


def _cover_args(p: argparse.ArgumentParser) -> None:
    """Where a workspace roster's cover comes from: the unit's census and staffing ratios, or a file."""
    p.add_argument("--ratio", action="append", metavar="ROLE:DAY/NIGHT",
                   help="patients per person of a role by day and by night, e.g. RN:6/8 (default RN:8/10, "
                        "HCA:12/15); cover is the unit's expected census on each shift divided by it; repeatable")
    p.add_argument("--cover", metavar="FILE.csv",
                   help="cover typed in instead: rows date,shift,need and an optional skill (empty: anyone; else a "
                        "role such as RN or a skill such as charge)")


def _common(p: argparse.ArgumentParser, workspace: bool = True) -> None:
    from desktop.cli import count_between, seconds

    if workspace:
        p.add_argument("workspace", nargs="?", help="workspace file (or use --instance)")
        p.add_argument("--start", type=_date, help="first day of the roster (YYYY-MM-DD)")
        p.add_argument("--days", type=count_between(1, 366), default=28, help="days to roster (default 28)")
        p.add_argument("--unit", help="unit to roster (default: the unit with most staff)")
        p.add_argument("--lock", action="append", metavar="EMP:DAY:SHIFT",
                       help="fix a cell by hand: DAY a day number from 0 or a date (YYYY-MM-DD), SHIFT 'off' for "
                            "a day off; repeatable, one per person and day")
        p.add_argument("--charge-hard", action="store_true",
                       help="a nurse in charge on every shift is a hard rule (default: heavily penalized)")
        _cover_args(p)
    p.add_argument("--instance", help="benchmark instance file")
    p.add_argument("--format", choices=["curtois", "inrc"], help="benchmark format (default curtois)")
    p.add_argument("--time-limit", type=seconds, default=30.0, help="seconds (default 30)")
    p.add_argument("--workers", type=count_between(1, 256), default=None, help="CP-SAT workers (default: all cores)")
    p.add_argument("--seed", type=count_between(0, 2**31 - 1), default=0)
    p.add_argument("--export", metavar="FILE|FOLDER/",
                   help="write the roster to a .csv, .xlsx or .pdf file, or to a folder (one that exists, or a "
                        "name ending in /) as one .ics calendar per person")
    p.add_argument("--json", action="store_true")


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("roster", help="staff rosters with CP-SAT: solve, validate, reroster")
    rs = r.add_subparsers(dest="roster_command", metavar="ACTION")

    def usage(args: argparse.Namespace) -> int:
        r.print_help(sys.stderr)
        return 2

    r.set_defaults(func=usage)

    s = rs.add_parser("solve", help="roster a workspace unit or a benchmark instance")
    _common(s)
    s.set_defaults(func=cmd_solve)

    v = rs.add_parser("validate", help="check a roster with the independent validator: a workspace unit's (as "
                                       "exported, perhaps edited by hand) or a benchmark solution")
    v.add_argument("workspace", nargs="?", help="workspace file (or use --instance)")
    v.add_argument("--start", type=_date, help="first day of the roster (YYYY-MM-DD), with a workspace")
    v.add_argument("--days", type=_cli().count_between(1, 366), default=28, help="days of the roster (default 28)")
    v.add_argument("--unit", help="unit of the roster (default: the unit with most staff)")
    v.add_argument("--lock", action="append", metavar="EMP:DAY:SHIFT", help="cells fixed by hand, as for solve")
    v.add_argument("--charge-hard", action="store_true", help="as for solve")
    _cover_args(v)
    v.add_argument("--instance", help="benchmark instance file")
    v.add_argument("--solution", required=True,
                   help="the roster: a workspace roster's CSV (roster solve --export), or a benchmark's employee,"
                        "day,shift")
    v.add_argument("--format", choices=["curtois", "inrc"], default="curtois")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_validate)

    rr = rs.add_parser("reroster", help="re-solve from a day, keeping a published roster where possible")
    _common(rr)
    rr.add_argument("--published", required=True, help="the published roster (CSV from roster solve --export)")
    rr.add_argument("--from-day", required=True, metavar="DAY|DATE",
                    help="first day that may change: a day number from 0 or a date (YYYY-MM-DD); earlier days "
                         "stay as published")
    rr.add_argument("--absent", action="append", metavar="EMP[:DAYS]",
                    help="someone off sick or on leave: DAYS is a day or date, or FIRST..LAST of days or dates "
                         "(A-B for day numbers), not before --from-day (default: from --from-day on); repeatable")
    rr.add_argument("--fill-old-gaps", action="store_true",
                    help="also fill shortfalls the published roster had (default: restore its cover, no more)")
    rr.add_argument("--change-weight", type=int, default=None,
                    help="penalty per changed cell (default 40: only shortfalls are worth a change)")
    rr.set_defaults(func=cmd_reroster)
