"""`hospops beds` commands: the bed board, the 72-hour outlook, allocation with CP-SAT, the IHTC validator.

    hospops beds board WS --at T [--unit U] [--json]
    hospops beds outlook WS --at T [--hours 72] [--arrivals {history,forecast}] [--json]
    hospops beds solve {WS --at T | --instance FILE --format {ihtc,pas}} [--time-limit S] [--json]
                       [--solution-out FILE] [--include-next-hours H] [--weight NAME=VALUE ...] [--days N]
                       [--accept]
        (``hospops beds propose`` is the same command; ``--accept`` stores the proposal's placements)
    hospops beds placements WS [--at T] [--json]      # active accepted placements
    hospops beds cancel WS PLACEMENT_ID
    hospops beds validate --instance FILE --solution FILE --format {ihtc,pas} [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _cli():
    from desktop import cli  # the helpers live there; imported late to avoid an import cycle

    return cli


def _span_note(ws, at) -> None:
    """Refuse a time outside the workspace's data; warn (on stderr) after its last record."""
    from datasets.metrics.beds import check_in_span

    note = check_in_span(ws, at)
    if note:
        print(note, file=sys.stderr)


def _records(df) -> list[dict]:
    import pandas as pd

    out = []
    for rec in df.to_dict(orient="records"):
        row = {}
        for k, v in rec.items():
            if v is None or (not isinstance(v, (list, dict, str)) and pd.isna(v)):
                row[k] = None
            elif isinstance(v, pd.Timestamp):
                row[k] = v.isoformat()
            elif hasattr(v, "item"):
                row[k] = v.item()
            else:
                row[k] = v
        out.append(row)
    return out


# ------------------------------------------------------------------------------------------------ board
def cmd_board(args: argparse.Namespace) -> int:
    from datasets.metrics.beds import bed_board, board_summary, waiting_list, waiting_summary
    from desktop.cli import open_workspace

    c = _cli()
    with open_workspace(args.workspace, read_only=True) as ws:
        _span_note(ws, args.at)
        board = bed_board(ws, args.at)
        waiting = waiting_list(ws, args.at)
    if args.unit:
        board = board[board["unit_id"] == args.unit]
        if board.empty:
            from datasets.errors import HospOpsError

            raise HospOpsError(f"No beds in unit '{args.unit}'.")
    summary = board_summary(board)
    if args.json:
        print(json.dumps({"at": str(args.at), "units": _records(summary), "beds": _records(board),
                          "waiting": _records(waiting)}))
        return 0
    rows = [["unit", "beds", "occupied", "reserved", "free", "blocked", "cleaning", "expected out today"]]
    for r in summary.itertuples():
        rows.append([r.unit_id, str(r.beds), str(r.occupied), str(r.reserved), str(r.free), str(r.blocked),
                     str(r.cleaning), f"{r.expected_out_today:.0f}"])
    print(f"Bed board at {args.at}")
    print(c._table(rows))
    if args.unit:
        rows = [["bed", "state", "patient", "specialty", "sex", "age", "LOS h", "expected discharge"]]
        for r in board.itertuples():
            rows.append([r.bed_id, r.state, c._fmt(r.patient_id if isinstance(r.patient_id, str) else None),
                         c._fmt(r.specialty if isinstance(r.specialty, str) else None),
                         c._fmt(r.sex if isinstance(r.sex, str) else None),
                         "" if r.age is None or str(r.age) == "<NA>" else str(r.age),
                         "" if r.los_hours != r.los_hours else f"{r.los_hours:.0f}",
                         "" if str(r.expected_discharge) == "NaT" else str(r.expected_discharge)[:16]])
        print(c._table(rows))
    print(f"\n{waiting_summary(waiting)}")
    if len(waiting):
        rows = [["kind", "patient", "since", "wait h", "bed reserved", "acuity", "specialty", "sex", "age", "needs"]]
        for r in waiting.itertuples():
            needs = ",".join(k for k in ("isolation", "telemetry", "paediatric") if getattr(r, k))
            rows.append([r.kind, str(r.patient_id), str(r.since)[:16],
                         f"due {str(r.since)[11:16]}" if r.due_later else f"{r.wait_hours:.1f}",
                         r.reserved_bed if isinstance(r.reserved_bed, str) else "",
                         "" if str(r.acuity) == "<NA>" else str(r.acuity), str(r.specialty), str(r.sex),
                         "" if str(r.age) == "<NA>" else str(r.age), needs])
        print(c._table(rows))
    return 0


# ------------------------------------------------------------------------------------------------ outlook
def cmd_outlook(args: argparse.Namespace) -> int:
    from datasets.metrics.beds import outlook
    from desktop.cli import open_workspace

    c = _cli()
    with open_workspace(args.workspace, read_only=True) as ws:
        _span_note(ws, args.at)
        df = outlook(ws, args.at, hours=args.hours, progress=c._progress_printer(c._show_progress(args)),
                     arrivals=getattr(args, "arrivals", "history"))
    if args.json:
        print(json.dumps({"at": str(args.at), "hours": args.hours, "rows": _records(df)}))
        return 0
    print(f"Expected patients per unit after {args.at}, with the 80% band in brackets; '!' marks a figure over "
          "the unit's beds")
    marks = [h for h in (12, 24, 48, 72) if h <= args.hours] or [args.hours]
    rows = [["unit", "beds"] + [f"+{h}h" for h in marks]]
    over = False
    for uid, g in df.groupby("unit_id", sort=True):
        g = g.reset_index(drop=True)
        cap = g.loc[0, "capacity"]
        cells = []
        for h in marks:
            text, more = outlook_cell(g.loc[h - 1, "expected"], g.loc[h - 1, "lo80"], g.loc[h - 1, "hi80"], cap)
            over = over or more
            cells.append(text)
        rows.append([uid, _beds(cap)] + cells)
    print(c._table(rows))
    if over:
        print("More patients expected than beds: the demand for that unit, not a bed count; those beyond its beds "
              "would board elsewhere or wait (see beds propose).")
    return 0


def _beds(cap) -> str:
    return "" if cap is None or cap != cap else f"{cap:,.0f}"


def outlook_cell(expected: float, lo80: float, hi80: float, beds) -> tuple[str, bool]:
    """One cell of the outlook table: expected patients to one decimal, "!" when that figure is more than the
    unit's beds, and the 80% band. The mark follows the figure as printed: 28.04 against 28 beds read "28.0!",
    a unit over its beds at 28.0 of 28."""
    shown = round(float(expected), 1)
    more = bool(beds) and beds == beds and shown > float(beds)
    return f"{shown:.1f}{'!' if more else ''} [{lo80:.0f}-{hi80:.0f}]", more


# ------------------------------------------------------------------------------------------------ solve
def _weights(items: list[str] | None) -> dict | None:
    from datasets.errors import HospOpsError
    from optimization.beds.model import Weights

    if not items:
        return None
    out = {}
    names = set(Weights.__dataclass_fields__)
    for it in items:
        k, sep, v = it.partition("=")
        if not sep or k not in names:
            raise HospOpsError(f"--weight {it!r}: use NAME=VALUE with NAME one of {', '.join(sorted(names))}.")
        try:
            out[k] = int(v)
        except ValueError:
            raise HospOpsError(f"--weight {it!r}: the value must be a whole number.") from None
    return out


def cmd_solve(args: argparse.Namespace) -> int:
    from datasets.errors import HospOpsError

    if args.time_limit <= 0:
        raise HospOpsError("--time-limit must be more than 0 seconds.")
    if args.instance:
        if args.workspace:
            raise HospOpsError("Give either a workspace with --at, or --instance, not both.")
        if getattr(args, "accept", False):
            raise HospOpsError("--accept stores placements in a workspace; it does not apply to --instance.")
        if args.format == "ihtc":
            return _solve_ihtc(args)
        return _solve_pas(args)
    if not args.workspace or not args.at:
        raise HospOpsError("hospops beds solve needs a workspace and --at, or --instance FILE --format ihtc|pas.")
    return _solve_workspace(args)


def _solve_workspace(args: argparse.Namespace) -> int:
    from desktop.cli import open_workspace
    from optimization.beds import problem_from_workspace, solve, validate
    from optimization.beds.model import is_outlier, placement_note

    c = _cli()
    accept = getattr(args, "accept", False)
    with open_workspace(args.workspace, read_only=not accept) as ws:
        _span_note(ws, args.at)
        problem = problem_from_workspace(ws, args.at, weights=_weights(args.weight),
                                         include_next_hours=args.include_next_hours,
                                         planning_days=getattr(args, "days", 1) or 1)
        sol = solve(problem, args.time_limit, progress=c._progress_printer(c._show_progress(args)))
        v = validate(problem, sol)
        accepted: list[str] = []
        if accept:
            from datasets.errors import HospOpsError
            from optimization.beds import accept_placements, placements_from_solution

            if v.hard_violations:
                raise HospOpsError("The proposal breaks a hard rule; nothing was accepted.")
            pl = placements_from_solution(problem, sol)
            # only moves for now: a later day's bed may still be occupied, and the plan is redone before then
            accepted = accept_placements(ws, pl[pl["admission_day"] == 0], args.at,
                                         note="hospops beds solve --accept")
    beds = {b.bed_id: b for b in problem.beds}
    pmap = {p.patient_id: p for p in problem.patients}
    placements = []
    for pid, bid in sol.assignment.items():
        p = pmap[pid]
        if bid is None or bid == p.current_bed:
            continue
        # the solver's patient is a stay; the person is the workspace's patient pseudonym. Named for what they
        # hold ("patient" held the stay id and "person" the patient id; ARCHITECTURE.md lists neither key)
        placements.append({"stay_id": pid, "patient_id": p.person_id, "kind": p.kind, "bed": bid,
                           "unit": beds[bid].unit_id, "from_bed": p.current_bed, "specialty": p.specialty,
                           "admission_day": sol.admission_day.get(pid, 0),
                           "outlier": is_outlier(p, problem.unit(beds[bid].unit_id)),
                           "note": placement_note(problem, p, bid, sol.admission_day.get(pid, 0))})
    out = {
        "status": sol.status, "objective": sol.objective, "bound": sol.bound, "seconds": round(sol.seconds, 3),
        "validated_objective": v.objective, "hard_violations": v.hard_violations,
        "violations": {k: n for k, n in v.hard.items() if n}, "penalties": v.penalties,
        "waiting": sum(1 for p in problem.patients if p.current_bed is None),
        "placements": placements,
        "unplaced": [{"stay_id": k, "patient_id": pmap[k].person_id, "reason": r} for k, r in sol.unplaced.items()],
    }
    if accept:
        out["accepted"] = accepted
    if args.solution_out:
        Path(args.solution_out).write_text(json.dumps({"at": problem.at, "assignment": sol.assignment}, indent=1))
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{sol.status}: cost {c._fmt(sol.objective)} (bound {c._fmt(sol.bound)}), validator {v.objective}, "
          f"{v.hard_violations} hard violations, {sol.seconds:.1f} s")
    print(f"{out['waiting']} patient(s) without a bed to place (waiting now or due in the plan); "
          f"{len(placements)} placement(s) proposed")
    if any(v.penalties.values()):  # what the cost is made of, by rule (weights: --weight)
        print("cost by rule: " + ", ".join(f"{k} {c._fmt(n)}" for k, n in v.penalties.items() if n))
    if placements:
        rows = [["patient", "stay", "kind", "specialty", "to bed", "unit", "from"]
                + (["day"] if problem.days > 1 else []) + ["note"]]
        for pl in placements:
            rows.append([pl["patient_id"] or "", pl["stay_id"], pl["kind"], pl["specialty"], pl["bed"], pl["unit"],
                         pl["from_bed"] or ""] + ([f"+{pl['admission_day']}"] if problem.days > 1 else [])
                        + [pl["note"]])
        print(c._table(rows))
    if sol.unplaced:
        print("Not placed:")
        for k, r in sol.unplaced.items():
            print(f"  {pmap[k].person_id or k} (stay {k}): {r}")
    if accept:
        print(f"Accepted {len(accepted)} placement(s): {', '.join(accepted)}" if accepted
              else "Nothing to accept: the proposal moves nobody.")
    return 0


# ------------------------------------------------------------------------------------------------ placements
def cmd_placements(args: argparse.Namespace) -> int:
    from datetime import datetime

    from desktop.cli import open_workspace
    from optimization.beds import active_placements

    c = _cli()
    at = args.at or datetime.now().strftime("%Y-%m-%d %H:%M")
    with open_workspace(args.workspace, read_only=True) as ws:
        df = active_placements(ws, at)
    if args.json:
        print(json.dumps({"at": str(at), "placements": _records(df)}))
        return 0
    print(f"Active bed placements at {at}: {len(df)}")
    if len(df):
        rows = [["placement", "patient", "stay", "unit", "bed", "for board at", "accepted", "by"]]
        for r in df.itertuples():
            rows.append([r.placement_id, c._fmt(r.patient_id), c._fmt(r.stay_id), r.unit_id, r.bed_id,
                         str(r.as_of)[:16], str(r.accepted_at)[:16], c._fmt(r.os_user)])
        print(c._table(rows))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from desktop.cli import open_workspace
    from optimization.beds import cancel_placement

    with open_workspace(args.workspace) as ws:
        ids = cancel_placement(ws, args.placement_id)
    print(f"Placement {args.placement_id} cancelled.")
    for other in ids[1:]:
        print(f"Placement {other} cancelled with it: it was into the bed that placement's patient was to leave.")
    return 0


def _solve_ihtc(args: argparse.Namespace) -> int:
    from optimization.beds.ihtc import read_instance
    from optimization.beds.ihtc_solver import solve_ihtc

    c = _cli()
    inst = read_instance(args.instance)
    best = {"objective": None, "bound": None}

    def seen(obj, bnd, _t):
        best["objective"], best["bound"] = obj, bnd

    sol, rep, stats = solve_ihtc(inst, args.time_limit, progress=c._progress_printer(c._show_progress(args)),
                                 on_solution=seen)
    status = "FEASIBLE" if rep.feasible else "INFEASIBLE"
    if args.solution_out:
        Path(args.solution_out).write_text(json.dumps(sol.to_json(inst), indent=1))
    out = {"status": status, "objective": rep.cost, "bound": None, "seconds": round(stats["seconds"], 3),
           "validated_objective": rep.cost, "hard_violations": rep.hard_violations,
           "violations": {k: n for k, n in rep.hard.items() if n}, "costs": rep.soft,
           "unplaced": [{"patient": p.id, "reason": "optional patient postponed beyond the horizon (cheaper than "
                                                     "admitting under the instance's weights and capacities)"}
                        for p in inst.patients if sol.admission[p.id] is None],
           "stages": {k: v for k, v in stats.items() if k.startswith("stage")}}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"IHTC {inst.name}: {status}, cost {rep.cost:,} in {stats['seconds']:.1f} s")
    print("  " + ", ".join(f"{k} {v}" for k, v in rep.soft.items()))
    if args.solution_out:
        print(f"Solution written to {args.solution_out}")
    return 0


def _solve_pas(args: argparse.Namespace) -> int:
    from optimization.beds.pas import read_instance, solve

    c = _cli()
    inst = read_instance(args.instance)
    sol, rep, stats = solve(inst, args.time_limit, progress=c._progress_printer(c._show_progress(args)))
    if args.solution_out:
        Path(args.solution_out).write_text(sol.to_text())
    out = {"status": "FEASIBLE" if rep.feasible else "INFEASIBLE", "objective": rep.cost, "bound": None,
           "seconds": round(stats["seconds"], 3), "validated_objective": rep.cost,
           "hard_violations": rep.hard_violations, "violations": {k: n for k, n in rep.hard.items() if n},
           "costs": rep.components, "patients": len(inst.patients), "unplaced": stats["unplaced"]}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"PAS {inst.name}: {out['status']}, cost {rep.cost:,.1f} in {stats['seconds']:.1f} s "
          f"({len(inst.patients)} patients, {stats['unplaced']} unplaced)")
    print("  " + ", ".join(f"{k} {v:g}" for k, v in rep.components.items()))
    if args.solution_out:
        print(f"Solution written to {args.solution_out}")
    return 0


# ------------------------------------------------------------------------------------------------ validate
def cmd_validate(args: argparse.Namespace) -> int:
    from datasets.errors import HospOpsError
    from optimization.beds.ihtc import read_instance, read_solution, validate

    if args.format == "pas":
        return _validate_pas(args)
    inst = read_instance(args.instance)
    sol = read_solution(args.solution, inst)
    try:
        rep = validate(inst, sol)
    except (KeyError, IndexError, TypeError) as exc:
        raise HospOpsError(f"{args.solution} does not fit {args.instance}: {exc!r}.") from None
    out = {"cost": rep.cost, "costs": rep.soft, "hard_violations": rep.hard_violations,
           "violations": {k: n for k, n in rep.hard.items() if n}, "feasible": rep.feasible,
           "messages": rep.messages[:20]}
    if args.json:  # the exit status says it too, as roster validate's does (1: hard rules broken; 2 is for usage)
        print(json.dumps(out))
        return 0 if rep.feasible else 1
    print(f"{'Feasible' if rep.feasible else 'INFEASIBLE'}: cost {rep.cost:,}")
    print("  " + ", ".join(f"{k}: {v}" for k, v in rep.soft.items()))
    for msg in rep.messages[:20]:
        print(f"  hard: {msg}")
    return 0 if rep.feasible else 1


# ------------------------------------------------------------------------------------------------ parser
def register(sub: argparse._SubParsersAction) -> None:
    from desktop.cli import count_between

    b = sub.add_parser("beds", help="bed board, occupancy outlook and bed allocation")
    bs = b.add_subparsers(dest="beds_command", metavar="BEDS_COMMAND")
    b.set_defaults(func=lambda a: (b.print_help(file=sys.stderr), 2)[1])

    p = bs.add_parser("board", help="state of every bed and the waiting list at a time")
    p.add_argument("workspace")
    p.add_argument("--at", required=True, help="time, e.g. 2026-11-16T09:00")
    p.add_argument("--unit", help="show the beds of one unit")
    p.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    p.set_defaults(func=cmd_board)

    p = bs.add_parser("outlook", help="expected occupancy per unit for the next hours, with bands")
    p.add_argument("workspace", help="workspace file")
    p.add_argument("--at", required=True, help="time the outlook starts from, e.g. 2026-11-16T09:00")
    p.add_argument("--hours", type=int, default=72, help="hours ahead (default 72)")
    p.add_argument("--arrivals", choices=("history", "forecast"), default="history",
                   help="expected arrivals: recent weeks' hourly rates (default) or the admissions forecast")
    p.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    p.set_defaults(func=cmd_outlook)

    p = bs.add_parser("solve", aliases=["propose"],
                      help="propose beds for waiting patients (or solve an IHTC instance)")
    p.add_argument("workspace", nargs="?")
    p.add_argument("--at")
    p.add_argument("--instance", help="benchmark instance file")
    p.add_argument("--format", choices=("ihtc", "pas"), default="ihtc")
    p.add_argument("--time-limit", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument("--include-next-hours", type=int, default=0,
                   help="replay: also place those who will wait within these hours (uses later data)")
    p.add_argument("--weight", action="append", metavar="NAME=VALUE", help="change a penalty weight")
    p.add_argument("--days", type=count_between(1, 28), default=1,
                   help="workspace: plan this many days (electives choose their admission day within a window)")
    p.add_argument("--solution-out", help="write the solution (IHTC: the competition's JSON)")
    p.add_argument("--accept", action="store_true",
                   help="workspace: store the proposed placements as accepted (the beds show as reserved)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    p.set_defaults(func=cmd_solve)

    p = bs.add_parser("placements", help="accepted bed placements still to happen")
    p.add_argument("workspace")
    p.add_argument("--at", help="board time (default now)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    p.set_defaults(func=cmd_placements)

    p = bs.add_parser("cancel", help="cancel an accepted bed placement")
    p.add_argument("workspace")
    p.add_argument("placement_id")
    p.set_defaults(func=cmd_cancel)

    p = bs.add_parser("validate", help="check a benchmark solution with the independent validator")
    p.add_argument("--instance", required=True)
    p.add_argument("--solution", required=True)
    p.add_argument("--format", choices=("ihtc", "pas"), default="ihtc")
    p.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    p.set_defaults(func=cmd_validate)


def _validate_pas(args: argparse.Namespace) -> int:
    from optimization.beds.pas import read_instance, read_solution, validate

    inst = read_instance(args.instance)
    rep = validate(inst, read_solution(args.solution, inst))
    out = {"cost": rep.cost, "costs": rep.components, "hard_violations": rep.hard_violations,
           "violations": {k: n for k, n in rep.hard.items() if n}, "feasible": rep.feasible,
           "messages": rep.messages[:20]}
    if args.json:  # the exit status says it too, as roster validate's does (1: hard rules broken; 2 is for usage)
        print(json.dumps(out))
        return 0 if rep.feasible else 1
    print(f"{'Feasible' if rep.feasible else 'INFEASIBLE'}: cost {rep.cost:,.1f}")
    print("  " + ", ".join(f"{k}: {v:g}" for k, v in rep.components.items()))
    for msg in rep.messages[:20]:
        print(f"  hard: {msg}")
    return 0 if rep.feasible else 1
