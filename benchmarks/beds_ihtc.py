"""IHTC-2024: cost of the CP-SAT decomposition and local search on the public instances, against the best known.

    python benchmarks/beds_ihtc.py [--instances i01-i05|none] [--time-limit S] [--workers N] [--quick] [--json]
                                   [--demo WS [--demo-at T] [--demo-next-hours H]]

For each instance: ``cost`` (as recomputed by the independent validator, ``optimization.beds.ihtc``),
``best_known`` (the competition's current upper bound, anchors SOURCE.md), ``gap`` = (cost - best) / best,
``validated`` (the validator finds no hard violation), ``seconds`` (wall time of the solve),
``decomposition_cost`` (the best plan of the CP-SAT rounds, before the local search) and ``search_moves``. ``--quick``
solves i01 only with 10 s unless told otherwise. Results go to ``benchmarks/results/beds_ihtc[.quick].json``.
``--demo WS`` also times the demo hospital's busy morning (key ``busy_morning``): the allocation problem at
``--demo-at`` (default Monday 2026-11-16 08:00) with the decisions to admit and electives of the next
``--demo-next-hours`` (default 8) as waiting, solved with a 10 s limit; wall time of building the problem from
the workspace plus the solve (imports excluded), the number waiting and beds, hard violations by the
independent validator. ``--instances none`` skips IHTC.
The anchors live outside the repository (``../shared/anchors/bed_allocation/ihtc2024``); set
``HOSPOPS_IHTC_DIR`` to point elsewhere.
"""
from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import base_parser, finish, log, rounded  # type: ignore
else:
    from ._common import base_parser, finish, log, rounded

NAME = "beds_ihtc"
ROOT = Path(__file__).resolve().parents[1]
IHTC_DIR = Path(os.environ.get("HOSPOPS_IHTC_DIR", ROOT.parent / "shared" / "anchors" / "bed_allocation" / "ihtc2024"))

# current upper bounds (ihtp page), from anchors/bed_allocation/SOURCE.md
BEST_KNOWN = {
    "i01": 3842, "i02": 1264, "i03": 10490, "i04": 1884, "i05": 12760, "i06": 10671, "i07": 4985, "i08": 6249,
    "i09": 6611, "i10": 20705, "i11": 25938, "i12": 12375, "i13": 17328, "i14": 9591, "i15": 12486,
    "i16": 10139, "i17": 40535, "i18": 37660, "i19": 43857, "i20": 29098, "i21": 24526, "i22": 47861,
    "i23": 37550, "i24": 33221, "i25": 11517, "i26": 64352, "i27": 50976, "i28": 75172, "i29": 12199,
    "i30": 37387,
}


def parse_instances(spec: str) -> list[str]:
    out: list[str] = []
    for part in spec.split(","):
        part = part.strip()
        m = re.fullmatch(r"i?(\d+)\s*-\s*i?(\d+)", part)
        if m:
            out += [f"i{k:02d}" for k in range(int(m.group(1)), int(m.group(2)) + 1)]
        elif re.fullmatch(r"i?\d+", part):
            out.append(f"i{int(part.lstrip('i')):02d}")
        elif part.lower() == "none":
            continue
        elif part:
            raise SystemExit(f"bad instance list: {spec!r} (use e.g. i01-i05 or i01,i03)")
    return out


def solved_row(name: str, best: Optional[float], run) -> tuple[dict[str, Any], Any, dict]:
    """Time ``run()`` (returning solution, validator report, stats) for one instance: the table row (cost, gap,
    validated, seconds; a failure is recorded as ``error`` and the run goes on), the report and the stats.
    ``beds_pas`` uses it too."""
    t0 = time.perf_counter()
    try:
        _, rep, stats = run()
        cost, ok, err = rep.cost, rep.feasible, None
    except Exception as exc:  # record the failure, go on with the other instances
        cost, ok, err, rep, stats = None, False, str(exc), None, {}
    row = {"instance": name, "cost": cost, "best_known": best,
           "gap": rounded((cost - best) / best) if (cost is not None and best) else None,
           "validated": bool(ok), "seconds": rounded(time.perf_counter() - t0, 2)}
    if err:
        row["error"] = err
    return row, rep, stats


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--instances", default=None, help="e.g. i01-i05 (default i01-i05; quick: i01)")
    p.add_argument("--time-limit", type=float, default=None, help="seconds per instance (default 60; quick 10)")
    p.add_argument("--workers", type=int, default=2, help="CP-SAT workers (default 2)")
    p.add_argument("--ihtc-dir", type=Path, default=IHTC_DIR)
    p.add_argument("--demo", type=Path, default=None, help="demo workspace: also time the busy-morning proposal")
    p.add_argument("--demo-at", default="2026-11-16 08:00")
    p.add_argument("--demo-next-hours", type=int, default=8)
    args = p.parse_args(argv)
    names = parse_instances(args.instances or ("i01" if args.quick else "i01-i05"))
    limit = args.time_limit or (10.0 if args.quick else 60.0)

    from optimization.beds.ihtc import read_instance
    from optimization.beds.ihtc_solver import solve_ihtc

    rows = []
    for name in names:
        path = args.ihtc_dir / "public_i01_i30" / f"{name}.json"
        if not path.exists():
            raise SystemExit(f"{path} not found (set HOSPOPS_IHTC_DIR or --ihtc-dir)")
        inst = read_instance(path)
        log(f"{name}: {len(inst.patients)} patients, {len(inst.rooms)} rooms, {len(inst.nurses)} nurses, "
            f"{inst.days} days; limit {limit:g} s")
        row, rep, stats = solved_row(name, BEST_KNOWN.get(name),
                                     lambda: solve_ihtc(inst, limit, workers=args.workers))
        if rep is not None:
            row["soft"] = rep.soft
            row["hard_violations"] = rep.hard_violations
            row["decomposition_cost"] = min((r["cost"] for r in stats["rounds"] if r["feasible"]), default=None)
            if "search" in stats:
                row["search_moves"] = stats["search"]["moves"]
        log(f"  cost {row['cost']} best {row['best_known']} gap {row['gap']} validated {row['validated']} "
            f"in {row['seconds']} s")
        rows.append(row)
    gaps = [r["gap"] for r in rows if r["gap"] is not None]
    result = {"rows": rows, "time_limit_s": limit, "workers": args.workers,
              "mean_gap": rounded(sum(gaps) / len(gaps)) if gaps else None,
              "feasible": sum(1 for r in rows if r["validated"]), "instances": len(rows)}
    if args.demo:
        result["busy_morning"] = busy_morning(args.demo, args.demo_at, args.demo_next_hours, args.workers)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return finish(NAME, args, result)


def busy_morning(path: Path, at: str, next_hours: int, workers: int = 2) -> dict[str, Any]:
    """Wall time of a proposal on the demo hospital: problem from the workspace, then the CP-SAT solve."""
    from datasets.store import Workspace
    from optimization.beds import problem_from_workspace, solve, validate

    t0 = time.perf_counter()
    with Workspace.open(path, read_only=True) as ws:
        problem = problem_from_workspace(ws, at, include_next_hours=next_hours)
    t1 = time.perf_counter()
    sol = solve(problem, 10.0, workers=workers)
    t2 = time.perf_counter()
    v = validate(problem, sol)
    out = {"at": at, "next_hours": next_hours, "waiting": sum(1 for p in problem.patients if p.current_bed is None),
           "movable": sum(1 for p in problem.patients if p.current_bed is not None), "beds": len(problem.beds),
           "status": sol.status, "objective": sol.objective, "bound": sol.bound,
           "hard_violations": v.hard_violations, "validated_objective": v.objective,
           "problem_s": rounded(t1 - t0, 3), "model_build_s": sol.stats.get("build_s"),
           "solve_s": sol.stats.get("solve_s"), "seconds": rounded(t2 - t0, 3),
           "variables": sol.stats.get("variables"), "bed_classes": sol.stats.get("bed_classes")}
    log(f"busy morning: {out['waiting']} waiting, {out['beds']} beds: {out['status']} {out['objective']} "
        f"in {out['seconds']} s (problem {out['problem_s']} s, solve {out['solve_s']} s), "
        f"{out['hard_violations']} hard violations")
    return out


if __name__ == "__main__":
    main(None)
