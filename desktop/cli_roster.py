"""`hospops roster` commands: solve (a workspace unit or a benchmark instance), validate, reroster.

    hospops roster solve WS --unit M5 --start 2026-11-23 --days 42 [--time-limit S] [--json] [--export F]
    hospops roster solve --instance Instance1.txt --format curtois [--time-limit S] [--json] [--export F.csv]
    hospops roster validate --instance Instance1.txt --solution F.csv --format curtois [--json]
    hospops roster solve --instance sprint01.txt --format inrc [--time-limit S] [--json] [--export F.csv]
    hospops roster reroster WS --unit M5 --start 2026-11-23 --days 42 --published F.csv --from-day 10
                            --absent N0295:10-13 [--json] [--export F]

``--export`` picks the format from the suffix: .csv (one row per person per day; for a benchmark instance
``employee,day,shift`` per worked shift), .xlsx, .pdf, or a folder ending in ``/`` or ``.ics`` for one
calendar file per person.
"""
from __future__ import annotations

import argparse
import json
import os
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


def _parse_lock(text: str):
    from datasets.errors import HospOpsError
    from optimization.rostering import Lock

    parts = text.split(":")
    if len(parts) != 3:
        raise HospOpsError(f"--lock {text!r}: expected EMPLOYEE:DAY:SHIFT (SHIFT 'off' for a day off).")
    try:
        day = int(parts[1])
    except ValueError:
        raise HospOpsError(f"--lock {text!r}: the day is a number from 0.") from None
    return Lock(parts[0], day, None if parts[2].lower() in ("off", "") else parts[2])


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
        return _read_instance(args.instance, args.format), True
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
        locks = [_parse_lock(t) for t in (args.lock or [])]
        rules = WardRules(charge_hard=bool(getattr(args, "charge_hard", False)))
        return problem_from_workspace(ws, unit, args.start, args.days, locks=locks, rules=rules), False


def _export_kind(target: str, benchmark: bool) -> str:
    """What ``--export TARGET`` writes (checked before solving, so a typo does not lose a long solve):
    'solution', 'csv', 'xlsx', 'pdf' or 'ics' (a folder of calendars: an existing folder, a name ending in
    / or .ics)."""
    from datasets.errors import HospOpsError

    p = Path(target)
    suffix = p.suffix.lower()
    if benchmark and suffix in ("", ".csv"):
        kind = "solution"
    elif suffix in (".csv", ".xlsx", ".pdf"):
        kind = suffix[1:]
    elif suffix == ".ics" or target.endswith(("/", "\\")) or p.is_dir():
        kind = "ics"
    else:
        raise HospOpsError(f"Cannot export to {target}: use .csv, .xlsx, .pdf, or .ics or a folder for calendars.")
    parent = p.parent
    if not parent.resolve().is_dir():
        raise HospOpsError(f"Cannot export to {target}: the folder {parent} does not exist.")
    return kind


def _export(problem, sol, target: str, benchmark: bool, timezone: str | None = None) -> str:
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
        folder = p.with_suffix("") if p.suffix.lower() == ".ics" else p
        to_ics(problem, sol, folder, timezone)
        return f"{folder}{os.sep} (one calendar per person)"
    return str(p)


def _audit_export(workspace: str, target: str, problem) -> None:
    """A roster export names staff: recorded in the workspace's audit log, as the app's exports are (the
    command line's were not). Where the workspace is open elsewhere for writing, said on stderr instead."""
    from datasets.errors import HospOpsError
    from desktop.cli import open_workspace

    try:
        with open_workspace(workspace) as ws:
            ws.audit("export roster", target, {"unit": problem.unit, "days": problem.days, "via": "command line"})
    except HospOpsError as exc:
        print(f"hospops: note: the export could not be recorded in the audit log: {str(exc).splitlines()[0]}",
              file=sys.stderr)


def _report(problem, sol, args, extra: dict | None = None, check=None) -> int:
    """Print (or write as JSON) a solve's outcome, validated here unless ``check`` is the validation already."""
    from optimization.rostering import validate

    if check is None and (sol.assignment or sol.status in ("OPTIMAL", "FEASIBLE", "CANCELLED")):
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
        "penalties": check.penalty_by_rule() if check else {},
        "staff": len(problem.employees),
        "days": problem.days,
    }
    if sol.conflicts:
        out["conflicts"] = list(sol.conflicts)
    from optimization.rostering import cover_shortfalls, cover_surplus, stopped_short_note

    out["shortfalls"] = cover_shortfalls(problem)
    surplus = cover_surplus(problem)
    if surplus and out["violations"].get("cover_over", 0):
        out["surplus"] = surplus
    note = stopped_short_note(sol.status, out["violations"].get("cover_under", 0), out["shortfalls"])
    found_none = sol.status == "UNKNOWN" and not sol.assignment
    if found_none:
        unsaved = ", so nothing was exported" if getattr(args, "export", None) else ""
        note = (f"No roster was found within {out['seconds']:g} s{unsaved}; give the search more time "
                "(--time-limit) or more workers (--workers).")
    if note:
        out["note"] = note
    if extra:
        out.update(extra)
    if getattr(args, "export", None) and sol.assignment:
        out["exported"] = _export(problem, sol, args.export, getattr(args, "_benchmark", False),
                                  getattr(args, "_timezone", None))
        if not getattr(args, "_benchmark", False):
            _audit_export(args.workspace, out["exported"], problem)
    if args.json:
        print(json.dumps(out))
    else:
        c = _cli()
        print(f"{problem.name}: {sol.status}" + (f", cost {c._fmt(out['objective'])} (bound {c._fmt(out['bound'])})"
                                                 if sol.objective is not None else "") + f" in {out['seconds']} s")
        for line in sol.conflicts:
            print(f"  conflict: {line}")
        for line in out["shortfalls"]:
            print(f"  short: {line}")
        if out.get("surplus"):
            print(f"  over: {out['surplus']}")
        if note and not found_none:  # (that one goes to stderr, below: once)
            print(f"  note: {note}")
        if check:
            print(f"Validator: cost {check.objective}, {check.hard_violations} hard violations")
            rows = [["rule", "count", "penalty"]] + [[k, str(v), str(out["penalties"].get(k, 0))]
                                                     for k, v in sorted(out["violations"].items())]
            if len(rows) > 1:
                print(c._table(rows))
        for line in (extra or {}).get("changes", [])[:50]:
            print(f"  change: {line}")
        if out.get("exported"):
            print(f"Exported to {out['exported']}")
    if found_none:
        print(note, file=sys.stderr)
    return 0 if sol.assignment or sol.status in ("OPTIMAL", "FEASIBLE") else 1


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
    from optimization.rostering import read_solution_csv, validate

    problem = _read_instance(args.instance, args.format)
    sol = read_solution_csv(args.solution)
    known = {e.id for e in problem.employees}
    strangers = sorted({e for e, _ in sol.assignment} - known)
    if strangers:
        from datasets.errors import HospOpsError

        more = f" and {len(strangers) - 3} more" if len(strangers) > 3 else ""
        raise HospOpsError(f"{args.solution} names staff who are not in {problem.name}: {', '.join(strangers[:3])}{more}.",
                           "Is it the roster of another instance?")
    check = validate(problem, sol)
    out = {"problem": problem.name, "objective": check.objective, "validated_objective": check.objective,
           "hard_violations": check.hard_violations, "feasible": check.feasible, "violations": check.by_rule(),
           "penalties": check.penalty_by_rule(),
           "hard": [v.text for v in check.violations if v.hard][:100]}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{problem.name}: cost {check.objective}, {check.hard_violations} hard violations")
        for t in out["hard"]:
            print(f"  {t}")
        rows = [["rule", "count", "penalty"]] + [[k, str(v), str(out["penalties"].get(k, 0))]
                                                 for k, v in sorted(out["violations"].items())]
        if len(rows) > 1:
            print(_cli()._table(rows))
    return 0 if check.feasible else 1


def _change_weight(args) -> int:
    from optimization.rostering.problem import DEFAULT_CHANGE_WEIGHT

    return DEFAULT_CHANGE_WEIGHT if args.change_weight is None else args.change_weight


def cmd_reroster(args: argparse.Namespace) -> int:
    from datasets.errors import HospOpsError
    from optimization.rostering import absent, from_csv, reroster
    from optimization.rostering.reroster import rerostering_problem

    problem, benchmark = _load_problem(args)
    args._benchmark = benchmark
    if args.export:
        _export_kind(args.export, benchmark)
    if not 0 <= args.from_day < problem.days:
        raise HospOpsError(f"--from-day {args.from_day} is not a day of this {problem.days}-day roster "
                           f"(0 to {problem.days - 1}).")
    published = from_csv(problem, args.published)
    for spec in args.absent or []:
        who, _, span = spec.partition(":")
        if who not in {e.id for e in problem.employees}:
            raise HospOpsError(f"--absent {spec!r}: {who} is not on this roster.")
        try:
            lo, _, hi = span.partition("-")
            days = range(int(lo), int(hi or lo) + 1) if span else range(args.from_day, problem.days)
        except ValueError:
            raise HospOpsError(f"--absent {spec!r}: expected EMPLOYEE[:FIRST-LAST] days from 0.") from None
        if not days or days.start < 0 or days.stop > problem.days:
            raise HospOpsError(f"--absent {spec!r}: the days must run forwards within the roster's 0 to "
                               f"{problem.days - 1}.")
        problem = absent(problem, who, [d for d in days if 0 <= d < problem.days])
    c = _cli()
    sol = reroster(problem, published, args.from_day, args.time_limit, change_weight=_change_weight(args),
                   hold_cover=not args.fill_old_gaps,
                   progress=c._progress_printer(c._show_progress(args)), num_workers=args.workers, seed=args.seed)
    p2 = rerostering_problem(problem, published, args.from_day, _change_weight(args), not args.fill_old_gaps)
    from optimization.rostering import validate

    # what a scheduler asks after a sickness call: which shifts from the change on are now short of what
    # the published roster had (with --fill-old-gaps: of what the ward asks); earlier days are as published
    check = validate(p2, sol)
    gaps = [v.text for v in check.violations if v.rule == "cover_under" and (v.day or 0) >= args.from_day]
    basis = "the ward's full cover" if args.fill_old_gaps else "the published roster's cover"
    extra = {"changes": list(sol.changes), "changed_cells": len(sol.changes), "short_from_change": gaps,
             "cover_basis": "full" if args.fill_old_gaps else "published"}
    code = _report(p2, sol, args, extra, check)
    if not args.json:
        when = f" ({problem.start + timedelta(days=args.from_day):%a %d %b})" if problem.start else ""
        print(f"From day {args.from_day}{when} on, against {basis}: {len(gaps)} shift(s) short"
              + ("" if args.fill_old_gaps else " (gaps the published roster already had are not counted; "
                 "--fill-old-gaps fills them too)"))
        for line in gaps[:20]:
            print(f"  now short: {line}")
    return code


def _common(p: argparse.ArgumentParser, workspace: bool = True) -> None:
    from desktop.cli import count_between, seconds

    if workspace:
        p.add_argument("workspace", nargs="?", help="workspace file (or use --instance)")
        p.add_argument("--start", type=_date, help="first day of the roster (YYYY-MM-DD)")
        p.add_argument("--days", type=count_between(1, 366), default=28, help="days to roster (default 28)")
        p.add_argument("--unit", help="unit to roster (default: the unit with most staff)")
        p.add_argument("--lock", action="append", metavar="EMP:DAY:SHIFT",
                       help="fix a cell by hand (SHIFT 'off' for a day off); repeatable")
        p.add_argument("--charge-hard", action="store_true",
                       help="a nurse in charge on every shift is a hard rule (default: heavily penalized)")
    p.add_argument("--instance", help="benchmark instance file")
    p.add_argument("--format", choices=["curtois", "inrc"], help="benchmark format (default curtois)")
    p.add_argument("--time-limit", type=seconds, default=30.0, help="seconds (default 30)")
    p.add_argument("--workers", type=count_between(1, 256), default=None, help="CP-SAT workers (default: all cores)")
    p.add_argument("--seed", type=count_between(0, 2**31 - 1), default=0)
    p.add_argument("--export", help="write the roster: .csv, .xlsx, .pdf, or a folder/.ics for calendars")
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

    v = rs.add_parser("validate", help="check a benchmark solution with the independent validator")
    v.add_argument("--instance", required=True)
    v.add_argument("--solution", required=True, help="CSV employee,day,shift")
    v.add_argument("--format", choices=["curtois", "inrc"], default="curtois")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_validate)

    rr = rs.add_parser("reroster", help="re-solve from a day, keeping a published roster where possible")
    _common(rr)
    rr.add_argument("--published", required=True, help="the published roster (CSV from roster solve --export)")
    rr.add_argument("--from-day", type=int, required=True, help="first day that may change (from 0)")
    rr.add_argument("--absent", action="append", metavar="EMP[:FIRST-LAST]",
                    help="someone off sick or on leave on those days (default: from --from-day on)")
    rr.add_argument("--fill-old-gaps", action="store_true",
                    help="also fill shortfalls the published roster had (default: restore its cover, no more)")
    rr.add_argument("--change-weight", type=int, default=None,
                    help="penalty per changed cell (default 40: only shortfalls are worth a change)")
    rr.set_defaults(func=cmd_reroster)
