"""The demo hospital's wards: a 6-week roster with forecast-driven cover, against the plain cell model.

    python benchmarks/roster_demo.py [--units M3,M7,S4,MAT] [--days 42] [--time-limit 60] [--quick] [--json]

Issue 8's demo goal: "a 6-week roster for a 30-nurse ward with forecast-driven cover in under 60 s, with zero
hard violations". The demo hospital is built (365 days, seed 7: staff, leave and requests, and the census the
cover is derived from), and each ward of about 30 staff gets a roster for the 42 days from the Monday after
its last day, ``optimization.rostering.problem_from_workspace`` as ``hospops roster solve`` builds it (cover:
the expected census per weekday and shift over the last 28 days, divided by the staffing ratios). For each:
``solve`` (2 workers) for the time limit, and the baseline measured in the same run, the plain CP-SAT cell
model (one boolean per person, day and shift, every rule posted, no column generation, no LNS; the same
workers and time). Per ward: ``first_s`` (seconds to the first roster), ``objective``, ``bound``, ``hard``
(hard rules broken, by the independent validator), ``validated`` (the validator's cost equals the solver's),
``baseline_objective`` and ``ratio`` (ours / baseline, lower is better). ``--quick``: M3, 14 days, 10 s.
"""
from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import base_parser, finish, log, rounded, scratch_dir  # type: ignore
else:
    from ._common import base_parser, finish, log, rounded, scratch_dir

NAME = "roster_demo"


def run_one(problem, limit: float, workers: int, **kw) -> dict[str, Any]:
    from optimization.rostering import solve, validate

    first: list[float] = []
    t0 = time.perf_counter()
    sol = solve(problem, limit, num_workers=workers, on_solution=lambda o, b, t: first or first.append(t), **kw)
    seconds = time.perf_counter() - t0
    check = validate(problem, sol) if sol.assignment else None
    return {**quality(problem, sol.assignment), "objective": None if sol.objective is None else int(sol.objective),
            "bound": None if sol.bound is None else int(sol.bound), "status": sol.status,
            "first_s": rounded(first[0], 2) if first else None, "seconds": rounded(seconds, 2),
            "hard": check.hard_violations if check else None,
            "validated": bool(check and check.objective == sol.objective)}


def quality(problem, assignment: dict) -> dict[str, Any]:
    """What a scheduler looks at, whatever the objective prices: ``short`` (people missing against cover, over
    every role's row), ``extra_by_shift`` ({shift: people above the roles' cover, summed over days}),
    ``nights_range`` (fewest and most nights of the people who worked any) and ``under_contract_h`` (mean
    hours below the contract over the horizon, as ``validate.hours_table`` compares them)."""
    from optimization.rostering.construct import rostered_per_cover
    from optimization.rostering.validate import hours_table

    if not assignment:
        return {}
    short, extra = 0, {s.id: 0 for s in problem.shifts}
    for c, n in zip(problem.cover, rostered_per_cover(problem, assignment)):
        short += max(0, c.requirement - n)
        if c.skill and c.skill != "charge":
            extra[c.shift] += max(0, n - c.requirement)
    hours = hours_table(problem, assignment)
    worked = [int(n) for n in hours["nights"] if n]
    under = (-hours["difference_h"]).clip(lower=0).mean()
    return {"short": short, "extra_by_shift": extra, "nights_range": [min(worked), max(worked)] if worked else None,
            "under_contract_h": rounded(float(under), 1)}


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--units", default=None, help="wards to roster (default M3,M7,S4,MAT: 31 staff each; quick M3)")
    p.add_argument("--days", type=int, default=None, help="roster length (default 42; quick 14)")
    p.add_argument("--time-limit", type=float, default=None, help="seconds per solve (default 60; quick 10)")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    units = (args.units or ("M3" if args.quick else "M3,M7,S4,MAT")).split(",")
    days = args.days or (14 if args.quick else 42)
    limit = args.time_limit or (10.0 if args.quick else 60.0)

    from datasets.store import Workspace
    from datasets.synthetic import build_demo
    from optimization.rostering import problem_from_workspace

    rows = []
    with scratch_dir(args.data_dir, "roster_demo_") as d:
        ws_path = d / "demo.hospops"
        build_demo(ws_path, days=365, seed=7)
        with Workspace.open(ws_path, read_only=True) as ws:
            end = ws.sql("SELECT max(arrival_ts) FROM ed_visits")[0][0].date()
            start = end + timedelta(days=7 - end.weekday())  # the Monday after the last day
            problems = {u: problem_from_workspace(ws, u, start, days) for u in units}
    for unit, problem in problems.items():
        ours = run_one(problem, limit, args.workers)
        base = run_one(problem, limit, args.workers, lns=False, colgen=False)
        ratio = (ours["objective"] / base["objective"]
                 if ours["objective"] is not None and base["objective"] else None)
        row = {"unit": unit, "staff": len(problem.employees), "days": days, "start": str(start), **ours,
               "baseline_objective": base["objective"], "baseline_first_s": base["first_s"],
               "baseline_hard": base["hard"],
               "baseline_quality": {k: base.get(k) for k in ("short", "extra_by_shift", "nights_range",
                                                             "under_contract_h")},
               "ratio": rounded(ratio, 3) if ratio is not None else None}
        log(f"{unit} ({row['staff']} staff, {days} days): {ours['objective']} (bound {ours['bound']}, first roster "
            f"at {ours['first_s']} s, hard {ours['hard']}) against the cell model's {base['objective']}; short "
            f"{ours.get('short')}, extra {ours.get('extra_by_shift')}, nights {ours.get('nights_range')}")
        rows.append(row)
    return finish(NAME, args, {"time_limit": limit, "workers": args.workers, "rows": rows})


if __name__ == "__main__":
    main()
